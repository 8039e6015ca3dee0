//! What the store said about each hash, remembered while the store's generation is unchanged,
//! so a request for a known hash (stored or not) touches neither the disk nor the decoder.

use avatar_proto::{AvatarHash, ImageFormat};
use quick_cache::sync::Cache;

/// What a lookup of one hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// A stored image: its content digest (the key of its renditions) and format (what a
    /// response is in unless the client asks for another).
    Stored {
        /// SHA-256 of the stored file.
        content: [u8; 32],
        /// The stored file's format.
        format: ImageFormat,
    },
    /// Nothing is stored under the hash.
    Nothing,
    /// A picture is stored that cannot be read under the limits (damaged on disk, or larger
    /// than limits lowered since it was stored): answered as a miss, as when it was first
    /// tried and logged, without reading and decoding it again at every request.
    Unusable,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    generation: u64,
    found: Found,
}

/// Remembers [`Found`] per hash, tagged with the store generation taken *before* the lookup:
/// an entry from an older generation is never used, so a put or remove is seen at once.
/// Bounded by entry count; the least recently used go first.
pub(crate) struct StoreIndex {
    entries: Option<Cache<AvatarHash, Entry>>,
}

/// How many hashes one index entry costs, in bytes of the render-cache budget: an entry is
/// about 100 bytes with its bookkeeping, and the index takes a fifth of the budget on top of
/// it (131,072 hashes for the default 64 MiB, about 13 MiB). A hash the index has let go is
/// looked up in the store again on a blocking thread: with 65,536 entries, the scale bench's
/// 100,000 avatars over renditions made ahead answered 3 % fewer requests a second
/// (2026-12-06, interleaved runs).
const BUDGET_BYTES_PER_ENTRY: u64 = 512;

impl StoreIndex {
    /// An index sized from the render cache's byte budget (0 turns it off, like the cache).
    pub(crate) fn for_budget(cache_bytes: u64) -> Self {
        let capacity = usize::try_from(cache_bytes / BUDGET_BYTES_PER_ENTRY).unwrap_or(usize::MAX);
        Self {
            entries: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// What was found for `hash`, if it was looked up in this `generation`.
    pub(crate) fn get(&self, hash: &AvatarHash, generation: u64) -> Option<Found> {
        let entry = self.entries.as_ref()?.get(hash)?;
        (entry.generation == generation).then_some(entry.found)
    }

    /// Remembers what a lookup in `generation` found.
    pub(crate) fn insert(&self, hash: AvatarHash, generation: u64, found: Found) {
        if let Some(entries) = &self.entries {
            entries.insert(hash, Entry { generation, found });
        }
    }

    /// Hashes remembered (of any generation).
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_only_in_its_own_generation() {
        let index = StoreIndex::for_budget(1 << 20);
        let hash = AvatarHash::Md5([1; 16]);
        index.insert(
            hash,
            7,
            Found::Stored {
                content: [2; 32],
                format: ImageFormat::Png,
            },
        );
        assert_eq!(
            index.get(&hash, 7),
            Some(Found::Stored {
                content: [2; 32],
                format: ImageFormat::Png,
            })
        );
        assert_eq!(index.get(&hash, 8), None);
        assert_eq!(index.get(&AvatarHash::Md5([3; 16]), 7), None);
        index.insert(hash, 8, Found::Nothing);
        assert_eq!(index.get(&hash, 8), Some(Found::Nothing));
    }

    #[test]
    fn a_zero_budget_remembers_nothing() {
        let index = StoreIndex::for_budget(0);
        let hash = AvatarHash::Md5([1; 16]);
        index.insert(hash, 1, Found::Nothing);
        assert_eq!(index.get(&hash, 1), None);
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn stays_within_its_entry_bound() {
        let index = StoreIndex::for_budget(100 * BUDGET_BYTES_PER_ENTRY);
        for n in 0..10_000u32 {
            let mut digest = [0; 16];
            digest[..4].copy_from_slice(&n.to_be_bytes());
            index.insert(AvatarHash::Md5(digest), 1, Found::Nothing);
        }
        assert!(index.len() <= 100, "{} entries", index.len());
    }
}
