//! What a library logged through `tracing`, captured in memory, for a test to read.
//!
//! ```
//! use test_support::log::Captured;
//!
//! let log = Captured::default();
//! tracing::subscriber::with_default(log.subscriber(), || {
//!     tracing::warn!(disk = "full", "cannot write");
//! });
//! assert!(log.text().contains("cannot write"));
//! assert!(log.text().contains("disk=\"full\""));
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// Log lines, as `tracing_subscriber`'s plain formatter writes them (no colours), kept in memory.
/// Cheap to clone: clones share the lines.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    lines: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// A subscriber writing every event, of every level, here. Install it with
    /// `tracing::subscriber::set_default` (this thread, until the guard drops) or `with_default`.
    #[must_use]
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish()
    }

    /// Everything logged so far.
    #[must_use]
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&lines).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for Captured {
    type Writer = Self;

    fn make_writer(&self) -> Self {
        self.clone()
    }
}
