//! Rendition files behind the render cache: a rendition the cache has let go is read back from
//! its file, the same bytes and `ETag`, without rendering; a replaced avatar never gets an old
//! file; a damaged file is rendered again.

use std::time::Duration;

use avatar_image::RenditionFiles;
use avatar_service::AvatarService;
use avatar_store::{FsStore, Store as _};
use bytes::Bytes;
use http::StatusCode;
use http::header::ETAG;
use test_support::images::{encode, photo_like};
use test_support::suite::*;

/// A folder store and its rendition files, with a render cache too small to hold anything:
/// every repeated request is a miss the files must answer.
fn service(dir: &std::path::Path) -> AvatarService<FsStore> {
    let store = FsStore::open(dir.join("store"))
        .unwrap()
        .external_writes_check(Duration::from_secs(3600));
    AvatarService::builder(store)
        .cache_bytes(1)
        .rendition_files(RenditionFiles::open(&dir.join("renditions"), 1 << 20).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_rendition_the_cache_let_go_is_read_back_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(dir.path());
    service
        .store()
        .put(&identity(GEORGE), Bytes::from(jpeg()))
        .await
        .unwrap();
    let uri = format!("/avatar/{}?s=80", md5(GEORGE));
    let first = get(&service, &uri).await;
    assert_eq!(first.status(), StatusCode::OK);
    let stats = service.stats();
    assert_eq!((stats.renders, stats.file_hits, stats.files_now), (1, 0, 1));
    for _ in 0..3 {
        let again = get(&service, &uri).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.body(), first.body(), "the same bytes");
        assert_eq!(again.headers()[ETAG], first.headers()[ETAG]);
    }
    let stats = service.stats();
    assert_eq!((stats.renders, stats.file_hits), (1, 3), "{stats:?}");
}

#[tokio::test]
async fn a_replaced_avatar_is_rendered_anew_and_a_damaged_file_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(dir.path());
    let george = identity(GEORGE);
    let uri = format!("/avatar/{}?s=64", md5(GEORGE));
    service
        .store()
        .put(&george, Bytes::from(jpeg()))
        .await
        .unwrap();
    let old = get(&service, &uri).await;

    let new_picture = encode(&photo_like(90, 90), image::ImageFormat::Png);
    service
        .store()
        .put(&george, Bytes::from(new_picture))
        .await
        .unwrap();
    let new = get(&service, &uri).await;
    assert_eq!(
        new.headers()["content-type"],
        "image/png",
        "not the old JPEG file"
    );
    assert_ne!(new.headers()[ETAG], old.headers()[ETAG]);
    assert_eq!(service.stats().renders, 2);

    // Every rendition file damaged: the next request renders again and serves a good image.
    for folder in std::fs::read_dir(dir.path().join("renditions"))
        .unwrap()
        .flatten()
    {
        if folder.path().is_dir() {
            for file in std::fs::read_dir(folder.path()).unwrap().flatten() {
                let mut bytes = std::fs::read(file.path()).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0xff;
                std::fs::write(file.path(), bytes).unwrap();
            }
        }
    }
    let after = get(&service, &uri).await;
    assert_eq!(after.body(), new.body());
    let stats = service.stats();
    assert_eq!((stats.renders, stats.file_hits), (3, 0), "{stats:?}");
}
