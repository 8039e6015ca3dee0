//! Response formats (`docs/protocol.md` `[server.format]`) where only the service can show them:
//! the builder's choice of formats, which encoder each source gets, and animations kept as
//! animated WebP. The black-box rules (extension, `Accept`, `Vary`, `ETag` and 304 per format)
//! are conformance cases (`server-format-*`), run against this service by the harness.

use std::io::Cursor;

use avatar_proto::OutputFormats;
use avatar_service::{AvatarService, ServiceError};
use http::{Request, StatusCode};
use image::AnimationDecoder as _;
use test_support::suite::*;

const CHROME_ACCEPT: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

async fn get_accepting(
    service: &AvatarService<avatar_store::MemoryStore>,
    uri: &str,
    accept: &str,
) -> http::Response<bytes::Bytes> {
    send(
        service,
        Request::get(uri).header("accept", accept).body(()).unwrap(),
    )
    .await
}

/// The WebP container's first chunk: `VP8 ` is lossy, `VP8L` lossless, `VP8X` extended.
fn webp_chunk(body: &[u8]) -> &[u8] {
    &body[12..16]
}

fn webp_frames(body: &[u8]) -> usize {
    image::codecs::webp::WebPDecoder::new(Cursor::new(body))
        .unwrap()
        .into_frames()
        .take(100)
        .map(Result::unwrap)
        .count()
}

#[tokio::test]
async fn a_photo_becomes_lossy_webp_and_a_drawn_default_lossless_webp() {
    let service = service().await;
    let photo = get_accepting(
        &service,
        &format!("/avatar/{}?s=64", md5(JPEG_OWNER)),
        CHROME_ACCEPT,
    )
    .await;
    assert_eq!(photo.headers()["content-type"], "image/webp");
    assert_eq!(
        webp_chunk(photo.body()),
        b"VP8 ",
        "a JPEG source gets lossy WebP"
    );
    assert_eq!(dimensions(photo.body()), (64, 64));
    // The second answer comes from the render cache, without waiting: the same choice.
    let again = get_accepting(
        &service,
        &format!("/avatar/{}?s=64", md5(JPEG_OWNER)),
        CHROME_ACCEPT,
    )
    .await;
    assert_eq!(again.headers()["vary"], "accept");
    assert_eq!(again.body(), photo.body());
    let plain = get(&service, &format!("/avatar/{}?s=64", md5(JPEG_OWNER))).await;
    assert_eq!(plain.headers()["content-type"], "image/jpeg");
    assert_eq!(plain.headers()["vary"], "accept");
    assert_ne!(plain.headers()["etag"], photo.headers()["etag"]);

    let png = get_accepting(
        &service,
        &format!("/avatar/{}?s=64", md5(GEORGE)),
        CHROME_ACCEPT,
    )
    .await;
    assert_eq!(
        webp_chunk(png.body()),
        b"VP8L",
        "a PNG source gets lossless WebP"
    );
    // Lossless: exactly the pixels of the PNG rendition.
    let as_png = get(&service, &format!("/avatar/{}.png?s=64", md5(GEORGE))).await;
    assert_eq!(
        image::load_from_memory(png.body()).unwrap().to_rgb8(),
        image::load_from_memory(as_png.body()).unwrap().to_rgb8()
    );

    let drawn = get_accepting(
        &service,
        &format!("/avatar/{}?s=64&d=identicon", md5(NOBODY)),
        CHROME_ACCEPT,
    )
    .await;
    assert_eq!(drawn.headers()["content-type"], "image/webp");
    assert_eq!(drawn.headers()["vary"], "accept");
    let as_png = get(
        &service,
        &format!("/avatar/{}.png?s=64&d=identicon", md5(NOBODY)),
    )
    .await;
    assert_eq!(
        image::load_from_memory(drawn.body()).unwrap().to_rgba8(),
        image::load_from_memory(as_png.body()).unwrap().to_rgba8(),
        "the WebP default has the PNG default's exact pixels"
    );
}

#[tokio::test]
async fn an_animated_gif_stays_animated_as_webp_and_as_gif_and_is_one_frame_as_png() {
    let service = service().await;
    let uri = format!("/avatar/{}?s=32", md5(ANIMATED));
    let webp = get_accepting(&service, &uri, "image/webp").await;
    assert_eq!(webp.headers()["content-type"], "image/webp");
    assert_eq!(webp_frames(webp.body()), 3, "three frames, as stored");

    let gif = get(&service, &uri).await;
    assert_eq!(gif.headers()["content-type"], "image/gif");
    let png = get(&service, &format!("/avatar/{}.png?s=32", md5(ANIMATED))).await;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(dimensions(png.body()), (32, 32));
}

#[tokio::test]
async fn an_uploaded_animated_webp_stays_animated_as_webp_and_as_gif() {
    // A chat app's animated avatar: lossy animated WebP, larger than the master side.
    let store = store().await;
    let address = "animated-webp@example.org";
    let upload = test_support::images::animated_webp(4, 600);
    let uploaded = avatar_service::upload::store_upload(
        &store,
        &[identity(address)],
        upload.into(),
        &avatar_image::Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(uploaded.stored_square, Some(512));
    let service = AvatarService::new(store);
    let uri = format!("/avatar/{}?s=48", md5(address));
    let webp = get_accepting(&service, &uri, CHROME_ACCEPT).await;
    assert_eq!(webp.headers()["content-type"], "image/webp");
    assert_eq!(webp_frames(webp.body()), 4, "four frames, as uploaded");
    let gif = get(&service, &format!("/avatar/{}.gif?s=48", md5(address))).await;
    let frames = image::codecs::gif::GifDecoder::new(Cursor::new(&gif.body()[..]))
        .unwrap()
        .into_frames()
        .count();
    assert_eq!(frames, 4);
}

#[tokio::test]
async fn a_transparent_default_as_jpeg_is_shown_on_white() {
    let service = service().await;
    let blank = get(
        &service,
        &format!("/avatar/{}.jpg?s=16&d=blank", md5(NOBODY)),
    )
    .await;
    assert_eq!(blank.status(), StatusCode::OK);
    assert_eq!(blank.headers()["content-type"], "image/jpeg");
    let pixels = image::load_from_memory(blank.body()).unwrap().to_rgb8();
    assert!(
        pixels
            .pixels()
            .all(|pixel| pixel.0.iter().all(|&c| c >= 250)),
        "white, not black"
    );
}

#[tokio::test]
async fn stored_only_never_looks_at_accept_and_never_varies() {
    let service = AvatarService::builder(store().await)
        .output_formats(OutputFormats::STORED_ONLY)
        .build()
        .unwrap();
    let hit = get_accepting(
        &service,
        &format!("/avatar/{}?s=40", md5(JPEG_OWNER)),
        CHROME_ACCEPT,
    )
    .await;
    assert_eq!(hit.headers()["content-type"], "image/jpeg");
    assert!(hit.headers().get("vary").is_none());
    // An extension is still honoured: it names the resource, not a preference.
    let png = get(&service, &format!("/avatar/{}.png?s=40", md5(JPEG_OWNER))).await;
    assert_eq!(png.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn the_default_build_serves_no_avif_and_refuses_to_offer_it() {
    let service = service().await;
    let hit = get_accepting(
        &service,
        &format!("/avatar/{}.avif?s=40", md5(JPEG_OWNER)),
        "image/avif",
    )
    .await;
    assert_eq!(
        hit.headers()["content-type"],
        "image/jpeg",
        "not offered: the stored format"
    );
    let refused = AvatarService::builder(store().await)
        .output_formats(OutputFormats::default().avif(true))
        .build();
    if cfg!(feature = "avif") {
        assert!(refused.is_ok());
    } else {
        let err = refused.unwrap_err();
        assert!(matches!(err, ServiceError::AvifNotBuilt));
        assert!(err.to_string().contains("--features avif"), "{err}");
    }
}

#[cfg(feature = "avif")]
#[tokio::test]
async fn avif_is_sent_to_clients_that_list_it_but_not_webp() {
    let service = AvatarService::builder(store().await)
        .output_formats(OutputFormats::default().avif(true))
        .build()
        .unwrap();
    let uri = format!("/avatar/{}?s=40", md5(JPEG_OWNER));
    let avif = get_accepting(&service, &uri, "image/avif,*/*").await;
    assert_eq!(avif.headers()["content-type"], "image/avif");
    assert_eq!(
        avatar_proto::ImageFormat::sniff(avif.body()),
        Some(avatar_proto::ImageFormat::Avif)
    );
    let webp = get_accepting(&service, &uri, CHROME_ACCEPT).await;
    assert_eq!(webp.headers()["content-type"], "image/webp");
}
