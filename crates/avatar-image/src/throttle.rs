//! Warnings that would flood a log, said at most once a period with how many there were
//! ([`WarnThrottle`]), and the clock they share with other things done at most once a period.
//!
//! By hand: `tracing` has no rate limit of its own, and a throttling layer (`tracing-throttle`)
//! is the embedding application's subscriber to choose, where a library's warnings must not
//! flood whatever log it has. Here because this is the lowest crate of the workspace that logs
//! per request: `avatar-service` uses it too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Occurrences of one warning, counted, and when to say so: the first at once, later ones at
/// most once a period, each warning with how many there were since the one before. For what a
/// library would otherwise log at every request (a disk it cannot write, a file it cannot
/// read). Times are given by the caller, as the time since a start of its choosing (when it
/// was made, say), so that a test needs no clock.
///
/// ```
/// use std::time::Duration;
/// use avatar_image::throttle::WarnThrottle;
///
/// let warnings = WarnThrottle::new(Duration::from_secs(10));
/// let at = Duration::from_secs;
/// assert_eq!(warnings.record(at(0)), Some(1), "the first is said at once");
/// assert_eq!(warnings.record(at(1)), None);
/// assert_eq!(warnings.record(at(2)), None);
/// assert_eq!(warnings.record(at(10)), Some(3), "three since the last warning");
/// ```
#[derive(Debug)]
pub struct WarnThrottle {
    /// Occurrences since the last warning.
    unsaid: AtomicU64,
    due: AtMostEvery,
}

impl WarnThrottle {
    /// A throttle saying at most one warning every `period`.
    #[must_use]
    pub const fn new(period: Duration) -> Self {
        Self {
            unsaid: AtomicU64::new(0),
            due: AtMostEvery::new(period),
        }
    }

    /// Counts one occurrence at `at` (the time since the caller's start): `Some(n)` when a
    /// warning is due now, `n` the occurrences since the last one, this one included; `None`
    /// when it is to be counted in the next. Of threads recording at once, one is told to warn.
    pub fn record(&self, at: Duration) -> Option<u64> {
        self.unsaid.fetch_add(1, Ordering::Relaxed);
        self.due
            .due(at)
            .then(|| self.unsaid.swap(0, Ordering::Relaxed).max(1))
    }
}

/// Something done at most once a period, by whichever thread first finds it due.
#[derive(Debug)]
pub(crate) struct AtMostEvery {
    period: Duration,
    /// Milliseconds after the start before which it is not due again.
    next: AtomicU64,
}

impl AtMostEvery {
    pub(crate) const fn new(period: Duration) -> Self {
        Self {
            period,
            next: AtomicU64::new(0),
        }
    }

    /// Whether it is due `at` (time since the start); if so, the next time is a period on.
    /// Of threads asking at once, one is told it is.
    pub(crate) fn due(&self, at: Duration) -> bool {
        let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let now = millis(at);
        let next = self.next.load(Ordering::Relaxed);
        now >= next
            && self
                .next
                .compare_exchange(
                    next,
                    now.saturating_add(millis(self.period)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}
