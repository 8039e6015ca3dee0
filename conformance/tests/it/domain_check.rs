//! `avatar-conformance check DOMAIN` against this project's server behind the fake DNS server:
//! what it reads from DNS, which servers answer (an https record on a plain-HTTP port fails the
//! TLS handshake), and the server cases it runs.

use avatar_conformance::check::{CheckOptions, DomainReport, SrvName, check_domain};
use avatar_conformance::{Level, Progress, Verdict};
use avatar_discovery::fake_dns::FakeDns;

use crate::stand_ins::{Altered, stand_in, unchanged};

/// A zone for `check.test` whose records point at `port` on 127.0.0.1: http through a name
/// only this zone knows (so the checker must find its address there too), with a short TTL
/// and a junk second-priority record; https at the address itself, on the same plain-HTTP
/// port.
fn zone(port: u16) -> String {
    format!(
        "$ORIGIN check.test.\n\
         @ 3600 IN SOA ns.check.test. admin.check.test. 1 7200 900 1209600 300\n\
         _avatars._tcp 300 IN SRV 0 0 {port} avatars.check.test.\n\
         _avatars._tcp 300 IN SRV 10 0 {port} _bad.check.test.\n\
         _avatars-sec._tcp 86400 IN SRV 0 0 {port} 127.0.0.1.\n\
         avatars 300 IN A 127.0.0.1\n\
         empty 300 IN A 192.0.2.1\n"
    )
}

/// This project's server on a free port, the fake DNS server pointing `check.test` at it, and
/// what the checker found there.
async fn checked() -> (DomainReport, FakeDns, u16) {
    let url = stand_in(Altered::Forward, unchanged, false).await;
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let zone = zone(port);
    let dns = FakeDns::start(&[zone.as_str()]).await.unwrap();
    let options = CheckOptions {
        domain: "check.test".to_owned(),
        identity: Some(avatar_proto::Identity::parse("George@example.com").unwrap()),
        nameserver: Some(dns.addr()),
        extra_roots: Vec::new(),
    };
    let found = check_domain(&options, Progress::Quiet).await.unwrap();
    (found, dns, port)
}

#[tokio::test]
async fn the_checker_reports_records_ttls_and_what_clients_refuse() {
    let (found, _dns, port) = checked().await;
    let [https, http] = &found.names[..] else {
        panic!("two names: {:?}", found.names)
    };
    assert_eq!(https.name, "_avatars-sec._tcp.check.test");
    assert_eq!(http.name, "_avatars._tcp.check.test");
    assert_eq!((http.answer.as_str(), http.ttl), ("records", Some(300)));
    assert_eq!(http.records.len(), 2);
    assert_eq!(
        http.base,
        format!("http://avatars.check.test:{port}/avatar/")
    );
    assert!(
        http.records[1]
            .problem
            .as_deref()
            .unwrap()
            .contains("not a host name")
    );
    assert!(
        found
            .warnings
            .iter()
            .any(|w| w.contains("_avatars._tcp.check.test has a TTL of 300 s"))
    );
    assert!(
        !found
            .warnings
            .iter()
            .any(|w| w.contains("_avatars-sec._tcp.check.test has a TTL"))
    );

    let text = avatar_conformance::check::summary(&found);
    assert!(
        text.contains(&format!(
            "priority 0 weight 0 port {port} target avatars.check.test."
        )),
        "{text}"
    );
    let html = avatar_conformance::check::html(&found);
    assert!(html.contains("_bad.check.test."));
    test_support::browser::assert_accessible(
        "the_checker_reports_records_ttls_and_what_clients_refuse",
        &html,
    );
    let json: serde_json::Value =
        serde_json::from_str(&avatar_conformance::check::json(&found)).unwrap();
    assert_eq!(json["names"][1]["ttl"], 300);
}

#[tokio::test]
async fn the_checker_tries_each_server_and_runs_the_fixture_free_cases() {
    let (found, _dns, _) = checked().await;
    let tls = found
        .servers
        .iter()
        .find(|server| server.base.starts_with("https://"))
        .unwrap();
    assert!(!tls.answered, "plain HTTP is not TLS: {}", tls.result);
    assert!(tls.result.starts_with("no answer: "), "{}", tls.result);
    let plain = found
        .servers
        .iter()
        .find(|server| server.base.starts_with("http://"))
        .unwrap();
    assert!(plain.answered, "{}", plain.result);

    let cases = found
        .cases
        .as_ref()
        .expect("cases ran against the http server");
    assert!(cases.outcomes.len() >= 25, "{} cases", cases.outcomes.len());
    let failures: Vec<_> = cases
        .outcomes
        .iter()
        .filter(|outcome| matches!(outcome.verdict, Verdict::Fail { .. }))
        .map(|outcome| outcome.id)
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    for id in [
        "identity-hit",
        "identity-hit-sha256",
        "server-default-identicon",
        "server-url-default-protocol-relative",
    ] {
        assert!(
            cases.outcomes.iter().any(|outcome| outcome.id == id),
            "{id} ran"
        );
    }
    assert!(
        !cases
            .outcomes
            .iter()
            .any(|outcome| outcome.id == "server-hash-md5"),
        "cases that need the suite's fixtures do not run"
    );
    assert!(cases.failures_at_least(Level::Must).next().is_none());
}

/// The binary: the same findings, exit 0; a domain without records: exit 1, saying why.
#[tokio::test]
async fn the_check_command_exits_1_when_the_domain_has_no_server() {
    let (_, dns, port) = checked().await;
    let nameserver = dns.addr().to_string();
    let run = |domain: &'static str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
            .args(["check", domain, "-q", "--nameserver", &nameserver])
            .output()
    };
    let output = run("check.test").await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "clients use http://avatars.check.test:{port}/avatar/"
        )),
        "{stdout}"
    );
    let output = run("empty.check.test").await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("publishes no usable avatar server"),
        "{stdout}"
    );
}

/// A nameserver that refuses the domain's zone, or says nothing at all, does not say that the
/// domain has no avatar server: the checker says the question went unanswered.
#[tokio::test]
async fn a_failed_lookup_is_not_reported_as_a_domain_without_a_server() {
    let (_, dns, _) = checked().await;
    let hole = avatar_discovery::fake_dns::BlackHole::start()
        .await
        .unwrap();
    for nameserver in [dns.addr(), hole.addr()] {
        let options = CheckOptions {
            // Not a zone the fake DNS holds: it answers REFUSED.
            domain: "elsewhere.test".to_owned(),
            identity: None,
            nameserver: Some(nameserver),
            extra_roots: Vec::new(),
        };
        let found = check_domain(&options, Progress::Quiet).await.unwrap();
        assert!(found.names.iter().all(SrvName::failed), "{found:?}");
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        let warning = &found.warnings[0];
        assert!(
            warning.starts_with("the DNS lookups for elsewhere.test failed (")
                && warning.contains("whether it publishes an avatar server is not known"),
            "{warning}"
        );
        assert!(!warning.contains("publishes no usable"), "{warning}");
        // The page says no case ran, rather than "0 passed" and "No case failed.", and shows
        // no empty tables of records.
        let page = avatar_conformance::check::html(&found);
        assert!(
            page.contains("No server of the domain was found, so no case ran."),
            "{page}"
        );
        assert!(!page.contains("No case failed"), "{page}");
        assert!(!page.contains("<table>"), "{page}");
    }
}
