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

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use image::DynamicImage;
use moxcms::{
    ColorProfile, DataColorSpace, Layout, ParsingOptions, RenderingIntent, Transform8BitExecutor,
    Transform16BitExecutor, TransformExecutor, TransformOptions,
};
use quick_cache::sync::Cache;

/// The most grid points a profile's lookup table may have: 65 a side of an RGB table.
const MAX_TABLE_ENTRIES: usize = 65 * 65 * 65;

/// The largest profile read: a phone's or camera's is a few kilobytes, the largest printers'
/// a few megabytes.
const MAX_PROFILE_BYTES: usize = 4 << 20;

/// Pixels converted at a time: the scratch buffer stays small whatever the picture's size.
const PIXELS_AT_A_TIME: usize = 65_536;

/// Conversions kept, by profile and kind of pixels. Making one costs more than converting a
/// 512 x 512 picture with it (0.48 ms against 0.37 ms, 2 cores, 2026-12-07), and the photos
/// of one phone maker all carry the same profile: a few kept cover them.
const CONVERSIONS_KEPT: usize = 16;

/// The kinds of pixels converted: 8- and 16-bit RGB and RGBA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PixelKind {
    Rgb8,
    Rgba8,
    Rgb16,
    Rgba16,
}

impl PixelKind {
    const fn layout(self) -> Layout {
        match self {
            Self::Rgb8 | Self::Rgb16 => Layout::Rgb,
            Self::Rgba8 | Self::Rgba16 => Layout::Rgba,
        }
    }

    const fn channels(self) -> usize {
        match self {
            Self::Rgb8 | Self::Rgb16 => 3,
            Self::Rgba8 | Self::Rgba16 => 4,
        }
    }
}

/// A profile's conversion to sRGB, for one kind of pixels.
#[derive(Clone)]
enum Conversion {
    Eight(Arc<Transform8BitExecutor>),
    Sixteen(Arc<Transform16BitExecutor>),
}

/// A profile's bytes and the kind of pixels converted from it.
type ConversionKey = (Vec<u8>, PixelKind);

/// The conversions made, `None` for a profile that is not followed (see the module's docs).
static CONVERSIONS: LazyLock<Cache<ConversionKey, Option<Conversion>>> =
    LazyLock::new(|| Cache::new(CONVERSIONS_KEPT));

/// `image` with its pixels converted from the colour space `icc` (an ICC profile, as the file
/// embedded it) to sRGB. 8- and 16-bit RGB and RGBA pictures are converted (alpha is kept);
/// others, and pictures whose profile is damaged, not a matrix-and-curves RGB one or sRGB
/// already, come back unchanged.
pub(crate) fn to_srgb(mut image: DynamicImage, icc: &[u8]) -> DynamicImage {
    let kind = match &image {
        DynamicImage::ImageRgb8(_) => PixelKind::Rgb8,
        DynamicImage::ImageRgba8(_) => PixelKind::Rgba8,
        DynamicImage::ImageRgb16(_) => PixelKind::Rgb16,
        DynamicImage::ImageRgba16(_) => PixelKind::Rgba16,
        _ => return image,
    };
    let Ok(conversion) = CONVERSIONS.get_or_insert_with(&(icc.to_vec(), kind), || {
        Ok::<_, Infallible>(conversion(icc, kind))
    });
    let channels = kind.channels();
    match (conversion, &mut image) {
        (Some(Conversion::Eight(transform)), DynamicImage::ImageRgb8(pixels)) => {
            convert(&*transform, channels, pixels);
        }
        (Some(Conversion::Eight(transform)), DynamicImage::ImageRgba8(pixels)) => {
            convert(&*transform, channels, pixels);
        }
        (Some(Conversion::Sixteen(transform)), DynamicImage::ImageRgb16(pixels)) => {
            convert(&*transform, channels, pixels);
        }
        (Some(Conversion::Sixteen(transform)), DynamicImage::ImageRgba16(pixels)) => {
            convert(&*transform, channels, pixels);
        }
        _ => {}
    }
    image
}

/// The conversion from `icc` to sRGB for pixels of `kind`, or `None` when the profile is not
/// followed or would change no colour.
fn conversion(icc: &[u8], kind: PixelKind) -> Option<Conversion> {
    let parsing = ParsingOptions {
        max_profile_size: MAX_PROFILE_BYTES,
        max_allowed_clut_size: MAX_TABLE_ENTRIES,
        ..ParsingOptions::default()
    };
    let from = ColorProfile::new_from_slice_with_options(icc, parsing).ok()?;
    if from.color_space != DataColorSpace::Rgb || !from.is_matrix_shaper() {
        return None;
    }
    let srgb = ColorProfile::new_srgb();
    let options = TransformOptions {
        rendering_intent: RenderingIntent::RelativeColorimetric,
        ..TransformOptions::default()
    };
    let (layout, channels) = (kind.layout(), kind.channels());
    match kind {
        PixelKind::Rgb8 | PixelKind::Rgba8 => {
            let transform = from
                .create_transform_8bit(layout, &srgb, layout, options)
                .ok()?;
            let changes = !changes_nothing(&*transform, channels, |level| level);
            changes.then_some(Conversion::Eight(transform))
        }
        PixelKind::Rgb16 | PixelKind::Rgba16 => {
            let transform = from
                .create_transform_16bit(layout, &srgb, layout, options)
                .ok()?;
            let changes = !changes_nothing(&*transform, channels, |level| u16::from(level) * 257);
            changes.then_some(Conversion::Sixteen(transform))
        }
    }
}

/// Converts `samples` (`channels` a pixel) in place by `transform`, a scratch buffer's worth at
/// a time.
fn convert<T, X>(transform: &X, channels: usize, samples: &mut [T])
where
    T: Copy + Default,
    X: TransformExecutor<T> + ?Sized,
{
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
/// `level` gives the sample for an 8-bit level.
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
