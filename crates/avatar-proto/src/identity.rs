//! Identities (email addresses and OpenID URLs), their normalisation, and their avatar hashes.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, excerpt};
use crate::hash::{AvatarHash, HashAlgorithm};

/// Anything a Libravatar avatar can belong to.
///
/// [`Identity::parse`] decides by the text itself: anything starting with `http://` or `https://`
/// (in any case) is an OpenID URL, everything else must be an email address.
///
/// ```
/// use avatar_proto::{HashAlgorithm, Identity};
///
/// let email = Identity::parse(" George@Example.com ")?;
/// assert_eq!(email.to_string(), "george@example.com");
/// assert_eq!(email.hash(HashAlgorithm::Md5).to_string(), "40f8d096a3777232204cb3f796c577b7");
///
/// let openid = Identity::parse("HTTP://EXAMPLE.COM/ID/Bob")?;
/// assert_eq!(openid.to_string(), "http://example.com/ID/Bob");
/// // OpenIDs are hashed with SHA-256 whatever is asked for.
/// assert_eq!(openid.hash(HashAlgorithm::Md5).algorithm(), HashAlgorithm::Sha256);
/// # Ok::<(), avatar_proto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// An email address.
    Email(Email),
    /// An OpenID URL.
    OpenId(OpenId),
}

impl Identity {
    /// Parses and normalises an email address or an OpenID URL.
    ///
    /// # Errors
    /// [`Error::InvalidEmail`] or [`Error::InvalidOpenId`], saying what was wrong.
    pub fn parse(input: &str) -> Result<Self, Error> {
        if looks_like_openid(input) {
            OpenId::parse(input).map(Self::OpenId)
        } else {
            Email::parse(input).map(Self::Email)
        }
    }

    /// The hash that names this identity's avatar.
    ///
    /// Emails use the algorithm asked for; OpenID URLs are always hashed with SHA-256, the only
    /// algorithm the protocol defines for them.
    #[must_use]
    pub fn hash(&self, algorithm: HashAlgorithm) -> AvatarHash {
        match self {
            Self::Email(email) => email.hash(algorithm),
            Self::OpenId(openid) => openid.hash(),
        }
    }

    /// Every hash a server should answer for this identity: MD5 and SHA-256 of an email; SHA-256 of
    /// the four http/https x trailing-slash variants of an OpenID URL.
    #[must_use]
    pub fn published_hashes(&self) -> Vec<AvatarHash> {
        match self {
            Self::Email(email) => vec![
                email.hash(HashAlgorithm::Md5),
                email.hash(HashAlgorithm::Sha256),
            ],
            Self::OpenId(openid) => openid.variant_hashes().to_vec(),
        }
    }

    /// The domain whose DNS SRV records say where this identity's avatars are served, in its IDNA
    /// ASCII form with no trailing dot: the part after the last `@` of an email, or the host of an
    /// OpenID URL (never its port).
    ///
    /// # Errors
    /// [`Error::InvalidDomain`] if the domain is not a valid (internationalised) domain name, or is
    /// an IP address literal, which has no SRV records.
    pub fn domain(&self) -> Result<String, Error> {
        let raw = match self {
            Self::Email(email) => email.domain(),
            Self::OpenId(openid) => openid.host(),
        };
        idna_domain(raw)
    }

    /// The normalised text of the identity.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::OpenId(openid) => openid.as_str(),
        }
    }
}

impl FromStr for Identity {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        Self::parse(input)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The local part of an address: dot-atom text (RFC 5322 atext, extended to every non-ASCII
/// character by RFC 6531), at most 64 bytes.
fn check_local_part(local: &str) -> Result<(), &'static str> {
    if local.is_empty() {
        return Err("nothing comes before the @");
    }
    if local.len() > 64 {
        return Err("the part before the @ is longer than 64 bytes");
    }
    if local.starts_with('"') {
        return Err("quoted local parts are not accepted");
    }
    let atext = |c: char| c.is_alphanumeric() || !c.is_ascii() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if !local.chars().all(|c| c == '.' || atext(c)) {
        return Err(
            "the part before the @ may hold only letters, digits, dots and !#$%&'*+-/=?^_`{|}~",
        );
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("dots in the part before the @ must stand between other characters");
    }
    Ok(())
}

/// The domain of an address: a host name whose IDNA ASCII form has labels of letters, digits
/// and inner hyphens, each 1 to 63 bytes, at most 253 bytes in all.
fn check_domain(domain: &str) -> Result<(), &'static str> {
    if domain.is_empty() {
        return Err("no domain comes after the @");
    }
    if domain.starts_with('[') {
        return Err("address literals such as [192.0.2.1] have no avatar service");
    }
    if !domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || !c.is_ascii())
    {
        return Err("its domain holds characters no host name may have");
    }
    let ascii = match url::Host::parse(domain) {
        Ok(url::Host::Domain(ascii)) => ascii,
        Ok(_) => return Err("its domain is an IP address, which has no avatar service"),
        Err(_) => return Err("its domain is not a valid (internationalised) domain name"),
    };
    if ascii.len() > 253 {
        return Err("its domain is longer than 253 bytes");
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err("its domain has an empty label (two dots together, or a dot at an end)");
        }
        if label.len() > 63 {
            return Err("a label of its domain is longer than 63 bytes");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label of its domain starts or ends with a hyphen");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("its domain holds characters no host name may have");
        }
    }
    Ok(())
}

/// Whether `input` is an OpenID URL rather than an email: it starts (after surrounding white
/// space) with `http://` or `https://`, in any case.
#[must_use]
pub fn looks_like_openid(input: &str) -> bool {
    let input = input.trim_start().as_bytes();
    let starts = |prefix: &[u8]| {
        input.len() >= prefix.len() && input[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"http://") || starts(b"https://")
}

/// A normalised email address: surrounding white space trimmed, the whole address lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Normalises an email address, and refuses what is not one address
    /// (`docs/protocol.md` `[identity.email-syntax]`).
    ///
    /// Beyond trimming and lowercasing (all the protocol asks), an address is one `@` between a
    /// local part and a domain, as RFC 5321 and RFC 6531 write them: the local part is dot-atom
    /// text (letters of any script, digits, and ``!#$%&'*+-/=?^_`{|}~``, dots only between
    /// them; at most 64 bytes), the domain is a host name whose IDNA ASCII form is valid (labels
    /// of letters, digits and inner hyphens, at most 63 bytes each), the whole at most 254 bytes.
    /// Quoted local parts and address literals (`[192.0.2.1]`) are refused: no avatar service
    /// can be discovered for them.
    ///
    /// ```
    /// use avatar_proto::Email;
    ///
    /// assert_eq!(Email::parse(" Zoë.Müller+avatars@Bücher.example ")?.as_str(), "zoë.müller+avatars@bücher.example");
    /// for wrong in ["alice@@example.org", "mailto:george@example.com", "geo rge@example.com",
    ///               "a@b.org,c@d.org", "george@example..com"] {
    ///     assert!(Email::parse(wrong).is_err(), "{wrong}");
    /// }
    /// # Ok::<(), avatar_proto::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidEmail`], naming the rule that was broken.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidEmail {
            found: excerpt(input),
            reason,
        };
        let normalised = input.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(invalid("it is empty"));
        }
        if normalised.chars().any(char::is_control) {
            return Err(invalid("it contains control characters"));
        }
        if normalised.chars().any(char::is_whitespace) {
            return Err(invalid("it contains white space"));
        }
        if normalised.starts_with("mailto:") {
            return Err(invalid("it starts with mailto:; give the address alone"));
        }
        let Some((local, domain)) = normalised.rsplit_once('@') else {
            return Err(invalid("it has no @"));
        };
        if local.contains('@') {
            return Err(invalid(
                "it has more than one @ (one address at a time, without quotes)",
            ));
        }
        check_local_part(local).map_err(invalid)?;
        check_domain(domain).map_err(invalid)?;
        if normalised.len() > 254 {
            return Err(invalid("it is longer than 254 bytes"));
        }
        Ok(Self(normalised))
    }

    /// The normalised address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@`, as normalised (not yet IDNA-encoded).
    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The avatar hash of this address with `algorithm`.
    #[must_use]
    pub fn hash(&self, algorithm: HashAlgorithm) -> AvatarHash {
        algorithm.digest(self.0.as_bytes())
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normalised OpenID URL, as the Libravatar reference code normalises it.
///
/// The scheme and the host are lowercased, an explicit port is dropped, `user:password` is kept as
/// typed, and the path, query and fragment keep their case. An empty query (`?`) or fragment (`#`)
/// is dropped, as Python's `urlunsplit` does. One deliberate difference from the reference: an
/// IPv6 host keeps its brackets, so the result is still a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpenId {
    url: String,
    /// Byte range of the host inside `url`.
    host: (usize, usize),
}

impl OpenId {
    /// Normalises an OpenID URL.
    ///
    /// # Errors
    /// [`Error::InvalidOpenId`] if the scheme is not http or https, the host is missing, or the URL
    /// contains white space or control characters.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidOpenId {
            found: excerpt(input),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains white space or control characters"));
        }
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(invalid("it has no scheme"));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid("its scheme is not http or https"));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let host = if host_port.starts_with('[') {
            match host_port.find(']') {
                Some(end) => &host_port[..=end],
                None => return Err(invalid("its IPv6 host has no closing ]")),
            }
        } else {
            host_port
                .split_once(':')
                .map_or(host_port, |(host, _port)| host)
        };
        if host.is_empty() || host == "[]" {
            return Err(invalid("it has no host"));
        }

        let mut url = scheme;
        url.push_str("://");
        if let Some(userinfo) = userinfo {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            if !user.is_empty() {
                url.push_str(user);
                if !password.is_empty() {
                    url.push(':');
                    url.push_str(password);
                }
                url.push('@');
            }
        }
        let host_start = url.len();
        url.push_str(&host.to_lowercase());
        let host_end = url.len();
        url.push_str(&drop_empty_query_and_fragment(tail));
        Ok(Self {
            url,
            host: (host_start, host_end),
        })
    }

    /// The normalised URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The lowercased host, without port or user information.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.url[self.host.0..self.host.1]
    }

    /// The SHA-256 avatar hash of the normalised URL.
    #[must_use]
    pub fn hash(&self) -> AvatarHash {
        HashAlgorithm::Sha256.digest(self.url.as_bytes())
    }

    /// The four spellings a server files an OpenID avatar under, as ivatar does: http with and
    /// without a trailing slash, then https without and with one.
    #[must_use]
    pub fn variants(&self) -> [String; 4] {
        let mut http = match self.url.strip_prefix("https://") {
            Some(rest) => format!("http://{rest}"),
            None => self.url.clone(),
        };
        if !http.ends_with('/') {
            http.push('/');
        }
        let http_without_slash = http[..http.len() - 1].to_owned();
        let https_without_slash = format!("https://{}", &http_without_slash["http://".len()..]);
        let https_with_slash = format!("{https_without_slash}/");
        [
            http,
            http_without_slash,
            https_without_slash,
            https_with_slash,
        ]
    }

    /// The SHA-256 hashes of [`OpenId::variants`], in the same order.
    #[must_use]
    pub fn variant_hashes(&self) -> [AvatarHash; 4] {
        self.variants()
            .map(|variant| HashAlgorithm::Sha256.digest(variant.as_bytes()))
    }
}

impl fmt::Display for OpenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// `urlunsplit` leaves out `?` and `#` when what follows them is empty.
fn drop_empty_query_and_fragment(tail: &str) -> String {
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    let mut out = path.to_owned();
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = fragment.filter(|fragment| !fragment.is_empty()) {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Converts a domain to its IDNA ASCII form, dropping one trailing dot.
///
/// # Errors
/// [`Error::InvalidDomain`] for anything that is not a domain name (including IP literals).
pub fn idna_domain(domain: &str) -> Result<String, Error> {
    let invalid = || Error::InvalidDomain {
        found: excerpt(domain),
    };
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.is_empty() || trimmed.contains('%') {
        return Err(invalid());
    }
    match url::Host::parse(trimmed) {
        Ok(url::Host::Domain(ascii)) => Ok(ascii),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's own examples (`docs/protocol.md` `[identity.email]`, from the API page).
    #[test]
    fn spec_email_examples() {
        let george = Email::parse("George@example.com").unwrap();
        assert_eq!(
            george.hash(HashAlgorithm::Md5).to_string(),
            "40f8d096a3777232204cb3f796c577b7"
        );
        assert_eq!(
            george.hash(HashAlgorithm::Sha256).to_string(),
            "47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066"
        );
        let whatever = Email::parse(" Whatever@Wherever.whichever   ").unwrap();
        assert_eq!(whatever.as_str(), "whatever@wherever.whichever");
        assert_eq!(
            whatever.hash(HashAlgorithm::Md5).to_string(),
            "a60fc0828e808b9a6a9d50f1792240c8"
        );
    }

    #[test]
    fn spec_openid_example() {
        let openid = OpenId::parse("HTTP://UserName:Password@EXAMPLE.COM/ID/Bob").unwrap();
        assert_eq!(
            openid.as_str(),
            "http://UserName:Password@example.com/ID/Bob"
        );
        assert_eq!(openid.host(), "example.com");
        // sha256 of the normalised URL, computed independently with Python's hashlib.
        assert_eq!(
            openid.hash().to_string(),
            "b9a30942701c1937b4cdb5bd95adad4aaf208a81ecb490023b3e5d5daca7f469"
        );
    }

    #[test]
    fn openid_normalisation_follows_the_reference() {
        let cases = [
            (
                "https://Example.COM:8443/Path?Q=1#Frag",
                "https://example.com/Path?Q=1#Frag",
            ),
            ("http://example.com", "http://example.com"),
            ("http://user@EXAMPLE.com/", "http://user@example.com/"),
            ("http://user:@EXAMPLE.com/", "http://user@example.com/"),
            ("http://:secret@EXAMPLE.com/", "http://example.com/"),
            ("http://example.com/a?#", "http://example.com/a"),
            ("HTTPS://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
            ("  http://Example.com/Bob  ", "http://example.com/Bob"),
        ];
        for (input, expected) in cases {
            assert_eq!(OpenId::parse(input).unwrap().as_str(), expected, "{input}");
        }
    }

    #[test]
    fn openid_refuses_bad_urls() {
        for bad in [
            "http://",
            "http:///path",
            "ftp://example.com/",
            "http://exa mple.com/",
            "http://[::1/",
        ] {
            assert!(
                matches!(OpenId::parse(bad), Err(Error::InvalidOpenId { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn openid_variants_cover_both_schemes_and_slashes() {
        let openid = OpenId::parse("https://example.com/id/bob").unwrap();
        assert_eq!(
            openid.variants(),
            [
                "http://example.com/id/bob/",
                "http://example.com/id/bob",
                "https://example.com/id/bob",
                "https://example.com/id/bob/",
            ]
        );
        let with_slash = OpenId::parse("http://example.com/id/bob/").unwrap();
        assert_eq!(with_slash.variants(), openid.variants());
        assert!(openid.variant_hashes().contains(&openid.hash()));
    }

    #[test]
    fn email_refusals_say_why() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("alice.example.org", "no @"),
            ("@example.org", "before the @"),
            ("alice@", "after the @"),
            ("alice@exa mple.org", "white space"),
            ("ali\u{7}ce@example.org", "control"),
            ("alice@@example.org", "more than one @"),
            ("mailto:george@example.com", "mailto:"),
            ("geo rge@example.com", "white space"),
            ("a@b.org,c@d.org", "more than one @"),
            ("a@b.org, c@d.org", "white space"),
            ("george@example..com", "empty label"),
            ("george@example.com.", "empty label"),
            ("george@.example.com", "empty label"),
            ("george@-example.com", "hyphen"),
            ("george@exam_ple.com", "characters no host name may have"),
            ("george@exa%41mple.com", "characters no host name may have"),
            ("george@[192.0.2.1]", "address literals"),
            ("george@192.0.2.1", "IP address"),
            ("\"george smith\"@example.com", "white space"),
            ("\"george\"@example.com", "quoted"),
            (".george@example.com", "dots"),
            ("geo..rge@example.com", "dots"),
            ("george.@example.com", "dots"),
            ("geo(rge)@example.com", "may hold only"),
            ("geo,rge@example.com", "may hold only"),
            ("geo<rge>@example.com", "may hold only"),
        ];
        for (input, reason) in cases {
            let err = Email::parse(input).unwrap_err().to_string();
            assert!(err.contains(reason), "{input:?}: {err}");
            assert!(
                err.contains("expected an address like alice@example.org"),
                "{err}"
            );
        }
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert!(
            Email::parse(&long_local)
                .unwrap_err()
                .to_string()
                .contains("64 bytes")
        );
        let long_label = format!("a@{}.org", "b".repeat(64));
        assert!(
            Email::parse(&long_label)
                .unwrap_err()
                .to_string()
                .contains("63 bytes")
        );
    }

    #[test]
    fn addresses_of_every_kind_that_rfc_5321_and_6531_allow_are_accepted() {
        for good in [
            "alice@example.org",
            "o'brien+avatars@example.co.uk",
            "first.last@sub.example.org",
            "x!#$%&*+-/=?^_`{|}~@example.org",
            "zoë@bücher.example",
            "用户@例子.广告",
            "пользователь@пример.рф",
            "a@b.co",
            "user@xn--bcher-kva.example",
        ] {
            assert!(
                Email::parse(good).is_ok(),
                "{good}: {:?}",
                Email::parse(good)
            );
        }
    }

    #[test]
    fn identity_dispatch_and_published_hashes() {
        let email = Identity::parse("George@example.com").unwrap();
        assert!(matches!(email, Identity::Email(_)));
        assert_eq!(email.published_hashes().len(), 2);
        let openid = Identity::parse("hTTpS://example.com/").unwrap();
        assert!(matches!(openid, Identity::OpenId(_)));
        assert_eq!(openid.published_hashes().len(), 4);
        // Something that merely mentions http is an email attempt.
        assert!(matches!(
            Identity::parse("http:/example.com"),
            Err(Error::InvalidEmail { .. })
        ));
    }

    #[test]
    fn domains_are_idna_ascii_without_trailing_dot() {
        let id = Identity::parse("alice@Bücher.Example").unwrap();
        assert_eq!(id.domain().unwrap(), "xn--bcher-kva.example");
        let openid = Identity::parse("http://user:pw@Sub.Example.org.:8080/x").unwrap();
        assert_eq!(openid.domain().unwrap(), "sub.example.org");
        // An email whose domain has no avatar service is refused when it is parsed.
        for bad in [
            "alice@[192.0.2.1]",
            "alice@192.0.2.1",
            "alice@.",
            "alice@example.org.",
            "alice@exa%41mple.org",
        ] {
            assert!(
                matches!(Identity::parse(bad), Err(Error::InvalidEmail { .. })),
                "{bad}"
            );
        }
        let literal = Identity::parse("http://[2001:db8::1]/id").unwrap();
        assert!(matches!(literal.domain(), Err(Error::InvalidDomain { .. })));
    }
}
