//! The answer cache: one entry per (scheme, domain), with its own deadline; concurrent misses
//! for the same name share one DNS query.

use std::sync::Arc;
use std::time::Instant;

use avatar_proto::{Fallback, SrvRecord};
use quick_cache::sync::Cache;

/// A cached answer: the record set (the weighted draw happens per call), or why there is none.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) answer: Result<Arc<[SrvRecord]>, Fallback>,
    pub(crate) expires: Instant,
}

pub(crate) struct AnswerCache {
    entries: Cache<String, Cached>,
}

impl AnswerCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// The answer for `key` that is still valid at `now`, or the one `fetch` produces (shared
    /// with every concurrent caller asking for the same key).
    pub(crate) async fn get_or_fetch(
        &self,
        key: &str,
        now: Instant,
        fetch: impl Future<Output = Cached>,
    ) -> Cached {
        // An expired entry is dropped first, so the next step fetches anew.
        self.entries.remove_if(key, |cached| cached.expires <= now);
        let fetched: Result<Cached, std::convert::Infallible> = self
            .entries
            .get_or_insert_async(key, async { Ok(fetch.await) })
            .await;
        match fetched {
            Ok(cached) => cached,
            Err(never) => match never {},
        }
    }

    /// The answer for `key` that is still valid at `now`, without fetching.
    pub(crate) fn peek(&self, key: &str, now: Instant) -> Option<Cached> {
        self.entries.get(key).filter(|cached| cached.expires > now)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn answer(expires: Instant) -> Cached {
        Cached {
            answer: Err(Fallback::NoRecords),
            expires,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_fetch() {
        let cache = Arc::new(AnswerCache::new(16));
        let fetches = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
                tokio::spawn(async move {
                    let now = Instant::now();
                    cache
                        .get_or_fetch("http|example.org", now, async {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            answer(now + Duration::from_secs(60))
                        })
                        .await
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn expired_entries_are_fetched_again() {
        let cache = AnswerCache::new(16);
        let start = Instant::now();
        let fetches = AtomicUsize::new(0);
        let fetch = |expires| {
            fetches.fetch_add(1, Ordering::SeqCst);
            async move { answer(expires) }
        };
        cache
            .get_or_fetch("k", start, fetch(start + Duration::from_secs(10)))
            .await;
        cache
            .get_or_fetch("k", start + Duration::from_secs(9), fetch(start))
            .await;
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "the closure runs, but its future is not awaited on a hit"
        );
        let hit = cache
            .get_or_fetch("k", start + Duration::from_secs(9), async { answer(start) })
            .await;
        assert_eq!(
            hit.expires,
            start + Duration::from_secs(10),
            "still the first answer"
        );
        let refreshed = cache
            .get_or_fetch("k", start + Duration::from_secs(10), async {
                answer(start + Duration::from_secs(99))
            })
            .await;
        assert_eq!(refreshed.expires, start + Duration::from_secs(99));
    }
}
