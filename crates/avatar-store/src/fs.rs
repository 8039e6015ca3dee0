//! The filesystem store, the embedded default.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use avatar_proto::{AvatarHash, HashAlgorithm, Identity, hex};
use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt as _};
use tokio::sync::mpsc;

use crate::{Store, StoreError, StoredEntry, StoredImage};

/// The most a store's folders and files give away: its group may read them (a backup user),
/// no one else anything, whatever the process's umask (a stricter one still applies). They
/// hold email addresses: `runuser -u avatars -- avatars import` from a root shell, whose
/// umask is 022, made them readable by every user of the machine.
#[cfg(unix)]
const DIR_MODE: u32 = 0o750;
#[cfg(unix)]
const FILE_MODE: u32 = 0o640;

/// `fs::create_dir_all`, each folder made with [`DIR_MODE`].
fn create_private_dirs(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)
}

/// `File::create` with [`FILE_MODE`].
fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// What is at a store's path before it is opened.
enum Found {
    /// Nothing: a store can be made there.
    Nothing,
    /// An empty directory: likewise.
    EmptyDirectory,
    /// A directory with a `VERSION` file: a store (of some version).
    Store,
    /// A file, or a directory holding other things: not to be touched (why, for the error).
    SomethingElse(&'static str),
}

/// Looks at `root` without changing anything.
fn what_is_at(root: &Path) -> Result<Found, StoreError> {
    let metadata = match fs::metadata(root) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(err) => return Err(StoreError::io("look at", root)(err)),
    };
    if !metadata.is_dir() {
        return Ok(Found::SomethingElse("it is a file, not a directory"));
    }
    if root.join("VERSION").exists() {
        return Ok(Found::Store);
    }
    let mut entries = fs::read_dir(root).map_err(StoreError::io("list", root))?;
    Ok(if entries.next().is_none() {
        Found::EmptyDirectory
    } else {
        Found::SomethingElse("it is not empty and has no VERSION file")
    })
}

/// What the `VERSION` file of a store of this layout says.
const LAYOUT_VERSION: &str = "avatars-store 1";
/// Stored files larger than this are treated as damaged rather than read into memory.
const DEFAULT_MAX_FILE_BYTES: u64 = 16 << 20;
/// Temporary files older than this are left-overs of a crash and are removed on open.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);
/// How often [`Store::generation`] looks at the change marker for other processes' writes.
const DEFAULT_EXTERNAL_WRITES_CHECK: Duration = Duration::from_secs(1);
/// How many entries [`Store::entries`] reads ahead of its consumer.
const LIST_READ_AHEAD: usize = 256;
/// The change marker: rewritten with a fresh token after every put and remove.
const MARKER: &str = "changed";

/// Avatars in a directory. Every write is atomic: the bytes go to a temporary file in `tmp/`,
/// which is flushed to disk (`fsync`) and then renamed into place, and the directory is synced,
/// so a crash or a concurrent reader sees the old file or the new one, never a torn one.
///
/// Layout (version 1, recorded in `VERSION`):
///
/// ```text
/// ROOT/
///   VERSION                     "avatars-store 1"
///   identities/ID/image         the avatar file as put (PNG, JPEG, GIF or WebP); one
///                               file hard-linked under every identity of a shared put
///   identities/ID/identity      the normalised identity (UTF-8, one line)
///   hashes/md5/HEX32            "ID": which identity this MD5 belongs to
///   hashes/sha256/HEX64         "ID": likewise for SHA-256 (four per OpenID)
///   tmp/                        files being written, renamed into place when complete
///   changed                     a fresh random token after every put and remove, so other
///                               processes serving this directory notice the change
/// ```
///
/// `ID` is the lowercase hex SHA-256 of the normalised identity. Every path is built from a
/// parsed hash or such an `ID`, never from request text, so nothing can name a file outside the
/// store. Cloning is cheap; clones share the directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    max_file_bytes: u64,
    changes: Arc<Changes>,
}

/// What the clones of one store know about writes to its directory, for [`Store::generation`].
#[derive(Debug)]
struct Changes {
    generation: AtomicU64,
    /// A digest of the marker file's contents when last read (0: no marker).
    seen_marker: AtomicU64,
    /// When the marker was last read, in milliseconds after `opened`.
    checked_at_ms: AtomicU64,
    opened: Instant,
    check_every_ms: AtomicU64,
}

impl FsStore {
    /// Opens the store at `root`, creating it (the directory and its layout) when `root` does
    /// not exist or is an empty directory. Temporary files left by a crash more than an hour
    /// ago are removed.
    ///
    /// Nothing is written into a directory that holds anything but a store: pointing a
    /// command at the wrong folder is refused, not turned into a store.
    ///
    /// # Errors
    /// [`StoreError::NotAStore`] if `root` is a non-empty directory with no `VERSION` file (or
    /// not a directory); [`StoreError::WrongVersion`] if it holds a store of another layout;
    /// [`StoreError::Io`] if the directories cannot be created.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref().to_path_buf();
        if let Found::SomethingElse(why) = what_is_at(&root)? {
            return Err(StoreError::NotAStore { path: root, why });
        }
        for dir in ["identities", "hashes/md5", "hashes/sha256", "tmp"] {
            let path = root.join(dir);
            create_private_dirs(&path).map_err(StoreError::io("create directory", path))?;
        }
        let store = Self::at(root);
        store.check_version(true)?;
        store.remove_stale_temporaries();
        Ok(store)
    }

    /// Opens the store at `root` for reading and for changes to what it holds, without
    /// creating anything: what `avatars list` and `avatars remove` use.
    ///
    /// # Errors
    /// [`StoreError::NoStore`] if `root` does not exist or is an empty directory;
    /// [`StoreError::NotAStore`] and [`StoreError::WrongVersion`] as for [`FsStore::open`].
    pub fn open_existing(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref().to_path_buf();
        match what_is_at(&root)? {
            Found::Store => {}
            Found::Nothing | Found::EmptyDirectory => {
                return Err(StoreError::NoStore { path: root });
            }
            Found::SomethingElse(why) => return Err(StoreError::NotAStore { path: root, why }),
        }
        let store = Self::at(root);
        store.check_version(false)?;
        Ok(store)
    }

    fn at(root: PathBuf) -> Self {
        let seen_marker = read_marker(&root);
        Self {
            root,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            changes: Arc::new(Changes {
                generation: AtomicU64::new(0),
                seen_marker: AtomicU64::new(seen_marker),
                checked_at_ms: AtomicU64::new(0),
                opened: Instant::now(),
                check_every_ms: AtomicU64::new(millis(DEFAULT_EXTERNAL_WRITES_CHECK)),
            }),
        }
    }

    /// Treats stored files larger than `bytes` as damaged (default 16 MiB), so a file dropped
    /// into the directory by hand cannot make a request read gigabytes.
    #[must_use]
    pub const fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// How soon writes by *other processes* (another `FsStore` on the same directory, such as
    /// `avatars import` while `avatars serve` runs) show in [`Store::generation`], and so how
    /// long a server may keep answering from its caches after such a write (default one
    /// second). The change marker is read at most this often; [`Duration::ZERO`] reads it on
    /// every call. Writes through this store, or its clones, show at once.
    #[must_use]
    pub fn external_writes_check(self, every: Duration) -> Self {
        self.changes
            .check_every_ms
            .store(millis(every), Ordering::Release);
        self
    }

    /// The store's directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks `VERSION`; writes it when it is missing and `create` is set (a new store).
    fn check_version(&self, create: bool) -> Result<(), StoreError> {
        let path = self.root.join("VERSION");
        match fs::read_to_string(&path) {
            Ok(found) if found.trim() == LAYOUT_VERSION => Ok(()),
            Ok(found) => Err(StoreError::WrongVersion {
                path: self.root.clone(),
                found: found.trim().chars().take(80).collect(),
                expected: LAYOUT_VERSION,
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound && create => {
                self.write_atomic(&path, format!("{LAYOUT_VERSION}\n").as_bytes())
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(StoreError::NoStore {
                path: self.root.clone(),
            }),
            Err(err) => Err(StoreError::io("read", path)(err)),
        }
    }

    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .ok()
                .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                .is_some_and(|age| age > STALE_TEMPORARY);
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// A miss is only a miss while the store is there: with its directory deleted, or its disk
    /// unmounted under it, every lookup would find nothing and every visitor get a default,
    /// with nothing failing. Its `VERSION` file, made when it was opened, says it still is
    /// (one `stat` per miss; hits need none).
    fn still_here(&self) -> Result<(), StoreError> {
        let version = self.root.join("VERSION");
        match fs::metadata(&version) {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::Unavailable(format!(
                    "the store at {} is gone: its VERSION file is missing (the directory was \
                     deleted, or the disk holding it unmounted)",
                    self.root.display()
                )))
            }
            Err(err) => Err(StoreError::io("look at", version)(err)),
        }
    }

    fn hash_path(&self, hash: &AvatarHash) -> PathBuf {
        let algorithm = match hash.algorithm() {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha256 => "sha256",
        };
        self.root
            .join("hashes")
            .join(algorithm)
            .join(hash.to_string())
    }

    fn identity_dir(&self, id: &str) -> PathBuf {
        self.root.join("identities").join(id)
    }

    /// A fresh name in `tmp/`, unique across processes and threads.
    fn temporary_path(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!(
            "{}-{}-{nanos}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        self.root.join("tmp").join(name)
    }

    /// Writes `bytes` to `destination` through a synced temporary file and a rename.
    fn write_atomic(&self, destination: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let temporary = self.temporary_path();
        let written = (|| {
            let mut file =
                create_private_file(&temporary).map_err(StoreError::io("create", &temporary))?;
            file.write_all(bytes)
                .map_err(StoreError::io("write", &temporary))?;
            file.sync_all()
                .map_err(StoreError::io("sync", &temporary))?;
            fs::rename(&temporary, destination)
                .map_err(StoreError::io("rename into place", destination))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written?;
        if let Some(parent) = destination.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Runs a write, then tells this process (the generation) and others (the marker) that the
    /// directory changed, whether or not the write succeeded: a failed write may have done part
    /// of its work. A marker that cannot be written (a full disk) leaves other processes to
    /// notice later; the write's own result is what the caller hears.
    fn changing<T>(
        &self,
        write: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = write(self);
        let token = HashAlgorithm::Sha256
            .digest(
                format!(
                    "{}-{:?}-{:?}",
                    std::process::id(),
                    SystemTime::now(),
                    Instant::now()
                )
                .as_bytes(),
            )
            .to_string();
        // This process's own poll will see the new marker too and bump once more: harmless, and
        // simpler than remembering our token (which another process may overwrite at once).
        let _ = self.write_atomic(&self.root.join(MARKER), token.as_bytes());
        self.changes.generation.fetch_add(1, Ordering::AcqRel);
        result
    }

    fn get_blocking(&self, hash: &AvatarHash) -> Result<Option<StoredImage>, StoreError> {
        let pointer = self.hash_path(hash);
        let Some(id) = read_if_exists(&pointer, 128)? else {
            return self.still_here().map(|()| None);
        };
        let id = parse_id(&id).ok_or_else(|| StoreError::Damaged {
            path: pointer.clone(),
            reason: "expected 64 hex digits naming an identity",
        })?;
        let image = self.identity_dir(&id).join("image");
        // A concurrent remove can take the image away between the two reads: that is a miss.
        let Some(bytes) = read_if_exists(&image, self.max_file_bytes)? else {
            return Ok(None);
        };
        Ok(Some(StoredImage::new(Bytes::from(bytes))))
    }

    /// Writes the image once, under the first identity, and hard-links that file into the
    /// others' directories: one copy on disk however many addresses share it. Replacing one
    /// identity's avatar later renames a new file into its place and leaves the others' alone.
    fn put_blocking(&self, identities: &[Identity], bytes: &[u8]) -> Result<(), StoreError> {
        let mut first_image: Option<PathBuf> = None;
        for identity in identities {
            let id = identity_id(identity);
            let dir = self.identity_dir(&id);
            create_private_dirs(&dir).map_err(StoreError::io("create directory", &dir))?;
            self.write_atomic(&dir.join("identity"), format!("{identity}\n").as_bytes())?;
            let image = dir.join("image");
            match &first_image {
                // A filesystem without hard links gets a copy instead.
                Some(first) if self.link_atomic(first, &image).is_ok() => {}
                _ => self.write_atomic(&image, bytes)?,
            }
            first_image.get_or_insert(image);
            for hash in identity.published_hashes() {
                self.write_atomic(&self.hash_path(&hash), format!("{id}\n").as_bytes())?;
            }
        }
        Ok(())
    }

    /// Makes `destination` another name of the file at `source`: a hard link made in `tmp/`
    /// and renamed into place, so a reader sees the old file or the new one.
    fn link_atomic(&self, source: &Path, destination: &Path) -> Result<(), StoreError> {
        let temporary = self.temporary_path();
        fs::hard_link(source, &temporary).map_err(StoreError::io("link", &temporary))?;
        if let Err(err) = fs::rename(&temporary, destination) {
            let _ = fs::remove_file(&temporary);
            return Err(StoreError::io("rename into place", destination)(err));
        }
        if let Some(parent) = destination.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    fn contains_blocking(&self, hash: &AvatarHash) -> Result<bool, StoreError> {
        let Some(id) = read_if_exists(&self.hash_path(hash), 128)? else {
            return self.still_here().map(|()| false);
        };
        Ok(parse_id(&id).is_some_and(|id| self.identity_dir(&id).join("image").is_file()))
    }

    fn remove_blocking(&self, identity: &Identity) -> Result<bool, StoreError> {
        // Pointers first, so no reader finds an identity whose image is being removed.
        for hash in identity.published_hashes() {
            let pointer = self.hash_path(&hash);
            match fs::remove_file(&pointer) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(StoreError::io("remove", pointer)(err)),
            }
        }
        let dir = self.identity_dir(&identity_id(identity));
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(StoreError::io("remove", dir)(err)),
        }
    }

    fn list_blocking(&self) -> Result<Vec<StoredEntry>, StoreError> {
        let mut entries = self.entries_blocking()?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by(|a, b| a.identity.cmp(&b.identity));
        Ok(entries)
    }

    /// The stored avatars in directory order, read as the iterator is advanced. An identity
    /// removed while listing is skipped.
    fn entries_blocking(
        &self,
    ) -> Result<impl Iterator<Item = Result<StoredEntry, StoreError>>, StoreError> {
        let dir = self.root.join("identities");
        let listing = fs::read_dir(&dir).map_err(StoreError::io("list", &dir))?;
        Ok(listing.filter_map(move |entry| {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(err) => return Some(Err(StoreError::io("list", &dir)(err))),
            };
            let identity = match read_if_exists(&path.join("identity"), 4096) {
                Ok(identity) => identity?,
                Err(err) => return Some(Err(err)),
            };
            let meta = fs::metadata(path.join("image")).ok()?;
            Some(Ok(StoredEntry {
                identity: String::from_utf8_lossy(&identity).trim().to_owned(),
                bytes: meta.len(),
            }))
        }))
    }

    /// Sends [`Self::entries_blocking`] to `sender` until it is done, fails, or nobody listens.
    fn send_entries(&self, sender: &mpsc::Sender<Result<StoredEntry, StoreError>>) {
        let entries = match self.entries_blocking() {
            Ok(entries) => entries,
            Err(err) => {
                let _ = sender.blocking_send(Err(err));
                return;
            }
        };
        for entry in entries {
            let failed = entry.is_err();
            if sender.blocking_send(entry).is_err() || failed {
                return;
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(store))
            .await
            .map_err(|err| StoreError::Task(err.to_string()))?
    }
}

impl Store for FsStore {
    async fn get(&self, hash: &AvatarHash) -> Result<Option<StoredImage>, StoreError> {
        let hash = *hash;
        self.blocking(move |store| store.get_blocking(&hash)).await
    }

    async fn put(&self, identity: &Identity, bytes: Bytes) -> Result<(), StoreError> {
        self.put_shared(std::slice::from_ref(identity), bytes).await
    }

    async fn put_shared(&self, identities: &[Identity], bytes: Bytes) -> Result<(), StoreError> {
        let identities = identities.to_vec();
        self.blocking(move |store| store.changing(|store| store.put_blocking(&identities, &bytes)))
            .await
    }

    async fn contains(&self, hash: &AvatarHash) -> Result<bool, StoreError> {
        let hash = *hash;
        self.blocking(move |store| store.contains_blocking(&hash))
            .await
    }

    async fn remove(&self, identity: &Identity) -> Result<bool, StoreError> {
        let identity = identity.clone();
        self.blocking(move |store| store.changing(|store| store.remove_blocking(&identity)))
            .await
    }

    async fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        self.blocking(|store| store.list_blocking()).await
    }

    /// In directory order, from a blocking thread that reads 256 entries ahead
    /// of the consumer at most, and stops when the stream is dropped.
    fn entries(&self) -> impl Stream<Item = Result<StoredEntry, StoreError>> + Send {
        let store = self.clone();
        stream::once(async move {
            let (sender, receiver) = mpsc::channel(LIST_READ_AHEAD);
            tokio::task::spawn_blocking(move || store.send_entries(&sender));
            stream::unfold(receiver, async |mut receiver| {
                let entry = receiver.recv().await?;
                Some((entry, receiver))
            })
        })
        .flatten()
    }

    /// The same for every hash: a write changes it for all (other processes' writes are seen
    /// only as "something changed", through the marker).
    fn generation(&self, _hash: &AvatarHash) -> Option<u64> {
        let changes = &*self.changes;
        let now = millis(changes.opened.elapsed());
        let checked = changes.checked_at_ms.load(Ordering::Acquire);
        // One caller at a time reads the marker, at most once per interval: a small read from
        // the page cache, once a second by default, not once per request.
        if now.saturating_sub(checked) >= changes.check_every_ms.load(Ordering::Relaxed)
            && changes
                .checked_at_ms
                .compare_exchange(checked, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let marker = read_marker(&self.root);
            if changes.seen_marker.swap(marker, Ordering::AcqRel) != marker {
                changes.generation.fetch_add(1, Ordering::AcqRel);
            }
        }
        Some(changes.generation.load(Ordering::Acquire))
    }
}

/// The directory name of an identity: the hex SHA-256 of its normalised text.
fn identity_id(identity: &Identity) -> String {
    HashAlgorithm::Sha256
        .digest(identity.as_str().as_bytes())
        .to_string()
}

fn parse_id(text: &[u8]) -> Option<String> {
    let trimmed = text.strip_suffix(b"\n").unwrap_or(text);
    hex::decode_exact::<32>(trimmed).map(|bytes| hex::encode_lower(&bytes))
}

/// Reads a whole file of at most `limit` bytes; `None` if it does not exist.
fn read_if_exists(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(StoreError::io("read", path)(err)),
    };
    if !meta.is_file() {
        return Err(StoreError::Damaged {
            path: path.to_owned(),
            reason: "expected a regular file",
        });
    }
    if meta.len() > limit {
        return Err(StoreError::Damaged {
            path: path.to_owned(),
            reason: "larger than the store's file size limit",
        });
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(StoreError::io("read", path)(err)),
    }
}

/// A digest of the change marker's contents (0 when there is none or it cannot be read).
fn read_marker(root: &Path) -> u64 {
    read_if_exists(&root.join(MARKER), 256)
        .ok()
        .flatten()
        .map_or(0, |bytes| marker_digest(&bytes))
}

/// FNV-1a: only equality matters, and the tokens are random.
fn marker_digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    }) | 1
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(StoreError::io("sync directory", dir))
}
