//! The bench's one HTTP/1.1 client: GETs over keep-alive connections on loopback, framed by
//! `Content-Length` (what `avatars serve` and nginx send for every request the bench makes), and
//! a driver that sends an exact number of requests (wrk runs for a time, not a count).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One response: status, headers in order, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, compared without case.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One keep-alive connection.
pub(super) struct Connection {
    stream: BufReader<TcpStream>,
    addr: String,
}

impl Connection {
    /// Connects to `addr` (`HOST:PORT`); reads wait 60 s at most.
    pub(super) fn open(addr: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).map_err(|err| format!("connect {addr}: {err}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|err| err.to_string())?;
        Ok(Self {
            stream: BufReader::new(stream),
            addr: addr.to_owned(),
        })
    }

    /// Sends `GET path` (with `If-None-Match` when given) and reads the whole answer.
    pub(super) fn get(
        &mut self,
        path: &str,
        if_none_match: Option<&str>,
    ) -> Result<Response, String> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(etag) = if_none_match {
            let _ = write!(request, "If-None-Match: {etag}\r\n");
        }
        request.push_str("\r\n");
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|err| format!("sending to {}: {err}", self.addr))?;
        read_response(&mut self.stream).map_err(|err| format!("http://{}{path}: {err}", self.addr))
    }
}

/// `GET path` on a new connection.
pub(super) fn get(addr: &str, path: &str, if_none_match: Option<&str>) -> Result<Response, String> {
    Connection::open(addr)?.get(path, if_none_match)
}

/// Reads one response: the status line, headers up to the empty line, and a body of
/// `Content-Length` bytes (none for 1xx, 204 and 304, whatever the headers say).
pub(super) fn read_response(reader: &mut impl BufRead) -> Result<Response, String> {
    let mut status = None;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .map_err(|err| format!("reading: {err}"))?;
        if read == 0 {
            return Err("the connection closed before the response ended".to_owned());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if status.is_none() {
            status = Some(
                line.split_whitespace()
                    .nth(1)
                    .and_then(|code| code.parse::<u16>().ok())
                    .ok_or_else(|| format!("not a status line: {line:?}"))?,
            );
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let status = status.ok_or("no status line")?;
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let bodiless = status < 200 || status == 204 || status == 304;
    if !bodiless && let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("a bad Content-Length {length:?}"))?;
        response.body = vec![0; length];
        reader
            .read_exact(&mut response.body)
            .map_err(|err| format!("reading a body of {length} bytes: {err}"))?;
    }
    Ok(response)
}

/// Sends exactly `total` GETs for `paths` in turn over 16 keep-alive connections; how many
/// answers were not 200.
pub(super) fn drive(addr: &str, paths: &[String], total: u64) -> Result<u64, String> {
    let next = AtomicU64::new(0);
    let unexpected = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    let mut connection = Connection::open(addr)?;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= total {
                            return Ok(());
                        }
                        let path = &paths[usize::try_from(index).unwrap_or(0) % paths.len()];
                        if connection.get(path, None)?.status != 200 {
                            unexpected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .map_err(|_| "a load thread panicked".to_owned())?
        })
    })?;
    Ok(unexpected.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_responses_one_after_the_other_on_one_stream() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"abc\"\r\n\r\nhelloHTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\nContent-Length: 5\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let mut reader = BufReader::new(&wire[..]);
        let first = read_response(&mut reader).unwrap();
        assert_eq!((first.status, first.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(first.header("etag"), Some("\"abc\""));
        let second = read_response(&mut reader).unwrap();
        assert_eq!((second.status, second.body.len()), (304, 0));
        let third = read_response(&mut reader).unwrap();
        assert_eq!(third.status, 404);
    }

    #[test]
    fn broken_answers_are_errors() {
        for wire in [
            &b""[..],
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        ] {
            assert!(
                read_response(&mut BufReader::new(wire)).is_err(),
                "{wire:?}"
            );
        }
    }
}
