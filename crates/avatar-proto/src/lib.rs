//! The Libravatar protocol, as pure functions and types: no I/O, no async.
//!
//! Every other crate of the project (the HTTP service, the discovery client, the XMPP side, the
//! CLI and the conformance harness) calls these rules rather than restating them.
//!
//! ```
//! use avatar_proto::{AvatarRequest, AvatarUrlBuilder, BaseUrl, HashAlgorithm, Identity, RequestRules, Scheme, SrvRecord};
//!
//! // A client: normalise the identity, find the base URL from SRV records, build the URL.
//! let identity = Identity::parse(" George@Example.com ")?;
//! let records = [SrvRecord::new(10, 5, 443, "avatars.example.com.")];
//! let base = BaseUrl::from_srv(Scheme::Https, &records, &mut |max| max / 2);
//! let url = AvatarUrlBuilder::new(identity)
//!     .algorithm(HashAlgorithm::Sha256)
//!     .size(128)
//!     .default_image("identicon")
//!     .build_with_base(&base);
//! assert_eq!(
//!     url,
//!     "https://avatars.example.com/avatar/47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066?s=128&d=identicon"
//! );
//!
//! // A server: parse what the client sent.
//! let (path, query) = url.split_once('?').unwrap();
//! let hash_segment = path.rsplit('/').next().unwrap();
//! let request = AvatarRequest::parse(&RequestRules::default(), hash_segment, query)?;
//! assert_eq!(request.size, 128);
//! assert_eq!(request.hash, Identity::parse("george@example.com")?.hash(HashAlgorithm::Sha256));
//! # Ok::<(), avatar_proto::Error>(())
//! ```
//!
//! Where things live:
//! - [`identity`]: emails and OpenID URLs, normalisation, hashes, the domain for discovery;
//! - [`hash`]: [`AvatarHash`] and [`HashAlgorithm`];
//! - [`format`](mod@format): [`ImageFormat`], and which one a response is in (extension, `Accept`);
//! - [`request`]: parsing `/avatar/{hash}?query` ([`AvatarRequest`]), default keywords, the
//!   trusted-URL filter for `d=` redirects;
//! - [`srv`]: SRV records, RFC 2782 selection, sanitising, base URLs and central fallbacks;
//! - [`url_builder`]: [`AvatarUrlBuilder`] for clients;
//! - [`hex`]: the one hex codec of the project.
//! - [`report`]: an error and its causes on one line, the one way the project writes them.
//!
//! The rules themselves, each with its source, follow: they are `docs/protocol.md` of the
//! repository, included here so they are read where the code that follows them is documented.
//! Code cites them by id (`[server.size]`).
//!
#![doc = include_str!("../protocol.md")]

mod error;
pub mod format;
pub mod hash;
pub mod hex;
pub mod identity;
pub mod report;
pub mod request;
mod scheme;
pub mod srv;
pub mod url_builder;

pub use error::Error;
pub use format::{FormatChoice, ImageFormat, OutputFormats};
pub use hash::{AvatarHash, HashAlgorithm};
pub use identity::{Email, Identity, OpenId};
pub use request::{
    AvatarQuery, AvatarRequest, DefaultImage, DefaultKeyword, Initials, RedirectTarget,
    RequestRules, RobohashSet, TrustedUrl, TrustedUrls,
};
pub use scheme::Scheme;
pub use srv::{BaseOrigin, BaseUrl, Fallback, SrvRecord, SrvTarget};
pub use url_builder::AvatarUrlBuilder;
