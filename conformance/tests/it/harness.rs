//! The harness can fail: pointed at deliberately wrong targets (a server that ignores `s`, one
//! that follows any `d` URL, a client that keeps the trailing dot, a component that never
//! answers with an error, one with the wrong secret), the matching cases fail and the run exits
//! non-zero. And pointed at this project, nothing fails.

use std::collections::BTreeSet;
use std::time::Duration;

use avatar_conformance::xmpp::wire::{NS_COMPONENT, NS_STREAM, XmlStream};
use avatar_conformance::{
    DiscoveryClient, Group, HttpTarget, Level, Progress, Report, Targets, Verdict, XmppTarget,
    all_cases, run,
};
use axum::body::Body;
use http::{Request, Response};
use sha1::Digest as _;
use tokio::net::{TcpListener, TcpStream};

use crate::stand_ins::{
    Altered, assert_no_must_failure, failed, server_report, stand_in, unchanged,
};

fn assert_fail(report: &Report, ids: &[&str]) {
    let failed = failed(report);
    for id in ids {
        assert!(failed.contains(id), "{id} should fail; failed: {failed:?}");
    }
}

async fn run_groups(targets: &mut Targets, groups: &[Group]) -> Report {
    run(&all_cases(), targets, groups, Progress::Quiet)
        .await
        .unwrap()
}

#[tokio::test]
async fn this_project_passes_every_case_in_process() {
    let mut targets = Targets {
        http: Some(HttpTarget::in_process().await.unwrap()),
        discovery: Some(DiscoveryClient::InProcess),
        xmpp: Some(XmppTarget::in_process().await.unwrap()),
        described: Vec::new(),
    };
    let report = run_groups(&mut targets, &Group::ALL).await;
    assert!(
        failed(&report).is_empty(),
        "{}",
        avatar_conformance::report::summary(&report)
    );
    let count = |xmpp: bool| {
        report
            .outcomes
            .iter()
            .filter(|outcome| outcome.group.is_xmpp() == xmpp)
            .count()
    };
    assert!(count(false) >= 60, "{} Libravatar cases", count(false));
    assert!(count(true) >= 20, "{} XMPP cases", count(true));
}

/// Drops `s` and `size` from the query.
fn ignore_size(mut request: Request<Body>) -> Altered {
    let uri = request.uri().clone();
    let query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.starts_with("s=") && !pair.starts_with("size="))
        .collect();
    *request.uri_mut() = format!("{}?{}", uri.path(), query.join("&"))
        .parse()
        .unwrap();
    Altered::Forward(request)
}

/// Redirects to whatever `d` says, decoded: an open redirect.
fn follow_any_default(request: Request<Body>) -> Altered {
    let location = request.uri().query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| name == "d" && value.len() > 5)
            .map(|(_, value)| value.into_owned())
    });
    match location {
        Some(location) if !matches!(location.as_str(), "identicon" | "monsterid" | "robohash") => {
            let location = location.replace(['\r', '\n'], "");
            Altered::Answer(
                Response::builder()
                    .status(302)
                    .header("location", location)
                    .body(Body::empty())
                    .unwrap(),
            )
        }
        _ => Altered::Forward(request),
    }
}

#[tokio::test]
async fn a_server_that_ignores_s_fails_the_size_cases() {
    let report = server_report(&stand_in(ignore_size, unchanged, false).await).await;
    assert_fail(
        &report,
        &[
            "server-size-1",
            "server-size-512",
            "server-size-long-name",
            "server-size-clamp",
        ],
    );
    assert!(report.failures_at_least(Level::Must).count() >= 3);
    assert!(!failed(&report).contains("server-default-404"));
}

#[tokio::test]
async fn a_server_that_follows_any_url_fails_the_open_redirect_cases() {
    let report = server_report(&stand_in(follow_any_default, unchanged, false).await).await;
    assert_fail(
        &report,
        &[
            "server-url-default-protocol-relative",
            "server-url-default-untrusted",
            "server-url-default-javascript",
            "server-url-default-userinfo",
            "server-url-default-data",
            "server-url-default-suffix-trick",
        ],
    );
}

#[tokio::test]
async fn the_binary_exits_non_zero_on_must_failures_and_prints_what_came_back() {
    let url = stand_in(ignore_size, unchanged, false).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
        .args(["-q", "--group", "libravatar-server", "--target-url", &url])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL [MUST] server-size-1 "), "{stdout}");
    assert!(
        stdout.contains("expected: an image of exactly 1x1 pixels"),
        "{stdout}"
    );
    assert!(stdout.contains("got:      200"), "{stdout}");
}

/// A server that is not there, or accepts and never answers, stops the run at once (exit 2)
/// with the reason, instead of failing every case after a timeout each.
#[tokio::test]
async fn a_server_that_does_not_answer_stops_the_run_with_the_reason() {
    let silent = test_support::silent::SilentServer::start();
    let silent_url = format!("http://{}", silent.addr());
    let closed_url = format!("http://{}", test_support::silent::closed_address());
    // `--url`, the name people try first, is `--target-url` too.
    for (url, says, flag) in [
        (&silent_url, "nothing within 1s", "--target-url"),
        (&closed_url, "Connection refused", "--url"),
    ] {
        let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
            .args(["-q", flag, url, "--request-timeout-secs", "1"])
            .output();
        // Every case timing out one by one would take minutes.
        let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
            .await
            .expect("the run stops at once")
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(
            stderr.contains("the Libravatar server does not answer") && stderr.contains(says),
            "{url}: {stderr}"
        );
    }
}

/// Writes `text` to `path` as an executable script.
fn executable(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;

    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A `--client-cmd` template for a script that runs the reference client (with `{size}` and
/// `{default}` passed on) and rewrites its URL with `sed_expression`: a stand-in for another
/// client library that differs from ours in that one way.
fn rewriting_client(dir: &std::path::Path, name: &str, sed_expression: &str) -> String {
    let script = dir.join(name);
    executable(
        &script,
        &format!(
            "#!/bin/sh\nurl=$('{}' client \"$@\") || exit 1\nprintf '%s\\n' \"$url\" | sed -E '{sed_expression}'\n",
            env!("CARGO_BIN_EXE_avatar-conformance")
        ),
    );
    format!(
        "{} {{identity}} {{nameserver}} {{scheme}} --size={{size}} --default={{default}}",
        script.display()
    )
}

async fn discovery_report(template: &str) -> Report {
    let mut targets = Targets {
        discovery: Some(DiscoveryClient::command(template).unwrap()),
        ..Targets::default()
    };
    run_groups(&mut targets, &[Group::LibravatarDiscovery]).await
}

/// A client that never answers when the nameserver is silent has its verdict at twice the
/// case's 5 s bound: the suite stops it then rather than waiting out its 20 s limit for any
/// client (npm's `libravatar` and pyLibravatar 1.7 would take it all). The clock is tokio's,
/// paused, so the test takes no 10 s.
#[tokio::test(start_paused = true)]
async fn a_client_that_never_falls_back_is_stopped_at_twice_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let client = dir.path().join("silent-client");
    executable(&client, "#!/bin/sh\nexec sleep 3600\n");
    let template = format!("{} {{identity}} {{nameserver}}", client.display());
    let cases =
        avatar_conformance::cases_named(all_cases(), &["discovery-dns-down".to_owned()]).unwrap();
    let mut targets = Targets {
        discovery: Some(DiscoveryClient::command(&template).unwrap()),
        ..Targets::default()
    };
    let report = run(
        &cases,
        &mut targets,
        &[Group::LibravatarDiscovery],
        Progress::Quiet,
    )
    .await
    .unwrap();
    let [outcome] = &report.outcomes[..] else {
        panic!("one case ran: {:?}", report.outcomes);
    };
    let Verdict::Fail { expected, got, .. } = &outcome.verdict else {
        panic!("it failed: {:?}", outcome.verdict);
    };
    assert_eq!(expected, "an answer within 5s", "{got}");
    assert_eq!(got, "no answer after 10s, when the suite stopped waiting");
}

#[tokio::test]
async fn a_client_that_keeps_the_trailing_dot_fails_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    // The reference client's URL with a dot put back after the host, as pyLibravatar 2.0.0
    // does. Only the two cases about the dot fail (one record, several): the cases that compare
    // hosts pass it over.
    let template = rewriting_client(dir.path(), "dotted-client", "s#^(https?://[^/:]+)#\\1.#");
    let report = discovery_report(&template).await;
    assert_eq!(
        failed(&report),
        BTreeSet::from(["discovery-trailing-dot", "discovery-trailing-dot-several"]),
        "{}",
        avatar_conformance::report::summary(&report)
    );

    // The binary, asked for those two cases and one the client passes.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
        .args([
            "-q",
            "--case",
            "discovery-trailing-dot*",
            "--case",
            "discovery-http",
            "--client-cmd",
            &template,
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("http://avatars.example.org./avatar/"),
        "the failure shows the dotted URL: {stdout}"
    );
    // group, pass, fail, skip, failed MUST/SHOULD/COMPAT: three cases ran, no other group.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("group "))
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [["libravatar-discovery", "1", "2", "0", "2/0/0"]],
        "{stdout}"
    );
}

/// `--client-jobs 1` runs a client command's draws one after another, for a client that cannot
/// run beside itself; by default a case's draws (10 in `discovery-trailing-dot-several`) run as
/// many at once as there are cores. The stand-in takes a lock directory for its run and fails
/// when another run holds it; it holds it for 100 ms, so three runs at once overlap.
#[tokio::test]
async fn client_jobs_1_runs_a_client_that_cannot_run_beside_itself() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("running");
    let client = dir.path().join("lonely-client");
    executable(
        &client,
        &format!(
            "#!/bin/sh\n\
             mkdir '{lock}' 2>/dev/null || {{ echo 'another run of me is going on' >&2; exit 3; }}\n\
             sleep 0.1\n\
             url=$('{bin}' client \"$@\"); status=$?\n\
             rmdir '{lock}'\n\
             [ $status = 0 ] && printf '%s\\n' \"$url\"\n\
             exit $status\n",
            lock = lock.display(),
            bin = env!("CARGO_BIN_EXE_avatar-conformance"),
        ),
    );
    let template = format!(
        "{} {{identity}} {{nameserver}} {{scheme}}",
        client.display()
    );
    let conformance = |jobs: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
            .args([
                "-q",
                "--case",
                "discovery-trailing-dot-several",
                "--client-cmd",
                &template,
                "--client-jobs",
                jobs,
            ])
            .output()
    };
    let one = conformance("1").await.unwrap();
    let stdout = String::from_utf8_lossy(&one.stdout);
    assert_eq!(one.status.code(), Some(0), "{stdout}");
    let three = conformance("3").await.unwrap();
    let stdout = String::from_utf8_lossy(&three.stdout);
    assert_eq!(three.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("another run of me is going on"),
        "the failure shows the client's own words: {stdout}"
    );

    // 0 is no number of jobs, and jobs need a command to run.
    for args in [
        &["--client-cmd", &template, "--client-jobs", "0"][..],
        &["--client-jobs", "1"],
    ] {
        let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
            .args(args)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--client-"), "{args:?}: {stderr}");
    }
}

/// A reader of standard output or standard error that has gone (`avatar-conformance list |
/// head -1`) is no error and no panic: `list` ends quietly and successfully, and a run still
/// exits with its verdicts' status (1 here, for the dotted client's two MUST failures). The
/// pipe's reading end is closed before the binary starts, so its first write finds the reader
/// gone.
#[tokio::test]
async fn a_reader_that_stops_early_changes_no_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let template = rewriting_client(dir.path(), "dotted-client", "s#^(https?://[^/:]+)#\\1.#");
    for (args, status) in [
        (&["list"][..], 0),
        (&["list", "discovery-*"], 0),
        (
            &[
                "-q",
                "--case",
                "discovery-trailing-dot*",
                "--client-cmd",
                &template,
            ],
            1,
        ),
        (&["-q", "--case", "discovery-http", "--json", "-"], 0),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        // spawn, not output(), which would give the binary a pipe of its own.
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
            .wait_with_output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(status), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    // Standard error gone too (`2>&1 | head`): the progress lines are lost, the run goes on to
    // its summary and its status.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
        .args([
            "--case",
            "discovery-trailing-dot*",
            "--client-cmd",
            &template,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(writer)
        .spawn()
        .unwrap()
        .wait_with_output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL [MUST] discovery-trailing-dot"),
        "{stdout}"
    );
}

/// A group `--group` names but none of the `--case` cases is in needs no target: the run does
/// not wait for a component to connect when only a discovery case runs.
#[tokio::test]
async fn a_group_none_of_the_named_cases_is_in_needs_no_target() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
        .args([
            "-q",
            "--case",
            "discovery-http",
            "--group",
            "libravatar-discovery",
            "--group",
            "xep-0008",
            "--component-listen",
            "127.0.0.1:0",
            "--secret",
            "never used",
            "--component-wait",
            "1",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 case: 1 passed"), "{stdout}");
}

/// `list` shows what `--case` would run: the same ids and patterns, in report order.
#[tokio::test]
async fn list_shows_what_a_case_pattern_selects() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
        .args(["list", "discovery-trailing-dot*", "discovery-http"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(
        ids,
        [
            "discovery-http",
            "discovery-trailing-dot",
            "discovery-trailing-dot-several"
        ]
    );
}

/// `--case` (and `list`) name what they cannot select before anything starts: an id no case
/// has (with the ids that contain it), a case `--group` leaves out, a pattern left with
/// nothing; and two reports cannot both go to standard output.
#[tokio::test]
async fn a_case_the_run_cannot_have_is_refused_with_the_reason() {
    for (arguments, says) in [
        (
            &["--case", "discovery-trailing"][..],
            "no case has the id \"discovery-trailing\" (a trailing * matches ids starting with \
             the rest); ids containing it: discovery-trailing-dot, \
             discovery-trailing-dot-several",
        ),
        (
            &["--case", "no-such-thing*"][..],
            "`avatar-conformance list` shows every case",
        ),
        (
            &["list", "no-such-thing"][..],
            "no case has the id \"no-such-thing\"",
        ),
        (
            &["--case", "discovery-http", "--group", "libravatar-server"][..],
            "--case discovery-http: it is in the group libravatar-discovery, which --group leaves out",
        ),
        (
            &["--case", "discovery-trailing-dot*", "--group", "xep-0008"][..],
            "--case discovery-trailing-dot*: none of its cases is in the groups --group names",
        ),
        (
            &["--case", "discovery-http", "--json", "-", "--html", "-"][..],
            "--json and --html ask for standard output (-) together",
        ),
        (
            &["check", "example.org", "--json", "-", "--html", "-"][..],
            "--json and --html ask for standard output (-) together",
        ),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
            .args(arguments)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains(says), "{arguments:?}: {stderr}");
    }
}

/// Correct but different: `:80` written out in every http URL (as the API page's own Python
/// example does), and always the same record taken when all weights are zero whatever order
/// the nameserver gives (pyLibravatar and the npm `libravatar` take the last one listed, so
/// they spread only as far as the nameserver rotates). Neither is a MUST failure.
#[tokio::test]
async fn clients_that_write_the_port_or_take_the_first_zero_weight_record_pass_every_must() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rewrite, should_fail) in [
        ("port-80-client", "s#^(http://[^/:]+)/#\\1:80/#", None),
        (
            "first-record-client",
            "s#^http://z2\\.example\\.org/#http://z1.example.org/#",
            Some("discovery-zero-weights-spread"),
        ),
    ] {
        let report = discovery_report(&rewriting_client(dir.path(), name, rewrite)).await;
        assert_no_must_failure(&report, name);
        let failed = failed(&report);
        match should_fail {
            Some(id) => assert_eq!(failed, BTreeSet::from([id]), "{name}"),
            None => assert!(failed.is_empty(), "{name}: {failed:?}"),
        }
    }
}

/// A client that keeps nothing between lookups: each identity it is given is a fresh process.
#[tokio::test]
async fn a_client_without_a_cache_fails_the_cache_case() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("forgetful-client");
    let reference = env!("CARGO_BIN_EXE_avatar-conformance");
    executable(
        &script,
        &format!(
            "#!/bin/sh\n'{reference}' client \"$1\" \"$2\" \"$3\" || exit 1\n[ -z \"$4\" ] || '{reference}' client \"$4\" \"$2\" \"$3\"\n"
        ),
    );
    let template = format!(
        "{} {{identity}} {{nameserver}} {{scheme}} {{again}}",
        script.display()
    );
    let report = discovery_report(&template).await;
    assert_eq!(
        failed(&report),
        BTreeSet::from(["discovery-cache-one-process"]),
        "{}",
        avatar_conformance::report::summary(&report)
    );
    let Some(Verdict::Fail { got, .. }) = report
        .outcomes
        .iter()
        .find(|outcome| outcome.id == "discovery-cache-one-process")
        .map(|outcome| &outcome.verdict)
    else {
        panic!("the cache case failed");
    };
    assert!(
        got.starts_with("2 queries for _avatars._tcp.cached.example.org"),
        "{got}"
    );
}

/// A client that sends `d` unencoded, and one that sends `s` as given: the query cases fail.
#[tokio::test]
async fn clients_that_mangle_the_query_fail_the_query_cases() {
    let dir = tempfile::tempdir().unwrap();
    let unencoded = rewriting_client(
        dir.path(),
        "unencoded-client",
        "s#d=https%3A%2F%2Fexample\\.org%2Fa%20b\\.png%3Fx%3D1%26y%3D2%23z#d=https://example.org/a b.png?x=1\\&y=2\\#z#",
    );
    let report = discovery_report(&unencoded).await;
    assert_fail(&report, &["discovery-query-default-encoded-once"]);
    let unclamped = rewriting_client(dir.path(), "unclamped-client", "s#s=512#s=1000#");
    let report = discovery_report(&unclamped).await;
    assert_fail(&report, &["discovery-query-size-clamped"]);
}

#[tokio::test]
async fn the_reference_client_passes_through_a_command_template() {
    let template = format!(
        "{} client {{identity}} {{nameserver}} {{scheme}} {{again}} --size={{size}} --default={{default}}",
        env!("CARGO_BIN_EXE_avatar-conformance")
    );
    let report = discovery_report(&template).await;
    let skipped = report
        .outcomes
        .iter()
        .filter(|outcome| matches!(outcome.verdict, Verdict::Skip { .. }))
        .count();
    assert_eq!(skipped, 0, "every placeholder is given");
    assert!(
        failed(&report).is_empty(),
        "{}",
        avatar_conformance::report::summary(&report)
    );
}

/// A component that connects to the harness, proves `secret`, and answers every IQ get or set
/// with an empty result: never an error.
/// Connects to the harness at `addr` as the component `domain`, proving `secret` (XEP-0114).
async fn component_login(addr: std::net::SocketAddr, domain: &str, secret: &str) -> XmlStream {
    let mut stream = XmlStream::new(TcpStream::connect(addr).await.unwrap());
    stream
        .send(&format!(
            "<?xml version='1.0'?><stream:stream xmlns='{NS_COMPONENT}' xmlns:stream='{NS_STREAM}' to='{domain}'>"
        ))
        .await
        .unwrap();
    let header = stream.header(Duration::from_secs(5)).await.unwrap();
    let id = header.attr("id").unwrap().to_owned();
    let digest = sha1::Sha1::digest(format!("{id}{secret}").as_bytes());
    let handshake = avatar_proto::hex::encode_lower(digest.as_slice());
    stream
        .send(&format!("<handshake>{handshake}</handshake>"))
        .await
        .unwrap();
    stream
}

async fn agreeable_component(addr: std::net::SocketAddr, secret: &'static str) {
    let mut stream = component_login(addr, "agreeable.test", secret).await;
    while let Ok(next) = stream.next(Duration::from_secs(30)).await {
        let Some(stanza) = next else { continue };
        if stanza.name() == "iq" && matches!(stanza.attr("type"), Some("get" | "set")) {
            let reply = format!(
                "<iq type='result' id='{}' from='{}' to='{}'/>",
                stanza.attr("id").unwrap_or(""),
                stanza.attr("to").unwrap_or(""),
                stanza.attr("from").unwrap_or("")
            );
            if stream.send(&reply).await.is_err() {
                return;
            }
        }
    }
}

/// The agreeable component connected with `secret`, as a target that waits 1 s for answers.
async fn component_target(secret: &'static str) -> XmppTarget {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(agreeable_component(addr, secret));
    XmppTarget::component(&listener, "right secret", Duration::from_secs(10))
        .await
        .unwrap()
        .answer_timeout(Duration::from_secs(1))
}

#[tokio::test]
async fn a_component_that_never_answers_with_an_error_fails_the_error_table() {
    let mut targets = Targets {
        xmpp: Some(component_target("right secret").await),
        ..Targets::default()
    };
    let report = run_groups(
        &mut targets,
        &[Group::Xep0008, Group::Xep0153, Group::Xep0084],
    )
    .await;
    assert_fail(
        &report,
        &[
            "xep0008-no-avatar",
            "xep0008-unknown-subject",
            "xep0008-unknown-namespace",
            "xep0008-set-iq-avatar",
            "xep0008-storage-forbidden",
            "xep0008-storage-bad-base64",
            "xep0008-storage-not-image",
            "xep0008-retrieve",
            "xep0153-vcard-set-forbidden",
        ],
    );
    assert!(!failed(&report).contains("xep0114-handshake"));
    assert!(report.failures_at_least(Level::Must).count() >= 8);
    // It never answers a presence probe either: those cases wait the target's answer timeout
    // (1 s here, not the 5 s default) and say so.
    let probe = report
        .outcomes
        .iter()
        .find(|outcome| outcome.id == "xep0008-presence-hash")
        .expect("the presence case ran");
    assert!(
        matches!(&probe.verdict, Verdict::Fail { got, .. } if got == "no answer within 1s"),
        "{:?}",
        probe.verdict
    );
}

/// Targets with only an XMPP component: the stand-in `component`, connected to the harness
/// with the right secret.
async fn stand_in_component<F>(component: impl FnOnce(std::net::SocketAddr) -> F) -> Targets
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(component(listener.local_addr().unwrap()));
    Targets {
        xmpp: Some(
            XmppTarget::component(&listener, "right secret", Duration::from_secs(10))
                .await
                .unwrap(),
        ),
        ..Targets::default()
    }
}

/// This project's IQ service over the fixtures, answering for `domain`, and the domain's JID.
async fn fixture_service(
    domain: &str,
) -> (avatar_xmpp::IqService<avatar_store::MemoryStore>, jid::Jid) {
    let service = avatar_xmpp::IqService::new(
        avatar_conformance::fixtures::memory_store().await.unwrap(),
        avatar_xmpp::IqConfig::new(avatar_xmpp::JidMapping::new(domain)),
    );
    (service, domain.parse().unwrap())
}

/// A component that answers every stanza correctly (this project's IQ service, stanza by
/// stanza) but keeps no session: it accepts subscriptions and never announces a change, and
/// does not mirror.
async fn forgetful_component(addr: std::net::SocketAddr) {
    use avatar_xmpp::component::replies_to_element;
    let domain = "forgetful.test";
    let mut stream = component_login(addr, domain, "right secret").await;
    let (service, own) = fixture_service(domain).await;
    while let Ok(next) = stream.next(Duration::from_secs(30)).await {
        let Some(stanza) = next else { continue };
        for reply in replies_to_element(&service, stanza, &own).await {
            if stream.send(&String::from(&reply)).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_component_that_never_announces_a_change_fails_only_the_subscriber_case() {
    let mut targets = stand_in_component(forgetful_component).await;
    let report = run_groups(
        &mut targets,
        &[Group::Xep0008, Group::Xep0153, Group::Xep0084],
    )
    .await;
    assert_eq!(
        failed(&report),
        BTreeSet::from(["subscribers-presence-after-change"]),
        "{}",
        avatar_conformance::report::summary(&report)
    );
    let mirror = report
        .outcomes
        .iter()
        .find(|outcome| outcome.id == "mirror-subscriber")
        .expect("the mirror case ran");
    assert!(
        matches!(&mirror.verdict, Verdict::Skip { reason } if reason.contains("does not mirror")),
        "{:?}",
        mirror.verdict
    );
}

/// A mirror of another design: it never subscribes back, asks no PEP, and fetches a user's
/// vCard only when the user's presence announces a photo hash (XEP-0153); everything else is
/// this project's IQ service, stanza by stanza.
async fn vcard_mirror_component(addr: std::net::SocketAddr) {
    use avatar_store::Store as _;
    use avatar_xmpp::component::replies_to_element;
    let domain = "vcard-mirror.test";
    let mut stream = component_login(addr, domain, "right secret").await;
    let (service, own) = fixture_service(domain).await;
    let bare = |element: &minidom::Element, attr: &str| {
        element
            .attr(attr)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let mut fetched = 0u32;
    while let Ok(next) = stream.next(Duration::from_secs(30)).await {
        let Some(stanza) = next else { continue };
        let to_domain = stanza.attr("to") == Some(domain);
        let (from, kind) = (
            bare(&stanza, "from"),
            stanza.attr("type").map(str::to_owned),
        );
        let replies: Vec<String> = match (stanza.name(), kind.as_deref(), to_domain) {
            ("presence", Some("subscribe"), true) => {
                vec![format!(
                    "<presence type='subscribed' from='{domain}' to='{from}'/>"
                )]
            }
            ("presence", Some("unsubscribe"), true) => {
                let identity = avatar_proto::Identity::parse(&from).unwrap();
                service.store().remove(&identity).await.unwrap();
                Vec::new()
            }
            ("presence", None, true) if stanza.get_child("x", "vcard-temp:x:update").is_some() => {
                fetched += 1;
                vec![format!(
                    "<iq type='get' id='vcard-{fetched}' from='{domain}' to='{from}'><vCard xmlns='vcard-temp'/></iq>"
                )]
            }
            ("iq", Some("result"), true) if stanza.get_child("vCard", "vcard-temp").is_some() => {
                let vcard = stanza.get_child("vCard", "vcard-temp").unwrap();
                let binval = vcard
                    .get_child("PHOTO", "vcard-temp")
                    .and_then(|photo| photo.get_child("BINVAL", "vcard-temp"))
                    .map(minidom::Element::text)
                    .unwrap_or_default();
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    binval.trim(),
                )
                .unwrap();
                let identity = avatar_proto::Identity::parse(&from).unwrap();
                service.store().put(&identity, bytes.into()).await.unwrap();
                Vec::new()
            }
            _ => replies_to_element(&service, stanza, &own)
                .await
                .iter()
                .map(String::from)
                .collect(),
        };
        for reply in replies {
            if stream.send(&reply).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_mirror_of_another_design_passes_the_mirror_case() {
    let mut targets = stand_in_component(vcard_mirror_component).await;
    let report = run_groups(&mut targets, &[Group::Xep0008]).await;
    let mirror = report
        .outcomes
        .iter()
        .find(|outcome| outcome.id == "mirror-subscriber")
        .expect("the mirror case ran");
    assert_eq!(
        mirror.verdict,
        Verdict::Pass,
        "{}",
        avatar_conformance::report::summary(&report)
    );
}

/// `--answer-timeout-secs` is how long a component's cases wait for an answer: a component
/// that never answers a presence probe fails after 1 s, and the report says how long it waited.
#[tokio::test]
async fn the_answer_timeout_option_bounds_the_wait_for_a_component() {
    use tokio::io::AsyncBufReadExt;

    let mut run = tokio::process::Command::new(env!("CARGO_BIN_EXE_avatar-conformance"))
        .args([
            "-q",
            "--case",
            "xep0008-presence-hash",
            "--component-listen",
            "127.0.0.1:0",
            "--secret",
            "right secret",
            "--answer-timeout-secs",
            "1",
            "--json",
            "-",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(run.stderr.take().unwrap()).lines();
    let waiting = stderr.next_line().await.unwrap().unwrap_or_default();
    let rest_of_stderr = tokio::spawn(async move {
        let mut text = String::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let addr = waiting
        .strip_prefix("avatar-conformance: waiting for a component on ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {waiting:?}"));
    tokio::spawn(agreeable_component(addr, "right secret"));
    let output = tokio::time::timeout(Duration::from_secs(30), run.wait_with_output())
        .await
        .expect("the run ends")
        .unwrap();
    // Standard output holds the report alone; the summary went to standard error.
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "standard output is not the JSON report ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let outcome = &report["outcomes"][0];
    assert_eq!(outcome["id"], "xep0008-presence-hash", "{report}");
    assert_eq!(outcome["verdict"], "fail", "{report}");
    assert_eq!(outcome["got"], "no answer within 1s", "{report}");
    assert!(outcome["millis"].as_u64().unwrap() < 4000, "{report}");
    let summary = rest_of_stderr.await.unwrap();
    assert!(
        summary.contains("FAIL [MUST] xep0008-presence-hash"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_component_with_the_wrong_secret_fails_the_handshake_and_everything_after() {
    let mut targets = Targets {
        xmpp: Some(component_target("wrong secret").await),
        ..Targets::default()
    };
    let report = run_groups(&mut targets, &[Group::Xep0008]).await;
    assert_fail(&report, &["xep0114-handshake", "xep0008-retrieve"]);
    let Some(handshake) = report
        .outcomes
        .iter()
        .find(|outcome| outcome.id == "xep0114-handshake")
    else {
        panic!("the handshake case ran");
    };
    let Verdict::Fail { got, .. } = &handshake.verdict else {
        panic!("it failed");
    };
    assert!(got.contains("expected"), "{got}");
}
