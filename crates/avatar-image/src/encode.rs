//! Encoding rendered pixels in the stored image's format.

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder as _, RgbaImage};

use crate::error::ImageError;
use crate::format::ImageFormat;
use crate::resize::Pixels;

/// JPEG quality of rendered avatars.
const JPEG_QUALITY: u8 = 90;

pub(crate) fn still(pixels: Pixels, format: ImageFormat) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let error = |err: image::ImageError| ImageError::Encode {
        format,
        detail: err.to_string(),
    };
    let (width, height, raw, color) = match (pixels, format) {
        // JPEG has no alpha: flatten whatever came in to RGB.
        (Pixels::Rgba(rgba), ImageFormat::Jpeg) => {
            let rgb = image::DynamicImage::ImageRgba8(rgba).into_rgb8();
            (
                rgb.width(),
                rgb.height(),
                rgb.into_raw(),
                ExtendedColorType::Rgb8,
            )
        }
        (Pixels::Rgb(rgb), _) => (
            rgb.width(),
            rgb.height(),
            rgb.into_raw(),
            ExtendedColorType::Rgb8,
        ),
        (Pixels::Rgba(rgba), _) => (
            rgba.width(),
            rgba.height(),
            rgba.into_raw(),
            ExtendedColorType::Rgba8,
        ),
    };
    let written = match format {
        ImageFormat::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                .write_image(&raw, width, height, color)
        }
        ImageFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .write_image(&raw, width, height, color),
        ImageFormat::Gif => GifEncoder::new(&mut out).encode(&raw, width, height, color),
        ImageFormat::Webp => {
            WebPEncoder::new_lossless(&mut out).write_image(&raw, width, height, color)
        }
    };
    written.map_err(error)?;
    Ok(exact(out))
}

/// Encodes PNG from RGBA (the drawn defaults).
pub(crate) fn png(image: RgbaImage) -> Result<Vec<u8>, ImageError> {
    still(Pixels::Rgba(image), ImageFormat::Png)
}

pub(crate) fn animated_gif(frames: Vec<image::Frame>) -> Result<Vec<u8>, ImageError> {
    let error = |err: image::ImageError| ImageError::Encode {
        format: ImageFormat::Gif,
        detail: err.to_string(),
    };
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(error)?;
        encoder.encode_frames(frames).map_err(error)?;
    }
    Ok(exact(out))
}

/// Gives back the spare capacity the encoder's growth left: renditions live in the cache for
/// long, and a vector that doubled its way up can hold nearly twice its length (which the
/// cache, weighing lengths, would not see).
fn exact(mut encoded: Vec<u8>) -> Vec<u8> {
    encoded.shrink_to_fit();
    encoded
}
