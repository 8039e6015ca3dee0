//! Peers that are not there: a TCP server that accepts connections and never says a word (a
//! stopped process, a stuck proxy, a firewall that lets the handshake through), and an address
//! where nothing listens.
//!
//! ```
//! use std::io::Read as _;
//! use std::time::Duration;
//! use test_support::silent::{SilentServer, closed_address};
//!
//! let silent = SilentServer::start();
//! let mut client = std::net::TcpStream::connect(silent.addr())?;
//! client.set_read_timeout(Some(Duration::from_millis(50)))?;
//! assert!(client.read(&mut [0; 1]).is_err(), "not a byte comes");
//! while silent.accepted() < 1 {
//!     std::thread::sleep(Duration::from_millis(1));
//! }
//! assert!(std::net::TcpStream::connect(closed_address()).is_err());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A server on 127.0.0.1 that accepts every connection and holds it open, silent, until
/// dropped. Runs on a thread of its own, so it serves blocking and async tests alike.
#[derive(Debug)]
pub struct SilentServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentServer {
    /// Starts one on a free port.
    ///
    /// # Panics
    /// If no port can be had on 127.0.0.1.
    #[must_use]
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a listener can be non-blocking");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopping) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let held: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((connection, _)) => {
                        held.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(connection);
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// Where it listens.
    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections it has accepted so far.
    #[must_use]
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An address on 127.0.0.1 where nothing listens (a port bound, then let go): connecting is
/// refused at once.
///
/// # Panics
/// If no port can be had on 127.0.0.1.
#[must_use]
pub fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    listener
        .local_addr()
        .expect("a bound listener has an address")
}
