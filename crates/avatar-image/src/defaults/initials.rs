//! `d=initials`: up to two letters on a colour the hash picks from the palette (Gravatar's
//! `initials`).
//!
//! The letters are drawn with DejaVu Sans Bold, shipped in `assets/fonts/` under its own
//! licence (the Bitstream Vera licence, whose DejaVu changes are public domain; it allows
//! redistribution with the notice, which `assets/fonts/DejaVu-LICENSE.txt` is). It covers
//! Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and Arabic letters among others; a letter
//! it lacks is left out, and when none is left the fallback is drawn: the `mp` figure in the
//! text colour on the same background, so a person is still told apart by colour.
//!
//! The text is white or black, whichever contrasts more with the background: one of them
//! always reaches 4.58:1, above WCAG AA's 4.5:1 for text, whatever palette a site gives.
//! Letters of a right-to-left script are laid out right to left. Glyphs are rasterised by
//! `ab_glyph`, centred on their drawn outlines (not the font's line box), and fitted to 62 % of
//! the width and 46 % of the height.

use std::sync::LazyLock;

use ab_glyph::{Font as _, FontRef, Glyph, OutlinedGlyph, PxScale, ScaleFont as _, point};
use avatar_proto::{AvatarHash, Initials};
use image::{Rgba, RgbaImage};

use super::Generator;
use super::colour::Colour;
use super::silhouette;
use super::solid::Palette;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The font, parsed once. The bytes are this crate's own (a test parses them), so a failure
/// here is a broken build, not bad input.
static FONT: LazyLock<FontRef<'static>> =
    LazyLock::new(|| FontRef::try_from_slice(FONT_BYTES).expect("the bundled font parses"));

/// Black: with white, the pair that guarantees AA on any background (a softer near-black
/// falls below 4.5:1 on some mid blues).
const DARK_TEXT: [u8; 3] = [0, 0, 0];
const WHITE_TEXT: [u8; 3] = [0xff, 0xff, 0xff];

/// Share of the side the letters may take across and down.
const FIT_WIDTH: f32 = 0.62;
const FIT_HEIGHT: f32 = 0.46;

/// The `initials` generator: these letters, on a colour from this palette.
#[derive(Debug, Clone, Default)]
pub struct InitialsPicture {
    /// The letters (none: the fallback figure).
    pub initials: Initials,
    /// Where the background colour comes from.
    pub palette: Palette,
}

impl InitialsPicture {
    /// No letters, the built-in palette: the fallback figure.
    pub const FALLBACK: Self = Self {
        initials: Initials::NONE,
        palette: Palette::DEFAULT,
    };
}

impl Generator for InitialsPicture {
    fn draw(&self, hash: &AvatarHash, size: u32) -> RgbaImage {
        let background = self.palette.pick(hash);
        let text = text_colour(background);
        let mut letters: Vec<char> = self
            .initials
            .letters()
            .iter()
            .copied()
            .filter(|&letter| is_covered(letter))
            .collect();
        if letters.is_empty() {
            return silhouette::draw_in(size, opaque(background), opaque(text));
        }
        if letters.first().copied().is_some_and(is_right_to_left) {
            letters.reverse();
        }
        draw_letters(&letters, size, background, text)
    }
}

/// `letters`, left to right, in `text` on `background`.
fn draw_letters(letters: &[char], size: u32, background: [u8; 3], text: [u8; 3]) -> RgbaImage {
    let mut image = RgbaImage::from_pixel(size, size, Rgba(opaque(background)));
    for glyph in layout(letters, size) {
        paint(&mut image, &glyph, text);
    }
    image
}

/// Whether the font has a glyph for `letter`.
#[must_use]
pub fn is_covered(letter: char) -> bool {
    FONT.glyph_id(letter).0 != 0
}

/// White or black, whichever contrasts more with `background` (WCAG 2 contrast ratio).
#[must_use]
pub fn text_colour(background: [u8; 3]) -> [u8; 3] {
    if contrast(WHITE_TEXT, background) >= contrast(DARK_TEXT, background) {
        WHITE_TEXT
    } else {
        DARK_TEXT
    }
}

/// The WCAG 2 contrast ratio of two sRGB colours (1 to 21).
#[must_use]
pub fn contrast(one: [u8; 3], other: [u8; 3]) -> f64 {
    let (a, b) = (luminance(one), luminance(other));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// WCAG 2 relative luminance.
fn luminance(colour: [u8; 3]) -> f64 {
    let channel = |value: u8| {
        let value = f64::from(value) / 255.0;
        if value <= 0.039_28 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(colour[0]) + 0.7152 * channel(colour[1]) + 0.0722 * channel(colour[2])
}

const fn opaque([red, green, blue]: [u8; 3]) -> Colour {
    [red, green, blue, 255]
}

/// Hebrew, Arabic, Syriac, Thaana, N'Ko and their presentation forms.
fn is_right_to_left(letter: char) -> bool {
    matches!(u32::from(letter), 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// The letters' outlines, scaled to fit and centred on the canvas.
fn layout(letters: &[char], size: u32) -> Vec<OutlinedGlyph> {
    #[expect(clippy::cast_precision_loss, reason = "sizes are at most 4096")]
    let side = size as f32;
    // Lay out at a trial scale, measure the ink, then scale and centre it.
    let trial = place(letters, PxScale::from(side), (0.0, 0.0));
    let Some((min_x, min_y, max_x, max_y)) = ink_bounds(&trial) else {
        return Vec::new();
    };
    let (width, height) = ((max_x - min_x).max(1.0), (max_y - min_y).max(1.0));
    let fit = (FIT_WIDTH * side / width).min(FIT_HEIGHT * side / height);
    let scale = PxScale::from(side * fit);
    let placed = place(letters, scale, (0.0, 0.0));
    let Some((min_x, min_y, max_x, max_y)) = ink_bounds(&placed) else {
        return Vec::new();
    };
    let shift = (
        (side - (max_x - min_x)) / 2.0 - min_x,
        (side - (max_y - min_y)) / 2.0 - min_y,
    );
    place(letters, scale, shift)
}

/// The outlined glyphs of `letters` at `scale`, on a baseline, moved by `shift`.
fn place(letters: &[char], scale: PxScale, shift: (f32, f32)) -> Vec<OutlinedGlyph> {
    let font = FONT.as_scaled(scale);
    let mut caret = 0.0f32;
    let mut previous: Option<Glyph> = None;
    let mut outlined = Vec::with_capacity(letters.len());
    for &letter in letters {
        let id = font.glyph_id(letter);
        if let Some(before) = &previous {
            caret += font.kern(before.id, id);
        }
        let glyph =
            id.with_scale_and_position(scale, point(caret + shift.0, font.ascent() + shift.1));
        caret += font.h_advance(id);
        previous = Some(glyph.clone());
        if let Some(outline) = FONT.outline_glyph(glyph) {
            outlined.push(outline);
        }
    }
    outlined
}

fn ink_bounds(glyphs: &[OutlinedGlyph]) -> Option<(f32, f32, f32, f32)> {
    glyphs
        .iter()
        .map(OutlinedGlyph::px_bounds)
        .fold(None, |bounds, rect| {
            Some(match bounds {
                None => (rect.min.x, rect.min.y, rect.max.x, rect.max.y),
                Some((x0, y0, x1, y1)) => (
                    x0.min(rect.min.x),
                    y0.min(rect.min.y),
                    x1.max(rect.max.x),
                    y1.max(rect.max.y),
                ),
            })
        })
}

/// Blends `text` into the image by each pixel's coverage of the glyph.
fn paint(image: &mut RgbaImage, glyph: &OutlinedGlyph, text: [u8; 3]) {
    let bounds = glyph.px_bounds();
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounds lie within the canvas, at most 4096"
    )]
    let (left, top) = (bounds.min.x.floor() as i64, bounds.min.y.floor() as i64);
    glyph.draw(|x, y, coverage| {
        let (Ok(x), Ok(y)) = (
            u32::try_from(left + i64::from(x)),
            u32::try_from(top + i64::from(y)),
        ) else {
            return;
        };
        let Some(pixel) = image.get_pixel_mut_checked(x, y) else {
            return;
        };
        let coverage = coverage.clamp(0.0, 1.0);
        for (channel, ink) in pixel.0.iter_mut().zip(text) {
            let mixed = f32::from(*channel) * (1.0 - coverage) + f32::from(ink) * coverage;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "within 0..=255"
            )]
            {
                *channel = mixed.round().clamp(0.0, 255.0) as u8;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use avatar_proto::HashAlgorithm;

    use super::*;

    fn hash(n: u32) -> AvatarHash {
        HashAlgorithm::Md5.digest(format!("i{n}@example.org").as_bytes())
    }

    fn picture(name: &str) -> InitialsPicture {
        InitialsPicture {
            initials: Initials::from_query(None, Some(name)),
            palette: Palette::DEFAULT,
        }
    }

    #[test]
    fn one_of_white_and_dark_text_always_reaches_wcag_aa() {
        for red in (0..=255u8).step_by(15) {
            for green in (0..=255u8).step_by(15) {
                for blue in (0..=255u8).step_by(15) {
                    let background = [red, green, blue];
                    let ratio = contrast(text_colour(background), background);
                    assert!(ratio >= 4.5, "{background:?}: {ratio:.2}:1");
                }
            }
        }
    }

    #[test]
    fn the_font_covers_the_scripts_it_claims_and_not_cjk() {
        for letter in ['J', 'É', 'Ø', 'Σ', 'Ж', 'Ա', 'ა', 'ש', 'ع', '7'] {
            assert!(is_covered(letter), "{letter}");
        }
        assert!(!is_covered('山'));
    }

    #[test]
    fn letters_are_centred_and_inside_the_square() {
        for size in [16, 80, 512] {
            let image = picture("Wide Mouth").draw(&hash(1), size);
            let background = image.get_pixel(0, 0).0;
            let inked: Vec<(u32, u32)> = image
                .enumerate_pixels()
                .filter(|(_, _, pixel)| pixel.0 != background)
                .map(|(x, y, _)| (x, y))
                .collect();
            assert!(!inked.is_empty(), "{size}: something is drawn");
            let (min_x, max_x) = (
                inked.iter().map(|p| p.0).min().unwrap(),
                inked.iter().map(|p| p.0).max().unwrap(),
            );
            let (min_y, max_y) = (
                inked.iter().map(|p| p.1).min().unwrap(),
                inked.iter().map(|p| p.1).max().unwrap(),
            );
            // Equal margins on each side, to within a pixel or two of anti-aliasing.
            let slack = 2 + size / 64;
            assert!(
                min_x.abs_diff(size - 1 - max_x) <= slack,
                "{size}: x {min_x}..{max_x}"
            );
            assert!(
                min_y.abs_diff(size - 1 - max_y) <= slack,
                "{size}: y {min_y}..{max_y}"
            );
            assert!(max_x - min_x <= size * 64 / 100, "{size}: fits across");
        }
    }

    #[test]
    fn names_draw_differently_and_an_uncovered_script_draws_the_fallback() {
        let jd = picture("Jane Doe").draw(&hash(2), 64);
        assert_ne!(jd, picture("Kim Lee").draw(&hash(2), 64));
        let cjk = picture("山田太郎").draw(&hash(2), 64);
        let none = picture("").draw(&hash(2), 64);
        assert_eq!(cjk, none, "no covered letter: the fallback figure");
        assert_ne!(cjk, jd);
        // The fallback keeps the hash's background colour.
        let [r, g, b] = Palette::DEFAULT.pick(&hash(2));
        assert_eq!(none.get_pixel(0, 0).0, [r, g, b, 255]);
    }

    #[test]
    fn right_to_left_letters_are_laid_out_right_to_left() {
        // "דוד כהן" gives ד then כ: read right to left, ד stands on the right.
        let hebrew = picture("דוד כהן").draw(&hash(3), 64);
        let background = Palette::DEFAULT.pick(&hash(3));
        let text = text_colour(background);
        assert_eq!(hebrew, draw_letters(&['כ', 'ד'], 64, background, text));
        assert_ne!(hebrew, draw_letters(&['ד', 'כ'], 64, background, text));
    }
}
