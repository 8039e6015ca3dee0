//! A raw HTTP/1.1 client over TCP: it sends exactly the bytes it is given, so tests can send what
//! no HTTP library would (64 KiB queries, 10,000 headers, not HTTP at all).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP response: the status code, the header block lowercased, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The header lines, lowercased, separated by CRLF.
    pub headers: String,
    /// The body as received (not de-chunked).
    pub body: Vec<u8>,
}

/// `GET path` with `Connection: close`, read to the end.
///
/// # Panics
/// If the server cannot be reached or its answer has no status line.
#[must_use]
pub fn get(addr: &str, path: &str) -> RawResponse {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// `GET path` with `Accept: accept` and `Connection: close`, read to the end.
///
/// # Panics
/// If the server cannot be reached or its answer has no status line.
#[must_use]
pub fn get_accepting(addr: &str, path: &str, accept: &str) -> RawResponse {
    request(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

/// Sends `bytes` as they are and reads the answer to the end (10 s at most per read).
///
/// # Panics
/// If the server cannot be reached or its answer has no status line.
#[must_use]
pub fn request(addr: &str, bytes: &[u8]) -> RawResponse {
    send(addr, bytes).unwrap_or_else(|| panic!("no HTTP answer from {addr}"))
}

/// As [`request`], but `None` when the connection closes without a status line (a server may
/// drop what it will not read).
///
/// # Panics
/// If the server cannot be reached at all.
#[must_use]
pub fn send(addr: &str, bytes: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(addr).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout can be set");
    // The server may answer (and close) before it has read everything: that is an answer too.
    let _ = stream.write_all(bytes);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse(&response)
}

/// Splits a raw response into status, lowercased headers and body; `None` without a status line.
#[must_use]
pub fn parse(response: &[u8]) -> Option<RawResponse> {
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())?;
    Some(RawResponse {
        status,
        headers: headers.to_lowercase(),
        body: response.get(split + 4..).unwrap_or_default().to_vec(),
    })
}

impl RawResponse {
    /// The value of header `name` (lowercase), if present.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.trim())
        })
    }
}

/// A whole `POST path` request carrying `file` as the one field `field` of a
/// `multipart/form-data` form (RFC 7578), as a browser sends an `<input type="file">`, with
/// `extra_headers` (each ending in CRLF) after the standard ones.
#[must_use]
pub fn multipart_post(
    addr: &str,
    path: &str,
    extra_headers: &str,
    field: &str,
    file_name: &str,
    file: &[u8],
) -> Vec<u8> {
    multipart_post_with(addr, path, extra_headers, &[], field, file_name, file)
}

/// [`multipart_post`] with text fields before the file (`(name, value)`, in order), as a form
/// with a cropping tool's hidden inputs sends them.
#[must_use]
pub fn multipart_post_with(
    addr: &str,
    path: &str,
    extra_headers: &str,
    text_fields: &[(&str, &str)],
    field: &str,
    file_name: &str,
    file: &[u8],
) -> Vec<u8> {
    let mut parts: Vec<FormPart<'_>> = text_fields
        .iter()
        .map(|(name, value)| FormPart::Text(name, value))
        .collect();
    parts.push(FormPart::File {
        name: field,
        file_name,
        bytes: file,
    });
    multipart_post_parts(addr, path, extra_headers, &parts)
}

/// One field of a `multipart/form-data` form.
#[derive(Debug, Clone, Copy)]
pub enum FormPart<'a> {
    /// A text field: its name and value.
    Text(&'a str, &'a str),
    /// A file field.
    File {
        /// The field's name.
        name: &'a str,
        /// The file's name, as a browser sends it.
        file_name: &'a str,
        /// The file.
        bytes: &'a [u8],
    },
}

/// A whole `POST path` request carrying `parts` in this order as a `multipart/form-data` form
/// (a page's script may append the picture before or after other fields).
#[must_use]
pub fn multipart_post_parts(
    addr: &str,
    path: &str,
    extra_headers: &str,
    parts: &[FormPart<'_>],
) -> Vec<u8> {
    const BOUNDARY: &str = "----avatars-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for part in parts {
        match part {
            FormPart::Text(name, value) => body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            ),
            FormPart::File {
                name,
                file_name,
                bytes,
            } => {
                body.extend_from_slice(format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes());
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}
