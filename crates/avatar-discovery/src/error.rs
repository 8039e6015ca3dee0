//! The one error type of this crate: what can go wrong while building a [`Discovery`](crate::Discovery)
//! (or, with the `fake-dns` feature, starting a [`FakeDns`](crate::fake_dns::FakeDns)).
//!
//! Lookups of SRV records never fail: every DNS problem ends in the central server, with the
//! reason in [`BaseUrl::origin`](avatar_proto::BaseUrl::origin). Looking up the addresses of a
//! discovered host ([`Discovery::host_addresses`](crate::Discovery::host_addresses)) can.

/// Why a [`Discovery`](crate::Discovery) could not be built, or a host's addresses found.
///
/// Each variant keeps the error it came from as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The system resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error(
        "cannot read the system DNS configuration ({source}); pass nameservers explicitly (IP:PORT)"
    )]
    SystemConfig {
        /// What the resolver said.
        source: hickory_resolver::net::NetError,
    },

    /// The resolver could not be built from the given settings.
    #[error("cannot build the DNS resolver: {source}")]
    Resolver {
        /// What the resolver said.
        source: hickory_resolver::net::NetError,
    },

    /// A setting is out of range.
    #[error("invalid discovery setting: {0}")]
    Setting(&'static str),

    /// A host's addresses could not be found
    /// ([`Discovery::host_addresses`](crate::Discovery::host_addresses)).
    #[error("cannot find the addresses of {host}: {reason}")]
    HostAddresses {
        /// The host name asked for.
        host: String,
        /// Why: no such name, no addresses, no answer in time, or the resolver's error.
        reason: String,
    },

    /// Zone-file text for the fake DNS server does not parse.
    #[cfg(feature = "fake-dns")]
    #[error("invalid zone file text: {source}")]
    ZoneText {
        /// What the zone parser said.
        source: hickory_proto::serialize::txt::ParseError,
    },

    /// A zone parsed but cannot be served (hickory-server says why only in words, for example a
    /// missing SOA record).
    #[cfg(feature = "fake-dns")]
    #[error("cannot serve the zone {origin}: {reason}")]
    Zone {
        /// The zone's origin.
        origin: String,
        /// Why hickory-server refused it.
        reason: String,
    },

    /// A record given beside the zones belongs to none of them.
    #[cfg(feature = "fake-dns")]
    #[error("the extra record for {name} is outside every zone; add the zone it belongs to")]
    RecordOutsideZones {
        /// The record's owner name.
        name: String,
    },

    /// The fake DNS server could not bind a port.
    #[cfg(feature = "fake-dns")]
    #[error("cannot bind the fake DNS server to a loopback port: {0}")]
    Bind(#[source] std::io::Error),
}
