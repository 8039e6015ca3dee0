//! `deploy/prometheus-alerts.yml`, the alerting rules for the servers' metrics: valid as
//! Prometheus reads them (`promtool check rules`), firing as `deploy/prometheus-alerts.test.yml`
//! says (`promtool test rules`), and naming only metrics that a real `avatars serve` (with
//! HTTPS, the admin listener and the proxy) and a real `avatars xmpp` export, so that a
//! renamed metric cannot leave an alert that never fires.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{AVATARS, avatars, folder_with_george};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");

/// Whether promtool (Debian's prometheus, which scripts/ensure-unit-tools.sh installs) is here;
/// says loudly when it is not.
fn promtool_installed(test: &str) -> bool {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        eprintln!(
            "\n*** SKIPPED {test}: promtool is not installed (scripts/ensure-unit-tools.sh). ***\n"
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
    if !promtool_installed("the_alerting_rules_are_valid_and_fire_as_their_tests_say") {
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

/// Every `avatars_...` name in the rules is a metric that the servers export.
#[test]
fn the_alerting_rules_name_only_metrics_the_servers_export() {
    let rules = std::fs::read_to_string(Path::new(DEPLOY).join("prometheus-alerts.yml")).unwrap();
    let named = metric_names(&rules);
    assert!(named.len() >= 6, "{named:?}");
    let exported = format!("{}{}", serve_metrics(), component_metrics());
    for name in &named {
        assert!(
            exported.lines().any(|line| line
                .strip_prefix(name.as_str())
                .is_some_and(|rest| { rest.starts_with(' ') || rest.starts_with('{') })),
            "{name} is named by the rules and exported by no server:\n{exported}"
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

/// The admin listener's /metrics of a server with HTTPS and the avatar proxy, after a request.
fn serve_metrics() -> String {
    let dir = folder_with_george();
    let key = rcgen::KeyPair::generate().unwrap();
    crate::tls::TestCa::new().install(dir.path(), &key, &key.serialize_pem());
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
    let metrics = test_support::raw_http::get(server.admin_addr.as_deref().unwrap(), "/metrics");
    String::from_utf8(metrics.body).unwrap()
}

/// The /metrics of `avatars xmpp --metrics-addr`, for a server that is not there.
fn component_metrics() -> String {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", test_support::free_port());
    let mut component = Command::new(AVATARS)
        .args([
            "xmpp",
            "--server",
            &test_support::silent::closed_address().to_string(),
        ])
        .args(["--domain", "avatars.example.org", "--secret", "s3cret"])
        .args(["--data-dir", &dir.path().join("data").display().to_string()])
        .args(["--metrics-addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let metrics = loop {
        let answer = std::net::TcpStream::connect(&addr)
            .ok()
            .map(|_| test_support::raw_http::get(&addr, "/metrics"));
        if let Some(answer) = answer.filter(|answer| answer.status == 200) {
            break String::from_utf8(answer.body).unwrap();
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = component.kill();
            let _ = component.wait();
            panic!("the component's /metrics did not answer within 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = component.kill();
    let _ = component.wait();
    metrics
}
