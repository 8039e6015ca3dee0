//! The one error type of this crate.

use avatar_proto::ImageFormat;

/// Why an image could not be decoded, rendered or encoded.
///
/// Messages say what was wrong and what is accepted, so they can be shown to the person who
/// uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file is larger than [`Limits::max_input_bytes`](crate::Limits::max_input_bytes).
    #[error("image file is {size} bytes; at most {limit} bytes are accepted")]
    InputTooLarge {
        /// Size of the file.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The bytes are not one of the supported formats.
    #[error("not a PNG, JPEG, GIF or WebP image (unrecognised file signature)")]
    UnknownFormat,

    /// The bytes are a file of a known kind that is not one of the supported formats: an
    /// iPhone's HEIC photo, a BMP or TIFF, an SVG drawing, a PDF, a web page saved instead of
    /// its picture (as its magic number says; otherwise [`ImageError::UnknownFormat`]).
    #[error("this is {kind}; PNG, JPEG, GIF or WebP images are accepted: {advice}")]
    UnsupportedFormat {
        /// What the file is, as a phrase: "a HEIC image (as iPhones save photos)".
        kind: String,
        /// What to do instead: "convert it to one of them first".
        advice: &'static str,
    },

    /// A side is longer than [`Limits::max_side`](crate::Limits::max_side), or the image is empty.
    #[error("image is {width} x {height} pixels; each side must be from 1 to {max_side} pixels")]
    Dimensions {
        /// Width claimed by the file.
        width: u32,
        /// Height claimed by the file.
        height: u32,
        /// The limit.
        max_side: u32,
    },

    /// Decoding would need more memory than [`Limits::max_decoded_bytes`](crate::Limits::max_decoded_bytes)
    /// (a decompression bomb, or simply too many large frames).
    #[error("decoding this image would need more than {limit} bytes of memory; it is refused")]
    DecodedTooLarge {
        /// The limit.
        limit: u64,
    },

    /// An animation has more frames than [`Limits::max_frames`](crate::Limits::max_frames).
    #[error("animation has more than {limit} frames; at most {limit} are accepted")]
    TooManyFrames {
        /// The limit.
        limit: u32,
    },

    /// The file claims a supported format but its data is truncated or corrupt.
    #[error("corrupt or truncated {format} image: {detail}")]
    Corrupt {
        /// The format the signature claimed.
        format: ImageFormat,
        /// What the decoder said.
        detail: String,
    },

    /// Encoding the result failed (not expected for valid input).
    #[error("could not encode the {format} result: {detail}")]
    Encode {
        /// The format being written.
        format: ImageFormat,
        /// What the encoder said.
        detail: String,
    },

    /// A palette for `d=color` was given no colours.
    #[error("a palette needs at least one colour; none was given")]
    EmptyPalette,

    /// A requested size is outside 1..=4096.
    #[error("cannot render at {size} pixels: sizes from 1 to 4096 are accepted")]
    InvalidSize {
        /// The requested size.
        size: u32,
    },

    /// A crop was not written as `X,Y,SIDE` ([`Crop`](crate::Crop)'s parser).
    #[error(
        "invalid crop {given:?}: expected X,Y,SIDE, three whole numbers of pixels (the square's left edge, top edge and side, in the picture as shown, the side at least 1), such as 0,120,800"
    )]
    InvalidCrop {
        /// What was given (its first 64 characters).
        given: String,
    },

    /// A crop does not lie wholly inside the picture it was given for.
    #[error(
        "the crop {crop} (X,Y,SIDE) does not fit in the {width} x {height} picture: X + SIDE must be at most {width} and Y + SIDE at most {height}"
    )]
    CropOutside {
        /// The crop.
        crop: crate::Crop,
        /// The picture's width, as shown.
        width: u32,
        /// The picture's height, as shown.
        height: u32,
    },

    /// Render-ahead was given no sizes, or more than it accepts.
    #[error(
        "{count} sizes to render ahead were given; from 1 to {limit} different sizes are accepted"
    )]
    AheadSizes {
        /// How many different sizes were given.
        count: usize,
        /// The most accepted.
        limit: usize,
    },
}

impl ImageError {
    /// Whether the error is the picture's own: it cannot be read under the limits (too large,
    /// no known format, damaged), so every size and format of it fails alike, until another
    /// picture is stored. `false` for what fails one render only (encoding one format, an
    /// invalid size) and for a palette, sizes or a crop given wrong.
    ///
    /// ```
    /// use avatar_image::{ImageError, Limits, render_square};
    ///
    /// let damaged = render_square(b"\x89PNG\r\n\x1a\n and nothing of a PNG after", 80, &Limits::DEFAULT);
    /// assert!(damaged.unwrap_err().is_the_pictures());
    /// assert!(!ImageError::InvalidSize { size: 0 }.is_the_pictures());
    /// ```
    #[must_use]
    pub const fn is_the_pictures(&self) -> bool {
        match self {
            Self::InputTooLarge { .. }
            | Self::UnknownFormat
            | Self::UnsupportedFormat { .. }
            | Self::Dimensions { .. }
            | Self::DecodedTooLarge { .. }
            | Self::TooManyFrames { .. }
            | Self::Corrupt { .. } => true,
            Self::Encode { .. }
            | Self::EmptyPalette
            | Self::InvalidSize { .. }
            | Self::InvalidCrop { .. }
            | Self::CropOutside { .. }
            | Self::AheadSizes { .. } => false,
        }
    }
}
