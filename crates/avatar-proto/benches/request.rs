//! The per-request protocol work: parsing an avatar request, normalising and hashing an
//! identity.
//!
//! `cargo bench -p avatar-proto --bench request`

use std::hint::black_box;

use avatar_proto::{AvatarRequest, HashAlgorithm, Identity, RequestRules};
use criterion::{Criterion, criterion_group, criterion_main};

const HASH: &str = "40f8d096a3777232204cb3f796c577b7";

fn request_parsing(c: &mut Criterion) {
    let rules = RequestRules::default();
    let mut group = c.benchmark_group("request parsing");
    for (name, query) in [
        ("size only", "s=80"),
        ("size and keyword", "s=80&d=identicon"),
        (
            "encoded default URL",
            "size=128&default=https%3A%2F%2Fexample.com%2Fdefault.png",
        ),
        ("no query", ""),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| AvatarRequest::parse(&rules, black_box(HASH), black_box(query)));
        });
    }
    group.finish();
}

fn hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("identity hashing");
    group.bench_function("email, normalise + MD5", |b| {
        b.iter(|| {
            Identity::parse(black_box("George@Example.com")).map(|id| id.hash(HashAlgorithm::Md5))
        });
    });
    group.bench_function("email, normalise + SHA-256", |b| {
        b.iter(|| {
            Identity::parse(black_box("George@Example.com"))
                .map(|id| id.hash(HashAlgorithm::Sha256))
        });
    });
    group.bench_function("OpenID, normalise + SHA-256", |b| {
        b.iter(|| {
            Identity::parse(black_box("https://Example.com/id/Bob"))
                .map(|id| id.hash(HashAlgorithm::Sha256))
        });
    });
    group.finish();
}

criterion_group!(benches, request_parsing, hashing);
criterion_main!(benches);
