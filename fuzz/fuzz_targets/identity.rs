//! Email and OpenID normalisation: never panics, and normalising is idempotent (the normal form
//! parses to itself, with the same hashes).
#![no_main]

use avatar_proto::{HashAlgorithm, Identity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(identity) = Identity::parse(text) {
        let again = Identity::parse(identity.as_str()).expect("a normal form parses");
        assert_eq!(again.as_str(), identity.as_str());
        for algorithm in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
            assert_eq!(again.hash(algorithm), identity.hash(algorithm));
        }
        let _ = identity.published_hashes();
    }
});
