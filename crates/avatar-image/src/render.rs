//! The render pipeline: bytes -> decode (limited) -> centre square -> N x N -> stored format.

use bytes::Bytes;

use crate::decode::{Decoded, decode};
use crate::error::ImageError;
use crate::limits::Limits;
use crate::rendition_files::RenditionFiles;
use crate::{encode, resize, rung};
use avatar_proto::ImageFormat;

/// The largest size anything is rendered at, whatever a caller asks.
pub const MAX_RENDER_SIZE: u32 = 4096;

/// An encoded, square image ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The encoded file.
    pub bytes: Bytes,
    /// Its format (sniffed from the bytes would give the same).
    pub format: ImageFormat,
    /// Width and height in pixels.
    pub size: u32,
}

/// Renders a stored image at `size` x `size`: the centred square, resized (up or down) with
/// Lanczos3, encoded in the source's format. An animated GIF or WebP stays animated, frame
/// delays kept.
/// Straight from the picture: [`render_stored`] renders small sizes from a rung kept among
/// rendition files instead, for a quarter of the work.
///
/// # Errors
/// Anything [`crate::probe`] or the decoder refuses, or [`ImageError::InvalidSize`].
pub fn render_square(bytes: &[u8], size: u32, limits: &Limits) -> Result<Rendered, ImageError> {
    render_square_as(bytes, size, None, limits)
}

/// [`render_square`] encoded in `format` (`None`: the source's). An animation stays animated as
/// GIF or WebP, and becomes its first frame in PNG, JPEG or AVIF; transparency becomes white in
/// JPEG.
///
/// # Errors
/// As [`render_square`]; [`ImageError::Encode`] for AVIF without the `avif` feature.
pub fn render_square_as(
    bytes: &[u8],
    size: u32,
    format: Option<ImageFormat>,
    limits: &Limits,
) -> Result<Rendered, ImageError> {
    check_size(size)?;
    let (info, decoded) = decode(bytes, limits)?;
    render_decoded(info.format, decoded, size, format.unwrap_or(info.format))
}

/// [`render_square_as`] of a stored picture whose SHA-256 is `content`, a server keeping
/// rendition files: a size up to [`LARGEST_FROM_RUNG`](crate::rung::LARGEST_FROM_RUNG), or
/// [`RUNG_SIDE`](crate::rung::RUNG_SIDE) itself, of a still picture larger than
/// [`RUNG_SIDE`](crate::rung::RUNG_SIDE) is rendered from its rung
/// ([`crate::rung`]), read from `files` ([`render_from_rung`]), or made and kept there when
/// missing; other sizes and pictures as [`render_square_as`]. The bytes are the same whether
/// the rung was kept or made, and differ from [`render_square_as`]'s by about a level a
/// channel. Blocks on file I/O: call it from a blocking thread.
///
/// # Errors
/// As [`render_square_as`]. A rung file that cannot be read or written is logged, and the
/// rung is made from `stored` instead.
pub fn render_stored(
    stored: &[u8],
    content: &[u8; 32],
    size: u32,
    format: Option<ImageFormat>,
    limits: &Limits,
    files: &RenditionFiles,
) -> Result<Rendered, ImageError> {
    check_size(size)?;
    if let Some(source) = ImageFormat::sniff(stored)
        && let Some(from_rung) = render_from_rung(content, source, size, format, files)
    {
        return from_rung;
    }
    let (info, decoded) = decode(stored, limits)?;
    let format = format.unwrap_or(info.format);
    match decoded {
        Decoded::Still(image) if rung::serves(size, image.width(), image.height()) => {
            rung::make_and_keep(image, info.format, files, content)?.render(
                info.format,
                size,
                format,
            )
        }
        other => render_decoded(info.format, other, size, format),
    }
}

/// [`render_stored`] without the stored picture, from its kept rung alone: `None` when `size`
/// is not one a rung serves or no intact rung of `content` is kept in `files`, and the caller
/// then reads the picture and asks [`render_stored`], whose bytes are the same. `source` is
/// the stored picture's format (as [`ImageFormat::sniff`] finds it), `format` the one asked
/// for (`None`: `source`). A server whose index still knows a picture's digest and format
/// renders most small sizes this way without reading the store (a file, or a row of a
/// database) at all. Blocks on file I/O: call it from a blocking thread.
///
/// # Errors
/// [`ImageError::InvalidSize`], or what encoding refuses.
pub fn render_from_rung(
    content: &[u8; 32],
    source: ImageFormat,
    size: u32,
    format: Option<ImageFormat>,
    files: &RenditionFiles,
) -> Option<Result<Rendered, ImageError>> {
    if let Err(err) = check_size(size) {
        return Some(Err(err));
    }
    if !rung::renders_from(size) {
        return None;
    }
    let encoded = files.rung(content)?;
    let format = format.unwrap_or(source);
    // At the rung's side in its format, its bytes answer: there is nothing to decode.
    if let Some(rendered) = rung::as_rendition(&encoded, size, format) {
        return Some(Ok(rendered));
    }
    Some(rung::decoded(files, content, encoded)?.render(source, size, format))
}

/// The pipeline after decoding: the centred square of `decoded` at `size`, encoded as `format`
/// (`source`, the stored format, says how: lossy or exact).
pub(crate) fn render_decoded(
    source: ImageFormat,
    decoded: Decoded,
    size: u32,
    format: ImageFormat,
) -> Result<Rendered, ImageError> {
    let encoded = match decoded {
        Decoded::Still(image) => encode::still(
            resize::square(image, size),
            format,
            encode::Source::of(source),
        )?,
        Decoded::Animated(frames) => {
            let frames = frames
                .into_iter()
                .map(|frame| {
                    let delay = frame.delay();
                    let pixels = resize::square_rgba(frame.into_buffer(), size);
                    image::Frame::from_parts(pixels, 0, 0, delay)
                })
                .collect();
            encode::animated(frames, format, encode::Source::of(source))?
        }
    };
    Ok(Rendered {
        bytes: Bytes::from(encoded),
        format,
        size,
    })
}

pub(crate) fn check_size(size: u32) -> Result<(), ImageError> {
    if (1..=MAX_RENDER_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(ImageError::InvalidSize { size })
    }
}
