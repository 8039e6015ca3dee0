//! A render cache bounded by the bytes it holds.

use avatar_proto::{AvatarHash, DefaultKeyword, ImageFormat};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sha2::{Digest as _, Sha256};

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
        /// The format it is encoded in.
        format: ImageFormat,
    },
    /// A drawn default for a hash, at a size.
    Default {
        /// Which default.
        keyword: DefaultKeyword,
        /// For whom (generated defaults differ per hash).
        hash: AvatarHash,
        /// Width and height.
        size: u32,
        /// [`Palette::id`](crate::Palette::id) of the palette `d=color` and `d=initials` are
        /// drawn from (0 for every other keyword): a themed colour must not share an `ETag`
        /// with another theme's.
        palette: u64,
        /// The format it is encoded in.
        format: ImageFormat,
    },
}

/// Bumped whenever decoding, resizing, encoding or drawing changes what bytes a key renders to,
/// so fingerprints (and the ETags built from them) never outlive the bytes they stood for.
pub const RENDERER_VERSION: u8 = 3;

impl RenderKey {
    /// A 16-byte digest of the key and [`RENDERER_VERSION`]: the same for every rendition of the
    /// same key by the same renderer (the pipeline is deterministic), so it serves as a strong
    /// validator without hashing the output.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        hasher.update([RENDERER_VERSION]);
        match self {
            Self::Stored {
                content,
                size,
                format,
            } => {
                hasher.update(b"stored");
                hasher.update(content);
                hasher.update(size.to_be_bytes());
                hasher.update(format.extension().as_bytes());
            }
            Self::Default {
                keyword,
                hash,
                size,
                palette,
                format,
            } => {
                hasher.update(b"default");
                hasher.update(keyword.name().as_bytes());
                match keyword {
                    DefaultKeyword::Robohash(set) => hasher.update(set.name().as_bytes()),
                    DefaultKeyword::Colour => hasher.update(palette.to_be_bytes()),
                    DefaultKeyword::Initials(initials) => {
                        hasher.update(palette.to_be_bytes());
                        // Length first, so no two letter sequences hash alike.
                        hasher.update([u8::try_from(initials.letters().len()).unwrap_or(u8::MAX)]);
                        for letter in initials.letters() {
                            hasher.update(u32::from(*letter).to_be_bytes());
                        }
                    }
                    _ => {}
                }
                hasher.update(hash.as_bytes());
                hasher.update(size.to_be_bytes());
                hasher.update(format.extension().as_bytes());
            }
        }
        let digest: [u8; 32] = hasher.finalize().into();
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&digest[..16]);
        fingerprint
    }
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

    /// The rendition for `key`: from the cache, or made by `render` and kept.
    ///
    /// Concurrent calls for a key that is not cached yet wait for the first one's `render`
    /// instead of each running their own, so a burst of first requests renders once. If that
    /// render fails, the next caller in line tries its own. With a budget of 0 every call
    /// renders.
    ///
    /// # Errors
    /// Whatever `render` returns.
    pub async fn get_or_render<E>(
        &self,
        key: RenderKey,
        render: impl Future<Output = Result<Rendered, E>>,
    ) -> Result<Rendered, E> {
        if self.budget == 0 {
            return render.await;
        }
        match self.cache.get_value_or_guard_async(&key).await {
            Ok(cached) => Ok(cached),
            Err(guard) => {
                let rendered = render.await?;
                // Refused only when a single rendition outweighs the whole budget.
                let _ = guard.insert(rendered.clone());
                Ok(rendered)
            }
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

    use avatar_proto::RobohashSet;

    use super::*;

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
                    format: ImageFormat::Png,
                },
                rendition(4_000),
            );
        }
        assert!(cache.used_bytes() <= 100_000, "{cache:?}");
        assert!(!cache.is_empty());
    }

    #[test]
    fn fingerprints_tell_every_part_of_the_key_apart() {
        let hash = AvatarHash::Md5([3; 16]);
        let keys = [
            RenderKey::Stored {
                content: [1; 32],
                size: 80,
                format: ImageFormat::Png,
            },
            RenderKey::Stored {
                content: [2; 32],
                size: 80,
                format: ImageFormat::Png,
            },
            RenderKey::Stored {
                content: [1; 32],
                size: 81,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Retro,
                hash,
                size: 80,
                palette: 0,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Identicon,
                hash,
                size: 80,
                palette: 0,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Robohash(RobohashSet::Set1),
                hash,
                size: 80,
                palette: 0,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Robohash(RobohashSet::Set2),
                hash,
                size: 80,
                palette: 0,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Retro,
                hash: AvatarHash::Md5([4; 16]),
                size: 80,
                palette: 0,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Colour,
                hash,
                size: 80,
                palette: 1,
                format: ImageFormat::Png,
            },
            RenderKey::Stored {
                content: [1; 32],
                size: 80,
                format: ImageFormat::Webp,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Initials(avatar_proto::Initials::given("AB")),
                hash,
                size: 80,
                palette: 1,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Initials(avatar_proto::Initials::given("AC")),
                hash,
                size: 80,
                palette: 1,
                format: ImageFormat::Png,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Retro,
                hash,
                size: 80,
                palette: 0,
                format: ImageFormat::Webp,
            },
            RenderKey::Default {
                keyword: DefaultKeyword::Colour,
                hash,
                size: 80,
                palette: 2,
                format: ImageFormat::Png,
            },
        ];
        let fingerprints: std::collections::HashSet<_> =
            keys.iter().map(RenderKey::fingerprint).collect();
        assert_eq!(fingerprints.len(), keys.len());
        assert_eq!(keys[0].fingerprint(), keys[0].clone().fingerprint());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_requests_render_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let cache = Arc::new(RenderCache::default());
        let renders = Arc::new(AtomicUsize::new(0));
        let key = RenderKey::Stored {
            content: [9; 32],
            size: 80,
            format: ImageFormat::Png,
        };
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, renders, key) = (Arc::clone(&cache), Arc::clone(&renders), key.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_render(key, async {
                            renders.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            Ok::<_, ()>(rendition(10))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(rendition(10)));
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_render_is_not_kept_and_the_next_caller_tries_again() {
        let cache = RenderCache::default();
        let key = RenderKey::Stored {
            content: [8; 32],
            size: 80,
            format: ImageFormat::Png,
        };
        let failed = cache
            .get_or_render(key.clone(), async { Err("corrupt") })
            .await;
        assert_eq!(failed, Err("corrupt"));
        assert_eq!(cache.get(&key), None);
        let made = cache
            .get_or_render(key.clone(), async { Ok::<_, &str>(rendition(3)) })
            .await;
        assert_eq!(made, Ok(rendition(3)));
        assert_eq!(cache.get(&key), Some(rendition(3)));
    }

    #[test]
    fn zero_budget_caches_nothing() {
        let cache = RenderCache::with_budget(0);
        let key = RenderKey::Stored {
            content: [1; 32],
            size: 80,
            format: ImageFormat::Png,
        };
        cache.insert(key.clone(), rendition(10));
        assert_eq!(cache.get(&key), None);
    }
}
