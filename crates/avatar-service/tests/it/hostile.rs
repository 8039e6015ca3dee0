//! Hostile HTTP input: every request gets a clear 4xx or the documented fallback, nothing is
//! redirected anywhere untrusted, damaged or hostile stored files are misses, and nothing
//! already stored changes.

use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store as _};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Request, StatusCode};
use test_support::hostile::{
    OPEN_REDIRECTS, gif_claiming_the_largest, png_claiming, webp_claiming,
};
use test_support::suite::*;

const NOBODY_HASH: &str = "0123456789abcdef0123456789abcdef";

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
        format!("/avatar/{}", &NOBODY_HASH[..31]),
        format!("/avatar/{NOBODY_HASH}0"),
        format!("/avatar/{long}"),
        format!("/avatar/{NOBODY_HASH}.exe"),
        // One trailing slash is django-avatar's form and answered; more, or a path, is not.
        format!("/avatar/{NOBODY_HASH}//"),
        format!("/avatar/{NOBODY_HASH}/x"),
        format!("/avatar/{NOBODY_HASH}%00"),
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
                let uri = format!("/avatar/{NOBODY_HASH}?{name}={value}");
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

#[tokio::test]
async fn hostile_stored_files_are_misses_and_harm_nothing_else() {
    let service = service().await;
    let before = george_bytes(&service).await;
    let mut truncated = george_png();
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
