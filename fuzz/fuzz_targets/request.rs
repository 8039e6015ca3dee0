//! Request path + query parsing: never panics; what parses keeps the documented bounds, and a
//! redirect target is only ever a same-site path or a URL on a default trusted host.
#![no_main]

use avatar_proto::{AvatarRequest, DefaultImage, RequestRules};
use libfuzzer_sys::fuzz_target;

/// The hosts the default trusted-URL list allows.
const TRUSTED: &[&str] = &["gravatar.com", "ui-avatars.com", "api.dicebear.com"];

fuzz_target!(|data: &[u8]| {
    let rules = RequestRules::default();
    let (segment, query) = match data.iter().position(|&byte| byte == b'?') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(request) = AvatarRequest::parse(&rules, segment, query) {
        assert!((1..=512).contains(&request.size), "size {}", request.size);
        if let Some(DefaultImage::Redirect(target)) = &request.default {
            check_target(target.as_str());
        }
    }
});

fn check_target(target: &str) {
    assert!(
        target.bytes().all(|byte| byte.is_ascii_graphic()),
        "unsafe characters in {target:?}"
    );
    assert!(!target.contains('\\'), "a backslash in {target:?}");
    if let Some(path) = target.strip_prefix('/') {
        assert!(!path.starts_with('/'), "protocol-relative {target:?}");
        return;
    }
    let rest = target
        .strip_prefix("https://")
        .or_else(|| target.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("neither a path nor http(s): {target:?}"));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    assert!(!authority.contains('@'), "user info in {target:?}");
    let host = authority.split(':').next().unwrap_or_default();
    assert!(
        TRUSTED
            .iter()
            .any(|trusted| host == *trusted || host.ends_with(&format!(".{trusted}"))),
        "untrusted host in {target:?}"
    );
}
