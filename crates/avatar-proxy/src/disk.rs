//! The optional on-disk cache of fetched originals, so a restarted proxy does not refetch every
//! picture: one file per identity, named by the SHA-256 of the identity (no address on disk),
//! holding the expiry (8 bytes, seconds since the Unix epoch, big-endian) and the upstream's
//! file. Written to a temporary file and renamed, so a reader never sees half a file; bounded in
//! bytes, the least recently written files going first, and never into the room its disk
//! leaves to the rest of the machine ([`CacheDisk`]).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use avatar_image::cache_disk::CacheDisk;
use avatar_proto::{HashAlgorithm, Identity};
use bytes::Bytes;

/// Original files kept on disk, at most `max_bytes` of them.
#[derive(Debug)]
pub(crate) struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes held, as counted at open and kept since.
    used: Mutex<u64>,
    /// Its disk's room, and the writes that failed (logged at most once a minute).
    disk: CacheDisk,
}

impl DiskCache {
    /// Opens (creating) `dir`.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let used = files(dir).iter().map(|(_, size, _)| size).sum();
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            used: Mutex::new(used),
            disk: CacheDisk::new(
                dir,
                "proxied originals on disk",
                "they are served from memory, and fetched again after a restart",
            ),
        })
    }

    fn path(&self, identity: &Identity) -> PathBuf {
        self.dir
            .join(format!("{}.original", identity.hash(HashAlgorithm::Sha256)))
    }

    /// The stored original and when it expires, if there is one.
    pub(crate) fn load(&self, identity: &Identity) -> Option<(Bytes, SystemTime)> {
        let bytes = fs::read(self.path(identity)).ok()?;
        let (expiry, body) = bytes.split_at_checked(8)?;
        let seconds = u64::from_be_bytes(expiry.try_into().ok()?);
        Some((
            Bytes::copy_from_slice(body),
            UNIX_EPOCH + Duration::from_secs(seconds),
        ))
    }

    /// Keeps `body` for `identity` until `expires`, evicting the oldest files past the budget.
    /// Failures are counted and logged (at most once a minute): the cache is an optimisation,
    /// never a reason to fail a request.
    pub(crate) fn store(&self, identity: &Identity, body: &[u8], expires: SystemTime) {
        if self.disk.check_room().is_err() {
            return;
        }
        let path = self.path(identity);
        let seconds = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let temporary = path.with_extension("tmp");
        let written = fs::File::create(&temporary).and_then(|mut file| {
            file.write_all(&seconds.to_be_bytes())?;
            file.write_all(body)?;
            file.sync_data()
        });
        let previous = fs::metadata(&path).map_or(0, |meta| meta.len());
        if let Err(err) = written.and_then(|()| fs::rename(&temporary, &path)) {
            let _ = fs::remove_file(&temporary);
            self.disk.failed(err);
            return;
        }
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = (*used + 8 + body.len() as u64).saturating_sub(previous);
        if *used > self.max_bytes {
            *used = evict(&self.dir, self.max_bytes * 9 / 10);
        }
    }
}

/// Every original file: path, size, modification time.
fn files(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            entry
                .path()
                .extension()
                .is_some_and(|ext| ext == "original")
        })
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            Some((
                entry.path(),
                meta.len(),
                meta.modified().unwrap_or(UNIX_EPOCH),
            ))
        })
        .collect()
}

/// Removes the oldest files until at most `target` bytes are left; the bytes left.
fn evict(dir: &Path, target: u64) -> u64 {
    let mut all = files(dir);
    all.sort_by_key(|(_, _, modified)| *modified);
    let mut used: u64 = all.iter().map(|(_, size, _)| size).sum();
    for (path, size, _) in all {
        if used <= target {
            break;
        }
        if fs::remove_file(&path).is_ok() {
            used -= size;
        }
    }
    used
}
