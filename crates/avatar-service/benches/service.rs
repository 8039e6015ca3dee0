//! One request through the tower `Service`, in process (no sockets): what the service itself
//! costs per request once the caches are warm. The HTTP comparison with nginx is
//! `cargo xtask bench`.
//!
//! `cargo bench -p avatar-service --bench service`

use std::future::Future as _;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store as _};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::{ETAG, IF_NONE_MATCH};
use http::{HeaderValue, Request};
use test_support::images;
use tower::{Service as _, ServiceExt as _};

fn service_requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let george = Identity::parse("george@example.com").unwrap();
    let hash = george.hash(HashAlgorithm::Md5);
    let nobody = Identity::parse("nobody@example.com")
        .unwrap()
        .hash(HashAlgorithm::Md5);
    let store = MemoryStore::new();
    let mut service = runtime.block_on(async {
        let jpeg = images::encode(&images::photo_like(512, 512), image::ImageFormat::Jpeg);
        store.put(&george, Bytes::from(jpeg)).await.unwrap();
        AvatarService::new(store)
    });
    let cases = [
        ("cached hit s=80", format!("/avatar/{hash}?s=80")),
        ("cached hit s=512", format!("/avatar/{hash}?s=512")),
        ("known miss d=404", format!("/avatar/{nobody}?d=404")),
        ("cached identicon", format!("/avatar/{nobody}?d=identicon")),
    ];
    // Warm the caches, and learn the ETag for the revalidation case.
    let etag = runtime.block_on(async {
        let mut etag = None;
        for (_, uri) in &cases {
            let response = service
                .clone()
                .oneshot(Request::get(uri).body(()).unwrap())
                .await
                .unwrap();
            etag = etag.or_else(|| response.headers().get(ETAG).cloned());
        }
        etag.unwrap()
    });

    let mut group = c.benchmark_group("service, warm caches");
    for (name, uri) in &cases {
        let uri: http::Uri = uri.parse().unwrap();
        group.bench_function(*name, |b| {
            b.iter(|| answer(&mut service, Request::get(uri.clone()).body(()).unwrap()));
        });
    }
    let uri: http::Uri = cases[0].1.parse().unwrap();
    group.bench_function("304 revalidation", |b| {
        b.iter(|| {
            let mut request = Request::get(uri.clone()).body(()).unwrap();
            request
                .headers_mut()
                .insert(IF_NONE_MATCH, HeaderValue::clone(&etag));
            answer(&mut service, request)
        });
    });
    group.finish();
}

/// Calls and polls once: warm requests are answered without waiting.
fn answer(service: &mut AvatarService<MemoryStore>, request: Request<()>) -> u16 {
    let future = pin!(service.call(black_box(request)));
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(response)) => response.status().as_u16(),
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => panic!("a warm request was not answered at once"),
    }
}

criterion_group!(benches, service_requests);
criterion_main!(benches);
