//! The standalone server around the avatar service: listeners (plain, TLS, admin) with the
//! operator's limits, the access log and metrics, the admin API, and graceful shutdown.
//!
//! - `event_loops`: the threads that accept and serve the public listeners' connections;
//! - `listen`: accept loops, connection limits, header timeout, HTTP/1.1 and HTTP/2;
//! - `idle`: closing connections that stay silent (HTTP/2 has no header timeout);
//! - `tls`: certificates from PEM files, reloaded on SIGHUP;
//! - `observe`: per request, the rate limit, the access log and the request metrics;
//! - `metrics`: `/metrics`;
//! - `open_files`: the open-file limit raised to what the listeners may hold;
//! - `process_metrics`: the `process_*` metrics of `/metrics` (open files, memory, CPU);
//! - `admin`: the admin listener's routes, `/healthz` and the management API;
//! - `component_monitor`: `avatars xmpp --metrics-addr`, the component's `/metrics` and
//!   `/healthz`.
//! - `service_manager`: what a systemd `Type=notify` unit is told (ready, reloading,
//!   stopping, a status line).
//!
//! None of it is in the library crates: an application embedding `AvatarService` brings its
//! own server.

pub(crate) mod admin;
pub(crate) mod component_monitor;
pub(crate) mod event_loops;
mod idle;
pub(crate) mod listen;
pub(crate) mod metrics;
pub(crate) mod observe;
pub(crate) mod open_files;
pub(crate) mod process_metrics;
pub(crate) mod service_manager;
pub(crate) mod tls;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;

use event_loops::{EventLoops, LoopThreads, Shared};
use listen::{Listener, accept_loop};

/// Serves the `public` listeners on the event loops and `admin` on the runtime this runs on,
/// until `shutdown` resolves (`commands::shutdown_signal`: Ctrl-C or SIGTERM); then closes
/// them (no new connections), lets the requests in flight finish for at most `bound`, and
/// returns. Fails only when the loops cannot be started.
pub(crate) async fn run_until_shutdown(
    public: Vec<Listener>,
    admin: Option<Listener>,
    threads: LoopThreads,
    shutdown: impl Future<Output = ()>,
    bound: Duration,
) -> io::Result<()> {
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shared = public
        .into_iter()
        .map(|listener| {
            Ok(Shared {
                tcp: listener.tcp.into_std()?,
                serving: listener.serving,
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut loops = EventLoops::start(threads, &shared, &graceful, &stopped)?;
    // The loops hold their own handles of the sockets.
    drop(shared);
    let admin = admin.map(|listener| {
        tokio::spawn(accept_loop(
            listener.tcp,
            listener.serving,
            Arc::clone(&graceful),
            stopped.clone(),
        ))
    });
    shutdown.await;
    let _ = stop.send(true);
    loops.stopped_accepting().await;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    // The accept loops held the only other references, and they have ended.
    if let Ok(graceful) = Arc::try_unwrap(graceful) {
        finish_connections(graceful, bound).await;
    }
    loops.finish();
    Ok(())
}

/// Lets the connections still open finish for at most `bound`.
async fn finish_connections(graceful: GracefulShutdown, bound: Duration) {
    let open = graceful.count();
    if open > 0 {
        say!(
            "finishing {open} open connection(s) (at most {} s)",
            bound.as_secs()
        );
    }
    if tokio::time::timeout(bound, graceful.shutdown())
        .await
        .is_err()
    {
        say!(
            "closing the connections still open after {} s",
            bound.as_secs()
        );
    }
}
