//! A render cache bounded by the bytes it holds.

use avatar_proto::{AvatarHash, DefaultKeyword};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::render::Rendered;

/// What a rendition was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RenderKey {
    /// A stored image, identified by the SHA-256 of its bytes (so a replaced avatar never hits an
    /// old rendition), at a size.
    Stored {
        /// SHA-256 of the stored file.
        content: [u8; 32],
        /// Width and height.
        size: u32,
    },
    /// A drawn default for a hash, at a size.
    Default {
        /// Which default.
        keyword: DefaultKeyword,
        /// For whom (generated defaults differ per hash).
        hash: AvatarHash,
        /// Width and height.
        size: u32,
    },
}

#[derive(Clone)]
struct ByteWeight;

impl Weighter<RenderKey, Rendered> for ByteWeight {
    fn weight(&self, _key: &RenderKey, value: &Rendered) -> u64 {
        // The key and bookkeeping cost about 100 bytes; count them so tiny images are not free.
        value.bytes.len() as u64 + 100
    }
}

/// Renditions kept in memory, least recently used evicted first once `budget` bytes are used.
///
/// Cheap to share: clone the `Arc` it lives in (the service does).
pub struct RenderCache {
    cache: Cache<RenderKey, Rendered, ByteWeight>,
    budget: u64,
}

/// The default budget: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

impl Default for RenderCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_CACHE_BYTES)
    }
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCache")
            .field("budget", &self.budget)
            .field("used", &self.used_bytes())
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl RenderCache {
    /// A cache holding at most `budget` bytes of encoded images (0 disables caching).
    #[must_use]
    pub fn with_budget(budget: u64) -> Self {
        // Guess at 8 KiB per rendition for the item-count estimate; the weight is what bounds it.
        let estimated_items = usize::try_from(budget / 8192).unwrap_or(usize::MAX).max(16);
        Self {
            cache: Cache::with_weighter(estimated_items, budget.max(1), ByteWeight),
            budget,
        }
    }

    /// The rendition for `key`, if cached.
    #[must_use]
    pub fn get(&self, key: &RenderKey) -> Option<Rendered> {
        self.cache.get(key)
    }

    /// Keeps a rendition (unless the budget is 0).
    pub fn insert(&self, key: RenderKey, rendered: Rendered) {
        if self.budget > 0 {
            self.cache.insert(key, rendered);
        }
    }

    /// Bytes currently held (as weighed).
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// Renditions currently held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// The byte budget.
    #[must_use]
    pub const fn budget(&self) -> u64 {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::format::ImageFormat;

    fn rendition(len: usize) -> Rendered {
        Rendered {
            bytes: Bytes::from(vec![0u8; len]),
            format: ImageFormat::Png,
            size: 1,
        }
    }

    #[test]
    fn stays_within_its_byte_budget() {
        let cache = RenderCache::with_budget(100_000);
        for size in 0..200 {
            cache.insert(
                RenderKey::Stored {
                    content: [7; 32],
                    size,
                },
                rendition(4_000),
            );
        }
        assert!(cache.used_bytes() <= 100_000, "{cache:?}");
        assert!(!cache.is_empty());
    }

    #[test]
    fn zero_budget_caches_nothing() {
        let cache = RenderCache::with_budget(0);
        let key = RenderKey::Stored {
            content: [1; 32],
            size: 80,
        };
        cache.insert(key.clone(), rendition(10));
        assert_eq!(cache.get(&key), None);
    }
}
