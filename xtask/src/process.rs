//! Child processes of the tasks: killed when dropped, waited for with a bound.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Builds what `cargo test` builds (the same features, so after `cargo test` in `cargo xtask
/// ci` this is a no-op rather than a second build of half the dependencies), saying so as
/// `task`; returns the directory of the debug binaries (`avatars`, `avatar-conformance`).
pub(crate) fn build_test_binaries(task: &str) -> Result<PathBuf, String> {
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("{task}: building avatar-conformance and avatars ...");
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["test", "--quiet", "--locked", "--workspace", "--no-run"])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err(format!("the build failed ({status})"));
    }
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target_dir.join("debug"))
}

/// Runs `cargo install INSTALL...` when `cargo SUBCOMMAND --version` does not succeed, or
/// does not print `version` when one is asked for; says so as `task`.
pub(crate) fn ensure_cargo_tool(
    task: &str,
    cargo: &str,
    subcommand: &str,
    version: Option<&str>,
    install: &[&str],
) -> Result<(), String> {
    let present = Command::new(cargo)
        .args([subcommand, "--version"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| {
            output.status.success()
                && version.is_none_or(|version| {
                    String::from_utf8_lossy(&output.stdout)
                        .split_whitespace()
                        .any(|word| word == version)
                })
        });
    if present {
        return Ok(());
    }
    eprintln!(
        "{task}: installing it: cargo install {} ...",
        install.join(" ")
    );
    let status = Command::new(cargo)
        .arg("install")
        .args(install)
        .status()
        .map_err(|err| format!("cannot run cargo install: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo install {} failed ({status})",
            install.join(" ")
        ))
    }
}

/// Kills the child when dropped, so a failing step never leaves a server behind.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `avatars serve` on a free port; returns it with its base URL.
pub(crate) fn start_server(
    avatars: &Path,
    data: &Path,
    task: &str,
) -> Result<(Running, String), String> {
    start_server_with(avatars, data, task, &[], None)
}

/// [`start_server`] with more arguments, and its access log written to `access_log` when given
/// (otherwise no access log: nginx runs with its own off, and the bench compares like with like).
pub(crate) fn start_server_with(
    avatars: &Path,
    data: &Path,
    task: &str,
    args: &[&str],
    access_log: Option<&Path>,
) -> Result<(Running, String), String> {
    let mut command = Command::new(avatars);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped());
    match access_log {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|err| format!("creating {}: {err}", path.display()))?;
            command
                .env("RUST_LOG", "warn,avatars::access=info")
                .stderr(file);
        }
        None => {
            command.env("RUST_LOG", "warn").stderr(Stdio::null());
        }
    }
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot start avatars serve: {err}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from avatars serve")?;
    let server = Running(child);
    let mut first = String::new();
    let mut stdout = BufReader::new(stdout);
    stdout
        .read_line(&mut first)
        .map_err(|err| format!("reading avatars serve's first line: {err}"))?;
    // The server prints more lines (`admin on ...`) after the first: keep reading, so it never
    // writes to a closed pipe (which it would take as an error, and exit).
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("avatars serve said {first:?}, expected 'listening on URL'"))?
        .to_owned();
    eprintln!("{task}: avatars serve is listening on {url}");
    Ok((server, url))
}

/// Waits for `child` (described as `what` in errors) at most `limit`, killing it after that;
/// whether it succeeded.
pub(crate) fn wait_bounded(child: &mut Child, what: &str, limit: Duration) -> Result<bool, String> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            return Ok(status.success());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            return Err(format!("{what} did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
