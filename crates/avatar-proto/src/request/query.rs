//! The lexical layer of an avatar request: which raw values the query string carries.

use std::borrow::Cow;

/// The query parameters that matter, decoded and with the precedence rules applied, but not yet
/// interpreted (no size clamping, no keyword or URL validation).
///
/// Rules, in order:
/// - pairs are `application/x-www-form-urlencoded` (`+` is a space; invalid UTF-8 after
///   percent-decoding becomes U+FFFD, which no keyword or size contains);
/// - names are case-sensitive; unknown names (and `r`/`rating`) are ignored;
/// - an empty value is the same as no value;
/// - a repeated name: the last non-empty value counts (Django's `QueryDict`, which ivatar uses,
///   also takes the last);
/// - the long name wins over the short one: `size` over `s`, `default` over `d`, `forcedefault`
///   over `f`.
///
/// Values borrow from the query string unless decoding changed them, so a plain query such as
/// `s=80&d=identicon` is parsed without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvatarQuery<'a> {
    /// `size` or `s`, as sent.
    pub size: Option<Cow<'a, str>>,
    /// `default` or `d`, decoded once.
    pub default: Option<Cow<'a, str>>,
    /// `forcedefault` or `f`, as sent.
    pub force_default: Option<Cow<'a, str>>,
    /// `robohash`, as sent.
    pub robohash: Option<Cow<'a, str>>,
    /// `name` (for `d=initials`), decoded.
    pub name: Option<Cow<'a, str>>,
    /// `initials` (for `d=initials`), decoded.
    pub initials: Option<Cow<'a, str>>,
}

impl<'a> AvatarQuery<'a> {
    /// Decodes a raw query string (without the leading `?`). Never fails.
    #[must_use]
    pub fn parse(query: &'a [u8]) -> Self {
        #[derive(Default)]
        struct Seen<'a> {
            size: Option<Cow<'a, str>>,
            s: Option<Cow<'a, str>>,
            default: Option<Cow<'a, str>>,
            d: Option<Cow<'a, str>>,
            forcedefault: Option<Cow<'a, str>>,
            f: Option<Cow<'a, str>>,
            robohash: Option<Cow<'a, str>>,
            name: Option<Cow<'a, str>>,
            initials: Option<Cow<'a, str>>,
        }
        let mut seen = Seen::default();
        for (name, value) in form_urlencoded::parse(query) {
            if value.is_empty() {
                continue;
            }
            let slot = match &*name {
                "size" => &mut seen.size,
                "s" => &mut seen.s,
                "default" => &mut seen.default,
                "d" => &mut seen.d,
                "forcedefault" => &mut seen.forcedefault,
                "f" => &mut seen.f,
                "robohash" => &mut seen.robohash,
                "name" => &mut seen.name,
                "initials" => &mut seen.initials,
                _ => continue,
            };
            *slot = Some(value);
        }
        Self {
            size: seen.size.or(seen.s),
            default: seen.default.or(seen.d),
            force_default: seen.forcedefault.or(seen.f),
            robohash: seen.robohash,
            name: seen.name,
            initials: seen.initials,
        }
    }

    /// Whether `forcedefault`/`f` is exactly `y`.
    #[must_use]
    pub fn forces_default(&self) -> bool {
        self.force_default.as_deref() == Some("y")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> AvatarQuery<'_> {
        AvatarQuery::parse(query.as_bytes())
    }

    #[test]
    fn long_names_win_and_empty_means_absent() {
        let query = parse("s=10&size=20&d=mm&default=retro&f=n&forcedefault=y");
        assert_eq!(query.size.as_deref(), Some("20"));
        assert_eq!(query.default.as_deref(), Some("retro"));
        assert!(query.forces_default());

        let query = parse("size=&s=30&default=&d=identicon");
        assert_eq!(query.size.as_deref(), Some("30"));
        assert_eq!(query.default.as_deref(), Some("identicon"));
    }

    #[test]
    fn last_non_empty_repeat_counts_and_unknown_names_are_ignored() {
        let query = parse("s=1&s=2&s=&S=9&rating=x&r=g&foo=bar");
        assert_eq!(query.size.as_deref(), Some("2"));
        assert_eq!(
            query,
            AvatarQuery {
                size: Some("2".into()),
                ..AvatarQuery::default()
            }
        );
    }

    #[test]
    fn values_are_decoded_exactly_once() {
        let query = parse("d=https%3A%2F%2Fexample.org%2Fa%2520b+c");
        assert_eq!(
            query.default.as_deref(),
            Some("https://example.org/a%20b c")
        );
    }

    #[test]
    fn forcedefault_counts_only_for_exactly_y() {
        for value in ["Y", "yes", "1", "true", "y "] {
            assert!(!parse(&format!("f={value}")).forces_default(), "{value}");
        }
    }
}
