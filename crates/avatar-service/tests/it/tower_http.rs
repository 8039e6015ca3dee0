//! The service and its layer inside the middleware applications put around everything they
//! serve (tower-http's compression, CORS, timeout, tracing, panic catching, body limit and
//! security headers, with `ServeDir` behind), over real TCP: as a plain tower stack on hyper,
//! and as layers of an axum router. Each must compile as an application would write it, and
//! avatars must come through unchanged: not compressed, one `Access-Control-Allow-Origin`,
//! revalidated with `If-None-Match`, and the service's text answers still readable.

use std::io::Read as _;
use std::time::Duration;

use avatar_service::{AvatarLayer, AvatarService};
use avatar_store::MemoryStore;
use axum::Router;
use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_ENCODING, CONTENT_TYPE, ETAG, X_FRAME_OPTIONS,
};
use http::{HeaderName, HeaderValue, Method, Response, StatusCode};
use test_support::suite::*;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::tcp::{fetch, serve_with_hyper};

/// The application's own origin, the one its CORS policy allows.
const FORGE: &str = "https://forge.example";
/// A static file of the application, served by `ServeDir` behind the avatar layer.
const STYLESHEET: &str = "body { font-family: sans-serif; color: #222; background: #fafafa; }\n";

/// The application's static files: one stylesheet.
fn static_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.css"), STYLESHEET).unwrap();
    dir
}

/// `Cross-Origin-Resource-Policy`, which `http` has no constant for.
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

/// The layers of an application, outermost first: what a forge puts around every route it
/// serves (a macro, as the stack's type depends on what it wraps).
macro_rules! application_layers {
    () => {
        ServiceBuilder::new()
            .layer(CatchPanicLayer::new())
            .layer(TraceLayer::new_for_http())
            // Outside CORS and the timeout: its own body type has no `Default`, which they
            // ask of what they wrap.
            .layer(RequestBodyLimitLayer::new(1 << 20))
            .layer(CompressionLayer::new())
            .layer(
                CorsLayer::new().allow_origin(AllowOrigin::exact(HeaderValue::from_static(FORGE))),
            )
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                X_FRAME_OPTIONS,
                HeaderValue::from_static("DENY"),
            ))
            // A forge that keeps its pictures to its own sites.
            .layer(SetResponseHeaderLayer::overriding(
                CROSS_ORIGIN_RESOURCE_POLICY,
                HeaderValue::from_static("same-site"),
            ))
    };
}

/// The service alone, prefixed as the application mounts it.
async fn avatars() -> AvatarService<MemoryStore> {
    AvatarService::builder(store().await)
        .prefix("/avatars")
        .build()
        .unwrap()
}

/// What the application's stack must leave as the service answers it, at `base` (the stack's
/// address), compared with the service alone.
async fn check_avatars_come_through(base: &str) {
    let alone = avatars().await;
    let path = format!("/avatars/avatar/{}?s=96", md5(GEORGE));
    let expected = get(&alone, &path).await;
    assert_eq!(expected.status(), StatusCode::OK);

    let browser = [("accept-encoding", "gzip, deflate, br"), ("origin", FORGE)];
    let url = format!("{base}{path}");
    let response = fetch(Method::GET, url.clone(), &browser).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        header_lines(&response)
    );
    // Pictures are not compressed again, and arrive byte for byte.
    assert_eq!(response.headers().get(CONTENT_ENCODING), None);
    assert_eq!(response.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(response.body(), expected.body());
    assert_eq!(response.headers()[ETAG], expected.headers()[ETAG]);
    // One Access-Control-Allow-Origin: two (ours and the application's) make browsers refuse.
    let origins: Vec<_> = response
        .headers()
        .get_all(ACCESS_CONTROL_ALLOW_ORIGIN)
        .iter()
        .collect();
    assert_eq!(origins, [FORGE], "{}", header_lines(&response));
    assert_eq!(response.headers()[X_FRAME_OPTIONS], "DENY");
    // The application's resource policy replaces the service's `cross-origin`.
    let policies: Vec<_> = response
        .headers()
        .get_all(CROSS_ORIGIN_RESOURCE_POLICY)
        .iter()
        .collect();
    assert_eq!(policies, ["same-site"], "{}", header_lines(&response));
    assert_eq!(
        expected.headers()[CROSS_ORIGIN_RESOURCE_POLICY],
        "cross-origin"
    );

    let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
    let mut revalidating = browser.to_vec();
    revalidating.push(("if-none-match", &etag));
    let revalidated = fetch(Method::GET, url.clone(), &revalidating).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert!(revalidated.body().is_empty());

    let head = fetch(Method::HEAD, url.clone(), &browser).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());

    // The service's text answers may be compressed by the application, and still say what
    // was wrong once decompressed.
    let bad = fetch(
        Method::GET,
        format!("{base}/avatars/avatar/not-a-hash"),
        &browser,
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let said = text_of(&bad);
    let alone_said = get(&alone, "/avatars/avatar/not-a-hash").await;
    assert_eq!(said.as_bytes(), alone_said.body().as_ref());

    // A browser's preflight is the application's CORS layer's to answer.
    let preflight = fetch(
        Method::OPTIONS,
        url.clone(),
        &[("origin", FORGE), ("access-control-request-method", "GET")],
    )
    .await;
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], FORGE);
    assert!(preflight.body().is_empty());

    // Everything else reaches the application.
    let css = fetch(Method::GET, format!("{base}/app.css"), &browser).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(text_of(&css), STYLESHEET);
}

/// A response's body as text, gunzipped when the application compressed it.
fn text_of(response: &Response<Bytes>) -> String {
    let mut text = String::new();
    match response.headers().get(CONTENT_ENCODING) {
        None => text = String::from_utf8(response.body().to_vec()).unwrap(),
        Some(encoding) => {
            assert_eq!(encoding, "gzip");
            flate2::read::GzDecoder::new(response.body().as_ref())
                .read_to_string(&mut text)
                .unwrap();
        }
    }
    text
}

#[tokio::test]
async fn in_a_tower_stack_on_hyper() {
    let files = static_files();
    let stack = application_layers!()
        .layer(AvatarLayer::new(avatars().await))
        .service(ServeDir::new(files.path()));
    let addr = serve_with_hyper(stack).await;
    check_avatars_come_through(&format!("http://{addr}")).await;
}

#[tokio::test]
async fn the_service_alone_in_a_tower_stack_on_hyper() {
    let stack = application_layers!().service(avatars().await);
    let addr = serve_with_hyper(stack).await;
    let path = format!("/avatars/avatar/{}?s=64", md5(GEORGE));
    let response = fetch(
        Method::GET,
        format!("http://{addr}{path}"),
        &[("accept-encoding", "gzip"), ("origin", FORGE)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), get(&avatars().await, &path).await.body());
}

#[tokio::test]
async fn a_timeout_answers_with_its_own_empty_body() {
    // No render finishes within no time: the timeout answers instead, with our body's default.
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::ZERO,
        ))
        .service(avatars().await);
    let addr = serve_with_hyper(stack).await;
    let cold = format!("http://{addr}/avatars/avatar/{}?s=77", md5(GEORGE));
    let response = fetch(Method::GET, cold, &[]).await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(response.body().is_empty());
}

#[tokio::test]
async fn in_an_axum_router() {
    let files = static_files();
    let router = Router::new()
        .route("/", axum::routing::get(|| async { "the forge" }))
        .fallback_service(ServeDir::new(files.path()))
        .layer(AvatarLayer::new(avatars().await))
        .layer(application_layers!());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    check_avatars_come_through(&format!("http://{addr}")).await;
}
