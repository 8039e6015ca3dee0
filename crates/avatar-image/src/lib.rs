//! Avatar images: decode untrusted files under limits, crop the centred square, resize to exactly
//! N x N, encode in the stored format; cache renditions; draw the default images.
//!
//! ```
//! use avatar_image::{ImageFormat, Limits, render_square};
//!
//! // A 3 x 2 PNG, as an upload would bring it.
//! let mut png = Vec::new();
//! image::RgbImage::from_pixel(3, 2, image::Rgb([200, 30, 30]))
//!     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
//!
//! let rendered = render_square(&png, 80, &Limits::default())?;
//! assert_eq!(rendered.format, ImageFormat::Png);
//! let decoded = image::load_from_memory(&rendered.bytes)?;
//! assert_eq!((decoded.width(), decoded.height()), (80, 80));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where things live: [`decode`] (limits, probing, validation), `color` (colour profiles to
//! sRGB), [`prepare`] and [`prepare_cropped`] (what an upload is stored as: its master, or the
//! square chosen), `resize` (crop and resize),
//! `encode` (the encoders, and why each), [`render`] (the pipeline), [`cache`] (the render cache), [`rendition_files`] (renditions kept on disk past it), [`render_ahead`] (renditions made when a picture is stored), [`defaults`] (drawn
//! default images), [`xmpp`] (the XMPP rendition: 32..=64 px, under 8 KB), [`cache_disk`] (the
//! disk a cache of files is on), [`throttle`] (warnings said at most once a period).
//!
//! Features: `avif` (AVIF output, by ravif) and `libjpeg-turbo` (JPEG encoded by the system's
//! libjpeg-turbo, about twice as fast as the default `jpeg-encoder`; it needs the library and
//! its headers, Debian's `libturbojpeg0-dev`, found by pkg-config). Renditions of a build with
//! `libjpeg-turbo` have other [fingerprints](RenderKey::fingerprint), as their JPEG bytes differ.

pub mod cache;
pub mod cache_disk;
mod color;
pub mod decode;
pub mod defaults;
mod encode;
mod error;
mod limits;
mod master;
pub mod render;
pub mod render_ahead;
pub mod rendition_files;
mod resize;
pub mod rung;
pub mod throttle;
pub mod xmpp;

pub use avatar_proto::{ImageFormat, OutputFormats};
pub use cache::{RenderCache, RenderKey};
pub use decode::{ImageInfo, probe, validate};
pub use defaults::{Palette, render_default, render_default_with};
pub use error::ImageError;
pub use limits::Limits;
pub use master::{Crop, Prepared, prepare, prepare_cropped};
pub use render::{Rendered, render_from_rung, render_square, render_square_as, render_stored};
pub use render_ahead::RenderAhead;
pub use rendition_files::{FileRead, RenditionFiles};
pub use xmpp::{XmppRendition, render_xmpp};
