//! Memory at scale: a full pass over the hashes of 1,000,000 stored identities (MD5, then
//! SHA-256: two million requests at 16 px, each a different stored picture) through the tower
//! service, then its resident memory. The store answers from arithmetic (every hash has an
//! avatar of its own, a tiny PNG), so what is measured is the service's index and render cache,
//! not where the pictures are kept. Prints a JSON report; `cargo xtask bench --only million`
//! runs it and checks the budget.
//!
//! `cargo run --release -p avatar-service --example million [IDENTITIES]`

use std::time::{Duration, Instant};

use avatar_proto::{AvatarHash, HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::{Store, StoreError, StoredEntry, StoredImage};
use bytes::Bytes;
use http::Request;
use sha2::{Digest as _, Sha256};
use test_support::images;
use tower::ServiceExt as _;

/// A store that holds a picture for every hash: the same tiny file, with a content digest of
/// its own per hash (so each is a rendition of its own in the cache). Writes are refused.
#[derive(Clone)]
struct EveryHash {
    png: Bytes,
}

impl Store for EveryHash {
    async fn get(&self, hash: &AvatarHash) -> Result<Option<StoredImage>, StoreError> {
        Ok(Some(StoredImage {
            bytes: self.png.clone(),
            content: Sha256::digest(hash.as_bytes()).into(),
        }))
    }

    async fn put(&self, _: &Identity, _: Bytes) -> Result<(), StoreError> {
        Err(StoreError::Backend("read only".to_owned()))
    }

    async fn remove(&self, _: &Identity) -> Result<bool, StoreError> {
        Err(StoreError::Backend("read only".to_owned()))
    }

    async fn list(&self) -> Result<Vec<StoredEntry>, StoreError> {
        Ok(Vec::new())
    }

    fn generation(&self, _: &AvatarHash) -> Option<u64> {
        Some(0)
    }
}

/// A `/proc/self/status` field, in MiB.
#[expect(clippy::cast_precision_loss, reason = "kibibytes far below 2^52")]
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0) as f64
        / 1024.0
}

#[tokio::main]
async fn main() {
    let identities: u32 = std::env::args().nth(1).map_or(1_000_000, |count| {
        count.parse().expect("a number of identities")
    });
    let png = Bytes::from(images::png(&images::photo_like(8, 8)));
    let service = AvatarService::new(EveryHash { png });
    let before_mib = status_mib("VmRSS:");
    let started = Instant::now();
    let mut shown = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    for algorithm in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
        let tasks: Vec<_> = (0..workers)
            .map(|worker| {
                let service = service.clone();
                tokio::spawn(async move {
                    for n in (0..identities).skip(worker).step_by(workers) {
                        let identity = Identity::parse(&format!("user{n}@million.example"))
                            .expect("a valid address");
                        let uri = format!("/avatar/{}?s=16", identity.hash(algorithm));
                        let response = service
                            .clone()
                            .oneshot(Request::get(uri).body(()).expect("a request"))
                            .await
                            .expect("infallible");
                        assert_eq!(response.status(), 200);
                    }
                })
            })
            .collect();
        for task in tasks {
            while !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if shown.elapsed() >= Duration::from_secs(5) {
                    let stats = service.stats();
                    eprintln!(
                        "million: {:?} pass, {} renders, {:.0} s, resident {:.0} MiB",
                        algorithm,
                        stats.renders,
                        started.elapsed().as_secs_f64(),
                        status_mib("VmRSS:")
                    );
                    shown = Instant::now();
                }
            }
            task.await.expect("the pass finished");
        }
    }
    let stats = service.stats();
    let report = serde_json::json!({
        "identities": identities,
        "requests": u64::from(identities) * 2,
        "seconds": started.elapsed().as_secs_f64(),
        "renders": stats.renders,
        "index_entries": stats.index_entries,
        "cache_entries": stats.cache_entries_now,
        "cache_bytes": stats.cache_bytes_now,
        "resident_before_mib": before_mib,
        "resident_after_mib": status_mib("VmRSS:"),
        "resident_peak_mib": status_mib("VmHWM:"),
    });
    println!("{report:#}");
}
