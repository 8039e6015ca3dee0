//! One module per subcommand; each `run` writes its result to the writer it is given.

pub(crate) mod export;
pub(crate) mod hash;
pub(crate) mod import;
pub(crate) mod list;
pub(crate) mod manual;
pub(crate) mod migrate;
pub(crate) mod proxy;
pub(crate) mod remove;
pub(crate) mod render_ahead;
pub(crate) mod serve;
pub(crate) mod url;
pub(crate) mod xmpp;

use std::io;

use crate::server::observe::LogFormat;

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: the long-running commands stop gracefully.
///
/// On Unix the handlers are installed when this is called, not when the future is first
/// awaited: call it just before saying the server listens, so a signal sent as soon as it does
/// (a supervisor stopping a service it has just started) stops it gracefully instead of
/// killing it by the signal's default action, its renditions unsaved; not earlier, or Ctrl-C
/// during a long start would wait for the start to end. Call it inside the runtime.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        let received = async |installed: std::io::Result<Signal>| match installed {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        };
        async move {
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
            crate::server::service_manager::stopping();
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Answers every SIGHUP from now on with `answer`, where the signal's default action would end
/// the process: `systemctl reload`, or a log rotation's `pkill -HUP avatars`, must never stop a
/// server. The signal is registered before this returns, so no SIGHUP after it ends the
/// process. Call it inside the runtime.
pub(crate) fn answer_hangups(mut answer: impl FnMut() + Send + 'static) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                crate::server::service_manager::reloading();
                answer();
                crate::server::service_manager::reloaded();
            }
        });
    }
    #[cfg(not(unix))]
    let _ = answer;
}

/// Whether [`init_logging`] set up the JSON log, which [`say()`] then writes to.
static LOG_IS_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The line of [`say!`]: on stderr as it is, or as an event of the JSON log (target `avatars`,
/// its level from its start, its text the message without `avatars: `).
pub(crate) fn say(line: &str) {
    if !LOG_IS_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        stderr_line!("{line}");
    } else if let Some(warning) = line
        .strip_prefix("avatars: warning: ")
        .or_else(|| line.strip_prefix("warning: "))
    {
        tracing::warn!(target: "avatars", "{warning}");
    } else if let Some(error) = line.strip_prefix("avatars: ") {
        tracing::error!(target: "avatars", "{error}");
    } else {
        tracing::info!(target: "avatars", "{line}");
    }
}

/// A line a long-running command writes on stdout for whoever started it (`listening on
/// http://127.0.0.1:8080`), which scripts and tests read: as it is, or with the JSON log a JSON
/// object as the log's events are (`timestamp`, `level`, `message` the line, `target`), so that
/// a journal merging stdout and stderr holds JSON only. It does not depend on `RUST_LOG`.
pub(crate) fn announce(out: &mut impl io::Write, line: &str) -> io::Result<()> {
    if !LOG_IS_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        return writeln!(out, "{line}");
    }
    let mut timestamp = String::new();
    // The log's own clock and format (RFC 3339, UTC); it cannot fail writing to a String.
    let _ = tracing_subscriber::fmt::time::FormatTime::format_time(
        &tracing_subscriber::fmt::time::SystemTime,
        &mut tracing_subscriber::fmt::format::Writer::new(&mut timestamp),
    );
    let event = serde_json::json!({
        "timestamp": timestamp,
        "level": "INFO",
        "message": line,
        "target": "avatars",
    });
    writeln!(out, "{event}")
}

/// Logs to stderr, `info` unless `RUST_LOG` says otherwise: as text, or with
/// [`LogFormat::Json`] one JSON object a line (`timestamp`, `level`, `target` and the event's
/// fields at the top level), the access log's lines and every other event alike.
pub(crate) fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Its default reports a write that failed with `eprintln!`, which panics where stderr
        // is closed: a server whose log reader went away would drop every request it logs.
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Json => {
            LOG_IS_JSON.store(true, std::sync::atomic::Ordering::Relaxed);
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .try_init()
        }
        // Colour codes only for a person at a terminal, not in log files.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// A single-threaded runtime for the short store commands.
pub(crate) fn small_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
