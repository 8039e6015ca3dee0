//! Renditions kept as files past the memory budget: the tier between the [`RenderCache`] and a
//! render, as nginx's files are for a static site.
//!
//! Under a long tail most renditions are asked for again long after the memory cache has let
//! them go, and making one again costs a decode, a resize and an encode (about half a
//! millisecond of CPU for a small photo), where reading it back from the page cache costs a few
//! microseconds. The scale bench (`cargo xtask bench --only scale`) measures what this buys.
//!
//! One file per rendition of a stored avatar, named by its [`RenderKey::fingerprint`] (which
//! covers the picture's SHA-256, the size, the format and [`RENDERER_VERSION`]), so a file is
//! never stale: a replaced avatar, or a new renderer, simply asks for other names. A stored
//! picture's rung ([`crate::rung`], what its small sizes are rendered from) is one more file,
//! named the same way and under the same budget. Each file is the encoded image followed by
//! the first [`CHECK_BYTES`] of its SHA-256, checked on every read: a file torn by a crash
//! (they are not synced, being copies) is dropped, never served.
//! Files are written to a temporary name beside them and renamed, so a reader never sees half
//! of one.
//!
//! The budget counts the bytes the files take on disk (whole 4 KiB blocks); past it, files
//! are deleted in the order `quick_cache` evicts (recency and frequency, as the memory cache).
//! Whatever the budget, no file is written while their file system has less than 5 % of it
//! free (at most 1 GiB), which is left to the rest of the machine (the store's uploads, say),
//! as nginx's `min_free`; the files already kept are still read.
//! The directory is read in the background when it is opened, so a restarted server finds the
//! files it made before, and a file it has not indexed is looked for on disk all the same, so
//! it finds those another process wrote ([`RenderAhead`] in `avatars import`). The directory
//! is a cache: deleting it at any time loses nothing. Give each server its own; two sharing
//! one stay correct (each checks what it reads) but each counts only the files it wrote or
//! read against its budget.
//!
//! [`RenderAhead`]: crate::RenderAhead
//! [`RenderCache`]: crate::RenderCache
//! [`RENDERER_VERSION`]: crate::cache::RENDERER_VERSION

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use avatar_proto::hex;
use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use sha2::{Digest as _, Sha256};

use crate::cache::RenderKey;
use crate::render::Rendered;

/// The default budget: 2 GiB, room for about 250,000 renditions of 32 to 256 px.
pub const DEFAULT_FILES_BYTES: u64 = 2 << 30;

/// Bytes of each file's SHA-256 kept after the image to check it.
pub const CHECK_BYTES: usize = 8;

/// What a file takes on disk at least: one filesystem block.
const BLOCK: u64 = 4096;

/// A temporary file older than this is a crashed writer's, and is removed when the directory is
/// read.
const STALE_TEMPORARY: Duration = Duration::from_secs(60);

/// After a warning that files cannot be written, the next one waits this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The files leave at least this share of their file system free (one part in 20, 5 %), and
/// at most [`MIN_FREE_CAP`] on a large one, for the rest of the machine: the store's uploads
/// on the same disk, logs. nginx's caches have the same rule (`min_free`). Without it a
/// budget larger than the disk's free space (the default 2 GiB on a small server) filled the
/// disk, and the next upload failed for want of space.
const MIN_FREE_PARTS: u64 = 20;

/// The most free space the files leave to others (a 5 % share of a large disk would be more
/// than anything needs).
const MIN_FREE_CAP: u64 = 1 << 30;

/// How often the file system's free space is looked at, at most.
const FREE_SPACE_EVERY: Duration = Duration::from_secs(1);

type Fingerprint = [u8; 16];

/// Weighs an indexed file by the bytes it takes on disk.
#[derive(Debug, Clone, Copy)]
struct OnDisk;

impl Weighter<Fingerprint, u64> for OnDisk {
    fn weight(&self, _fingerprint: &Fingerprint, on_disk: &u64) -> u64 {
        *on_disk
    }
}

/// Collects what the index lets go, so the files are deleted after its lock is released.
#[derive(Debug, Clone, Copy, Default)]
struct Evicted;

impl Lifecycle<Fingerprint, u64> for Evicted {
    type RequestState = Vec<Fingerprint>;

    fn on_evict(&self, evicted: &mut Vec<Fingerprint>, fingerprint: Fingerprint, _on_disk: u64) {
        evicted.push(fingerprint);
    }
}

type Index = Cache<Fingerprint, u64, OnDisk, DefaultHashBuilder, Evicted>;

/// Files that could not be written, counted, and when to say so next. A full or read-only disk
/// fails the write of every render, and a warning each flooded the log (a server given a
/// 256 KiB file system logged 2,164 warnings for 2,201 requests, 2026-12-06; the scale bench
/// renders 2,000 a second): the first failure is logged at once, later ones in a warning at
/// most every [`WARN_EVERY`] that counts them. By hand: `tracing` has no rate limit of its
/// own, and a throttling layer (`tracing-throttle`) is the embedding application's subscriber
/// to choose, where a library's warnings must not flood whatever log it has.
#[derive(Debug)]
struct FailedWrites {
    /// Every failure so far.
    total: AtomicU64,
    /// Failures since the last warning.
    unlogged: AtomicU64,
    warnings: AtMostEvery,
    /// What the system said of the latest failure, for a command to report.
    latest: Mutex<Option<String>>,
}

impl FailedWrites {
    fn new() -> Self {
        Self {
            total: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
            warnings: AtMostEvery::new(WARN_EVERY),
            latest: Mutex::new(None),
        }
    }

    /// Counts the failure `err` at `at` (time since the files were opened): `Some(n)` when it
    /// is to be logged, `n` the failures since the last warning, this one included.
    fn record(&self, err: &io::Error, at: Duration) -> Option<u64> {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(err.to_string());
        self.total.fetch_add(1, Ordering::Relaxed);
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        self.warnings
            .due(at)
            .then(|| self.unlogged.swap(0, Ordering::Relaxed).max(1))
    }
}

/// Something done at most once a period, by whichever thread first finds it due.
#[derive(Debug)]
struct AtMostEvery {
    period: Duration,
    /// Milliseconds after the start before which it is not due again.
    next: AtomicU64,
}

impl AtMostEvery {
    const fn new(period: Duration) -> Self {
        Self {
            period,
            next: AtomicU64::new(0),
        }
    }

    /// Whether it is due `at` (time since the start); if so, the next time is a period on.
    /// Of threads asking at once, one is told it is.
    fn due(&self, at: Duration) -> bool {
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
#[cfg(target_os = "linux")]
fn free_space(dir: &Path) -> Option<(u64, u64)> {
    let stats = rustix::fs::statvfs(dir).ok()?;
    let size = stats.f_blocks.saturating_mul(stats.f_frsize);
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    Some((free, (size / MIN_FREE_PARTS).min(MIN_FREE_CAP)))
}

/// Elsewhere the free space is not looked at: the budget alone bounds the files.
#[cfg(not(target_os = "linux"))]
fn free_space(_dir: &Path) -> Option<(u64, u64)> {
    None
}

/// What [`RenditionFiles::get_if_cached`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    /// The rendition, read from its intact file.
    Found(Rendered),
    /// No file is kept for this key (or it was gone or damaged, and is forgotten now).
    Absent,
    /// The file is there but its bytes are not all in memory: reading them would wait for the
    /// disk, so ask [`RenditionFiles::get`] on a blocking thread.
    WouldWait,
}

/// Why a file's bytes were not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// Not there (or unreadable): the file is forgotten.
    Gone,
    /// Not all in the page cache.
    WouldWait,
    /// The system cannot read without waiting.
    NoWaitUnsupported,
}

/// Renditions of stored avatars kept as files in one directory, at most a budget of bytes.
///
/// [`open`](Self::open), [`get`](Self::get) and [`put`](Self::put) block on file I/O: call them
/// from a blocking thread. [`get_if_cached`](Self::get_if_cached) reads only what the page
/// cache holds.
///
/// ```
/// use avatar_image::{ImageFormat, RenderKey, Rendered, RenditionFiles};
///
/// let dir = tempfile::tempdir()?;
/// let files = RenditionFiles::open(dir.path(), 1 << 20)?;
/// let key = RenderKey::Stored { content: [7; 32], size: 80, format: ImageFormat::Png };
/// let rendered = Rendered {
///     bytes: bytes::Bytes::from_static(b"\x89PNG\r\n\x1a\n(the rest of a PNG)"),
///     format: ImageFormat::Png,
///     size: 80,
/// };
/// files.put(&key, &rendered)?;
/// assert_eq!(files.get(&key), Some(rendered));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RenditionFiles {
    dir: PathBuf,
    budget: u64,
    index: Arc<Index>,
    /// Numbers the temporary files of this process.
    writes: AtomicU64,
    /// Set once the system has said it cannot read without waiting (`RWF_NOWAIT`).
    no_page_cache_reads: AtomicBool,
    failed_writes: FailedWrites,
    room: DiskRoom,
    opened: Instant,
}

impl std::fmt::Debug for RenditionFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenditionFiles")
            .field("dir", &self.dir)
            .field("budget", &self.budget)
            .field("used", &self.used_bytes())
            .field("files", &self.len())
            .finish_non_exhaustive()
    }
}

impl RenditionFiles {
    /// Opens (creating) `dir`, holding at most `budget` bytes of files (0 keeps none). The
    /// files already there are indexed by a background thread; a file not indexed (yet) is
    /// looked for on disk all the same.
    ///
    /// # Errors
    /// When `dir` cannot be created.
    pub fn open(dir: &Path, budget: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        // Guess at 8 KiB a file for the item-count estimate; the weight is what bounds it.
        let estimated_files = usize::try_from(budget / 8192)
            .unwrap_or(usize::MAX)
            .clamp(16, 1 << 22);
        let index = Arc::new(Index::with(
            estimated_files,
            budget.max(1),
            OnDisk,
            DefaultHashBuilder::default(),
            Evicted,
        ));
        let files = Self {
            dir: dir.to_owned(),
            budget,
            index: Arc::clone(&index),
            writes: AtomicU64::new(0),
            no_page_cache_reads: AtomicBool::new(false),
            failed_writes: FailedWrites::new(),
            room: DiskRoom::new(),
            opened: Instant::now(),
        };
        let dir = dir.to_owned();
        let spawned = std::thread::Builder::new()
            .name("rendition-files".to_owned())
            .spawn(move || {
                index_existing(&dir, &index, budget);
            });
        if let Err(err) = spawned {
            // Only the files of earlier runs are missed; new ones are still kept.
            tracing::warn!(error = %err, "cannot start reading the rendition files");
        }
        Ok(files)
    }

    /// The directory the files are in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a file for `key` is indexed, without touching the disk: [`get`](Self::get) may
    /// still find it gone or damaged, and finds files not indexed (yet) too.
    #[must_use]
    pub fn contains(&self, key: &RenderKey) -> bool {
        matches!(key, RenderKey::Stored { .. }) && self.index.peek(&key.fingerprint()).is_some()
    }

    /// Whether `key`'s file is indexed or on disk (written by another process, or not indexed
    /// yet), without reading or checking it.
    pub(crate) fn has_file(&self, key: &RenderKey) -> bool {
        self.has_fingerprint(key.fingerprint())
    }

    fn has_fingerprint(&self, fingerprint: Fingerprint) -> bool {
        self.index.peek(&fingerprint).is_some() || self.path(&fingerprint).is_file()
    }

    /// The rendition for `key` if its file is kept and intact. Only renditions of stored
    /// avatars ([`RenderKey::Stored`]) are kept; a damaged file is deleted.
    #[must_use]
    pub fn get(&self, key: &RenderKey) -> Option<Rendered> {
        match self.read(key, |path| fs::read(path).map_err(|_| Unread::Gone)) {
            FileRead::Found(rendered) => Some(rendered),
            FileRead::Absent | FileRead::WouldWait => None,
        }
    }

    /// [`get`](Self::get) when the file's bytes are in the kernel's page cache, without waiting
    /// for a disk: [`FileRead::WouldWait`] when they are not (or the system cannot tell), and
    /// the caller then asks [`get`](Self::get) on a blocking thread.
    ///
    /// This lets an async server read a hot file where it answers, as nginx does, instead of
    /// handing every read to a blocking thread and waking it. The bytes are read with
    /// `preadv2(RWF_NOWAIT)` (Linux 4.14 and later), which returns only what the page cache
    /// holds and never starts disk I/O; opening the file looks its name up in a directory the
    /// files' own traffic keeps cached. Elsewhere than Linux, and on a filesystem without
    /// `RWF_NOWAIT`, this answers [`FileRead::WouldWait`].
    #[must_use]
    pub fn get_if_cached(&self, key: &RenderKey) -> FileRead {
        if self.no_page_cache_reads.load(Ordering::Relaxed) {
            return FileRead::WouldWait;
        }
        self.read(key, |path| {
            read_if_cached(path).inspect_err(|unread| {
                if *unread == Unread::NoWaitUnsupported {
                    self.no_page_cache_reads.store(true, Ordering::Relaxed);
                }
            })
        })
    }

    /// Looks for `key`'s file, reads it with `read_file` and checks it.
    fn read(
        &self,
        key: &RenderKey,
        read_file: impl FnOnce(&Path) -> Result<Vec<u8>, Unread>,
    ) -> FileRead {
        let RenderKey::Stored { size, format, .. } = *key else {
            return FileRead::Absent;
        };
        let sniffed = |image: &[u8]| avatar_proto::ImageFormat::sniff(image) == Some(format);
        match self.read_checked(key.fingerprint(), read_file, sniffed) {
            Ok(bytes) => FileRead::Found(Rendered {
                bytes,
                format,
                size,
            }),
            Err(unread) => unread,
        }
    }

    /// The image in the file named `fingerprint`, read with `read_file`, if the file is intact
    /// and `valid` takes the image; a damaged file is deleted.
    fn read_checked(
        &self,
        fingerprint: Fingerprint,
        read_file: impl FnOnce(&Path) -> Result<Vec<u8>, Unread>,
        valid: impl FnOnce(&[u8]) -> bool,
    ) -> Result<Bytes, FileRead> {
        if self.budget == 0 {
            return Err(FileRead::Absent);
        }
        // A file not indexed is looked for too: another process sharing the directory (such as
        // `avatars import --render-ahead`) may have written it, or the directory is still being
        // read. Not finding it costs one failed open, against a render's millisecond.
        let indexed = self.index.get(&fingerprint).is_some();
        let path = self.path(&fingerprint);
        let mut bytes = match read_file(&path) {
            Ok(bytes) => bytes,
            Err(Unread::Gone) => {
                // Deleted by another server sharing the directory, or by hand.
                self.index.remove(&fingerprint);
                return Err(FileRead::Absent);
            }
            Err(Unread::WouldWait | Unread::NoWaitUnsupported) => return Err(FileRead::WouldWait),
        };
        if !intact(&bytes) || !valid(&bytes[..bytes.len() - CHECK_BYTES]) {
            tracing::warn!(path = %path.display(), "a rendition file is damaged; deleting it");
            self.index.remove(&fingerprint);
            let _ = fs::remove_file(&path);
            return Err(FileRead::Absent);
        }
        if !indexed {
            self.index_file(fingerprint, bytes.len() as u64);
        }
        bytes.truncate(bytes.len() - CHECK_BYTES);
        Ok(Bytes::from(bytes))
    }

    /// The kept rung ([`crate::rung`]) of the stored picture whose SHA-256 is `content`, as
    /// encoded (JPEG or PNG), if its file is there and intact. Blocks.
    pub(crate) fn rung(&self, content: &[u8; 32]) -> Option<Bytes> {
        let read = |path: &Path| fs::read(path).map_err(|_| Unread::Gone);
        let valid = |image: &[u8]| {
            matches!(
                avatar_proto::ImageFormat::sniff(image),
                Some(avatar_proto::ImageFormat::Jpeg | avatar_proto::ImageFormat::Png)
            )
        };
        self.read_checked(crate::rung::fingerprint(content), read, valid)
            .ok()
    }

    /// Forgets and deletes the rung of `content`: one that is intact but does not decode as a
    /// rung, so the next render makes and keeps it again.
    pub(crate) fn remove_rung(&self, content: &[u8; 32]) {
        let fingerprint = crate::rung::fingerprint(content);
        self.index.remove(&fingerprint);
        let _ = fs::remove_file(self.path(&fingerprint));
    }

    /// Whether the rung of `content` is indexed or on disk, without reading it.
    pub(crate) fn has_rung(&self, content: &[u8; 32]) -> bool {
        self.has_fingerprint(crate::rung::fingerprint(content))
    }

    /// Whether [`render_from_rung`](crate::render_from_rung) would find a rung to render
    /// `content` at `size` from: a size rungs serve, and a rung indexed or on disk (not read or
    /// checked, so the render may still find it gone or damaged). Costs no more than looking a
    /// name up, so an async caller can ask before handing the render to a blocking thread.
    #[must_use]
    pub fn has_rung_for(&self, content: &[u8; 32], size: u32) -> bool {
        self.budget > 0 && crate::rung::renders_from(size) && self.has_rung(content)
    }

    /// Keeps `encoded` as the rung of the stored picture whose SHA-256 is `content`, counted
    /// against the budget as any rendition. Blocks.
    pub(crate) fn put_rung(&self, content: &[u8; 32], encoded: &Bytes) -> io::Result<()> {
        self.put_bytes(crate::rung::fingerprint(content), encoded)
    }

    /// Keeps `rendered` as the file of `key` (a no-op for drawn defaults, for a key already
    /// kept, and with a budget of 0), deleting the files the budget no longer has room for.
    ///
    /// # Errors
    /// When the file cannot be written, or the disk is short of the room left to others (see
    /// the module's documentation); nothing is indexed then. The failure is counted
    /// ([`write_failures`](Self::write_failures)) and logged here, the first at once and the
    /// rest in one warning a minute, so a caller has nothing to add: a full disk fails every
    /// write, and a warning each would flood the log.
    pub fn put(&self, key: &RenderKey, rendered: &Rendered) -> io::Result<()> {
        if !matches!(key, RenderKey::Stored { .. }) {
            return Ok(());
        }
        self.put_bytes(key.fingerprint(), &rendered.bytes)
    }

    /// Keeps `image` as the file named `fingerprint` (a no-op for one already kept, and with a
    /// budget of 0).
    fn put_bytes(&self, fingerprint: Fingerprint, image: &Bytes) -> io::Result<()> {
        if self.budget == 0 || self.index.peek(&fingerprint).is_some() {
            return Ok(());
        }
        let path = self.path(&fingerprint);
        // Beside the file, not in the top folder: a rename within one folder, and the writers
        // spread over 256 folders. With every temporary name in the top folder, the threads
        // writing a server's renditions queued on that one folder's lock and on cross-folder
        // renames, and on some runs spent more CPU in the kernel than in rendering (the scale
        // bench's workload: 6,200 requests a second and system time 48 % of the CPUs, against
        // 11,000 and 21 % with this, in back-to-back runs on 2026-12-05).
        let temporary = path.with_file_name(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.writes.fetch_add(1, Ordering::Relaxed)
        ));
        self.room
            .check(&self.dir, self.opened.elapsed())
            .map_err(|err| self.failed(err))?;
        let write =
            || write_checked(&temporary, image).and_then(|()| fs::rename(&temporary, &path));
        let written = match write() {
            // The folder is made on its first file, and again if it was deleted.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(path.parent().unwrap_or(&self.dir)).and_then(|()| write())
            }
            written => written,
        };
        if let Err(err) = written {
            let _ = fs::remove_file(&temporary);
            return Err(self.failed(err));
        }
        self.index_file(fingerprint, image.len() as u64 + CHECK_BYTES as u64);
        Ok(())
    }

    /// Counts and (at most once a minute) logs the write that failed with `err`; returns it.
    fn failed(&self, err: io::Error) -> io::Error {
        if let Some(failures) = self.failed_writes.record(&err, self.opened.elapsed()) {
            tracing::warn!(
                dir = %self.dir.display(),
                error = %err,
                failures,
                "cannot keep rendition files ({failures} failed since the last warning; at most one warning a minute): renditions are still answered, and made again when asked after the memory cache lets them go"
            );
        }
        err
    }

    /// Files that could not be written since [`open`](Self::open) (a full or read-only disk,
    /// say): each rendition was still answered, and is made again when asked once the memory
    /// cache has let it go.
    #[must_use]
    pub fn write_failures(&self) -> u64 {
        self.failed_writes.total.load(Ordering::Relaxed)
    }

    /// What the system said when the latest of the [`write_failures`](Self::write_failures)
    /// happened (`No space left on device (os error 28)`, say); `None` before any.
    #[must_use]
    pub fn latest_write_error(&self) -> Option<String> {
        self.failed_writes
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Bytes the kept files take on disk, in whole blocks.
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.index.weight()
    }

    /// Files kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no file is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The most bytes kept.
    #[must_use]
    pub const fn budget(&self) -> u64 {
        self.budget
    }

    fn index_file(&self, fingerprint: Fingerprint, length: u64) {
        insert(&self.dir, &self.index, fingerprint, length);
    }

    fn path(&self, fingerprint: &Fingerprint) -> PathBuf {
        path_in(&self.dir, fingerprint)
    }
}

/// `DIR/ab/ab...`: 256 folders, so none grows past a few thousand files.
fn path_in(dir: &Path, fingerprint: &Fingerprint) -> PathBuf {
    let name = hex::encode_lower(fingerprint);
    dir.join(&name[..2]).join(name)
}

/// Indexes a file of `length` bytes and deletes the files that no longer fit.
fn insert(dir: &Path, index: &Index, fingerprint: Fingerprint, length: u64) {
    let on_disk = length.div_ceil(BLOCK).max(1) * BLOCK;
    let mut evicted = Vec::new();
    index.insert_with_lifecycle(fingerprint, on_disk, &mut evicted);
    // A replaced entry is reported too (a file indexed twice, by a write and by the reading of
    // the directory): only what is no longer indexed goes.
    for fingerprint in evicted {
        if index.peek(&fingerprint).is_none() {
            let _ = fs::remove_file(path_in(dir, &fingerprint));
        }
    }
}

fn write_checked(path: &Path, image: &[u8]) -> io::Result<()> {
    let digest = Sha256::digest(image);
    // One write, not two: copying a few kilobytes costs less than a second system call.
    let mut contents = Vec::with_capacity(image.len() + CHECK_BYTES);
    contents.extend_from_slice(image);
    contents.extend_from_slice(&digest[..CHECK_BYTES]);
    fs::File::create(path)?.write_all(&contents)
}

/// The whole file at `path` if the page cache holds all of it.
#[cfg(target_os = "linux")]
fn read_if_cached(path: &Path) -> Result<Vec<u8>, Unread> {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};

    let file = fs::File::open(path).map_err(|_| Unread::Gone)?;
    let length = file.metadata().map_err(|_| Unread::Gone)?.len();
    let mut bytes = vec![0; usize::try_from(length).map_err(|_| Unread::Gone)?];
    let mut done = 0;
    while done < bytes.len() {
        let buffer = &mut [io::IoSliceMut::new(&mut bytes[done..])];
        match preadv2(&file, buffer, done as u64, ReadWriteFlags::NOWAIT) {
            // The file got shorter since it was measured: what was read is checked as it is.
            Ok(0) => break,
            Ok(read) => done += read,
            Err(Errno::INTR) => {}
            // Some of it is on disk only (a read then returns what is cached, and EAGAIN).
            Err(Errno::AGAIN) => return Err(Unread::WouldWait),
            Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => {
                return Err(Unread::NoWaitUnsupported);
            }
            Err(_) => return Err(Unread::Gone),
        }
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// Without `RWF_NOWAIT`, every read may wait.
#[cfg(not(target_os = "linux"))]
fn read_if_cached(_path: &Path) -> Result<Vec<u8>, Unread> {
    Err(Unread::NoWaitUnsupported)
}

/// Whether `file` ends with the first [`CHECK_BYTES`] of the SHA-256 of what comes before.
fn intact(file: &[u8]) -> bool {
    file.len() > CHECK_BYTES && {
        let (image, check) = file.split_at(file.len() - CHECK_BYTES);
        Sha256::digest(image)[..CHECK_BYTES] == *check
    }
}

/// Indexes the files a previous run left (their contents are checked when read), and removes
/// crashed writers' temporary files. With a budget of 0, deletes them all.
fn index_existing(dir: &Path, index: &Index, budget: u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    // A crashed writer's, or another server's being written now: only an old one is removed.
    let clear_if_temporary = |path: &Path, name: &OsStr| {
        let temporary = name.as_encoded_bytes().starts_with(b".tmp-");
        let stale = || {
            fs::metadata(path)
                .and_then(|meta| meta.modified())
                .ok()
                .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                .is_some_and(|age| age > STALE_TEMPORARY)
        };
        if temporary && stale() {
            let _ = fs::remove_file(path);
        }
        temporary
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        // In the top folder: left by servers from before temporary names moved beside the files.
        if clear_if_temporary(&path, &name) {
            continue;
        }
        let name = name.to_string_lossy();
        if name.len() != 2 || !path.is_dir() {
            continue;
        }
        let Ok(files) = fs::read_dir(&path) else {
            continue;
        };
        for file in files.flatten() {
            let file_name = file.file_name();
            let Some(fingerprint) = hex::decode_exact::<16>(file_name.as_encoded_bytes()) else {
                clear_if_temporary(&file.path(), &file_name);
                continue;
            };
            if budget == 0 {
                let _ = fs::remove_file(file.path());
                continue;
            }
            // Not when written by this server since it started.
            if index.peek(&fingerprint).is_none()
                && let Ok(meta) = file.metadata()
            {
                insert(dir, index, fingerprint, meta.len());
            }
        }
    }
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
