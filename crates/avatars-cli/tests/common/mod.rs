//! Helpers shared by the `avatars` binary's tests: a running `avatars serve`, and a raw GET.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `avatars serve --addr 127.0.0.1:0 ARGS...` run in `dir`, killed when dropped. Its stderr is
/// piped (read it with [`Server::child`]) when `log` is set, dropped otherwise.
pub struct Server {
    child: Child,
    /// `HOST:PORT`, as the server printed it.
    pub addr: String,
}

impl Server {
    pub fn start(dir: &Path, args: &[&str], log: bool) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_avatars"))
            .current_dir(dir)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::piped() } else { Stdio::null() })
            .spawn()
            .expect("the avatars binary runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn get(&self, path: &str) -> Response {
        http_get(&self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response: the status code, the header block lowercased, the body.
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

/// A raw HTTP/1.1 GET with `Connection: close`, read to the end.
pub fn http_get(addr: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {status_line:?}"));
    Response {
        status,
        headers: headers.to_lowercase(),
        body: response[split + 4..].to_vec(),
    }
}
