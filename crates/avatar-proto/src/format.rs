//! Image formats, and which one a response is in (`[server.format]`): an explicit extension on
//! the hash, else the formats the client's `Accept` lists (WebP, then AVIF where the server
//! offers it), else the stored image's own format.
//!
//! ```
//! use avatar_proto::{ImageFormat, OutputFormats};
//!
//! let offered = OutputFormats::default(); // WebP on, AVIF off
//! let chrome = b"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
//!
//! // No extension: WebP for a browser that lists it, and the answer varies with Accept.
//! let choice = offered.choose(None, Some(chrome), ImageFormat::Jpeg);
//! assert_eq!(choice.format, ImageFormat::Webp);
//! assert!(choice.varies_with_accept);
//!
//! // A client that lists only */* gets the stored format.
//! let choice = offered.choose(None, Some(b"*/*"), ImageFormat::Jpeg);
//! assert_eq!(choice.format, ImageFormat::Jpeg);
//!
//! // An extension wins over Accept, and Accept then cannot change the answer.
//! let choice = offered.choose(Some(ImageFormat::Png), Some(chrome), ImageFormat::Jpeg);
//! assert_eq!((choice.format, choice.varies_with_accept), (ImageFormat::Png, false));
//! ```

use std::fmt;

/// An image format avatars are stored or served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageFormat {
    /// PNG (an animated PNG is served as its first frame).
    Png,
    /// JPEG.
    Jpeg,
    /// GIF, animated or not; animations stay animated.
    Gif,
    /// WebP, still or animated.
    Webp,
    /// AVIF (served only where the server offers it: [`OutputFormats::avif`]).
    Avif,
}

impl ImageFormat {
    /// Every format, in declaration order.
    pub const ALL: [Self; 5] = [Self::Png, Self::Jpeg, Self::Gif, Self::Webp, Self::Avif];

    /// Recognises a format by its file signature, never by a name or a claimed type.
    ///
    /// ```
    /// use avatar_proto::ImageFormat;
    /// assert_eq!(ImageFormat::sniff(b"GIF89a..."), Some(ImageFormat::Gif));
    /// assert_eq!(ImageFormat::sniff(b"<svg>"), None);
    /// ```
    #[must_use]
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.len() >= 12
            && &bytes[4..8] == b"ftyp"
            && matches!(&bytes[8..12], b"avif" | b"avis")
        {
            Some(Self::Avif)
        } else {
            None
        }
    }

    /// The format a file suffix names (`png`, `jpg`, `jpeg`, `gif`, `webp`, `avif`; any case).
    #[must_use]
    pub fn from_extension(extension: &[u8]) -> Option<Self> {
        let known: [(&[u8], Self); 6] = [
            (b"png", Self::Png),
            (b"jpg", Self::Jpeg),
            (b"jpeg", Self::Jpeg),
            (b"gif", Self::Gif),
            (b"webp", Self::Webp),
            (b"avif", Self::Avif),
        ];
        known
            .iter()
            .find(|(name, _)| extension.eq_ignore_ascii_case(name))
            .map(|&(_, format)| format)
    }

    /// The media type for `Content-Type`.
    #[must_use]
    pub const fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
        }
    }

    /// The usual file extension, without the dot.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Gif => "GIF",
            Self::Webp => "WebP",
            Self::Avif => "AVIF",
        })
    }
}

/// The format a response is in, and whether `Accept` took part in choosing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatChoice {
    /// The format to encode the answer in.
    pub format: ImageFormat,
    /// Whether another `Accept` could have given another format: the response then carries
    /// `Vary: Accept`, so caches keep one copy per format.
    pub varies_with_accept: bool,
}

/// Which formats a server converts to on a client's `Accept` (`[server.format]`). An explicit
/// extension is always honoured, whatever these say, except AVIF when it is not offered.
///
/// The default offers WebP (every browser of the last five years decodes it) and not AVIF
/// (encoding it costs far more CPU per rendition; see the README's measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct OutputFormats {
    webp: bool,
    avif: bool,
}

impl Default for OutputFormats {
    fn default() -> Self {
        Self {
            webp: true,
            avif: false,
        }
    }
}

impl OutputFormats {
    /// Only ever the stored format (or an explicit extension): `Accept` is never looked at.
    pub const STORED_ONLY: Self = Self {
        webp: false,
        avif: false,
    };

    /// Whether WebP is sent to clients that list `image/webp`.
    pub const fn webp(mut self, on: bool) -> Self {
        self.webp = on;
        self
    }

    /// Whether AVIF is sent to clients that list `image/avif` and not `image/webp` (WebP comes
    /// first), and whether `.avif` is served at all.
    pub const fn avif(mut self, on: bool) -> Self {
        self.avif = on;
        self
    }

    /// Whether AVIF is offered.
    #[must_use]
    pub const fn offers_avif(self) -> bool {
        self.avif
    }

    /// Whether WebP is offered on `Accept`.
    #[must_use]
    pub const fn offers_webp(self) -> bool {
        self.webp
    }

    /// Chooses the response format: `explicit` (the hash's extension) if given, else the first
    /// offered of WebP and AVIF that `accept` (the raw `Accept` header) lists with a non-zero
    /// quality, else `source` (the stored image's format, PNG for drawn defaults). Wildcards
    /// (`*/*`, `image/*`) do not count as listing a format: old clients send them and cannot
    /// decode WebP. An explicit `.avif` the server does not offer gives `source`.
    #[must_use]
    pub fn choose(
        self,
        explicit: Option<ImageFormat>,
        accept: Option<&[u8]>,
        source: ImageFormat,
    ) -> FormatChoice {
        if let Some(format) = explicit
            && (format != ImageFormat::Avif || self.avif)
        {
            return FormatChoice {
                format,
                varies_with_accept: false,
            };
        }
        let candidates = [
            (self.webp, ImageFormat::Webp),
            (self.avif, ImageFormat::Avif),
        ];
        // Accept matters only if some offered candidate differs from what is sent without it.
        let varies_with_accept = candidates
            .iter()
            .any(|&(offered, format)| offered && format != source);
        let listed = accept.map_or(&[][..], |accept| accept);
        let format = candidates
            .iter()
            .find(|&&(offered, format)| offered && accept_lists(listed, format.mime_type()))
            .map_or(source, |&(_, format)| format);
        FormatChoice {
            format,
            varies_with_accept,
        }
    }
}

/// Whether an `Accept` value (RFC 9110 12.5.1) lists `mime` by name, in any case, with a
/// quality above zero. Wildcards (`*/*`, `image/*`) do not name it.
///
/// ```
/// use avatar_proto::format::accept_lists;
///
/// assert!(accept_lists(b"text/html, image/webp;q=0.5", "image/webp"));
/// assert!(!accept_lists(b"image/*, */*", "image/webp"));
/// assert!(!accept_lists(b"image/webp;q=0", "image/webp"));
/// ```
#[must_use]
pub fn accept_lists(accept: &[u8], mime: &str) -> bool {
    accept.split(|&byte| byte == b',').any(|range| {
        let mut parts = range.split(|&byte| byte == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        name.eq_ignore_ascii_case(mime.as_bytes())
            && parts.all(|parameter| !is_zero_quality(parameter.trim_ascii()))
    })
}

/// `q=0`, `q=0.0`, `q=0.000` (RFC 9110 12.4.2: "not acceptable").
fn is_zero_quality(parameter: &[u8]) -> bool {
    let Some(value) = parameter
        .strip_prefix(b"q=")
        .or_else(|| parameter.strip_prefix(b"Q="))
    else {
        return false;
    };
    match value.split_first() {
        Some((b'0', rest)) => match rest.split_first() {
            None => true,
            Some((b'.', decimals)) => decimals.iter().all(|&digit| digit == b'0'),
            Some(_) => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(&[0xff, 0xd8, 0xff, 0xe0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(ImageFormat::sniff(b"GIF87a"), Some(ImageFormat::Gif));
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(
            ImageFormat::sniff(b"\0\0\0\x1cftypavif\0\0"),
            Some(ImageFormat::Avif)
        );
        for other in [
            &b""[..],
            b"RIFF\0\0\0\0WAVE",
            b"BM",
            b"\x89PN",
            b"GIF90a",
            b"\0\0\0\x1cftypheic",
        ] {
            assert_eq!(ImageFormat::sniff(other), None);
        }
    }

    #[test]
    fn extensions() {
        for format in ImageFormat::ALL {
            assert_eq!(
                ImageFormat::from_extension(format.extension().as_bytes()),
                Some(format)
            );
        }
        assert_eq!(
            ImageFormat::from_extension(b"JPEG"),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(ImageFormat::from_extension(b"bmp"), None);
    }

    #[test]
    fn accept_lists_by_name_with_nonzero_quality() {
        assert!(accept_lists(b"image/webp", "image/webp"));
        assert!(accept_lists(b"text/html, IMAGE/WEBP ;q=0.5", "image/webp"));
        assert!(accept_lists(b"image/webp;q=0.001", "image/webp"));
        assert!(!accept_lists(b"image/webp;q=0", "image/webp"));
        assert!(!accept_lists(b"image/webp; q=0.000", "image/webp"));
        assert!(!accept_lists(b"image/*, */*", "image/webp"));
        assert!(!accept_lists(b"image/webpx", "image/webp"));
        assert!(!accept_lists(b"", "image/webp"));
    }

    #[test]
    fn the_order_is_extension_then_webp_then_avif_then_stored() {
        let both = OutputFormats::default().avif(true);
        let choose = |explicit, accept: &str, source| {
            both.choose(explicit, Some(accept.as_bytes()), source)
                .format
        };
        assert_eq!(
            choose(Some(ImageFormat::Gif), "image/webp", ImageFormat::Png),
            ImageFormat::Gif
        );
        assert_eq!(
            choose(None, "image/avif,image/webp", ImageFormat::Png),
            ImageFormat::Webp
        );
        assert_eq!(
            choose(None, "image/avif", ImageFormat::Png),
            ImageFormat::Avif
        );
        assert_eq!(
            choose(None, "image/png", ImageFormat::Jpeg),
            ImageFormat::Jpeg
        );
        // Not offered: neither on Accept nor by extension.
        let webp_only = OutputFormats::default();
        assert_eq!(
            webp_only
                .choose(
                    Some(ImageFormat::Avif),
                    Some(b"image/avif"),
                    ImageFormat::Png
                )
                .format,
            ImageFormat::Png
        );
        assert_eq!(
            OutputFormats::STORED_ONLY
                .choose(None, Some(b"image/webp"), ImageFormat::Png)
                .format,
            ImageFormat::Png
        );
    }

    #[test]
    fn vary_only_when_accept_could_change_the_answer() {
        let webp_only = OutputFormats::default();
        assert!(
            webp_only
                .choose(None, None, ImageFormat::Png)
                .varies_with_accept
        );
        // A stored WebP is WebP whatever the client lists.
        assert!(
            !webp_only
                .choose(None, None, ImageFormat::Webp)
                .varies_with_accept
        );
        assert!(
            webp_only
                .avif(true)
                .choose(None, None, ImageFormat::Webp)
                .varies_with_accept
        );
        assert!(
            !OutputFormats::STORED_ONLY
                .choose(None, None, ImageFormat::Png)
                .varies_with_accept
        );
        assert!(
            !webp_only
                .choose(Some(ImageFormat::Png), None, ImageFormat::Png)
                .varies_with_accept
        );
    }
}
