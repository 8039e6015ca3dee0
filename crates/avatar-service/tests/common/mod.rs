//! Helpers shared by the service tests: real encoded images and a store holding them.

#![allow(dead_code, unreachable_pub)]

use std::io::Cursor;

use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::{MemoryStore, Store};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, Rgb, RgbImage, Rgba, RgbaImage};
use tower::ServiceExt as _;

pub const GEORGE: &str = "George@example.com";
pub const ANIMATED: &str = "animated@example.com";
pub const JPEG_OWNER: &str = "jpeg@example.com";
pub const OPENID: &str = "https://example.com/id/Bob";

pub fn identity(text: &str) -> Identity {
    Identity::parse(text).unwrap()
}

pub fn md5(text: &str) -> String {
    identity(text).hash(HashAlgorithm::Md5).to_string()
}

pub fn sha256(text: &str) -> String {
    identity(text).hash(HashAlgorithm::Sha256).to_string()
}

/// A 300 x 200 PNG in three vertical bands.
pub fn png() -> Vec<u8> {
    encode(
        &RgbImage::from_fn(300, 200, |x, _| match x / 100 {
            0 => Rgb([220, 40, 40]),
            1 => Rgb([40, 180, 60]),
            _ => Rgb([40, 60, 220]),
        }),
        image::ImageFormat::Png,
    )
}

pub fn jpeg() -> Vec<u8> {
    encode(
        &RgbImage::from_pixel(90, 120, Rgb([200, 120, 30])),
        image::ImageFormat::Jpeg,
    )
}

fn encode(image: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// Three 40 x 40 frames, 100 ms each.
pub fn animated_gif() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for shade in [30u8, 130, 230] {
            let frame = RgbaImage::from_pixel(40, 40, Rgba([shade, 50, 100, 255]));
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .unwrap();
        }
    }
    out
}

/// A store with George (PNG), an animated GIF, a JPEG and an OpenID (PNG).
pub async fn store() -> MemoryStore {
    let store = MemoryStore::new();
    store
        .put(&identity(GEORGE), Bytes::from(png()))
        .await
        .unwrap();
    store
        .put(&identity(ANIMATED), Bytes::from(animated_gif()))
        .await
        .unwrap();
    store
        .put(&identity(JPEG_OWNER), Bytes::from(jpeg()))
        .await
        .unwrap();
    store
        .put(&identity(OPENID), Bytes::from(png()))
        .await
        .unwrap();
    store
}

pub async fn service() -> AvatarService<MemoryStore> {
    AvatarService::new(store().await)
}

/// Sends one request through `service` and returns the response with its body collected.
pub async fn send<St: Store>(service: &AvatarService<St>, request: Request<()>) -> Response<Bytes> {
    let response = service.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

pub async fn get<St: Store>(service: &AvatarService<St>, uri: &str) -> Response<Bytes> {
    send(service, Request::get(uri).body(()).unwrap()).await
}

/// Width and height of an image body.
pub fn dimensions(body: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(body).unwrap();
    (image.width(), image.height())
}

/// The headers as sorted `name: value` lines, for snapshots.
pub fn header_lines(response: &Response<Bytes>) -> String {
    let mut lines: Vec<String> = response
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    lines.sort();
    format!("{}\n{}", response.status(), lines.join("\n"))
}
