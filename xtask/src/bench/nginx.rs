//! nginx-light as the static-file reference: a private configuration under the bench's work
//! directory, on a loopback port, stopped gracefully when dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::TASK;
use crate::process::{Running, wait_bounded};

/// nginx, stopped gracefully when dropped: killing its master alone would leave the workers
/// running and holding the port.
pub(super) struct Nginx {
    master: Running,
    prefix: PathBuf,
    conf: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        let _ = wait_bounded(&mut self.master.0, "nginx", Duration::from_secs(10));
    }
}

pub(super) fn start_nginx(work: &Path, root: &Path, addr: &str) -> Result<Nginx, String> {
    let prefix = work.join("nginx");
    let temp = prefix.join("temp");
    fs::create_dir_all(&temp).map_err(|err| err.to_string())?;
    let conf = prefix.join("nginx.conf");
    let temp = temp.display();
    let text = format!(
        "# Written by cargo xtask bench: nginx serving the bytes avatars rendered, as a static
# file server at its usual best (sendfile, keep-alive, no logs).
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log crit;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ image/jpeg jpg; image/png png; image/gif gif; image/webp webp; }}
    server {{
        listen {addr};
        root {root};
        # The headers avatars sends too.
        add_header Access-Control-Allow-Origin *;
        add_header Cross-Origin-Resource-Policy cross-origin;
        add_header X-Content-Type-Options nosniff;
        add_header Cache-Control \"max-age=86400\";
    }}
}}
",
        prefix = prefix.display(),
        root = root.display(),
    );
    fs::write(&conf, text).map_err(|err| err.to_string())?;
    let error_log = prefix.join("error.log");
    let child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(&prefix)
        .arg("-e")
        .arg(&error_log)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot start nginx: {err}"))?;
    let nginx = Nginx {
        master: Running(child),
        prefix: prefix.clone(),
        conf: conf.clone(),
    };
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("nginx did not listen on {addr} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("{TASK}: nginx is listening on http://{addr}");
    Ok(nginx)
}

pub(super) fn free_loopback_addr() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|err| err.to_string())?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    Ok(addr.to_string())
}
