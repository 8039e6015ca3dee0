//! Fetching an upstream avatar as a careful citizen of a hostile network: http and https only;
//! every address checked by the [`AddressGuard`] after resolution (so a name that resolves to
//! `169.254.169.254` is refused as surely as the literal); a connect timeout and a total
//! deadline; a byte cap on the body; at most [`MAX_REDIRECTS`] redirects, each checked again; no
//! cookies (the client keeps none), no `Referer`, a fixed `User-Agent`; nothing of the
//! upstream's answer but its body is kept.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_proto::report::with_causes;
use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, LOCATION, USER_AGENT};
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use tower_service::Service;

use crate::error::ProxyError;
use crate::guard::AddressGuard;

/// Redirects followed per fetch, each one checked like the first URL.
pub const MAX_REDIRECTS: usize = 2;
/// What the proxy calls itself upstream.
pub const PROXY_USER_AGENT: &str = concat!("avatar-proxy/", env!("CARGO_PKG_VERSION"));

/// Why a fetch gave no image. Logged at debug level; the browser only ever sees the default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    /// The upstream says it has no avatar (404), or any other non-200 status.
    #[error("upstream answered {0}")]
    Status(u16),
    /// Not http or https, or no host.
    #[error("not an http(s) URL: {0}")]
    Scheme(String),
    /// Every address of the host is one the guard refuses.
    #[error("refused address for {0}")]
    RefusedAddress(String),
    /// More redirects than [`MAX_REDIRECTS`], or one without a usable `Location`.
    #[error("redirects: {0}")]
    Redirect(&'static str),
    /// The body is longer than the cap.
    #[error("body over {0} bytes")]
    TooLarge(usize),
    /// The whole fetch took longer than its deadline.
    #[error("deadline passed")]
    Deadline,
    /// Connecting or the exchange failed.
    #[error("connection: {0}")]
    Connection(String),
    /// A 200 whose body is no picture the proxy takes: not an image, AVIF, or past the
    /// dimension and decoded-size limits.
    #[error("upstream answered 200 with no picture the proxy takes: {0}")]
    NotAPicture(String),
}

impl FetchFailure {
    /// Every [`reason`](Self::reason), in a fixed order (the index of
    /// [`ProxyStats::fetch_failures_by_reason`](crate::ProxyStats::fetch_failures_by_reason)).
    pub const REASONS: [&'static str; 8] = [
        "status",
        "scheme",
        "refused_address",
        "redirect",
        "too_large",
        "deadline",
        "connection",
        "not_a_picture",
    ];

    /// What kind of failure this is, in a word fit for a metric's label: one of
    /// [`REASONS`](Self::REASONS).
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        Self::REASONS[self.reason_index()]
    }

    /// This failure's place in [`REASONS`](Self::REASONS).
    pub(crate) const fn reason_index(&self) -> usize {
        match self {
            Self::Status(_) => 0,
            Self::Scheme(_) => 1,
            Self::RefusedAddress(_) => 2,
            Self::Redirect(_) => 3,
            Self::TooLarge(_) => 4,
            Self::Deadline => 5,
            Self::Connection(_) => 6,
            Self::NotAPicture(_) => 7,
        }
    }
}

/// What a fetch brought back: the body, and how long the upstream says it may be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body of the 200.
    pub body: Bytes,
    /// `Cache-Control: max-age` of the answer, if it gave one.
    pub max_age: Option<Duration>,
}

/// The fetch limits.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    /// For the whole fetch, redirects included.
    pub deadline: Duration,
    /// For each connection.
    pub connect_timeout: Duration,
    /// Bytes of body.
    pub max_bytes: usize,
}

/// A resolver for the connector that drops every address the guard refuses, so the client can
/// only ever connect to allowed ones. Names are resolved by the discovery client, so the
/// nameservers it was given answer for the hosts the proxy fetches from too.
#[derive(Clone)]
struct GuardedResolver {
    guard: Arc<AddressGuard>,
    names: Discovery,
}

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, io::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let (guard, names) = (Arc::clone(&self.guard), self.names.clone());
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let allowed: Vec<SocketAddr> = names
                .host_addresses(&host)
                .await
                .map_err(io::Error::other)?
                .into_iter()
                .filter(|ip| guard.allows(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("every address of {host} is refused"),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// The upstream client: what the proxy fetches originals with.
#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Empty<Bytes>>,
    guard: Arc<AddressGuard>,
    limits: FetchLimits,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("guard", &self.guard)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A client that connects only where `guard` allows, within `limits`, trusting the web's
    /// roots and `extra_roots` (DER) for https, finding hosts' addresses with `names`
    /// ([`Discovery::host_addresses`]: its nameservers, or the system's resolver).
    ///
    /// # Errors
    /// [`ProxyError::Tls`] for an unusable root certificate.
    pub fn new(
        guard: AddressGuard,
        limits: FetchLimits,
        extra_roots: &[Vec<u8>],
        names: Discovery,
    ) -> Result<Self, ProxyError> {
        let guard = Arc::new(guard);
        let mut http = HttpConnector::new_with_resolver(GuardedResolver {
            guard: Arc::clone(&guard),
            names,
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect_timeout));
        let tls = avatar_service::upstream::tls_client_config(extra_roots)?;
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            guard,
            limits,
        })
    }

    /// The body of a 200 at `url`, following at most [`MAX_REDIRECTS`] redirects, all within
    /// the deadline.
    ///
    /// # Errors
    /// [`FetchFailure`] saying why there is no body.
    pub async fn fetch(&self, url: Uri) -> Result<Fetched, FetchFailure> {
        tokio::time::timeout(self.limits.deadline, self.follow(url))
            .await
            .map_err(|_| FetchFailure::Deadline)?
    }

    async fn follow(&self, mut url: Uri) -> Result<Fetched, FetchFailure> {
        for _ in 0..=MAX_REDIRECTS {
            self.check(&url)?;
            let request = Request::get(url.clone())
                .header(USER_AGENT, HeaderValue::from_static(PROXY_USER_AGENT))
                .header(ACCEPT, HeaderValue::from_static("image/*"))
                .body(Empty::new())
                .map_err(|err| FetchFailure::Scheme(err.to_string()))?;
            let response = self.client.request(request).await.map_err(|err| {
                // The guard's refusal comes back through the connector; name it as such.
                if refused_by_guard(&err) {
                    FetchFailure::RefusedAddress(url.host().unwrap_or_default().to_owned())
                } else {
                    FetchFailure::Connection(with_causes(&err))
                }
            })?;
            let status = response.status();
            if status.is_redirection() {
                url = next_url(&url, response.headers().get(LOCATION))?;
                continue;
            }
            if status != StatusCode::OK {
                return Err(FetchFailure::Status(status.as_u16()));
            }
            let max_age = response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|value| value.to_str().ok())
                .and_then(max_age);
            let body = Limited::new(response.into_body(), self.limits.max_bytes);
            return body
                .collect()
                .await
                .map(|body| Fetched {
                    body: body.to_bytes(),
                    max_age,
                })
                .map_err(|err| {
                    if err.is::<http_body_util::LengthLimitError>() {
                        FetchFailure::TooLarge(self.limits.max_bytes)
                    } else {
                        FetchFailure::Connection(with_causes(&*err))
                    }
                });
        }
        Err(FetchFailure::Redirect("more than 2"))
    }

    /// http or https, a host, and (for an address literal, which the resolver never sees) an
    /// address the guard allows.
    fn check(&self, url: &Uri) -> Result<(), FetchFailure> {
        if !matches!(url.scheme_str(), Some("http" | "https")) {
            return Err(FetchFailure::Scheme(url.to_string()));
        }
        let host = url
            .host()
            .ok_or_else(|| FetchFailure::Scheme(url.to_string()))?;
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && !self.guard.allows(ip)
        {
            return Err(FetchFailure::RefusedAddress(host.to_owned()));
        }
        Ok(())
    }
}

/// `max-age=N` of a `Cache-Control` value (`no-store` and `no-cache` give zero).
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            age = seconds
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

/// Whether an error's chain holds the resolver's `PermissionDenied`.
fn refused_by_guard(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(current) = source {
        if current
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::PermissionDenied)
        {
            return true;
        }
        source = current.source();
    }
    false
}

/// Where a redirect leads: its `Location`, absolute or relative to `from`.
fn next_url(from: &Uri, location: Option<&HeaderValue>) -> Result<Uri, FetchFailure> {
    let location = location
        .and_then(|value| value.to_str().ok())
        .ok_or(FetchFailure::Redirect("no Location"))?;
    let base = url::Url::parse(&from.to_string()).map_err(|_| FetchFailure::Redirect("bad URL"))?;
    let next = base
        .join(location)
        .map_err(|_| FetchFailure::Redirect("bad Location"))?;
    next.as_str()
        .parse()
        .map_err(|_| FetchFailure::Redirect("bad Location"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_reads_what_caches_read() {
        assert_eq!(
            max_age("public, max-age=86400"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store, max-age=600"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn redirects_resolve_against_the_url_they_came_from() {
        let from: Uri = "http://a.test:8080/avatar/x?s=1".parse().unwrap();
        let location = |text: &'static str| Some(HeaderValue::from_static(text));
        assert_eq!(
            next_url(&from, location("/y").as_ref()).unwrap(),
            "http://a.test:8080/y"
        );
        assert_eq!(
            next_url(&from, location("https://b.test/z").as_ref()).unwrap(),
            "https://b.test/z"
        );
        assert_eq!(
            next_url(&from, None),
            Err(FetchFailure::Redirect("no Location"))
        );
    }
}
