//! SRV answers: sanitising a record and building the base URL never panics, and a federated
//! base URL only ever names a host made of `[0-9a-z.-]` (no user info, path, port injection).
#![no_main]

use avatar_proto::srv::SplitMix64;
use avatar_proto::{BaseOrigin, BaseUrl, Scheme, SrvRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Records of (priority, weight, port, target), the target up to the next 0 byte.
    let mut records = Vec::new();
    let mut rest = data;
    while rest.len() >= 6 && records.len() < 8 {
        let number = |at: usize| u16::from_be_bytes([rest[at], rest[at + 1]]);
        let (priority, weight, port) = (number(0) % 4, number(2), number(4));
        let tail = &rest[6..];
        let end = tail.iter().position(|&byte| byte == 0).unwrap_or(tail.len());
        let target = String::from_utf8_lossy(&tail[..end]).into_owned();
        records.push(SrvRecord::new(priority, weight, port, target));
        rest = tail.get(end + 1..).unwrap_or(&[]);
    }
    for scheme in [Scheme::Http, Scheme::Https] {
        let base = BaseUrl::from_srv(scheme, &records, &mut SplitMix64::new(7));
        if let BaseOrigin::Federated(target) = base.origin() {
            assert!(
                target
                    .host()
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-'),
                "unsafe host {:?}",
                target.host()
            );
            let url = base.as_str();
            let authority = url.split_once("://").map_or("", |(_, rest)| rest);
            assert!(!authority.contains('@'), "user info in {url}");
        }
    }
});
