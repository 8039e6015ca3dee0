//! The Libravatar HTTP API (`GET /avatar/{hash}?s=&d=&f=`) as a tower [`Service`] and [`Layer`],
//! for axum, hyper, or anything else built on tower.
//!
//! ```
//! use avatar_proto::{HashAlgorithm, Identity};
//! use avatar_service::AvatarService;
//! use avatar_store::{MemoryStore, Store as _};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt as _;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! // An avatar for George, as a PNG file.
//! let mut png = Vec::new();
//! image::RgbImage::from_pixel(120, 90, image::Rgb([20, 120, 200]))
//!     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
//! let store = MemoryStore::new();
//! let george = Identity::parse("George@example.com")?;
//! store.put(&george, png.into()).await?;
//!
//! let service = AvatarService::new(store);
//! let uri = format!("/avatar/{}?s=64", george.hash(HashAlgorithm::Sha256));
//! let response = service.oneshot(Request::get(uri).body(())?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["content-type"], "image/png");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Mount it in axum as a nested service (`Router::nest_service("/avatars", service)`) or as a
//! layer in front of an application ([`AvatarLayer`]), which passes every other request through
//! untouched. `examples/axum.rs` shows both. [`AvatarService::from_dir`] is the embedded default:
//! a filesystem store in a directory. Both go inside the middleware an application already
//! has (tower-http's compression, CORS, timeouts, tracing): their bodies implement `Default`,
//! which `CorsLayer` and `TimeoutLayer` ask for, and pictures come through uncompressed with
//! their `ETag` (`tests/it/tower_http.rs`).
//!
//! Behaviour follows the Libravatar API and the project's decisions (`docs/protocol.md` section 2):
//! sizes 1..=512 (80 by default, larger clamped; up to 4096 by [`max_size`]); `d=404`, `mp`/`mm`,
//! `blank`, `color`, `initials` (from `name=`/`initials=`) and the generated keywords drawn at the
//! requested size; trusted or relative `d=` URLs redirected, everything else ignored; `f=y`; the
//! format the hash's extension names, else WebP for an `Accept` that lists it, else the stored
//! one ([`output_formats`]; `Vary: Accept`, an `ETag` per format); `Content-Type` from the bytes, `Content-Length`, a strong `ETag` and
//! `If-None-Match` -> 304, `Cache-Control` with separate max-ages for hits and defaults, CORS,
//! `Cross-Origin-Resource-Policy: cross-origin` (for pages that are cross-origin isolated) and
//! `nosniff`; HEAD, OPTIONS (standard methods in `Allow`), 405 with `Allow` for the rest;
//! malformed hashes get a 400 whose one-line body says what is accepted.
//!
//! Speed: what the store holds for each hash is remembered (`respond/index.rs`), keyed to the
//! store's [generation](avatar_store::Store::generation) so a put or remove is seen at once, and
//! renditions are kept in a byte-bounded cache (64 MiB by default, [`cache_bytes`]). A request
//! the two can answer (a hit, a known miss, a drawn default, a 304) is answered inside `call`,
//! with no task, no file access, no decoding, and no allocation beyond its response. Cold
//! renders run on blocking threads, at most [`render_threads`] at once, and concurrent requests
//! for the same rendition share one render.
//!
//! Where things live: [`config`] (the builder), [`service`] (the Service and its future),
//! [`layer`] (the Layer, the middleware it makes, its future and body), `body` ([`AvatarBody`]),
//! `respond` (the request flow: route, parse, look up in `index` and the cache, render,
//! respond), [`upstream`] (the optional Gravatar fallback), [`upload`] (storing what a user
//! uploads, for applications).
//!
//! [`cache_bytes`]: AvatarServiceBuilder::cache_bytes
//! [`max_size`]: AvatarServiceBuilder::max_size
//! [`output_formats`]: AvatarServiceBuilder::output_formats
//! [`render_threads`]: AvatarServiceBuilder::render_threads
//!
//! [`Service`]: tower_service::Service
//! [`Layer`]: tower_layer::Layer

mod body;
pub mod config;
mod error;
pub mod layer;
mod respond;
pub mod service;
pub mod stats;
pub mod upload;
pub mod upstream;

pub use body::AvatarBody;
pub use config::AvatarServiceBuilder;
pub use error::ServiceError;
pub use layer::{AvatarLayer, AvatarMiddleware};
/// The image and 404 answers, with the headers every answer of this crate carries.
pub use respond::response;
pub use service::AvatarService;
pub use stats::ServiceStats;
pub use upstream::{Upstream, UpstreamMode};
