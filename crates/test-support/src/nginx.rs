//! Debian's nginx as a reverse proxy in front of a server under test, as operators run it:
//! a private configuration in a temporary directory, on a free loopback port, stopped when
//! dropped (`scripts/ensure-bench-tools.sh` installs nginx-light).
//!
//! ```no_run
//! use test_support::nginx::ReverseProxy;
//!
//! let proxy = ReverseProxy::start("127.0.0.1:8080").expect("nginx is installed");
//! // Requests to proxy.addr() reach 127.0.0.1:8080 with X-Forwarded-For set by nginx.
//! println!("{}", proxy.addr());
//! ```

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs nginx.
const NGINX: &str = "/usr/sbin/nginx";

/// nginx forwarding everything to one upstream, with the headers its documentation's reverse
/// proxy example sets (`Host`, `X-Forwarded-For` by `$proxy_add_x_forwarded_for`,
/// `X-Forwarded-Proto`).
#[derive(Debug)]
pub struct ReverseProxy {
    master: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl ReverseProxy {
    /// Whether nginx is installed here.
    #[must_use]
    pub fn installed() -> bool {
        Path::new(NGINX).exists()
    }

    /// Starts nginx in front of `upstream` (`HOST:PORT`) and waits until it listens.
    ///
    /// # Errors
    /// When nginx is not installed, does not start, or does not listen within 10 s; the
    /// message has its error log.
    pub fn start(upstream: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|err| err.to_string())?;
        let addr = format!("127.0.0.1:{}", crate::free_port());
        let prefix = dir.path().display();
        let conf = dir.path().join("nginx.conf");
        let text = format!(
            "worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}; proxy_temp_path {prefix}; fastcgi_temp_path {prefix};
    uwsgi_temp_path {prefix}; scgi_temp_path {prefix};
    server {{
        listen {addr};
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"
        );
        std::fs::write(&conf, text).map_err(|err| err.to_string())?;
        let master = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start {NGINX}: {err}"))?;
        let proxy = Self { master, addr, dir };
        let started = Instant::now();
        while TcpStream::connect(&proxy.addr).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "nginx did not listen on {} within 10 s: {}",
                    proxy.addr,
                    proxy.error_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(proxy)
    }

    /// Where it listens (`127.0.0.1:PORT`).
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its error log so far.
    #[must_use]
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for ReverseProxy {
    /// `nginx -s stop` (killing the master alone would leave its worker holding the port).
    fn drop(&mut self) {
        let _ = Command::new(NGINX)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while matches!(self.master.try_wait(), Ok(None))
            && started.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}
