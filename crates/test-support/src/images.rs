//! Real encoded images, built from plain pixels.

use std::io::Cursor;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, DynamicImage, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// `image` encoded as `format` (as RGBA for GIF and WebP, which the encoders want).
///
/// # Panics
/// If the encoder fails, which it does not for in-memory images of these formats.
#[must_use]
pub fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let dynamic = DynamicImage::ImageRgb8(image.clone());
    let dynamic = if matches!(format, ImageFormat::Gif | ImageFormat::WebP) {
        DynamicImage::ImageRgba8(dynamic.to_rgba8())
    } else {
        dynamic
    };
    let mut out = Vec::new();
    dynamic
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("an in-memory image encodes");
    out
}

/// `image` as a PNG file.
#[must_use]
pub fn png(image: &RgbImage) -> Vec<u8> {
    encode(image, ImageFormat::Png)
}

/// The mean absolute difference per channel, in levels (0 to 255), between two encoded
/// pictures of the same dimensions: under a few levels, the same picture re-encoded.
///
/// # Panics
/// If either is not an image, or their dimensions differ.
#[must_use]
#[expect(clippy::cast_precision_loss, reason = "sums and counts far below 2^52")]
pub fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
    let a = image::load_from_memory(a).expect("an image").to_rgb8();
    let b = image::load_from_memory(b).expect("an image").to_rgb8();
    assert_eq!(a.dimensions(), b.dimensions(), "pictures of the same size");
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

/// A `width` x `height` image in three vertical bands: pure red, green and blue.
#[must_use]
pub fn bands(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| match 3 * x / width {
        0 => Rgb([255, 0, 0]),
        1 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    })
}

/// A `width` x `height` image of one colour.
#[must_use]
pub fn solid(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb(rgb))
}

/// A `width` x `height` checkerboard of 5-pixel squares, `rgb` and white.
#[must_use]
pub fn checkers(width: u32, height: u32, rgb: [u8; 3]) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if (x / 5 + y / 5) % 2 == 0 {
            Rgb(rgb)
        } else {
            Rgb([255, 255, 255])
        }
    })
}

/// `width` x `height` pixels of xorshift noise from `seed`: the worst case for compression, so
/// a PNG of it is about `width * height * 3` bytes.
#[must_use]
pub fn noise(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut state = seed | 1;
    RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        Rgb([r, g, b])
    })
}

/// Smooth waves plus a ramp: something like a photo for a resizer or an encoder (it compresses
/// like one), deterministic.
#[must_use]
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "pixel arithmetic on small, positive values (28..=228)"
)]
pub fn photo_like(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (128.0 + 100.0 * (x as f32 / 17.0).sin()) as u8,
            (128.0 + 100.0 * (y as f32 / 23.0).cos()) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

/// Frame `index` of the animations here: `side` x `side` in a shade of its own.
fn animation_frame(index: u32, side: u32) -> RgbaImage {
    let shade = u8::try_from(index * 40 % 256).expect("below 256");
    RgbaImage::from_pixel(side, side, Rgba([shade, 100, 200, 255]))
}

/// An animated GIF of `frames` frames, `side` x `side`, each 100 ms and a different shade.
///
/// # Panics
/// If the encoder fails, which it does not in memory.
#[must_use]
pub fn animated_gif(frames: u32, side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).expect("in-memory GIF");
        for index in 0..frames {
            encoder
                .encode_frame(Frame::from_parts(
                    animation_frame(index, side),
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .expect("in-memory GIF");
        }
    }
    out
}

/// The frames of [`animated_gif`] as an animated WebP, lossy at libwebp's default quality, as
/// chat apps send animated avatars and stickers: made by libwebp's own animation encoder, the
/// one `img2webp` and `gif2webp` use.
///
/// # Panics
/// If libwebp fails, which it does not in memory.
#[must_use]
pub fn animated_webp(frames: u32, side: u32) -> Vec<u8> {
    let config = webp::WebPConfig::new().expect("libwebp's default configuration");
    let mut encoder = webp::AnimEncoder::new(side, side, &config);
    encoder.set_loop_count(0);
    let frames: Vec<RgbaImage> = (0..frames)
        .map(|index| animation_frame(index, side))
        .collect();
    for (index, frame) in (0..).zip(&frames) {
        encoder.add_frame(webp::AnimFrame::from_rgba(
            frame.as_raw(),
            side,
            side,
            index * 100,
        ));
    }
    encoder
        .try_encode()
        .expect("an in-memory animated WebP")
        .to_vec()
}

/// A `side` x `side` PNG of a translucent disc (alpha 220, its blue varying across it) on a
/// transparent background: a logo with transparency.
///
/// # Panics
/// If the encoder fails, which it does not in memory.
#[must_use]
pub fn translucent_disc(side: u32) -> Vec<u8> {
    let disc = RgbaImage::from_fn(side, side, |x, y| {
        let (dx, dy) = (x.abs_diff(side / 2), y.abs_diff(side / 2));
        if dx * dx + dy * dy < side * side / 9 {
            Rgba([30, 90, u8::try_from(x % 256).expect("below 256"), 220])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(disc)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("an in-memory image encodes");
    out
}
