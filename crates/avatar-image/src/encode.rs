//! Encoding rendered pixels in the response's format.
//!
//! The encoders, chosen by measurement (the README's format table, `cargo xtask bench`):
//! - JPEG: at quality 90 and 4:4:4 chroma, by `jpeg-encoder` with its AVX2 paths, or, built with
//!   the `libjpeg-turbo` feature, by the system's libjpeg-turbo (the `turbojpeg` crate).
//!   Measured on the scale bench's corpus (2 cores, 2026-12-02): a 256 px rendition took
//!   1.49 ms with `image`'s encoder and 0.74 ms with `jpeg-encoder`, the file 1 % larger.
//!   libjpeg-turbo took 0.045 ms a rendition against `jpeg-encoder`'s 0.107 ms over the eight
//!   workload sizes (2026-12-04, files the same size within 0.2 %), and a server rendering the
//!   scale workload as asked answered 6 % to 18 % more requests a second with it (six
//!   interleaved pairs of 30 s runs, 2026-12-05). It is a feature because it needs the library
//!   and its headers when building (Debian's `libturbojpeg0-dev`), which the plain build must
//!   not. Either way with full-resolution colour, as libvips and `ImageMagick` choose at this
//!   quality: 4:2:0 would halve the encoding time and a third of the bytes, but smears the
//!   colour edges of a logo or lettering at 32 to 80 px, where one pixel is much of a letter;
//! - PNG: `image`'s encoder, fast compression with adaptive filters;
//! - GIF: `image`'s encoder (`NeuQuant` quantisation at speed 10, the `gif` crate's
//!   recommendation: speed 1 took 11 ms for a 128 px still), animations kept;
//! - WebP: libwebp through the `webp` crate, because `image` only writes lossless WebP, which is
//!   larger than the JPEG it replaces for photos. Lossy (quality 80) when the pixels came from a
//!   lossy source (JPEG, or a photo sent as WebP), lossless for everything else (PNG and GIF
//!   uploads, the drawn defaults), where flat colours and hard edges compress better losslessly
//!   and no blur is added. Animations become animated WebP.
//! - AVIF: `image`'s encoder (ravif) when the `avif` feature is built; otherwise asking for AVIF
//!   is an [`ImageError::Encode`] the service never triggers (it only offers AVIF when built in).

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder as _, RgbImage, RgbaImage};

use crate::error::ImageError;
use crate::resize::Pixels;
use avatar_proto::ImageFormat;

/// JPEG quality of rendered avatars.
const JPEG_QUALITY: u8 = 90;
/// GIF quantiser speed, 1 (best palette) to 30 (fastest); 10 is the `gif` crate's suggestion.
const GIF_SPEED: i32 = 10;
/// libwebp quality of lossy WebP renditions (libwebp's own default is 75).
const WEBP_QUALITY: f32 = 80.0;
/// libwebp's effort, 0 (fastest) to 6 (smallest). Not its default of 4: a rendition is made
/// while a request waits, and every browser gets WebP. Over the scale bench's corpus (2 cores,
/// 2026-12-02), method 2 took 0.57x the time of method 4 at 80 px and 0.35x at 256 px, for 7 %
/// and 4 % more bytes.
const WEBP_METHOD: i32 = 2;

/// Whether pixels came from a lossy source: lossy WebP then loses nothing that mattered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// JPEG (or a lossy WebP) photograph.
    Lossy,
    /// PNG, GIF, or pixels this crate drew.
    Exact,
}

impl Source {
    pub(crate) fn of(format: ImageFormat) -> Self {
        match format {
            ImageFormat::Jpeg | ImageFormat::Webp | ImageFormat::Avif => Self::Lossy,
            ImageFormat::Png | ImageFormat::Gif => Self::Exact,
        }
    }
}

pub(crate) fn still(
    pixels: Pixels,
    format: ImageFormat,
    source: Source,
) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let error = |detail: String| ImageError::Encode { format, detail };
    let pixels = match (pixels, format) {
        // JPEG has no alpha: whatever is transparent is shown on white, as on most pages.
        (Pixels::Rgba(rgba), ImageFormat::Jpeg) => Pixels::Rgb(on_white(&rgba)),
        (pixels, _) => pixels,
    };
    let (width, height) = match &pixels {
        Pixels::Rgb(rgb) => rgb.dimensions(),
        Pixels::Rgba(rgba) => rgba.dimensions(),
    };
    let (raw, color) = match pixels {
        Pixels::Rgb(rgb) => (rgb.into_raw(), ExtendedColorType::Rgb8),
        Pixels::Rgba(rgba) => (rgba.into_raw(), ExtendedColorType::Rgba8),
    };
    let written = match format {
        ImageFormat::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                .write_image(&raw, width, height, color)
        }
        ImageFormat::Jpeg => {
            return jpeg(&raw, width, height, color, JPEG_QUALITY)
                .map_err(error)
                .map(exact);
        }
        ImageFormat::Gif => {
            GifEncoder::new_with_speed(&mut out, GIF_SPEED).encode(&raw, width, height, color)
        }
        ImageFormat::Avif => avif(&mut out, &raw, width, height, color),
        ImageFormat::Webp => {
            return webp_still(&raw, color, width, height, source)
                .map_err(error)
                .map(exact);
        }
    };
    written.map_err(|err| error(err.to_string()))?;
    Ok(exact(out))
}

/// Baseline JPEG of opaque pixels at `quality` with full-resolution colour (`still` composites
/// alpha onto white first; the alpha of RGBA pixels is ignored).
#[cfg(not(feature = "libjpeg-turbo"))]
pub(crate) fn jpeg(
    raw: &[u8],
    width: u32,
    height: u32,
    color: ExtendedColorType,
    quality: u8,
) -> Result<Vec<u8>, String> {
    let color = if color == ExtendedColorType::Rgba8 {
        jpeg_encoder::ColorType::Rgba
    } else {
        jpeg_encoder::ColorType::Rgb
    };
    // Renders are at most MAX_RENDER_SIZE (4096) a side, within JPEG's 65,535.
    let side = |pixels: u32| u16::try_from(pixels).unwrap_or(u16::MAX);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    encoder
        .encode(raw, side(width), side(height), color)
        .map_err(|err| err.to_string())?;
    Ok(out)
}

/// Baseline JPEG of opaque pixels at `quality` with full-resolution colour, by libjpeg-turbo
/// (`still` composites alpha onto white first; the alpha of RGBA pixels is ignored).
#[cfg(feature = "libjpeg-turbo")]
pub(crate) fn jpeg(
    raw: &[u8],
    width: u32,
    height: u32,
    color: ExtendedColorType,
    quality: u8,
) -> Result<Vec<u8>, String> {
    use std::cell::RefCell;

    thread_local! {
        // One compressor a thread, made on its first JPEG: making one allocates libjpeg's
        // memory pools, which each encode would otherwise do again.
        static COMPRESSOR: RefCell<Option<turbojpeg::Compressor>> = const { RefCell::new(None) };
    }
    let (format, channels) = if color == ExtendedColorType::Rgba8 {
        (turbojpeg::PixelFormat::RGBA, 4)
    } else {
        (turbojpeg::PixelFormat::RGB, 3)
    };
    let pixels = |side: u32| usize::try_from(side).map_err(|_| format!("{side} px is too wide"));
    let (width, height) = (pixels(width)?, pixels(height)?);
    let image = turbojpeg::Image {
        pixels: raw,
        width,
        pitch: width * channels,
        height,
        format,
    };
    COMPRESSOR
        .with_borrow_mut(|kept| {
            let compressor = match kept {
                Some(compressor) => compressor,
                None => kept.insert(turbojpeg::Compressor::new()?),
            };
            compressor.set_quality(i32::from(quality));
            compressor.set_subsamp(turbojpeg::Subsamp::None);
            compressor.compress_to_vec(image)
        })
        .map_err(|err| format!("libjpeg-turbo: {err}"))
}

#[cfg(feature = "avif")]
fn avif(
    out: &mut Vec<u8>,
    raw: &[u8],
    width: u32,
    height: u32,
    color: ExtendedColorType,
) -> image::ImageResult<()> {
    // Speed 8 of 10: renditions are small and made on request; quality 70 is ravif's own
    // recommendation for photographs.
    image::codecs::avif::AvifEncoder::new_with_speed_quality(out, 8, 70)
        .write_image(raw, width, height, color)
}

#[cfg(not(feature = "avif"))]
fn avif(
    _out: &mut Vec<u8>,
    _raw: &[u8],
    _width: u32,
    _height: u32,
    _color: ExtendedColorType,
) -> image::ImageResult<()> {
    Err(image::ImageError::Unsupported(
        image::error::UnsupportedError::from_format_and_kind(
            image::ImageFormat::Avif.into(),
            image::error::UnsupportedErrorKind::Format(image::ImageFormat::Avif.into()),
        ),
    ))
}

/// Composites RGBA over white.
fn on_white(rgba: &RgbaImage) -> RgbImage {
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |channel: u8| {
            let mixed = u16::from(channel) * u16::from(a) + 255 * (255 - u16::from(a));
            // At most 255 * 255, so the rounded quotient is at most 255.
            u8::try_from((mixed + 127) / 255).unwrap_or(u8::MAX)
        };
        image::Rgb([over(r), over(g), over(b)])
    })
}

fn webp_config(source: Source) -> Result<webp::WebPConfig, String> {
    let mut config =
        webp::WebPConfig::new().map_err(|()| "libwebp refused its own defaults".to_owned())?;
    config.method = WEBP_METHOD;
    match source {
        Source::Lossy => {
            config.lossless = 0;
            config.quality = WEBP_QUALITY;
            config.alpha_compression = 1;
        }
        Source::Exact => {
            config.lossless = 1;
            // For lossless, quality is effort: 75 is libwebp's default.
            config.quality = 75.0;
            // Keep the colour under fully transparent pixels out of the file: smaller, and
            // nobody sees it.
            config.exact = 0;
        }
    }
    Ok(config)
}

fn webp_still(
    raw: &[u8],
    color: ExtendedColorType,
    width: u32,
    height: u32,
    source: Source,
) -> Result<Vec<u8>, String> {
    let config = webp_config(source)?;
    let layout = if color == ExtendedColorType::Rgba8 {
        webp::PixelLayout::Rgba
    } else {
        webp::PixelLayout::Rgb
    };
    let encoder = webp::Encoder::new(raw, layout, width, height);
    let memory = encoder
        .encode_advanced(&config)
        .map_err(|err| format!("libwebp: {err:?}"))?;
    Ok(memory.to_vec())
}

/// Encodes an animation: an animated GIF or WebP (lossy when `source` is); any other format
/// gets the first frame.
pub(crate) fn animated(
    frames: Vec<image::Frame>,
    format: ImageFormat,
    source: Source,
) -> Result<Vec<u8>, ImageError> {
    match format {
        ImageFormat::Gif => animated_gif(frames),
        ImageFormat::Webp => animated_webp(&frames, source).map(exact),
        other => match frames.into_iter().next() {
            Some(first) => still(Pixels::Rgba(first.into_buffer()), other, Source::Exact),
            None => Err(ImageError::Encode {
                format: other,
                detail: "the animation has no frames".to_owned(),
            }),
        },
    }
}

fn animated_gif(frames: Vec<image::Frame>) -> Result<Vec<u8>, ImageError> {
    let error = |err: image::ImageError| ImageError::Encode {
        format: ImageFormat::Gif,
        detail: err.to_string(),
    };
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, GIF_SPEED);
        encoder.set_repeat(Repeat::Infinite).map_err(error)?;
        encoder.encode_frames(frames).map_err(error)?;
    }
    Ok(exact(out))
}

/// An animated WebP with the frames' delays; frames are whole canvases of one size. Lossless
/// from a GIF, lossy from an animated WebP that was (as for stills).
fn animated_webp(frames: &[image::Frame], source: Source) -> Result<Vec<u8>, ImageError> {
    let error = |detail: String| ImageError::Encode {
        format: ImageFormat::Webp,
        detail,
    };
    let Some(first) = frames.first() else {
        return Err(error("the animation has no frames".to_owned()));
    };
    let (width, height) = first.buffer().dimensions();
    let config = webp_config(source).map_err(error)?;
    let mut encoder = webp::AnimEncoder::new(width, height, &config);
    // 0: loop forever, as the GIF encoder's `Repeat::Infinite`.
    encoder.set_loop_count(0);
    let mut timestamp_ms: i32 = 0;
    for frame in frames {
        let buffer = frame.buffer();
        encoder.add_frame(webp::AnimFrame::from_rgba(
            buffer.as_raw(),
            width,
            height,
            timestamp_ms,
        ));
        let (numerator, denominator) = frame.delay().numer_denom_ms();
        let delay = numerator.checked_div(denominator).unwrap_or(0);
        timestamp_ms = timestamp_ms.saturating_add(i32::try_from(delay).unwrap_or(i32::MAX));
    }
    let memory = encoder
        .try_encode()
        .map_err(|err| error(format!("libwebp: {err:?}")))?;
    Ok(memory.to_vec())
}

/// Gives back the spare capacity the encoder's growth left: renditions live in the cache for
/// long, and a vector that doubled its way up can hold nearly twice its length (which the
/// cache, weighing lengths, would not see).
fn exact(mut encoded: Vec<u8>) -> Vec<u8> {
    encoded.shrink_to_fit();
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::images::{mean_difference, photo_like, png};

    /// The sampling factors of each component in a baseline JPEG's frame header (`SOF0`), or
    /// `None` when there is none.
    fn baseline_sampling(jpeg: &[u8]) -> Option<Vec<u8>> {
        let mut at = 2;
        while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
            let marker = jpeg[at + 1];
            let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
            if marker == 0xC0 {
                let components = usize::from(*jpeg.get(at + 9)?);
                return (0..components)
                    .map(|n| jpeg.get(at + 11 + 3 * n).copied())
                    .collect();
            }
            at += 2 + length;
        }
        None
    }

    #[test]
    fn jpeg_is_baseline_with_full_resolution_colour_and_keeps_the_pixels() {
        let photo = photo_like(96, 80);
        let encoded = jpeg(
            photo.as_raw(),
            96,
            80,
            ExtendedColorType::Rgb8,
            JPEG_QUALITY,
        )
        .unwrap();
        assert_eq!(baseline_sampling(&encoded), Some(vec![0x11; 3]));
        // Against the pixels losslessly (and the dimensions checked there).
        let mean = mean_difference(&png(&photo), &encoded);
        // 0.75 levels with jpeg-encoder and 0.82 with libjpeg-turbo (2026-12-05).
        assert!(mean < 1.5, "{mean} levels a channel on average");
    }
}
