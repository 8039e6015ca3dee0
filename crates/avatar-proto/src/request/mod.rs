//! Parsing an avatar request: `/avatar/{hash}?s=..&d=..&f=..` into an [`AvatarRequest`].
//!
//! Two layers: [`AvatarQuery`] says which raw values the query carries (names, precedence,
//! decoding); [`AvatarRequest::parse`] interprets them under the server's [`RequestRules`] (size
//! clamping, keywords, the trusted-URL filter). Only the hash can make a request invalid; every
//! query parameter degrades to its default when it makes no sense.

mod default;
mod initials;
mod query;
pub mod trusted;

pub use default::{DefaultImage, DefaultKeyword, RobohashSet};
pub use initials::Initials;
pub use query::AvatarQuery;
pub use trusted::{MAX_REDIRECT_LEN, RedirectRefusal, RedirectTarget, TrustedUrl, TrustedUrls};

use crate::error::{Error, excerpt};
use crate::format::ImageFormat;
use crate::hash::AvatarHash;

/// The size served when a request names none (or an unusable one), in pixels.
pub const DEFAULT_SIZE: u32 = 80;
/// The largest size served unless [`RequestRules::max_size`] says otherwise, in pixels.
pub const DEFAULT_MAX_SIZE: u32 = 512;
/// The largest value [`RequestRules::max_size`] accepts, in pixels.
pub const MAX_MAX_SIZE: u32 = 4096;

/// File suffixes a hash may carry (`/avatar/{hash}.png`): ignored for the lookup, they ask for
/// the answer in that format (`[server.format]`).
pub const ACCEPTED_SUFFIXES: [&str; 6] = [".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif"];

/// The server's side of request parsing: the maximum size and the trusted-URL filter.
///
/// The defaults work: maximum 512 px, and [`TrustedUrls::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RequestRules {
    max_size: u32,
    trusted_urls: TrustedUrls,
}

impl Default for RequestRules {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_SIZE,
            trusted_urls: TrustedUrls::default(),
        }
    }
}

impl RequestRules {
    /// Sets the largest size served; larger requests are clamped to it.
    ///
    /// # Errors
    /// [`Error::InvalidMaxSize`] outside `1..=4096`.
    pub fn max_size(mut self, max_size: u32) -> Result<Self, Error> {
        if !(1..=MAX_MAX_SIZE).contains(&max_size) {
            return Err(Error::InvalidMaxSize { found: max_size });
        }
        self.max_size = max_size;
        Ok(self)
    }

    /// Sets which `d=` URLs may be redirected to.
    pub fn trusted_urls(mut self, trusted_urls: TrustedUrls) -> Self {
        self.trusted_urls = trusted_urls;
        self
    }

    /// The largest size served, in pixels.
    #[must_use]
    pub const fn max_size_px(&self) -> u32 {
        self.max_size
    }

    /// The trusted-URL filter.
    #[must_use]
    pub const fn trusted(&self) -> &TrustedUrls {
        &self.trusted_urls
    }

    /// Interprets a raw `size`/`s` value: ASCII digits only; absent, empty, 0, negative or
    /// non-numeric give 80 (or the maximum, if that is smaller); anything above the maximum is
    /// clamped to it.
    #[must_use]
    pub fn size(&self, raw: Option<&str>) -> u32 {
        let fallback = DEFAULT_SIZE.min(self.max_size);
        match raw {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                match digits.parse::<u64>() {
                    Ok(0) => fallback,
                    Ok(size) => u32::try_from(size).unwrap_or(u32::MAX).min(self.max_size),
                    // Only overflow is left: all digits, too many of them.
                    Err(_) => self.max_size,
                }
            }
            _ => fallback,
        }
    }

    /// Interprets a raw `default`/`d` value: a keyword (see [`DefaultKeyword`]), else a URL the
    /// trusted-URL filter allows, else nothing.
    #[must_use]
    pub fn default_image(&self, raw: Option<&str>, robohash: Option<&str>) -> Option<DefaultImage> {
        let raw = raw?;
        DefaultKeyword::parse(raw, robohash)
            .map(DefaultImage::Keyword)
            .or_else(|| {
                self.trusted_urls
                    .redirect_target(raw)
                    .map(DefaultImage::Redirect)
            })
    }
}

/// A parsed avatar request.
///
/// ```
/// use avatar_proto::{AvatarRequest, DefaultImage, DefaultKeyword, RequestRules};
///
/// let rules = RequestRules::default();
/// let request = AvatarRequest::parse(&rules, "40F8D096A3777232204CB3F796C577B7.png", "s=9000&d=retro")?;
/// assert_eq!(request.hash.to_string(), "40f8d096a3777232204cb3f796c577b7");
/// assert_eq!(request.size, 512);
/// assert_eq!(request.default, Some(DefaultImage::Keyword(DefaultKeyword::Retro)));
/// assert!(!request.force_default);
///
/// let err = AvatarRequest::parse(&rules, "nothex", "").unwrap_err();
/// assert!(err.to_string().contains("32 (MD5) or 64 (SHA-256) hex digits"));
/// # Ok::<(), avatar_proto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarRequest {
    /// Whose avatar.
    pub hash: AvatarHash,
    /// Width and height of the answer in pixels, within `1..=max_size`.
    pub size: u32,
    /// What to answer when there is no avatar; `None` means the server's own default.
    pub default: Option<DefaultImage>,
    /// `forcedefault=y`: answer the default even if there is an avatar.
    pub force_default: bool,
    /// The format the hash's extension asks for (`HASH.webp`), if it has one.
    pub format: Option<ImageFormat>,
    /// The letters `initials`/`name` give, for `d=initials` (already in [`Self::default`] when
    /// that is `initials`; kept here for a server whose own default is `initials`).
    pub initials: Initials,
}

impl AvatarRequest {
    /// Parses the path segment after `/avatar/` (raw, not percent-decoded) and the raw query
    /// string (without `?`; empty for none).
    ///
    /// # Errors
    /// [`Error::InvalidHash`] if the segment is not 32 or 64 hex digits with an optional
    /// [`ACCEPTED_SUFFIXES`] suffix and an optional `/` ([`parse_hash_segment`]). Nothing in
    /// the query can make a request invalid.
    pub fn parse(
        rules: &RequestRules,
        hash_segment: impl AsRef<[u8]>,
        query: impl AsRef<[u8]>,
    ) -> Result<Self, Error> {
        let (hash, format) = parse_hash_segment(hash_segment.as_ref())?;
        let mut request = Self::from_query(rules, hash, &AvatarQuery::parse(query.as_ref()));
        request.format = format;
        Ok(request)
    }

    /// Interprets an already decoded query for `hash`.
    #[must_use]
    pub fn from_query(rules: &RequestRules, hash: AvatarHash, query: &AvatarQuery<'_>) -> Self {
        let initials = Initials::from_query(query.initials.as_deref(), query.name.as_deref());
        Self {
            hash,
            size: rules.size(query.size.as_deref()),
            default: rules
                .default_image(query.default.as_deref(), query.robohash.as_deref())
                .map(|default| default.with_initials(initials)),
            initials,
            force_default: query.forces_default(),
            format: None,
        }
    }
}

/// Parses `{hash}` or `{hash}.{suffix}` from a request path segment, with one trailing `/`
/// ignored: the hash, and the format the suffix names.
///
/// The slash is there because django-avatar asks for `/avatar/{hash}/?s=80` (both its Gravatar
/// and its Libravatar provider), and Gravatar and ivatar answer it (`[server.hash-form]`).
///
/// # Errors
/// [`Error::InvalidHash`] for anything else.
pub fn parse_hash_segment(segment: &[u8]) -> Result<(AvatarHash, Option<ImageFormat>), Error> {
    let whole = segment;
    let segment = segment.strip_suffix(b"/").unwrap_or(segment);
    let (hex, format) = ACCEPTED_SUFFIXES
        .iter()
        .find_map(|suffix| {
            let cut = segment.len().checked_sub(suffix.len())?;
            segment[cut..]
                .eq_ignore_ascii_case(suffix.as_bytes())
                .then(|| {
                    (
                        &segment[..cut],
                        ImageFormat::from_extension(&suffix.as_bytes()[1..]),
                    )
                })
        })
        .unwrap_or((segment, None));
    let hash = AvatarHash::parse_hex(hex).map_err(|_| Error::InvalidHash {
        found: excerpt(&String::from_utf8_lossy(whole)),
    })?;
    Ok((hash, format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::HashAlgorithm;

    const MD5: &str = "40f8d096a3777232204cb3f796c577b7";

    fn parse(query: &str) -> AvatarRequest {
        AvatarRequest::parse(&RequestRules::default(), MD5, query).unwrap()
    }

    #[test]
    fn size_rules_of_the_decisions_table() {
        let cases = [
            ("", 80),
            ("s=", 80),
            ("s=0", 80),
            ("s=-5", 80),
            ("s=abc", 80),
            ("s=12px", 80),
            ("s=+40", 80),
            ("s=%2040", 80),
            ("s=1", 1),
            ("s=0040", 40),
            ("s=512", 512),
            ("s=513", 512),
            ("s=99999999999999999999999999", 512),
            ("s=100&size=200", 200),
            ("size=200&s=100", 200),
            ("size=&s=100", 100),
            ("size=abc&s=100", 80),
        ];
        for (query, size) in cases {
            assert_eq!(parse(query).size, size, "{query}");
        }
    }

    #[test]
    fn max_size_is_configurable_and_checked() {
        let rules = RequestRules::default().max_size(64).unwrap();
        assert_eq!(rules.size(Some("100")), 64);
        assert_eq!(rules.size(None), 64);
        assert_eq!(rules.size(Some("10")), 10);
        assert_eq!(
            RequestRules::default().max_size(0).unwrap_err(),
            Error::InvalidMaxSize { found: 0 }
        );
        assert!(RequestRules::default().max_size(4097).is_err());
    }

    #[test]
    fn default_rules_of_the_decisions_table() {
        let keyword = |k| Some(DefaultImage::Keyword(k));
        assert_eq!(parse("d=404").default, keyword(DefaultKeyword::NotFound));
        assert_eq!(
            parse("d=mm").default,
            keyword(DefaultKeyword::MysteryPerson)
        );
        assert_eq!(
            parse("d=mp").default,
            keyword(DefaultKeyword::MysteryPerson)
        );
        assert_eq!(parse("d=blank").default, keyword(DefaultKeyword::Blank));
        assert_eq!(
            parse("d=mm&default=retro").default,
            keyword(DefaultKeyword::Retro)
        );
        assert_eq!(
            parse("default=&d=retro").default,
            keyword(DefaultKeyword::Retro)
        );
        assert_eq!(parse("d=Retro").default, None);
        assert_eq!(parse("d=unknown").default, None);
        assert_eq!(parse("d=").default, None);
        assert_eq!(
            parse("d=robohash&robohash=set3").default,
            keyword(DefaultKeyword::Robohash(RobohashSet::Set3))
        );
        assert_eq!(
            parse("d=retro&robohash=set3").default,
            keyword(DefaultKeyword::Retro)
        );
        assert!(matches!(
            parse("d=https%3A%2F%2Fgravatar.com%2Favatar%2Fx").default,
            Some(DefaultImage::Redirect(_))
        ));
        assert_eq!(
            parse("d=https%3A%2F%2Fevil.example%2Favatar%2Fx").default,
            None
        );
        assert_eq!(parse("d=%2F%2Fevil.example").default, None);
    }

    #[test]
    fn forcedefault_and_ignored_parameters() {
        assert!(parse("f=y").force_default);
        assert!(parse("forcedefault=y").force_default);
        assert!(!parse("f=Y").force_default);
        assert!(!parse("f=y&forcedefault=n").force_default);
        assert_eq!(parse("r=x&rating=pg&foo=bar"), parse(""));
    }

    #[test]
    fn hash_segment_forms() {
        for (segment, format) in [
            (MD5.to_owned(), None),
            (MD5.to_uppercase(), None),
            (format!("{MD5}.png"), Some(ImageFormat::Png)),
            (format!("{MD5}.JPEG"), Some(ImageFormat::Jpeg)),
            (format!("{MD5}.jpg"), Some(ImageFormat::Jpeg)),
            (format!("{MD5}.webp"), Some(ImageFormat::Webp)),
            (format!("{MD5}.avif"), Some(ImageFormat::Avif)),
            // django-avatar's form.
            (format!("{MD5}/"), None),
            (format!("{MD5}.png/"), Some(ImageFormat::Png)),
        ] {
            let (hash, found) = parse_hash_segment(segment.as_bytes()).unwrap();
            assert_eq!(hash.to_string(), MD5, "{segment}");
            assert_eq!(found, format, "{segment}");
        }
        let sha = "47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066";
        assert_eq!(
            parse_hash_segment(format!("{sha}.gif").as_bytes())
                .unwrap()
                .0
                .algorithm(),
            HashAlgorithm::Sha256
        );
        for bad in [
            "",
            ".png",
            "abc",
            &format!("{MD5}.bmp"),
            &format!("{MD5}.png.png"),
            &format!("{MD5}png"),
            &format!("%34{}", &MD5[1..]),
            &format!("../{MD5}"),
            "/",
            &format!("{MD5}//"),
            &format!("{MD5}/extra"),
            &format!("{MD5}/.png"),
        ] {
            let err = parse_hash_segment(bad.as_bytes()).unwrap_err();
            assert!(matches!(err, Error::InvalidHash { .. }), "{bad}");
        }
    }
}
