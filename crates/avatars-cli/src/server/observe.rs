//! What happens around every request of a listener: the per-address rate limit before it, and
//! the access-log line and the request metrics after it.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::metrics::{ROUTES, RequestMetrics};

/// The access log's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// `GET /avatar/... 200 1234 0.3ms 127.0.0.1:5555` through `tracing`.
    Text,
    /// One JSON object per line on stderr.
    Json,
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
            .check_key(&ip)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
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
    pub(crate) metrics: Arc<RequestMetrics>,
    pub(crate) rate_limit: Option<Arc<RateLimit>>,
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

/// The middleware: rate limit, then the request, then the log line and the metrics. The
/// log line's text is built only when the access log is on.
pub(crate) async fn observe(
    State(observer): State<Observer>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let route = observer.route(request.uri().path());
    let logged = tracing::enabled!(target: "avatars::access", tracing::Level::INFO).then(|| {
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
        .and_then(|(limit, client)| limit.check(client.ip()).map(|wait| (limit, wait)));
    let response = match limited {
        Some((limit, wait)) => too_many_requests(limit, wait),
        None => next.run(request).await,
    };
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    observer.metrics.record(route, status, seconds);
    if let Some((method, target)) = logged {
        let bytes = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok())
            .and_then(|length| length.parse::<u64>().ok());
        let client = client.map(|client| client.to_string()).unwrap_or_default();
        access_log(
            observer.log,
            method.as_str(),
            &target,
            status,
            bytes,
            seconds,
            &client,
        );
    }
    response
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
/// status, bytes, duration and client address. No header is logged, so neither is
/// `Authorization`.
fn access_log(
    format: LogFormat,
    method: &str,
    target: &str,
    status: u16,
    bytes: Option<u64>,
    seconds: f64,
    client: &str,
) {
    let millis = seconds * 1000.0;
    match format {
        LogFormat::Json => {
            // Written whole, one object per line (the caller checked the access target is on).
            let line = serde_json::json!({
                "method": method,
                "path": target,
                "status": status,
                "bytes": bytes,
                "ms": (millis * 10.0).round() / 10.0,
                "client": client,
            });
            eprintln!("{line}");
        }
        LogFormat::Text => {
            let bytes = bytes.map_or_else(|| "-".to_owned(), |bytes| bytes.to_string());
            tracing::info!(
                target: "avatars::access",
                "{method} {target} {status} {bytes} {millis:.1}ms {client}"
            );
        }
    }
}
