//! The systemd units of `deploy/`, judged by systemd's own tools: `systemd-analyze verify` reads
//! them as systemd would (every key known, every value parsed, the commands there), and
//! `systemd-analyze security` scores their sandboxing. systemd cannot run them here (it is not
//! this machine's init), so the one part of the sandbox that could stop a working server is
//! checked apart: `avatars serve` through every kind of request, and `avatars xmpp` through
//! the conformance suite's XMPP cases, run under strace, make no system call the units'
//! `SystemCallFilter` leaves out. The units' commands are run by the
//! other tests (`xmpp_servers`, and `serve`'s settings file by `serve`).

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::AVATARS;

/// The units, by file name.
const UNITS: [&str; 2] = ["avatars.service", "avatars-xmpp.service"];

/// The highest exposure `systemd-analyze security` may give a unit (0 to 10; 1.6 and 1.5 now,
/// against 3.9 and 3.7 before the sandbox went beyond the file system).
const MOST_EXPOSURE: f64 = 2.0;

/// A root for `systemd-analyze --root`: systemd's own units, the commands the units run
/// (this build's `avatars` as `/usr/local/bin/avatars`, `/bin/kill`) and the units.
fn root_with_units(root: &Path) {
    let copy = |from: &Path, to: &str| {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let status = Command::new("cp")
            .arg("-r")
            .arg(from)
            .arg(&to)
            .status()
            .unwrap();
        assert!(status.success(), "cp {} {}", from.display(), to.display());
    };
    copy(
        Path::new("/usr/lib/systemd/system"),
        "usr/lib/systemd/system",
    );
    copy(Path::new("/bin/kill"), "bin/kill");
    copy(Path::new(AVATARS), "usr/local/bin/avatars");
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for unit in UNITS {
        copy(&deploy.join(unit), &format!("etc/systemd/system/{unit}"));
    }
}

/// Whether `program` runs here; if not, says which test is skipped (scripts/ensure-unit-tools.sh
/// installs both, and `cargo xtask ci` runs it).
fn installed(program: &str, test: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok();
    if !found {
        eprintln!(
            "\n*** SKIPPED {test}: {program} is not installed (scripts/ensure-unit-tools.sh). ***\n"
        );
    }
    found
}

#[test]
fn the_units_verify_and_their_sandbox_scores_low() {
    if !installed(
        "systemd-analyze",
        "the_units_verify_and_their_sandbox_scores_low",
    ) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    root_with_units(root.path());
    let analyze = |args: &[&str]| {
        let output = Command::new("systemd-analyze")
            .args(args)
            .arg(format!("--root={}", root.path().display()))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), said)
    };
    for unit in UNITS {
        // Unknown keys and values that do not parse are warnings, with the status still 0.
        let (ok, said) = analyze(&["verify", "--man=no", unit]);
        assert!(ok && said.trim().is_empty(), "{unit}:\n{said}");

        let (ok, said) = analyze(&["security", "--offline=yes", unit]);
        assert!(ok, "{unit}:\n{said}");
        let exposure: f64 = said
            .lines()
            .find_map(|line| line.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|level| level.parse().ok())
            .unwrap_or_else(|| panic!("{unit}: no exposure level in\n{said}"));
        assert!(
            exposure <= MOST_EXPOSURE,
            "{unit}: exposure {exposure}, above {MOST_EXPOSURE}:\n{said}"
        );
    }
}

/// The system calls of a `SystemCallFilter` set such as `@system-service`, its nested sets
/// expanded, as this machine's systemd defines them.
fn syscalls_of(set: &str, into: &mut BTreeSet<String>) {
    let output = Command::new("systemd-analyze")
        .args(["syscall-filter", set])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "systemd-analyze syscall-filter {set}"
    );
    let listing = String::from_utf8_lossy(&output.stdout).into_owned();
    // The first line names the set; comments start with #.
    for item in listing.lines().skip(1).map(str::trim) {
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if item.starts_with('@') {
            syscalls_of(item, into);
        } else {
            into.insert(item.to_owned());
        }
    }
}

/// The system calls strace wrote down in `trace` (`strace -f -o`: `PID name(...`).
fn traced_syscalls(trace: &str) -> BTreeSet<String> {
    trace
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_, call)| call.trim_start()))
        .filter_map(|call| {
            let call = call.strip_prefix("<... ").unwrap_or(call);
            let name: String = call
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
        })
        .collect()
}

/// `avatars serve` under strace, through hits at several sizes and formats, a drawn default,
/// an upload and a removal through the management API, the metrics, and a graceful stop that
/// saves the render cache: every system call it makes is in the units' `SystemCallFilter`.
#[test]
fn serve_makes_only_system_calls_the_units_allow() {
    let test = "serve_makes_only_system_calls_the_units_allow";
    if !installed("systemd-analyze", test) || !installed("strace", test) {
        return;
    }
    let allowed = allowed_by_units();
    let dir = crate::folder_with_george();
    std::fs::write(dir.path().join("tokens"), format!("{}\n", "t".repeat(32))).unwrap();
    let mut server = Traced::spawn(
        dir.path(),
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            "tokens",
            "--render-cache-file",
            "cache.bin",
            "--email",
            "george@example.com=george.png",
        ],
        Stdio::piped(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let mut next_addr = |prefix: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix}, got {line}"))
            .to_owned()
    };
    let public = next_addr("listening on http://");
    let admin = next_addr("admin on http://");
    every_kind_of_request(
        &public,
        &admin,
        &std::fs::read(dir.path().join("george.png")).unwrap(),
    );
    let made = server.stop();
    assert!(
        dir.path().join("cache.bin").exists(),
        "the render cache was saved"
    );
    assert!(
        made.contains("accept4") && made.contains("rename"),
        "{made:?}"
    );
    let refused: Vec<&String> = made.difference(&allowed).collect();
    assert!(
        refused.is_empty(),
        "avatars serve made system calls @system-service leaves out (EPERM under the units): {refused:?}"
    );
}

/// The system calls the units allow: their `SystemCallFilter` set, the same in both.
fn allowed_by_units() -> BTreeSet<String> {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for unit in UNITS {
        let text = std::fs::read_to_string(deploy.join(unit)).unwrap();
        let filter = text
            .lines()
            .find_map(|line| line.strip_prefix("SystemCallFilter="))
            .unwrap_or_else(|| panic!("{unit} has a SystemCallFilter"));
        assert_eq!(
            filter, "@system-service",
            "{unit}: the set this test checks"
        );
    }
    let mut allowed = BTreeSet::new();
    syscalls_of("@system-service", &mut allowed);
    assert!(
        allowed.contains("read") && allowed.contains("epoll_wait"),
        "{allowed:?}"
    );
    allowed
}

/// `avatars xmpp` under strace, the conformance suite playing its XMPP server through every
/// XMPP case (retrievals, uploads, presence, subscriptions, mirroring), then a graceful stop:
/// every system call it makes is in the units' `SystemCallFilter`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xmpp_component_makes_only_system_calls_the_units_allow() {
    use avatar_conformance::{Group, Targets, XmppTarget};
    let test = "the_xmpp_component_makes_only_system_calls_the_units_allow";
    if !installed("systemd-analyze", test) || !installed("strace", test) {
        return;
    }
    let allowed = allowed_by_units();
    let dir = tempfile::tempdir().unwrap();
    // The suite's fixtures in the store, as `cargo xtask conformance` loads them.
    avatar_conformance::fixtures::write_fixtures(&dir.path().join("fixtures")).unwrap();
    let manifest = dir.path().join("fixtures/manifest.json");
    let manifest = manifest.display().to_string();
    let imported = crate::avatars_in(
        dir.path(),
        &["import", "--data-dir", "data", "--manifest", &manifest],
    );
    assert!(imported.status.success(), "{}", crate::stderr(&imported));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let mut component = Traced::spawn(
        dir.path(),
        &[
            "xmpp",
            "--server",
            &server,
            "--domain",
            "avatars.conformance.test",
            "--secret",
            "conformance-secret",
            "--data-dir",
            "data",
            "--identity-domain",
            "example.net",
            "--mirror-subscribers",
        ],
        Stdio::null(),
    );
    let target = XmppTarget::component(
        &listener,
        "conformance-secret",
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    let mut targets = Targets {
        xmpp: Some(target),
        ..Targets::default()
    };
    let groups = [Group::Xep0008, Group::Xep0153, Group::Xep0084];
    crate::suite_passes(&mut targets, &groups).await;
    let made = component.stop();
    assert!(made.contains("connect"), "{made:?}");
    let refused: Vec<&String> = made.difference(&allowed).collect();
    assert!(
        refused.is_empty(),
        "avatars xmpp made system calls @system-service leaves out (EPERM under the units): {refused:?}"
    );
}

/// A program run under `strace -f -o TRACE`: strace, and the file it writes. Dropped, it
/// kills the program too (strace's own death would only detach it and leave it running).
struct Traced(std::process::Child, PathBuf);

impl Traced {
    /// `avatars ARGS` in `dir` under strace, which writes to `dir/trace`; its stdout to
    /// `stdout`, stderr dropped.
    fn spawn(dir: &Path, args: &[&str], stdout: Stdio) -> Self {
        let trace = dir.join("trace");
        let strace = Command::new("strace")
            .current_dir(dir)
            .args(["-f", "-qq", "-o"])
            .arg(&trace)
            .arg(AVATARS)
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(strace, trace)
    }

    /// The program's process id: the first one strace wrote down.
    fn traced_pid(&self) -> Option<String> {
        let trace = std::fs::read_to_string(&self.1).ok()?;
        Some(trace.split_whitespace().next()?.to_owned())
    }

    /// Sends SIGTERM to the program, waits for strace to end with it, and returns the system
    /// calls traced.
    fn stop(&mut self) -> BTreeSet<String> {
        let pid = self.traced_pid().expect("strace wrote down the program");
        let signalled = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(signalled.success());
        assert!(self.0.wait().unwrap().success(), "stopped gracefully");
        traced_syscalls(&std::fs::read_to_string(&self.1).unwrap())
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            if let Some(pid) = self.traced_pid() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Hits at several sizes and as WebP, a drawn default, an upload and a removal through the
/// management API (the token is 32 `t`s), and the metrics.
fn every_kind_of_request(public: &str, admin: &str, picture: &[u8]) {
    let george = test_support::suite::md5("george@example.com");
    for size in [40, 80, 128, 300] {
        let hit = test_support::raw_http::get(public, &format!("/avatar/{george}?s={size}"));
        assert_eq!(hit.status, 200);
    }
    let webp = test_support::raw_http::request(
        public,
        format!("GET /avatar/{george}?s=64 HTTP/1.1\r\nHost: x\r\nAccept: image/webp\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(webp.status, 200);
    let drawn = test_support::raw_http::get(
        public,
        &format!("/avatar/{}?d=identicon&s=90", "0".repeat(32)),
    );
    assert_eq!(drawn.status, 200);
    let bearer = format!("Authorization: Bearer {}\r\n", "t".repeat(32));
    let put = |method: &str, body: &[u8]| {
        let mut request = format!(
            "{method} /v1/avatars/bob@example.org HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{bearer}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        test_support::raw_http::request(admin, &request).status
    };
    assert_eq!(put("PUT", picture), 201);
    assert_eq!(put("DELETE", b""), 204);
    assert_eq!(test_support::raw_http::get(admin, "/metrics").status, 200);
}
