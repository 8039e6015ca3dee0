//! Avatar hashes: the key under which an avatar is published and fetched.

use std::fmt;
use std::str::FromStr;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::error::{Error, excerpt};
use crate::hex;

/// Which digest names an avatar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum HashAlgorithm {
    /// MD5, 32 hex digits: what every Gravatar-era client sends. Easy to reverse for known
    /// addresses, so prefer SHA-256 where the other side supports it.
    #[default]
    Md5,
    /// SHA-256, 64 hex digits. The only algorithm for OpenID URLs.
    Sha256,
}

impl HashAlgorithm {
    /// The lowercase name used in output and configuration: `md5` or `sha256`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha256 => "sha256",
        }
    }

    /// Hashes `bytes` with this algorithm.
    #[must_use]
    pub fn digest(self, bytes: &[u8]) -> AvatarHash {
        match self {
            Self::Md5 => AvatarHash::Md5(Md5::digest(bytes).into()),
            Self::Sha256 => AvatarHash::Sha256(Sha256::digest(bytes).into()),
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The hash of an identity, as it appears in `/avatar/{hash}`.
///
/// Parses 32 or 64 hex digits in any case; always formats as lowercase hex.
///
/// ```
/// use avatar_proto::{AvatarHash, HashAlgorithm};
///
/// let hash: AvatarHash = "40F8D096A3777232204CB3F796C577B7".parse()?;
/// assert_eq!(hash.algorithm(), HashAlgorithm::Md5);
/// assert_eq!(hash.to_string(), "40f8d096a3777232204cb3f796c577b7");
/// # Ok::<(), avatar_proto::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AvatarHash {
    /// An MD5 digest.
    Md5([u8; 16]),
    /// A SHA-256 digest.
    Sha256([u8; 32]),
}

impl AvatarHash {
    /// Parses 32 or 64 hex digits of either case, with nothing around them.
    ///
    /// # Errors
    /// [`Error::InvalidHash`] for any other input.
    pub fn parse_hex(text: &[u8]) -> Result<Self, Error> {
        hex::decode_exact::<16>(text)
            .map(Self::Md5)
            .or_else(|| hex::decode_exact::<32>(text).map(Self::Sha256))
            .ok_or_else(|| Error::InvalidHash {
                found: excerpt(&String::from_utf8_lossy(text)),
            })
    }

    /// The algorithm this digest was made with.
    #[must_use]
    pub const fn algorithm(&self) -> HashAlgorithm {
        match self {
            Self::Md5(_) => HashAlgorithm::Md5,
            Self::Sha256(_) => HashAlgorithm::Sha256,
        }
    }

    /// The raw digest bytes (16 or 32 of them).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Md5(bytes) => bytes,
            Self::Sha256(bytes) => bytes,
        }
    }
}

impl FromStr for AvatarHash {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse_hex(text.as_bytes())
    }
}

impl fmt::Display for AvatarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_lower(f, self.as_bytes())
    }
}

impl fmt::Debug for AvatarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({self})", self.algorithm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_lengths_in_any_case_and_formats_lowercase() {
        let md5: AvatarHash = "40f8d096a3777232204CB3F796C577B7".parse().unwrap();
        assert_eq!(md5.algorithm(), HashAlgorithm::Md5);
        assert_eq!(md5.to_string(), "40f8d096a3777232204cb3f796c577b7");

        let text = "47508CB4512F7B46AAEB34B4A514C63D63EC240BF28CBC4410ADDD4867C10066";
        let sha: AvatarHash = text.parse().unwrap();
        assert_eq!(sha.algorithm(), HashAlgorithm::Sha256);
        assert_eq!(sha.to_string(), text.to_ascii_lowercase());
        assert_eq!(
            format!("{sha:?}"),
            format!("sha256({})", text.to_ascii_lowercase())
        );
    }

    #[test]
    fn refuses_other_lengths_and_characters() {
        for bad in [
            "",
            "abc",
            &"a".repeat(31),
            &"a".repeat(33),
            &"a".repeat(40),
            &"g".repeat(32),
        ] {
            let err = bad.parse::<AvatarHash>().unwrap_err();
            assert!(matches!(err, Error::InvalidHash { .. }), "{bad:?}");
        }
    }

    #[test]
    fn digest_matches_known_vectors() {
        assert_eq!(
            HashAlgorithm::Md5.digest(b"").to_string(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            HashAlgorithm::Sha256.digest(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
