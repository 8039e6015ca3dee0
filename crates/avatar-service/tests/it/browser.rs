//! A real browser embedding avatars: headless Chromium (Debian's, `scripts/ensure-chromium.sh`)
//! loads a page that is cross-origin isolated (`Cross-Origin-Embedder-Policy: require-corp`,
//! as applications that need `SharedArrayBuffer` serve theirs) with plain `<img>` elements
//! pointing at an `AvatarService` on another origin. Such a page shows a cross-origin picture
//! only if its answer says `Cross-Origin-Resource-Policy: cross-origin`; a picture from a
//! server that sends CORS alone stays blank, which the page shows too.
//!
//! And a phone photo's colours: a page showing an uploaded Display P3 photo beside its
//! avatars, read back through a canvas, sees the same colours in both.

use std::time::Duration;

use avatar_image::Limits;
use avatar_proto::{TrustedUrl, TrustedUrls};
use avatar_service::AvatarService;
use avatar_service::upload::store_upload;
use axum::Router;
use axum::response::{Html, IntoResponse as _};
use axum::routing::get;
use test_support::browser;
use test_support::icc::{display_p3, with_profile};
use test_support::images::{encode, solid};
use test_support::suite::{GEORGE, NOBODY, george_png, md5, store};

/// After every picture has loaded or failed: whether the page is isolated, and which show.
const PROBE: &str = r"<script>
window.addEventListener('load', () => {
  const result = document.createElement('pre');
  result.id = 'browser-result';
  result.textContent = JSON.stringify({
    isolated: self.crossOriginIsolated,
    shown: Object.fromEntries([...document.images].map(
      (image) => [image.id, image.complete && image.naturalWidth > 0])),
  });
  document.body.appendChild(result);
});
</script>";

async fn serve(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// What the probe script of the page at `url` found, loaded in headless Chromium with `flags`.
async fn probe(url: &str, flags: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut chromium = browser::headless(dir.path());
    chromium
        .args(flags)
        .arg("--virtual-time-budget=10000")
        .arg("--dump-dom")
        .arg(url);
    tokio::task::spawn_blocking(move || browser::probe(chromium, Duration::from_secs(60)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_isolated_page_shows_avatars_hits_defaults_and_redirects() {
    if !browser::available("a_cross_origin_isolated_page_shows_avatars_hits_defaults_and_redirects")
    {
        return;
    }
    // The page's origin, bound first: the avatar server trusts its fallback picture.
    let page_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = page_listener.local_addr().unwrap();
    let fallback = format!("http://{site}/fallback.png");

    let avatars = AvatarService::builder(store().await)
        .trusted_urls(TrustedUrls::none().with(fallback.parse::<TrustedUrl>().unwrap()))
        .build()
        .unwrap();
    let avatars = serve(Router::new().fallback_service(avatars)).await;
    // Another origin's picture with CORS but no CORP: what the page must not be able to show.
    let cors_only = serve(Router::new().route(
        "/plain.png",
        get(|| async {
            (
                [
                    ("content-type", "image/png"),
                    ("access-control-allow-origin", "*"),
                ],
                george_png(),
            )
                .into_response()
        }),
    ))
    .await;

    let (george, nobody) = (md5(GEORGE), md5(NOBODY));
    let escaped_fallback = fallback.replace(':', "%3A").replace('/', "%2F");
    let page = format!(
        "<!doctype html><title>people</title>\
         <img id=hit src=\"http://{avatars}/avatar/{george}?s=64\">\
         <img id=generated src=\"http://{avatars}/avatar/{nobody}?s=64&amp;d=identicon\">\
         <img id=redirected src=\"http://{avatars}/avatar/{nobody}?s=64&amp;d={escaped_fallback}\">\
         <img id=cors-only src=\"http://{cors_only}/plain.png\">{PROBE}"
    );
    let site_router = Router::new()
        .route(
            "/",
            get(move || {
                let page = page.clone();
                async move {
                    (
                        [
                            ("cross-origin-embedder-policy", "require-corp"),
                            ("cross-origin-opener-policy", "same-origin"),
                        ],
                        Html(page),
                    )
                }
            }),
        )
        .route(
            "/fallback.png",
            get(|| async { ([("content-type", "image/png")], george_png()) }),
        );
    tokio::spawn(async move { axum::serve(page_listener, site_router).await });

    let found = probe(&format!("http://{site}/"), &[]).await;
    assert_eq!(found["isolated"], true, "the page is isolated: {found}");
    for id in ["hit", "generated", "redirected"] {
        assert_eq!(found["shown"][id], true, "{id} shows: {found}");
    }
    assert_eq!(
        found["shown"]["cors-only"], false,
        "CORS alone is blocked, so the page does enforce the policy: {found}"
    );
}

/// After every picture has loaded: the colour at its centre, as the page draws it (Chromium
/// draws a picture with a colour profile in the canvas's sRGB, as it shows it on screen).
const COLOUR_PROBE: &str = r"<script>
window.addEventListener('load', () => {
  const colours = {};
  for (const image of document.images) {
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const [x, y] = [canvas.width >> 1, canvas.height >> 1];
    colours[image.id] = Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
  }
  const result = document.createElement('pre');
  result.id = 'browser-result';
  result.textContent = JSON.stringify(colours);
  document.body.appendChild(result);
});
</script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_p3_photo_and_its_avatars_show_the_same_colours() {
    if !browser::available("a_display_p3_photo_and_its_avatars_show_the_same_colours") {
        return;
    }
    // A saturated green, where Display P3 and sRGB differ by some 60 levels of red: a small
    // PNG (stored as uploaded) and a large JPEG (stored as its master), both tagged P3.
    let green = [60, 170, 90];
    let small = with_profile(
        &encode(&solid(300, 240, green), image::ImageFormat::Png),
        &display_p3(),
    );
    let large = with_profile(
        &encode(&solid(1600, 1200, green), image::ImageFormat::Jpeg),
        &display_p3(),
    );
    let store = store().await;
    for (address, upload) in [("small@example.org", &small), ("large@example.org", &large)] {
        let identity = test_support::suite::identity(address);
        store_upload(
            &store,
            &[identity],
            upload.clone().into(),
            &Limits::default(),
        )
        .await
        .unwrap();
    }
    let (small_hash, large_hash) = (md5("small@example.org"), md5("large@example.org"));
    let page = format!(
        "<!doctype html><title>colours</title>\
         <img id=small src=/small.png><img id=large src=/large.jpg>\
         <img id=small-avatar src=\"/avatar/{small_hash}?s=80\">\
         <img id=small-webp src=\"/avatar/{small_hash}.webp?s=40\">\
         <img id=large-avatar src=\"/avatar/{large_hash}?s=80\">\
         <img id=large-big src=\"/avatar/{large_hash}?s=512\">{COLOUR_PROBE}"
    );
    let avatars = AvatarService::new(store);
    let site = Router::new()
        .route("/", get(move || async move { Html(page) }))
        .route(
            "/small.png",
            get(move || async move { ([("content-type", "image/png")], small) }),
        )
        .route(
            "/large.jpg",
            get(move || async move { ([("content-type", "image/jpeg")], large) }),
        )
        .fallback_service(avatars);
    let site = serve(site).await;

    // The screen Chromium draws for is sRGB, as most are.
    let found = probe(&format!("http://{site}/"), &["--force-color-profile=srgb"]).await;
    let colour = |id: &str| -> [u8; 3] {
        serde_json::from_value(found[id].clone()).unwrap_or_else(|_| panic!("{id}: {found}"))
    };
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 3);
    // The browser does show the uploads through their profile, or this test proves nothing.
    for original in ["small", "large"] {
        assert!(
            !near(colour(original), green),
            "{original} is shown as P3: {found}"
        );
    }
    for (original, avatar) in [
        ("small", "small-avatar"),
        ("small", "small-webp"),
        ("large", "large-avatar"),
        ("large", "large-big"),
    ] {
        assert!(
            near(colour(original), colour(avatar)),
            "{avatar} shows the colour of {original}: {found}"
        );
    }
}
