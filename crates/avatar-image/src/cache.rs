//! A render cache bounded by the bytes it holds, and its snapshots: what a server writes when it
//! stops and reads when it starts again, so a restart does not render everything anew.

use std::io::{self, Read, Write};

use avatar_proto::{AvatarHash, DefaultKeyword, ImageFormat};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sha2::{Digest as _, Sha256};

use crate::render::{MAX_RENDER_SIZE, Rendered};

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
pub const RENDERER_VERSION: u8 = 8;

/// The JPEG encoder of this build when it is not the default (`jpeg-encoder`): its bytes differ,
/// so fingerprints and rendition snapshots name it beside [`RENDERER_VERSION`]. Empty in the
/// default build, whose fingerprints stay what they were.
const JPEG_ENCODER: &[u8] = if cfg!(feature = "libjpeg-turbo") {
    b"libjpeg-turbo"
} else {
    b""
};

/// The renderer byte of a snapshot's header: [`RENDERER_VERSION`], with the high bit set when
/// JPEG is encoded by libjpeg-turbo.
const SNAPSHOT_RENDERER: u8 = if JPEG_ENCODER.is_empty() {
    RENDERER_VERSION
} else {
    RENDERER_VERSION | 0x80
};

/// Feeds what identifies this renderer (its version and its JPEG encoder) to a fingerprint.
pub(crate) fn hash_renderer(hasher: &mut Sha256) {
    hasher.update([RENDERER_VERSION]);
    hasher.update(JPEG_ENCODER);
}

impl RenderKey {
    /// A 16-byte digest of the key and the renderer ([`RENDERER_VERSION`], and the JPEG encoder
    /// when built with `libjpeg-turbo`): the same for every rendition of the same key by the
    /// same renderer (the pipeline is deterministic), so it serves as a strong validator
    /// without hashing the output.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        hash_renderer(&mut hasher);
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

    /// Writes the renditions of stored images the cache holds to `out` (at most the budget's
    /// worth: it is what the cache holds), for [`read_snapshot`](Self::read_snapshot) after a
    /// restart; returns how many. Drawn defaults are left out: they cost a millisecond to
    /// draw again, where a photo's rendition costs a decode.
    ///
    /// The layout is a header (16 bytes of magic, then [`RENDERER_VERSION`], its high bit set
    /// when built with `libjpeg-turbo`) and one record per rendition: the stored file's
    /// SHA-256 (32 bytes), the size and the length of the encoded file (4 bytes each,
    /// big-endian), then the file. It is written by hand because it is four fixed fields; its
    /// format is sniffed from the file when read.
    ///
    /// # Errors
    /// Whatever writing to `out` returns.
    pub fn write_snapshot(&self, out: &mut impl Write) -> io::Result<usize> {
        out.write_all(SNAPSHOT_MAGIC)?;
        out.write_all(&[SNAPSHOT_RENDERER])?;
        let mut written = 0;
        for (key, rendered) in self.cache.iter() {
            let RenderKey::Stored { content, size, .. } = key else {
                continue;
            };
            let length = u32::try_from(rendered.bytes.len()).map_err(io::Error::other)?;
            out.write_all(&content)?;
            out.write_all(&size.to_be_bytes())?;
            out.write_all(&length.to_be_bytes())?;
            out.write_all(&rendered.bytes)?;
            written += 1;
        }
        out.flush()?;
        Ok(written)
    }

    /// Keeps the renditions of a snapshot [`write_snapshot`](Self::write_snapshot) wrote;
    /// returns how many. A snapshot of another [`RENDERER_VERSION`] or JPEG encoder is ignored
    /// (`Ok(0)`): its renditions are not what this renderer would make. Nothing read is
    /// trusted: a record whose size, length or file is not one the renderer could have written
    /// ends the reading with [`io::ErrorKind::InvalidData`] (the renditions before it are kept,
    /// each checked).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidData`] for a file that is not a snapshot or is damaged; whatever
    /// reading `input` returns.
    pub fn read_snapshot(&self, input: &mut impl Read) -> io::Result<usize> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        let mut header = [0u8; SNAPSHOT_MAGIC.len() + 1];
        input
            .read_exact(&mut header)
            .map_err(|_| invalid("not a rendition snapshot: shorter than its header"))?;
        if &header[..SNAPSHOT_MAGIC.len()] != SNAPSHOT_MAGIC {
            return Err(invalid("not a rendition snapshot: wrong magic bytes"));
        }
        if header[SNAPSHOT_MAGIC.len()] != SNAPSHOT_RENDERER {
            return Ok(0);
        }
        let mut read = 0;
        loop {
            let truncated_header = || invalid("rendition snapshot truncated in a record's header");
            let mut content = [0u8; 32];
            match read_full(input, &mut content)? {
                0 => return Ok(read),
                32 => {}
                _ => return Err(truncated_header()),
            }
            let mut numbers = [0u8; 8];
            input
                .read_exact(&mut numbers)
                .map_err(|_| truncated_header())?;
            let [s0, s1, s2, s3, l0, l1, l2, l3] = numbers;
            let size = u32::from_be_bytes([s0, s1, s2, s3]);
            let length = u32::from_be_bytes([l0, l1, l2, l3]);
            if !(1..=MAX_RENDER_SIZE).contains(&size) || u64::from(length) > MAX_SNAPSHOT_RECORD {
                return Err(invalid(
                    "rendition snapshot record with an impossible size or length",
                ));
            }
            let mut bytes = vec![0u8; length as usize];
            input
                .read_exact(&mut bytes)
                .map_err(|_| invalid("rendition snapshot truncated in a record's file"))?;
            let format = ImageFormat::sniff(&bytes)
                .ok_or_else(|| invalid("rendition snapshot record that is not an image"))?;
            self.insert(
                RenderKey::Stored {
                    content,
                    size,
                    format,
                },
                Rendered {
                    bytes: bytes.into(),
                    format,
                    size,
                },
            );
            read += 1;
        }
    }
}

/// The first bytes of a rendition snapshot.
const SNAPSHOT_MAGIC: &[u8; 16] = b"avatar-renders\r\n";
/// The largest rendition a snapshot may hold: a 4096 px PNG of noise is about 48 MiB.
const MAX_SNAPSHOT_RECORD: u64 = 64 << 20;

/// Reads until `buffer` is full or the input ends; how many bytes were read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
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

    fn png_rendition(size: u32, shade: u8) -> Rendered {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(size, size, image::Rgb([shade, 60, 90]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        Rendered {
            bytes: png.into(),
            format: ImageFormat::Png,
            size,
        }
    }

    fn stored_key(content: u8, size: u32) -> RenderKey {
        RenderKey::Stored {
            content: [content; 32],
            size,
            format: ImageFormat::Png,
        }
    }

    fn snapshot_of(cache: &RenderCache) -> Vec<u8> {
        let mut snapshot = Vec::new();
        cache.write_snapshot(&mut snapshot).unwrap();
        snapshot
    }

    #[test]
    fn a_snapshot_brings_back_the_stored_renditions_and_not_the_defaults() {
        let cache = RenderCache::default();
        for (content, size) in [(1, 32), (1, 80), (2, 80)] {
            cache.insert(stored_key(content, size), png_rendition(size, content));
        }
        let default = RenderKey::Default {
            keyword: DefaultKeyword::Identicon,
            hash: AvatarHash::Md5([3; 16]),
            size: 80,
            palette: 0,
            format: ImageFormat::Png,
        };
        cache.insert(default.clone(), png_rendition(80, 3));
        let snapshot = snapshot_of(&cache);

        let restarted = RenderCache::default();
        assert_eq!(restarted.read_snapshot(&mut &snapshot[..]).unwrap(), 3);
        for (content, size) in [(1, 32), (1, 80), (2, 80)] {
            assert_eq!(
                restarted.get(&stored_key(content, size)),
                Some(png_rendition(size, content))
            );
        }
        assert_eq!(restarted.get(&default), None);
    }

    #[test]
    fn another_renderers_snapshot_is_ignored() {
        let cache = RenderCache::default();
        cache.insert(stored_key(1, 32), png_rendition(32, 1));
        let snapshot = snapshot_of(&cache);
        // Another version, and the same version with the other JPEG encoder.
        for other in [SNAPSHOT_RENDERER.wrapping_add(1), SNAPSHOT_RENDERER ^ 0x80] {
            let mut snapshot = snapshot.clone();
            snapshot[SNAPSHOT_MAGIC.len()] = other;
            let restarted = RenderCache::default();
            assert_eq!(restarted.read_snapshot(&mut &snapshot[..]).unwrap(), 0);
            assert!(restarted.is_empty());
        }
    }

    #[test]
    fn fingerprints_name_the_jpeg_encoder_only_when_it_is_libjpeg_turbo() {
        let key = stored_key(1, 32);
        let RenderKey::Stored {
            content,
            size,
            format,
        } = &key
        else {
            unreachable!("a stored key");
        };
        // The fingerprint as builds without `libjpeg-turbo` have always made it.
        let mut hasher = Sha256::new();
        hasher.update([RENDERER_VERSION]);
        hasher.update(b"stored");
        hasher.update(content);
        hasher.update(size.to_be_bytes());
        hasher.update(format.extension().as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let plain = digest[..16] == key.fingerprint();
        assert_eq!(plain, !cfg!(feature = "libjpeg-turbo"));
        assert_eq!(
            SNAPSHOT_RENDERER == RENDERER_VERSION,
            !cfg!(feature = "libjpeg-turbo")
        );
    }

    #[test]
    fn a_damaged_snapshot_is_refused_and_keeps_only_whole_records() {
        let cache = RenderCache::default();
        cache.insert(stored_key(1, 32), png_rendition(32, 1));
        cache.insert(stored_key(2, 32), png_rendition(32, 2));
        let snapshot = snapshot_of(&cache);

        for garbage in [&b""[..], b"GIF89a and more", &[0u8; 64]] {
            let err = RenderCache::default()
                .read_snapshot(&mut &garbage[..])
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        }
        // Cut in the second record: the first is kept.
        let cut = RenderCache::default();
        let err = cut
            .read_snapshot(&mut &snapshot[..snapshot.len() - 10])
            .unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(cut.len(), 1);
        // A record whose file is not an image, or whose length is absurd.
        let mut not_an_image = snapshot.clone();
        let first_file = SNAPSHOT_MAGIC.len() + 1 + 40;
        not_an_image[first_file..first_file + 4].copy_from_slice(b"junk");
        assert!(
            RenderCache::default()
                .read_snapshot(&mut &not_an_image[..])
                .is_err()
        );
        let mut absurd = snapshot;
        absurd[first_file - 4..first_file].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = RenderCache::default()
            .read_snapshot(&mut &absurd[..])
            .unwrap_err();
        assert!(err.to_string().contains("impossible"), "{err}");
    }
}
