//! What a running component has done, for monitoring: whether it is joined to its server now,
//! how often it joined or failed to, and the stanzas it read and wrote. Kept in atomics the
//! component updates as it goes ([`ComponentConfig::stats`](crate::ComponentConfig::stats));
//! read at any time with [`ComponentStats::snapshot`].
//!
//! ```
//! use std::sync::Arc;
//! use avatar_xmpp::{ComponentConfig, ComponentStats};
//!
//! let stats = Arc::new(ComponentStats::default());
//! let config = ComponentConfig::new("127.0.0.1:5347", "avatars.example.org", "s3cret")?
//!     .stats(Arc::clone(&stats));
//! // ... avatar_xmpp::component::run(config, service, shutdown) in a task ...
//! let now = stats.snapshot();
//! assert!(!now.joined);
//! assert_eq!(now.last_failure, None);
//! # Ok::<(), avatar_xmpp::ConfigError>(())
//! ```

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The component's state and counters, shared between the component and whoever watches it.
#[derive(Debug, Default)]
pub struct ComponentStats {
    joined: AtomicBool,
    joins: AtomicU64,
    failed_joins: AtomicU64,
    stanzas_received: AtomicU64,
    stanzas_sent: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

/// The values of [`ComponentStats`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentStatsSnapshot {
    /// Whether the component is joined to its server now (the handshake accepted, the stream
    /// open).
    pub joined: bool,
    /// Handshakes the server accepted since the start.
    pub joins: u64,
    /// Attempts to join that failed: refused, timed out, or nothing listening.
    pub failed_joins: u64,
    /// Stanzas read from the server.
    pub stanzas_received: u64,
    /// Stanzas written to the server: replies, announcements, pings.
    pub stanzas_sent: u64,
    /// Why the component is not joined, when it is not: the last failed attempt, or how the
    /// last session ended. `None` while joined, and before the first attempt ends.
    pub last_failure: Option<String>,
}

impl ComponentStats {
    /// The values now.
    #[must_use]
    pub fn snapshot(&self) -> ComponentStatsSnapshot {
        ComponentStatsSnapshot {
            joined: self.joined.load(Ordering::Relaxed),
            joins: self.joins.load(Ordering::Relaxed),
            failed_joins: self.failed_joins.load(Ordering::Relaxed),
            stanzas_received: self.stanzas_received.load(Ordering::Relaxed),
            stanzas_sent: self.stanzas_sent.load(Ordering::Relaxed),
            last_failure: self.last_failure().clone(),
        }
    }

    fn last_failure(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        // A panic elsewhere while it was held leaves a string, still good to read.
        self.last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn joined(&self) {
        self.joins.fetch_add(1, Ordering::Relaxed);
        *self.last_failure() = None;
        self.joined.store(true, Ordering::Relaxed);
    }

    pub(crate) fn failed_to_join(&self, why: String) {
        self.failed_joins.fetch_add(1, Ordering::Relaxed);
        *self.last_failure() = Some(why);
    }

    pub(crate) fn left(&self, why: String) {
        self.joined.store(false, Ordering::Relaxed);
        *self.last_failure() = Some(why);
    }

    pub(crate) fn received(&self) {
        self.stanzas_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) {
        self.stanzas_sent.fetch_add(1, Ordering::Relaxed);
    }
}
