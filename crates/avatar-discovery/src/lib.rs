//! Find a domain's Libravatar server through DNS SRV, the way the spec demands: cached, bounded by
//! a short timeout, sanitised, and falling back to the central server whenever anything is off.
//!
//! ```
//! use avatar_discovery::{Discovery, fake_dns::FakeDns};
//! use avatar_proto::{AvatarUrlBuilder, Identity, Scheme};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! // A real DNS server on 127.0.0.1 answering from zone-file text (leading white space means
//! // "same owner as before" in a zone file, so the lines start at the margin).
//! let zone = "$ORIGIN example.org.
//! @ 3600 IN SOA ns.example.org. admin.example.org. 1 7200 900 1209600 300
//! _avatars-sec._tcp 3600 IN SRV 0 0 8443 avatars.example.org.
//! ";
//! let dns = FakeDns::start(&[zone]).await?;
//! let discovery = Discovery::builder().nameserver(dns.addr()).build()?;
//!
//! let base = discovery.base_url("example.org", Scheme::Https).await;
//! assert_eq!(base.as_str(), "https://avatars.example.org:8443/avatar/");
//! // No _avatars._tcp record: the central server.
//! assert_eq!(discovery.base_url("example.org", Scheme::Http).await.as_str(), "http://cdn.libravatar.org/avatar/");
//!
//! let url = discovery
//!     .avatar_url(&AvatarUrlBuilder::new(Identity::parse("George@example.org")?).scheme(Scheme::Https).size(64))
//!     .await;
//! assert!(url.starts_with("https://avatars.example.org:8443/avatar/"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The selection, sanitising and URL rules themselves live in `avatar_proto::srv`; this crate adds
//! the DNS queries ([`lookup`](crate) via hickory-resolver), the cache and the timeouts. With the
//! `fake-dns` feature, [`fake_dns`] provides the in-process DNS server the tests and the
//! conformance harness answer from.

mod cache;
mod clock;
mod discovery;
mod error;
#[cfg(feature = "fake-dns")]
pub mod fake_dns;
mod lookup;
mod random;

pub use clock::{Clock, ManualClock, SystemClock};
pub use discovery::{DEFAULT_TIMEOUT, Discovery, DiscoveryBuilder, MIN_POSITIVE_TTL};
pub use error::DiscoveryError;
pub use lookup::SrvAnswer;
