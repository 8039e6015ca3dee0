//! Colour: every rendition is sRGB, the colour space a picture without a profile is shown in.
//!
//! Phones tag their photos with an ICC colour profile: an iPhone's JPEGs (and the JPEG Safari
//! makes of a HEIC photo when a form uploads it) are Display P3, some cameras write Adobe RGB.
//! A browser shows such a file's pixels through its profile. Renditions are encoded from pixels
//! alone, without the profile, so they are shown as sRGB: a P3 photo's pixels read as sRGB look
//! duller than the upload, skin and sky most of all. So the pixels of a
//! picture with an RGB profile are converted to sRGB when it is decoded, as image services do
//! (libvips' thumbnail, sharp, imgproxy): every rendition, master and rung then carries the
//! colours a browser shows for the upload. Colours outside sRGB are clipped, as a browser on
//! an sRGB screen clips them.
//!
//! The conversion is `moxcms`'s (the colour management the `image` crate itself uses), with the
//! relative colorimetric intent browsers use for such profiles. Only matrix-and-curves RGB
//! profiles are followed: those are what phones and cameras embed (Display P3, Adobe RGB, wide
//! gamut camera spaces, sRGB). A profile's lookup tables are read up to
//! [`MAX_TABLE_ENTRIES`] points (real profiles use 33 a side, 35,937 in all), so a hostile
//! file cannot make each decode of it parse tens of megabytes. A profile that is damaged, too
//! large, not RGB (grey or CMYK), built on tables alone, or that changes no colour (an sRGB
//! profile, as many Android phones embed) leaves the pixels as decoded: such a picture is no
//! reason to refuse an upload.

use image::DynamicImage;
use moxcms::{
    ColorProfile, DataColorSpace, Layout, ParsingOptions, RenderingIntent, TransformExecutor,
    TransformOptions,
};

/// The most grid points a profile's lookup table may have: 65 a side of an RGB table.
const MAX_TABLE_ENTRIES: usize = 65 * 65 * 65;

/// The largest profile read: a phone's or camera's is a few kilobytes, the largest printers'
/// a few megabytes.
const MAX_PROFILE_BYTES: usize = 4 << 20;

/// Pixels converted at a time: the scratch buffer stays small whatever the picture's size.
const PIXELS_AT_A_TIME: usize = 65_536;

/// `image` with its pixels converted from the colour space `icc` (an ICC profile, as the file
/// embedded it) to sRGB. 8- and 16-bit RGB and RGBA pictures are converted (alpha is kept);
/// others, and pictures whose profile is damaged, not a matrix-and-curves RGB one or sRGB
/// already, come back unchanged.
pub(crate) fn to_srgb(mut image: DynamicImage, icc: &[u8]) -> DynamicImage {
    let parsing = ParsingOptions {
        max_profile_size: MAX_PROFILE_BYTES,
        max_allowed_clut_size: MAX_TABLE_ENTRIES,
        ..ParsingOptions::default()
    };
    let Ok(from) = ColorProfile::new_from_slice_with_options(icc, parsing) else {
        return image;
    };
    if from.color_space != DataColorSpace::Rgb || !from.is_matrix_shaper() {
        return image;
    }
    let srgb = ColorProfile::new_srgb();
    let options = TransformOptions {
        rendering_intent: RenderingIntent::RelativeColorimetric,
        ..TransformOptions::default()
    };
    let eight_bit = |layout| {
        from.create_transform_8bit(layout, &srgb, layout, options)
            .ok()
    };
    let sixteen_bit = |layout| {
        from.create_transform_16bit(layout, &srgb, layout, options)
            .ok()
    };
    let widen = |level: u8| u16::from(level) * 257;
    match &mut image {
        DynamicImage::ImageRgb8(pixels) => convert(eight_bit(Layout::Rgb), 3, pixels, u8::into),
        DynamicImage::ImageRgba8(pixels) => convert(eight_bit(Layout::Rgba), 4, pixels, u8::into),
        DynamicImage::ImageRgb16(pixels) => convert(sixteen_bit(Layout::Rgb), 3, pixels, widen),
        DynamicImage::ImageRgba16(pixels) => convert(sixteen_bit(Layout::Rgba), 4, pixels, widen),
        _ => {}
    }
    image
}

/// Converts `samples` (`channels` a pixel) in place by `transform`, unless it changes nothing;
/// `level` gives the sample for an 8-bit level.
fn convert<T, X>(
    transform: Option<std::sync::Arc<X>>,
    channels: usize,
    samples: &mut [T],
    level: fn(u8) -> T,
) where
    T: Copy + Default + Into<u32>,
    X: TransformExecutor<T> + ?Sized,
{
    let Some(transform) = transform else {
        return;
    };
    if changes_nothing(&*transform, channels, level) {
        return;
    }
    let chunk = channels * PIXELS_AT_A_TIME;
    let mut scratch = vec![T::default(); chunk.min(samples.len())];
    for part in samples.chunks_mut(chunk) {
        let converted = &mut scratch[..part.len()];
        // Chunks hold whole pixels, which the transform never refuses; were it to, the chunk
        // would be left as decoded.
        if transform.transform(part, converted).is_ok() {
            part.copy_from_slice(converted);
        }
    }
}

/// Whether `transform` leaves a grid of colours (every channel at 0, 32, ..., 224, 255) within
/// one 8-bit level: the profile is sRGB in all but name, and converting would only round.
fn changes_nothing<T, X>(transform: &X, channels: usize, level: fn(u8) -> T) -> bool
where
    T: Copy + Default + Into<u32>,
    X: TransformExecutor<T> + ?Sized,
{
    let levels = [0, 32, 64, 96, 128, 160, 192, 224, 255].map(level);
    let mut grid = Vec::with_capacity(levels.len().pow(3) * channels);
    for red in levels {
        for green in levels {
            for blue in levels {
                grid.extend([red, green, blue]);
                if channels == 4 {
                    grid.push(level(255));
                }
            }
        }
    }
    let one_level = level(1).into();
    let mut converted = vec![T::default(); grid.len()];
    transform.transform(&grid, &mut converted).is_ok()
        && grid
            .iter()
            .zip(&converted)
            .all(|(&before, &after)| before.into().abs_diff(after.into()) <= one_level)
}
