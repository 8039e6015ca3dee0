//! One listener's accept loop: at most `max_connections` open at once, each connection served
//! by hyper (HTTP/1.1, and HTTP/2 by ALPN or prior knowledge) with a header-read timeout and an
//! idle timeout, optionally behind TLS, and watched for graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

use super::idle::Idle;
use super::tls::ReloadableTls;

/// What each connection may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Until a request's headers are all in (and for the TLS handshake).
    pub(crate) header_timeout: Duration,
    /// Open at once on this listener; more wait in the kernel's backlog.
    pub(crate) max_connections: usize,
    /// Without a byte either way for this long, a connection is closed.
    pub(crate) idle_timeout: Duration,
}

/// A bound listener and how to serve it.
pub(crate) struct Listener {
    pub(crate) tcp: TcpListener,
    pub(crate) serving: Arc<Serving>,
}

/// How a listener's connections are served, shared by every loop accepting on it.
pub(crate) struct Serving {
    pub(crate) tls: Option<Arc<ReloadableTls>>,
    pub(crate) app: Router,
    pub(crate) limits: ConnectionLimits,
    /// Connections open now (the `connections_open` metric).
    pub(crate) open: Gauge,
    /// One permit per connection open, [`ConnectionLimits::max_connections`] in all: the
    /// limit is the listener's, however many loops accept on it.
    slots: Arc<Semaphore>,
}

impl Serving {
    /// A listener's serving, its connection slots made from `limits`.
    pub(crate) fn new(
        tls: Option<Arc<ReloadableTls>>,
        app: Router,
        limits: ConnectionLimits,
        open: Gauge,
    ) -> Self {
        Self {
            tls,
            app,
            limits,
            open,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
        }
    }
}

/// Accepts on `tcp` until `stop` changes, serving each connection on its own task of the
/// runtime this runs on, watched by `graceful`.
pub(crate) async fn accept_loop(
    tcp: TcpListener,
    serving: Arc<Serving>,
    graceful: Arc<GracefulShutdown>,
    mut stop: watch::Receiver<bool>,
) {
    let limits = serving.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&serving.slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, usually: wait a little rather than spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let (builder, serving, watcher) =
            (builder.clone(), Arc::clone(&serving), graceful.watcher());
        tokio::spawn(async move {
            serving.open.inc();
            serve_connection(stream, peer, &serving, &builder, watcher).await;
            serving.open.dec();
            drop(permit);
        });
    }
}

/// Serves one connection until it closes (or shutdown closes it).
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    serving: &Serving,
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
) {
    let handshake_timeout = serving.limits.header_timeout;
    let _ = stream.set_nodelay(true);
    let stream = Idle::new(stream, serving.limits.idle_timeout);
    let app = serving.app.clone();
    let service = TowerToHyperService::new(tower::service_fn(
        move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        },
    ));
    match serving.tls.clone() {
        None => serve_io(stream, builder, service, watcher).await,
        Some(tls) => {
            match tokio::time::timeout(handshake_timeout, tls.acceptor().accept(stream)).await {
                Ok(Ok(stream)) => serve_io(stream, builder, service, watcher).await,
                Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<I, S>(io: I, builder: &auto::Builder<TokioExecutor>, service: S, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    if let Err(err) = watcher.watch(connection).await {
        // Clients hanging up and slow clients timed out land here: not the server's fault.
        tracing::debug!(
            error = avatar_proto::report::with_causes(&*err),
            "connection closed with an error"
        );
    }
}
