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
    service_caching(dir, 1)
}

/// [`service`] with a render cache of `cache_bytes` (and so an index of what the store holds,
/// which the cache's budget sizes: none for the 1 byte above).
fn service_caching(dir: &std::path::Path, cache_bytes: u64) -> AvatarService<FsStore> {
    let store = FsStore::open(dir.join("store"))
        .unwrap()
        .external_writes_check(Duration::from_secs(3600));
    AvatarService::builder(store)
        .cache_bytes(cache_bytes)
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

#[tokio::test]
async fn small_sizes_of_a_picture_with_a_kept_rung_are_rendered_without_reading_the_store() {
    let dir = tempfile::tempdir().unwrap();
    // Each size is asked once, so the cache answers none of them; its index knows the picture.
    let service = service_caching(dir.path(), 1 << 20);
    let picture = Bytes::from(encode(&photo_like(300, 200), image::ImageFormat::Jpeg));
    service
        .store()
        .put(&identity(GEORGE), picture.clone())
        .await
        .unwrap();
    let uri = |size: u32| format!("/avatar/{}?s={size}&d=404", md5(GEORGE));
    // The first render reads the picture and keeps its rung.
    assert_eq!(get(&service, &uri(64)).await.status(), StatusCode::OK);

    // The picture goes from under the store, which looks for outside writes once an hour:
    // from now on only the rung can answer.
    let mut removed = 0;
    for entry in walk(&dir.path().join("store")) {
        if entry.file_name().is_some_and(|name| name == "image") {
            std::fs::remove_file(&entry).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 1);
    let sizes = [32, 80, 96, 128];
    let mut answers = Vec::new();
    for size in sizes {
        let answer = get(&service, &uri(size)).await;
        assert_eq!(answer.status(), StatusCode::OK, "{size} px from the rung");
        answers.push(answer);
    }
    let stats = service.stats();
    assert_eq!((stats.renders, stats.file_hits), (5, 0), "{stats:?}");
    // 256 px is rendered from the picture, which is gone.
    assert_eq!(
        get(&service, &uri(256)).await.status(),
        StatusCode::NOT_FOUND
    );

    // The same bytes as rendering from the picture, the rung made anew each time.
    let content = avatar_store::StoredImage::new(picture.clone()).content;
    for (size, answer) in sizes.into_iter().zip(answers) {
        let fresh = tempfile::tempdir().unwrap();
        let files = RenditionFiles::open(fresh.path(), 1 << 20).unwrap();
        let limits = avatar_image::Limits::default();
        let rendered =
            avatar_image::render_stored(&picture, &content, size, None, &limits, &files).unwrap();
        assert_eq!(answer.body(), &rendered.bytes, "{size} px");
    }
}

/// Every file under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
