//! Decoding untrusted bytes under [`Limits`]: header checks first, then a bounded decode.

use std::io::Cursor;

use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageReader};

use crate::color;
use crate::error::ImageError;
use crate::limits::Limits;
use avatar_proto::ImageFormat;

/// What the header of an image says, checked against the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// The format, from the file signature.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A decoded image: one picture, or the composited frames of an animated GIF or WebP.
#[derive(Clone)]
pub(crate) enum Decoded {
    Still(DynamicImage),
    Animated(Vec<image::Frame>),
}

/// Reads only the header: format and dimensions, refused early when over the limits.
///
/// # Errors
/// [`ImageError::InputTooLarge`], [`ImageError::UnknownFormat`] (or
/// [`ImageError::UnsupportedFormat`], naming a known kind of file), [`ImageError::Dimensions`],
/// [`ImageError::DecodedTooLarge`] or [`ImageError::Corrupt`].
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<ImageInfo, ImageError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(ImageError::InputTooLarge {
            size: bytes.len(),
            limit: limits.max_input_bytes,
        });
    }
    let (format, image_crate_format) = ImageFormat::sniff(bytes)
        .and_then(|format| Some((format, readable(format)?)))
        .ok_or_else(|| not_readable(bytes))?;
    let (width, height) = match fixed_header_dimensions(format, bytes) {
        Some(dimensions) => dimensions,
        None => ImageReader::with_format(Cursor::new(bytes), image_crate_format)
            .into_dimensions()
            .map_err(|err| corrupt(format, &err))?,
    };
    if width == 0 || height == 0 || width > limits.max_side || height > limits.max_side {
        return Err(ImageError::Dimensions {
            width,
            height,
            max_side: limits.max_side,
        });
    }
    if frame_bytes(width, height) > limits.max_decoded_bytes {
        return Err(ImageError::DecodedTooLarge {
            limit: limits.max_decoded_bytes,
        });
    }
    Ok(ImageInfo {
        format,
        width,
        height,
    })
}

/// Decodes the whole image, so a truncated or corrupt file is caught before it is stored.
/// The dimensions returned are those of the picture as shown: a phone photo stored on its side
/// with an EXIF `Orientation` of 5 to 8 reports its upright width and height.
///
/// # Errors
/// Everything [`probe`] refuses, plus [`ImageError::TooManyFrames`] and [`ImageError::Corrupt`].
pub fn validate(bytes: &[u8], limits: &Limits) -> Result<ImageInfo, ImageError> {
    let (info, decoded) = decode(bytes, limits)?;
    Ok(as_shown(info, &decoded))
}

/// `info` with the dimensions of the decoded picture: the upright ones of a turned still.
pub(crate) fn as_shown(info: ImageInfo, decoded: &Decoded) -> ImageInfo {
    match decoded {
        Decoded::Still(image) => ImageInfo {
            width: image.width(),
            height: image.height(),
            ..info
        },
        Decoded::Animated(_) => info,
    }
}

/// The `image` crate's name for a format this crate reads: every one but AVIF, which may be
/// served but is never accepted as an upload (no AVIF decoder is built in).
const fn readable(format: ImageFormat) -> Option<image::ImageFormat> {
    match format {
        ImageFormat::Png => Some(image::ImageFormat::Png),
        ImageFormat::Jpeg => Some(image::ImageFormat::Jpeg),
        ImageFormat::Gif => Some(image::ImageFormat::Gif),
        ImageFormat::Webp => Some(image::ImageFormat::WebP),
        ImageFormat::Avif => None,
    }
}

pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<(ImageInfo, Decoded), ImageError> {
    let info = probe(bytes, limits)?;
    if info.format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageError::Corrupt {
            format: info.format,
            detail: "the file ends before its end-of-image marker (truncated)".to_owned(),
        });
    }
    let failed = |err: &image::ImageError| map_decode_error(info.format, err, limits);
    let decoded = match info.format {
        ImageFormat::Gif => decode_frames(
            image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(|err| failed(&err))?,
            &info,
            limits,
        )?,
        ImageFormat::Webp => {
            let mut webp = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
                .map_err(|err| failed(&err))?;
            if webp.has_animation() {
                decode_frames(webp, &info, limits)?
            } else {
                // The headers are read: the same decoder gives the still, as `ImageReader`
                // would have made it (with the limits set).
                webp.set_limits(limits.for_image_crate())
                    .map_err(|err| failed(&err))?;
                Decoded::Still(upright(webp, &info, limits)?)
            }
        }
        _ => Decoded::Still(decode_still(bytes, &info, limits)?),
    };
    Ok((info, decoded))
}

/// The error for `bytes` that are no image this crate reads: [`ImageError::UnsupportedFormat`]
/// naming what they are when their magic number says (`infer` knows some hundred kinds of
/// file), so that a person who sent an iPhone's HEIC photo, or the web page the picture was
/// on, hears what to do; [`ImageError::UnknownFormat`] otherwise.
pub(crate) fn not_readable(bytes: &[u8]) -> ImageError {
    const CONVERT: &str = "convert it to one of them first";
    let start = bytes.get(..1024).unwrap_or(bytes);
    let text = start.trim_ascii_start();
    let names_svg = text
        .windows(4)
        .any(|window| window.eq_ignore_ascii_case(b"<svg"));
    let (kind, advice) = if (text.starts_with(b"<?xml") || text.starts_with(b"<svg")) && names_svg {
        ("an SVG drawing".to_owned(), CONVERT)
    } else {
        // Magic numbers are at the start; some matchers would search further, so the start only.
        let Some(kind) = infer::get(bytes.get(..8192).unwrap_or(bytes)) else {
            return ImageError::UnknownFormat;
        };
        let picture = |name: &str| (name.to_owned(), CONVERT);
        match kind.mime_type() {
            // A damaged start of an accepted format: nothing better to name it by.
            "image/jpeg" | "image/png" | "image/gif" | "image/webp" => {
                return ImageError::UnknownFormat;
            }
            "image/heif" => picture("a HEIC image (as iPhones save photos)"),
            "image/avif" => picture("an AVIF image"),
            "image/jxl" => picture("a JPEG XL image"),
            "image/jp2" => picture("a JPEG 2000 image"),
            "image/bmp" => picture("a BMP image"),
            "image/tiff" => picture("a TIFF image"),
            "image/x-canon-cr2" => picture("a camera raw file (CR2)"),
            "image/vnd.adobe.photoshop" => picture("a Photoshop file (PSD)"),
            "image/vnd.microsoft.icon" => picture("an icon file (ICO)"),
            "application/pdf" => picture("a PDF document"),
            "text/html" => (
                "a web page (HTML), not a picture".to_owned(),
                "save the picture itself, not the page it is on",
            ),
            _ => {
                let extension = kind.extension();
                let kind = match kind.matcher_type() {
                    infer::MatcherType::Image => format!("an image of another kind (.{extension})"),
                    infer::MatcherType::Video => format!("a video (.{extension})"),
                    infer::MatcherType::Audio => format!("a sound file (.{extension})"),
                    infer::MatcherType::Archive => format!("an archive (.{extension})"),
                    _ => format!("a .{extension} file"),
                };
                (kind, "send a picture")
            }
        }
    };
    ImageError::UnsupportedFormat { kind, advice }
}

/// Decodes a PNG, JPEG or WebP and turns it upright: phones store the pixels as the sensor saw
/// them and say in EXIF `Orientation` (2 to 8) how to turn them for display. The orientation is
/// applied before anything is cropped, so the centred square is the one a viewer sees. Pixels
/// in the colour space of an embedded ICC profile (Display P3, Adobe RGB) are converted to sRGB
/// ([`crate::color`]). The metadata itself goes no further: every rendition is encoded from
/// pixels alone.
fn decode_still(
    bytes: &[u8],
    info: &ImageInfo,
    limits: &Limits,
) -> Result<DynamicImage, ImageError> {
    let image_crate_format = readable(info.format).ok_or_else(|| not_readable(bytes))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_crate_format);
    reader.limits(limits.for_image_crate());
    let decoder = reader
        .into_decoder()
        .map_err(|err| map_decode_error(info.format, &err, limits))?;
    upright(decoder, info, limits)
}

/// What `decoder` (its limits set) decodes, turned upright and in sRGB, as [`decode_still`]
/// says.
fn upright(
    mut decoder: impl ImageDecoder,
    info: &ImageInfo,
    limits: &Limits,
) -> Result<DynamicImage, ImageError> {
    let failed = |err: &image::ImageError| map_decode_error(info.format, err, limits);
    // A damaged EXIF block is no reason to refuse a picture: it is shown as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // Nor is a damaged colour profile: the pixels are then taken as sRGB.
    let icc = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|err| failed(&err))?;
    if let Some(icc) = icc {
        image = color::to_srgb(image, &icc);
    }
    image.apply_orientation(orientation);
    Ok(image)
}

/// The frames of an animated GIF or WebP, composited to full canvases (as a viewer shows
/// them); each one counts against the memory limit, and a colour profile is followed as for a
/// still ([`crate::color`]). One frame is a still picture.
fn decode_frames<'a, D>(
    mut decoder: D,
    info: &ImageInfo,
    limits: &Limits,
) -> Result<Decoded, ImageError>
where
    D: ImageDecoder + AnimationDecoder<'a>,
{
    let failed = |err: &image::ImageError| map_decode_error(info.format, err, limits);
    decoder
        .set_limits(limits.for_image_crate())
        .map_err(|err| failed(&err))?;
    let icc = decoder.icc_profile().ok().flatten();
    let per_frame = frame_bytes(info.width, info.height);
    let mut frames = Vec::new();
    let mut used = 0u64;
    for frame in decoder.into_frames() {
        let frame = frame.map_err(|err| failed(&err))?;
        let frame = match &icc {
            Some(icc) => {
                let (left, top, delay) = (frame.left(), frame.top(), frame.delay());
                let pixels = DynamicImage::ImageRgba8(frame.into_buffer());
                let pixels = color::to_srgb(pixels, icc).into_rgba8();
                image::Frame::from_parts(pixels, left, top, delay)
            }
            None => frame,
        };
        used += per_frame;
        if used > limits.max_decoded_bytes {
            return Err(ImageError::DecodedTooLarge {
                limit: limits.max_decoded_bytes,
            });
        }
        if frames.len() >= limits.max_frames as usize {
            return Err(ImageError::TooManyFrames {
                limit: limits.max_frames,
            });
        }
        frames.push(frame);
    }
    match frames.len() {
        0 => Err(ImageError::Corrupt {
            format: info.format,
            detail: "the animation has no frames".to_owned(),
        }),
        1 => {
            let frame = frames.pop().expect("one frame");
            Ok(Decoded::Still(DynamicImage::ImageRgba8(
                frame.into_buffer(),
            )))
        }
        _ => Ok(Decoded::Animated(frames)),
    }
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan marker (FF DA).
///
/// The JPEG decoder fills in missing rows of a truncated file instead of failing; a stored avatar
/// must not be half grey. Byte stuffing keeps both markers out of entropy-coded data, so this is
/// exact for the scan data (an embedded thumbnail's own markers come before the last scan).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|pair| pair == [0xff, 0xda]);
    last_scan.is_some_and(|start| bytes[start..].windows(2).any(|pair| pair == [0xff, 0xd9]))
}

/// Dimensions read straight from the fixed header fields of PNG (IHDR) and GIF (logical
/// screen), so a file that is nothing but a huge header is refused for its size, not reported
/// as truncated. Other formats go through the decoder's header parser.
fn fixed_header_dimensions(format: ImageFormat, bytes: &[u8]) -> Option<(u32, u32)> {
    match format {
        ImageFormat::Png if bytes.len() >= 24 && &bytes[12..16] == b"IHDR" => Some((
            u32::from_be_bytes(bytes[16..20].try_into().ok()?),
            u32::from_be_bytes(bytes[20..24].try_into().ok()?),
        )),
        ImageFormat::Gif if bytes.len() >= 10 => Some((
            u32::from(u16::from_le_bytes([bytes[6], bytes[7]])),
            u32::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        )),
        _ => None,
    }
}

/// Memory one RGBA frame takes.
fn frame_bytes(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height) * 4
}

fn map_decode_error(format: ImageFormat, err: &image::ImageError, limits: &Limits) -> ImageError {
    match err {
        image::ImageError::Limits(_) => ImageError::DecodedTooLarge {
            limit: limits.max_decoded_bytes,
        },
        other => corrupt(format, other),
    }
}

fn corrupt(format: ImageFormat, err: &image::ImageError) -> ImageError {
    ImageError::Corrupt {
        format,
        detail: decoder_said(err),
    }
}

/// What the decoder said, as one line: a decoding error's own cause without the image crate's
/// `Format error decoding Jpeg:` before it (the message names the format already), and without
/// the newline zune-jpeg ends some of its messages with.
pub(crate) fn decoder_said(err: &image::ImageError) -> String {
    let said = match err {
        image::ImageError::Decoding(decoding) => std::error::Error::source(decoding)
            .map_or_else(|| decoding.to_string(), ToString::to_string),
        other => other.to_string(),
    };
    said.split_whitespace().collect::<Vec<_>>().join(" ")
}
