//! The two URL schemes a page (and therefore its avatar URLs) can use.

use std::fmt;

/// `http` or `https`: decides the SRV service name, the default port and the central server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Scheme {
    /// Plain http: SRV `_avatars._tcp`, port 80, `http://cdn.libravatar.org/avatar/`.
    #[default]
    Http,
    /// https: SRV `_avatars-sec._tcp`, port 443, `https://seccdn.libravatar.org/avatar/`.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The port a URL of this scheme may leave out: 80 or 443.
    #[must_use]
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// The SRV service and protocol labels: `_avatars._tcp` or `_avatars-sec._tcp`.
    #[must_use]
    pub const fn srv_service(self) -> &'static str {
        match self {
            Self::Http => "_avatars._tcp",
            Self::Https => "_avatars-sec._tcp",
        }
    }

    /// The fully qualified SRV name to query for an (IDNA ASCII) `domain`, with a trailing dot.
    ///
    /// ```
    /// use avatar_proto::Scheme;
    /// assert_eq!(Scheme::Https.srv_name("example.org"), "_avatars-sec._tcp.example.org.");
    /// ```
    #[must_use]
    pub fn srv_name(self, domain: &str) -> String {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        format!("{}.{domain}.", self.srv_service())
    }

    /// The central server's base URL, used whenever a domain has no usable SRV record.
    #[must_use]
    pub const fn central_base(self) -> &'static str {
        match self {
            Self::Http => "http://cdn.libravatar.org/avatar/",
            Self::Https => "https://seccdn.libravatar.org/avatar/",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
