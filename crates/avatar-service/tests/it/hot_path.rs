//! The hot path: a request the caches can answer reads no file, decodes nothing and allocates
//! only its response; writes through the store, or by another process, are seen.

use std::future::Future as _;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use avatar_service::AvatarService;
use avatar_store::{FsStore, Store as _};
use bytes::Bytes;
use http::header::{ETAG, IF_NONE_MATCH};
use http::{Request, StatusCode};
use test_support::suite::*;
use tower::Service as _;

/// Calls the service for `request` and polls the response future exactly once, counting the
/// allocations of both; `None` if the response was not ready at once.
fn answer_at_once<St: avatar_store::Store>(
    service: &mut AvatarService<St>,
    request: Request<()>,
) -> (Option<http::Response<avatar_service::AvatarBody>>, u64) {
    let mut polled = Poll::Pending;
    let mut future = None;
    let allocations = allocation_counter::measure(|| {
        let call = future.insert(service.call(request));
        polled = std::pin::Pin::new(call).poll(&mut Context::from_waker(Waker::noop()));
    })
    .count_total;
    drop(future);
    match polled {
        Poll::Ready(Ok(response)) => (Some(response), allocations),
        Poll::Pending => (None, allocations),
    }
}

fn fs_service(dir: &std::path::Path) -> AvatarService<FsStore> {
    // Other processes' writes checked once an hour: only this process writes here.
    AvatarService::new(
        FsStore::open(dir)
            .unwrap()
            .external_writes_check(Duration::from_secs(3600)),
    )
}

#[tokio::test]
async fn a_cached_hit_needs_no_file_and_allocates_only_its_response() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = fs_service(dir.path());
    service
        .store()
        .put(&identity(GEORGE), Bytes::from(jpeg()))
        .await
        .unwrap();
    let uri = format!("/avatar/{}?s=80", md5(GEORGE));
    let first = get(&service, &uri).await;
    assert_eq!(first.status(), StatusCode::OK);

    // Take the files away behind the store's back: a hit that touched the disk would now miss.
    std::fs::remove_dir_all(dir.path().join("identities")).unwrap();
    std::fs::remove_dir_all(dir.path().join("hashes")).unwrap();

    let request = Request::get(&uri).body(()).unwrap();
    let (response, allocations) = answer_at_once(&mut service, request);
    let response = response.expect("a cached hit is answered without waiting");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[ETAG], first.headers()[ETAG]);
    // The response itself: the header map (its index and entry tables), and the two header
    // values made per response (Content-Length and ETag). The body is the cached bytes, shared.
    assert!(
        allocations <= 4,
        "a cached hit made {allocations} allocations; its response needs 4"
    );

    // A revalidation is answered from the cache as well.
    let mut revalidation = Request::get(&uri).body(()).unwrap();
    revalidation
        .headers_mut()
        .insert(IF_NONE_MATCH, first.headers()[ETAG].clone());
    let (response, _) = answer_at_once(&mut service, revalidation);
    assert_eq!(
        response.expect("answered at once").status(),
        StatusCode::NOT_MODIFIED
    );
}

#[tokio::test]
async fn known_misses_and_drawn_defaults_are_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = fs_service(dir.path());
    let nobody = md5("nobody@example.com");
    for query in ["d=404", "d=identicon&s=80", "d=retro&f=y"] {
        let uri = format!("/avatar/{nobody}?{query}");
        let cold = get(&service, &uri).await;
        let (warm, _) = answer_at_once(&mut service, Request::get(&uri).body(()).unwrap());
        let warm = warm.unwrap_or_else(|| panic!("{query}: not answered at once when warm"));
        assert_eq!(warm.status(), cold.status(), "{query}");
        assert_eq!(
            warm.headers().get(ETAG),
            cold.headers().get(ETAG),
            "{query}"
        );
    }
}

#[tokio::test]
async fn writes_through_the_store_are_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let service = fs_service(dir.path());
    let uri = format!("/avatar/{}?s=80&d=404", md5(GEORGE));
    assert_eq!(get(&service, &uri).await.status(), StatusCode::NOT_FOUND);

    service
        .store()
        .put(&identity(GEORGE), Bytes::from(jpeg()))
        .await
        .unwrap();
    let jpeg_hit = get(&service, &uri).await;
    assert_eq!(
        jpeg_hit.status(),
        StatusCode::OK,
        "a cached miss was not forgotten"
    );
    assert_eq!(&jpeg_hit.body()[..3], b"\xff\xd8\xff");

    service
        .store()
        .put(&identity(GEORGE), Bytes::from(george_png()))
        .await
        .unwrap();
    let png_hit = get(&service, &uri).await;
    assert_eq!(
        &png_hit.body()[..4],
        b"\x89PNG",
        "a replaced avatar was served from the cache"
    );
    assert_ne!(png_hit.headers()[ETAG], jpeg_hit.headers()[ETAG]);

    service.store().remove(&identity(GEORGE)).await.unwrap();
    assert_eq!(
        get(&service, &uri).await.status(),
        StatusCode::NOT_FOUND,
        "a removed avatar was served from the cache"
    );
}

#[tokio::test]
async fn known_missing_says_only_what_a_request_found_since_the_last_change() {
    let dir = tempfile::tempdir().unwrap();
    let service = fs_service(dir.path());
    let george = identity(GEORGE).hash(avatar_proto::HashAlgorithm::Md5);
    assert!(!service.known_missing(&george), "never asked: not known");
    let uri = format!("/avatar/{}?s=80&d=404", md5(GEORGE));
    assert_eq!(get(&service, &uri).await.status(), StatusCode::NOT_FOUND);
    assert!(
        service.known_missing(&george),
        "asked, and nothing was stored"
    );

    service
        .store()
        .put(&identity(GEORGE), Bytes::from(jpeg()))
        .await
        .unwrap();
    assert!(
        !service.known_missing(&george),
        "changed since it was asked"
    );
    assert_eq!(get(&service, &uri).await.status(), StatusCode::OK);
    assert!(!service.known_missing(&george), "stored");

    service.store().remove(&identity(GEORGE)).await.unwrap();
    assert!(
        !service.known_missing(&george),
        "changed since it was asked"
    );
    assert_eq!(get(&service, &uri).await.status(), StatusCode::NOT_FOUND);
    assert!(service.known_missing(&george));
}

#[tokio::test]
async fn writes_by_another_process_are_seen_after_the_check() {
    let dir = tempfile::tempdir().unwrap();
    // The serving process checks for other writers on every request here (default: every second).
    let service = AvatarService::new(
        FsStore::open(dir.path())
            .unwrap()
            .external_writes_check(Duration::ZERO),
    );
    // Another FsStore on the same directory stands for `avatars import` in another process.
    let importer = FsStore::open(dir.path()).unwrap();
    let uri = format!("/avatar/{}?s=80&d=404", md5(GEORGE));
    assert_eq!(get(&service, &uri).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&service, &uri).await.status(), StatusCode::NOT_FOUND);

    importer
        .put(&identity(GEORGE), Bytes::from(jpeg()))
        .await
        .unwrap();
    assert_eq!(get(&service, &uri).await.status(), StatusCode::OK);

    importer.remove(&identity(GEORGE)).await.unwrap();
    assert_eq!(get(&service, &uri).await.status(), StatusCode::NOT_FOUND);
}

/// Imports racing with reads: every answer is the old avatar or the new one, whole, never a
/// mix, and after the last write the new one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_racing_imports_see_one_avatar_or_the_other_whole() {
    let dir = tempfile::tempdir().unwrap();
    let service = fs_service(dir.path());
    let george = identity(GEORGE);
    let uri = format!("/avatar/{}?s=32&d=404", md5(GEORGE));
    let (first, second) = (Bytes::from(george_png()), Bytes::from(jpeg()));
    service.store().put(&george, second.clone()).await.unwrap();
    let second_rendition = get(&service, &uri).await.into_body();
    service.store().put(&george, first.clone()).await.unwrap();
    let first_rendition = get(&service, &uri).await.into_body();
    assert_ne!(first_rendition, second_rendition);

    let writer = {
        let service = service.clone();
        let george = george.clone();
        tokio::spawn(async move {
            for round in 0..100 {
                let bytes = if round % 2 == 0 { &second } else { &first };
                service.store().put(&george, bytes.clone()).await.unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (service, uri) = (service.clone(), uri.clone());
            let (a, b) = (first_rendition.clone(), second_rendition.clone());
            tokio::spawn(async move {
                let mut reads = 0;
                while reads < 300 {
                    let response = get(&service, &uri).await;
                    assert_eq!(response.status(), StatusCode::OK);
                    let body = response.into_body();
                    assert!(body == a || body == b, "a mixed or torn image");
                    reads += 1;
                }
            })
        })
        .collect();
    writer.await.unwrap();
    for reader in readers {
        reader.await.unwrap();
    }
    // The last write put the first image back.
    assert_eq!(get(&service, &uri).await.into_body(), first_rendition);
}

/// Removals racing with reads (the file vanishing mid-request included): every answer is the
/// avatar whole or a clean 404, never an error or a broken image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_racing_removals_see_the_avatar_whole_or_a_404() {
    let dir = tempfile::tempdir().unwrap();
    let service = fs_service(dir.path());
    let george = identity(GEORGE);
    let uri = format!("/avatar/{}?s=32&d=404", md5(GEORGE));
    let image = Bytes::from(george_png());
    service.store().put(&george, image.clone()).await.unwrap();
    let rendition = get(&service, &uri).await.into_body();

    let writer = {
        let service = service.clone();
        let george = george.clone();
        tokio::spawn(async move {
            for _ in 0..50 {
                service.store().remove(&george).await.unwrap();
                service.store().put(&george, image.clone()).await.unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (service, uri, rendition) = (service.clone(), uri.clone(), rendition.clone());
            tokio::spawn(async move {
                for _ in 0..300 {
                    let response = get(&service, &uri).await;
                    match response.status() {
                        StatusCode::OK => assert_eq!(response.into_body(), rendition),
                        StatusCode::NOT_FOUND => {}
                        other => panic!("{other}"),
                    }
                }
            })
        })
        .collect();
    writer.await.unwrap();
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(get(&service, &uri).await.into_body(), rendition);
}
