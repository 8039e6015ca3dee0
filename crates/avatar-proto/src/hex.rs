//! Lowercase hex encoding and case-insensitive decoding of fixed-size digests.
//!
//! Shared by every protocol in the project: Libravatar hashes here, XMPP's SHA-1 image hashes in
//! the XMPP payload types.

use std::fmt;

/// Writes `bytes` as lowercase hex.
///
/// # Errors
/// Only those of the underlying formatter.
pub fn write_lower(f: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    bytes
        .iter()
        .flat_map(|&byte| digits(byte))
        .try_for_each(|digit| f.write_char(digit))
}

/// Returns `bytes` as a lowercase hex string.
#[must_use]
pub fn encode_lower(bytes: &[u8]) -> String {
    bytes.iter().flat_map(|&byte| digits(byte)).collect()
}

/// The two lowercase hex digits of `byte`, as ASCII bytes: for writing hex into a buffer
/// without allocating.
#[must_use]
pub const fn lower_digits(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [DIGITS[(byte >> 4) as usize], DIGITS[(byte & 0x0f) as usize]]
}

fn digits(byte: u8) -> [char; 2] {
    lower_digits(byte).map(char::from)
}

/// Decodes exactly `N` bytes from `2 * N` hex digits of either case.
///
/// Returns `None` for any other length or any non-hex character.
#[must_use]
pub fn decode_exact<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_either_case() {
        let bytes = [0x00, 0x0f, 0xa0, 0xff];
        assert_eq!(encode_lower(&bytes), "000fa0ff");
        assert_eq!(decode_exact::<4>(b"000FA0fF"), Some(bytes));
    }

    #[test]
    fn refuses_wrong_length_and_non_hex() {
        assert_eq!(decode_exact::<2>(b"abc"), None);
        assert_eq!(decode_exact::<2>(b"abcde"), None);
        assert_eq!(decode_exact::<2>(b"abcg"), None);
        assert_eq!(decode_exact::<2>("ab\u{e9}".as_bytes()), None);
    }
}
