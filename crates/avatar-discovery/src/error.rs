//! The one error type of this crate: what can go wrong while building a [`Discovery`](crate::Discovery).
//!
//! Lookups themselves never fail: every DNS problem ends in the central server, with the reason
//! in [`BaseUrl::origin`](avatar_proto::BaseUrl::origin).

/// Why a [`Discovery`](crate::Discovery) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The system resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the system DNS configuration: {0}; pass nameservers explicitly (IP:PORT)")]
    SystemConfig(String),

    /// The resolver could not be built from the given settings.
    #[error("cannot build the DNS resolver: {0}")]
    Resolver(String),

    /// A setting is out of range.
    #[error("invalid discovery setting: {0}")]
    Setting(&'static str),

    /// Zone-file text for the fake DNS server is invalid.
    #[cfg(feature = "fake-dns")]
    #[error("invalid zone: {0}")]
    Zone(String),

    /// The fake DNS server could not bind a port.
    #[cfg(feature = "fake-dns")]
    #[error("cannot bind the fake DNS server: {0}")]
    Bind(std::io::Error),
}
