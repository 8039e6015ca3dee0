//! Child processes of the tasks: killed when dropped, waited for with a bound.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = Command::new(avatars)
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .args(["--addr", "127.0.0.1:0"])
        // No access log: nginx runs with its own off, and the bench compares like with like.
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| format!("cannot start avatars serve: {err}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from avatars serve")?;
    let server = Running(child);
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .map_err(|err| format!("reading avatars serve's first line: {err}"))?;
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
