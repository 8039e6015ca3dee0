//! A store in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};

use avatar_proto::{AvatarHash, Identity};
use bytes::Bytes;

use crate::{ChangeCounters, Store, StoreError, StoredEntry, StoredImage};

/// Avatars in a map, gone when dropped. Cheap reads; every operation is atomic.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    /// Bumped for each hash a write touches, while the write lock is still held.
    changes: ChangeCounters,
}

#[derive(Debug, Default)]
struct State {
    by_hash: HashMap<AvatarHash, String>,
    by_identity: BTreeMap<String, StoredImage>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    async fn get(&self, hash: &AvatarHash) -> Result<Option<StoredImage>, StoreError> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state
            .by_hash
            .get(hash)
            .and_then(|identity| state.by_identity.get(identity))
            .cloned())
    }

    async fn put(&self, identity: &Identity, bytes: Bytes) -> Result<(), StoreError> {
        self.put_shared(std::slice::from_ref(identity), bytes).await
    }

    /// One buffer (and one digest) for every identity, all stored under one lock.
    async fn put_shared(&self, identities: &[Identity], bytes: Bytes) -> Result<(), StoreError> {
        let image = StoredImage::new(bytes);
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for identity in identities {
            for hash in identity.published_hashes() {
                state.by_hash.insert(hash, identity.as_str().to_owned());
                self.changes.changed(&hash);
            }
            state
                .by_identity
                .insert(identity.as_str().to_owned(), image.clone());
        }
        Ok(())
    }

    async fn contains(&self, hash: &AvatarHash) -> Result<bool, StoreError> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state
            .by_hash
            .get(hash)
            .is_some_and(|identity| state.by_identity.contains_key(identity)))
    }

    async fn remove(&self, identity: &Identity) -> Result<bool, StoreError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for hash in identity.published_hashes() {
            state.by_hash.remove(&hash);
            self.changes.changed(&hash);
        }
        let removed = state.by_identity.remove(identity.as_str()).is_some();
        Ok(removed)
    }

    async fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state
            .by_identity
            .iter()
            .map(|(identity, image)| StoredEntry {
                identity: identity.clone(),
                bytes: image.bytes.len() as u64,
            })
            .collect())
    }

    fn generation(&self, hash: &AvatarHash) -> Option<u64> {
        Some(self.changes.generation(hash))
    }
}
