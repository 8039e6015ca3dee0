//! Integration tests of the `avatars` binary, run as a process: every subcommand, faults, hostile input, and real Prosody and ejabberd servers.
//!
//! One integration-test binary for the crate (one link of tokio, hyper and image instead of
//! one per file); each module is a former test file.

mod admin;
mod cli;
mod deploy_units;
mod faults;
mod hostile;
mod http_lint;
mod limits;
mod monitoring;
mod postgres;
mod proxy;
mod readme;
mod serve;
mod store_commands;
mod tls;
mod url_discovery;
mod xmpp_servers;

use std::path::Path;
use std::process::{Command, Output};

use test_support::server::Server;

/// The `avatars` binary of this build.
const AVATARS: &str = env!("CARGO_BIN_EXE_avatars");

/// Runs `avatars ARGS` in the current directory and waits for it.
fn avatars(args: &[&str]) -> Output {
    Command::new(AVATARS)
        .args(args)
        .output()
        .expect("the avatars binary runs")
}

/// Runs `avatars ARGS` in `dir` and waits for it.
fn avatars_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(AVATARS)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the avatars binary runs")
}

/// `avatars serve --addr 127.0.0.1:0 ARGS...` in `dir` (stderr piped when `log`).
fn serve(dir: &Path, args: &[&str], log: bool) -> Server {
    Server::start(AVATARS, dir, args, log)
}

/// A folder with George's picture (`george.png`, 120 x 90 bands) in it, to import with
/// `--email george@example.com=george.png`.
fn folder_with_george() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    test_support::images::bands(120, 90)
        .save(dir.path().join("george.png"))
        .unwrap();
    dir
}

/// A copy of `avatars` that `nobody` may run (the checkout may be in a folder only root may
/// enter, as CI's clone in `mktemp -d` is), in a folder removed when the first is dropped.
fn avatars_nobody_can_run() -> (tempfile::TempDir, std::path::PathBuf) {
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        bin.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let avatars = bin.path().join("avatars");
    std::fs::copy(AVATARS, &avatars).unwrap();
    (bin, avatars)
}

/// `avatars config check FILE` in `dir` as the user nobody, with `avatars` a copy of the binary
/// nobody can run ([`avatars_nobody_can_run`]): the check as a server's user runs it.
fn config_check_as_nobody(avatars: &Path, dir: &Path, file: &str) -> Output {
    as_nobody(
        avatars,
        dir,
        &["config", "check", file],
        std::process::Stdio::null(),
    )
}

/// `avatars ARGS` in `dir` as the user nobody (`runuser`), reading `stdin`, with `avatars` a
/// copy of the binary nobody can run ([`avatars_nobody_can_run`]).
fn as_nobody(avatars: &Path, dir: &Path, args: &[&str], stdin: std::process::Stdio) -> Output {
    std::process::Command::new("runuser")
        .current_dir(dir)
        .args(["-u", "nobody", "--"])
        .arg(avatars)
        .args(args)
        .stdin(stdin)
        .output()
        .unwrap()
}

/// The conformance suite's `groups` against `targets`, which must fail no case (the summary
/// is the message); the report, for more checks.
async fn suite_passes(
    targets: &mut avatar_conformance::Targets,
    groups: &[avatar_conformance::Group],
) -> avatar_conformance::Report {
    use avatar_conformance::{Progress, all_cases, report::summary, run};
    let report = run(&all_cases(), targets, groups, Progress::Quiet)
        .await
        .unwrap();
    assert_eq!(report.counts().1, 0, "{}", summary(&report));
    report
}

/// `avatars config check settings.toml` in `dir`, the file holding `settings`.
fn check_settings(dir: &Path, settings: &str) -> Output {
    std::fs::write(dir.join("settings.toml"), settings).unwrap();
    avatars_in(dir, &["config", "check", "settings.toml"])
}

/// `METHOD path` on the admin listener with `headers` (each ending in CRLF) and `body`.
fn admin_request(
    server: &Server,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> test_support::raw_http::RawResponse {
    let addr = server.admin_addr.as_deref().unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    test_support::raw_http::request(addr, &request)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 output")
}
