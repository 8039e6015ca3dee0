//! One module per subcommand; each `run` writes its result to the writer it is given.

pub(crate) mod hash;
pub(crate) mod import;
pub(crate) mod list;
pub(crate) mod migrate;
pub(crate) mod proxy;
pub(crate) mod remove;
pub(crate) mod render_ahead;
pub(crate) mod serve;
pub(crate) mod url;
pub(crate) mod xmpp;

use std::io;

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: the long-running commands stop gracefully.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Logs to stderr, `info` unless `RUST_LOG` says otherwise.
pub(crate) fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// A single-threaded runtime for the short store commands.
pub(crate) fn small_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
