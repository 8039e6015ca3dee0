//! Where avatars live: the [`Store`] trait and its backends.
//!
//! - [`MemoryStore`]: for tests and for applications that keep avatars elsewhere;
//! - [`FsStore`]: the embedded default, a directory with atomic writes (see its docs for the
//!   layout).
//!
//! A store files an image under its identity and answers for every hash that identity publishes
//! (MD5 and SHA-256 of an email; the four SHA-256 variants of an OpenID URL).
//!
//! ```
//! use avatar_proto::{HashAlgorithm, Identity};
//! use avatar_store::{FsStore, Store};
//! use bytes::Bytes;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let store = FsStore::open(dir.path())?;
//! let george = Identity::parse("George@example.com")?;
//! store.put(&george, Bytes::from_static(b"\x89PNG...")).await?;
//!
//! let found = store.get(&george.hash(HashAlgorithm::Md5)).await?.expect("stored");
//! assert_eq!(&found.bytes[..], b"\x89PNG...");
//! assert!(store.remove(&george).await?);
//! assert!(store.get(&george.hash(HashAlgorithm::Sha256)).await?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod changes;
mod error;
mod fs;
mod memory;

use std::future::Future;
use std::sync::Arc;

use avatar_proto::{AvatarHash, Identity};
use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};

pub use changes::ChangeCounters;
pub use error::StoreError;
pub use fs::FsStore;
pub use memory::MemoryStore;

/// A stored avatar, as found by a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The image file as it was stored.
    pub bytes: Bytes,
    /// SHA-256 of `bytes`: changes whenever the avatar does (render caches key on it).
    pub content: [u8; 32],
}

impl StoredImage {
    /// Wraps `bytes`, computing their SHA-256.
    #[must_use]
    pub fn new(bytes: Bytes) -> Self {
        let content = Sha256::digest(&bytes).into();
        Self { bytes, content }
    }
}

/// One stored avatar, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The normalised identity.
    pub identity: String,
    /// Size of the stored file in bytes.
    pub bytes: u64,
}

/// Somewhere avatars are kept. Implementations must be safe to share between tasks and must
/// never let a reader see a partly written image: a reader gets the old avatar or the new one,
/// whole.
pub trait Store: Send + Sync + 'static {
    /// The avatar published under `hash`, if any.
    fn get(
        &self,
        hash: &AvatarHash,
    ) -> impl Future<Output = Result<Option<StoredImage>, StoreError>> + Send;

    /// Stores (or replaces) the avatar of `identity`, answering for all its published hashes.
    /// The caller validates the image first (see `avatar_image::validate`).
    fn put(
        &self,
        identity: &Identity,
        bytes: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores (or replaces) one avatar for several identities at once: the verified addresses
    /// of one person. Backends keep the image once rather than once per identity
    /// ([`FsStore`] hard-links one file, [`MemoryStore`] shares one buffer); the default
    /// stores it under each identity in turn.
    ///
    /// Identities are written in order; if one fails, those before it keep the new avatar.
    fn put_shared(
        &self,
        identities: &[Identity],
        bytes: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            for identity in identities {
                self.put(identity, bytes.clone()).await?;
            }
            Ok(())
        }
    }

    /// Whether an avatar is published under `hash`, without reading the image: what an
    /// application asks before choosing between its own avatar URL and discovery. The default
    /// reads the image.
    fn contains(&self, hash: &AvatarHash) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move { Ok(self.get(hash).await?.is_some()) }
    }

    /// Removes the avatar of `identity`; `Ok(false)` if there was none.
    fn remove(&self, identity: &Identity) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every stored avatar, sorted by identity, collected: for small stores and tests. Going
    /// through a large store is [`entries`](Store::entries).
    fn list(&self) -> impl Future<Output = Result<Vec<StoredEntry>, StoreError>> + Send;

    /// Every stored avatar, one at a time, in the backend's own order: identity order for
    /// [`MemoryStore`] and PostgreSQL, directory order for [`FsStore`]. Backends read ahead a
    /// bounded number of entries, so going through a million identities takes the memory of a
    /// few hundred (what `avatars list` and `avatars migrate` use). An error ends the stream.
    ///
    /// The default collects [`list`](Store::list) first.
    fn entries(&self) -> impl Stream<Item = Result<StoredEntry, StoreError>> + Send {
        stream::once(self.list()).flat_map(|listed| {
            stream::iter(match listed {
                Ok(entries) => entries.into_iter().map(Ok).collect(),
                Err(err) => vec![Err(err)],
            })
        })
    }

    /// A number that changes whenever what `hash` finds may have changed (after a
    /// [`put`](Store::put) or [`remove`](Store::remove) of an identity publishing it, or of
    /// anything, as the store can tell), so a cache in front of the store knows when what it
    /// learned about `hash` may be out of date. It is read on every request, so it must be
    /// cheap (no I/O on most calls).
    ///
    /// A cache must take the generation *before* asking the store and keep an answer only
    /// while the generation is unchanged: then an answer read just before a change is never
    /// kept past it.
    ///
    /// `None` (the default) means the store cannot tell, and nothing is cached in front of it.
    /// [`MemoryStore`] tracks each hash ([`ChangeCounters`]), so a write leaves what a cache
    /// knows about other identities valid; [`FsStore`] changes every hash's generation on a
    /// write, and also notices writes by other processes (such as `avatars import`) within
    /// [`FsStore::external_writes_check`].
    fn generation(&self, hash: &AvatarHash) -> Option<u64> {
        let _ = hash;
        None
    }
}

impl<S: Store> Store for Arc<S> {
    fn get(
        &self,
        hash: &AvatarHash,
    ) -> impl Future<Output = Result<Option<StoredImage>, StoreError>> + Send {
        (**self).get(hash)
    }

    fn put(
        &self,
        identity: &Identity,
        bytes: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(identity, bytes)
    }

    fn put_shared(
        &self,
        identities: &[Identity],
        bytes: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put_shared(identities, bytes)
    }

    fn contains(&self, hash: &AvatarHash) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).contains(hash)
    }

    fn remove(&self, identity: &Identity) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).remove(identity)
    }

    fn list(&self) -> impl Future<Output = Result<Vec<StoredEntry>, StoreError>> + Send {
        (**self).list()
    }

    fn entries(&self) -> impl Stream<Item = Result<StoredEntry, StoreError>> + Send {
        (**self).entries()
    }

    fn generation(&self, hash: &AvatarHash) -> Option<u64> {
        (**self).generation(hash)
    }
}
