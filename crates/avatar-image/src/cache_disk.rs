//! The disk a cache keeps its files on: room left there to the rest of the machine, and the
//! writes that failed, counted and logged at most once a minute. A cache of files is an
//! optimisation: a disk it cannot write must neither fail a request, nor flood the log, nor
//! take the disk's last free space from what is not a cache (the store's uploads, say).
//! [`RenditionFiles`](crate::RenditionFiles) keeps its files so, and so does `avatar-proxy`'s
//! cache of fetched originals.
//!
//! ```
//! use avatar_image::cache_disk::CacheDisk;
//!
//! let dir = tempfile::tempdir()?;
//! let disk = CacheDisk::new(dir.path(), "example files", "nothing is lost but time");
//! disk.check_room()?; // a temporary folder has room
//! let err = disk.failed(std::io::Error::other("the disk went away"));
//! assert_eq!(disk.write_failures(), 1);
//! assert_eq!(disk.latest_write_error(), Some(err.to_string()));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::throttle::{AtMostEvery, WarnThrottle};

/// After a warning that files cannot be written, the next one waits this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A cache's files leave at least this share of their file system free (one part in 20,
/// 5 %), and at most [`MIN_FREE_CAP`] on a large one, for the rest of the machine: the
/// store's uploads on the same disk, logs. nginx's caches have the same rule (`min_free`).
/// Without it a budget larger than the disk's free space (the default 2 GiB on a small
/// server) filled the disk, and the next upload failed for want of space.
#[cfg(unix)]
const MIN_FREE_PARTS: u64 = 20;

/// The most free space the files leave to others (a 5 % share of a large disk would be more
/// than anything needs).
#[cfg(unix)]
const MIN_FREE_CAP: u64 = 1 << 30;

/// How often the file system's free space is looked at, at most.
const FREE_SPACE_EVERY: Duration = Duration::from_secs(1);

/// One cache's disk: call [`check_room`](Self::check_room) before writing a file and
/// [`failed`](Self::failed) with what writing one returned as an error.
#[derive(Debug)]
pub struct CacheDisk {
    dir: PathBuf,
    /// What the files are, for the log ("rendition files").
    what: &'static str,
    /// What a failed write means to the cache's users, for the log.
    consequence: &'static str,
    room: DiskRoom,
    failures: FailedWrites,
    opened: Instant,
}

impl CacheDisk {
    /// The disk `dir` is on, holding `what` (named so in the log, with `consequence`: what a
    /// write that failed costs, "renditions are made again when asked", say).
    #[must_use]
    pub fn new(dir: &Path, what: &'static str, consequence: &'static str) -> Self {
        Self {
            dir: dir.to_owned(),
            what,
            consequence,
            room: DiskRoom::new(),
            failures: FailedWrites::new(),
            opened: Instant::now(),
        }
    }

    /// `Ok` when a file may be written: the disk has more free than it leaves to others
    /// (looked at at most once a second). Otherwise the refusal, counted and logged as a
    /// failed write ([`failed`](Self::failed)).
    ///
    /// # Errors
    /// [`io::ErrorKind::StorageFull`], saying how much is free and how much is left to others.
    pub fn check_room(&self) -> io::Result<()> {
        self.room
            .check(&self.dir, self.opened.elapsed())
            .map_err(|err| self.failed(err))
    }

    /// Counts a write that failed with `err` and logs it, the first at once and later ones in
    /// a warning at most once a minute that counts them; returns `err`.
    pub fn failed(&self, err: io::Error) -> io::Error {
        if let Some(failures) = self.failures.record(&err, self.opened.elapsed()) {
            tracing::warn!(
                dir = %self.dir.display(),
                error = %err,
                failures,
                "cannot keep {} ({failures} failed since the last warning; at most one warning a minute): {}",
                self.what,
                self.consequence
            );
        }
        err
    }

    /// Writes that failed (or were refused for want of room) since [`new`](Self::new).
    #[must_use]
    pub fn write_failures(&self) -> u64 {
        self.failures.total.load(Ordering::Relaxed)
    }

    /// What the system said of the latest of the [`write_failures`](Self::write_failures)
    /// (`No space left on device (os error 28)`, say); `None` before any.
    #[must_use]
    pub fn latest_write_error(&self) -> Option<String> {
        self.failures
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Files that could not be written, counted, and when to say so next. A full or read-only disk
/// fails the write of every render of a server keeping rendition files, and a warning each
/// flooded the log (a server given a 256 KiB file system logged 2,164 warnings for 2,201
/// requests, 2026-12-06; the scale bench renders 2,000 a second): the first failure is logged
/// at once, later ones in a warning at most every [`WARN_EVERY`] that counts them
/// ([`WarnThrottle`]).
#[derive(Debug)]
struct FailedWrites {
    /// Every failure so far.
    total: AtomicU64,
    warnings: WarnThrottle,
    /// What the system said of the latest failure, for a command to report.
    latest: Mutex<Option<String>>,
}

impl FailedWrites {
    fn new() -> Self {
        Self {
            total: AtomicU64::new(0),
            warnings: WarnThrottle::new(WARN_EVERY),
            latest: Mutex::new(None),
        }
    }

    /// Counts the failure `err` at `at` (time since the files were opened): `Some(n)` when it
    /// is to be logged, `n` the failures since the last warning, this one included.
    fn record(&self, err: &io::Error, at: Duration) -> Option<u64> {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
        self.total.fetch_add(1, Ordering::Relaxed);
        self.warnings.record(at)
    }
}

/// Whether the file system the files are on has room for more: its free space, looked at
/// at most every [`FREE_SPACE_EVERY`] (a `statvfs` call), against what is left to others.
#[derive(Debug)]
struct DiskRoom {
    looks: AtMostEvery,
    /// Free bytes at the last look (`u64::MAX` where it cannot be known).
    free: AtomicU64,
    /// What the files leave free: [`MIN_FREE_PARTS`] and [`MIN_FREE_CAP`].
    floor: AtomicU64,
}

impl DiskRoom {
    const fn new() -> Self {
        Self {
            looks: AtMostEvery::new(FREE_SPACE_EVERY),
            free: AtomicU64::new(u64::MAX),
            floor: AtomicU64::new(0),
        }
    }

    /// `Err` saying how little is free when `dir`'s file system is under its floor, as last
    /// looked at; `at` is the time since the files were opened.
    fn check(&self, dir: &Path, at: Duration) -> io::Result<()> {
        if self.looks.due(at) {
            let (free, floor) = free_space(dir).unwrap_or((u64::MAX, 0));
            self.free.store(free, Ordering::Relaxed);
            self.floor.store(floor, Ordering::Relaxed);
        }
        let (free, floor) = (
            self.free.load(Ordering::Relaxed),
            self.floor.load(Ordering::Relaxed),
        );
        if free >= floor {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::StorageFull,
            format!(
                "their disk has {} free, under the {} left free for the rest of the machine (5 % of it, at most 1 GiB)",
                kibibytes(free),
                kibibytes(floor)
            ),
        ))
    }
}

/// `bytes` for a person: KiB, or MiB from 10 MiB on.
fn kibibytes(bytes: u64) -> String {
    let kib = bytes / 1024;
    if kib < 10 * 1024 {
        format!("{kib} KiB")
    } else {
        format!("{} MiB", kib / 1024)
    }
}

/// The bytes free for an unprivileged writer on `dir`'s file system, and what the files leave
/// free there.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<(u64, u64)> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    let size = stats.f_blocks.saturating_mul(stats.f_frsize);
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    Some((free, (size / MIN_FREE_PARTS).min(MIN_FREE_CAP)))
}

/// Elsewhere (Windows) the free space is not looked at: the budget alone bounds the files.
#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_writes_are_all_counted_and_logged_at_most_once_a_minute() {
        let failed = FailedWrites::new();
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let record = |second| failed.record(&full, Duration::from_secs(second));
        assert_eq!(record(0), Some(1), "the first is logged at once");
        for second in 1..60 {
            assert_eq!(record(second), None, "at {second} s");
        }
        // The 60 failures since the first: 59 unlogged, and this one.
        assert_eq!(record(60), Some(60));
        assert_eq!(record(61), None);
        // After a quiet hour, the next failure is logged at once again.
        assert_eq!(record(3600), Some(2));
        assert_eq!(failed.total.load(Ordering::Relaxed), 63);
        let latest = failed.latest.lock().unwrap().clone();
        assert_eq!(latest, Some(full.to_string()));
    }

    #[test]
    fn free_space_is_said_in_kib_or_mib() {
        assert_eq!(kibibytes(24 << 10), "24 KiB");
        assert_eq!(kibibytes((10 << 20) - 1), "10239 KiB");
        assert_eq!(kibibytes(1 << 30), "1024 MiB");
    }
}
