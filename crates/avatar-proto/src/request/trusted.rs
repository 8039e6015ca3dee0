//! Which `d=` URLs a server may redirect to (CWE-601: open redirect).
//!
//! A URL default is followed only if it is
//! - a relative path starting with exactly one `/` (when relative redirects are allowed), or
//! - an absolute `http`/`https` URL without user information that one of the configured
//!   [`TrustedUrl`] patterns allows: same scheme, the exact host or a subdomain of a `*.` host,
//!   the pattern's port (the scheme's default unless the pattern names one), and a path that
//!   starts with the pattern's prefix after normalisation.
//!
//! Control characters (tab and newline injection), backslashes, protocol-relative `//host`
//! forms, `javascript:`, `data:` and every other scheme, and encoded slashes in the path are
//! refused before anything else is looked at. The [`RedirectTarget`] handed out is the normalised,
//! percent-encoded form of exactly the URL that was checked.

use std::fmt;
use std::str::FromStr;

use url::{Position, Url};

use crate::error::{Error, excerpt};
use crate::scheme::Scheme;

/// The longest `d=` URL considered at all; longer ones are refused.
pub const MAX_REDIRECT_LEN: usize = 2048;

/// A validated, percent-encoded `Location` value for a default-image redirect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectTarget(String);

impl RedirectTarget {
    /// The `Location` header value: an absolute URL, or a path starting with a single `/`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedirectTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a [`TrustedUrl`] matches hosts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostMatch {
    /// This host exactly.
    Exact(String),
    /// Any host ending in this suffix, which starts with a dot (`.gravatar.com`).
    Suffix(String),
}

/// One allowed family of default-image URLs: scheme, host (exact or `*.` suffix), port, and path
/// prefix.
///
/// Written as a URL: `https://gravatar.com/avatar/`, `http://*.gravatar.com/avatar/`,
/// `https://avatars.example.org:8443/img/`.
///
/// ```
/// use avatar_proto::TrustedUrl;
///
/// let pattern: TrustedUrl = "https://*.gravatar.com/avatar/".parse()?;
/// assert_eq!(pattern.to_string(), "https://*.gravatar.com/avatar/");
/// # Ok::<(), avatar_proto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustedUrl {
    scheme: Scheme,
    host: HostMatch,
    port: Option<u16>,
    path_prefix: String,
}

impl TrustedUrl {
    /// Whether this pattern allows `url` (already parsed and free of user information).
    fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_ok = match &self.host {
            HostMatch::Exact(exact) => host == exact,
            HostMatch::Suffix(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        };
        url.scheme() == self.scheme.as_str()
            && host_ok
            && url.port() == self.port
            && url.path().starts_with(&self.path_prefix)
    }
}

impl FromStr for TrustedUrl {
    type Err = Error;

    fn from_str(pattern: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidTrustedUrl {
            found: excerpt(pattern),
            reason,
        };
        let (scheme, rest) = if let Some(rest) = pattern.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = pattern.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(invalid("it does not start with http:// or https://"));
        };
        let (wildcard, rest) = match rest.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        if !rest.contains('/') {
            return Err(invalid("it has no path prefix (end the host with /)"));
        }
        if rest.contains(['*', '@', '\\', '?', '#']) || rest.chars().any(char::is_whitespace) {
            return Err(invalid(
                "only a leading *. may be a wildcard, and @ \\ ? # and spaces are not allowed",
            ));
        }
        let url = Url::parse(&format!("{}://{rest}", scheme.as_str()))
            .map_err(|_| invalid("its host or port is not valid"))?;
        let host = url
            .host_str()
            .ok_or_else(|| invalid("it has no host"))?
            .to_owned();
        // Compare what the pattern says with what the URL parser made of it, so that a pattern
        // never silently means something else (a path with dot segments, an encoded host).
        let path_prefix = url.path().to_owned();
        let raw_path = rest.find('/').map_or("", |start| &rest[start..]);
        if raw_path != path_prefix {
            return Err(invalid(
                "its path prefix is not in normal form (no dot segments or encoded characters)",
            ));
        }
        Ok(Self {
            scheme,
            host: if wildcard {
                HostMatch::Suffix(format!(".{host}"))
            } else {
                HostMatch::Exact(host)
            },
            port: url.port(),
            path_prefix,
        })
    }
}

impl fmt::Display for TrustedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        match &self.host {
            HostMatch::Exact(host) => f.write_str(host)?,
            HostMatch::Suffix(suffix) => write!(f, "*{suffix}")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path_prefix)
    }
}

/// The trusted-URL filter: the patterns plus whether same-site relative paths are allowed.
///
/// [`TrustedUrls::default`] is ivatar's set (gravatar.com and its subdomains under `/avatar/`,
/// ui-avatars.com under `/api/`, api.dicebear.com) with relative paths allowed;
/// [`TrustedUrls::none`] refuses every URL.
///
/// ```
/// use avatar_proto::TrustedUrls;
///
/// let trusted = TrustedUrls::default();
/// assert!(trusted.redirect_target("https://secure.gravatar.com/avatar/abc?s=80").is_some());
/// assert!(trusted.redirect_target("https://gravatar.com.example.org/avatar/abc").is_none());
/// assert!(trusted.redirect_target("//evil.example/x").is_none());
/// assert!(trusted.redirect_target("javascript:alert(1)").is_none());
/// assert_eq!(trusted.redirect_target("/static/nobody.png").unwrap().as_str(), "/static/nobody.png");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedUrls {
    patterns: Vec<TrustedUrl>,
    allow_relative: bool,
}

impl Default for TrustedUrls {
    fn default() -> Self {
        let patterns = [
            "http://gravatar.com/avatar/",
            "https://gravatar.com/avatar/",
            "http://*.gravatar.com/avatar/",
            "https://*.gravatar.com/avatar/",
            "https://ui-avatars.com/api/",
            "https://api.dicebear.com/",
        ];
        Self {
            patterns: patterns
                .iter()
                .map(|pattern| pattern.parse().expect("built-in patterns are valid"))
                .collect(),
            allow_relative: true,
        }
    }
}

impl TrustedUrls {
    /// A filter that refuses every URL, relative ones included.
    #[must_use]
    pub const fn none() -> Self {
        Self {
            patterns: Vec::new(),
            allow_relative: false,
        }
    }

    /// Adds an allowed pattern.
    #[must_use]
    pub fn with(mut self, pattern: TrustedUrl) -> Self {
        self.patterns.push(pattern);
        self
    }

    /// Whether relative paths (`/path`, on the avatar server's own site) are followed.
    #[must_use]
    pub const fn allow_relative(mut self, allow: bool) -> Self {
        self.allow_relative = allow;
        self
    }

    /// The allowed patterns, in the order they were added.
    #[must_use]
    pub fn patterns(&self) -> &[TrustedUrl] {
        &self.patterns
    }

    /// Decides whether `candidate` (a decoded `d=` value) may be redirected to, and if so returns
    /// the normalised, percent-encoded `Location`.
    #[must_use]
    pub fn redirect_target(&self, candidate: &str) -> Option<RedirectTarget> {
        self.check(candidate).ok()
    }

    /// As [`TrustedUrls::redirect_target`], saying why a refused candidate was refused (for a
    /// server's debug log, or a client's warning).
    ///
    /// ```
    /// use avatar_proto::request::trusted::RedirectRefusal;
    /// use avatar_proto::TrustedUrls;
    ///
    /// let trusted = TrustedUrls::default();
    /// assert_eq!(trusted.check("//evil.example/x").unwrap_err(), RedirectRefusal::ProtocolRelative);
    /// assert_eq!(trusted.check("https://evil.example/x").unwrap_err(), RedirectRefusal::NotTrusted);
    /// assert!(trusted.check("https://gravatar.com/avatar/x").is_ok());
    /// ```
    ///
    /// # Errors
    /// The [`RedirectRefusal`] that applies.
    pub fn check(&self, candidate: &str) -> Result<RedirectTarget, RedirectRefusal> {
        if candidate.is_empty() {
            return Err(RedirectRefusal::Empty);
        }
        if candidate.len() > MAX_REDIRECT_LEN {
            return Err(RedirectRefusal::TooLong);
        }
        if candidate.chars().any(|c| c.is_control() || c == '\\') {
            return Err(RedirectRefusal::ControlOrBackslash);
        }
        let target = if candidate.starts_with('/') {
            self.relative_target(candidate)?
        } else {
            self.absolute_target(candidate)?
        };
        let path_end = target.find(['?', '#']).unwrap_or(target.len());
        let path = &target[..path_end];
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Err(RedirectRefusal::EncodedSeparator);
        }
        Ok(RedirectTarget(target))
    }

    fn relative_target(&self, candidate: &str) -> Result<String, RedirectRefusal> {
        const BASE: &str = "http://relative.invalid/";
        if candidate.starts_with("//") {
            return Err(RedirectRefusal::ProtocolRelative);
        }
        if !self.allow_relative {
            return Err(RedirectRefusal::RelativeNotAllowed);
        }
        let base = Url::parse(BASE).expect("the base is a valid URL");
        let url = base
            .join(candidate)
            .map_err(|_| RedirectRefusal::Malformed)?;
        let same_origin =
            url.origin() == base.origin() && url.username().is_empty() && url.password().is_none();
        // Dot segments can normalise "/.//evil.example" into "//evil.example", which a browser
        // reads as another host.
        if !same_origin || url.path().starts_with("//") {
            return Err(RedirectRefusal::ProtocolRelative);
        }
        Ok(url[Position::BeforePath..].to_owned())
    }

    fn absolute_target(&self, candidate: &str) -> Result<String, RedirectRefusal> {
        let scheme_end = candidate.find("://").ok_or(RedirectRefusal::NotHttp)?;
        let scheme = &candidate[..scheme_end];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(RedirectRefusal::NotHttp);
        }
        let url = Url::parse(candidate).map_err(|_| RedirectRefusal::Malformed)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectRefusal::UserInfo);
        }
        if self.patterns.iter().any(|pattern| pattern.allows(&url)) {
            Ok(url.into())
        } else {
            Err(RedirectRefusal::NotTrusted)
        }
    }
}

/// Why a `d=` value is not redirected to (it is then treated as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectRefusal {
    /// The value is empty.
    #[error("it is empty")]
    Empty,
    /// Longer than [`MAX_REDIRECT_LEN`].
    #[error("it is longer than {MAX_REDIRECT_LEN} bytes")]
    TooLong,
    /// A control character or a backslash (browsers read `\\` as `/`).
    #[error("it contains a control character or a backslash")]
    ControlOrBackslash,
    /// `//host` (or a relative path that normalises to one): another site.
    #[error("it is protocol-relative (//host), which leaves this site")]
    ProtocolRelative,
    /// Relative paths are turned off.
    #[error("relative paths are not allowed by this server's settings")]
    RelativeNotAllowed,
    /// Neither a relative path nor an `http://` or `https://` URL.
    #[error("it is neither a path starting with / nor an http(s) URL")]
    NotHttp,
    /// Does not parse as a URL.
    #[error("it is not a well-formed URL")]
    Malformed,
    /// `user:password@` in the URL.
    #[error("it carries a user name or password")]
    UserInfo,
    /// An http(s) URL no trusted-URL pattern allows.
    #[error("no trusted-URL pattern allows it")]
    NotTrusted,
    /// `%2F` or `%5C` in the path.
    #[error("its path holds an encoded / or \\")]
    EncodedSeparator,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(candidate: &str) -> Option<String> {
        TrustedUrls::default()
            .redirect_target(candidate)
            .map(|target| target.as_str().to_owned())
    }

    #[test]
    fn trusted_absolute_urls_are_normalised_and_encoded() {
        assert_eq!(
            target("https://gravatar.com/avatar/63a75a80e6b1f4adfdb04c1ca02e596c").as_deref(),
            Some("https://gravatar.com/avatar/63a75a80e6b1f4adfdb04c1ca02e596c")
        );
        assert_eq!(
            target("HTTP://SECURE.Gravatar.com:80/avatar/a b?d=x y").as_deref(),
            Some("http://secure.gravatar.com/avatar/a%20b?d=x%20y")
        );
        assert_eq!(
            target("https://ui-avatars.com/api/?name=Zoë").as_deref(),
            Some("https://ui-avatars.com/api/?name=Zo%C3%AB")
        );
    }

    #[test]
    fn hostile_forms_are_refused() {
        for candidate in test_support::hostile::OPEN_REDIRECTS {
            assert_eq!(target(candidate), None, "{candidate:?} must be refused");
        }
        assert_eq!(target(&format!("/{}", "a".repeat(MAX_REDIRECT_LEN))), None);
    }

    #[test]
    fn relative_paths_follow_the_setting() {
        assert_eq!(
            target("/img/nobody.png?s=80").as_deref(),
            Some("/img/nobody.png?s=80")
        );
        assert_eq!(target("/a/../b c").as_deref(), Some("/b%20c"));
        let strict = TrustedUrls::default().allow_relative(false);
        assert_eq!(strict.redirect_target("/img/nobody.png"), None);
        assert_eq!(
            TrustedUrls::none().redirect_target("https://gravatar.com/avatar/x"),
            None
        );
    }

    #[test]
    fn patterns_parse_display_and_refuse_nonsense() {
        for pattern in [
            "https://gravatar.com/avatar/",
            "http://*.gravatar.com/avatar/",
            "https://avatars.example.org:8443/img/",
        ] {
            assert_eq!(pattern.parse::<TrustedUrl>().unwrap().to_string(), pattern);
        }
        let custom =
            TrustedUrls::none().with("https://avatars.example.org:8443/img/".parse().unwrap());
        assert!(
            custom
                .redirect_target("https://avatars.example.org:8443/img/a.png")
                .is_some()
        );
        assert!(
            custom
                .redirect_target("https://avatars.example.org/img/a.png")
                .is_none()
        );

        for bad in [
            "gravatar.com/avatar/",
            "ftp://gravatar.com/",
            "https://gravatar.com",
            "https://*gravatar.com/",
            "https://a.*.gravatar.com/",
            "https://user@gravatar.com/",
            "https://gravatar.com/a/../b/",
            "https://gravatar.com:99999/",
            "https:// gravatar.com/",
        ] {
            let err = bad.parse::<TrustedUrl>().unwrap_err();
            assert!(matches!(err, Error::InvalidTrustedUrl { .. }), "{bad}");
            assert!(err.to_string().contains("expected http(s)://HOST"), "{err}");
        }
    }
}
