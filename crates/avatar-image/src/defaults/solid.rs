//! `d=color`: a solid square in a colour the hash picks from a palette (Gravatar's `color`).

use std::borrow::Cow;

use avatar_proto::AvatarHash;
use image::{Rgba, RgbaImage};
use sha2::{Digest as _, Sha256};

use super::Generator;
use super::entropy::Entropy;
use crate::error::ImageError;

/// The colours `d=color` picks from. The default is sixteen saturated, mid-dark colours, each
/// keeping white text readable (WCAG AA, at least 4.5:1, tested); a site can give its own to
/// theme its defaults ([`Palette::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Palette {
    colours: Cow<'static, [[u8; 3]]>,
}

/// The default palette's colours.
const DEFAULT_COLOURS: [[u8; 3]; 16] = [
    [0x1e, 0x6f, 0xc8],
    [0x2e, 0x7d, 0x32],
    [0xc6, 0x28, 0x28],
    [0xc4, 0x3e, 0x00],
    [0x7b, 0x1f, 0xa2],
    [0x00, 0x79, 0x6b],
    [0x6d, 0x4c, 0x41],
    [0x45, 0x5a, 0x64],
    [0xad, 0x14, 0x57],
    [0x30, 0x3f, 0x9f],
    [0x00, 0x6d, 0x7a],
    [0x4d, 0x7f, 0x2b],
    [0xbf, 0x36, 0x0c],
    [0x51, 0x2d, 0xa8],
    [0x7c, 0x72, 0x16],
    [0x02, 0x77, 0xbd],
];

impl Default for Palette {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Palette {
    /// The built-in sixteen colours.
    pub const DEFAULT: Self = Self {
        colours: Cow::Borrowed(&DEFAULT_COLOURS),
    };

    /// A palette of `colours` (RGB), in the order given; the same hash keeps its colour as long
    /// as the palette is the same.
    ///
    /// # Errors
    /// [`ImageError::EmptyPalette`] for no colours.
    pub fn new(colours: Vec<[u8; 3]>) -> Result<Self, ImageError> {
        if colours.is_empty() {
            return Err(ImageError::EmptyPalette);
        }
        Ok(Self {
            colours: Cow::Owned(colours),
        })
    }

    /// The colours.
    #[must_use]
    pub fn colours(&self) -> &[[u8; 3]] {
        &self.colours
    }

    /// The colour of `hash`: one of the palette's, the same every time.
    #[must_use]
    pub fn pick(&self, hash: &AvatarHash) -> [u8; 3] {
        let index = Entropy::new(b"color", hash).below(self.colours.len());
        self.colours[index]
    }

    /// A number that tells palettes apart (from a digest of the colours), for render keys and
    /// validators: renditions drawn with another palette must not share an `ETag` with these.
    #[must_use]
    pub fn id(&self) -> u64 {
        let mut hasher = Sha256::new();
        for colour in self.colours.iter() {
            hasher.update(colour);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        u64::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }
}

/// The `color` generator over a palette.
#[derive(Debug, Clone, Default)]
pub struct SolidColour {
    /// Where the colour comes from.
    pub palette: Palette,
}

impl SolidColour {
    /// With the built-in palette.
    pub const DEFAULT: Self = Self {
        palette: Palette::DEFAULT,
    };
}

impl Generator for SolidColour {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let [red, green, blue] = self.palette.pick(hash);
        RgbaImage::from_pixel(size, size, Rgba([red, green, blue, 255]))
    }
}

#[cfg(test)]
mod tests {
    use avatar_proto::HashAlgorithm;

    use super::*;

    #[test]
    fn white_text_reads_on_every_default_colour() {
        for colour in Palette::DEFAULT.colours() {
            let ratio = super::super::contrast([255, 255, 255], *colour);
            assert!(ratio >= 4.5, "{colour:?}: {ratio:.2}:1");
        }
    }

    #[test]
    fn hashes_spread_over_the_palette_and_keep_their_colour() {
        let hash = |n: u32| HashAlgorithm::Md5.digest(format!("p{n}@example.org").as_bytes());
        let palette = Palette::DEFAULT;
        let used: std::collections::HashSet<[u8; 3]> =
            (0..400).map(|n| palette.pick(&hash(n))).collect();
        assert_eq!(used.len(), 16, "every colour gets used");
        assert_eq!(palette.pick(&hash(7)), palette.pick(&hash(7)));
        let own = Palette::new(vec![[1, 2, 3]]).unwrap();
        assert_eq!(own.pick(&hash(7)), [1, 2, 3]);
        assert_ne!(own.id(), palette.id());
        assert_eq!(Palette::new(Vec::new()), Err(ImageError::EmptyPalette));
    }
}
