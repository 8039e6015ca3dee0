//! Over real TCP on 127.0.0.1: the service alone (hyper and axum), nested, as a layer, and the
//! upstream fallback against a real (local) upstream server.

use std::net::SocketAddr;
use std::time::Duration;

use avatar_service::{AvatarLayer, AvatarService, Upstream};
use avatar_store::MemoryStore;
use axum::Router;
use axum::response::IntoResponse as _;
use axum::routing;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use test_support::suite::*;

async fn serve_router(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// `service` straight on hyper, no axum in between, one task per connection.
pub(crate) async fn serve_with_hyper<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// `method` on `url` with `headers`, over a fresh hyper client; the whole answer.
pub(crate) async fn fetch(
    method: Method,
    url: String,
    headers: &[(&str, &str)],
) -> Response<Bytes> {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn served_by_hyper_over_tcp_with_head_and_304() {
    let addr = serve_with_hyper(service().await).await;
    let url = format!("http://{addr}/avatar/{}?s=120", md5(GEORGE));
    let response = fetch(Method::GET, url.clone(), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(dimensions(response.body()), (120, 120));
    assert_eq!(
        response.headers()["content-length"],
        response.body().len().to_string().as_str()
    );

    let head = fetch(Method::HEAD, url.clone(), &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    assert_eq!(
        head.headers()["content-length"],
        response.headers()["content-length"]
    );
    assert_eq!(head.headers()["etag"], response.headers()["etag"]);

    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let revalidated = fetch(Method::GET, url, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert!(revalidated.body().is_empty());

    let bad = fetch(Method::GET, format!("http://{addr}/avatar/zzz"), &[]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn nested_in_axum() {
    let router = Router::new()
        .route("/", routing::get(|| async { "home" }))
        .nest_service("/avatars", service().await);
    let addr = serve_router(router).await;
    let response = fetch(
        Method::GET,
        format!("http://{addr}/avatars/avatar/{}?s=30", sha256(GEORGE)),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(dimensions(response.body()), (30, 30));
    assert_eq!(
        fetch(Method::GET, format!("http://{addr}/"), &[])
            .await
            .body()
            .as_ref(),
        b"home"
    );
}

fn application() -> Router {
    Router::new()
        .route(
            "/",
            routing::get(|| async { ([("x-app", "yes")], "the application's home page") }),
        )
        .route(
            "/avatar-lookalike/x",
            routing::get(|| async { "not an avatar" }),
        )
        .route("/echo", routing::post(|body: Bytes| async move { body }))
        .fallback(|| async { (StatusCode::IM_A_TEAPOT, "application fallback") })
}

#[tokio::test]
async fn the_layer_passes_everything_else_through_byte_for_byte() {
    let avatars = AvatarService::builder(store().await)
        .prefix("/avatars")
        .build()
        .unwrap();
    let plain = serve_router(application()).await;
    let layered = serve_router(application().layer(AvatarLayer::new(avatars))).await;

    let probes: [(Method, &str); 6] = [
        (Method::GET, "/"),
        (Method::GET, "/avatar-lookalike/x"),
        (Method::GET, "/avatars"),
        (Method::GET, "/avatars/avatarx/abc"),
        (Method::GET, "/avatar/40f8d096a3777232204cb3f796c577b7"),
        (Method::POST, "/echo"),
    ];
    for (method, path) in probes {
        let expected = fetch(method.clone(), format!("http://{plain}{path}"), &[]).await;
        let actual = fetch(method.clone(), format!("http://{layered}{path}"), &[]).await;
        assert_eq!(actual.status(), expected.status(), "{method} {path}");
        assert_eq!(actual.body(), expected.body(), "{method} {path}");
        let without_date = |response: &Response<Bytes>| {
            let mut headers = response.headers().clone();
            headers.remove("date");
            headers
        };
        assert_eq!(
            without_date(&actual),
            without_date(&expected),
            "{method} {path}"
        );
    }

    let avatar = fetch(
        Method::GET,
        format!("http://{layered}/avatars/avatar/{}?s=24", md5(GEORGE)),
        &[],
    )
    .await;
    assert_eq!(avatar.status(), StatusCode::OK);
    assert_eq!(dimensions(avatar.body()), (24, 24));
}

/// A stand-in for Gravatar on loopback: one known hash, 404 for the rest, one that hangs.
async fn fake_upstream(known: String, slow: String) -> SocketAddr {
    let picture = Bytes::from(jpeg());
    let router = Router::new().route(
        "/avatar/{hash}",
        routing::get(
            move |axum::extract::Path(hash): axum::extract::Path<String>| {
                let (known, slow, picture) = (known.clone(), slow.clone(), picture.clone());
                async move {
                    if hash == slow {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    if hash == known {
                        ([("content-type", "image/jpeg")], picture).into_response()
                    } else {
                        (StatusCode::NOT_FOUND, "no").into_response()
                    }
                }
            },
        ),
    );
    serve_router(router).await
}

#[tokio::test]
async fn upstream_proxy_serves_found_avatars_and_degrades_on_misses_and_timeouts() {
    let known = md5("famous@example.com");
    let slow = md5("slow@example.com");
    let upstream = fake_upstream(known.clone(), slow.clone()).await;
    let service = AvatarService::builder(MemoryStore::new())
        .upstream(
            Upstream::proxy()
                .base_url(format!("http://{upstream}/avatar/"))
                .timeout(Duration::from_millis(300)),
        )
        .build()
        .unwrap();

    let found = get(&service, &format!("/avatar/{known}?s=80")).await;
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(found.headers()["content-type"], "image/jpeg");
    assert_eq!(found.body().as_ref(), jpeg().as_slice());

    let missing = get(
        &service,
        &format!("/avatar/{}?d=404", md5("unknown@example.com")),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let started = std::time::Instant::now();
    let timed_out = get(&service, &format!("/avatar/{slow}?s=16")).await;
    assert_eq!(timed_out.status(), StatusCode::OK);
    assert_eq!(dimensions(timed_out.body()), (16, 16));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout bounds the wait"
    );

    // forcedefault skips the upstream too.
    let forced = get(&service, &format!("/avatar/{known}?f=y&d=404")).await;
    assert_eq!(forced.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn upstream_redirect_and_off() {
    let service = AvatarService::builder(MemoryStore::new())
        .upstream(Upstream::redirect())
        .build()
        .unwrap();
    let hash = md5("someone@example.com");
    let response = get(&service, &format!("/avatar/{hash}?s=100&d=identicon")).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        format!("https://secure.gravatar.com/avatar/{hash}?s=100&d=identicon").as_str()
    );
    let with_url = get(
        &service,
        &format!("/avatar/{hash}?d=https%3A%2F%2Fgravatar.com%2Favatar%2Fx%3Fa%3D1"),
    )
    .await;
    assert_eq!(
        with_url.headers()["location"],
        format!("https://secure.gravatar.com/avatar/{hash}?s=80&d=https%3A%2F%2Fgravatar.com%2Favatar%2Fx%3Fa%3D1").as_str()
    );
    // Off is the default: a miss never leaves the server.
    let off = get(
        &AvatarService::new(MemoryStore::new()),
        &format!("/avatar/{hash}"),
    )
    .await;
    assert_eq!(off.status(), StatusCode::OK);
    assert!(off.headers().get("location").is_none());

    // Proxying to the default (https) upstream builds; a bad extra root is refused clearly.
    assert!(
        AvatarService::builder(MemoryStore::new())
            .upstream(Upstream::proxy())
            .build()
            .is_ok()
    );
    let err = AvatarService::builder(MemoryStore::new())
        .upstream(Upstream::proxy().add_root_certificate(b"not DER".to_vec()))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("not a valid DER certificate"),
        "{err}"
    );
    let err = AvatarService::builder(MemoryStore::new())
        .upstream(Upstream::redirect().base_url("ftp://example.org/avatar/"))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("the scheme must be http or https"),
        "{err}"
    );
}

/// The fake upstream behind TLS, with a fresh self-signed certificate for `localhost`.
async fn tls_upstream(known: String) -> (SocketAddr, Vec<u8>) {
    use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, pki_types::PrivatePkcs8KeyDer};

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = certified.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));

    let picture = Bytes::from(jpeg());
    let router = Router::new().route(
        "/avatar/{hash}",
        routing::get(
            move |axum::extract::Path(hash): axum::extract::Path<String>| {
                let (known, picture) = (known.clone(), picture.clone());
                async move {
                    if hash == known {
                        ([("content-type", "image/jpeg")], picture).into_response()
                    } else {
                        (StatusCode::NOT_FOUND, "no").into_response()
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (acceptor, router) = (acceptor.clone(), router.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, certificate)
}

#[tokio::test]
async fn upstream_proxy_over_https_trusts_only_what_it_should() {
    let known = md5("famous@example.com");
    let (addr, certificate) = tls_upstream(known.clone()).await;
    let base = format!("https://localhost:{}/avatar/", addr.port());

    let trusting = AvatarService::builder(MemoryStore::new())
        .upstream(
            Upstream::proxy()
                .base_url(base.clone())
                .add_root_certificate(certificate),
        )
        .build()
        .unwrap();
    let found = get(&trusting, &format!("/avatar/{known}?s=80")).await;
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(found.body().as_ref(), jpeg().as_slice());

    // Without the test CA the certificate is not trusted: the default flow answers instead,
    // and the debug log says why (the TLS error under the HTTP client's "client error").
    let untrusting = AvatarService::builder(MemoryStore::new())
        .upstream(Upstream::proxy().base_url(base))
        .build()
        .unwrap();
    let log = test_support::log::Captured::default();
    let refused = {
        let _logging = tracing::subscriber::set_default(log.subscriber());
        get(&untrusting, &format!("/avatar/{known}?s=80&d=404")).await
    };
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(
        log.text().contains("invalid peer certificate"),
        "{}",
        log.text()
    );
}
