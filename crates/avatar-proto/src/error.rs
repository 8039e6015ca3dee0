//! The one error type of this crate.

/// Everything in `avatar-proto` that can be refused.
///
/// Every message says what was wrong and what would have been accepted, so it can be shown to a
/// user as it is (the HTTP service sends it as a 400 body, the CLI prints it on one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The avatar hash in a request path or given by a caller is not 32 or 64 hex digits.
    #[error(
        "invalid avatar hash {found:?}: expected 32 (MD5) or 64 (SHA-256) hex digits, \
         optionally followed by .png, .jpg, .jpeg, .gif, .webp or .avif, and by one /"
    )]
    InvalidHash {
        /// The offending text, shortened to at most 80 characters.
        found: String,
    },

    /// An email address could not be used as an identity.
    #[error(
        "invalid email address {found:?}: {reason}; expected an address like alice@example.org"
    )]
    InvalidEmail {
        /// The offending text, shortened to at most 80 characters.
        found: String,
        /// What exactly was wrong.
        reason: &'static str,
    },

    /// An OpenID URL could not be used as an identity.
    #[error(
        "invalid OpenID URL {found:?}: {reason}; expected a URL like https://example.org/id/alice"
    )]
    InvalidOpenId {
        /// The offending text, shortened to at most 80 characters.
        found: String,
        /// What exactly was wrong.
        reason: &'static str,
    },

    /// A domain name could not be converted to its IDNA ASCII form.
    #[error("invalid domain {found:?}: not a valid internationalised domain name")]
    InvalidDomain {
        /// The offending text, shortened to at most 80 characters.
        found: String,
    },

    /// A trusted-URL pattern in the configuration is malformed.
    #[error(
        "invalid trusted URL pattern {found:?}: {reason}; expected http(s)://HOST[:PORT]/PATH-PREFIX, \
         where HOST may start with \"*.\" to allow every subdomain"
    )]
    InvalidTrustedUrl {
        /// The offending text, shortened to at most 80 characters.
        found: String,
        /// What exactly was wrong.
        reason: &'static str,
    },

    /// A configured maximum avatar size is out of range.
    #[error("invalid maximum size {found}: expected a number of pixels from 1 to 4096")]
    InvalidMaxSize {
        /// The offending value.
        found: u32,
    },
}

/// Shortens user input for an error message so a 64 KB query cannot become a 64 KB log line.
pub(crate) fn excerpt(input: &str) -> String {
    const LIMIT: usize = 80;
    match input.char_indices().nth(LIMIT) {
        None => input.to_owned(),
        Some((cut, _)) => format!("{}…", &input[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_input_and_cuts_long_input_on_a_char_boundary() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(200);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 81);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn messages_say_what_is_accepted() {
        let err = Error::InvalidHash {
            found: "xyz".into(),
        };
        assert!(
            err.to_string()
                .contains("32 (MD5) or 64 (SHA-256) hex digits")
        );
    }
}
