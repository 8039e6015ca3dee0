//! Proxy tokens: which identity a `/proxy/{token}` URL shows, sealed so that nobody without the
//! key can read, forge or alter it.
//!
//! The construction is AES-SIV (RFC 5297, `aes-siv`, 512-bit keys), a deterministic
//! authenticated encryption: the same identity under the same key always gives the same token,
//! so browsers and CDNs cache it, while the synthetic IV authenticates the whole plaintext, so
//! a changed byte fails to open. A random-nonce AEAD would make a new URL per page view (no
//! caching); a MAC over a readable identity would reveal the address, its hash and its domain.
//! The identity is padded to a multiple of [`PAD_TO`] bytes before sealing, so a token's length
//! says little about the address. Tokens are base64url without padding.
//!
//! Keys rotate: [`ProxyKeys`] holds a list; the first mints, every one opens.

use std::fmt;

use aes_siv::aead::{Generate as _, Key, KeyInit as _};
use aes_siv::siv::Aes256Siv;
use avatar_proto::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ProxyError;

/// Bound into every token (AES-SIV associated data): a token made for anything else, or by a
/// later format of this one, does not open here.
const CONTEXT: &[u8] = b"avatar-proxy token v1";
/// Plaintexts are padded to a multiple of this many bytes.
pub const PAD_TO: usize = 32;
/// Identities longer than this (bytes) are not minted: emails are at most 254, OpenID URLs
/// rarely above 200.
pub const MAX_IDENTITY_BYTES: usize = 1024;
/// The length of a key file's one line: 128 hex digits.
pub const KEY_HEX_DIGITS: usize = 128;

/// One 512-bit AES-SIV key.
#[derive(Clone)]
pub struct ProxyKey([u8; 64]);

impl fmt::Debug for ProxyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key itself.
        f.write_str("ProxyKey(..)")
    }
}

impl ProxyKey {
    /// A new random key from the operating system's generator.
    #[must_use]
    pub fn generate() -> Self {
        let key = Key::<Aes256Siv>::generate();
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    /// A key from its 128 hex digits (surrounding white space ignored).
    ///
    /// # Errors
    /// [`ProxyError::Key`] for anything else.
    pub fn from_hex(text: &str) -> Result<Self, ProxyError> {
        let text = text.trim();
        avatar_proto::hex::decode_exact::<64>(text.as_bytes()).ok_or_else(|| ProxyError::Key {
            reason: format!(
                "expected {KEY_HEX_DIGITS} hex digits (a 512-bit AES-SIV key), found {} characters",
                text.chars().count()
            ),
        }).map(Self)
    }

    /// The key as 128 lowercase hex digits, for a key file.
    #[must_use]
    pub fn to_hex(&self) -> String {
        avatar_proto::hex::encode_lower(&self.0)
    }

    fn cipher(&self) -> Aes256Siv {
        Aes256Siv::new(&Key::<Aes256Siv>::from(self.0))
    }
}

/// The keys a proxy mints with (the first) and opens with (all of them, in order).
#[derive(Debug, Clone)]
pub struct ProxyKeys {
    keys: Vec<ProxyKey>,
}

impl ProxyKeys {
    /// `current` mints; `current` and `previous` open (keep a retired key here until pages
    /// holding its URLs are gone).
    #[must_use]
    pub fn new(current: ProxyKey, previous: Vec<ProxyKey>) -> Self {
        let mut keys = vec![current];
        keys.extend(previous);
        Self { keys }
    }

    /// Keys from a key file's text: one key of 128 hex digits per line, the first mints; blank
    /// lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// [`ProxyError::Key`] naming the line, or for a file with no key.
    pub fn from_lines(text: &str) -> Result<Self, ProxyError> {
        let mut keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys.push(ProxyKey::from_hex(line).map_err(|err| {
                let reason = match err {
                    ProxyError::Key { reason } => reason,
                    other => other.to_string(),
                };
                ProxyError::Key {
                    reason: format!("line {}: {reason}", number + 1),
                }
            })?);
        }
        if keys.is_empty() {
            return Err(ProxyError::Key {
                reason: "no key: expected a line of 128 hex digits".to_owned(),
            });
        }
        Ok(Self { keys })
    }

    /// The token for `identity`: the same every time under the same first key.
    ///
    /// # Errors
    /// [`ProxyError::IdentityTooLong`] past [`MAX_IDENTITY_BYTES`].
    pub fn mint(&self, identity: &Identity) -> Result<String, ProxyError> {
        let text = identity.as_str().as_bytes();
        if text.len() > MAX_IDENTITY_BYTES {
            return Err(ProxyError::IdentityTooLong {
                bytes: text.len(),
                limit: MAX_IDENTITY_BYTES,
            });
        }
        // Identity bytes, one 0x80, zeros to the next multiple of PAD_TO (ISO/IEC 7816-4).
        let mut plaintext = Vec::with_capacity(text.len() + PAD_TO);
        plaintext.extend_from_slice(text);
        plaintext.push(0x80);
        plaintext.resize(plaintext.len().div_ceil(PAD_TO) * PAD_TO, 0);
        let sealed = self.keys[0]
            .cipher()
            .encrypt([CONTEXT], &plaintext)
            .map_err(|_| ProxyError::Key {
                reason: "AES-SIV refused to seal".to_owned(),
            })?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The identity a token stands for, if one of the keys sealed it and it was not altered;
    /// `None` for anything else (no reason is given to whoever sent it).
    #[must_use]
    pub fn open(&self, token: &str) -> Option<Identity> {
        // The largest token a minted one can be, so junk is refused before any decoding.
        let longest = (MAX_IDENTITY_BYTES + PAD_TO + 16).div_ceil(3) * 4;
        if token.is_empty() || token.len() > longest {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
        let plaintext = self
            .keys
            .iter()
            .find_map(|key| key.cipher().decrypt([CONTEXT], &sealed).ok())?;
        let end = plaintext.iter().rposition(|&byte| byte != 0)?;
        if plaintext[end] != 0x80 {
            return None;
        }
        let text = std::str::from_utf8(&plaintext[..end]).ok()?;
        Identity::parse(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity::parse("alice@example.org").unwrap()
    }

    #[test]
    fn a_token_is_stable_opens_to_its_identity_and_reveals_nothing() {
        let keys = ProxyKeys::new(ProxyKey::generate(), Vec::new());
        let token = keys.mint(&alice()).unwrap();
        assert_eq!(keys.mint(&alice()).unwrap(), token, "deterministic");
        assert_eq!(keys.open(&token), Some(alice()));
        for leak in [
            "alice",
            "example",
            &alice().hash(avatar_proto::HashAlgorithm::Md5).to_string()[..8],
        ] {
            assert!(!token.contains(leak), "{token} contains {leak}");
        }
        // Padding: two addresses of different lengths give tokens of one length.
        let bob = Identity::parse("bo@example.org").unwrap();
        assert_eq!(keys.mint(&bob).unwrap().len(), token.len());
    }

    #[test]
    fn altered_forged_and_foreign_tokens_do_not_open() {
        let keys = ProxyKeys::new(ProxyKey::generate(), Vec::new());
        let token = keys.mint(&alice()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for index in [0, 17, bytes.len() - 1] {
            bytes[index] ^= 1;
            assert_eq!(keys.open(&URL_SAFE_NO_PAD.encode(&bytes)), None, "{index}");
            bytes[index] ^= 1;
        }
        let other = ProxyKeys::new(ProxyKey::generate(), Vec::new());
        assert_eq!(other.open(&token), None, "another site's key");
        for junk in [
            "",
            "x",
            "!!!!",
            &"A".repeat(5000),
            &token[..token.len() - 1],
        ] {
            assert_eq!(keys.open(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn keys_rotate_the_first_mints_and_all_open() {
        let (old, new) = (ProxyKey::generate(), ProxyKey::generate());
        let before = ProxyKeys::new(old.clone(), Vec::new());
        let after = ProxyKeys::new(new.clone(), vec![old]);
        let old_token = before.mint(&alice()).unwrap();
        assert_eq!(
            after.open(&old_token),
            Some(alice()),
            "old URLs keep working"
        );
        let new_token = after.mint(&alice()).unwrap();
        assert_ne!(new_token, old_token);
        assert_eq!(
            ProxyKeys::new(new, Vec::new()).open(&new_token),
            Some(alice())
        );
    }

    #[test]
    fn key_files_are_hex_lines() {
        let (one, two) = (ProxyKey::generate(), ProxyKey::generate());
        let text = format!("# current first\n{}\n\n{}\n", one.to_hex(), two.to_hex());
        let keys = ProxyKeys::from_lines(&text).unwrap();
        let token = ProxyKeys::new(two, Vec::new()).mint(&alice()).unwrap();
        assert_eq!(keys.open(&token), Some(alice()));
        let err = ProxyKeys::from_lines("abc\n").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid proxy key: line 1: expected 128 hex digits"),
            "said once, then where and what: {err}"
        );
        assert!(ProxyKeys::from_lines("# nothing\n").is_err());
        assert!(format!("{one:?}").contains(".."), "Debug hides the key");
    }
}
