//! Default images, drawn by the project at the requested size (never a scaled bitmap).
//!
//! Every keyword maps to a [`Generator`]. `mp`/`mm` and `blank` are drawn here; the generated
//! keywords (`identicon`, `monsterid`, `wavatar`, `retro`, `robohash`, `pagan`) get their own
//! generators in a later release and meanwhile draw the silhouette on a background coloured by the
//! hash, so they are already deterministic per hash and different between hashes.

mod silhouette;

use avatar_proto::{AvatarHash, DefaultKeyword};
use bytes::Bytes;
use image::{Rgba, RgbaImage};

use crate::encode;
use crate::error::ImageError;
use crate::format::ImageFormat;
use crate::render::{Rendered, check_size};

/// Draws one kind of default image.
pub trait Generator: Send + Sync {
    /// Draws the image for `hash` at exactly `size` x `size` (1..=4096). Must be deterministic.
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage;
}

/// The "mystery person" silhouette, the same for everyone.
#[derive(Debug, Clone, Copy, Default)]
pub struct MysteryPerson;

impl Generator for MysteryPerson {
    fn draw(&self, _hash: &AvatarHash, size: u32) -> RgbaImage {
        silhouette::draw(size, silhouette::GREY_BACKGROUND)
    }
}

/// A fully transparent square.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blank;

impl Generator for Blank {
    fn draw(&self, _hash: &AvatarHash, size: u32) -> RgbaImage {
        RgbaImage::from_pixel(size, size, Rgba([0, 0, 0, 0]))
    }
}

/// Stand-in for generated keywords not drawn yet: the silhouette on a hash-coloured background.
#[derive(Debug, Clone, Copy, Default)]
pub struct HashTintedSilhouette;

impl Generator for HashTintedSilhouette {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let bytes = hash.as_bytes();
        // Keep the tint mid-bright so the white figure stays visible.
        let channel = |byte: u8| 70 + byte % 120;
        silhouette::draw(
            size,
            Rgba([channel(bytes[0]), channel(bytes[1]), channel(bytes[2]), 255]),
        )
    }
}

/// The generator for a keyword; `None` for `404`, which is not an image.
#[must_use]
pub fn generator(keyword: DefaultKeyword) -> Option<&'static dyn Generator> {
    match keyword {
        DefaultKeyword::NotFound => None,
        DefaultKeyword::MysteryPerson => Some(&MysteryPerson),
        DefaultKeyword::Blank => Some(&Blank),
        DefaultKeyword::Identicon
        | DefaultKeyword::MonsterId
        | DefaultKeyword::Wavatar
        | DefaultKeyword::Retro
        | DefaultKeyword::Robohash(_)
        | DefaultKeyword::Pagan => Some(&HashTintedSilhouette),
    }
}

/// Draws and encodes (PNG) the default `keyword` for `hash` at `size`; `Ok(None)` for `404`.
///
/// # Errors
/// [`ImageError::InvalidSize`] outside 1..=4096.
pub fn render_default(
    keyword: DefaultKeyword,
    hash: &AvatarHash,
    size: u32,
) -> Result<Option<Rendered>, ImageError> {
    check_size(size)?;
    let Some(generator) = generator(keyword) else {
        return Ok(None);
    };
    let image = generator.draw(hash, size);
    Ok(Some(Rendered {
        bytes: Bytes::from(encode::png(image)?),
        format: ImageFormat::Png,
        size,
    }))
}
