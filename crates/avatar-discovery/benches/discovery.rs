//! Discovery speed: a cached `base_url` (target: under 1 µs median) and a lookup against a
//! nameserver that never answers (target: the central fallback within the timeout plus 100 ms).
//!
//! `cargo bench -p avatar-discovery --bench discovery`

use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_discovery::fake_dns::{BlackHole, FakeDns};
use avatar_proto::Scheme;
use criterion::{Criterion, criterion_group, criterion_main};

const ZONE: &str = "$ORIGIN example.org.
@ 3600 IN SOA ns.example.org. admin.example.org. 1 7200 900 1209600 300
_avatars-sec._tcp 300 IN SRV 10 60 443 a.example.org.
_avatars-sec._tcp 300 IN SRV 10 40 8443 b.example.org.
_avatars-sec._tcp 300 IN SRV 20 0 443 c.example.org.
";

fn cached_base_url(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (dns, discovery) = runtime.block_on(async {
        let dns = FakeDns::start(&[ZONE]).await.unwrap();
        let discovery = Discovery::builder().nameserver(dns.addr()).build().unwrap();
        // Warm the cache.
        discovery.base_url("example.org", Scheme::Https).await;
        (dns, discovery)
    });
    c.bench_function("cached base_url (weighted draw per call)", |b| {
        b.to_async(&runtime)
            .iter(|| discovery.base_url("example.org", Scheme::Https));
    });
    drop(dns);
}

fn black_holed_lookup(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let hole = runtime.block_on(BlackHole::start()).unwrap();
    let mut group = c.benchmark_group("black-holed nameserver, timeout 200 ms");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("uncached lookup -> central fallback", |b| {
        b.to_async(&runtime).iter(|| async {
            let discovery = Discovery::builder()
                .nameserver(hole.addr())
                .timeout(Duration::from_millis(200))
                .build()
                .unwrap();
            discovery.base_url("example.org", Scheme::Https).await
        });
    });
    group.finish();
}

criterion_group!(benches, cached_base_url, black_holed_lookup);
criterion_main!(benches);
