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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use avatar_proto::hex;
use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use sha2::{Digest as _, Sha256};

use crate::cache::RenderKey;
use crate::cache_disk::CacheDisk;
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
    /// Not all in the page cache (only Linux says so).
    #[cfg(target_os = "linux")]
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
    /// Their disk's room, and the writes that failed.
    disk: CacheDisk,
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
            disk: CacheDisk::new(
                dir,
                "rendition files",
                "renditions are still answered, and made again when asked after the memory cache lets them go",
            ),
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
            // Not all in the page cache, or no way to tell.
            Err(_) => return Err(FileRead::WouldWait),
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
        self.disk.check_room()?;
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
            return Err(self.disk.failed(err));
        }
        self.index_file(fingerprint, image.len() as u64 + CHECK_BYTES as u64);
        Ok(())
    }

    /// Files that could not be written since [`open`](Self::open) (a full or read-only disk,
    /// say): each rendition was still answered, and is made again when asked once the memory
    /// cache has let it go.
    #[must_use]
    pub fn write_failures(&self) -> u64 {
        self.disk.write_failures()
    }

    /// What the system said when the latest of the [`write_failures`](Self::write_failures)
    /// happened (`No space left on device (os error 28)`, say); `None` before any.
    #[must_use]
    pub fn latest_write_error(&self) -> Option<String> {
        self.disk.latest_write_error()
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
