//! Hostile requests over real TCP to the real `avatars serve`: what the HTTP layer refuses
//! before the service sees it gets a clear 4xx, and the server goes on serving.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use common::Server;

/// Sends `request` as is and returns the status code of the answer (0 if the connection was
/// closed without one).
fn raw(addr: &str, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(response.get(9..12).unwrap_or_default())
        .parse()
        .unwrap_or(0)
}

#[test]
fn oversized_and_malformed_requests_get_a_4xx_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--data-dir", "data"], false);
    let hash = "0123456789abcdef0123456789abcdef";

    // A 64 KiB query: over `http::Uri`'s 65,534-byte limit, refused by hyper.
    let query = "x".repeat(64 << 10);
    let request =
        format!("GET /avatar/{hash}?{query} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let status = raw(&server.addr, request.as_bytes());
    assert!((400..500).contains(&status), "a 64 KiB query got {status}");

    // 10,000 repeated headers: more than hyper accepts.
    let headers = "If-None-Match: \"x\"\r\n".repeat(10_000);
    let request =
        format!("GET /avatar/{hash} HTTP/1.1\r\nHost: a\r\n{headers}Connection: close\r\n\r\n");
    let status = raw(&server.addr, request.as_bytes());
    assert!((400..500).contains(&status), "10,000 headers got {status}");

    // Not HTTP at all, and a request line with invalid UTF-8 and a NUL.
    for request in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"GET /avatar/\xff\xfe\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let status = raw(&server.addr, request);
        assert!(
            status == 0 || (400..500).contains(&status),
            "{request:?} got {status}"
        );
    }

    // And the server still answers.
    let response = server.get(&format!("/avatar/{hash}?d=404"));
    assert_eq!(response.status, 404);
}
