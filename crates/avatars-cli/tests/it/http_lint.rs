//! What the servers answer, judged by REDbot, the HTTP linter of Mark Nottingham (the editor of
//! RFC 9110 and RFC 9111), as published on PyPI and installed pinned, with httplint, the
//! library of its checks, by `scripts/ensure-api-tools.sh`. It fetches each URL itself, then
//! asks again conditionally, compressed and in ranges, and notes what it finds at levels GOOD,
//! INFO, WARN and BAD. No answer of `avatars serve` (public and admin listeners) or `avatars
//! xmpp --metrics-addr` may get a WARN or BAD note, except those listed in [`EXPECTED`] with
//! the reason each is right.
//!
//! It found four things on its first run, all mended: `Cache-Control: public` on every avatar
//! (needed by no answer here, and it would let shared caches keep answers to requests carrying
//! `Authorization`); `/metrics` and `/healthz` open to heuristic caching (now `no-store`); the
//! home page likewise; and the home page's `style-src 'unsafe-inline'` (now its style's hash).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use test_support::server::Server;

use crate::monitoring::Component;
use crate::{AVATARS, folder_with_george};

/// The WARN and BAD notes that are right: (path, note id, why).
const EXPECTED: &[(&str, &str, &str)] = &[(
    "/avatar/abc",
    "STATUS_BAD_REQUEST",
    "a hash of three digits is a bad request, and the 400 says why",
)];

/// Where `scripts/ensure-api-tools.sh` installs REDbot.
fn redbot() -> PathBuf {
    std::env::var_os("AVATARS_REDBOT")
        .map_or_else(
            || {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/avatars-redbot")
            },
            PathBuf::from,
        )
        .join("bin/redbot")
}

#[test]
fn redbot_finds_nothing_to_warn_of_in_what_the_servers_answer() {
    let redbot = redbot();
    if !redbot.exists() {
        eprintln!(
            "\n*** SKIPPED redbot_finds_nothing_to_warn_of_in_what_the_servers_answer: {} is \
             missing (scripts/ensure-api-tools.sh). ***\n",
            redbot.display()
        );
        return;
    }
    let dir = folder_with_george();
    let server = Server::start(
        AVATARS,
        dir.path(),
        &[
            "--email",
            "george@example.com=george.png",
            "--admin-addr",
            "127.0.0.1:0",
        ],
        false,
    );
    let admin = server.admin_addr.clone().unwrap();
    let component = Component::start();
    let george = "40f8d096a3777232204cb3f796c577b7";
    let nobody = "0".repeat(32);
    let public = [
        "/".to_owned(),
        format!("/avatar/{george}?s=80"),
        format!("/avatar/{george}.webp?s=64"),
        format!("/avatar/{george}/?s=48"),
        format!("/avatar/{nobody}?s=80"),
        format!("/avatar/{nobody}?d=identicon&s=64"),
        format!("/avatar/{nobody}?d=404"),
        format!("/avatar/{nobody}?d=https%3A%2F%2Fgravatar.com%2Favatar%2F{nobody}"),
        format!("/avatar/{george}?forcedefault=y&d=mp"),
        "/avatar/abc".to_owned(),
        "/nothing".to_owned(),
    ];
    let mut urls: Vec<(String, String)> = public
        .iter()
        .map(|path| (path.clone(), format!("http://{}{path}", server.addr)))
        .collect();
    for path in ["/metrics", "/healthz", "/v1/avatars"] {
        urls.push((format!("admin {path}"), format!("http://{admin}{path}")));
    }
    for path in ["/metrics", "/healthz"] {
        urls.push((
            format!("component {path}"),
            format!("http://{}{path}", component.addr),
        ));
    }
    let mut unexpected = Vec::new();
    let mut seen_expected = Vec::new();
    for (what, level, id, summary) in warnings(&redbot, urls) {
        if EXPECTED
            .iter()
            .any(|(path, expected, _)| *path == what && *expected == id)
        {
            seen_expected.push((what, id));
        } else {
            unexpected.push(format!("{what}: {level} {id}: {summary}"));
        }
    }
    assert!(
        unexpected.is_empty(),
        "REDbot warns of:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(
        seen_expected.len(),
        EXPECTED.len(),
        "every expected note still comes (else drop it from EXPECTED): {seen_expected:?}"
    );
}

/// REDbot's WARN and BAD notes on each `(what, URL)`, all run at once (each is half a second
/// of Python starting): (what, level, id, summary).
fn warnings(redbot: &Path, urls: Vec<(String, String)>) -> Vec<(String, String, String, String)> {
    let runs: Vec<(String, std::process::Child)> = urls
        .into_iter()
        .map(|(what, url)| {
            let child = Command::new(redbot)
                .args(["-o", "har", &url])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (what, child)
        })
        .collect();
    let mut warnings = Vec::new();
    for (what, child) in runs {
        let output = child.wait_with_output().unwrap();
        let har: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "REDbot on {what} gave no HAR ({err}): {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        let mut notes = Vec::new();
        collect_notes(&har, &mut notes);
        assert!(!notes.is_empty(), "REDbot noted nothing on {what}: {har}");
        warnings.extend(
            notes
                .into_iter()
                .filter(|(level, ..)| level == "WARN" || level == "BAD")
                .map(|(level, id, summary)| (what.clone(), level, id, summary)),
        );
    }
    warnings
}

/// Every note in REDbot's HAR output (`_red_messages`, nested under its sub-requests too):
/// (level, id, summary).
fn collect_notes(value: &serde_json::Value, notes: &mut Vec<(String, String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            if let (Some(level), Some(id)) = (
                map.get("level").and_then(serde_json::Value::as_str),
                map.get("note_id").and_then(serde_json::Value::as_str),
            ) {
                let summary = map.get("summary").and_then(serde_json::Value::as_str);
                notes.push((
                    level.to_owned(),
                    id.to_owned(),
                    summary.unwrap_or_default().to_owned(),
                ));
            }
            for nested in map.values() {
                collect_notes(nested, notes);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_notes(item, notes);
            }
        }
        _ => {}
    }
}
