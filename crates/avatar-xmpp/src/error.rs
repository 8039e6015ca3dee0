//! [`ConfigError`]: why a component configuration (or its subscriptions file) was refused.
//!
//! (What an IQ is refused for is a [`Refusal`](crate::Refusal), sent back as a stanza error; a
//! payload that does not parse is a [`PayloadError`](crate::PayloadError), as in xmpp-parsers.)

/// Why a [`ComponentConfig`](crate::ComponentConfig) was refused.
///
/// Refused when the configuration is built, so that a program exits with this message rather
/// than reconnecting forever to a server that will never accept it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The component domain is not a valid JID domain.
    #[error(
        "invalid component domain {domain:?}: {source}; expected a domain such as avatars.example.org, with no '@' or '/'"
    )]
    InvalidDomain {
        /// The domain as given.
        domain: String,
        /// What the JID parser said.
        source: jid::Error,
    },

    /// The component domain names a user or a resource, not a domain.
    #[error(
        "invalid component domain {domain:?}: a component owns a whole domain, such as avatars.example.org, with no '@' or '/'"
    )]
    NotADomain {
        /// The domain as given.
        domain: String,
    },

    /// The server address is not `HOST:PORT`.
    #[error(
        "invalid server address {server:?}: expected HOST:PORT of the server's component port, such as 127.0.0.1:5347"
    )]
    InvalidServer {
        /// The address as given.
        server: String,
    },

    /// The shared secret is empty.
    #[error("the component secret is empty; use the secret set for this component on the server")]
    EmptySecret,

    /// The subscriptions cannot be read.
    #[error("cannot read the subscriptions in {place}: {source}")]
    SubscriptionsUnreadable {
        /// Where they are (a file, or a database document).
        place: String,
        /// What the system said.
        source: std::io::Error,
    },

    /// The subscriptions hold a line that is neither a subscription nor a mirror.
    #[error(
        "the subscriptions in {place} are damaged at line {line}: {why}; fix or remove that line"
    )]
    SubscriptionsLine {
        /// Where they are (a file, or a database document).
        place: String,
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
}
