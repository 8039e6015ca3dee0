//! [`ChangeCounters`]: per-hash change numbers for [`Store::generation`](crate::Store::generation),
//! so a write invalidates what a cache knows about the hashes it touched, not everything.

use std::sync::atomic::{AtomicU64, Ordering};

use avatar_proto::AvatarHash;

/// How many counters hashes are spread over: 65,536 counters take 512 KiB, and a write
/// invalidates about 1/65,536 of a cache's entries per hash it touches.
const BUCKETS: usize = 1 << 16;

/// A counter per bucket of hashes, and one for everything.
///
/// [`generation`](Self::generation) of a hash grows whenever [`changed`](Self::changed) is
/// called for that hash (or another in its bucket) or [`changed_all`](Self::changed_all) is
/// called, and never otherwise: a cache that keeps an answer while the hash's generation is
/// unchanged never keeps it past a change. Lock-free; reading is two atomic loads.
///
/// ```
/// use avatar_proto::Identity;
/// use avatar_store::ChangeCounters;
///
/// let counters = ChangeCounters::new();
/// let [alice, bob] = ["alice@example.org", "bob@example.org"]
///     .map(|address| Identity::parse(address).unwrap().hash(avatar_proto::HashAlgorithm::Md5));
/// let (a, b) = (counters.generation(&alice), counters.generation(&bob));
/// counters.changed(&alice);
/// assert_ne!(counters.generation(&alice), a);
/// assert_eq!(counters.generation(&bob), b, "bob's answers stay valid");
/// counters.changed_all();
/// assert_ne!(counters.generation(&bob), b);
/// ```
#[derive(Debug)]
pub struct ChangeCounters {
    buckets: Box<[AtomicU64]>,
    all: AtomicU64,
}

impl Default for ChangeCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangeCounters {
    /// Every counter at 0.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            all: AtomicU64::new(0),
        }
    }

    fn bucket(&self, hash: &AvatarHash) -> &AtomicU64 {
        // Digests are uniformly distributed: their first two bytes pick the bucket.
        let bytes = hash.as_bytes();
        let index = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        &self.buckets[index % BUCKETS]
    }

    /// The generation of `hash`: the sum of its bucket's counter and the counter for
    /// everything (both only grow, so the sum grows whenever either does).
    #[must_use]
    pub fn generation(&self, hash: &AvatarHash) -> u64 {
        self.all
            .load(Ordering::Acquire)
            .wrapping_add(self.bucket(hash).load(Ordering::Acquire))
    }

    /// What is stored under `hash` changed.
    pub fn changed(&self, hash: &AvatarHash) {
        self.bucket(hash).fetch_add(1, Ordering::AcqRel);
    }

    /// Anything may have changed (a missed notification, another process's write).
    pub fn changed_all(&self) {
        self.all.fetch_add(1, Ordering::AcqRel);
    }
}
