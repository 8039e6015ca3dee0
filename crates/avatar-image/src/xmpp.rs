//! The XMPP rendition of an avatar: what XEP-0008, XEP-0153 and XEP-0084 all serve, so the same
//! SHA-1 names it in every protocol.
//!
//! Rules (XEP-0008, the strictest): square, each side 32..=64 px, PNG, JPEG or GIF, and under
//! 8192 bytes. The centred square is taken as for HTTP and encoded as PNG at 64, 56, 48, 40 and
//! 32 px, the first that fits winning. 32 px always fits: its RGBA pixels are 4096 bytes, and
//! zlib stores incompressible data with a few bytes of overhead, so the file stays near 4.3 KB.

use bytes::Bytes;
use sha1::{Digest as _, Sha1};

use crate::decode::{Decoded, decode};
use crate::error::ImageError;
use crate::limits::Limits;
use crate::render::Rendered;
use crate::{encode, resize};
use avatar_proto::ImageFormat;

/// A rendition must be smaller than this many bytes.
pub const XMPP_BYTES_BELOW: usize = 8192;
/// Sides, largest first, tried for PNG.
const PNG_SIDES: [u32; 5] = [64, 56, 48, 40, 32];

/// An image ready for XMPP, with its SHA-1 (the hash in presence and the XEP-0084 item id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmppRendition {
    /// The encoded PNG, square, 32..=64 px, under 8192 bytes.
    pub rendered: Rendered,
    /// SHA-1 of `rendered.bytes`.
    pub sha1: [u8; 20],
}

/// Makes the XMPP rendition of a stored image (the first frame of an animation).
///
/// # Errors
/// Whatever decoding refuses (see [`crate::probe`]); [`ImageError::Encode`] only if the 32 px
/// PNG somehow did not fit, which the bound above rules out.
pub fn render_xmpp(bytes: &[u8], limits: &Limits) -> Result<XmppRendition, ImageError> {
    let (_, decoded) = decode(bytes, limits)?;
    let still = match decoded {
        Decoded::Still(image) => image,
        Decoded::Animated(mut frames) => {
            image::DynamicImage::ImageRgba8(frames.swap_remove(0).into_buffer())
        }
    };
    for side in PNG_SIDES {
        let png = encode::still(
            resize::square(still.clone(), side),
            ImageFormat::Png,
            encode::Source::Exact,
        )?;
        if png.len() < XMPP_BYTES_BELOW {
            return Ok(finish(png, ImageFormat::Png, side));
        }
    }
    Err(ImageError::Encode {
        format: ImageFormat::Png,
        detail: "no XMPP rendition fits in 8191 bytes".to_owned(),
    })
}

fn finish(bytes: Vec<u8>, format: ImageFormat, size: u32) -> XmppRendition {
    let sha1 = Sha1::digest(&bytes).into();
    XmppRendition {
        rendered: Rendered {
            bytes: Bytes::from(bytes),
            format,
            size,
        },
        sha1,
    }
}
