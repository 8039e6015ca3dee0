//! `GET /metrics` of the admin listener: requests by listener, route and status, their latency,
//! open connections, and the service's and proxy's own counters, in the `OpenMetrics` text
//! format that Prometheus scrapes (with the Prometheus project's `prometheus-client`).
//!
//! Request metrics are recorded as requests finish; the service's and proxy's numbers are read
//! from their `stats()` at each scrape, so nothing on the serving path knows about metrics.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::server::tls::ReloadableTls;
use crate::store::AnyStore;
use avatar_proxy::AvatarProxy;
use avatar_service::{AvatarService, ServiceStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of a finished request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    route: &'static str,
    status: u16,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    listener: &'static str,
    route: &'static str,
}

/// Labels of the open-connections gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: &'static str,
}

/// The `route` label's values: a handful of names, never the path itself, so the number of
/// series stays fixed whatever clients ask for.
pub(crate) const ROUTES: [&str; 7] = [
    "avatar", "proxy", "home", "metrics", "healthz", "manage", "other",
];

/// The statuses whose counters a listener keeps at hand for each route (others are looked up
/// in the family).
const COMMON_STATUSES: [u16; 8] = [200, 204, 302, 304, 400, 404, 429, 503];

/// One listener's request metrics with the label lookups done once: recording a request is an
/// array index, an atomic increment and a histogram observation, with no label hashing or
/// map lookup on the serving path (measured: the per-request family lookups cost the cheapest
/// answers about a fifth of their rate under wrk).
#[derive(Debug)]
pub(crate) struct RequestMetrics {
    listener: &'static str,
    requests: Family<RequestLabels, Counter>,
    latencies: Family<RouteLabels, Histogram>,
    routes: [RouteMetrics; ROUTES.len()],
}

#[derive(Debug)]
struct RouteMetrics {
    route: &'static str,
    /// Created on first use, like the counters (so a route a listener never serves is not
    /// exported as zeros).
    latency: std::sync::OnceLock<Histogram>,
    /// The counters of [`COMMON_STATUSES`], created on first use (so unused ones are not
    /// exported as zeros).
    statuses: [std::sync::OnceLock<Counter>; COMMON_STATUSES.len()],
}

impl RequestMetrics {
    /// Counts a finished request on route `ROUTES[route]`.
    pub(crate) fn record(&self, route: usize, status: u16, seconds: f64) {
        let Some(metrics) = self.routes.get(route) else {
            return;
        };
        let labels = || RequestLabels {
            listener: self.listener,
            route: metrics.route,
            status,
        };
        match COMMON_STATUSES.iter().position(|&common| common == status) {
            Some(slot) => metrics.statuses[slot]
                .get_or_init(|| self.requests.get_or_create(&labels()).clone())
                .inc(),
            None => self.requests.get_or_create(&labels()).inc(),
        };
        metrics
            .latency
            .get_or_init(|| {
                self.latencies
                    .get_or_create(&RouteLabels {
                        listener: self.listener,
                        route: metrics.route,
                    })
                    .clone()
            })
            .observe(seconds);
    }
}

/// The server's metrics, shared by every listener.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    connections: Family<ListenerLabels, Gauge>,
}

impl Metrics {
    /// Metrics for a server of `service`, and of `proxy` when it runs one.
    pub(crate) fn new(
        service: AvatarService<AnyStore>,
        proxy: Option<AvatarProxy>,
        tls: Option<Arc<ReloadableTls>>,
    ) -> Self {
        let mut registry = Registry::with_prefix("avatars");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by listener, route and status",
            requests.clone(),
        );
        // 100 us to 6.5 s, doubling: a cached hit is well under a millisecond, a cold render of
        // a large photo tens of milliseconds, a proxied first fetch up to its deadline.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 17))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its response's headers, by listener and route",
            latency.clone(),
        );
        let connections = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "connections_open",
            "Connections open now, by listener",
            connections.clone(),
        );
        registry.register_collector(Box::new(ServiceCollector {
            service,
            proxy,
            tls,
        }));
        Self {
            registry,
            requests,
            latency,
            connections,
        }
    }

    /// The request metrics of `listener`, resolved once, for its observer.
    pub(crate) fn for_listener(&self, listener: &'static str) -> RequestMetrics {
        RequestMetrics {
            listener,
            requests: self.requests.clone(),
            latencies: self.latency.clone(),
            routes: ROUTES.map(|route| RouteMetrics {
                route,
                latency: std::sync::OnceLock::new(),
                statuses: Default::default(),
            }),
        }
    }

    /// The open-connections gauge of `listener`.
    pub(crate) fn connections(&self, listener: &'static str) -> Gauge {
        self.connections
            .get_or_create(&ListenerLabels { listener })
            .clone()
    }

    /// Everything, in the `OpenMetrics` text format.
    pub(crate) fn render(&self) -> String {
        render(&self.registry)
    }
}

/// Everything `registry` holds, in the `OpenMetrics` text format.
pub(crate) fn render(registry: &Registry) -> String {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        // Only a failing writer makes encoding fail, and a String never fails.
        let _ = writeln!(text, "# EOF");
    }
    text
}

/// Reads the service's and proxy's counters, and the TLS certificate's expiry, at each scrape.
#[derive(Debug)]
struct ServiceCollector {
    service: AvatarService<AnyStore>,
    proxy: Option<AvatarProxy>,
    tls: Option<Arc<ReloadableTls>>,
}

impl Collector for ServiceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.service.stats();
        self.encode_counters(&stats, &mut encoder)?;
        self.encode_gauges(&stats, &mut encoder)
    }
}

impl ServiceCollector {
    /// What only grows: renders, cache hits and misses, failures, fetches, time spent.
    fn encode_counters(
        &self,
        stats: &ServiceStats,
        encoder: &mut DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let mut counter = |name: &str, help: &str, value: u64| -> Result<(), std::fmt::Error> {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        counter(
            "renders",
            "Renditions made (stored avatars resized, defaults drawn).",
            stats.renders,
        )?;
        counter(
            "render_cache_hits",
            "Renditions answered from the render cache.",
            stats.cache_hits,
        )?;
        counter(
            "render_cache_misses",
            "Renditions the render cache did not hold when asked.",
            stats.cache_misses,
        )?;
        counter(
            "rendition_file_hits",
            "Render-cache misses answered from a rendition file.",
            stats.file_hits,
        )?;
        counter(
            "rendition_file_write_failures",
            "Rendition files that could not be written (each rendition still answered; the log says why).",
            stats.file_write_failures,
        )?;
        counter(
            "store_errors",
            "Store reads that failed.",
            stats.store_errors,
        )?;
        if let Some(proxy) = &self.proxy {
            let proxy = proxy.stats();
            counter(
                "proxy_fetches",
                "Originals the proxy fetched (or tried).",
                proxy.fetches,
            )?;
            counter(
                "proxy_fetch_failures",
                "Proxy fetches that gave no usable picture (not counting 404s).",
                proxy.fetch_failures,
            )?;
        }
        let seconds = ConstCounter::new(stats.render_seconds);
        seconds.encode(encoder.encode_descriptor(
            "render_seconds",
            "Time spent rendering, in seconds.",
            None,
            seconds.metric_type(),
        )?)?;
        Ok(())
    }

    /// What goes up and down: cache and file sizes, the index, the proxy's, the certificate's
    /// expiry.
    fn encode_gauges(
        &self,
        stats: &ServiceStats,
        encoder: &mut DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let mut gauge = |name: &str, help: &str, value: u64| -> Result<(), std::fmt::Error> {
            let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        gauge(
            "render_cache_bytes",
            "Bytes the render cache holds.",
            stats.cache_bytes_now,
        )?;
        gauge(
            "render_cache_entries",
            "Renditions the render cache holds.",
            stats.cache_entries_now as u64,
        )?;
        gauge(
            "rendition_files_bytes",
            "Bytes the rendition files take on disk.",
            stats.files_bytes_now,
        )?;
        gauge(
            "rendition_files",
            "Rendition files kept.",
            stats.files_now as u64,
        )?;
        gauge(
            "index_entries",
            "Hashes whose store answer is remembered.",
            stats.index_entries as u64,
        )?;
        // For an alert well before it expires (the log warns two weeks ahead).
        if let Some(until) = self.tls.as_ref().and_then(|tls| tls.valid_until()) {
            gauge(
                "tls_certificate_expiry_timestamp_seconds",
                "When the TLS certificate in use expires (its notAfter), in seconds since the Unix epoch.",
                until.timestamp(),
            )?;
        }
        if let Some(proxy) = &self.proxy {
            let proxy = proxy.stats();
            gauge(
                "proxy_cache_bytes",
                "Bytes the proxy's render cache holds.",
                proxy.cache_bytes_now,
            )?;
            gauge(
                "proxy_originals",
                "Fetched originals (and remembered misses) the proxy holds.",
                proxy.originals_now as u64,
            )?;
        }
        Ok(())
    }
}
