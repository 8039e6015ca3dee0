//! The event loops that serve the public listeners: one thread per CPU by default, each with
//! its own single-threaded tokio runtime accepting on every public listener and serving the
//! connections it accepted, as nginx's worker processes do.
//!
//! Why not tokio's work-stealing runtime, which the rest of `avatars serve` runs on: with the
//! server and its clients sharing two CPUs, its workers wake each other to steal work they
//! then mostly do not find, and the kernel's part of each answer (switches, wake-ups) grew
//! past the answer itself. Measured on 2026-12-06 (Intel Xeon host, 2 CPUs, the scale bench's
//! workload over renditions made ahead, wrk -t2 -c32 on the same CPUs, 20 s runs after a 10 s
//! warm-up, interleaved): 65,236 and 64,959 req/s with the work-stealing runtime (17.7 us of
//! the server's CPU an answer, 9.1 of it in the kernel) against 96,639 and 99,786 with two
//! loops (12.5 us, 5.0 in the kernel). A connection stays on the loop that accepted it; the
//! kernel wakes every loop when one arrives and one of them takes it, which spreads them.
//!
//! Each loop has its own small blocking pool for store reads, file reads and renders; the
//! service bounds renders across all loops.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use super::listen::{Serving, accept_loop};

/// One public listener as each loop gets it: a handle of the bound socket and how to serve
/// its connections.
pub(crate) struct Shared {
    pub(crate) tcp: std::net::TcpListener,
    pub(crate) serving: Arc<Serving>,
}

/// Threads and their blocking pools.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopThreads {
    /// Event loops, one thread each.
    pub(crate) loops: usize,
    /// The most blocking threads each loop's runtime may start.
    pub(crate) blocking_per_loop: usize,
}

/// The running loops.
pub(crate) struct EventLoops {
    /// Each loop says here that it stopped accepting (its accept loops have ended and dropped
    /// their handles of the graceful shutdown).
    stopped_accepting: Vec<oneshot::Receiver<()>>,
    /// Set once the connections may be dropped: the loops then end.
    finish: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

impl EventLoops {
    /// Starts the loops, each accepting on every listener of `listeners` until `stop` changes.
    /// Each connection is watched by `graceful`.
    pub(crate) fn start(
        threads: LoopThreads,
        listeners: &[Shared],
        graceful: &Arc<GracefulShutdown>,
        stop: &watch::Receiver<bool>,
    ) -> io::Result<Self> {
        let (finish, finished) = watch::channel(false);
        let mut loops = Self {
            stopped_accepting: Vec::with_capacity(threads.loops),
            finish,
            threads: Vec::with_capacity(threads.loops),
        };
        for index in 0..threads.loops {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(threads.blocking_per_loop)
                .thread_name(format!("avatars-blocking-{index}"))
                .build()?;
            let listeners = listeners
                .iter()
                .map(|shared| Ok((shared.tcp.try_clone()?, Arc::clone(&shared.serving))))
                .collect::<io::Result<Vec<_>>>()?;
            let (stopped_accepting, stopped) = oneshot::channel();
            let (graceful, stop, finished) = (Arc::clone(graceful), stop.clone(), finished.clone());
            let thread = std::thread::Builder::new()
                .name(format!("avatars-loop-{index}"))
                .spawn(move || {
                    runtime.block_on(run_loop(
                        listeners,
                        graceful,
                        stop,
                        stopped_accepting,
                        finished,
                    ));
                    // A render still running when the connections are dropped is not waited
                    // for long.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                })?;
            loops.stopped_accepting.push(stopped);
            loops.threads.push(thread);
        }
        Ok(loops)
    }

    /// Waits until every loop has stopped accepting (after `stop` changed).
    pub(crate) async fn stopped_accepting(&mut self) {
        for stopped in self.stopped_accepting.drain(..) {
            let _ = stopped.await;
        }
    }

    /// Ends the loops, dropping any connection still open, and waits for their threads.
    pub(crate) fn finish(self) {
        let _ = self.finish.send(true);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// One loop: its accept loops until `stop` changes, then its connections until `finished`.
async fn run_loop(
    listeners: Vec<(std::net::TcpListener, Arc<Serving>)>,
    graceful: Arc<GracefulShutdown>,
    stop: watch::Receiver<bool>,
    stopped_accepting: oneshot::Sender<()>,
    mut finished: watch::Receiver<bool>,
) {
    let accepting: Vec<_> = listeners
        .into_iter()
        .filter_map(|(tcp, serving)| match TcpListener::from_std(tcp) {
            Ok(tcp) => Some(tokio::spawn(accept_loop(
                tcp,
                serving,
                Arc::clone(&graceful),
                stop.clone(),
            ))),
            Err(err) => {
                tracing::error!(error = %err, "an event loop cannot watch a listener");
                None
            }
        })
        .collect();
    drop(graceful);
    for accept in accepting {
        let _ = accept.await;
    }
    let _ = stopped_accepting.send(());
    let _ = finished.wait_for(|finished| *finished).await;
}
