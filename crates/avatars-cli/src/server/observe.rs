//! What happens around every request of a listener: who the client is (the peer, or the
//! address a trusted reverse proxy forwards: [`Client`]), the per-address rate limit before
//! it, and the access-log line and the request metrics after it.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::metrics::{ROUTES, RequestMetrics};

/// The access log's form (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `GET /avatar/... 200 1234 0.3ms 127.0.0.1:5555`.
    Text,
    /// One JSON object a line: method, path, status, bytes, ms, client.
    Json,
}

/// What the access log keeps of a client's address (`--log-clients`). A line's path names
/// whose avatar was asked for (the hash), so with the full address it says who looked at
/// whom; the rate limit counts full addresses whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogClients {
    /// The address and port: `203.0.113.7:5555`.
    Full,
    /// The network alone, as web analytics anonymise addresses: an IPv4 address to its /24,
    /// an IPv6 one to its /48, no port (`203.0.113.0/24`).
    Network,
    /// Nothing of it.
    Off,
}

impl LogClients {
    /// How `client` appears in a line; `None` when nothing of it is logged.
    fn shown(self, client: Client) -> Option<LoggedClient> {
        let network = |ip: IpAddr| {
            let prefix = if ip.is_ipv4() { 24 } else { 48 };
            IpNet::new(ip, prefix).map_or_else(|_| ip.to_string(), |net| net.trunc().to_string())
        };
        let (ip, peer) = match self {
            Self::Full => (client.ip.to_string(), client.peer.to_string()),
            Self::Network => (network(client.ip), network(client.peer.ip())),
            Self::Off => return None,
        };
        Some(LoggedClient {
            ip,
            peer,
            forwarded: client.ip != client.peer.ip(),
        })
    }
}

/// A client as an access-log line shows it ([`LogClients::shown`]).
struct LoggedClient {
    /// The address the rate limit counts (a trusted proxy's client, or the peer's).
    ip: String,
    /// The connection's other end.
    peer: String,
    /// Whether `ip` was named by a trusted proxy (the peer).
    forwarded: bool,
}

impl fmt::Display for LoggedClient {
    /// `203.0.113.7:5555`, or for a forwarded client `203.0.113.7 via 127.0.0.1:5555`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.forwarded {
            write!(f, "{} via {}", self.ip, self.peer)
        } else {
            f.write_str(&self.peer)
        }
    }
}

/// `--rate-limit PER_SECOND --rate-burst N`: a token bucket per client address.
#[derive(Debug)]
pub(crate) struct RateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    per_second: u32,
    burst: u32,
}

impl RateLimit {
    /// `per_second` requests a second on average per address, `burst` at once.
    pub(crate) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Arc<Self> {
        let limit = Arc::new(Self {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            per_second: per_second.get(),
            burst: burst.get(),
        });
        // Addresses whose bucket is full again are forgotten once a minute, so the table stays
        // as small as the set of recent clients.
        let weak = Arc::downgrade(&limit);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limit) = weak.upgrade() else { break };
                limit.limiter.retain_recent();
                limit.limiter.shrink_to_fit();
            }
        });
        limit
    }

    /// `None` when `ip` may go on; otherwise how long it should wait.
    fn check(&self, ip: IpAddr) -> Option<Duration> {
        self.limiter
            .check_key(&Self::bucket_of(ip))
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// The key an address is counted under: an IPv4 address itself, an IPv6 one by its /64
    /// network, the smallest one a home, a phone or a rented server is given: counted one by
    /// one, a single client could take a fresh address for every request and never be slowed.
    fn bucket_of(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        }
    }
}

/// The state of one listener's observer.
#[derive(Debug, Clone)]
pub(crate) struct Observer {
    /// `http`, `https` or `admin`: the metrics' `listener` label.
    pub(crate) listener: &'static str,
    /// The avatar routes' prefix (`--prefix`), for the `route` label.
    pub(crate) prefix: Arc<str>,
    pub(crate) log: LogFormat,
    /// What the access log keeps of each client's address.
    pub(crate) log_clients: LogClients,
    pub(crate) metrics: Arc<RequestMetrics>,
    pub(crate) rate_limit: Option<Arc<RateLimit>>,
    /// `--trusted-proxy` and `--forwarded-header`: the peers that name the client, and where.
    pub(crate) trusted_proxies: TrustedProxies,
}

/// The reverse proxies whose word on who the client is counts, and the header they write it in.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    /// `--trusted-proxy`: their addresses; empty, no forwarding header is read.
    pub(crate) nets: Arc<[IpNet]>,
    /// `--forwarded-header`.
    pub(crate) header: ForwardedHeader,
}

impl TrustedProxies {
    fn contain(&self, ip: &IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(ip))
    }
}

/// The header a trusted proxy names the client in. Only the one the proxies write is read:
/// they pass the other on as the client sent it, so it would be the client's to forge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1` (nginx's `$proxy_add_x_forwarded_for`, Caddy,
    /// Traefik, HAProxy's `option forwardfor`).
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded: for=client, for=proxy1` (HAProxy's `option forwarded`, Envoy
    /// and nginx when configured to).
    Forwarded,
}

impl ForwardedHeader {
    /// The addresses the header's fields name, in order, each `None` where an entry names no
    /// address (`unknown`, an obfuscated name, or something unreadable).
    fn hops(self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        match self {
            Self::XForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|value| value.to_str().unwrap_or("").split(','))
                .map(|hop| x_forwarded_for_address(hop.trim()))
                .collect(),
            Self::Forwarded => headers
                .get_all("forwarded")
                .iter()
                .flat_map(|value| rfc7239::parse(value.to_str().unwrap_or("")))
                .map(|element| element.ok()?.forwarded_for?.ip().copied())
                .collect(),
        }
    }
}

/// An entry of `X-Forwarded-For`: an address, or (as some load balancers write it) an address
/// with a port, `203.0.113.7:4711` or `[2001:db8::7]:4711`.
fn x_forwarded_for_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
}

/// Who a request came from: the connection's peer, or the client a trusted reverse proxy says
/// it forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Client {
    /// The address the rate limit counts.
    ip: IpAddr,
    /// The connection's other end.
    peer: SocketAddr,
}

impl Client {
    /// The client of a request from `peer` with `headers`: when `peer` is one of `trusted`,
    /// the last address of their header (all its fields, in order) that is not itself
    /// trusted; each proxy appends the address it was reached from, so the addresses before it
    /// are the client's to write and count for nothing. A chain of trusted proxies is walked
    /// back to the first untrusted one; an entry that names no address ends the walk at the
    /// last proxy, which is then the client. From any other peer, or without the header, the
    /// client is the peer.
    ///
    /// The walk by hand: the crates that read the headers (axum-client-ip) take the rightmost
    /// address, which behind two proxies is the first proxy, and know no list of trusted
    /// networks; `rfc7239` parses `Forwarded`.
    ///
    /// Addresses are taken in their canonical form: on a listener of `[::]`, which takes IPv4
    /// connections too, a proxy on 127.0.0.1 is the peer `::ffff:127.0.0.1`, and must still be
    /// the trusted 127.0.0.1 (and one client one bucket, however it is written).
    fn of(peer: SocketAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let mut ip = peer.ip();
        if trusted.contain(&ip) {
            for hop in trusted.header.hops(headers).into_iter().rev() {
                let Some(hop) = hop.map(|hop| hop.to_canonical()) else {
                    break;
                };
                ip = hop;
                if !trusted.contain(&hop) {
                    break;
                }
            }
        }
        Self { ip, peer }
    }
}

impl Observer {
    /// The `route` label of `path`, as an index into [`ROUTES`].
    fn route(&self, path: &str) -> usize {
        let avatar = path
            .strip_prefix(&*self.prefix)
            .is_some_and(|rest| rest.starts_with("/avatar/"));
        let name = match path {
            _ if avatar => "avatar",
            _ if path.starts_with("/proxy/") => "proxy",
            "/" => "home",
            "/metrics" => "metrics",
            "/healthz" => "healthz",
            _ if path == "/v1/avatars" || path.starts_with("/v1/avatars/") => "manage",
            _ => "other",
        };
        ROUTES
            .iter()
            .position(|route| *route == name)
            .unwrap_or(ROUTES.len() - 1)
    }
}

/// The observer as a layer: every request of the listener goes through [`Observe`].
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    observer: Observer,
}

impl ObserveLayer {
    /// A layer observing with `observer`.
    pub(crate) const fn new(observer: Observer) -> Self {
        Self { observer }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            observer: self.observer.clone(),
        }
    }
}

/// The service [`ObserveLayer`] makes: the rate limit, then the request to `S`, then the log
/// line and the metrics. The log line's text is built only when the access log is on.
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    observer: Observer,
}

impl<S> Observe<S> {
    /// The wrapped service.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the tower-http shape; used by tests")
    )]
    pub(crate) const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the tower-http shape; used by tests")
    )]
    pub(crate) const fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps this middleware, returning the wrapped service.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the tower-http shape; used by tests")
    )]
    pub(crate) fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let observer = &self.observer;
        let started = Instant::now();
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| Client::of(info.0, request.headers(), &observer.trusted_proxies));
        let route = observer.route(request.uri().path());
        let logged =
            tracing::enabled!(target: "avatars::access", tracing::Level::INFO).then(|| {
                let target = request.uri().path_and_query().map_or_else(
                    || request.uri().path().to_owned(),
                    |target| target.as_str().to_owned(),
                );
                (request.method().clone(), target)
            });
        let limited = observer
            .rate_limit
            .as_ref()
            .zip(client)
            .and_then(|(limit, client)| limit.check(client.ip).map(|wait| (limit, wait)));
        let kind = match limited {
            Some((limit, wait)) => Kind::Limited {
                response: Some(too_many_requests(limit, wait)),
            },
            None => Kind::Inner {
                future: self.inner.call(request),
            },
        };
        ObserveFuture {
            kind,
            after: Some(After {
                started,
                route,
                logged,
                client,
                metrics: Arc::clone(&observer.metrics),
                log: observer.log,
                addresses: observer.log_clients,
            }),
        }
    }
}

pin_project! {
    /// The future of an [`Observe`] response: the 429 of the rate limit or the wrapped
    /// service's answer, recorded when it is ready.
    pub(crate) struct ObserveFuture<F> {
        #[pin]
        kind: Kind<F>,
        // Taken when the answer is recorded.
        after: Option<After>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F> {
        Limited { response: Option<Response> },
        Inner { #[pin] future: F },
    }
}

impl<F> fmt::Debug for ObserveFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObserveFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.kind.project() {
            // Polled again after its answer: an empty one, as the first was already recorded.
            KindProjection::Limited { response } => response.take().unwrap_or_default(),
            KindProjection::Inner { future } => match ready!(future.poll(cx)) {
                Ok(response) => response,
                Err(err) => return Poll::Ready(Err(err)),
            },
        };
        if let Some(after) = this.after.take() {
            after.record(&response);
        }
        Poll::Ready(Ok(response))
    }
}

/// What is recorded of a request once its answer is ready.
struct After {
    started: Instant,
    /// The `route` label, an index into [`ROUTES`].
    route: usize,
    /// The method and the target, when the access log is on.
    logged: Option<(Method, String)>,
    client: Option<Client>,
    metrics: Arc<RequestMetrics>,
    log: LogFormat,
    addresses: LogClients,
}

impl After {
    /// The metrics, and the access-log line when the log is on.
    fn record(self, response: &Response) {
        let seconds = self.started.elapsed().as_secs_f64();
        let status = response.status().as_u16();
        self.metrics.record(self.route, status, seconds);
        if let Some((method, target)) = self.logged {
            let bytes = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|length| length.to_str().ok())
                .and_then(|length| length.parse::<u64>().ok());
            access_log(
                self.log,
                method.as_str(),
                &target,
                status,
                bytes,
                seconds,
                self.client.and_then(|client| self.addresses.shown(client)),
            );
        }
    }
}

/// 429 with `Retry-After` in whole seconds (at least 1) and a line saying the limit.
fn too_many_requests(limit: &RateLimit, wait: Duration) -> Response {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let retry_after = retry_after.max(1);
    let mut response = format!(
        "too many requests from your address: at most {} a second, {} at once; retry after {retry_after} s\n",
        limit.per_second, limit.burst
    )
    .into_response();
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One access-log line at info level on target `avatars::access`: method, path with the query,
/// status, bytes, duration and client, as [`LogClients`] shows it. No header is logged, so
/// neither is `Authorization`.
/// As JSON (see [`init_logging`](crate::commands::init_logging)) the client is two fields, for
/// log pipelines to count and look up: `client`, the address the rate limit counts (the one a
/// trusted proxy forwards, or the peer's), and `peer`, the connection's other end with its
/// port; `bytes` is left out where the response has no length, both address fields when
/// addresses are not logged.
fn access_log(
    format: LogFormat,
    method: &str,
    target: &str,
    status: u16,
    bytes: Option<u64>,
    seconds: f64,
    client: Option<LoggedClient>,
) {
    let millis = seconds * 1000.0;
    match format {
        LogFormat::Json => {
            let (client, peer) = client.map(|client| (client.ip, client.peer)).unzip();
            tracing::info!(
                target: "avatars::access",
                method,
                path = target,
                status,
                bytes,
                ms = (millis * 10.0).round() / 10.0,
                client,
                peer,
            );
        }
        LogFormat::Text => {
            let bytes = bytes.map_or_else(|| "-".to_owned(), |bytes| bytes.to_string());
            let client = client.map_or_else(String::new, |client| format!(" {client}"));
            tracing::info!(
                target: "avatars::access",
                "{method} {target} {status} {bytes} {millis:.1}ms{client}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use avatar_service::AvatarService;
    use avatar_store::FsStore;
    use axum::body::Body;
    use tower::{ServiceExt as _, service_fn};

    use super::*;
    use crate::server::metrics::Metrics;
    use crate::store::AnyStore;

    fn request(client: &str) -> Request<Body> {
        let mut request = Request::get("/avatar/00000000000000000000000000000000?d=404")
            .body(Body::empty())
            .expect("a valid request");
        let client: SocketAddr = client.parse().expect("an address");
        request.extensions_mut().insert(ConnectInfo(client));
        request
    }

    #[tokio::test]
    async fn answers_are_counted_and_a_client_over_its_rate_gets_429() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = FsStore::open(dir.path()).expect("a store");
        let metrics = Metrics::new(AvatarService::new(AnyStore::Dir(store)), None, None);
        let observer = Observer {
            listener: "http",
            prefix: Arc::from(""),
            log: LogFormat::Text,
            log_clients: LogClients::Full,
            metrics: Arc::new(metrics.for_listener("http")),
            rate_limit: Some(RateLimit::new(NonZeroU32::MIN, NonZeroU32::MIN)),
            trusted_proxies: TrustedProxies::default(),
        };
        let inner = service_fn(|_: Request<Body>| async {
            let mut response = Response::new(Body::from("no avatar"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            Ok::<_, Infallible>(response)
        });
        let mut observed = ObserveLayer::new(observer).layer(inner);
        let _ = observed.get_ref();
        let _ = observed.get_mut();

        let first = observed.clone().oneshot(request("127.0.0.1:5000")).await;
        assert_eq!(first.expect("infallible").status(), StatusCode::NOT_FOUND);
        let second = observed.clone().oneshot(request("127.0.0.1:5001")).await;
        let second = second.expect("infallible");
        assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(second.headers().contains_key(header::RETRY_AFTER));
        let other_client = observed.clone().oneshot(request("127.0.0.2:5000")).await;
        assert_eq!(
            other_client.expect("infallible").status(),
            StatusCode::NOT_FOUND
        );

        let text = metrics.render();
        for line in [
            r#"avatars_http_requests_total{listener="http",route="avatar",status="404"} 2"#,
            r#"avatars_http_requests_total{listener="http",route="avatar",status="429"} 1"#,
            r#"avatars_http_request_duration_seconds_count{listener="http",route="avatar"} 3"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        let _inner = observed.into_inner();
    }

    /// The client `Client::of` finds for a request from `peer` with `fields` of `name`, behind
    /// the trusted proxies 127.0.0.1 and 10.0.0.0/8 that write `header`.
    fn client_behind(header: ForwardedHeader, peer: &str, name: &str, fields: &[&str]) -> String {
        let trusted = TrustedProxies {
            nets: Arc::from([
                "127.0.0.1/32".parse().expect("a network"),
                "10.0.0.0/8".parse().expect("a network"),
            ]),
            header,
        };
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                HeaderValue::from_str(field).expect("a header value"),
            );
        }
        let client = Client::of(peer.parse().expect("an address"), &headers, &trusted);
        LogClients::Full
            .shown(client)
            .expect("full addresses are shown")
            .to_string()
    }

    /// `--log-clients network` keeps an IPv4 address's /24 and an IPv6 one's /48, the peer's
    /// too, and no port; `off` keeps nothing.
    #[test]
    fn addresses_are_logged_whole_as_networks_or_not_at_all() {
        use LogClients::{Full, Network, Off};
        let trusted = TrustedProxies {
            nets: Arc::from(["127.0.0.1/32".parse().expect("a network")]),
            header: ForwardedHeader::XForwardedFor,
        };
        let shown = |addresses: LogClients, peer: &str, forwarded: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(forwarded) = forwarded {
                headers.insert(
                    "x-forwarded-for",
                    HeaderValue::from_str(forwarded).expect("a header value"),
                );
            }
            let client = Client::of(peer.parse().expect("an address"), &headers, &trusted);
            addresses.shown(client).map(|client| client.to_string())
        };
        for (addresses, peer, forwarded, expected) in [
            (Full, "203.0.113.77:5555", None, Some("203.0.113.77:5555")),
            (Network, "203.0.113.77:5555", None, Some("203.0.113.0/24")),
            (
                Network,
                "[2001:db8:1234:5678::9]:5555",
                None,
                Some("2001:db8:1234::/48"),
            ),
            (
                Network,
                "[::ffff:203.0.113.77]:5555",
                None,
                Some("203.0.113.0/24"),
            ),
            (
                Network,
                "127.0.0.1:5555",
                Some("198.51.100.200"),
                Some("198.51.100.0/24 via 127.0.0.0/24"),
            ),
            (Off, "203.0.113.77:5555", None, None),
            (Off, "127.0.0.1:5555", Some("198.51.100.200"), None),
        ] {
            assert_eq!(
                shown(addresses, peer, forwarded).as_deref(),
                expected,
                "{addresses:?} {peer} {forwarded:?}"
            );
        }
    }

    /// Behind trusted proxies the client is the last untrusted forwarded address; the
    /// header is ignored from anyone else, and a field that is not an address stops the walk.
    #[test]
    fn the_client_is_the_last_untrusted_forwarded_address() {
        let client = |peer: &str, fields: &[&str]| {
            client_behind(
                ForwardedHeader::XForwardedFor,
                peer,
                "x-forwarded-for",
                fields,
            )
        };
        let proxy = "127.0.0.1:5555";
        assert_eq!(client(proxy, &[]), proxy, "no header");
        assert_eq!(
            client(proxy, &["203.0.113.7"]),
            "203.0.113.7 via 127.0.0.1:5555"
        );
        assert_eq!(
            client(proxy, &["198.51.100.1, 203.0.113.7"]),
            "203.0.113.7 via 127.0.0.1:5555",
            "what the client wrote before its own address counts for nothing"
        );
        assert_eq!(
            client(proxy, &["203.0.113.7, 10.1.2.3"]),
            "203.0.113.7 via 127.0.0.1:5555",
            "through two trusted proxies"
        );
        assert_eq!(
            client(proxy, &["203.0.113.7", "10.1.2.3"]),
            "203.0.113.7 via 127.0.0.1:5555",
            "the header in two fields"
        );
        assert_eq!(
            client(proxy, &["2001:db8::7"]),
            "2001:db8::7 via 127.0.0.1:5555"
        );
        assert_eq!(
            client(proxy, &["198.51.100.1, 203.0.113.7:4711, 10.1.2.3:80"]),
            "203.0.113.7 via 127.0.0.1:5555",
            "with ports, as some load balancers write them"
        );
        assert_eq!(
            client(proxy, &["[2001:db8::7]:4711"]),
            "2001:db8::7 via 127.0.0.1:5555",
            "an IPv6 address with a port"
        );
        assert_eq!(
            client(proxy, &["203.0.113.7, unknown"]),
            proxy,
            "not an address"
        );
        assert_eq!(
            client(proxy, &["10.1.2.3"]),
            "10.1.2.3 via 127.0.0.1:5555",
            "all trusted"
        );
        assert_eq!(
            client("192.0.2.9:4000", &["203.0.113.7"]),
            "192.0.2.9:4000",
            "from a peer that is not trusted, the header is anyone's to write"
        );
        assert_eq!(
            client(
                "[::ffff:127.0.0.1]:5555",
                &["::ffff:203.0.113.7, ::ffff:10.1.2.3"]
            ),
            "203.0.113.7 via 127.0.0.1:5555",
            "IPv4 as a listener on [::] sees it, and as a proxy may write it"
        );
        assert_eq!(
            client("[::ffff:192.0.2.9]:4000", &[]),
            "192.0.2.9:4000",
            "an untrusted peer, in the log as the address it is"
        );
    }

    /// Header values made of the pieces real ones are made of, and others, in any order.
    fn header_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::strategy::Strategy as _;
        const PIECES: [&str; 17] = [
            "for=",
            "For=",
            "by=",
            "\"",
            "[",
            "]",
            ":",
            ",",
            ";",
            " ",
            "203.0.113.7",
            "10.1.2.3",
            "2001:db8::7",
            "::ffff:127.0.0.1",
            "unknown",
            "_hidden",
            "99999",
        ];
        let piece = proptest::prop_oneof![
            4 => proptest::sample::select(&PIECES[..]).prop_map(str::to_owned),
            1 => "[ -~]{0,8}",
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        /// Whatever a client or a proxy writes in either header, the client found is the peer
        /// or an address the header named, and nothing panics.
        #[test]
        fn any_forwarding_header_gives_the_peer_or_an_address_it_names(
            values in proptest::collection::vec(header_value(), 0..4),
            forwarded in proptest::bool::ANY,
        ) {
            let (header, name) = if forwarded {
                (ForwardedHeader::Forwarded, "forwarded")
            } else {
                (ForwardedHeader::XForwardedFor, "x-forwarded-for")
            };
            let fields: Vec<&str> = values.iter().map(String::as_str).collect();
            let found = client_behind(header, "127.0.0.1:5555", name, &fields);
            let named = found
                .strip_suffix(" via 127.0.0.1:5555")
                .map(|ip| ip.parse::<IpAddr>().expect("an address"));
            proptest::prop_assert!(found == "127.0.0.1:5555" || named.is_some(), "{}", found);
        }
    }

    /// IPv4 clients are counted one by one, IPv6 ones by their /64 network.
    #[tokio::test]
    async fn an_ipv6_client_is_counted_by_its_64_network() {
        let limit = RateLimit::new(NonZeroU32::MIN, NonZeroU32::MIN);
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        assert!(limit.check(ip("2001:db8:1:2::1")).is_none());
        assert!(
            limit.check(ip("2001:db8:1:2:ffff::9")).is_some(),
            "another address of the same /64"
        );
        assert!(limit.check(ip("2001:db8:1:3::1")).is_none(), "the next /64");
        assert!(limit.check(ip("192.0.2.1")).is_none());
        assert!(
            limit.check(ip("192.0.2.2")).is_none(),
            "the next IPv4 address"
        );
    }

    /// RFC 7239's header, as its examples and HAProxy's `option forwarded` write it, is walked
    /// back the same way; only the header the proxies write is read.
    #[test]
    fn the_forwarded_header_is_read_when_the_proxies_write_it() {
        let client = |fields: &[&str]| {
            client_behind(
                ForwardedHeader::Forwarded,
                "127.0.0.1:5555",
                "forwarded",
                fields,
            )
        };
        let via = |ip: &str| format!("{ip} via 127.0.0.1:5555");
        assert_eq!(client(&["for=203.0.113.7"]), via("203.0.113.7"));
        assert_eq!(
            client(&["for=198.51.100.1, for=203.0.113.7;proto=https;by=10.0.0.1, For=10.1.2.3"]),
            via("203.0.113.7"),
            "parameters, a client's own entry first, a trusted proxy after"
        );
        assert_eq!(
            client(&[r#"for="[2001:db8:cafe::17]:4711""#]),
            via("2001:db8:cafe::17")
        );
        assert_eq!(
            client(&[r#"for="[2001:db8:cafe::17]""#]),
            via("2001:db8:cafe::17")
        );
        assert_eq!(
            client(&["for=203.0.113.7", "for=10.1.2.3"]),
            via("203.0.113.7"),
            "the header in two fields"
        );
        for unnamed in [
            "for=unknown",
            "for=_hidden",
            "proto=https",
            "for=203.0.113.7:99999",
        ] {
            assert_eq!(
                client(&[&format!("for=203.0.113.7, {unnamed}")]),
                "127.0.0.1:5555",
                "{unnamed}: no address, the walk stops at the proxy"
            );
        }
        assert_eq!(
            client_behind(
                ForwardedHeader::Forwarded,
                "127.0.0.1:5555",
                "x-forwarded-for",
                &["203.0.113.7"]
            ),
            "127.0.0.1:5555",
            "X-Forwarded-For is the client's own when the proxies write Forwarded"
        );
        assert_eq!(
            client_behind(
                ForwardedHeader::XForwardedFor,
                "127.0.0.1:5555",
                "forwarded",
                &["for=203.0.113.7"]
            ),
            "127.0.0.1:5555",
            "and Forwarded when they write X-Forwarded-For"
        );
    }
}
