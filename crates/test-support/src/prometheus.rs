//! Debian's Prometheus server scraping servers under test, as operators run it: a private
//! configuration and database in a temporary directory, a free loopback port, scrapes and rule
//! evaluations every second, stopped when dropped (`scripts/ensure-unit-tools.sh` installs
//! Debian's `prometheus`, which also brings promtool).
//!
//! ```no_run
//! use std::path::Path;
//! use test_support::prometheus::Prometheus;
//!
//! let prometheus = Prometheus::start(&[("avatars", "127.0.0.1:9090")], &[Path::new("alerts.yml")])
//!     .expect("prometheus is installed");
//! let targets = prometheus.api("/api/v1/targets");
//! println!("{}", targets["data"]["activeTargets"][0]["health"]);
//! ```

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server.
const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A Prometheus server on 127.0.0.1 scraping fixed targets every second.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Whether Prometheus is installed here.
    #[must_use]
    pub fn installed() -> bool {
        Path::new(PROMETHEUS).exists()
    }

    /// Starts Prometheus scraping each `(job, HOST:PORT)` of `targets` at `/metrics` (a job may
    /// have several) and evaluating `rule_files`, every second, and waits until its API answers.
    ///
    /// # Errors
    /// When Prometheus is not installed, does not start, or its API does not answer within
    /// 30 s; the message has its log.
    pub fn start(targets: &[(&str, &str)], rule_files: &[&Path]) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
        let addr = format!("127.0.0.1:{}", crate::free_port());
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        config.push_str("rule_files:\n");
        for file in rule_files {
            let file =
                std::fs::canonicalize(file).map_err(|err| format!("{}: {err}", file.display()))?;
            let _ = writeln!(config, "  - {:?}", file.display().to_string());
        }
        config.push_str("scrape_configs:\n");
        // One scrape config a job, with every target of that job (Prometheus refuses a job
        // named twice).
        let mut jobs: Vec<(&str, Vec<&str>)> = Vec::new();
        for &(job, target) in targets {
            match jobs.iter_mut().find(|(name, _)| *name == job) {
                Some((_, of_job)) => of_job.push(target),
                None => jobs.push((job, vec![target])),
            }
        }
        for (job, of_job) in jobs {
            let _ = writeln!(
                config,
                "  - job_name: {job:?}\n    static_configs: [{{targets: {of_job:?}}}]"
            );
        }
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).map_err(|err| err.to_string())?;
        let log = std::fs::File::create(dir.path().join("prometheus.log"))
            .map_err(|err| err.to_string())?;
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|err| format!("cannot start {PROMETHEUS}: {err}"))?;
        let mut prometheus = Self { child, addr, dir };
        let started = Instant::now();
        loop {
            let ready = TcpStream::connect(&prometheus.addr).is_ok()
                && prometheus.get("/-/ready").status == 200;
            if ready {
                return Ok(prometheus);
            }
            if started.elapsed() > Duration::from_secs(30)
                || matches!(prometheus.child.try_wait(), Ok(Some(_)))
            {
                return Err(format!(
                    "Prometheus was not ready on {} within 30 s:\n{}",
                    prometheus.addr,
                    prometheus.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Where its API listens (`127.0.0.1:PORT`).
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `GET path_and_query` of its HTTP API, as JSON.
    ///
    /// # Panics
    /// If the answer is not JSON.
    #[must_use]
    pub fn api(&self, path_and_query: &str) -> serde_json::Value {
        let answer = self.get(path_and_query);
        serde_json::from_slice(&answer.body).unwrap_or_else(|err| {
            panic!(
                "{path_and_query} answered {} that is not JSON ({err}): {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )
        })
    }

    /// `GET path_and_query` in HTTP/1.0, so that the body comes whole, never chunked.
    fn get(&self, path_and_query: &str) -> crate::raw_http::RawResponse {
        crate::raw_http::request(
            &self.addr,
            format!(
                "GET {path_and_query} HTTP/1.0\r\nHost: {}\r\n\r\n",
                self.addr
            )
            .as_bytes(),
        )
    }

    /// Its log so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
