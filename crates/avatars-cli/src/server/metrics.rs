//! `GET /metrics` of the admin listener: requests by listener, route and status, their latency,
//! open connections, and the service's and proxy's own counters, kept with the Prometheus
//! project's `prometheus-client` and answered in the text format the scraper asks for
//! ([`Exposition`]: `OpenMetrics` for Prometheus, the Prometheus text format for the rest).
//!
//! Request metrics are recorded as requests finish; the service's and proxy's numbers are read
//! from their `stats()` at each scrape, so nothing on the serving path knows about metrics.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::server::process_metrics::ProcessCollector;
use crate::server::tls::ReloadableTls;
use crate::store::{AnyStore, Following};
use avatar_proxy::AvatarProxy;
use avatar_service::{AvatarService, ServiceStats};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The two text formats `/metrics` answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exposition {
    /// `OpenMetrics` 1.0.0, what `prometheus-client` writes and Prometheus asks for first.
    OpenMetrics,
    /// The Prometheus text format 0.0.4, which every scraper reads: promtool, Telegraf, the
    /// Datadog agent, VictoriaMetrics. Read as this format, `OpenMetrics` text is subtly wrong:
    /// a counter's `# TYPE` names `x` while its samples are `x_total`, so counters become
    /// untyped series without help.
    PrometheusText,
}

impl Exposition {
    /// `OpenMetrics` when `accept` lists `application/openmetrics-text` with a quality above
    /// zero (Prometheus does), the Prometheus text format otherwise (no `Accept`, `*/*`,
    /// `text/plain`): the rule of Prometheus's own client libraries (`client_python`'s
    /// `choose_encoder`).
    pub(crate) fn negotiate(accept: Option<&HeaderValue>) -> Self {
        let names_openmetrics = accept.is_some_and(|accept| {
            avatar_proto::format::accept_lists(accept.as_bytes(), "application/openmetrics-text")
        });
        if names_openmetrics {
            Self::OpenMetrics
        } else {
            Self::PrometheusText
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub(crate) const fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The answer to `GET /metrics` with `headers`: everything `registry` holds, in the format
/// [`Exposition::negotiate`] picks, with `Vary: Accept`, and never to be cached (`no-store`).
pub(crate) fn respond(registry: &Registry, headers: &HeaderMap) -> Response {
    let exposition = Exposition::negotiate(headers.get(header::ACCEPT));
    let openmetrics = render(registry);
    let body = match exposition {
        Exposition::OpenMetrics => openmetrics,
        Exposition::PrometheusText => to_prometheus_text(&openmetrics),
    };
    (
        [
            (header::CONTENT_TYPE, exposition.content_type()),
            (header::VARY, "accept"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

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
        // The process metrics go unprefixed, as every exporter's; the rest are `avatars_`.
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ProcessCollector));
        let avatars = registry.sub_registry_with_prefix("avatars");
        let requests = Family::<RequestLabels, Counter>::default();
        avatars.register(
            "http_requests",
            "HTTP requests answered, by listener, route and status",
            requests.clone(),
        );
        // 100 us to 6.5 s, doubling: a cached hit is well under a millisecond, a cold render of
        // a large photo tens of milliseconds, a proxied first fetch up to its deadline.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 17))
        });
        avatars.register(
            "http_request_duration_seconds",
            "Time from a request's headers to its response's headers, by listener and route",
            latency.clone(),
        );
        let connections = Family::<ListenerLabels, Gauge>::default();
        avatars.register(
            "connections_open",
            "Connections open now, by listener",
            connections.clone(),
        );
        avatars.register_collector(Box::new(ServiceCollector {
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
    #[cfg(test)]
    pub(crate) fn render(&self) -> String {
        render(&self.registry)
    }

    /// The answer to `GET /metrics` with `headers` ([`respond`]).
    pub(crate) fn respond(&self, headers: &HeaderMap) -> Response {
        respond(&self.registry, headers)
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

/// `openmetrics`, an exposition as `prometheus-client` writes it, in the Prometheus text
/// format 0.0.4.
///
/// Written here because `prometheus-client` writes `OpenMetrics` only and keeps its encoder's
/// parts private (`prometheus/client_rust#46`), and no kept crate converts. The formats differ
/// only in what this rewrites, for the types `prometheus-client` has: a counter's `# HELP` and
/// `# TYPE` name its samples (`x_total`, not `x`); an info metric is a gauge named `x_info`;
/// `unknown` is `untyped`; `# UNIT`, `# EOF`, `_created` samples and exemplars (`... # {...}
/// v`) do not exist. Samples, label escaping (`\\`, `\"`, `\n`) and `le="+Inf"` are the same
/// in both. `prometheus-client` writes one line per sample, help texts unescaped.
pub(crate) fn to_prometheus_text(openmetrics: &str) -> String {
    let mut text = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    let mut created: Option<String> = None;
    for line in openmetrics.lines() {
        if let Some(described) = line.strip_prefix("# HELP ") {
            // prometheus-client writes a family's HELP just before its TYPE.
            help = described.split_once(' ').map(|(_, help)| help);
        } else if let Some(typed) = line.strip_prefix("# TYPE ") {
            let (family, kind) = typed.split_once(' ').unwrap_or((typed, "unknown"));
            let (name, kind) = match kind {
                "counter" => (format!("{family}_total"), "counter"),
                "info" => (format!("{family}_info"), "gauge"),
                "unknown" => (family.to_owned(), "untyped"),
                kind => (family.to_owned(), kind),
            };
            if let Some(help) = help.take() {
                let _ = writeln!(text, "# HELP {name} {help}");
            }
            let _ = writeln!(text, "# TYPE {name} {kind}");
            created = Some(format!("{family}_created"));
        } else if line.starts_with('#') {
            // `# UNIT`, `# EOF`: neither exists in the Prometheus text format.
        } else if created
            .as_deref()
            .is_none_or(|created| sample_name(line) != created)
        {
            text.push_str(without_exemplar(line));
            text.push('\n');
        }
    }
    text
}

/// The metric name a sample line starts with.
fn sample_name(line: &str) -> &str {
    line.split(['{', ' ']).next().unwrap_or(line)
}

/// A sample line without its exemplar: everything before ` # ` after the label set, whose
/// values (quoted, with `\"` and `\\` escapes) may hold ` # ` themselves.
fn without_exemplar(line: &str) -> &str {
    let open = sample_name(line).len();
    let mut after_labels = open;
    if line[open..].starts_with('{') {
        let mut quoted = false;
        let mut escaped = false;
        for (offset, character) in line[open + 1..].char_indices() {
            match character {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    after_labels = open + 1 + offset;
                    break;
                }
                _ => {}
            }
        }
    }
    match line[after_labels..].find(" # ") {
        Some(exemplar) => &line[..after_labels + exemplar],
        None => line,
    }
}

/// `store_following_changes` for a PostgreSQL store (nothing for a directory), as both servers
/// export it, for one alert to cover them.
pub(crate) fn encode_store_following(
    store: &AnyStore,
    encoder: &mut DescriptorEncoder<'_>,
) -> Result<(), std::fmt::Error> {
    let Some(following) = store.following() else {
        return Ok(());
    };
    let metric = ConstGauge::new(i64::from(following == Following::Yes));
    metric.encode(encoder.encode_descriptor(
        "store_following_changes",
        "1 while this server sees the changes other servers make to the shared database (a PostgreSQL store), 0 while it does not (its /healthz says why).",
        None,
        metric.metric_type(),
    )?)
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
        self.encode_gauges(&stats, &mut encoder)?;
        encode_store_following(self.service.store(), &mut encoder)
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
        }
        if let Some(proxy) = &self.proxy {
            // By reason, every reason present from the start (a rate over a series that
            // appears only with its first failure misses that failure).
            let failures = proxy.stats().fetch_failures_by_reason;
            let mut family = encoder.encode_descriptor(
                "proxy_fetch_failures",
                &format!(
                    "Proxy fetches that gave no usable picture (not counting 404s), by reason: \
                     {}.",
                    avatar_proxy::fetch::FetchFailure::REASONS.join(", ")
                ),
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (reason, count) in failures {
                ConstCounter::new(count).encode(family.encode_family(&[("reason", reason)])?)?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::info::Info;

    /// A registry with each type `prometheus-client` has, a unit, labels that need escaping
    /// (holding ` # `), and a counter with an exemplar.
    fn every_kind() -> Registry {
        let mut registry = Registry::with_prefix("demo");
        let requests = Family::<Vec<(String, String)>, Counter>::default();
        requests
            .get_or_create(&vec![("path".into(), "a \"b\" # {c}\\\n".into())])
            .inc();
        registry.register("requests", "Requests answered", requests);
        let open = Gauge::<i64>::default();
        open.set(3);
        registry.register("open", "Open now", open);
        let latency = Histogram::new([0.5]);
        latency.observe(0.25);
        registry.register_with_unit(
            "latency",
            "Latency",
            prometheus_client::registry::Unit::Seconds,
            latency,
        );
        registry.register(
            "build",
            "The build",
            Info::new(vec![("version".to_owned(), "1.0".to_owned())]),
        );
        let sampled = prometheus_client::metrics::exemplar::CounterWithExemplar::<
            Vec<(String, String)>,
        >::default();
        sampled.inc_by(2, Some(vec![("trace".into(), "t # 1".into())]), None);
        registry.register("sampled", "Sampled", sampled);
        registry
    }

    #[test]
    fn the_prometheus_text_format_names_counters_by_their_samples_and_drops_what_it_lacks() {
        let text = to_prometheus_text(&render(&every_kind()));
        assert_eq!(
            text,
            concat!(
                "# HELP demo_requests_total Requests answered.\n",
                "# TYPE demo_requests_total counter\n",
                "demo_requests_total{path=\"a \\\"b\\\" # {c}\\\\\\n\"} 1\n",
                "# HELP demo_open Open now.\n",
                "# TYPE demo_open gauge\n",
                "demo_open 3\n",
                "# HELP demo_latency_seconds Latency.\n",
                "# TYPE demo_latency_seconds histogram\n",
                "demo_latency_seconds_sum 0.25\n",
                "demo_latency_seconds_count 1\n",
                "demo_latency_seconds_bucket{le=\"0.5\"} 1\n",
                "demo_latency_seconds_bucket{le=\"+Inf\"} 1\n",
                "# HELP demo_build_info The build.\n",
                "# TYPE demo_build_info gauge\n",
                "demo_build_info{version=\"1.0\"} 1\n",
                "# HELP demo_sampled_total Sampled.\n",
                "# TYPE demo_sampled_total counter\n",
                "demo_sampled_total 2\n",
            )
        );
    }

    #[test]
    fn created_samples_are_dropped() {
        let openmetrics = concat!(
            "# HELP x Things.\n",
            "# TYPE x counter\n",
            "x_total 4\n",
            "x_created 1700000000.0\n",
            "# EOF\n",
        );
        assert_eq!(
            to_prometheus_text(openmetrics),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 4\n"
        );
    }

    #[test]
    fn openmetrics_is_answered_only_to_a_scraper_that_names_it() {
        let negotiate =
            |accept: &str| Exposition::negotiate(Some(&HeaderValue::from_str(accept).unwrap()));
        // What Prometheus 2.42 sends.
        assert_eq!(
            negotiate(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            ),
            Exposition::OpenMetrics
        );
        assert_eq!(
            negotiate("Application/OpenMetrics-Text"),
            Exposition::OpenMetrics
        );
        for other in [
            "*/*",
            "text/plain;version=0.0.4",
            "application/openmetrics-text;q=0, text/plain",
            "",
        ] {
            assert_eq!(negotiate(other), Exposition::PrometheusText, "{other}");
        }
        assert_eq!(Exposition::negotiate(None), Exposition::PrometheusText);
    }
}
