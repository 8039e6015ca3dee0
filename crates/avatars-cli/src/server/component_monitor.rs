//! `avatars xmpp --metrics-addr`: the component's `/metrics` (for Prometheus, in the format the
//! scraper asks for, as the server's: [`metrics::respond`]) and `/healthz` (200 while it is
//! joined to its XMPP server, 503 with the reason while it is not), for a monitoring system to
//! scrape and a supervisor to probe; with a PostgreSQL store, both also say whether it sees
//! other servers' changes, as `avatars serve`'s do.
//! Read from the component's [`ComponentStats`] and its store at each request.

use std::sync::Arc;

use avatar_xmpp::ComponentStats;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Json, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::server::metrics;
use crate::server::process_metrics::ProcessCollector;
use crate::store::AnyStore;

/// The routes, answering from `stats` and, for whether it follows other servers' changes,
/// `store`.
pub(crate) fn router(stats: Arc<ComponentStats>, store: AnyStore) -> Router {
    // The process metrics go unprefixed, as every exporter's; the rest are `avatars_`.
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ProcessCollector));
    let avatars = registry.sub_registry_with_prefix("avatars");
    avatars
        .sub_registry_with_prefix("xmpp")
        .register_collector(Box::new(StatsCollector(Arc::clone(&stats))));
    // Named as `avatars serve`'s, for one alert to cover both.
    avatars.register_collector(Box::new(StoreCollector(store.clone())));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Monitor {
            stats,
            store,
            registry: Arc::new(registry),
        })
}

#[derive(Clone)]
struct Monitor {
    stats: Arc<ComponentStats>,
    store: AnyStore,
    registry: Arc<Registry>,
}

async fn metrics(State(monitor): State<Monitor>, headers: HeaderMap) -> Response {
    metrics::respond(&monitor.registry, &headers)
}

/// 200 while joined, 503 with the reason while not; never cached (true only now).
async fn healthz(State(monitor): State<Monitor>) -> Response {
    let now = monitor.stats.snapshot();
    let never_cached = [(header::CACHE_CONTROL, "no-store")];
    if now.joined {
        let health = monitor.store.with_following(json!({ "status": "joined" }));
        (never_cached, Json(health)).into_response()
    } else {
        let error = now
            .last_failure
            .unwrap_or_else(|| "joining: no attempt has ended yet".to_owned());
        let health = json!({ "status": "not joined", "error": error });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            never_cached,
            Json(monitor.store.with_following(health)),
        )
            .into_response()
    }
}

/// Whether the store follows other servers' changes, at each scrape.
#[derive(Debug)]
struct StoreCollector(AnyStore);

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        metrics::encode_store_following(&self.0, &mut encoder)
    }
}

/// Reads the component's counters at each scrape.
#[derive(Debug)]
struct StatsCollector(Arc<ComponentStats>);

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let now = self.0.snapshot();
        let joined = ConstGauge::new(i64::from(now.joined));
        joined.encode(encoder.encode_descriptor(
            "joined",
            "Whether the component is joined to its XMPP server now (1) or not (0).",
            None,
            joined.metric_type(),
        )?)?;
        let counters = [
            ("joins", "Handshakes the XMPP server accepted.", now.joins),
            (
                "failed_joins",
                "Attempts to join that failed: refused, timed out, or nothing listening.",
                now.failed_joins,
            ),
            (
                "stanzas_received",
                "Stanzas read from the XMPP server.",
                now.stanzas_received,
            ),
            (
                "stanzas_sent",
                "Stanzas written to the XMPP server: replies, announcements, pings.",
                now.stanzas_sent,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        Ok(())
    }
}
