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
        match listening(&config, tls.clone(), timeout).await {
            Err(why) => tracing::debug!(%why, "cannot listen for avatar changes"),
            Ok(mut listening) => {
                let payloads = &mut listening.payloads;
                let mut delivered = probe(&store, payloads, timeout).await;
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
                    delivered = arrival(payloads, &sent, backoff, applying(&store)).await;
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

/// A connection that has run `LISTEN` on [`CHANNEL`], and the payloads notified to it; closed
/// when dropped.
struct Listening {
    /// The connection ends with its client.
    client: tokio_postgres::Client,
    payloads: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// Polls the connection, which yields notifications as messages (and must be polled for
    /// the client to work at all).
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Connects with `config` and runs `LISTEN`, each within `timeout`; why not, where it cannot.
async fn listening(
    config: &tokio_postgres::Config,
    tls: MakeRustlsConnect,
    timeout: Duration,
) -> Result<Listening, String> {
    let (client, mut connection) = match tokio::time::timeout(timeout, config.connect(tls)).await {
        Err(_) => return Err(format!("no answer to the connection within {timeout:?}")),
        Ok(Err(err)) => return Err(err.to_string()),
        Ok(Ok(connected)) => connected,
    };
    let (sender, payloads) = tokio::sync::mpsc::unbounded_channel();
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
    let listening = Listening {
        client,
        payloads,
        driver,
    };
    let listen = format!("LISTEN {CHANNEL}");
    match tokio::time::timeout(timeout, listening.client.batch_execute(&listen)).await {
        Ok(Ok(())) => Ok(listening),
        Ok(Err(err)) => Err(format!("{listen}: {err}")),
        Err(_) => Err(format!("no answer to {listen} within {timeout:?}")),
    }
}

/// Whether a probe notified through `notifier` (a connection of the store's pool, or made as
/// its pool makes them) reaches a connection made with `listen` within `timeout`: once, for
/// [`PgStoreBuilder::inspect`](crate::PgStoreBuilder::inspect).
///
/// # Errors
/// Why the listening connection could not be made, or the probe not notified.
pub(crate) async fn probe_delivery(
    notifier: &tokio_postgres::Client,
    listen: &tokio_postgres::Config,
    tls: MakeRustlsConnect,
    timeout: Duration,
) -> Result<bool, String> {
    let mut listening = listening(listen, tls, timeout).await?;
    let probe = probe_payload();
    match tokio::time::timeout(timeout, crate::store::send(notifier, &probe)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(format!("notifying a probe: {err}")),
        Err(_) => return Err(format!("no answer to a notification within {timeout:?}")),
    }
    let delivery = arrival(&mut listening.payloads, &probe, timeout, |_| {}).await;
    Ok(delivery == Delivery::Arrived)
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

/// A new probe's payload, unique to this process and call.
fn probe_payload() -> String {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{PROBE}{} {}",
        std::process::id(),
        SENT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Notifies a probe through the store's pool and waits, up to `timeout`, for it among
/// `payloads` (applying the changes that come first).
async fn probe(
    store: &Weak<Shared>,
    payloads: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    timeout: Duration,
) -> Delivery {
    let Some(shared) = store.upgrade() else {
        return Delivery::NotListening;
    };
    let probe = probe_payload();
    if let Err(err) = shared.notify_through_pool(&probe).await {
        tracing::debug!(error = %err, "cannot notify the probe of the connection that follows changes");
        return Delivery::NotListening;
    }
    drop(shared);
    arrival(payloads, &probe, timeout, applying(store)).await
}

/// What to do with a change that arrives while waiting for a probe: apply it to `store`, if
/// it is still there.
fn applying(store: &Weak<Shared>) -> impl FnMut(&str) + '_ {
    move |payload: &str| {
        if let Some(shared) = store.upgrade() {
            apply(&shared, payload);
        }
    }
}

/// Waits, up to `within`, for `probe` among `payloads`, handing what comes first to `other`.
async fn arrival(
    payloads: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    probe: &str,
    within: Duration,
    mut other: impl FnMut(&str),
) -> Delivery {
    let arrived = tokio::time::timeout(within, async {
        while let Some(payload) = payloads.recv().await {
            if payload == probe {
                return true;
            }
            other(&payload);
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
