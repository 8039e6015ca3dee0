//! Following other servers' changes: a connection of its own that `LISTEN`s on
//! [`CHANNEL`](crate::store::CHANNEL) and bumps the generation of each hash a notification
//! names; lost, it is made again with backoff, and every hash's generation is bumped once it
//! listens again (a notification may have been missed meanwhile). Each attempt, from the TCP
//! connect to `LISTEN`, has the store's operation timeout: `connect_timeout` bounds the TCP
//! connect alone, and a server that accepts but never answers (stopped, or behind a stuck
//! proxy) would otherwise hold the attempt, and the store unfollowed, until the kernel's
//! keepalive gives up, minutes later.
//!
//! Listening is proved, not assumed: once `LISTEN` is answered, a probe is notified through the
//! pool, as writes are, and the connection counts as following only when the probe arrives.
//! Through a pooler in transaction mode (PgBouncer's, a managed database's pool) it never
//! does: the server connection that ran `LISTEN` went back to the pool, and what is notified
//! to it reaches no one. Then the store says so, and what to add to its URL
//! (`listen_host`, `listen_port`: the database itself, or a pool in session mode).

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use avatar_proto::AvatarHash;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{CHANNEL, Shared};

/// The longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The first and the longest wait before trying again when the probe did not arrive: rarely a
/// passing fault, so the log is not flooded with it, and soon retried in case it was one. A
/// probe that was only late (a database too loaded to deliver it within the timeout) still
/// counts if it arrives meanwhile.
const UNDELIVERED_BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(60));

/// What probes' payloads start with (never hex, so never taken for a hash).
const PROBE: &str = "probe ";

/// What is wrong when the probe does not arrive, and what to do ([`PgStore::why_not_following`](crate::PgStore::why_not_following)).
pub(crate) const UNDELIVERED: &str = "changes notified through the store's URL do not reach \
    the connection that listens for them, so other servers' changes are not seen: is it a \
    pooler in transaction mode (PgBouncer's, a managed database's pool)? Add listen_host=HOST \
    and/or listen_port=PORT to the URL, naming the database itself or a pool in session mode";

/// Listens until the store is dropped, each attempt to connect and listen within `timeout`.
pub(crate) async fn follow(
    store: Weak<Shared>,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    timeout: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        // Whether this attempt already waited `backoff` out (for a late probe).
        let mut waited = false;
        match tokio::time::timeout(timeout, config.connect(tls.clone())).await {
            Err(_) => {
                tracing::debug!(
                    ?timeout,
                    "no answer to the connection that follows avatar changes"
                );
            }
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "cannot connect to follow avatar changes");
            }
            Ok(Ok((client, mut connection))) => {
                let (sender, mut payloads) = tokio::sync::mpsc::unbounded_channel();
                // The connection yields notifications as messages; it must be polled for the
                // client to work at all.
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(notification))) => {
                                if sender.send(notification.payload().to_owned()).is_err() {
                                    return;
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => return,
                        }
                    }
                });
                let listen = format!("LISTEN {CHANNEL}");
                let listened = tokio::time::timeout(timeout, client.batch_execute(&listen)).await;
                let mut delivered = match listened {
                    Ok(Ok(())) => probe(&store, &mut payloads, timeout).await,
                    _ => Delivery::NotListening,
                };
                if let Delivery::Lost(sent) = delivered.clone() {
                    let (first, longest) = UNDELIVERED_BACKOFF;
                    backoff = (backoff * 2).clamp(first, longest);
                    if let Some(shared) = store.upgrade() {
                        shared.undelivered.store(true, Ordering::Relaxed);
                        tracing::error!(
                            url = %shared.url,
                            "{UNDELIVERED}; trying again in {}s",
                            backoff.as_secs()
                        );
                    }
                    // Until then, on this connection: a database too loaded to deliver the
                    // probe within the timeout delivers it late, and then it is followed
                    // after all, without reconnecting.
                    delivered = arrival(&store, &mut payloads, &sent, backoff).await;
                    waited = matches!(delivered, Delivery::Lost(_));
                }
                if delivered == Delivery::Arrived {
                    let Some(shared) = store.upgrade() else {
                        return;
                    };
                    shared.undelivered.store(false, Ordering::Relaxed);
                    // Listening again: what was cached before may have missed a change.
                    shared.changes.changed_all();
                    shared.following.send_replace(true);
                    tracing::info!(url = %shared.url, "following avatar changes");
                    drop(shared);
                    backoff = Duration::from_millis(50);
                    while let Some(payload) = payloads.recv().await {
                        let Some(shared) = store.upgrade() else {
                            return;
                        };
                        apply(&shared, &payload);
                    }
                    if let Some(shared) = store.upgrade() {
                        shared.following.send_replace(false);
                        tracing::warn!(url = %shared.url, "lost the connection that follows avatar changes; reconnecting");
                    }
                }
                driver.abort();
            }
        }
        if store.strong_count() == 0 {
            return;
        }
        if !waited {
            tokio::time::sleep(backoff).await;
        }
        // Up to MAX_BACKOFF; past it only after undelivered probes, which double it themselves.
        backoff = (backoff * 2).min(MAX_BACKOFF.max(backoff));
    }
}

/// What became of the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Delivery {
    /// `LISTEN` was not answered, the connection ended (or the store is gone).
    NotListening,
    /// Notified through the pool and received here: changes will be followed.
    Arrived,
    /// Notified (this payload), and not received in time.
    Lost(String),
}

/// Notifies a probe through the store's pool and waits, up to `timeout`, for it among
/// `payloads` (applying the changes that come first).
async fn probe(
    store: &Weak<Shared>,
    payloads: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    timeout: Duration,
) -> Delivery {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(shared) = store.upgrade() else {
        return Delivery::NotListening;
    };
    let probe = format!(
        "{PROBE}{} {}",
        std::process::id(),
        SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    if let Err(err) = shared.notify_through_pool(&probe).await {
        tracing::debug!(error = %err, "cannot notify the probe of the connection that follows changes");
        return Delivery::NotListening;
    }
    drop(shared);
    arrival(store, payloads, &probe, timeout).await
}

/// Waits, up to `within`, for `probe` among `payloads` (applying the changes that come first).
async fn arrival(
    store: &Weak<Shared>,
    payloads: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    probe: &str,
    within: Duration,
) -> Delivery {
    let arrived = tokio::time::timeout(within, async {
        while let Some(payload) = payloads.recv().await {
            if payload == probe {
                return true;
            }
            if let Some(shared) = store.upgrade() {
                apply(&shared, &payload);
            }
        }
        false
    })
    .await;
    match arrived {
        Ok(true) => Delivery::Arrived,
        Ok(false) => Delivery::NotListening,
        Err(_) => Delivery::Lost(probe.to_owned()),
    }
}

/// Bumps the generation of each hash in `payload` (hex, comma-separated); anything
/// unreadable bumps every hash's.
fn apply(shared: &Shared, payload: &str) {
    if payload.starts_with(PROBE) {
        // Another store's (or an earlier) probe: no change.
        return;
    }
    for hex in payload.split(',') {
        let Ok(hash) = AvatarHash::parse_hex(hex.as_bytes()) else {
            shared.changes.changed_all();
            return;
        };
        shared.changes.changed(&hash);
    }
}
