//! The servers' metrics as their consumers read them. `deploy/prometheus-alerts.yml`, the
//! alerting rules: valid as Prometheus reads them (`promtool check rules`), firing as
//! `deploy/prometheus-alerts.test.yml` says (`promtool test rules`), and firing on what a real
//! Prometheus scraped from a real `avatars serve` (with HTTPS, the admin listener and the proxy)
//! and a real `avatars xmpp`, so that a renamed metric cannot leave an alert that never fires.
//! `/metrics` as other scrapers get it: linted by promtool.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use test_support::pgbouncer::{PoolMode, Pooler};
use test_support::postgres::Cluster;
use test_support::prometheus::Prometheus;

use crate::{AVATARS, avatars, folder_with_george};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");

/// Whether `tool` (from Debian's prometheus, which scripts/ensure-unit-tools.sh installs) is
/// here; says loudly when it is not.
fn installed(tool: &str, test: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        eprintln!(
            "\n*** SKIPPED {test}: {tool} is not installed (scripts/ensure-unit-tools.sh). ***\n"
        );
    }
    found
}

fn promtool(args: &[&str]) -> Output {
    Command::new("promtool")
        .current_dir(DEPLOY)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_alerting_rules_are_valid_and_fire_as_their_tests_say() {
    if !installed(
        "promtool",
        "the_alerting_rules_are_valid_and_fire_as_their_tests_say",
    ) {
        return;
    }
    for args in [
        &["check", "rules", "prometheus-alerts.yml"][..],
        &["test", "rules", "prometheus-alerts.test.yml"],
    ] {
        let output = promtool(args);
        assert!(
            output.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A real Prometheus scrapes both servers (in `OpenMetrics`, as it asks) and evaluates the rules
/// over what it stored: every metric the rules name is one it ingested, every rule evaluates
/// without error, and exactly the alerts these servers deserve are pending (the component is
/// not joined; the certificate expired in 2021; a second `avatars serve`, on PostgreSQL behind
/// PgBouncer in transaction mode, cannot see other servers' changes), not `AvatarsDown` nor
/// the rest. A renamed metric, a rule that no longer parses against real series, or a
/// `/metrics` Prometheus cannot read fails here.
#[test]
fn prometheus_scrapes_both_servers_and_the_rules_fire_on_what_it_stored() {
    let test = "prometheus_scrapes_both_servers_and_the_rules_fire_on_what_it_stored";
    if !installed("prometheus", test) {
        return;
    }
    if !Pooler::installed() {
        eprintln!(
            "\n*** SKIPPED {test}: PgBouncer is not installed (scripts/ensure-postgres.sh). ***\n"
        );
        return;
    }
    let rules_file = Path::new(DEPLOY).join("prometheus-alerts.yml");
    let named = metric_names(&std::fs::read_to_string(&rules_file).unwrap());
    assert!(named.len() >= 7, "{named:?}");
    let (_dir, server) = start_server();
    let admin = server.admin_addr.clone().unwrap();
    let ((_cluster, pooler, _pooled_dir), pooled) = start_pooled_server();
    let pooled_admin = pooled.admin_addr.clone().unwrap();
    // On the same database, as a deployment shares it.
    let component = Component::start_on(Some(&pooler.url("pooled")));
    until_it_says_why_it_does_not_follow(&component.addr);
    let prometheus = Prometheus::start(
        &[
            ("avatars", &admin),
            ("avatars", &pooled_admin),
            ("avatars-xmpp", &component.addr),
        ],
        &[&rules_file],
    )
    .unwrap();

    let expected_alerts = [
        "AvatarsCertificateExpiresSoon avatars",
        "AvatarsNotFollowingChanges avatars",
        "AvatarsNotFollowingChanges avatars-xmpp",
        "AvatarsXmppNotJoined avatars-xmpp",
    ];
    let started = Instant::now();
    loop {
        let targets = prometheus.api("/api/v1/targets");
        let targets: Vec<String> = targets["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|target| {
                format!(
                    "{} {} {}",
                    target["scrapeUrl"], target["health"], target["lastError"]
                )
            })
            .collect();
        let stored = prometheus.api("/api/v1/label/__name__/values");
        let missing: Vec<&String> = named
            .iter()
            .filter(|name| !stored["data"].as_array().unwrap().contains(&json!(name)))
            .collect();
        let rules = prometheus.api("/api/v1/rules");
        let unhealthy: Vec<&serde_json::Value> = rules["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|group| group["rules"].as_array().unwrap())
            .filter(|rule| rule["health"] != "ok")
            .collect();
        let alerts = prometheus.api("/api/v1/alerts");
        let mut pending: Vec<String> = alerts["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|alert| {
                let labels = &alert["labels"];
                format!(
                    "{} {}",
                    labels["alertname"].as_str().unwrap(),
                    labels["job"].as_str().unwrap_or("")
                )
            })
            .collect();
        pending.sort_unstable();
        let all_up = targets.len() == 3 && targets.iter().all(|target| target.contains(" \"up\" "));
        if all_up && missing.is_empty() && unhealthy.is_empty() && pending == expected_alerts {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "after 30 s:\ntargets: {targets:#?}\nnamed by the rules, not stored: \
             {missing:?}\nrules not evaluated cleanly: {unhealthy:#?}\nalerts: {pending:?}, \
             expected {expected_alerts:?}\nlog:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What a scraper other than Prometheus gets (no `Accept`: curl, Telegraf, the Datadog agent
/// read the Prometheus text format), promtool reads without a complaint, from both servers.
/// In `OpenMetrics` it says "no help text" for every counter: read as the older format, a
/// counter's `# TYPE x` does not name its `x_total` samples.
#[test]
fn other_scrapers_get_the_prometheus_text_format_and_promtool_finds_nothing_wrong() {
    if !installed(
        "promtool",
        "other_scrapers_get_the_prometheus_text_format_and_promtool_finds_nothing_wrong",
    ) {
        return;
    }
    let (_dir, server) = start_server();
    let component = Component::start();
    for addr in [server.admin_addr.as_deref().unwrap(), &component.addr] {
        let answer = test_support::raw_http::get(addr, "/metrics");
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = String::from_utf8(answer.body).unwrap();
        assert!(text.contains("_total counter\n"), "{text}");
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = promtool.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success() && said.trim().is_empty(),
            "promtool check metrics on {addr}'s /metrics: {said}\n{text}"
        );
    }
}

/// The `avatars_...` names in `text`, once each.
fn metric_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .match_indices("avatars_")
        .map(|(start, _)| {
            text[start..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `avatars serve` with HTTPS (its certificate expired in 2021), the admin listener and the
/// proxy, after a request for George; with its folder.
fn start_server() -> (tempfile::TempDir, test_support::server::Server) {
    let dir = folder_with_george();
    let key = rcgen::KeyPair::generate().unwrap();
    let ca = crate::tls::TestCa::new();
    std::fs::write(
        dir.path().join("cert.pem"),
        ca.leaf_until(&key, (2021, 3, 4)),
    )
    .unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    let proxy_key = dir.path().join("proxy.key");
    assert!(
        avatars(&["proxy-key", proxy_key.to_str().unwrap()])
            .status
            .success()
    );
    let server = crate::tls::start_tls(
        dir.path(),
        &[
            "--admin-addr",
            "127.0.0.1:0",
            "--proxy-key-file",
            "proxy.key",
        ],
    );
    assert_eq!(
        server
            .get("/avatar/40f8d096a3777232204cb3f796c577b7")
            .status,
        200
    );
    (dir, server)
}

/// `avatars serve` on PostgreSQL through PgBouncer in transaction mode (no `listen_port`), with
/// the admin listener, once its `/healthz` says it cannot see other servers' changes and why;
/// with the database, the pool and its folder, which stop or go when dropped.
fn start_pooled_server() -> (
    (Cluster, Pooler, tempfile::TempDir),
    test_support::server::Server,
) {
    let cluster = Cluster::start();
    let _ = cluster.database("pooled");
    let pooler = Pooler::start(&cluster, PoolMode::Transaction).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = test_support::server::Server::start(
        AVATARS,
        dir.path(),
        &[
            "--store",
            &pooler.url("pooled"),
            "--admin-addr",
            "127.0.0.1:0",
        ],
        false,
    );
    let health = until_it_says_why_it_does_not_follow(server.admin_addr.as_ref().unwrap());
    assert_eq!(health.status, 200, "a server that answers stays healthy");
    ((cluster, pooler, dir), server)
}

/// The `/healthz` at `addr` once it says the store does not follow other servers' changes,
/// and what to add to its URL (within 15 s).
fn until_it_says_why_it_does_not_follow(addr: &str) -> test_support::raw_http::RawResponse {
    let started = Instant::now();
    loop {
        let health = test_support::raw_http::get(addr, "/healthz");
        let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap_or_default();
        if body["why_not"]
            .as_str()
            .is_some_and(|why| why.contains("listen_port=PORT"))
        {
            assert_eq!(body["follows_changes"], json!(false), "{body}");
            return health;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{addr}/healthz never said why it does not follow changes: {} {body}",
            health.status
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `avatars xmpp --metrics-addr` for an XMPP server that is not there, once its `/metrics`
/// answers; stopped when dropped.
pub(crate) struct Component {
    child: std::process::Child,
    pub(crate) addr: String,
    _dir: tempfile::TempDir,
}

impl Component {
    pub(crate) fn start() -> Self {
        Self::start_on(None)
    }

    /// On the PostgreSQL `store` when given, else a folder of its own.
    pub(crate) fn start_on(store: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", test_support::free_port());
        let folder = dir.path().join("data").display().to_string();
        let store = match store {
            Some(url) => ["--store", url],
            None => ["--data-dir", &folder],
        };
        let child = Command::new(AVATARS)
            .args([
                "xmpp",
                "--server",
                &test_support::silent::closed_address().to_string(),
            ])
            .args(["--domain", "avatars.example.org", "--secret", "s3cret"])
            .args(store)
            .args(["--metrics-addr", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let component = Self {
            child,
            addr,
            _dir: dir,
        };
        let started = Instant::now();
        while !std::net::TcpStream::connect(&component.addr)
            .is_ok_and(|_| test_support::raw_http::get(&component.addr, "/metrics").status == 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the component's /metrics did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        component
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
