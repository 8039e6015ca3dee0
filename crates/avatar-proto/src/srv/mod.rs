//! DNS SRV federation: records, selection, sanitising, and the base URL they lead to.
//!
//! `avatar-discovery` does the DNS queries; everything it decides with the answers lives here, so
//! the conformance harness and other clients apply exactly the same rules.
//!
//! ```
//! use avatar_proto::{BaseUrl, Scheme, SrvRecord};
//!
//! let records = [SrvRecord::new(0, 0, 8443, "avatars.example.org.")];
//! let base = BaseUrl::from_srv(Scheme::Https, &records, &mut |_max| 0);
//! assert_eq!(base.as_str(), "https://avatars.example.org:8443/avatar/");
//!
//! let base = BaseUrl::from_srv(Scheme::Https, &[], &mut |_max| 0);
//! assert_eq!(base.as_str(), "https://seccdn.libravatar.org/avatar/");
//! ```

mod select;

pub use select::{SplitMix64, SrvChoice, UniformRandom, select};

use std::fmt;

use crate::scheme::Scheme;

/// The longest host name a target may have (RFC 1035), without the trailing dot.
const MAX_HOST_LEN: usize = 253;

/// One SRV resource record, as DNS returns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    /// Lower values are tried first; only the lowest value present is used.
    pub priority: u16,
    /// Relative share among records of the same priority.
    pub weight: u16,
    /// TCP port of the avatar server.
    pub port: u16,
    /// Host name of the avatar server, as received (possibly with a trailing dot, possibly junk).
    pub target: String,
}

impl SrvRecord {
    /// A record from its four fields.
    #[must_use]
    pub fn new(priority: u16, weight: u16, port: u16, target: impl Into<String>) -> Self {
        Self {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    /// Whether the target is `.`, the RFC 2782 "no service here" marker.
    #[must_use]
    pub fn is_no_service(&self) -> bool {
        self.target == "."
    }

    /// Checks the record as the spec demands before it is used in a URL: after one trailing dot is
    /// stripped, the target must be made only of `[0-9A-Za-z.-]` (here also: no empty label, at
    /// most 253 characters), and the port must be 1..=65535. The host comes back lowercased.
    ///
    /// # Errors
    /// The [`Fallback`] reason: [`Fallback::InvalidTarget`] or [`Fallback::InvalidPort`].
    pub fn sanitise(&self) -> Result<SrvTarget, Fallback> {
        let host = self.target.strip_suffix('.').unwrap_or(&self.target);
        let well_formed = !host.is_empty()
            && host.len() <= MAX_HOST_LEN
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && host.split('.').all(|label| !label.is_empty());
        if !well_formed {
            return Err(Fallback::InvalidTarget);
        }
        if self.port == 0 {
            return Err(Fallback::InvalidPort);
        }
        Ok(SrvTarget {
            host: host.to_ascii_lowercase(),
            port: self.port,
        })
    }
}

/// A sanitised SRV target: safe to put into a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvTarget {
    host: String,
    port: u16,
}

impl SrvTarget {
    /// The host: `[0-9a-z.-]` only, no trailing dot.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, 1..=65535.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }
}

/// Why a client uses the central server rather than a federated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// Discovery was not attempted (for example `--no-discovery`).
    NotAttempted,
    /// The domain has no SRV records for the scheme's service.
    NoRecords,
    /// The domain declares no service (a `.` target).
    NoService,
    /// The selected target contains characters outside `[0-9A-Za-z.-]` or is not a host name.
    InvalidTarget,
    /// The selected port is 0.
    InvalidPort,
    /// The nameserver refused or failed the query, sent an answer that could not be read, or
    /// could not be reached.
    LookupFailed,
    /// No answer came within the lookup's timeout.
    TimedOut,
    /// The identity's domain could not be turned into a DNS name.
    InvalidDomain,
    /// The lookup is still running (a caller that does not wait gets the central server
    /// meanwhile; the next call has the answer).
    Resolving,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAttempted => "discovery not attempted",
            Self::NoRecords => "no SRV records",
            Self::NoService => "the domain declares no avatar service (target \".\")",
            Self::InvalidTarget => "SRV target is not a valid host name",
            Self::InvalidPort => "SRV port is 0",
            Self::LookupFailed => {
                "DNS lookup failed (the nameserver refused or failed the query, or could not be \
                 reached)"
            }
            Self::TimedOut => "no DNS answer within the lookup's timeout",
            Self::InvalidDomain => "the domain is not a valid DNS name",
            Self::Resolving => "the lookup is still running",
        })
    }
}

/// Where a base URL came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BaseOrigin {
    /// From the domain's own SRV record.
    Federated(SrvTarget),
    /// The central server, for this reason.
    Central(Fallback),
}

/// The base of avatar URLs for one domain and scheme: `http(s)://host[:port]/avatar/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    url: String,
    scheme: Scheme,
    origin: BaseOrigin,
}

impl BaseUrl {
    /// The central server's base for `scheme`.
    #[must_use]
    pub fn central(scheme: Scheme, reason: Fallback) -> Self {
        Self {
            url: scheme.central_base().to_owned(),
            scheme,
            origin: BaseOrigin::Central(reason),
        }
    }

    /// The base for a sanitised target: the port is left out only when it is the scheme's
    /// default (so `https` on port 80 keeps `:80`).
    #[must_use]
    pub fn federated(scheme: Scheme, target: SrvTarget) -> Self {
        let url = if target.port == scheme.default_port() {
            format!("{scheme}://{}/avatar/", target.host)
        } else {
            format!("{scheme}://{}:{}/avatar/", target.host, target.port)
        };
        Self {
            url,
            scheme,
            origin: BaseOrigin::Federated(target),
        }
    }

    /// Selects, sanitises and builds from the SRV records of the scheme's service name, falling
    /// back to the central server when there is no usable record.
    #[must_use]
    pub fn from_srv(
        scheme: Scheme,
        records: &[SrvRecord],
        random: &mut impl UniformRandom,
    ) -> Self {
        match select(records, random) {
            SrvChoice::NoRecords => Self::central(scheme, Fallback::NoRecords),
            SrvChoice::NoService => Self::central(scheme, Fallback::NoService),
            SrvChoice::Record(record) => match record.sanitise() {
                Ok(target) => Self::federated(scheme, target),
                Err(reason) => Self::central(scheme, reason),
            },
        }
    }

    /// The URL, ending in `/avatar/`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The scheme of the URL.
    #[must_use]
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Where the URL came from.
    #[must_use]
    pub const fn origin(&self) -> &BaseOrigin {
        &self.origin
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(scheme: Scheme, port: u16, target: &str) -> BaseUrl {
        BaseUrl::from_srv(scheme, &[SrvRecord::new(0, 0, port, target)], &mut |_| 0)
    }

    #[test]
    fn default_ports_are_omitted_and_others_kept() {
        assert_eq!(
            base(Scheme::Http, 80, "avatars.example.org.").as_str(),
            "http://avatars.example.org/avatar/"
        );
        assert_eq!(
            base(Scheme::Https, 443, "avatars.example.org").as_str(),
            "https://avatars.example.org/avatar/"
        );
        assert_eq!(
            base(Scheme::Http, 8080, "avatars.example.org").as_str(),
            "http://avatars.example.org:8080/avatar/"
        );
        assert_eq!(
            base(Scheme::Https, 80, "avatars.example.org").as_str(),
            "https://avatars.example.org:80/avatar/"
        );
        assert_eq!(
            base(Scheme::Http, 443, "avatars.example.org").as_str(),
            "http://avatars.example.org:443/avatar/"
        );
    }

    #[test]
    fn one_trailing_dot_is_stripped_and_hosts_are_lowercased() {
        let url = base(Scheme::Https, 443, "Avatars.Example.ORG.");
        assert_eq!(url.as_str(), "https://avatars.example.org/avatar/");
        assert!(
            matches!(url.origin(), BaseOrigin::Federated(target) if target.host() == "avatars.example.org")
        );
    }

    #[test]
    fn junk_falls_back_to_the_central_server_with_the_reason() {
        let cases = [
            ("evil.example/x", 443, Fallback::InvalidTarget),
            ("evil.example:80", 443, Fallback::InvalidTarget),
            ("user@evil.example", 443, Fallback::InvalidTarget),
            ("evil.example..", 443, Fallback::InvalidTarget),
            ("a..example", 443, Fallback::InvalidTarget),
            ("", 443, Fallback::InvalidTarget),
            ("ex ample.org", 443, Fallback::InvalidTarget),
            ("bücher.example", 443, Fallback::InvalidTarget),
            ("avatars.example.org", 0, Fallback::InvalidPort),
            (".", 443, Fallback::NoService),
        ];
        for (target, port, reason) in cases {
            let url = base(Scheme::Https, port, target);
            assert_eq!(
                url.as_str(),
                "https://seccdn.libravatar.org/avatar/",
                "{target:?}"
            );
            assert_eq!(url.origin(), &BaseOrigin::Central(reason), "{target:?}");
        }
        let long = format!("{}.example", "a".repeat(250));
        assert_eq!(
            base(Scheme::Http, 80, &long).origin(),
            &BaseOrigin::Central(Fallback::InvalidTarget)
        );
    }

    #[test]
    fn central_fallbacks_per_scheme() {
        assert_eq!(
            BaseUrl::central(Scheme::Http, Fallback::NotAttempted).as_str(),
            "http://cdn.libravatar.org/avatar/"
        );
        assert_eq!(
            BaseUrl::central(Scheme::Https, Fallback::LookupFailed).as_str(),
            "https://seccdn.libravatar.org/avatar/"
        );
        assert_eq!(
            Scheme::Http.srv_name("example.org."),
            "_avatars._tcp.example.org."
        );
    }
}
