//! What an upload is stored as: the file itself when it is small, a master when it is large.
//!
//! Every rendition is the centred square of the stored picture, so a render decodes the whole
//! stored file: an 8192 x 8192 photo costs hundreds of milliseconds for each new size, while
//! the largest size served is 512 px by default. [`prepare`] bounds that cost at upload time:
//! a picture whose longest side is over [`Limits::master_side`] is stored as its centred square
//! at that side (or at its shortest side, when that is smaller), upright, in sRGB and without
//! metadata.
//! Renditions drawn from the master are those drawn from the upload: the same square, resized
//! once more from a larger intermediate.

use crate::decode::{ImageInfo, as_shown, decode};
use crate::error::ImageError;
use crate::limits::Limits;
use crate::render::{MAX_RENDER_SIZE, Rendered, render_decoded};

/// An upload, decoded once, checked under the limits and ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prepared {
    /// The picture as uploaded: its format, and its width and height as shown (EXIF
    /// orientation applied).
    pub info: ImageInfo,
    /// What to store instead of the upload when its longest side is over
    /// [`Limits::master_side`]: the centred square at `min(shortest side, master_side)`,
    /// upright, in sRGB, without metadata, in the upload's format (an animation stays animated).
    /// `None`: the upload is small enough to be stored as it is, byte for byte.
    pub master: Option<Rendered>,
}

/// Decodes an upload under `limits` (everything [`crate::validate`] checks) and makes its
/// master when it is larger than [`Limits::master_side`].
///
/// ```
/// use avatar_image::{Limits, prepare};
///
/// let mut jpeg = Vec::new();
/// image::RgbImage::from_pixel(2000, 1500, image::Rgb([20, 120, 200]))
///     .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)?;
///
/// let prepared = prepare(&jpeg, &Limits::default())?;
/// assert_eq!((prepared.info.width, prepared.info.height), (2000, 1500));
/// assert_eq!(prepared.master.expect("over 512 px").size, 512);
///
/// let small = Limits { master_side: 4096, ..Limits::default() };
/// assert!(prepare(&jpeg, &small)?.master.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Everything [`crate::validate`] refuses; [`ImageError::Encode`] if the master cannot be
/// encoded.
pub fn prepare(bytes: &[u8], limits: &Limits) -> Result<Prepared, ImageError> {
    let (info, decoded) = decode(bytes, limits)?;
    let shown = as_shown(info, &decoded);
    let master_side = limits.master_side.clamp(1, MAX_RENDER_SIZE);
    let master = if shown.width.max(shown.height) > master_side {
        let side = shown.width.min(shown.height).min(master_side);
        Some(render_decoded(info.format, decoded, side, info.format)?)
    } else {
        None
    };
    Ok(Prepared {
        info: shown,
        master,
    })
}
