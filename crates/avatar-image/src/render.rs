//! The render pipeline: bytes -> decode (limited) -> centre square -> N x N -> stored format.

use bytes::Bytes;

use crate::decode::{Decoded, ImageInfo, decode};
use crate::error::ImageError;
use crate::limits::Limits;
use crate::{encode, resize};
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
/// Lanczos3, encoded in the source's format. An animated GIF stays animated, frame delays kept.
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
    render_decoded(&info, decoded, size, format.unwrap_or(info.format))
}

/// The pipeline after decoding: the centred square of `decoded` at `size`, encoded as `format`.
pub(crate) fn render_decoded(
    info: &ImageInfo,
    decoded: Decoded,
    size: u32,
    format: ImageFormat,
) -> Result<Rendered, ImageError> {
    let encoded = match decoded {
        Decoded::Still(image) => encode::still(
            resize::square(image, size),
            format,
            encode::Source::of(info.format),
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
            encode::animated(frames, format)?
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
