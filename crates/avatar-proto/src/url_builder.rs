//! Building avatar URLs for clients: identity + options -> URL.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::hash::HashAlgorithm;
use crate::identity::Identity;
use crate::request::{DEFAULT_MAX_SIZE, DEFAULT_SIZE, MAX_MAX_SIZE};
use crate::scheme::Scheme;
use crate::srv::{BaseUrl, Fallback};

/// Everything but RFC 3986's unreserved characters is encoded in a `d=` value, so the value
/// survives any server's decoding exactly once.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query value (such as a `d=` URL) exactly once: everything but RFC 3986's
/// unreserved characters is encoded.
///
/// ```
/// assert_eq!(avatar_proto::url_builder::encode_query_value("a b&c=/%"), "a%20b%26c%3D%2F%25");
/// ```
#[must_use]
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Builds the URL of an identity's avatar.
///
/// The query carries `s` (clamped to 1..=512, left out when unset), `d` (percent-encoded exactly
/// once, left out when unset or empty), `f=y` (only when forcing the default) and `v` (a
/// cache-busting version, when set), in that order.
///
/// ```
/// use avatar_proto::{AvatarUrlBuilder, HashAlgorithm, Identity, Scheme};
///
/// let url = AvatarUrlBuilder::new(Identity::parse("George@example.com")?)
///     .scheme(Scheme::Https)
///     .algorithm(HashAlgorithm::Sha256)
///     .size(1000)
///     .default_image("https://example.org/nobody.png?a=1&b=2")
///     .build();
/// assert_eq!(
///     url,
///     "https://seccdn.libravatar.org/avatar/\
///      47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066\
///      ?s=512&d=https%3A%2F%2Fexample.org%2Fnobody.png%3Fa%3D1%26b%3D2"
/// );
/// # Ok::<(), avatar_proto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AvatarUrlBuilder {
    identity: Identity,
    scheme: Scheme,
    algorithm: HashAlgorithm,
    size: Option<u32>,
    default: Option<String>,
    force_default: bool,
    version: Option<String>,
    max_size: u32,
}

impl AvatarUrlBuilder {
    /// A builder for `identity`: http, MD5 (SHA-256 for OpenIDs), no size, no default.
    pub fn new(identity: Identity) -> Self {
        Self {
            identity,
            scheme: Scheme::Http,
            algorithm: HashAlgorithm::Md5,
            size: None,
            default: None,
            force_default: false,
            version: None,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    /// The largest size the server answers (512 by default, the Libravatar API's; a server
    /// configured with a larger `max_size` serves up to 4096): sizes are clamped to it in URLs.
    pub const fn max_size(mut self, max_size: u32) -> Self {
        self.max_size = if max_size == 0 {
            1
        } else if max_size > MAX_MAX_SIZE {
            MAX_MAX_SIZE
        } else {
            max_size
        };
        self
    }

    /// An HTML `srcset` value for sharp avatars on dense screens: one URL per pixel density
    /// (`1x`, `2x`, ...) at the builder's size (80 if unset) times the density, clamped to
    /// [`max_size`](Self::max_size); a density whose clamped size repeats the one before it is
    /// left out, as it would fetch the same image. Each URL is made by `url_for` from a copy of
    /// the builder with that size: [`build`](Self::build), a discovered base with
    /// [`build_with_base`](Self::build_with_base), or the application's own mount point with
    /// [`build_under`](Self::build_under).
    ///
    /// ```
    /// use avatar_proto::{AvatarUrlBuilder, Identity};
    ///
    /// let george = AvatarUrlBuilder::new(Identity::parse("George@example.com")?).size(200);
    /// let srcset = george.srcset(&[1, 2, 3], |url| url.build_under("/avatars/avatar"));
    /// assert_eq!(
    ///     srcset,
    ///     "/avatars/avatar/40f8d096a3777232204cb3f796c577b7?s=200 1x, \
    ///      /avatars/avatar/40f8d096a3777232204cb3f796c577b7?s=400 2x, \
    ///      /avatars/avatar/40f8d096a3777232204cb3f796c577b7?s=512 3x"
    /// );
    /// # Ok::<(), avatar_proto::Error>(())
    /// ```
    #[must_use]
    pub fn srcset(&self, densities: &[u32], url_for: impl Fn(&Self) -> String) -> String {
        let base = self.size.unwrap_or(DEFAULT_SIZE).clamp(1, self.max_size);
        let mut entries: Vec<String> = Vec::with_capacity(densities.len());
        let mut previous = None;
        for &density in densities.iter().filter(|density| **density > 0) {
            let size = base.saturating_mul(density).min(self.max_size);
            if previous == Some(size) {
                continue;
            }
            previous = Some(size);
            let url = url_for(&self.clone().size(size));
            entries.push(format!("{url} {density}x"));
        }
        entries.join(", ")
    }

    /// The scheme of the page the avatar is shown on (decides the central server and, with
    /// discovery, the SRV service).
    pub const fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// The hash algorithm for email addresses; OpenID URLs always use SHA-256.
    pub const fn algorithm(mut self, algorithm: HashAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The size in pixels; clamped to 1..=512 in the URL.
    pub const fn size(mut self, size: u32) -> Self {
        self.size = Some(size);
        self
    }

    /// The `d` value: a keyword such as `identicon`, or a URL. Give it unencoded.
    pub fn default_image(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }

    /// Whether to send `f=y`.
    pub const fn force_default(mut self, force: bool) -> Self {
        self.force_default = force;
        self
    }

    /// A cache-busting version, sent as `v=` after everything else: change it when the avatar
    /// changes (a counter, or the upload's time) and browsers fetch the new picture at once,
    /// although hits carry a long `max-age`. Servers ignore parameters they do not know
    /// (`docs/protocol.md` `[server.other-params]`), so the avatar is the same with or without.
    ///
    /// ```
    /// use avatar_proto::{AvatarUrlBuilder, Identity};
    ///
    /// let url = AvatarUrlBuilder::new(Identity::parse("alice@example.org")?).size(80).version("7").build();
    /// assert!(url.ends_with("?s=80&v=7"));
    /// # Ok::<(), avatar_proto::Error>(())
    /// ```
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The size asked for with [`size`](Self::size), if any (before clamping).
    #[must_use]
    pub const fn requested_size(&self) -> Option<u32> {
        self.size
    }

    /// The identity this builder is for.
    #[must_use]
    pub const fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The configured scheme.
    #[must_use]
    pub const fn scheme_of_page(&self) -> Scheme {
        self.scheme
    }

    /// The URL on the central server (no discovery).
    #[must_use]
    pub fn build(&self) -> String {
        self.build_with_base(&BaseUrl::central(self.scheme, Fallback::NotAttempted))
    }

    /// The URL under `base` (from discovery).
    #[must_use]
    pub fn build_with_base(&self, base: &BaseUrl) -> String {
        self.build_under(&base.to_string())
    }

    /// The URL under any base: the application's own mount point (`/avatars/avatar/`, or an
    /// absolute `https://app.example/avatars/avatar/`), with a `/` added when missing.
    ///
    /// ```
    /// use avatar_proto::{AvatarUrlBuilder, Identity};
    ///
    /// let url = AvatarUrlBuilder::new(Identity::parse("George@example.com")?)
    ///     .size(64)
    ///     .build_under("/avatars/avatar");
    /// assert_eq!(url, "/avatars/avatar/40f8d096a3777232204cb3f796c577b7?s=64");
    /// # Ok::<(), avatar_proto::Error>(())
    /// ```
    #[must_use]
    pub fn build_under(&self, base: &str) -> String {
        let separator = if base.ends_with('/') { "" } else { "/" };
        let mut url = format!("{base}{separator}{}", self.identity.hash(self.algorithm));
        let query = self.query();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        url
    }

    /// The query string alone, without `?` (empty when there is nothing to send).
    #[must_use]
    pub fn query(&self) -> String {
        let mut pairs = Vec::with_capacity(3);
        if let Some(size) = self.size {
            pairs.push(format!("s={}", size.clamp(1, self.max_size)));
        }
        if let Some(default) = self
            .default
            .as_deref()
            .filter(|default| !default.is_empty())
        {
            pairs.push(format!("d={}", encode_query_value(default)));
        }
        if self.force_default {
            pairs.push("f=y".to_owned());
        }
        if let Some(version) = self
            .version
            .as_deref()
            .filter(|version| !version.is_empty())
        {
            pairs.push(format!("v={}", encode_query_value(version)));
        }
        pairs.join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(identity: &str) -> AvatarUrlBuilder {
        AvatarUrlBuilder::new(Identity::parse(identity).unwrap())
    }

    #[test]
    fn plain_urls_on_both_central_servers() {
        assert_eq!(
            builder("George@example.com").build(),
            "http://cdn.libravatar.org/avatar/40f8d096a3777232204cb3f796c577b7"
        );
        assert_eq!(
            builder("George@example.com").scheme(Scheme::Https).build(),
            "https://seccdn.libravatar.org/avatar/40f8d096a3777232204cb3f796c577b7"
        );
    }

    #[test]
    fn openids_are_always_sha256() {
        let url = builder("https://example.com/id/bob")
            .algorithm(HashAlgorithm::Md5)
            .build();
        let hash = url.rsplit('/').next().unwrap();
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn srcsets_clamp_to_the_server_maximum_and_skip_repeats() {
        let url = |size: Option<u32>| {
            let builder = builder("george@example.com");
            match size {
                Some(size) => builder.size(size),
                None => builder,
            }
        };
        let sizes = |srcset: String| -> Vec<String> {
            srcset
                .split(", ")
                .map(|entry| entry.split_once("?s=").unwrap().1.to_owned())
                .collect()
        };
        assert_eq!(
            sizes(url(None).srcset(&[1, 2, 3], AvatarUrlBuilder::build)),
            ["80 1x", "160 2x", "240 3x"]
        );
        assert_eq!(
            sizes(url(Some(300)).srcset(&[1, 2, 3], AvatarUrlBuilder::build)),
            ["300 1x", "512 2x"]
        );
        assert_eq!(
            sizes(
                url(Some(300))
                    .max_size(2048)
                    .srcset(&[1, 2, 3], AvatarUrlBuilder::build)
            ),
            ["300 1x", "600 2x", "900 3x"]
        );
        assert_eq!(
            url(Some(9999))
                .max_size(9999)
                .build()
                .rsplit_once("?s=")
                .unwrap()
                .1,
            "4096"
        );
        assert_eq!(url(Some(40)).srcset(&[], AvatarUrlBuilder::build), "");
        assert_eq!(
            sizes(url(Some(40)).srcset(&[0, 2], AvatarUrlBuilder::build)),
            ["80 2x"]
        );
        assert_eq!(
            sizes(url(Some(u32::MAX)).srcset(&[7], AvatarUrlBuilder::build)),
            ["512 7x"]
        );
    }

    #[test]
    fn versions_come_last_encoded_once_and_bases_get_their_slash() {
        let b = builder("George@example.com")
            .size(40)
            .force_default(true)
            .version("2026-12-02 10:00");
        assert_eq!(b.query(), "s=40&f=y&v=2026-12-02%2010%3A00");
        assert_eq!(builder("a@b.c").version("").query(), "");
        let hash = "40f8d096a3777232204cb3f796c577b7";
        for base in ["/avatars/avatar", "/avatars/avatar/"] {
            assert_eq!(
                builder("George@example.com").build_under(base),
                format!("/avatars/avatar/{hash}")
            );
        }
        assert_eq!(
            builder("George@example.com").build_under("https://app.example/a/"),
            format!("https://app.example/a/{hash}")
        );
    }

    #[test]
    fn query_order_clamping_and_single_encoding() {
        let b = builder("a@b.c")
            .size(0)
            .default_image("mm")
            .force_default(true);
        assert_eq!(b.query(), "s=1&d=mm&f=y");
        assert_eq!(builder("a@b.c").size(513).query(), "s=512");
        assert_eq!(builder("a@b.c").default_image("").query(), "");
        // An already-encoded URL is encoded once more, as a value must be: %20 -> %2520.
        assert_eq!(
            builder("a@b.c")
                .default_image("https://x.org/a%20b c+d")
                .query(),
            "d=https%3A%2F%2Fx.org%2Fa%2520b%20c%2Bd"
        );
    }
}
