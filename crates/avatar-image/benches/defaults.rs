//! Drawn defaults, rendered and PNG-encoded: targets 1 ms median at 80 px and 10 ms at 512 px.
//!
//! `cargo bench -p avatar-image --bench defaults`

use std::hint::black_box;

use avatar_image::render_default;
use avatar_proto::{AvatarHash, DefaultKeyword};
use criterion::{Criterion, criterion_group, criterion_main};

fn generators(c: &mut Criterion) {
    let hash: AvatarHash = "40f8d096a3777232204cb3f796c577b7".parse().unwrap();
    let keywords = DefaultKeyword::ALL.into_iter().filter(|k| k.is_drawn());
    for size in [80, 512] {
        let mut group = c.benchmark_group(format!("default at {size} px"));
        for keyword in keywords.clone() {
            let name = match keyword {
                DefaultKeyword::Robohash(set) => format!("robohash {}", set.name()),
                other => other.name().to_owned(),
            };
            group.bench_function(name, |b| {
                b.iter(|| render_default(black_box(keyword), &hash, size).unwrap());
            });
        }
        group.finish();
    }
}

criterion_group!(benches, generators);
criterion_main!(benches);
