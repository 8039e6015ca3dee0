//! The upload path as an application uses it: `examples/axum.rs` over real TCP, with real
//! multipart requests from the raw client, including a 3 MB picture above axum's 2 MB default
//! body limit.

use avatar_proto::{HashAlgorithm, Identity};
use test_support::raw_http::{self, FormPart, RawResponse};
use test_support::{exif, images};

use crate::axum_example;

/// Serves the example application on a free loopback port, on a store in a new directory.
async fn start_example() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = axum_example::app(&dir.path().join("data")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, dir)
}

/// Sends `request` from a blocking thread (the raw client is synchronous).
async fn send(addr: &str, request: Vec<u8>) -> RawResponse {
    let addr = addr.to_owned();
    tokio::task::spawn_blocking(move || raw_http::request(&addr, &request))
        .await
        .unwrap()
}

async fn upload(addr: &str, user: &str, file: &[u8]) -> RawResponse {
    let login = if user.is_empty() {
        String::new()
    } else {
        format!("x-demo-user: {user}\r\n")
    };
    send(
        addr,
        raw_http::multipart_post(addr, "/me/avatar", &login, "avatar", "me.png", file),
    )
    .await
}

async fn get(addr: &str, path: &str) -> RawResponse {
    let addr = addr.to_owned();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || raw_http::get(&addr, &path))
        .await
        .unwrap()
}

fn md5_of(address: &str) -> String {
    Identity::parse(address)
        .unwrap()
        .hash(HashAlgorithm::Md5)
        .to_string()
}

fn body(response: &RawResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3_mb_upload_is_stored_for_every_address_and_served_at_once() {
    let (addr, _dir) = start_example().await;
    let picture = images::encode(&images::noise(1000, 1000, 7), image::ImageFormat::Png);
    assert!(
        picture.len() > 2_900_000,
        "a 3 MB file: {} bytes",
        picture.len()
    );

    let work = md5_of("alice@work.example");
    assert_eq!(get(&addr, &format!("/has-avatar/{work}")).await.status, 404);

    let stored = upload(&addr, "alice", &picture).await;
    assert_eq!(stored.status, 201, "{}", body(&stored));
    let message = body(&stored);
    assert!(
        message.starts_with(
            "stored a PNG 512 x 512 picture for alice@example.org, alice@work.example \
             (from a 1000 x 1000 upload): /avatars/avatar/"
        ),
        "{message}"
    );
    assert!(
        message.trim_end().contains("?s=128&v="),
        "a cache-busting URL: {message}"
    );

    // Both addresses answer at once, from the cheap check and from the service.
    assert_eq!(get(&addr, &format!("/has-avatar/{work}")).await.status, 204);
    let url = message.trim_end().rsplit(": ").next().unwrap().to_owned();
    let served = get(&addr, &url).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/png"));
    let shown = image::load_from_memory(&served.body).unwrap();
    assert_eq!((shown.width(), shown.height()), (128, 128));
    let nested = get(&addr, &format!("/nested/avatar/{work}?s=32&d=404")).await;
    assert_eq!(nested.status, 200, "the other front door sees it too");

    // Removing takes it away from every address.
    let removed = send(
        &addr,
        format!(
            "DELETE /me/avatar HTTP/1.1\r\nHost: {addr}\r\nx-demo-user: alice\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", body(&removed));
    for address in ["alice@example.org", "alice@work.example"] {
        let hash = md5_of(address);
        assert_eq!(get(&addr, &format!("/has-avatar/{hash}")).await.status, 404);
        let gone = get(&addr, &format!("/avatars/avatar/{hash}?d=404")).await;
        assert_eq!(gone.status, 404, "{address}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_uploads_get_their_status_and_a_reason() {
    let (addr, _dir) = start_example().await;
    let george = md5_of("george@example.com");

    let anonymous = upload(&addr, "", &images::png(&images::solid(10, 10, [1, 2, 3]))).await;
    assert_eq!(anonymous.status, 401);

    let text = upload(
        &addr,
        "george",
        b"these are not the pixels you are looking for",
    )
    .await;
    assert_eq!(text.status, 415, "{}", body(&text));
    assert!(body(&text).contains("not a PNG, JPEG, GIF or WebP image"));

    // Over the 8 MiB image limit but inside the request limit: the library's 413.
    let large = vec![0u8; (8 << 20) + 1000];
    let too_large = upload(&addr, "george", &large).await;
    assert_eq!(too_large.status, 413, "{}", body(&too_large));
    assert!(body(&too_large).contains("at most 8388608 bytes are accepted"));

    // Far over the request limit: axum's 413, before the body is read.
    let huge = upload(&addr, "george", &vec![0u8; 12 << 20]).await;
    assert_eq!(huge.status, 413);

    let bomb = test_support::hostile::png_claiming(100_000, 100_000);
    let refused = upload(&addr, "george", &bomb).await;
    assert_eq!(refused.status, 422, "{}", body(&refused));
    assert!(body(&refused).contains("each side must be from 1 to 8192 pixels"));

    let mut truncated = images::encode(&images::photo_like(64, 64), image::ImageFormat::Jpeg);
    truncated.truncate(truncated.len() / 2);
    let corrupt = upload(&addr, "george", &truncated).await;
    assert_eq!(corrupt.status, 422, "{}", body(&corrupt));

    let no_field = send(
        &addr,
        raw_http::multipart_post(
            &addr,
            "/me/avatar",
            "x-demo-user: george\r\n",
            "photo",
            "a.png",
            b"x",
        ),
    )
    .await;
    assert_eq!(no_field.status, 400);
    assert!(body(&no_field).contains("field named `avatar`"));

    assert_eq!(
        get(&addr, &format!("/has-avatar/{george}")).await.status,
        404,
        "nothing stored"
    );
    assert_eq!(get(&addr, "/has-avatar/not-a-hash").await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_photo_on_its_side_is_stored_and_reported_upright() {
    let (addr, _dir) = start_example().await;
    let sideways = images::encode(&images::photo_like(120, 90), image::ImageFormat::Jpeg);
    let stored = upload(&addr, "george", &exif::with_orientation(&sideways, 8)).await;
    assert_eq!(stored.status, 201, "{}", body(&stored));
    // Stored as it came (under the master side), and said to be upright: 90 wide, 120 high.
    assert_eq!(
        body(&stored).split(": ").next(),
        Some("stored a JPEG 90 x 120 picture for george@example.com")
    );
}

/// The decode runs on a blocking thread: on a one-thread runtime, another task keeps running
/// while a large upload is validated (were it decoded inline, that task could not run at all
/// before `store_upload` returned, as nothing else in it waits).
#[test]
fn uploads_are_validated_off_the_async_runtime() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use avatar_image::Limits;
    use avatar_service::upload::store_upload;
    use avatar_store::MemoryStore;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let picture = images::encode(&images::noise(1500, 1500, 3), image::ImageFormat::Png);
    let ticks = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        let store = MemoryStore::new();
        let alice = [Identity::parse("alice@example.org").unwrap()];
        let during = ticks.load(Ordering::Relaxed);
        store_upload(&store, &alice, picture.into(), &Limits::DEFAULT)
            .await
            .unwrap();
        let after = ticks.load(Ordering::Relaxed);
        ticker.abort();
        assert!(
            after > during,
            "the runtime ran other tasks during the decode"
        );
    });
}

/// An upload larger than the master side is stored as its master, so no render of it ever
/// decodes the large original; the uploader is told the picture's own dimensions, and the
/// version is that of what is stored.
#[tokio::test]
async fn a_large_upload_is_stored_as_its_bounded_master() {
    use avatar_image::{Limits, probe};
    use avatar_service::upload::store_upload;
    use avatar_store::{MemoryStore, Store as _};

    let store = MemoryStore::new();
    let alice = [Identity::parse("alice@example.org").unwrap()];
    let picture = images::encode(&images::photo_like(2400, 1600), image::ImageFormat::Jpeg);
    let uploaded = store_upload(&store, &alice, picture.clone().into(), &Limits::DEFAULT)
        .await
        .unwrap();
    assert_eq!((uploaded.image.width, uploaded.image.height), (2400, 1600));

    let stored = store
        .get(&alice[0].hash(HashAlgorithm::Md5))
        .await
        .unwrap()
        .unwrap();
    let header = probe(&stored.bytes, &Limits::DEFAULT).unwrap();
    assert_eq!((header.width, header.height), (512, 512));
    assert!(stored.bytes.len() < picture.len());
    assert_eq!(
        uploaded.version,
        avatar_proto::hex::encode_lower(&stored.content[..6])
    );
}

/// A page's cropping tool sends the square the person chose with the picture: the example's
/// form takes it in a `crop` field, before or after the picture, and that square is what every
/// address then shows. A crop not written as `X,Y,SIDE` is a 400, one outside the picture a
/// 422, two pictures or none a 400, and none of them stores anything.
#[tokio::test]
async fn the_square_chosen_in_a_cropping_tool_is_what_is_stored() {
    let (addr, _dir) = start_example().await;
    // Red on the left half, blue on the right: the person chose a square of the blue.
    let picture = images::encode(
        &image::RgbImage::from_fn(600, 400, |x, _| {
            image::Rgb(if x < 300 {
                [220, 30, 30]
            } else {
                [30, 30, 220]
            })
        }),
        image::ImageFormat::Png,
    );
    let post = |crop: &str| {
        raw_http::multipart_post_with(
            &addr,
            "/me/avatar",
            "x-demo-user: alice\r\n",
            &[("crop", crop)],
            "avatar",
            "me.png",
            &picture,
        )
    };
    // The crop after the picture, as a script appending to a FormData may send it.
    let post_crop_after = |crop: &str| {
        let file = FormPart::File {
            name: "avatar",
            file_name: "me.png",
            bytes: &picture,
        };
        let parts = [file, FormPart::Text("crop", crop)];
        raw_http::multipart_post_parts(&addr, "/me/avatar", "x-demo-user: alice\r\n", &parts)
    };
    for (crop, status, says) in [
        ("320,40,300,", 400, "expected X,Y,SIDE"),
        ("320,200,300", 422, "does not fit in the 600 x 400 picture"),
    ] {
        for request in [post(crop), post_crop_after(crop)] {
            let refused = send(&addr, request).await;
            assert_eq!(refused.status, status, "{crop}: {}", body(&refused));
            assert!(body(&refused).contains(says), "{crop}: {}", body(&refused));
        }
    }
    // Two pictures, or none (a body that is no form at all): 400, saying what to send.
    let file = FormPart::File {
        name: "avatar",
        file_name: "me.png",
        bytes: &picture,
    };
    let two = raw_http::multipart_post_parts(
        &addr,
        "/me/avatar",
        "x-demo-user: alice\r\n",
        &[file, file],
    );
    let mut bare = b"POST /me/avatar HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                     x-demo-user: alice\r\nContent-Type: image/png\r\n"
        .to_vec();
    bare.extend_from_slice(format!("Content-Length: {}\r\n\r\n", picture.len()).as_bytes());
    bare.extend_from_slice(&picture);
    for (request, says) in [
        (two, "the form has two fields named `avatar`"),
        (bare, "curl -F avatar=@FILE"),
    ] {
        let refused = send(&addr, request).await;
        assert_eq!(refused.status, 400, "{}", body(&refused));
        assert!(body(&refused).contains(says), "{}", body(&refused));
    }
    let nothing = get(
        &addr,
        &format!("/avatars/avatar/{}?d=404", md5_of("alice@example.org")),
    )
    .await;
    assert_eq!(nothing.status, 404, "nothing was stored");

    let stored = send(&addr, post_crop_after("320,40,250")).await;
    assert_eq!(stored.status, 201, "{}", body(&stored));
    assert!(
        body(&stored).starts_with(
            "stored a PNG 250 x 250 picture for alice@example.org, alice@work.example \
             (from a 600 x 400 upload)"
        ),
        "the square stored, not the upload: {}",
        body(&stored)
    );
    let avatar = get(
        &addr,
        &format!("/avatars/avatar/{}.png?s=64", md5_of("alice@example.org")),
    )
    .await;
    assert_eq!(avatar.status, 200);
    let pixels = image::load_from_memory(&avatar.body).unwrap().to_rgb8();
    assert!(
        pixels.pixels().all(|pixel| pixel.0 == [30, 30, 220]),
        "blue only"
    );
}

/// The library call under the form: the crop is reported back with the side stored.
#[tokio::test]
async fn store_upload_with_a_crop_reports_the_square_stored() {
    use avatar_image::{Crop, Limits};
    use avatar_service::upload::{UploadOptions, store_upload_with};
    use avatar_store::MemoryStore;

    let alice = [Identity::parse("alice@example.org").unwrap()];
    let picture = images::encode(&images::photo_like(2400, 1600), image::ImageFormat::Jpeg);
    let crop = Crop {
        x: 1200,
        y: 100,
        side: 1000,
    };
    let options = UploadOptions::new().crop(crop);
    let uploaded = store_upload_with(
        &MemoryStore::new(),
        &alice,
        picture.into(),
        &Limits::DEFAULT,
        &options,
    )
    .await
    .unwrap();
    assert_eq!((uploaded.image.width, uploaded.image.height), (2400, 1600));
    assert_eq!(uploaded.crop, Some(crop));
    assert_eq!(uploaded.stored_square, Some(512), "at the master side");
    let stored = uploaded.stored_image();
    assert_eq!(
        (stored.format, stored.width, stored.height),
        (uploaded.image.format, 512, 512),
        "the picture stored is the square, in the upload's format"
    );
}
