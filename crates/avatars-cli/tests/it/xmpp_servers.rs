//! End to end with real XMPP servers: Debian's Prosody and ejabberd on loopback (installed by
//! `scripts/ensure-xmpp-peers.sh`, which `cargo xtask ci` runs, and started privately by
//! `test_support::xmpp`), the `avatars xmpp` component, real c2s clients (the conformance
//! suite's own, and slixmpp as a user), and `avatars serve` over the same data directory.
//!
//! Skips (loudly) only when a server is not installed, which the script allows only where there
//! is no apt-get.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use avatar_conformance::xmpp::wire::{XmlStream, client_login};
use avatar_proto::{HashAlgorithm, Identity};
use avatar_xmpp::{AvatarQuery, XAvatar};
use base64::Engine as _;
use minidom::Element;
use sha1::Digest as _;
use test_support::images;
use test_support::postgres::Cluster;
use test_support::xmpp::{Seen, ServerKind, USER_DOMAIN, XmppServer, XmppUser};

use crate::{AVATARS, admin_request, serve};

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

/// Where the avatars are kept: a folder, or a PostgreSQL database (a private cluster).
enum Avatars {
    Dir(std::path::PathBuf),
    Database(Cluster, String),
}

impl Avatars {
    /// The arguments naming it: `--data-dir DIR` or `--store URL`.
    fn args(&self) -> Vec<String> {
        match self {
            Self::Dir(dir) => vec!["--data-dir".to_owned(), dir.display().to_string()],
            Self::Database(_, url) => vec!["--store".to_owned(), url.clone()],
        }
    }

    /// The component's subscriptions document, as kept.
    fn subscriptions(&self) -> String {
        match self {
            Self::Dir(dir) => std::fs::read_to_string(dir.join("xmpp-subscriptions")).unwrap(),
            Self::Database(cluster, _) => cluster.query(
                "avatars",
                "SELECT body FROM avatar_documents WHERE name = 'xmpp-subscriptions avatars.localhost'",
            ),
        }
    }
}

/// `avatars COMMAND STORE ARGS...`, which must succeed.
fn run_on(avatars: &Avatars, command: &str, args: &[&str]) {
    let output = Command::new(AVATARS)
        .arg(command)
        .args(avatars.args())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "avatars {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `avatars import --data-dir DATA IDENTITY FILE`, which must succeed.
fn import(data: &Path, identity: &str, file: &Path) {
    run_on(
        &Avatars::Dir(data.to_path_buf()),
        "import",
        &[identity, file.to_str().unwrap()],
    );
}

fn write_png(path: &Path, width: u32, height: u32, rgb: [u8; 3]) {
    images::checkers(width, height, rgb).save(path).unwrap();
}

/// Whether `kind` can run here; says loudly why not when it cannot.
fn available(kind: ServerKind, test: &str) -> bool {
    if kind.installed() {
        return true;
    }
    eprintln!(
        "\n*** SKIPPED {test} on {kind:?}: it is not installed and scripts/ensure-xmpp-peers.sh \
         could not install it (no apt-get here). ***\n"
    );
    false
}

/// `avatars xmpp` for `server` over the store in `data` (with `extra` arguments), started and
/// waited for until it has logged in; its log goes to `log`.
fn start_component(server: &XmppServer, data: &Path, log: &Path, extra: &[&str]) -> Child {
    start_component_on(server, &Avatars::Dir(data.to_path_buf()), log, extra)
}

/// [`start_component`] over any store.
fn start_component_on(server: &XmppServer, avatars: &Avatars, log: &Path, extra: &[&str]) -> Child {
    let mut args = [
        "xmpp",
        "--server",
        &server.component(),
        "--domain",
        DOMAIN,
        "--secret",
        SECRET,
        "--identity-domain",
        USER_DOMAIN,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(avatars.args());
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    start_avatars(server, &args, log)
}

/// `avatars ARGS` (an `avatars xmpp` for `server`), started and waited for until it has logged
/// in; its log goes to `log`.
fn start_avatars(server: &XmppServer, args: &[String], log: &Path) -> Child {
    let log_file = std::fs::File::create(log).unwrap();
    let component = Command::new(AVATARS)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("AVATARS_TEST_RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        )
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(log).is_ok_and(|text| text.contains("component connected")) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the component did not log in to {:?}: {}\n{}",
            server.kind(),
            std::fs::read_to_string(log).unwrap_or_default(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    component
}

/// The command of `deploy/avatars-xmpp.service` joins the servers as set up by
/// `deploy/prosody-avatars.cfg.lua` and `deploy/ejabberd-avatars.yml` (which every server of
/// these tests runs): its `ExecStart` as written, with this test's server, domains, secret file
/// and data directory for the examples.
#[test]
fn the_deploy_unit_s_command_joins_the_servers_as_deployed() {
    let unit = include_str!("../../../../deploy/avatars-xmpp.service");
    let command = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart=/usr/local/bin/avatars "))
        .expect("deploy/avatars-xmpp.service runs /usr/local/bin/avatars");
    for kind in ServerKind::ALL {
        if !available(
            kind,
            "the_deploy_unit_s_command_joins_the_servers_as_deployed",
        ) {
            continue;
        }
        let server = XmppServer::start(kind, DOMAIN, SECRET, &[]);
        let work = tempfile::tempdir().unwrap();
        let secret_file = work.path().join("xmpp-secret");
        std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
        let data = work.path().join("data");
        let values = [
            ("127.0.0.1:5347", server.component()),
            ("avatars.example.org", DOMAIN.to_owned()),
            (
                "/etc/avatars/xmpp-secret",
                secret_file.display().to_string(),
            ),
            ("example.org", USER_DOMAIN.to_owned()),
            ("/var/lib/avatars/data", data.display().to_string()),
        ];
        let args: Vec<String> = command
            .split_whitespace()
            .map(|arg| {
                values
                    .iter()
                    .find(|(example, _)| arg == *example)
                    .map_or_else(|| arg.to_owned(), |(_, value)| value.clone())
            })
            .collect();
        for (example, _) in values {
            assert!(
                command.split_whitespace().any(|arg| arg == example),
                "the unit's command no longer holds {example}: {command}"
            );
        }
        let mut component = start_avatars(&server, &args, &work.path().join("component.log"));
        let _ = component.kill();
        let _ = component.wait();
    }
}

/// `avatars xmpp` for `server` as `domain`, with `extra` arguments (the secret) and a data
/// directory in `work`, its log going to `log`; not waited for.
fn component_logging_to(
    server: &XmppServer,
    domain: &str,
    extra: &[&str],
    work: &Path,
    log: &Path,
) -> Child {
    Command::new(AVATARS)
        .args(["xmpp", "--server", &server.component(), "--domain", domain])
        .args(extra)
        .args(["--data-dir", &work.join("data").display().to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// What real Prosody and ejabberd answer a component with the wrong secret, or of a domain
/// they do not know, is logged with what it means, and the component keeps trying. (Prosody
/// answers an unknown domain with `host-unknown`, ejabberd with `not-authorized`, as a wrong
/// secret: the hint for that one names both causes.)
#[test]
fn a_refused_join_is_logged_with_what_the_server_meant() {
    for kind in ServerKind::ALL {
        if !available(kind, "a_refused_join_is_logged_with_what_the_server_meant") {
            continue;
        }
        let server = XmppServer::start(kind, DOMAIN, SECRET, &[]);
        let work = tempfile::tempdir().unwrap();
        let unknown = format!("unknown.{USER_DOMAIN}");
        for (domain, secret, says) in [
            (
                DOMAIN,
                "not the secret",
                "(the secret is not the one the XMPP server has for this component",
            ),
            (
                unknown.as_str(),
                SECRET,
                "no component of this domain in its settings)",
            ),
        ] {
            let log = work.path().join("refused.log");
            let mut component = component_logging_to(
                &server,
                domain,
                &["--secret", secret, "--identity-domain", USER_DOMAIN],
                work.path(),
                &log,
            );
            let started = Instant::now();
            let said = || std::fs::read_to_string(&log).unwrap_or_default();
            while !said().contains(says) && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = component.kill();
            let _ = component.wait();
            assert!(said().contains(says), "{kind:?}, {domain}:\n{}", said());
        }
    }
}

/// A wrong secret in `--secret-file` is corrected without a restart: the file rewritten and a
/// SIGHUP (`systemctl reload avatars-xmpp`), and the next attempt joins real Prosody and
/// ejabberd; an empty file then is refused, the secret in use kept.
#[test]
fn a_sighup_reads_the_secret_file_again() {
    for kind in ServerKind::ALL {
        if !available(kind, "a_sighup_reads_the_secret_file_again") {
            continue;
        }
        let server = XmppServer::start(kind, DOMAIN, SECRET, &[]);
        let work = tempfile::tempdir().unwrap();
        let secret = work.path().join("secret");
        std::fs::write(&secret, "not the secret\n").unwrap();
        let log = work.path().join("component.log");
        let component = component_logging_to(
            &server,
            DOMAIN,
            &["--secret-file", &secret.display().to_string()],
            work.path(),
            &log,
        );
        let pid = component.id().to_string();
        let _stopped = Processes(vec![component]);
        let said = || std::fs::read_to_string(&log).unwrap_or_default();
        let until = |what: &str| {
            let started = Instant::now();
            while !said().contains(what) {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "{kind:?}: no {what:?} in:\n{}",
                    said()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        let hangup = || {
            let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
            assert!(sent.success());
        };
        until("handshake refused");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        hangup();
        until("reloaded the component secret from");
        until("component connected");
        std::fs::write(&secret, "\n").unwrap();
        hangup();
        until("avatars: kept the component secret in use: ");
    }
}

/// A logged-in client: the conformance suite's plain c2s login (stream, SASL PLAIN, bind), then
/// whole stanzas in and out.
struct C2s {
    stream: XmlStream,
}

impl C2s {
    async fn online(user: &str, server: &XmppServer) -> Self {
        let (stream, _) = client_login(&server.c2s(), &format!("{user}@{USER_DOMAIN}"), "pw")
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
                .expect("the server answers in time");
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
async fn prosody_end_to_end() {
    end_to_end(ServerKind::Prosody).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ejabberd_end_to_end() {
    end_to_end(ServerKind::Ejabberd).await;
}

/// IQ retrieval, probes, an upload over XMPP served over HTTP, and the conformance suite's XMPP
/// groups through `kind`.
#[expect(
    clippy::too_many_lines,
    reason = "one scenario, told in order, reads best in one place"
)]
async fn end_to_end(kind: ServerKind) {
    if !available(kind, "end_to_end") {
        return;
    }
    let mut processes = Processes(Vec::new());
    let server = XmppServer::start(kind, DOMAIN, SECRET, &["alice", "bob"]);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("avatars");

    // Alice's avatar, imported as a user would.
    let picture = work.path().join("alice.png");
    write_png(&picture, 120, 90, [200, 30, 30]);
    import(&data, "alice@localhost", &picture);

    // The conformance suite's fixtures, for its c2s run at the end.
    let fixtures =
        avatar_conformance::fixtures::write_fixtures(&work.path().join("fixtures")).unwrap();
    for entry in &fixtures.avatars {
        import(
            &data,
            &entry.identity,
            &work.path().join("fixtures").join(&entry.file),
        );
    }
    let monitor = format!("127.0.0.1:{}", test_support::free_port());
    processes.0.push(start_component(
        &server,
        &data,
        &work.path().join("component.log"),
        &["--metrics-addr", &monitor],
    ));

    // Bob asks for Alice's avatar and probes her presence.
    let mut bob = C2s::online("bob", &server).await;
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

    // The component says it is joined, and counts what it read and wrote.
    let health = test_support::raw_http::get(&monitor, "/healthz");
    assert_eq!(health.status, 200, "{kind:?}");
    let metrics =
        String::from_utf8(test_support::raw_http::get(&monitor, "/metrics").body).unwrap();
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name}: {metrics}"))
    };
    assert_eq!(value("avatars_xmpp_joined"), 1, "{metrics}");
    assert_eq!(value("avatars_xmpp_joins_total"), 1, "{metrics}");
    assert_eq!(value("avatars_xmpp_failed_joins_total"), 0, "{metrics}");
    assert!(
        value("avatars_xmpp_stanzas_received_total") >= 3,
        "{metrics}"
    );
    assert!(value("avatars_xmpp_stanzas_sent_total") >= 3, "{metrics}");

    // Alice uploads a new picture; HTTP serves the same picture by her address's MD5.
    let mut alice = C2s::online("alice", &server).await;
    let upload_path = work.path().join("upload.png");
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

    let http = serve(work.path(), &["--data-dir", data.to_str().unwrap()], false);
    let md5 = Identity::parse("alice@localhost")
        .unwrap()
        .hash(HashAlgorithm::Md5);
    let response = http.get(&format!("/avatar/{md5}?s=40"));
    assert_eq!(response.status, 200);
    let body = response.body;
    let served = image::load_from_memory(&body).unwrap().to_rgb8();
    let uploaded = image::load_from_memory(&upload).unwrap().to_rgb8();
    assert_eq!(
        served.as_raw(),
        uploaded.as_raw(),
        "HTTP serves the picture uploaded over XMPP"
    );

    conformance_through(&server).await;
}

/// The conformance suite's XMPP groups in `--c2s` mode: logged into the server as Bob, asking
/// the component through it. Cases that need a direct line to the component are skipped;
/// nothing may fail.
async fn conformance_through(server: &XmppServer) {
    use avatar_conformance::{Group, Targets, Verdict, XmppTarget};
    let target = XmppTarget::client(&server.c2s(), "bob@localhost", "pw", DOMAIN)
        .await
        .unwrap();
    let mut targets = Targets {
        xmpp: Some(target),
        ..Targets::default()
    };
    let groups = [Group::Xep0008, Group::Xep0153, Group::Xep0084];
    let report = crate::suite_passes(&mut targets, &groups).await;
    eprintln!("{}", avatar_conformance::report::summary(&report));
    let passed = report
        .outcomes
        .iter()
        .filter(|outcome| outcome.verdict == Verdict::Pass)
        .count();
    assert!(
        passed >= 20,
        "{}",
        avatar_conformance::report::summary(&report)
    );
}

#[test]
fn prosody_subscribers_hear_of_every_change() {
    subscribers_hear_of_every_change(ServerKind::Prosody, false);
}

#[test]
fn ejabberd_subscribers_hear_of_every_change() {
    subscribers_hear_of_every_change(ServerKind::Ejabberd, false);
}

/// The same with the avatars and the subscriptions in PostgreSQL: changes by other processes
/// arrive through the database's notifications.
#[test]
fn prosody_subscribers_hear_of_every_change_with_a_database_store() {
    subscribers_hear_of_every_change(ServerKind::Prosody, true);
}

/// The XEP-0008 hash of a presence from `from` (bare), `None` when `seen` is something else.
fn presence_hash(seen: &Seen, from: &str) -> Option<String> {
    let sent_by = seen["from"].as_str()?.split('/').next()?;
    (seen["kind"] == "presence" && seen["type"] == "available" && sent_by == from)
        .then(|| seen["x_avatar"].as_str().unwrap_or_default().to_owned())
}

/// Waits (up to a second: the bound) for presence from `from` with a hash other than
/// `old`, checks the XEP-0153 photo hash and the XEP-0084 event agree, and returns the hash.
fn next_announcement(user: &mut XmppUser, from: &str, old: &str, what: &str) -> String {
    let started = Instant::now();
    let seen = user.expect_within(what, Duration::from_secs(1), |seen| {
        presence_hash(seen, from).is_some_and(|hash| hash != old)
    });
    let presence = seen.last().unwrap();
    let hash = presence_hash(presence, from).unwrap();
    assert_eq!(
        presence["photo"].as_str(),
        Some(hash.as_str()),
        "{presence}"
    );
    let events = user.expect(&format!("the event after {what}"), |seen| {
        seen["kind"] == "event" && seen["from"] == from
    });
    let event = events.last().unwrap();
    assert_eq!(event["node"], "urn:xmpp:avatar:metadata");
    if !hash.is_empty() {
        assert_eq!(event["id"].as_str(), Some(hash.as_str()), "{event}");
    }
    eprintln!("{what}: announced in {:?}", started.elapsed());
    hash
}

/// Bob (slixmpp) subscribes to Alice's JID on the component; every change of her avatar (an
/// upload through the HTTP management API, `avatars import` from another process, a removal)
/// reaches him within a second; the subscription survives a restart of the component; after he
/// unsubscribes, changes are no longer announced to him.
fn subscribers_hear_of_every_change(kind: ServerKind, database: bool) {
    if !available(kind, "subscribers_hear_of_every_change") {
        return;
    }
    let server = XmppServer::start(kind, DOMAIN, SECRET, &["bob"]);
    let work = tempfile::tempdir().unwrap();
    let avatars = if database {
        let cluster = Cluster::start();
        let url = cluster.database("avatars");
        Avatars::Database(cluster, url)
    } else {
        Avatars::Dir(work.path().join("avatars"))
    };
    let store_args = avatars.args();
    let picture = work.path().join("first.png");
    write_png(&picture, 120, 90, [200, 30, 30]);
    let import = |file: &Path| {
        run_on(
            &avatars,
            "import",
            &["alice@localhost", file.to_str().unwrap()],
        );
    };
    import(&picture);
    let log = work.path().join("component.log");
    let mut component = Processes(vec![start_component_on(&server, &avatars, &log, &[])]);
    std::fs::write(
        work.path().join("tokens"),
        "a-token-long-enough-to-be-accepted-0\n",
    )
    .unwrap();
    let http = serve(
        work.path(),
        &[
            &store_args[0],
            &store_args[1],
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            "tokens",
        ],
        false,
    );

    let alice = "alice@avatars.localhost";
    let mut bob = XmppUser::online(&server, "bob");
    bob.command(&format!("subscribe {alice}"));
    let seen = bob.expect("Alice's presence after subscribing", |seen| {
        presence_hash(seen, alice).is_some_and(|hash| !hash.is_empty())
    });
    let first = presence_hash(seen.last().unwrap(), alice).unwrap();

    // An upload through the HTTP management API.
    let png = images::png(&images::checkers(64, 64, [20, 160, 20]));
    let stored = admin_request(
        &http,
        "PUT",
        "/v1/avatars/alice@localhost",
        "Authorization: Bearer a-token-long-enough-to-be-accepted-0\r\n",
        &png,
    );
    assert!(matches!(stored.status, 200 | 201), "{}", stored.status);
    let second = next_announcement(&mut bob, alice, &first, "an upload through HTTP");

    // Another process: avatars import.
    let third_picture = work.path().join("third.png");
    write_png(&third_picture, 80, 80, [20, 20, 200]);
    import(&third_picture);
    let third = next_announcement(&mut bob, alice, &second, "avatars import");

    // A restarted component still knows Bob, and tells him at once.
    drop(component);
    component = Processes(vec![start_component_on(&server, &avatars, &log, &[])]);
    let seen = bob.expect("presence from the restarted component", |seen| {
        presence_hash(seen, alice).is_some()
    });
    assert_eq!(presence_hash(seen.last().unwrap(), alice).unwrap(), third);
    assert!(
        avatars
            .subscriptions()
            .contains("subscription alice@avatars.localhost bob@localhost"),
        "kept beside the store"
    );

    // A removal is announced as "no avatar".
    run_on(&avatars, "remove", &["alice@localhost"]);
    let none = next_announcement(&mut bob, alice, &third, "a removal");
    assert_eq!(none, "");

    // Unsubscribed, Bob hears nothing more.
    bob.command(&format!("unsubscribe {alice}"));
    std::thread::sleep(Duration::from_millis(500));
    import(&picture);
    let after = bob.seen_within(Duration::from_secs(2));
    assert!(
        !after
            .iter()
            .any(|seen| presence_hash(seen, alice).is_some_and(|hash| !hash.is_empty())),
        "announced after unsubscribing: {after:#?}"
    );
    drop(component);
}

#[test]
fn prosody_mirrors_subscribers_avatars() {
    mirrors_subscribers_avatars(ServerKind::Prosody);
}

#[test]
fn ejabberd_mirrors_subscribers_avatars() {
    mirrors_subscribers_avatars(ServerKind::Ejabberd);
}

/// The colour HTTP serves for `address` (the centre pixel at 64 px), `None` for a 404.
fn served_colour(http: &test_support::server::Server, address: &str) -> Option<[u8; 3]> {
    let md5 = Identity::parse(address).unwrap().hash(HashAlgorithm::Md5);
    let response = http.get(&format!("/avatar/{md5}?s=64&d=404"));
    if response.status == 404 {
        return None;
    }
    assert_eq!(response.status, 200);
    let image = image::load_from_memory(&response.body).unwrap().to_rgb8();
    Some(image.get_pixel(32, 32).0)
}

/// Waits up to 10 s until HTTP serves `wanted` (a colour, or nothing) for `address`.
fn until_served(
    http: &test_support::server::Server,
    log: &Path,
    address: &str,
    wanted: Option<[u8; 3]>,
    what: &str,
) {
    let close = |a: Option<[u8; 3]>| match (a, wanted) {
        (None, None) => true,
        (Some(a), Some(b)) => a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12),
        _ => false,
    };
    let started = Instant::now();
    loop {
        let now = served_colour(http, address);
        if close(now) {
            eprintln!("{what}: served after {:?}", started.elapsed());
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: {address} is served as {now:?}, not {wanted:?}; the component's log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--mirror-subscribers`: Bob's PEP avatar and Carol's vCard photo are copied into the store
/// when they subscribe to the component's JID, HTTP serves them by their addresses' hashes, and
/// their changes follow; Dave's avatar imported another way is never overwritten nor removed;
/// Bob's mirror goes when he unsubscribes.
fn mirrors_subscribers_avatars(kind: ServerKind) {
    if !available(kind, "mirrors_subscribers_avatars") {
        return;
    }
    let server = XmppServer::start(kind, DOMAIN, SECRET, &["bob", "carol", "dave"]);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("avatars");
    let picture = |name: &str, rgb: [u8; 3]| {
        let path = work.path().join(name);
        images::solid(64, 64, rgb).save(&path).unwrap();
        path.display().to_string()
    };
    let (red, blue, green, yellow, grey) = (
        [220, 20, 20],
        [20, 20, 220],
        [20, 200, 20],
        [230, 220, 20],
        [128, 128, 128],
    );
    import(
        &data,
        "dave@localhost",
        Path::new(&picture("dave.png", grey)),
    );
    let log = work.path().join("component.log");
    let component = Processes(vec![start_component(
        &server,
        &data,
        &log,
        &["--mirror-subscribers"],
    )]);
    let http = serve(work.path(), &["--data-dir", data.to_str().unwrap()], false);

    // Bob: PEP (XEP-0084), then a change.
    let mut bob = XmppUser::online(&server, "bob");
    bob.command(&format!("publish-pep {}", picture("red.png", red)));
    bob.command(&format!("subscribe {DOMAIN}"));
    until_served(&http, &log, "bob@localhost", Some(red), "Bob's PEP avatar");
    bob.command(&format!("publish-pep {}", picture("blue.png", blue)));
    until_served(
        &http,
        &log,
        "bob@localhost",
        Some(blue),
        "Bob's new PEP avatar",
    );

    // Carol: a vCard photo only (XEP-0153), then a change seen in her presence.
    let mut carol = XmppUser::online(&server, "carol");
    carol.command(&format!("publish-vcard {}", picture("green.png", green)));
    carol.command(&format!("subscribe {DOMAIN}"));
    until_served(
        &http,
        &log,
        "carol@localhost",
        Some(green),
        "Carol's vCard photo",
    );
    carol.command(&format!("publish-vcard {}", picture("yellow.png", yellow)));
    until_served(
        &http,
        &log,
        "carol@localhost",
        Some(yellow),
        "Carol's new vCard photo",
    );

    // Dave's imported avatar is not the mirror's to replace.
    let mut dave = XmppUser::online(&server, "dave");
    dave.command(&format!("publish-pep {}", picture("dave-red.png", red)));
    dave.command(&format!("subscribe {DOMAIN}"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(served_colour(&http, "dave@localhost"), Some(grey));

    let state = std::fs::read_to_string(data.join("xmpp-subscriptions")).unwrap();
    assert!(state.contains("mirror bob@localhost "), "{state}");
    assert!(state.contains("mirror carol@localhost "), "{state}");
    assert!(!state.contains("mirror dave@localhost "), "{state}");

    // Unsubscribing removes Bob's mirror, and leaves Dave's own avatar.
    bob.command(&format!("unsubscribe {DOMAIN}"));
    until_served(
        &http,
        &log,
        "bob@localhost",
        None,
        "Bob's mirror after unsubscribing",
    );
    dave.command(&format!("unsubscribe {DOMAIN}"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(served_colour(&http, "dave@localhost"), Some(grey));
    assert_eq!(served_colour(&http, "carol@localhost"), Some(yellow));
    drop(component);
}
