//! EXIF orientation on real files: phones store the pixels as the sensor saw them and say in an
//! EXIF block how to turn them for display (`Orientation`, 1 to 8). These build such files from
//! a picture as it should be shown.

use bytes::Bytes;
use image::DynamicImage;
use image::metadata::Orientation;
use img_parts::ImageEXIF as _;

/// An EXIF block (TIFF, big-endian, as many cameras write it) holding one tag: `Orientation`.
#[must_use]
pub fn orientation_block(orientation: u16) -> Vec<u8> {
    let mut block = b"MM\0\x2a".to_vec();
    block.extend_from_slice(&8u32.to_be_bytes()); // IFD0 follows the header
    block.extend_from_slice(&1u16.to_be_bytes()); // one entry
    block.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    block.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    block.extend_from_slice(&1u32.to_be_bytes()); // one value
    block.extend_from_slice(&orientation.to_be_bytes());
    block.extend_from_slice(&[0, 0]); // the value field's padding
    block.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    block
}

/// `file` (a JPEG, PNG or WebP) with an EXIF block saying `orientation`.
///
/// # Panics
/// If `file` is none of those formats.
#[must_use]
pub fn with_orientation(file: &[u8], orientation: u16) -> Vec<u8> {
    let exif = Bytes::from(orientation_block(orientation));
    edited(file, |image| image.set_exif(Some(exif)))
}

/// `file` (a JPEG, PNG or WebP) with its metadata changed by `edit`, pixels untouched.
pub(crate) fn edited(file: &[u8], edit: impl FnOnce(&mut img_parts::DynImage)) -> Vec<u8> {
    let mut image = img_parts::DynImage::from_bytes(Bytes::copy_from_slice(file))
        .ok()
        .flatten()
        .expect("a JPEG, PNG or WebP");
    edit(&mut image);
    image.encoder().bytes().to_vec()
}

/// The pixels a camera stores for a picture meant to be shown as `shown` with EXIF
/// `orientation`: what the orientation undoes.
///
/// # Panics
/// If `orientation` is not 1 to 8.
#[must_use]
pub fn stored_for(shown: &DynamicImage, orientation: u8) -> DynamicImage {
    // 6 (turn clockwise) and 8 (anticlockwise) undo each other; the rest undo themselves.
    let inverse = match orientation {
        6 => 8,
        8 => 6,
        other => other,
    };
    let mut stored = shown.clone();
    stored.apply_orientation(Orientation::from_exif(inverse).expect("an orientation from 1 to 8"));
    stored
}
