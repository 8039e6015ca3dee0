//! Show anyone's avatar through your own site: [`AvatarProxy`] resolves the identity's avatar
//! server by DNS SRV, fetches the picture as a careful client (deadline, byte cap, no internal
//! addresses, re-checked redirects), re-encodes it at the asked size and caches it, so a
//! visitor's browser talks to no third party: the central server never learns which site the
//! visitor reads, and never sees the hash.
//!
//! ```
//! use avatar_discovery::Discovery;
//! use avatar_proto::Identity;
//! use avatar_proxy::{AvatarProxy, ProxyKey, ProxyKeys};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ProxyKeys::new(ProxyKey::generate(), Vec::new());
//! let discovery = Discovery::builder().nameserver("127.0.0.1:9".parse()?).build()?;
//! let proxy = AvatarProxy::builder(keys, discovery).build()?;
//!
//! // In a template: a URL that names nobody, stable for caches.
//! let alice = Identity::parse("alice@example.org")?;
//! let src = proxy.url(&alice, 80, Some("identicon"))?;
//! assert!(src.starts_with("/proxy/") && src.ends_with("?s=80&d=identicon"));
//! assert!(!src.contains("alice") && !src.contains("example"));
//! assert_eq!(src, proxy.url(&alice, 80, Some("identicon"))?);
//! // Mount `proxy` (a tower Service) at /proxy, as axum's `Router::route_service("/proxy/{token}", proxy)`.
//! # Ok(()) }
//! ```
//!
//! A site that also stores its own users' avatars gives the proxy its [`AvatarService`]
//! ([`AvatarProxyBuilder::local`]): those users are answered from its store, the rest fetched.
//!
//! Where things live: [`token`] (sealing identities into URLs, key rotation), [`guard`] (which
//! addresses may be fetched), [`fetch`] (the upstream client and its limits), `respond` (one
//! request: route, open, the local store, resolve, fetch once per identity, render, answer or
//! fall back to the asked default), `local` (answering from a local store), `disk` (the
//! optional on-disk cache of originals), [`config`] (the builder),
//! [`service`] (the Service and the URL minter), [`layer`] (the Layer and its middleware).
//!
//! [`AvatarService`]: avatar_service::AvatarService
//!
//! `SECURITY.md` has the proxy's threat model, each defence and its test; `cargo xtask bench
//! --only proxy` measures it.

pub mod config;
mod disk;
mod error;
pub mod fetch;
pub mod guard;
pub mod layer;
mod local;
mod respond;
pub mod service;
pub mod token;

pub use config::{AvatarProxyBuilder, GravatarFallback};
pub use error::ProxyError;
pub use guard::AddressGuard;
pub use layer::{AvatarProxyLayer, AvatarProxyMiddleware};
pub use service::{AvatarProxy, ProxyStats};
pub use token::{ProxyKey, ProxyKeys};
