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

use avatar_proto::{HashAlgorithm, Identity};
use avatar_xmpp::{AvatarQuery, XAvatar};
use base64::Engine as _;
use minidom::Element;
use sha1::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

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

fn write_png(path: &Path, width: u32, height: u32, rgb: [u8; 3]) {
    image::RgbImage::from_fn(width, height, |x, y| {
        if (x / 5 + y / 5) % 2 == 0 {
            image::Rgb(rgb)
        } else {
            image::Rgb([255, 255, 255])
        }
    })
    .save(path)
    .unwrap();
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

/// A minimal c2s client over plain TCP: stream, SASL PLAIN, bind, then whole stanzas in and
/// out. Enough to drive Prosody like any client would; the protocol under test is the
/// component's, not this one's.
struct C2s {
    stream: TcpStream,
    buffer: String,
}

impl C2s {
    async fn online(user: &str, prosody: &Prosody) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", prosody.c2s))
            .await
            .unwrap();
        let mut client = Self {
            stream,
            buffer: String::new(),
        };
        client.open().await;
        client.read_until("</stream:features>").await;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0pw"));
        client
            .send(&format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>"))
            .await;
        let outcome = client.read_until("<success").await;
        assert!(
            outcome.contains("<success"),
            "SASL PLAIN failed for {user}: {outcome}"
        );
        client.buffer.clear();
        client.open().await;
        client.read_until("</stream:features>").await;
        client.buffer.clear();
        client
            .send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>test</resource></bind></iq>")
            .await;
        let bound = client.next_stanza().await;
        assert_eq!(
            bound.attr("type"),
            Some("result"),
            "bind failed: {}",
            String::from(&bound)
        );
        client.send("<iq type='set' id='session'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>").await;
        client.next_stanza().await;
        client
    }

    async fn open(&mut self) {
        self.send("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
            .await;
    }

    async fn send(&mut self, xml: &str) {
        self.stream.write_all(xml.as_bytes()).await.unwrap();
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 8192];
        let read = tokio::time::timeout(Duration::from_secs(20), self.stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "Prosody did not answer in time; read so far: {}",
                    self.buffer
                )
            })
            .unwrap();
        assert!(read > 0, "Prosody closed the stream: {}", self.buffer);
        self.buffer
            .push_str(&String::from_utf8_lossy(&chunk[..read]));
    }

    /// Reads until `marker` (or a SASL failure) has arrived; returns what was read.
    async fn read_until(&mut self, marker: &str) -> String {
        while !self.buffer.contains(marker) && !self.buffer.contains("<failure") {
            self.read_more().await;
        }
        self.buffer.clone()
    }

    /// The next whole top-level stanza (`<iq>`, `<presence>` or `<message>`), in jabber:client.
    async fn next_stanza(&mut self) -> Element {
        loop {
            if let Some((start, end)) = first_stanza(&self.buffer) {
                let text = self.buffer[start..end].to_owned();
                self.buffer.drain(..end);
                // Stanzas inherit jabber:client from the stream; give the fragment its namespace.
                let opening = &text[..text.find('>').unwrap_or(text.len())];
                let fixed = if opening.contains("xmlns=") {
                    text.clone()
                } else if let Some(bare) = opening.strip_suffix('/') {
                    format!(
                        "{bare} xmlns='jabber:client'/>{}",
                        &text[opening.len() + 1..]
                    )
                } else {
                    text.replacen('>', " xmlns='jabber:client'>", 1)
                };
                return fixed
                    .parse()
                    .unwrap_or_else(|err| panic!("unparsable stanza {text}: {err}"));
            }
            self.read_more().await;
        }
    }

    async fn stanza_matching(&mut self, wanted: impl Fn(&Element) -> bool) -> Element {
        loop {
            let stanza = self.next_stanza().await;
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

/// Byte range of the first complete top-level stanza in `text`, if one has fully arrived.
fn first_stanza(text: &str) -> Option<(usize, usize)> {
    let start = ["<iq", "<presence", "<message"]
        .iter()
        .filter_map(|tag| text.find(tag))
        .min()?;
    let mut depth = 0i32;
    let mut index = start;
    let bytes = text.as_bytes();
    while index < bytes.len() {
        if bytes[index] == b'<' {
            let close = text[index..].find('>')? + index;
            let tag = &text[index..=close];
            if tag.starts_with("</") {
                depth -= 1;
            } else if !tag.ends_with("/>") && !tag.starts_with("<?") {
                depth += 1;
            }
            if depth == 0 {
                return Some((start, close + 1));
            }
            index = close + 1;
        } else {
            index += 1;
        }
    }
    None
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
    let avatars = env!("CARGO_BIN_EXE_avatars");

    // Alice's avatar, imported as a user would.
    let picture = prosody.dir.join("alice.png");
    write_png(&picture, 120, 90, [200, 30, 30]);
    let imported = Command::new(avatars)
        .args(["import", "--data-dir"])
        .arg(&data)
        .arg("alice@localhost")
        .arg(&picture)
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

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

    let mut server = Command::new(avatars)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    processes.0.push(server);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let md5 = Identity::parse("alice@localhost")
        .unwrap()
        .hash(HashAlgorithm::Md5);
    let body = http_get(&addr, &format!("/avatar/{md5}?s=40"));
    let served = image::load_from_memory(&body).unwrap().to_rgb8();
    let uploaded = image::load_from_memory(&upload).unwrap().to_rgb8();
    assert_eq!(
        served.as_raw(),
        uploaded.as_raw(),
        "HTTP serves the picture uploaded over XMPP"
    );
}

fn http_get(addr: &str, path: &str) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response[..split])
    );
    response[split + 4..].to_vec()
}
