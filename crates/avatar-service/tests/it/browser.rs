//! A real browser embedding avatars: headless Chromium (Debian's, `scripts/ensure-chromium.sh`)
//! loads a page that is cross-origin isolated (`Cross-Origin-Embedder-Policy: require-corp`,
//! as applications that need `SharedArrayBuffer` serve theirs) with plain `<img>` elements
//! pointing at an `AvatarService` on another origin. Such a page shows a cross-origin picture
//! only if its answer says `Cross-Origin-Resource-Policy: cross-origin`; a picture from a
//! server that sends CORS alone stays blank, which the page shows too.

use std::time::Duration;

use avatar_proto::{TrustedUrl, TrustedUrls};
use avatar_service::AvatarService;
use axum::Router;
use axum::response::{Html, IntoResponse as _};
use axum::routing::get;
use test_support::browser;
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

    let dir = tempfile::tempdir().unwrap();
    let mut chromium = browser::headless(dir.path());
    chromium
        .arg("--virtual-time-budget=10000")
        .arg("--dump-dom")
        .arg(format!("http://{site}/"));
    let found =
        tokio::task::spawn_blocking(move || browser::probe(chromium, Duration::from_secs(60)))
            .await
            .unwrap();
    assert_eq!(found["isolated"], true, "the page is isolated: {found}");
    for id in ["hit", "generated", "redirected"] {
        assert_eq!(found["shown"][id], true, "{id} shows: {found}");
    }
    assert_eq!(
        found["shown"]["cors-only"], false,
        "CORS alone is blocked, so the page does enforce the policy: {found}"
    );
}
