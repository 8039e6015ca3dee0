//! A spawned `avatars serve`, stopped when dropped.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::raw_http::{self, RawResponse};

/// `avatars serve --addr 127.0.0.1:0 ARGS...` run in a directory, killed when dropped. Its
/// stderr is piped (read it through [`Server::child`]) when `log` is set, dropped otherwise.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `HOST:PORT`, as the server printed it.
    pub addr: String,
    /// The HTTPS listener's `HOST:PORT`, when started with `--tls-addr`.
    pub https_addr: Option<String>,
    /// The admin listener's `HOST:PORT`, when started with `--admin-addr`.
    pub admin_addr: Option<String>,
}

impl Server {
    /// Starts `binary` (the test's `env!("CARGO_BIN_EXE_avatars")`) in `dir` and waits for its
    /// `listening on http://HOST:PORT` line, and for the `listening on https://` and `admin on
    /// http://` lines when `args` has `--tls-addr` or `--admin-addr`.
    ///
    /// # Panics
    /// If the binary does not start or its first line is not the listening line.
    #[must_use]
    pub fn start(binary: &str, dir: &Path, args: &[&str], log: bool) -> Self {
        Self::start_with_env(binary, dir, args, log, &[])
    }

    /// As [`Server::start`], with environment variables (such as `RUST_LOG`).
    ///
    /// # Panics
    /// If the binary does not start or its first line is not the listening line.
    #[must_use]
    pub fn start_with_env(
        binary: &str,
        dir: &Path,
        args: &[&str],
        log: bool,
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(binary)
            .current_dir(dir)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::piped() } else { Stdio::null() })
            .spawn()
            .expect("the avatars binary runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line_after = |prefix: &str| {
            let mut line = String::new();
            stdout
                .read_line(&mut line)
                .expect("the server prints a line");
            announced(&line)
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected a line starting {prefix:?}, got {line:?}"))
                .to_owned()
        };
        let addr = line_after("listening on http://");
        let has = |flag: &str| args.contains(&flag);
        let https_addr = has("--tls-addr").then(|| line_after("listening on https://"));
        let admin_addr = has("--admin-addr").then(|| line_after("admin on http://"));
        Self {
            child,
            addr,
            https_addr,
            admin_addr,
        }
    }

    /// The process, to signal it or read its stderr.
    pub const fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends `signal` (`HUP`, say) and returns at once.
    ///
    /// # Panics
    /// If `kill` fails.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    /// Sends `signal` (`INT` or `TERM`) and waits for the server to end.
    ///
    /// # Panics
    /// If it has not ended within 10 s.
    pub fn stop(&mut self, signal: &str) -> ExitStatus {
        self.signal(signal);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server did not stop within 10 s of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM, waits for the server to end, and returns its log (started with `log`).
    ///
    /// # Panics
    /// If it did not exit with success (killed by the signal, or an error at shutdown: the
    /// message has the status and the log), or as [`Server::stop`] and [`Server::log`].
    pub fn stop_gracefully(&mut self) -> String {
        let status = self.stop("TERM");
        let log = self.log();
        assert!(
            status.success(),
            "the server ended with {status} after SIGTERM; its log:\n{log}"
        );
        log
    }

    /// What the server wrote on stderr (started with `log`), read to the end: stop it first.
    ///
    /// # Panics
    /// If stderr was not piped.
    pub fn log(&mut self) -> String {
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .expect("started with log")
            .read_to_string(&mut log)
            .expect("UTF-8 log");
        log
    }

    /// The server's process id (to look at its threads in `/proc`, for example).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` over a raw connection.
    #[must_use]
    pub fn get(&self, path: &str) -> RawResponse {
        raw_http::get(&self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a line `avatars serve` or `avatars xmpp` writes on stdout (`listening on
/// http://...`): the line itself, or with `--log-format json` the `message` of the JSON object
/// it is then.
///
/// # Panics
/// If a line that starts as JSON is not.
#[must_use]
pub fn announced(line: &str) -> String {
    let line = line.trim();
    if !line.starts_with('{') {
        return line.to_owned();
    }
    let event: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|err| panic!("{line:?} is not JSON: {err}"));
    event["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{line:?} has no message"))
        .to_owned()
}
