//! What a service has done since it was built, for an operator's metrics
//! ([`AvatarService::stats`](crate::AvatarService::stats)).
//!
//! The counters are plain atomics bumped on paths that already do real work (a render, a store
//! read), so keeping them costs nothing measurable; the service depends on no metrics crate,
//! and a server exports the numbers in whatever format it likes (`avatars serve
//! --admin-addr` serves them to Prometheus).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use avatar_image::throttle::WarnThrottle;

/// The service's counters at one moment. Counters only grow; `cache_*_now` and
/// `index_entries` are current levels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct ServiceStats {
    /// Renditions made (stored avatars resized and drawn defaults), each once.
    pub renders: u64,
    /// Time spent making them, in seconds, summed.
    pub render_seconds: f64,
    /// Renditions answered from the render cache.
    pub cache_hits: u64,
    /// Renditions the render cache did not hold when asked (each then read back from its file,
    /// rendered, or waited for another request's render of the same rendition).
    pub cache_misses: u64,
    /// Of those misses, renditions read back from their files
    /// ([`rendition_files`](crate::AvatarServiceBuilder::rendition_files)).
    pub file_hits: u64,
    /// Bytes the rendition files take on disk now.
    pub files_bytes_now: u64,
    /// Rendition files kept now.
    pub files_now: usize,
    /// Rendition files that could not be written (a full or read-only disk, say; each
    /// rendition was answered all the same, and the files log why).
    pub file_write_failures: u64,
    /// Bytes the render cache holds now.
    pub cache_bytes_now: u64,
    /// Renditions the render cache holds now.
    pub cache_entries_now: usize,
    /// Hashes whose store answer is remembered now.
    pub index_entries: usize,
    /// Store reads that failed (each answered as a miss and logged).
    pub store_errors: u64,
}

/// The growing counters, shared by the service's clones.
#[derive(Debug)]
pub(crate) struct Counters {
    renders: AtomicU64,
    render_nanos: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    file_hits: AtomicU64,
    store_errors: AtomicU64,
    /// Set from the store's first unavailable answer until it answers again: an outage is
    /// logged when it starts and when it ends, not at every request it fails (a database
    /// down under a thousand requests a second would log a thousand lines a second).
    store_down: AtomicBool,
    /// `store_errors` when the outage began.
    errors_before_outage: AtomicU64,
    /// When a read that failed is logged: one picture the server may not read (a backup
    /// restored with the wrong owner, say) fails every request for it.
    read_warnings: WarnThrottle,
    started: Instant,
}

/// After a warning that a stored avatar cannot be read, the next one waits this long.
const READ_WARNING_EVERY: Duration = Duration::from_secs(10);

impl Default for Counters {
    fn default() -> Self {
        Self {
            renders: AtomicU64::new(0),
            render_nanos: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            file_hits: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            store_down: AtomicBool::new(false),
            errors_before_outage: AtomicU64::new(0),
            read_warnings: WarnThrottle::new(READ_WARNING_EVERY),
            started: Instant::now(),
        }
    }
}

impl Counters {
    pub(crate) fn rendered(&self, took: Duration) {
        self.renders.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.render_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn file_hit(&self) {
        self.file_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a read the store answered with an error: `Some(n)` when it is to be logged,
    /// `n` the failed reads since the last warning, this one included (the first at once,
    /// then at most one warning every [`READ_WARNING_EVERY`]).
    pub(crate) fn store_error(&self) -> Option<u64> {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        self.read_warnings.record(self.started.elapsed())
    }

    /// Counts a read the store could not answer at all (unreachable): `true` for the first
    /// since it last answered, when the outage is to be logged.
    pub(crate) fn store_unavailable(&self) -> bool {
        let before = self.store_errors.fetch_add(1, Ordering::Relaxed);
        let began = !self.store_down.swap(true, Ordering::Relaxed);
        if began {
            self.errors_before_outage.store(before, Ordering::Relaxed);
        }
        began
    }

    /// The store answered: `Some(failed reads)` when this ends an outage, to log.
    pub(crate) fn store_answered(&self) -> Option<u64> {
        // Loaded first: while the store is up, answering writes nothing shared.
        if !self.store_down.load(Ordering::Relaxed)
            || !self.store_down.swap(false, Ordering::Relaxed)
        {
            return None;
        }
        let errors = self.store_errors.load(Ordering::Relaxed);
        Some(errors.saturating_sub(self.errors_before_outage.load(Ordering::Relaxed)))
    }

    /// The growing counters; the caller fills in the levels.
    pub(crate) fn snapshot(&self) -> ServiceStats {
        #[expect(clippy::cast_precision_loss, reason = "seconds for a metric")]
        let render_seconds = self.render_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        ServiceStats {
            renders: self.renders.load(Ordering::Relaxed),
            render_seconds,
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            file_hits: self.file_hits.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            ..ServiceStats::default()
        }
    }
}
