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

use std::fmt;
use std::str::FromStr;

use crate::decode::{Decoded, ImageInfo, as_shown, decode};
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
    /// `None`: the upload is small enough to be stored as it is, byte for byte. Always there
    /// from [`prepare_cropped`]: the square chosen, at `min(its side, master_side)`.
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

/// The square a person chose of their picture, as a page's cropping tool gives it: its left
/// and top edges and its side, in pixels of the picture as shown (EXIF orientation applied),
/// whatever its size once stored. Written and parsed as `X,Y,SIDE`.
///
/// ```
/// use avatar_image::Crop;
///
/// let crop: Crop = "120,40,800".parse()?;
/// assert_eq!(crop, Crop { x: 120, y: 40, side: 800 });
/// assert_eq!(crop.to_string(), "120,40,800");
/// assert!("120,40".parse::<Crop>().unwrap_err().to_string().contains("X,Y,SIDE"));
/// # Ok::<(), avatar_image::ImageError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Crop {
    /// The square's left edge, in pixels from the picture's left.
    pub x: u32,
    /// Its top edge, in pixels from the picture's top.
    pub y: u32,
    /// Its side, in pixels (at least 1).
    pub side: u32,
}

impl Crop {
    /// Whether the square lies wholly inside a `width` x `height` picture.
    #[must_use]
    pub const fn fits(self, width: u32, height: u32) -> bool {
        // Overflow-free for any numbers: an edge past the picture leaves no room at all.
        self.side > 0
            && self.side <= width.saturating_sub(self.x)
            && self.side <= height.saturating_sub(self.y)
    }
}

impl fmt::Display for Crop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.x, self.y, self.side)
    }
}

impl FromStr for Crop {
    type Err = ImageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ImageError::InvalidCrop {
            given: text.chars().take(64).collect(),
        };
        let mut numbers = text.split(',').map(|part| part.trim().parse::<u32>());
        match (
            numbers.next(),
            numbers.next(),
            numbers.next(),
            numbers.next(),
        ) {
            (Some(Ok(x)), Some(Ok(y)), Some(Ok(side)), None) if side > 0 => Ok(Self { x, y, side }),
            _ => Err(invalid()),
        }
    }
}

/// [`prepare`] for an upload of which the person chose a square (`crop`, in the picture as
/// shown): what is stored is that square, upright and in sRGB, at its own side or
/// [`Limits::master_side`], whichever is smaller, in the upload's format (an animation stays
/// animated, each frame cropped alike). [`Prepared::master`] is always there: the upload itself
/// is never what is stored.
///
/// ```
/// use avatar_image::{Crop, Limits, prepare_cropped};
///
/// let mut png = Vec::new();
/// image::RgbImage::from_fn(400, 300, |x, _| image::Rgb([if x < 200 { 200 } else { 20 }, 90, 90]))
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
///
/// // The left half's top 160 px square: red only.
/// let prepared = prepare_cropped(&png, &Limits::default(), Crop { x: 20, y: 0, side: 160 })?;
/// let master = prepared.master.expect("always made");
/// assert_eq!(master.size, 160);
/// let stored = image::load_from_memory(&master.bytes)?.to_rgb8();
/// assert!(stored.pixels().all(|pixel| pixel.0[0] == 200));
///
/// let outside = prepare_cropped(&png, &Limits::default(), Crop { x: 300, y: 0, side: 160 });
/// assert!(outside.unwrap_err().to_string().contains("does not fit in the 400 x 300 picture"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Everything [`prepare`] refuses; [`ImageError::CropOutside`] when the square does not lie
/// wholly inside the picture as shown.
pub fn prepare_cropped(bytes: &[u8], limits: &Limits, crop: Crop) -> Result<Prepared, ImageError> {
    let (info, decoded) = decode(bytes, limits)?;
    let shown = as_shown(info, &decoded);
    if !crop.fits(shown.width, shown.height) {
        return Err(ImageError::CropOutside {
            crop,
            width: shown.width,
            height: shown.height,
        });
    }
    let side = crop.side.min(limits.master_side.clamp(1, MAX_RENDER_SIZE));
    let master = render_decoded(info.format, cropped(decoded, crop), side, info.format)?;
    Ok(Prepared {
        info: shown,
        master: Some(master),
    })
}

/// The square `crop` of a decoded picture (every frame of an animation), which fits in it.
fn cropped(decoded: Decoded, crop: Crop) -> Decoded {
    let Crop { x, y, side } = crop;
    match decoded {
        Decoded::Still(image) => Decoded::Still(image.crop_imm(x, y, side, side)),
        Decoded::Animated(frames) => Decoded::Animated(
            frames
                .into_iter()
                .map(|frame| {
                    let delay = frame.delay();
                    let square = image::imageops::crop_imm(frame.buffer(), x, y, side, side);
                    image::Frame::from_parts(square.to_image(), 0, 0, delay)
                })
                .collect(),
        ),
    }
}
