//! The standalone server around the avatar service: listeners (plain, TLS, admin) with the
//! operator's limits, the access log and metrics, the admin API, and graceful shutdown.
//!
//! - `listen`: accept loops, connection limits, header timeout, HTTP/1.1 and HTTP/2;
//! - `idle`: closing connections that stay silent (HTTP/2 has no header timeout);
//! - `tls`: certificates from PEM files, reloaded on SIGHUP;
//! - `observe`: per request, the rate limit, the access log and the request metrics;
//! - `metrics`: `/metrics`;
//! - `admin`: the admin listener's routes, `/healthz` and the management API.
//!
//! None of it is in the library crates: an application embedding `AvatarService` brings its
//! own server.

pub(crate) mod admin;
mod idle;
pub(crate) mod listen;
pub(crate) mod metrics;
pub(crate) mod observe;
pub(crate) mod tls;

use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;

use listen::{Listener, accept_loop};

/// Serves every listener until `shutdown` resolves (`commands::shutdown_signal`: Ctrl-C or
/// SIGTERM); then closes them (no new connections), lets the requests in flight finish for at
/// most `bound`, and returns.
pub(crate) async fn run_until_shutdown(
    listeners: Vec<Listener>,
    shutdown: impl Future<Output = ()>,
    bound: Duration,
) {
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            tokio::spawn(accept_loop(
                listener,
                Arc::clone(&graceful),
                stopped.clone(),
            ))
        })
        .collect();
    shutdown.await;
    let _ = stop.send(true);
    for accept in loops {
        let _ = accept.await;
    }
    // The accept loops hold the only other references, and they have ended.
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        return;
    };
    let open = graceful.count();
    if open > 0 {
        eprintln!(
            "finishing {open} open connection(s) (at most {} s)",
            bound.as_secs()
        );
    }
    if tokio::time::timeout(bound, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "closing the connections still open after {} s",
            bound.as_secs()
        );
    }
}
