//! Hostile HTTP input: every request gets a clear 4xx or the documented fallback, nothing is
//! redirected anywhere untrusted, damaged or hostile stored files are misses, and nothing
//! already stored changes.

mod common;

use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store as _};
use bytes::Bytes;
use common::*;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Request, StatusCode};

const NOBODY: &str = "0123456789abcdef0123456789abcdef";

/// What George's avatar is, to check after every attack that it still is.
async fn george_bytes(service: &AvatarService<MemoryStore>) -> Bytes {
    service
        .store()
        .get(&identity(GEORGE).hash(avatar_proto::HashAlgorithm::Md5))
        .await
        .unwrap()
        .expect("George is stored")
        .bytes
}

/// Sends a raw URI (which may be one `Request::get` would refuse to build: then the HTTP layer
/// would have refused it too, and there is nothing for the service to do).
async fn status_of(service: &AvatarService<MemoryStore>, uri: &str) -> Option<StatusCode> {
    let request = Request::get(uri).body(()).ok()?;
    Some(send(service, request).await.status())
}

#[tokio::test]
async fn malformed_hashes_and_traversal_get_a_clear_400_or_404() {
    let service = service().await;
    let before = george_bytes(&service).await;
    let long = "a".repeat(10_000);
    let paths = [
        "/avatar/".to_owned(),
        "/avatar/xyz".to_owned(),
        format!("/avatar/{}", &NOBODY[..31]),
        format!("/avatar/{NOBODY}0"),
        format!("/avatar/{long}"),
        format!("/avatar/{NOBODY}.exe"),
        format!("/avatar/{NOBODY}/"),
        format!("/avatar/{NOBODY}%00"),
        "/avatar/../../../../etc/passwd".to_owned(),
        "/avatar/..%2f..%2f..%2fetc%2fpasswd".to_owned(),
        "/avatar/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        "/avatar/%252e%252e%252fetc%252fpasswd".to_owned(),
        "/avatar/..\\..\\windows\\win.ini".to_owned(),
        "/avatar/%c0%ae%c0%ae/etc/passwd".to_owned(),
        "/avatar/./../avatar/x".to_owned(),
        "/../avatar/x".to_owned(),
        "/avatar%2f40f8d096a3777232204cb3f796c577b7".to_owned(),
        format!("/avatar/{}", "%ff".repeat(16)),
    ];
    for path in &paths {
        let Some(status) = status_of(&service, path).await else {
            continue;
        };
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
    let response = get(&service, "/avatar/../../etc/passwd").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = String::from_utf8_lossy(response.body());
    assert!(body.contains("64 (SHA-256) hex digits"), "{body}");
    assert_eq!(george_bytes(&service).await, before);
}

#[tokio::test]
async fn huge_repeated_and_badly_encoded_queries_are_answered_normally() {
    let service = service().await;
    let hash = md5(GEORGE);
    // A query of 65,000 bytes: junk around one real parameter. (`http::Uri`, and so hyper,
    // refuses URIs over 65,534 bytes before a service sees them.)
    let junk = "x".repeat(65_000 - "junk=&s=32".len());
    let response = get(&service, &format!("/avatar/{hash}?junk={junk}&s=32")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(dimensions(response.body()), (32, 32));

    // A parameter repeated 10,000 times: the last one counts, and it is not slow to find.
    let repeated = "s=9&".repeat(10_000) + "s=24";
    let response = get(&service, &format!("/avatar/{hash}?{repeated}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(dimensions(response.body()), (24, 24));

    // Invalid percent-encoding and invalid UTF-8: values that mean nothing, so defaults.
    for query in [
        "s=%",
        "s=%zz",
        "s=%8",
        "d=%ff%fe",
        "d=%c3%28",
        "s=%ed%a0%80",
        "d=%00",
        "s=%2b80",
        "size=8%30",
        "f=%79",
    ] {
        let response = get(&service, &format!("/avatar/{hash}?{query}")).await;
        assert!(
            response.status() == StatusCode::OK,
            "{query}: {}",
            response.status()
        );
    }
}

/// `d=` values that must never become a redirect: each is sent as is, percent-encoded once and
/// percent-encoded twice.
const OPEN_REDIRECTS: &[&str] = &[
    "//evil.example/avatar/",
    "///evil.example/",
    "////evil.example/",
    "/\\evil.example/",
    "\\/evil.example/",
    "\\\\evil.example",
    "https:\\\\gravatar.com\\avatar\\",
    "https:/\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "javascript://gravatar.com/avatar/%0aalert(1)",
    "data:image/png;base64,AAAA",
    "DATA:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://gravatar.com/avatar/",
    "HTTPS://evil.example/avatar/",
    "http:/gravatar.com/avatar/",
    "http:gravatar.com/avatar/",
    "https://gravatar.com@evil.example/avatar/",
    "https://evil.example@gravatar.com/avatar/",
    "https://user:pw@gravatar.com/avatar/",
    "https://evil.example#@gravatar.com/avatar/",
    "https://evil.example\\@gravatar.com/avatar/",
    "https://evil.example/?x=https://secure.gravatar.com/avatar/",
    "https://gravatar.com.evil.example/avatar/x",
    "https://gravatar.com%2eevil.example/avatar/x",
    "https://evilgravatar.com/avatar/x",
    "https://gr\u{430}vatar.com/avatar/x",
    "https://xn--grvatar-4fg.com/avatar/x",
    "https://gravatar.com/avatar/../../evil",
    "https://gravatar.com/avatar/%2e%2e/%2e%2e/evil",
    "http\t://gravatar.com/avatar/",
    "https://gravatar.com/avatar/\r\nLocation: https://evil.example/",
    "\thttps://evil.example/",
    " //evil.example/",
    "/.//evil.example/x",
    "/a/../..//evil.example/x",
    "https://0x7f.0x0.0x0.0x1/avatar/",
    "https://[::1]/avatar/",
];

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn open_redirect_forms_are_never_followed() {
    assert!(OPEN_REDIRECTS.len() >= 30);
    let service = service().await;
    for form in OPEN_REDIRECTS {
        let once = percent_encode(form);
        let twice = percent_encode(&once);
        for (how, value) in [
            ("raw", form.to_string()),
            ("encoded", once),
            ("twice", twice),
        ] {
            for name in ["d", "default"] {
                let uri = format!("/avatar/{NOBODY}?{name}={value}");
                let Some(request) = Request::get(&uri).body(()).ok() else {
                    continue;
                };
                let response = send(&service, request).await;
                assert_ne!(
                    response.status(),
                    StatusCode::FOUND,
                    "{how} {form:?} redirected to {:?}",
                    response.headers().get(LOCATION)
                );
                assert!(response.headers().get(LOCATION).is_none(), "{how} {form:?}");
                // Treated as absent: the server default (the mp silhouette).
                assert_eq!(response.status(), StatusCode::OK, "{how} {form:?}");
            }
        }
    }
}

/// A PNG whose header claims `width` x `height`, with a valid IHDR and no pixel data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png.extend(0u32.to_be_bytes());
    png.extend(b"IEND");
    png.extend(crc32(b"IEND").to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(u32::MAX, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |crc, _| {
            if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            }
        })
    })
}

/// A GIF whose screen and image descriptor claim 65535 x 65535 (the format's largest).
fn gif_claiming_the_largest() -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00]);
    gif.extend([0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00]);
    gif.extend([0x02, 0x02, 0x44, 0x01, 0x00, 0x3b]);
    gif
}

/// A WebP (VP8X) whose canvas claims 100000 x 100000.
fn webp_claiming(side: u32) -> Vec<u8> {
    let mut vp8x = b"VP8X".to_vec();
    vp8x.extend(10u32.to_le_bytes());
    vp8x.extend([0, 0, 0, 0]);
    vp8x.extend(&(side - 1).to_le_bytes()[..3]);
    vp8x.extend(&(side - 1).to_le_bytes()[..3]);
    let mut webp = b"RIFF".to_vec();
    webp.extend(u32::try_from(4 + vp8x.len()).unwrap().to_le_bytes());
    webp.extend(b"WEBP");
    webp.extend(vp8x);
    webp
}

#[tokio::test]
async fn hostile_stored_files_are_misses_and_harm_nothing_else() {
    let service = service().await;
    let before = george_bytes(&service).await;
    let mut truncated = png();
    truncated.truncate(truncated.len() / 2);
    let mut corrupt = jpeg();
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 16].fill(0xff);
    // A GIF that is also an HTML page (a classic polyglot): served only as what it renders to.
    let mut polyglot = b"GIF89a/*<html><script>alert(1)</script>*/".to_vec();
    polyglot.extend_from_slice(&animated_gif()[6..]);
    let hostile: [(&str, Vec<u8>); 7] = [
        ("png-100000", png_claiming(100_000, 100_000)),
        ("gif-65535", gif_claiming_the_largest()),
        ("webp-100000", webp_claiming(100_000)),
        ("truncated", truncated),
        ("corrupt", corrupt),
        ("polyglot", polyglot),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in hostile {
        // Stored behind the validation, as a damaged disk or a hand-edited store could.
        let owner = identity(&format!("{name}@hostile.example"));
        service
            .store()
            .put(&owner, Bytes::from(bytes))
            .await
            .unwrap();
        let hash = md5(&format!("{name}@hostile.example"));
        let response = get(&service, &format!("/avatar/{hash}?s=64&d=404")).await;
        match response.status() {
            StatusCode::NOT_FOUND => {}
            StatusCode::OK => {
                // A polyglot renders as the image it also is; a JPEG with garbage in its
                // middle decodes (JPEG decoders carry on), as a picture with a smear.
                let expected = match name {
                    "polyglot" => "image/gif",
                    "corrupt" => "image/jpeg",
                    _ => panic!("{name} rendered"),
                };
                assert_eq!(response.headers()[CONTENT_TYPE], expected);
                assert_eq!(dimensions(response.body()), (64, 64));
            }
            other => panic!("{name}: {other}"),
        }
    }
    assert_eq!(george_bytes(&service).await, before);
    let response = get(&service, &format!("/avatar/{}?s=64", md5(GEORGE))).await;
    assert_eq!(response.status(), StatusCode::OK);
}
