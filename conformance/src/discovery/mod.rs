//! Libravatar discovery cases: a client is asked for an identity's avatar URL with the fake DNS
//! server (or a silent one) as its nameserver, and the URLs it builds are checked.

mod cases;
mod client;
mod dns;

use std::fmt;
use std::time::{Duration, Instant};

use avatar_proto::request::parse_hash_segment;
use avatar_proto::{AvatarQuery, HashAlgorithm, Identity, Scheme};
use futures_util::{StreamExt as _, TryStreamExt as _};
use url::Url;

pub use cases::discovery_cases;
pub use client::{ClientSession, DiscoveryClient, Parameters};
pub use dns::{JUNK_TARGETS, Nameservers, ZONES};

use crate::case::Verdict;
use crate::error::{ConformanceError, Result};

/// Which nameserver the client is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nameserver {
    /// The fake DNS server with the zones.
    Fake,
    /// A nameserver that never answers.
    Silent,
}

/// What the URLs must show.
#[derive(Debug, Clone)]
pub enum DiscoveryExpect {
    /// Every URL starts with this base (host compared without regard to case, or to a trailing
    /// dot, which [`Self::NoTrailingDot`] judges).
    Base(&'static str),
    /// Every URL uses the central server for the scheme.
    Central,
    /// Every URL uses one of these bases, and each of them is seen.
    EachOf(&'static [&'static str]),
    /// Every URL uses one of these bases (any single conformant pick will do).
    AnyOf(&'static [&'static str]),
    /// The query, read as a server reads it ([`AvatarQuery`]: the short or the long name, the
    /// long one winning), gives this parameter exactly this value: so it was percent-encoded
    /// once (not at all, or twice, decodes to something else). The npm `libravatar` writes
    /// `default=` and `size=`, pyLibravatar `d=` and `s=`; both are the API's.
    Query(QueryParameter, &'static str),
    /// The share of URLs using `base` lies within `low..=high`.
    Share {
        /// The base.
        base: &'static str,
        /// Lowest acceptable share.
        low: f64,
        /// Highest acceptable share.
        high: f64,
    },
    /// The host has no trailing dot.
    NoTrailingDot,
    /// The path after `/avatar/` is the MD5 or SHA-256 of the normalised email (SHA-256 for an
    /// OpenID).
    HashOfIdentity,
    /// All the draws finished within this time.
    Within(Duration),
    /// The fake DNS server was asked for this name at most once during the case: the client
    /// cached the answer between lookups in one process.
    AskedOnce(&'static str),
}

impl fmt::Display for DiscoveryExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Base(base) => write!(f, "URLs under {base}"),
            Self::Central => f.write_str("the central server"),
            Self::EachOf(bases) => write!(f, "URLs under each of {}", bases.join(", ")),
            Self::AnyOf(bases) => write!(f, "URLs under one of {}", bases.join(", ")),
            Self::Query(parameter, value) => {
                write!(
                    f,
                    "{parameter} decoding to {value:?} (encoded exactly once)"
                )
            }
            Self::Share { base, low, high } => {
                write!(
                    f,
                    "between {:.0}% and {:.0}% under {base}",
                    low * 100.0,
                    high * 100.0
                )
            }
            Self::NoTrailingDot => f.write_str("a host without a trailing dot"),
            Self::HashOfIdentity => f.write_str("/avatar/ followed by the identity's hash"),
            Self::Within(limit) => write!(f, "an answer within {limit:?}"),
            Self::AskedOnce(name) => {
                write!(
                    f,
                    "one DNS query for {name}, the second lookup answered from a cache"
                )
            }
        }
    }
}

/// A parameter of the avatar URL's query that a case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryParameter {
    /// `d` or `default`.
    Default,
    /// `s` or `size`.
    Size,
}

impl fmt::Display for QueryParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "d= (or default=)",
            Self::Size => "s= (or size=)",
        })
    }
}

/// The check of a discovery case.
#[derive(Debug, Clone)]
pub struct DiscoveryCheck {
    /// The email address or OpenID URL.
    pub identity: &'static str,
    /// The scheme of the page.
    pub scheme: Scheme,
    /// Where the client looks.
    pub nameserver: Nameserver,
    /// How many times to ask.
    pub draws: u32,
    /// The size to ask for, if any (a command client needs `{size}` in its template).
    pub size: Option<u32>,
    /// The default to ask for, unencoded, if any (a command client needs `{default}`).
    pub default: Option<&'static str>,
    /// What every answer (or all of them together) must show.
    pub expect: Vec<DiscoveryExpect>,
}

impl DiscoveryCheck {
    /// Asks the client `draws` times and checks the URLs.
    pub async fn run(&self, client: &DiscoveryClient, nameservers: &Nameservers) -> Verdict {
        let address = match self.nameserver {
            Nameserver::Fake => nameservers.dns(),
            Nameserver::Silent => nameservers.black_hole(),
        };
        let request = format!(
            "avatar URL of {:?} for an {} page, nameserver {address}{}",
            self.identity,
            self.scheme,
            if self.draws > 1 {
                format!(", {} times", self.draws)
            } else {
                String::new()
            }
        );
        let session = match client.session(address) {
            Ok(session) => session,
            Err(err) => return Verdict::fail(request, "a client", err.to_string()),
        };
        let repeated = self
            .expect
            .iter()
            .any(|expect| matches!(expect, DiscoveryExpect::AskedOnce(_)));
        let parameters = Parameters {
            size: self.size,
            default: self.default,
            again: repeated,
        };
        let missing = session
            .missing_placeholder(&parameters)
            .or_else(|| (repeated && !session.repeats_in_one_process()).then_some("{again}"));
        if let Some(missing) = missing {
            return Verdict::skip(format!(
                "the client command has no {missing} placeholder (optional; see --client-cmd)"
            ));
        }
        let asked = |expect: &DiscoveryExpect| match expect {
            DiscoveryExpect::AskedOnce(name) => Some((*name, nameservers.queries_for(name))),
            _ => None,
        };
        let before: Vec<(&str, usize)> = self.expect.iter().filter_map(asked).collect();
        // A command that looks the identity up twice itself ({again}) runs once.
        let draws = if repeated && matches!(session, ClientSession::Command { .. }) {
            1
        } else {
            self.draws
        };
        let started = Instant::now();
        // A command's draws are separate processes, by default as many at once as there are
        // cores (a client that is slow to start, such as Node's, would take minutes one at a
        // time); the in-process client draws one after another.
        let drawing = futures_util::stream::iter(0..draws)
            .map(|_| session.avatar_url(self.identity, self.scheme, &parameters))
            .buffer_unordered(session.jobs().get())
            .try_collect::<Vec<String>>();
        // A case with a time bound has its verdict once twice the bound has passed: the
        // client (a command is killed) is not waited for any longer.
        let bound = self.expect.iter().find_map(|expect| match expect {
            DiscoveryExpect::Within(limit) => Some(*limit),
            _ => None,
        });
        let drawn = match bound {
            Some(limit) => match tokio::time::timeout(limit * 2, drawing).await {
                Ok(drawn) => drawn,
                Err(_) => {
                    return Verdict::fail(
                        request,
                        DiscoveryExpect::Within(limit).to_string(),
                        format!(
                            "no answer after {:?}, when the suite stopped waiting",
                            limit * 2
                        ),
                    );
                }
            },
            None => drawing.await,
        };
        let urls = match drawn {
            Ok(urls) => urls,
            Err(err) => return Verdict::fail(request, "an avatar URL", err.to_string()),
        };
        let elapsed = started.elapsed();
        for (name, count) in before {
            let queries = nameservers.queries_for(name) - count;
            if queries > 1 {
                return Verdict::fail(
                    request,
                    DiscoveryExpect::AskedOnce(name).to_string(),
                    format!("{queries} queries for {name}; {}", summarise(&urls)),
                );
            }
        }
        for expect in &self.expect {
            if let Err(got) = self.holds(expect, &urls, elapsed) {
                return Verdict::fail(request, expect.to_string(), got.to_string());
            }
        }
        Verdict::Pass
    }

    fn holds(&self, expect: &DiscoveryExpect, urls: &[String], elapsed: Duration) -> Result<()> {
        let summary = || summarise(urls);
        let check = |holds: bool| {
            if holds {
                Ok(())
            } else {
                Err(ConformanceError::Mismatch(summary()))
            }
        };
        match expect {
            DiscoveryExpect::Base(base) => check(urls.iter().all(|url| same_base(url, base))),
            DiscoveryExpect::Central => {
                // An http page may take the central server's https form (django-avatar always
                // does); an https page only that (http on it would be mixed content).
                let accepted: &[&str] = match self.scheme {
                    Scheme::Http => &[Scheme::Http.central_base(), Scheme::Https.central_base()],
                    Scheme::Https => &[Scheme::Https.central_base()],
                };
                check(
                    urls.iter()
                        .all(|url| accepted.iter().any(|base| same_base(url, base))),
                )
            }
            DiscoveryExpect::EachOf(bases) => check(
                urls.iter()
                    .all(|url| bases.iter().any(|base| same_base(url, base)))
                    && bases
                        .iter()
                        .all(|base| urls.iter().any(|url| same_base(url, base))),
            ),
            DiscoveryExpect::Share { base, low, high } => {
                let hits = urls.iter().filter(|url| same_base(url, base)).count();
                #[expect(clippy::cast_precision_loss, reason = "counts are small")]
                let share = hits as f64 / urls.len().max(1) as f64;
                if (*low..=*high).contains(&share) {
                    Ok(())
                } else {
                    Err(ConformanceError::Mismatch(format!(
                        "{:.1}% under {base}; {}",
                        share * 100.0,
                        summary()
                    )))
                }
            }
            DiscoveryExpect::NoTrailingDot => check(
                urls.iter()
                    .all(|url| host_of(url).is_some_and(|host| !host.ends_with('.'))),
            ),
            DiscoveryExpect::AnyOf(bases) => check(
                urls.iter()
                    .all(|url| bases.iter().any(|base| same_base(url, base))),
            ),
            DiscoveryExpect::Query(parameter, value) => check(urls.iter().all(|url| {
                let query = url.split_once('?').map_or("", |(_, query)| query);
                let query = AvatarQuery::parse(query.as_bytes());
                let sent = match parameter {
                    QueryParameter::Default => query.default,
                    QueryParameter::Size => query.size,
                };
                sent.as_deref() == Some(*value)
            })),
            DiscoveryExpect::HashOfIdentity => {
                let Ok(identity) = Identity::parse(self.identity) else {
                    return Err(ConformanceError::Mismatch(format!(
                        "the case's identity {:?} does not parse",
                        self.identity
                    )));
                };
                let mut hashes = vec![identity.hash(HashAlgorithm::Sha256).to_string()];
                if matches!(identity, Identity::Email(_)) {
                    hashes.push(identity.hash(HashAlgorithm::Md5).to_string());
                }
                // Read as a server reads the path (`[server.hash-form]`): a suffix or one
                // trailing slash after the hash (django-avatar's `HASH/?s=80`) still names it.
                check(urls.iter().all(|url| {
                    let segment = url
                        .split_once("/avatar/")
                        .map_or("", |(_, rest)| rest.split(['?', '#']).next().unwrap_or(""));
                    parse_hash_segment(segment.as_bytes()).is_ok()
                        && hashes
                            .iter()
                            .any(|known| segment.starts_with(known.as_str()))
                }))
            }
            // Checked in `run`, which sees the DNS server.
            DiscoveryExpect::AskedOnce(_) => Ok(()),
            DiscoveryExpect::Within(limit) => {
                if elapsed <= *limit {
                    Ok(())
                } else {
                    Err(ConformanceError::Mismatch(format!(
                        "took {:.1} s; {}",
                        elapsed.as_secs_f64(),
                        summary()
                    )))
                }
            }
        }
    }
}

/// Whether `url` lies under `base` as RFC 3986 6.2.3 compares them: scheme and host without
/// regard to case, the scheme's default port the same as no port (`http://host:80/avatar/` is
/// `http://host/avatar/`), then the path.
///
/// One trailing dot of the URL's host is passed over here. It is a fault (a different name in
/// a URL: another virtual host, a certificate that does not match, the bug of pyLibravatar
/// 2.0.0), but one that [`DiscoveryExpect::NoTrailingDot`] judges alone, so that a client
/// that keeps the dot fails that case and not every case that compares hosts.
fn same_base(url: &str, base: &str) -> bool {
    let (Ok(url), Ok(base)) = (Url::parse(url), Url::parse(base)) else {
        return false;
    };
    url.scheme() == base.scheme()
        && url.username() == base.username()
        && url.password() == base.password()
        && url
            .host_str()
            .map(|host| host.strip_suffix('.').unwrap_or(host))
            == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.path().starts_with(base.path())
}

/// The host of an `http(s)://host[:port]/...` URL, lowercased.
fn host_of(url: &str) -> Option<String> {
    Url::parse(url).ok()?.host_str().map(str::to_owned)
}

/// The distinct URLs with their counts, for failure messages.
fn summarise(urls: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for url in urls {
        match counts.iter_mut().find(|(seen, _)| *seen == url) {
            Some((_, count)) => *count += 1,
            None => counts.push((url, 1)),
        }
    }
    counts
        .iter()
        .map(|(url, count)| {
            if urls.len() > 1 {
                format!("{url} (x{count})")
            } else {
                (*url).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_compare_scheme_and_host_without_case() {
        assert!(same_base(
            "http://Avatars.Example.ORG/avatar/abc",
            "http://avatars.example.org/avatar/"
        ));
        assert!(
            same_base(
                "http://avatars.example.org./avatar/abc",
                "http://avatars.example.org/avatar/"
            ),
            "the trailing dot is judged by its own case alone"
        );
        assert!(!same_base(
            "http://./avatar/abc",
            "http://avatars.example.org/avatar/"
        ));
        assert!(
            same_base(
                "http://avatars.example.org:80/avatar/abc",
                "http://avatars.example.org/avatar/"
            ),
            "the default port written out is the same URL (RFC 3986 6.2.3)"
        );
        assert!(same_base(
            "https://img.example.org:443/avatar/abc",
            "https://img.example.org/avatar/"
        ));
        assert!(!same_base(
            "https://img.example.org:80/avatar/abc",
            "https://img.example.org/avatar/"
        ));
        assert!(!same_base(
            "http://avatars.example.org/other/abc",
            "http://avatars.example.org/avatar/"
        ));
        assert_eq!(
            host_of("https://img.example.org:80/avatar/x").as_deref(),
            Some("img.example.org")
        );
        assert_eq!(
            host_of("http://a.example.org./avatar/x").as_deref(),
            Some("a.example.org.")
        );
    }
}
