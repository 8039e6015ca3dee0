//! End to end with a real XMPP server: Debian's Prosody on loopback (installed by
//! `scripts/ensure-prosody.sh`, which `cargo xtask ci` runs), the `avatars xmpp` component, real
//! c2s clients, and `avatars serve` over the same data directory.
//!
//! Skips (loudly) only when Prosody is not installed, which the script allows only where there
//! is no apt-get.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use avatar_conformance::xmpp::wire::{XmlStream, client_login};
use avatar_proto::{HashAlgorithm, Identity};
use avatar_xmpp::{AvatarQuery, XAvatar};
use base64::Engine as _;
use minidom::Element;
use sha1::Digest as _;
use test_support::images;

use crate::{AVATARS, serve};

const SECRET: &str = "component-secret";
const DOMAIN: &str = "avatars.localhost";

/// Child processes killed when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// `program args...`, as the `prosody` user when running as root (Prosody refuses to run as
/// root without `mod_posix`, which must not be loaded when it is run by hand).
fn as_prosody(program: &str, args: &[&str]) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=prosody", "--regid=prosody", "--init-groups", "--"])
            .arg(program)
            .args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `avatars import --data-dir DATA IDENTITY FILE`, which must succeed.
fn import(data: &Path, identity: &str, file: &Path) {
    let imported = Command::new(AVATARS)
        .args(["import", "--data-dir"])
        .arg(data)
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
}

fn write_png(path: &Path, width: u32, height: u32, rgb: [u8; 3]) {
    images::checkers(width, height, rgb).save(path).unwrap();
}

struct Prosody {
    dir: PathBuf,
    c2s: u16,
    component: u16,
}

fn start_prosody(processes: &mut Processes) -> Prosody {
    let dir = std::env::temp_dir().join(format!("avatars-prosody-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let (c2s, component) = (free_port(), free_port());
    let config = format!(
        r#"daemonize = false
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{dir}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping", "presence" }}
modules_disabled = {{ "s2s", "posix", "http", "tls" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
VirtualHost "localhost"
Component "{DOMAIN}"
    component_secret = "{SECRET}"
"#,
        dir = dir.display()
    );
    let config_path = dir.join("prosody.cfg.lua");
    std::fs::write(&config_path, config).unwrap();
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "prosody:prosody"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let config_arg = config_path.to_str().unwrap();
    for user in ["alice", "bob"] {
        let status = as_prosody(
            "prosodyctl",
            &["--config", config_arg, "register", user, "localhost", "pw"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
        assert!(status.success(), "prosodyctl register {user}");
    }
    let server = as_prosody("prosody", &["--config", config_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    processes.0.push(server);
    wait_for("Prosody's c2s port", || {
        std::net::TcpStream::connect(("127.0.0.1", c2s)).is_ok()
    });
    Prosody {
        dir,
        c2s,
        component,
    }
}

/// A logged-in client: the conformance suite's plain c2s login (stream, SASL PLAIN, bind), then
/// whole stanzas in and out.
struct C2s {
    stream: XmlStream,
}

impl C2s {
    async fn online(user: &str, prosody: &Prosody) -> Self {
        let (stream, _) = client_login(
            &format!("127.0.0.1:{}", prosody.c2s),
            &format!("{user}@localhost"),
            "pw",
        )
        .await
        .unwrap_or_else(|err| panic!("{user} cannot log in: {err}"));
        Self { stream }
    }

    async fn send(&mut self, xml: &str) {
        self.stream.send(xml).await.unwrap();
    }

    async fn stanza_matching(&mut self, wanted: impl Fn(&Element) -> bool) -> Element {
        loop {
            let stanza = self
                .stream
                .next(Duration::from_secs(20))
                .await
                .unwrap()
                .expect("Prosody answers in time");
            if wanted(&stanza) {
                return stanza;
            }
        }
    }

    /// Sends an IQ and returns the answer with the same id.
    async fn iq(&mut self, kind: &str, id: &str, to: &str, payload: &str) -> Element {
        self.send(&format!(
            "<iq type='{kind}' id='{id}' to='{to}'>{payload}</iq>"
        ))
        .await;
        self.stanza_matching(|stanza| stanza.name() == "iq" && stanza.attr("id") == Some(id))
            .await
    }
}

fn data_of(answer: &Element) -> Vec<u8> {
    let query = answer
        .children()
        .next()
        .unwrap_or_else(|| panic!("no payload in {}", String::from(answer)));
    AvatarQuery::try_from(query).unwrap().data.unwrap().bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario, told in order, reads best in one place"
)]
async fn prosody_end_to_end() {
    if Command::new("prosody")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "\n*** SKIPPED prosody_end_to_end: Prosody is not installed and scripts/ensure-prosody.sh \
             could not install it (no apt-get here). ***\n"
        );
        return;
    }
    let mut processes = Processes(Vec::new());
    let prosody = start_prosody(&mut processes);
    let data = prosody.dir.join("avatars");
    let avatars = AVATARS;

    // Alice's avatar, imported as a user would.
    let picture = prosody.dir.join("alice.png");
    write_png(&picture, 120, 90, [200, 30, 30]);
    import(&data, "alice@localhost", &picture);

    // The conformance suite's fixtures, for its c2s run at the end.
    let fixtures =
        avatar_conformance::fixtures::write_fixtures(&prosody.dir.join("fixtures")).unwrap();
    for entry in &fixtures.avatars {
        import(
            &data,
            &entry.identity,
            &prosody.dir.join("fixtures").join(&entry.file),
        );
    }

    let component = Command::new(avatars)
        .args([
            "xmpp",
            "--server",
            &format!("127.0.0.1:{}", prosody.component),
            "--domain",
            DOMAIN,
            "--secret",
            SECRET,
            "--identity-domain",
            "localhost",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    processes.0.push(component);
    let log = prosody.dir.join("prosody.log");
    wait_for("the component's handshake", || {
        std::fs::read_to_string(&log)
            .is_ok_and(|text| text.contains("External component successfully authenticated"))
    });

    // Bob asks for Alice's avatar and probes her presence.
    let mut bob = C2s::online("bob", &prosody).await;
    let answer = bob
        .iq(
            "get",
            "a1",
            "alice@avatars.localhost",
            "<query xmlns='jabber:iq:avatar'/>",
        )
        .await;
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
    let data_bytes = data_of(&answer);
    assert!(data_bytes.len() < 8192);
    let decoded = image::load_from_memory(&data_bytes).unwrap();
    assert_eq!(decoded.width(), decoded.height());
    assert!((32..=64).contains(&decoded.width()));
    let data_sha1: [u8; 20] = sha1::Sha1::digest(&data_bytes).into();

    bob.send("<presence type='probe' to='alice@avatars.localhost'/>")
        .await;
    let presence = bob
        .stanza_matching(|stanza| {
            stanza.name() == "presence"
                && stanza
                    .attr("from")
                    .is_some_and(|from| from.starts_with("alice@avatars.localhost"))
        })
        .await;
    let x = presence
        .get_child("x", "jabber:x:avatar")
        .unwrap_or_else(|| panic!("{}", String::from(&presence)));
    assert_eq!(
        XAvatar::try_from(x).unwrap().hash.unwrap().0,
        data_sha1,
        "the IQ data's SHA-1 is the presence hash"
    );

    // A JID that names no address gets the configured error.
    let refusal = bob
        .iq("get", "a2", DOMAIN, "<query xmlns='jabber:iq:avatar'/>")
        .await;
    assert_eq!(refusal.attr("type"), Some("error"));
    let text = String::from(&refusal);
    assert!(text.contains("service-unavailable"), "{text}");

    // Alice uploads a new picture; HTTP serves the same picture by her address's MD5.
    let mut alice = C2s::online("alice", &prosody).await;
    let upload_path = prosody.dir.join("upload.png");
    write_png(&upload_path, 40, 40, [20, 90, 220]);
    let upload = std::fs::read(&upload_path).unwrap();
    let set = format!(
        "<query xmlns='storage:client:avatar'><data mimetype='image/png'>{}</data></query>",
        base64::engine::general_purpose::STANDARD.encode(&upload)
    );
    let stored = alice.iq("set", "u1", "alice@avatars.localhost", &set).await;
    assert_eq!(
        stored.attr("type"),
        Some("result"),
        "{}",
        String::from(&stored)
    );

    let server = serve(&prosody.dir, &["--data-dir", data.to_str().unwrap()], false);
    let md5 = Identity::parse("alice@localhost")
        .unwrap()
        .hash(HashAlgorithm::Md5);
    let response = server.get(&format!("/avatar/{md5}?s=40"));
    assert_eq!(response.status, 200);
    let body = response.body;
    let served = image::load_from_memory(&body).unwrap().to_rgb8();
    let uploaded = image::load_from_memory(&upload).unwrap().to_rgb8();
    assert_eq!(
        served.as_raw(),
        uploaded.as_raw(),
        "HTTP serves the picture uploaded over XMPP"
    );

    conformance_through_prosody(&prosody).await;
}

/// The conformance suite's XMPP groups in `--c2s` mode: logged into Prosody as Bob, asking the
/// component through the real server. Cases that need a direct line to the component are skipped;
/// nothing may fail.
async fn conformance_through_prosody(prosody: &Prosody) {
    use avatar_conformance::{Group, Progress, Targets, Verdict, XmppTarget, all_cases, run};
    let target = XmppTarget::client(
        &format!("127.0.0.1:{}", prosody.c2s),
        "bob@localhost",
        "pw",
        DOMAIN,
    )
    .await
    .unwrap();
    let mut targets = Targets {
        xmpp: Some(target),
        ..Targets::default()
    };
    let report = run(
        &all_cases(),
        &mut targets,
        &[Group::Xep0008, Group::Xep0153, Group::Xep0084],
        Progress::Quiet,
    )
    .await
    .unwrap();
    eprintln!("{}", avatar_conformance::report::summary(&report));
    let passed = report
        .outcomes
        .iter()
        .filter(|outcome| outcome.verdict == Verdict::Pass)
        .count();
    assert!(
        report.counts().1 == 0 && passed >= 20,
        "{}",
        avatar_conformance::report::summary(&report)
    );
}
