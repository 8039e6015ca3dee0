//! Following other servers' changes: a connection of its own that `LISTEN`s on
//! [`CHANNEL`](crate::store::CHANNEL) and bumps the generation of each hash a notification
//! names; lost, it is made again with backoff, and every hash's generation is bumped once it
//! listens again (a notification may have been missed meanwhile). Each attempt, from the TCP
//! connect to `LISTEN`, has the store's operation timeout: `connect_timeout` bounds the TCP
//! connect alone, and a server that accepts but never answers (stopped, or behind a stuck
//! proxy) would otherwise hold the attempt, and the store unfollowed, until the kernel's
//! keepalive gives up, minutes later.

use std::sync::Weak;
use std::time::Duration;

use avatar_proto::AvatarHash;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{CHANNEL, Shared};

/// The longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Listens until the store is dropped, each attempt to connect and listen within `timeout`.
pub(crate) async fn follow(
    store: Weak<Shared>,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    timeout: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
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
                if let Ok(Ok(())) = listened {
                    let Some(shared) = store.upgrade() else {
                        return;
                    };
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
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Bumps the generation of each hash in `payload` (hex, comma-separated); anything
/// unreadable bumps every hash's.
fn apply(shared: &Shared, payload: &str) {
    for hex in payload.split(',') {
        let Ok(hash) = AvatarHash::parse_hex(hex.as_bytes()) else {
            shared.changes.changed_all();
            return;
        };
        shared.changes.changed(&hash);
    }
}
