//! The conformance suite's fixtures, for tests that want the same identities and the same image
//! bytes a server under test is loaded with (`avatar_conformance::fixtures` owns them), and
//! one-shot calls through an [`AvatarService`].

use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

pub use avatar_conformance::fixtures::{FIXTURES, Fixture, fixture};

/// George: a 300 x 200 PNG in three vertical bands (red, green, blue).
pub const GEORGE: &str = "George@example.com";
/// A 90 x 120 orange JPEG.
pub const JPEG_OWNER: &str = "jpeg@example.com";
/// A 40 x 40 GIF of three 100 ms frames.
pub const ANIMATED: &str = "animated@example.com";
/// A 20 x 20 PNG gradient, for upscaling.
pub const SMALL: &str = "small@example.com";
/// An OpenID URL with a 64 x 64 checkered PNG.
pub const OPENID: &str = "https://example.com/id/Bob";
/// An address with no avatar.
pub const NOBODY: &str = "nobody@example.com";

/// The parsed identity.
///
/// # Panics
/// If `text` is not an identity (tests pass constants).
#[must_use]
pub fn identity(text: &str) -> Identity {
    Identity::parse(text).expect("a valid test identity")
}

/// Lowercase hex MD5 of the identity.
#[must_use]
pub fn md5(text: &str) -> String {
    identity(text).hash(HashAlgorithm::Md5).to_string()
}

/// Lowercase hex SHA-256 of the identity.
#[must_use]
pub fn sha256(text: &str) -> String {
    identity(text).hash(HashAlgorithm::Sha256).to_string()
}

/// The image file of the fixture called `name` (`george`, `jpeg`, `animated`, `small`, `openid`).
///
/// # Panics
/// For a fixture that has no image.
#[must_use]
pub fn image_of(name: &str) -> Vec<u8> {
    fixture(name)
        .and_then(Fixture::image)
        .unwrap_or_else(|| panic!("no fixture image called {name:?}"))
}

/// George's PNG.
#[must_use]
pub fn george_png() -> Vec<u8> {
    image_of("george")
}

/// The JPEG fixture.
#[must_use]
pub fn jpeg() -> Vec<u8> {
    image_of("jpeg")
}

/// The animated GIF fixture.
#[must_use]
pub fn animated_gif() -> Vec<u8> {
    image_of("animated")
}

/// A memory store holding every fixture that has an image.
///
/// # Panics
/// Never in practice: storing in memory does not fail.
pub async fn store() -> MemoryStore {
    avatar_conformance::fixtures::memory_store()
        .await
        .expect("the fixtures store in memory")
}

/// A service with every default over [`store`].
pub async fn service() -> AvatarService<MemoryStore> {
    AvatarService::new(store().await)
}

/// Sends one request through `service` and returns the response with its body collected.
///
/// # Panics
/// Never: the service's error and body error types are uninhabited.
pub async fn send<St: Store>(service: &AvatarService<St>, request: Request<()>) -> Response<Bytes> {
    let Ok(response) = service.clone().oneshot(request).await;
    let (parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await;
    Response::from_parts(parts, collected.to_bytes())
}

/// `GET uri` through `service`.
///
/// # Panics
/// If `uri` is not a valid request target.
pub async fn get<St: Store>(service: &AvatarService<St>, uri: &str) -> Response<Bytes> {
    send(service, Request::get(uri).body(()).expect("a valid URI")).await
}

/// Width and height of an image body.
///
/// # Panics
/// If `body` is not an image.
#[must_use]
pub fn dimensions(body: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(body).expect("an image body");
    (image.width(), image.height())
}

/// The status line and the headers as sorted `name: value` lines, for snapshots.
#[must_use]
pub fn header_lines<B>(response: &Response<B>) -> String {
    let mut lines: Vec<String> = response
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    lines.sort();
    format!("{}\n{}", response.status(), lines.join("\n"))
}
