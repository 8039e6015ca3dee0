//! Measures what `cargo xtask bench --only store` reports, in one process against a private
//! PostgreSQL cluster (`test_support::postgres`) and a filesystem store holding the same
//! avatars:
//! - hits: the service answering stored avatars it has answered before, on each store, in
//!   alternating rounds (both answer from memory, so the ratio should be about 1);
//! - the cold path: the first request for each avatar (a store read and a render);
//! - invalidation: a second store on the same database (its own pool and listening
//!   connection) stands for a second server; the time from a write's start on one store to
//!   the other's generation of that hash changing, which is when its service stops answering
//!   the old picture (p50 and p99; the write's own transaction included).
//!
//! `cargo run --release -p avatar-store-postgres --example store_bench > store.json`

use std::time::{Duration, Instant};

use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::{FsStore, Store};
use avatar_store_postgres::PgStore;
use bytes::Bytes;
use serde_json::json;
use test_support::postgres::Cluster;

const AVATARS: u32 = 300;
const HIT_ROUNDS: usize = 4;
const HITS_PER_ROUND: usize = 30_000;
const INVALIDATIONS: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cluster = Cluster::start();
    let url = cluster.database("bench");
    let dir = tempfile::tempdir()?;
    runtime.block_on(async {
        let pg = PgStore::connect(&url).await?;
        let fs = FsStore::open(dir.path().join("data"))?;
        let people: Vec<Identity> = (0..AVATARS)
            .map(|n| Identity::parse(&format!("person{n}@bench.test")))
            .collect::<Result<_, _>>()?;
        let started = Instant::now();
        for (n, person) in (0u32..).zip(&people) {
            let picture = Bytes::from(test_support::images::png(&test_support::images::noise(
                160,
                160,
                u64::from(n),
            )));
            pg.put(person, picture.clone()).await?;
            fs.put(person, picture).await?;
        }
        eprintln!(
            "store bench: {AVATARS} avatars in both stores in {:?}",
            started.elapsed()
        );
        let paths: Vec<String> = people
            .iter()
            .map(|person| format!("/avatar/{}?s=80", person.hash(HashAlgorithm::Md5)))
            .collect();
        let (pg_service, fs_service) = (AvatarService::new(pg.clone()), AvatarService::new(fs));

        let cold_pg = cold(&pg_service, &paths).await;
        let cold_fs = cold(&fs_service, &paths).await;
        let (mut hit_pg, mut hit_fs) = (Vec::new(), Vec::new());
        for round in 0..HIT_ROUNDS {
            // Alternating which goes first, so neither always gets the warmer machine.
            if round % 2 == 0 {
                hit_pg.push(hits(&pg_service, &paths).await);
                hit_fs.push(hits(&fs_service, &paths).await);
            } else {
                hit_fs.push(hits(&fs_service, &paths).await);
                hit_pg.push(hits(&pg_service, &paths).await);
            }
        }

        let other = PgStore::connect(&url).await?;
        let mut latencies = Vec::with_capacity(INVALIDATIONS);
        for round in 0..INVALIDATIONS {
            let person = &people[round % people.len()];
            let hash = person.hash(HashAlgorithm::Md5);
            let before = other.generation(&hash);
            let picture = Bytes::from(test_support::images::png(&test_support::images::solid(
                32,
                32,
                [u8::try_from(round % 256)?, 10, 10],
            )));
            // From the write's start: the notification is sent at its commit, and may arrive
            // before the writer has heard that the commit succeeded.
            let issued = Instant::now();
            pg.put(person, picture).await?;
            while other.generation(&hash) == before {
                assert!(
                    issued.elapsed() < Duration::from_secs(5),
                    "no notification in 5 s"
                );
                tokio::task::yield_now().await;
            }
            latencies.push(issued.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        let report = json!({
            "avatars": AVATARS,
            "hit_ns": { "postgres": median(&mut hit_pg), "filesystem": median(&mut hit_fs) },
            "cold_ms": {
                "postgres": { "p50": cold_pg.0, "p99": cold_pg.1 },
                "filesystem": { "p50": cold_fs.0, "p99": cold_fs.1 },
            },
            "invalidation_ms": {
                "p50": percentile(&latencies, 0.5),
                "p99": percentile(&latencies, 0.99),
                "max": latencies.last(),
                "samples": latencies.len(),
            },
        });
        println!("{report}");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

/// The first request for each path: (p50, p99) in milliseconds.
async fn cold<St: Store>(service: &AvatarService<St>, paths: &[String]) -> (f64, f64) {
    let mut times = Vec::with_capacity(paths.len());
    for path in paths {
        let started = Instant::now();
        let response = test_support::suite::get(service, path).await;
        assert_eq!(response.status(), 200, "{path}");
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Nanoseconds per request over a round of hits on every path.
async fn hits<St: Store>(service: &AvatarService<St>, paths: &[String]) -> f64 {
    let started = Instant::now();
    for round in 0..HITS_PER_ROUND {
        let response = test_support::suite::get(service, &paths[round % paths.len()]).await;
        debug_assert_eq!(response.status(), 200);
        std::hint::black_box(response);
    }
    #[expect(clippy::cast_precision_loss, reason = "a count of requests")]
    let per = started.elapsed().as_nanos() as f64 / HITS_PER_ROUND as f64;
    per
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[f64], share: f64) -> f64 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
