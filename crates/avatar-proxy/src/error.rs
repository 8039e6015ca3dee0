//! The one error type of this crate.

/// Why a proxy could not be built, or a URL not minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A key or key file is malformed.
    #[error("invalid proxy key: {reason}")]
    Key {
        /// What is wrong, and what is accepted.
        reason: String,
    },

    /// An identity too long to mint a token for.
    #[error("identity of {bytes} bytes: at most {limit} bytes are minted")]
    IdentityTooLong {
        /// Its length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },

    /// A setting that can never work.
    #[error("invalid proxy setting {setting}: {reason}")]
    Setting {
        /// Which setting.
        setting: &'static str,
        /// What is wrong, and what is accepted.
        reason: String,
    },

    /// The path prefix is malformed.
    #[error(
        "invalid proxy prefix {found:?}: expected a path starting with / and not ending with /, like /proxy"
    )]
    InvalidPrefix {
        /// The prefix given.
        found: String,
    },

    /// The TLS client could not be set up.
    #[error("cannot set up the TLS client: {0}")]
    Tls(#[from] rustls::Error),
}
