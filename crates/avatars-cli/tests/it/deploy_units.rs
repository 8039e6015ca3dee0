//! The systemd units of `deploy/`, judged by systemd's own tools: `systemd-analyze verify` reads
//! them as systemd would (every key known, every value parsed, the commands there), and
//! `systemd-analyze security` scores their sandboxing. `avatars serve` through every kind of
//! request, and `avatars xmpp` through the conformance suite's XMPP cases, run under strace,
//! make no system call the units' `SystemCallFilter` leaves out. Then the units themselves
//! run under a real systemd (this machine's, booted in namespaces of its own by
//! `test_support::systemd`), installed by the steps their comments give, run as written: their
//! whole sandbox as systemd applies it, `Type=notify`, reloads, the journal, a stop.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use test_support::systemd::Systemd;
use test_support::xmpp::ServerKind;

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
    let webp = test_support::raw_http::get_accepting(
        public,
        &format!("/avatar/{george}?s=64"),
        "image/webp",
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

/// A step of a unit's install instructions (the lines `#   ...` of its opening comment).
enum Step {
    /// A command, to run as written (`target/release/avatars` made this build's binary).
    Command(String),
    /// A line in parentheses, which says what to do by hand.
    ByHand(String),
}

/// The install steps of `deploy/UNIT`, in order; a trailing `(edit it)` is left out.
fn install_steps(unit: &str) -> Vec<Step> {
    let text = std::fs::read_to_string(repository().join("deploy").join(unit)).unwrap();
    let steps: Vec<Step> = text
        .lines()
        .skip_while(|line| !line.starts_with("#   "))
        .take_while(|line| line.starts_with("#   "))
        .map(|line| line.trim_start_matches("#   "))
        .map(|step| match step.strip_prefix('(') {
            Some(by_hand) => Step::ByHand(by_hand.trim_end_matches(')').to_owned()),
            None => Step::Command(
                step.trim_end_matches("(edit it)")
                    .trim_end()
                    .replace("target/release/avatars", AVATARS),
            ),
        })
        .collect();
    assert!(steps.len() > 3, "{unit}: no install steps in its comment");
    steps
}

/// The repository's root, where the install steps run (`deploy/serve.toml`).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `unit`'s install steps in `machine` from the repository's root, each step by hand
/// through `by_hand`, which returns the commands that do it.
fn install(machine: &Systemd, unit: &str, by_hand: impl Fn(&str) -> String) {
    for step in install_steps(unit) {
        let script = match step {
            Step::Command(command) => command,
            Step::ByHand(what) => by_hand(&what),
        };
        let done = machine.run(&format!("cd {}\n{script}", repository().display()));
        assert!(
            done.status.success(),
            "{unit}'s install step failed: {script}\n{}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr),
        );
    }
}

/// certbot for `certbot certonly --standalone -d DOMAIN --deploy-hook HOOK`, without Let's
/// Encrypt (no ACME server can be reached here): a new self-signed certificate each run, laid
/// out as certbot lays them out (`live/` and the key for root alone), then the hook run as
/// certbot runs it. A second run is a renewal.
const CERTBOT_STAND_IN: &str = r#"#!/bin/sh
set -eu
domain= hook=
while [ $# -gt 0 ]; do
    case $1 in -d) domain=$2; shift;; --deploy-hook) hook=$2; shift;; esac
    shift
done
live=/etc/letsencrypt/live/$domain
install -d -m 0700 /etc/letsencrypt/live "$live"
(umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
    -keyout "$live/privkey.pem" -out "$live/fullchain.pem" -subj "/CN=$domain" \
    -addext "subjectAltName=DNS:$domain" 2>/dev/null)
RENEWED_LINEAGE=$live "$hook"
"#;

/// A private systemd with `avatars serve` deployed in it by `deploy/avatars.service`'s steps
/// (certbot's played by [`CERTBOT_STAND_IN`]), or `None` where none can boot (said).
fn deployed_server(test: &str) -> Option<(Systemd, tempfile::TempDir)> {
    let machine = match Systemd::boot() {
        Ok(machine) => machine,
        Err(why) => {
            eprintln!("\n*** SKIPPED {test}: {why} ***\n");
            return None;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let certbot = dir.path().join("certbot");
    std::fs::write(&certbot, CERTBOT_STAND_IN).unwrap();
    machine.exec(&format!(
        "install -m 0755 {} /usr/local/bin/certbot",
        certbot.display()
    ));
    install(&machine, "avatars.service", |step| {
        panic!("avatars.service has a step by hand, ({step}), which this test does not know")
    });
    Some((machine, dir))
}

/// [`deployed_server`] where `needed` exists; `None` (said, naming `what` it is) where not.
fn deployed_server_needing(
    test: &str,
    needed: &str,
    what: &str,
) -> Option<(Systemd, tempfile::TempDir)> {
    if !Path::new(needed).exists() {
        eprintln!("\n*** SKIPPED {test}: no {what} ***\n");
        return None;
    }
    deployed_server(test)
}

/// Imports a picture for alice@example.org into the deployed server's folder, as the server's
/// user from root's shell; the MD5 of her address.
fn import_alice(machine: &Systemd) -> String {
    let picture = repository().join("docs/initials.png");
    machine.exec(&format!(
        "runuser -u avatars -- avatars import --data-dir /var/lib/avatars/data \
             alice@example.org - < {}",
        picture.display()
    ));
    let hashes = crate::stdout(&crate::avatars(&["hash", "alice@example.org"]));
    hashes.split_whitespace().nth(1).unwrap().to_owned()
}

/// `systemctl show --value -p PROPERTY UNIT`.
fn show(machine: &Systemd, unit: &str, property: &str) -> String {
    machine
        .sh(&format!("systemctl show --value -p {property} {unit}"))
        .trim()
        .to_owned()
}

/// Waits up to `seconds` for `check` (a reload, say, is answered just after `systemctl
/// reload` returns: systemd 252's `ExecReload` does not wait for it).
fn eventually(seconds: u64, what: &str, check: impl Fn() -> bool) {
    eventually_showing(seconds, what, check, String::new);
}

/// [`eventually`], saying what `state` says if `check` never holds.
fn eventually_showing(
    seconds: u64,
    what: &str,
    check: impl Fn() -> bool,
    state: impl Fn() -> String,
) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(seconds),
            "not within {seconds} s: {what}\n{}",
            state()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `deploy/avatars.service`'s install steps, run as its comment writes them under a real
/// systemd (this machine's, booted in namespaces of its own): the unit's sandbox as systemd
/// applies it, `Type=notify`, `systemctl reload` through certbot's renewal hook and for a
/// rotated token, the JSON log in the journal, and a stop that saves the render cache.
#[test]
fn the_deploy_steps_run_the_server_under_systemd_as_written() {
    let Some((machine, _dir)) =
        deployed_server("the_deploy_steps_run_the_server_under_systemd_as_written")
    else {
        return;
    };
    let journal = || machine.journal("avatars");
    let show = |property: &str| show(&machine, "avatars", property);
    // Type=notify: `systemctl enable --now` returned once it listened, so it answers at once.
    assert_eq!(show("ActiveState"), "active", "{}", journal());
    assert!(
        show("StatusText").starts_with("serving 0 avatar(s) from /var/lib/avatars/data"),
        "{}",
        show("StatusText")
    );
    let admin = |method: &str, token: &str, extra: &str| {
        machine.sh(&format!(
            "curl -sS -o /dev/null -w '%{{http_code}}' -X {method} \
             -H 'Authorization: Bearer {token}' {extra} \
             http://127.0.0.1:9090/v1/avatars/alice@example.org"
        ))
    };
    let token = machine
        .sh("cat /etc/avatars/admin-tokens")
        .trim()
        .to_owned();
    let picture = repository().join("docs/initials.png");
    let upload = format!(
        "-H 'Content-Type: image/png' --data-binary @{}",
        picture.display()
    );
    assert_eq!(admin("PUT", &token, &upload), "201", "{}", journal());
    let hashes = crate::stdout(&crate::avatars(&["hash", "alice@example.org"]));
    let md5 = hashes.split_whitespace().nth(1).unwrap();
    assert_eq!(
        https(&machine, &format!("/avatar/{md5}?s=64")),
        "200 image/png"
    );
    // serve.toml's HSTS, on HTTPS answers.
    let hsts = machine.sh("curl -sS --resolve avatars.example.org:443:127.0.0.1 \
         --cacert /etc/letsencrypt/live/avatars.example.org/fullchain.pem \
         -o /dev/null -w '%header{strict-transport-security}' https://avatars.example.org/");
    assert_eq!(hsts, "max-age=31536000");

    imported_at_root_s_shell_as_the_server_says(&machine, &picture);

    a_renewal_is_served_without_a_restart(&machine);

    // A token rotated as the unit's comment says: edit the file, reload.
    machine.exec("openssl rand -hex 32 > /etc/avatars/admin-tokens && systemctl reload avatars");
    let rotated = machine
        .sh("cat /etc/avatars/admin-tokens")
        .trim()
        .to_owned();
    eventually(10, "the rotated token accepted", || {
        admin("GET", &rotated, "") == "200"
    });
    assert_eq!(admin("GET", &token, ""), "403");

    machine.exec("systemctl stop avatars");
    assert_eq!(show("Result"), "success", "{}", journal());
    // Its files: the user's, its group's to read (UMask=0027), no one else's.
    let files = machine.sh(
        "find /var/lib/avatars/data /var/lib/avatars/renditions.cache -printf '%u:%g %m %p\\n'",
    );
    assert!(
        files.contains("/var/lib/avatars/renditions.cache"),
        "{files}"
    );
    for file in files.lines() {
        let mut fields = file.split(' ');
        assert_eq!(fields.next(), Some("avatars:avatars"), "{file}");
        assert!(
            fields.next().is_some_and(|mode| mode.ends_with('0')),
            "{file}"
        );
    }
    // Everything the server wrote to the journal, its stdout too, is JSON (log-format = json).
    let said = machine.sh("journalctl --no-pager -o cat _SYSTEMD_UNIT=avatars.service");
    assert!(said.contains("\"shut down\""), "{said}");
    for line in said.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON in the journal: {line}"
        );
    }

    // A settings file that does not parse: `systemctl start` fails, and the journal says why.
    machine.exec("sed -i 's/^rate-limit = 50/rate-limit = fifty/' /etc/avatars/serve.toml");
    let refused = machine.run("systemctl start avatars");
    assert!(!refused.status.success(), "systemctl start succeeded");
    assert!(
        journal().contains("not valid TOML at line"),
        "{}",
        journal()
    );
}

/// The status and content type of `https://avatars.example.org{path}` from inside `machine`,
/// checked against the certificate certbot's stand-in issued.
fn https(machine: &Systemd, path: &str) -> String {
    machine.sh(&format!(
        "curl -sS --resolve avatars.example.org:443:127.0.0.1 \
         --cacert /etc/letsencrypt/live/avatars.example.org/fullchain.pem \
         -o /dev/null -w '%{{http_code}} %{{content_type}}' 'https://avatars.example.org{path}'"
    ))
}

/// What the server's start message offers, `avatars import --data-dir ...`, typed at root's
/// shell: refused, saying how to run it; run so, with the picture on standard input (the
/// avatars user may not read the checkout), the running server serves it.
fn imported_at_root_s_shell_as_the_server_says(machine: &Systemd, picture: &Path) {
    let import = format!(
        "avatars import --data-dir /var/lib/avatars/data bob@example.org - < {}",
        picture.display()
    );
    let refused = machine.run(&import);
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("runuser -u"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    machine.exec(&format!("runuser -u avatars -- {import}"));
    let hashes = crate::stdout(&crate::avatars(&["hash", "bob@example.org"]));
    let bob = hashes.split_whitespace().nth(1).unwrap().to_owned();
    eventually(5, "the imported avatar served", || {
        https(machine, &format!("/avatar/{bob}?d=404")) == "200 image/png"
    });
}

/// A renewal: certbot runs the hook again, whose `systemctl reload` has the running server
/// serve the new certificate, in the same process.
fn a_renewal_is_served_without_a_restart(machine: &Systemd) {
    let served = || {
        machine.sh(
            "echo | openssl s_client -connect 127.0.0.1:443 -servername avatars.example.org \
             2>/dev/null | openssl x509 -noout -fingerprint -sha256",
        )
    };
    let before = (served(), show(machine, "avatars", "MainPID"));
    machine.exec(
        "certbot certonly --standalone -d avatars.example.org \
         --deploy-hook /usr/local/lib/avatars/certbot-deploy-hook",
    );
    let issued = machine.sh("openssl x509 -noout -fingerprint -sha256 \
         -in /etc/letsencrypt/live/avatars.example.org/fullchain.pem");
    assert_ne!(before.0, issued);
    eventually(10, "the renewed certificate served", || served() == issued);
    assert_eq!(
        show(machine, "avatars", "MainPID"),
        before.1,
        "reloaded, not restarted"
    );
}

/// `deploy/avatars-xmpp.service`'s install steps beside the server's, with Debian's Prosody
/// set up by `deploy/prosody-avatars.cfg.lua` as its comment says, all under a real systemd:
/// the component joins from inside its sandbox, `systemctl status` says so, and it reloads
/// and stops as the unit says.
#[test]
fn the_xmpp_deploy_steps_join_debian_s_prosody_under_systemd() {
    component_joins_under_systemd(
        "the_xmpp_deploy_steps_join_debian_s_prosody_under_systemd",
        ServerKind::Prosody,
        // A running Prosody (masked by the private boot, as everything the host starts is),
        // then what the file's comment says: the file in conf.d with the secret, and
        // `systemctl restart prosody` (a reload leaves the component port closed).
        "systemctl unmask prosody\n\
         systemctl start prosody\n\
         sed \"s/the secret in \\/etc\\/avatars\\/xmpp-secret/$(cat /etc/avatars/xmpp-secret)/\" \
             deploy/prosody-avatars.cfg.lua > /etc/prosody/conf.d/avatars.cfg.lua\n\
         systemctl restart prosody",
        // Prosody reads a changed component_secret on a reload.
        "systemctl reload prosody",
    );
}

/// The same with Debian's ejabberd, set up by `deploy/ejabberd-avatars.yml` as its comment
/// says: the item added to the `listen:` list of `/etc/ejabberd/ejabberd.yml`.
#[test]
fn the_xmpp_deploy_steps_join_debian_s_ejabberd_under_systemd() {
    component_joins_under_systemd(
        "the_xmpp_deploy_steps_join_debian_s_ejabberd_under_systemd",
        ServerKind::Ejabberd,
        // A running ejabberd, then what the file's comment says: its item (the lines that are
        // not comments) added to `listen:` with the secret, and `ejabberdctl reload_config`.
        "systemctl unmask epmd.socket epmd ejabberd\n\
         systemctl start ejabberd\n\
         grep -v '^#' deploy/ejabberd-avatars.yml \
             | sed \"s/the secret in \\/etc\\/avatars\\/xmpp-secret/$(cat /etc/avatars/xmpp-secret)/\" \
             > /run/avatars-listen-item.yml\n\
         sed -i '/^listen:/r /run/avatars-listen-item.yml' /etc/ejabberd/ejabberd.yml\n\
         rm /run/avatars-listen-item.yml\n\
         ejabberdctl reload_config",
        // ejabberd 23.01's reload_config restarts the listener whose password changed, and
        // cannot bind it again while a connection to it is open or closing ("address already
        // in use", the port then closed until a restart): a restart it is.
        "systemctl restart ejabberd",
    );
}

/// The component's unit installed as its comment says, beside the server's, with `server`
/// given the same secret by `set_up_server` (the step the comment leaves to the operator):
/// it joins, `systemctl status` says so, and it stops cleanly. Then the secret rotated as
/// the README says: changed in the secret file and the XMPP server's configuration,
/// `systemctl reload avatars-xmpp` (the open connection goes on), then `server_rereads` has
/// the XMPP server take it; the component's next connection joins with it.
fn component_joins_under_systemd(
    test: &str,
    server: ServerKind,
    set_up_server: &str,
    server_rereads: &str,
) {
    if !server.installed() {
        eprintln!(
            "\n*** SKIPPED {test}: {server:?} is not installed (scripts/ensure-xmpp-peers.sh) ***\n"
        );
        return;
    }
    let Some((machine, _dir)) = deployed_server(test) else {
        return;
    };
    install(&machine, "avatars-xmpp.service", |step| {
        if step.starts_with("the avatars user") {
            // Made by avatars.service's steps, above.
            String::new()
        } else if step.starts_with("the same secret in the XMPP server's configuration") {
            set_up_server.to_owned()
        } else if step.starts_with("edit the domains") {
            // Its avatars.example.org and example.org are the test's.
            String::new()
        } else {
            panic!("avatars-xmpp.service has a step by hand this test does not know: ({step})")
        }
    });
    let journal = || machine.journal("avatars-xmpp");
    let show = |property: &str| show(&machine, "avatars-xmpp", property);
    assert_eq!(show("ActiveState"), "active", "{}", journal());
    let joined = "component avatars.example.org joined to 127.0.0.1:5347";
    let status = || format!("{}\n{}", show("StatusText"), journal());
    eventually_showing(30, "joined", || show("StatusText") == joined, status);
    let pid = show("MainPID");
    machine.exec(
        "old=$(cat /etc/avatars/xmpp-secret)\n\
         openssl rand -hex 32 > /etc/avatars/xmpp-secret\n\
         grep -rl \"$old\" /etc/prosody /etc/ejabberd 2>/dev/null \
             | xargs sed -i \"s/$old/$(cat /etc/avatars/xmpp-secret)/\"\n\
         systemctl reload avatars-xmpp",
    );
    eventually(10, "the secret file read again", || {
        journal().contains("reloaded the component secret from /etc/avatars/xmpp-secret")
    });
    assert_eq!(show("MainPID"), pid, "reloaded, not restarted");
    assert_eq!(show("StatusText"), joined, "the open connection goes on");
    // The XMPP server takes the new secret as the README says, and the component's next
    // connection proves it.
    machine.exec(server_rereads);
    machine.exec("systemctl restart avatars-xmpp");
    let joined_again = || show("StatusText") == joined;
    eventually_showing(30, "joined with the new secret", joined_again, status);
    machine.exec("systemctl stop avatars-xmpp");
    assert_eq!(show("Result"), "success", "{}", journal());
}

/// The server on a database, as a site with several servers runs it: Debian's PostgreSQL
/// on the same machine, reached over its socket as the `avatars` role (peer authentication,
/// no password), from inside the unit's sandbox. The database down when the server starts
/// (a boot where it comes up later, a database machine restarting): the unit keeps trying,
/// past systemd's default start limit, and serves once the database is back, with no one
/// there to `systemctl reset-failed` it.
#[test]
fn the_server_unit_waits_out_a_database_that_comes_up_after_it() {
    let Some((machine, _dir)) = deployed_server_needing(
        "the_server_unit_waits_out_a_database_that_comes_up_after_it",
        "/etc/postgresql/15/main/postgresql.conf",
        "Debian PostgreSQL 15 cluster (scripts/ensure-postgres.sh)",
    ) else {
        return;
    };
    let journal = || machine.journal("avatars");
    let show = |property: &str| show(&machine, "avatars", property);
    // The host's units are masked in the private boot; its cluster is its own copy (/var).
    // The settings file's own example line, uncommented in place of data-dir.
    machine.exec(
        "systemctl unmask postgresql\n\
         systemctl start postgresql@15-main\n\
         runuser -u postgres -- createuser avatars\n\
         runuser -u postgres -- createdb -O avatars avatars\n\
         sed -i -e '/^data-dir = /d' \
             -e 's|^# store = \"postgres:///avatars?host=/run/postgresql\"$|store = \"postgres:///avatars?host=/run/postgresql\"|' \
             /etc/avatars/serve.toml\n\
         grep -q '^store = ' /etc/avatars/serve.toml\n\
         systemctl restart avatars",
    );
    assert!(
        show("StatusText").starts_with("serving 0 avatar(s) from "),
        "{}",
        journal()
    );

    // Restarts 200 ms apart rather than the unit's 2 s: more than five within 10 s, systemd's
    // default start limit, which would leave the unit failed but for its
    // `StartLimitIntervalSec=0`; and the test waits 2 s for them, not 12.
    machine.exec(
        "mkdir -p /etc/systemd/system/avatars.service.d\n\
         printf '[Service]\\nRestartSec=200ms\\n' > /etc/systemd/system/avatars.service.d/soon.conf\n\
         systemctl daemon-reload\n\
         systemctl stop avatars postgresql@15-main",
    );
    let refused = machine.run("systemctl start avatars");
    assert!(!refused.status.success(), "started without its database");
    eventually(
        30,
        "more restarts than systemd's default start limit",
        || show("NRestarts").parse::<u32>().unwrap_or(0) > 5,
    );
    machine.exec("systemctl start postgresql@15-main");
    eventually(30, "serving again once the database is back", || {
        show("ActiveState") == "active"
    });
    assert!(
        show("StatusText").starts_with("serving 0 avatar(s) from "),
        "{}",
        journal()
    );
}

/// The avatar proxy switched on as `deploy/serve.toml` says (a key for the server's user, the
/// cache in `/var/cache/avatars`), the unit restarted: from inside its sandbox the server
/// fetches a picture from another avatar server (a second `avatars serve` standing in for the
/// central one, as no DNS or internet is reachable here), serves it, and writes it to the
/// cache, which the unit lets it write.
#[test]
fn the_proxy_as_the_settings_file_says_fetches_and_caches_under_the_unit() {
    let Some((machine, _dir)) =
        deployed_server("the_proxy_as_the_settings_file_says_fetches_and_caches_under_the_unit")
    else {
        return;
    };
    let journal = || machine.journal("avatars");
    let picture = repository().join("docs/initials.png");
    machine.exec(&format!(
        "systemd-run --unit=elsewhere --property=Type=exec /usr/local/bin/avatars serve \
             --addr 127.0.0.2:8081 --data-dir /run/elsewhere \
             --email carol@elsewhere.example={}\n\
         until curl -s -o /dev/null http://127.0.0.2:8081/; do sleep 0.1; done",
        picture.display()
    ));
    // The settings file's own proxy lines, uncommented, its steps run; then what points this
    // test's proxy at the stand-in.
    machine.exec(
        "avatars proxy-key /etc/avatars/proxy.key\n\
         chown root:avatars /etc/avatars/proxy.key; chmod 0640 /etc/avatars/proxy.key\n\
         sed -i -e 's|^# proxy-key-file = |proxy-key-file = |' \
             -e 's|^# proxy-cache-dir = |proxy-cache-dir = |' /etc/avatars/serve.toml\n\
         grep -q '^proxy-cache-dir = \"/var/cache/avatars/proxy\"' /etc/avatars/serve.toml\n\
         printf '%s\\n' 'proxy-central = \"http://127.0.0.2:8081/avatar/\"' \
             'proxy-allow-net = [\"127.0.0.0/8\"]' 'nameserver = [\"127.0.0.1:53\"]' \
             >> /etc/avatars/serve.toml\n\
         systemctl restart avatars",
    );
    let url = machine.sh(
        "avatars proxy-url --proxy-key-file /etc/avatars/proxy.key --size 64 --default 404 \
             carol@elsewhere.example",
    );
    let (_, token) = url
        .trim()
        .split_once("/proxy/")
        .unwrap_or_else(|| panic!("not a proxy URL: {url}"));
    let path = format!("/proxy/{token}");
    // `d=404`: a picture only if it was fetched.
    assert_eq!(
        https(&machine, &path),
        "200 image/png",
        "{}\n{}",
        journal(),
        machine.journal("elsewhere")
    );
    // Written just after the answer.
    let cached = || machine.sh("find /var/cache/avatars -type f -printf '%u %m %p\\n'");
    let written = || {
        cached()
            .lines()
            .any(|file| file.starts_with("avatars 640 /var/cache/avatars/proxy/"))
    };
    eventually_showing(10, "cached", written, || {
        format!("{}\n{}", cached(), journal())
    });
}

/// `systemctl enable --now`, as the steps say, survives a restart of the machine: after a
/// reboot into `multi-user.target` the server is started by systemd itself, serves what it
/// stored, and answers from the render cache it saved at the shutdown.
#[test]
fn the_enabled_server_comes_back_after_a_reboot() {
    let Some((machine, _dir)) = deployed_server("the_enabled_server_comes_back_after_a_reboot")
    else {
        return;
    };
    let alice = format!("/avatar/{}?s=64&d=404", import_alice(&machine));
    eventually(5, "the imported avatar served", || {
        https(&machine, &alice) == "200 image/png"
    });

    let machine = machine.reboot();
    let journal = machine.journal("avatars");
    // Nothing of the host's was started with it: the journal and the server alone run.
    let running = machine.sh(
        "systemctl list-units --type=service --state=running --no-legend --plain | cut -d' ' -f1",
    );
    assert_eq!(
        running.split_whitespace().collect::<Vec<_>>(),
        ["avatars.service", "systemd-journald.service"],
        "{running}"
    );
    assert_eq!(
        show(&machine, "avatars", "ActiveState"),
        "active",
        "{journal}"
    );
    assert!(
        show(&machine, "avatars", "StatusText").starts_with("serving 1 avatar(s)"),
        "{journal}"
    );
    assert_eq!(https(&machine, &alice), "200 image/png");
    assert!(
        journal.contains("render cache: 1 rendition(s) from /var/lib/avatars/renditions.cache"),
        "{journal}"
    );
}

/// `deploy/Caddyfile`'s steps after the server's: Debian's Caddy in front of it under the same
/// systemd, as its comment writes them. Caddy's HTTPS (its own authority's certificate for
/// `localhost`, which stands in for the host name: no ACME server can be reached here), its
/// redirect from port 80, HTTP/2, pictures through untouched (not compressed, their `ETag`,
/// a 304), the page compressed, and each client's own address in the server's log.
#[test]
fn behind_debian_s_caddy_as_the_caddyfile_says() {
    let Some((machine, _dir)) = deployed_server_needing(
        "behind_debian_s_caddy_as_the_caddyfile_says",
        "/usr/bin/caddy",
        "Debian's caddy (scripts/ensure-bench-tools.sh)",
    ) else {
        return;
    };
    // What installing the package does on a machine: Caddy runs, with Debian's Caddyfile.
    machine.exec("systemctl unmask caddy && systemctl start caddy");
    install(&machine, "Caddyfile", |step| {
        if step.starts_with("in /etc/avatars/serve.toml") {
            "sed -i -e '/^tls-/d' -e '/^hsts-/d' /etc/avatars/serve.toml\n\
             echo 'trusted-proxy = [\"127.0.0.1\", \"::1\"]' >> /etc/avatars/serve.toml"
                .to_owned()
        } else if step.starts_with("in /etc/caddy/Caddyfile") {
            "sed -i 's/avatars.example.org/localhost/' /etc/caddy/Caddyfile".to_owned()
        } else {
            panic!("the Caddyfile has a step by hand this test does not know: ({step})")
        }
    });
    let journal = || {
        format!(
            "{}\n{}",
            machine.journal("caddy"),
            machine.journal("avatars")
        )
    };
    let alice = format!("/avatar/{}?s=80", import_alice(&machine));
    // From 127.0.0.2, a client of its own, to Caddy on 127.0.0.1, trusting Caddy's authority.
    let curl = |args: &str| {
        machine.run(&format!(
            "curl -sS --interface 127.0.0.2 --resolve localhost:443:127.0.0.1 \
                 --cacert /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt {args}"
        ))
    };
    let head_of = |args: &str| {
        let done = curl(&format!("-o /dev/null -D - {args}"));
        assert!(
            done.status.success(),
            "curl {args}: {}\n{}",
            String::from_utf8_lossy(&done.stderr),
            journal()
        );
        String::from_utf8_lossy(&done.stdout).to_lowercase()
    };
    eventually_showing(
        20,
        "Caddy serving HTTPS for localhost",
        || {
            curl(&format!("-o /dev/null https://localhost{alice}"))
                .status
                .success()
        },
        journal,
    );

    let head = head_of(&format!(
        "-H 'Accept-Encoding: zstd, gzip' https://localhost{alice}"
    ));
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(
        !head.contains("content-encoding"),
        "a picture compressed again: {head}"
    );
    let through_caddy = curl(&format!("https://localhost{alice}")).stdout;
    let direct = machine
        .run(&format!("curl -sS http://127.0.0.1:8080{alice}"))
        .stdout;
    assert_eq!(
        through_caddy, direct,
        "the picture changed on its way through Caddy"
    );
    let etag = head
        .lines()
        .find_map(|line| line.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("no etag: {head}"))
        .trim()
        .to_owned();
    let revalidated = head_of(&format!(
        "-H 'If-None-Match: {etag}' https://localhost{alice}"
    ));
    assert!(revalidated.starts_with("http/2 304"), "{revalidated}");

    let page = head_of("-H 'Accept-Encoding: gzip' https://localhost/");
    assert!(page.contains("content-encoding: gzip"), "{page}");
    let redirect = head_of(&format!(
        "--resolve localhost:80:127.0.0.1 http://localhost{alice}"
    ));
    assert!(redirect.starts_with("http/1.1 308"), "{redirect}");
    assert!(
        redirect.contains(&format!("location: https://localhost{alice}")),
        "{redirect}"
    );

    // The server counts and logs the client Caddy forwarded, not Caddy.
    let logged = machine.journal("avatars");
    assert!(logged.contains("\"client\":\"127.0.0.2\""), "{logged}");
    machine.exec("systemctl stop caddy avatars");
}
