//! Hostile requests over real TCP to the real `avatars serve`: what the HTTP layer refuses
//! before the service sees it gets a clear 4xx, and the server goes on serving.

use test_support::raw_http;

use crate::serve;

/// Sends `request` as is and returns the status code of the answer (0 if the connection was
/// closed without one).
fn raw(addr: &str, request: &[u8]) -> u16 {
    raw_http::send(addr, request).map_or(0, |response| response.status)
}

#[test]
fn oversized_and_malformed_requests_get_a_4xx_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--data-dir", "data"], false);
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
