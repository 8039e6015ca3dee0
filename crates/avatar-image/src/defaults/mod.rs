//! Default images, drawn by the project at the requested size (never a scaled bitmap).
//!
//! Every keyword maps to a [`Generator`], drawn by this crate's own code at the requested size,
//! deterministic in the hash: `identicon`, `retro`, `monsterid`, `wavatar`, `robohash` (`set1`
//! robots, `set2` monsters, `set3` robot heads), `pagan`, `color` (a solid colour the hash
//! picks from a [`Palette`] a site may theme), `initials` (letters from the request on a
//! palette colour, in a bundled font), the `mp` silhouette and `blank`. No sprite sheets,
//! nothing scaled up.
//!
//! How a drawing is made:
//! - `canvas.rs`: the pixels, and how shapes are painted on them (exact-area rectangles for the
//!   pixel styles, signed distances with one pixel of anti-aliasing for the rest);
//! - `shapes.rs`: the shapes, with short constructors (`circle(x, y, r)`);
//! - `parts.rs`: what several generators draw (grids of cells, eyes, lamps, fangs);
//! - `colour.rs` and `entropy.rs`: colours, and the numbers drawn from the hash;
//! - one module per generator, one function per part of the figure, painted back to front.

mod canvas;
mod colour;
mod entropy;
mod identicon;
mod initials;
mod monsterid;
mod pagan;
mod parts;
mod retro;
mod robohash;
mod shapes;
mod silhouette;
mod solid;
mod wavatar;

pub use identicon::Identicon;
pub use initials::{InitialsPicture, contrast, is_covered, text_colour};
pub use monsterid::MonsterId;
pub use pagan::Pagan;
pub use retro::Retro;
pub use robohash::Robohash;
pub use solid::{Palette, SolidColour};
pub use wavatar::Wavatar;

use avatar_proto::{AvatarHash, DefaultKeyword, RobohashSet};
use bytes::Bytes;
use image::{Rgba, RgbaImage};

use crate::encode;
use crate::error::ImageError;
use crate::render::{Rendered, check_size};
use crate::resize::Pixels;
use avatar_proto::ImageFormat;

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

/// The generator for a keyword; `None` for `404`, which is not an image.
#[must_use]
pub fn generator(keyword: DefaultKeyword) -> Option<&'static dyn Generator> {
    match keyword {
        DefaultKeyword::NotFound => None,
        DefaultKeyword::MysteryPerson => Some(&MysteryPerson),
        DefaultKeyword::Blank => Some(&Blank),
        DefaultKeyword::Identicon => Some(&Identicon),
        DefaultKeyword::MonsterId => Some(&MonsterId),
        DefaultKeyword::Wavatar => Some(&Wavatar),
        DefaultKeyword::Retro => Some(&Retro),
        DefaultKeyword::Robohash(RobohashSet::Set1) => Some(&Robohash(RobohashSet::Set1)),
        DefaultKeyword::Robohash(RobohashSet::Set2) => Some(&Robohash(RobohashSet::Set2)),
        DefaultKeyword::Robohash(RobohashSet::Set3) => Some(&Robohash(RobohashSet::Set3)),
        DefaultKeyword::Pagan => Some(&Pagan),
        DefaultKeyword::Colour => Some(&SolidColour::DEFAULT),
        // The letters come with the request: see `render_default_with`.
        DefaultKeyword::Initials(_) => Some(&InitialsPicture::FALLBACK),
    }
}

/// The generators whose drawing depends on the request (letters) or the site (palette).
enum Themed {
    Colour(SolidColour),
    Initials(InitialsPicture),
}

impl Themed {
    fn generator(&self) -> &dyn Generator {
        match self {
            Self::Colour(colour) => colour,
            Self::Initials(initials) => initials,
        }
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
    render_default_with(keyword, hash, size, &Palette::DEFAULT, ImageFormat::Png)
}

/// [`render_default`] with `palette` for `d=color` and `d=initials`, encoded in `format` (losslessly for WebP;
/// transparency on white for JPEG).
///
/// # Errors
/// [`ImageError::InvalidSize`] outside 1..=4096; [`ImageError::Encode`] for AVIF without the
/// `avif` feature.
pub fn render_default_with(
    keyword: DefaultKeyword,
    hash: &AvatarHash,
    size: u32,
    palette: &Palette,
    format: ImageFormat,
) -> Result<Option<Rendered>, ImageError> {
    check_size(size)?;
    let themed;
    let generator = match keyword {
        DefaultKeyword::Colour => {
            themed = Themed::Colour(SolidColour {
                palette: palette.clone(),
            });
            themed.generator()
        }
        DefaultKeyword::Initials(initials) => {
            themed = Themed::Initials(InitialsPicture {
                initials,
                palette: palette.clone(),
            });
            themed.generator()
        }
        other => match generator(other) {
            Some(generator) => generator,
            None => return Ok(None),
        },
    };
    let image = generator.draw(hash, size);
    let encoded = encode::still(Pixels::Rgba(image), format, encode::Source::Exact)?;
    Ok(Some(Rendered {
        bytes: Bytes::from(encoded),
        format,
        size,
    }))
}
