//! An axum application with its own routes, the avatar service mounted both ways (nested under
//! `/nested` with `Router::nest_service`, and as a layer answering `/avatars/avatar/{hash}` in
//! front of the whole application), and what an application adds around it: an upload and a
//! remove route for the logged-in user, and a cheap check whether an avatar exists for a hash.
//!
//! ```text
//! cargo run -p avatar-service --example axum
//! curl -H 'x-demo-user: alice' -F avatar=@photo.jpg http://127.0.0.1:3000/me/avatar
//! curl -o alice.png 'http://127.0.0.1:3000/avatars/avatar/fbf7c6aec1d4280b7c2704c1c0478bd6?s=128'
//! curl -I http://127.0.0.1:3000/has-avatar/40f8d096a3777232204cb3f796c577b7
//! curl -X DELETE -H 'x-demo-user: alice' http://127.0.0.1:3000/me/avatar
//! curl -o george.png 'http://127.0.0.1:3000/nested/avatar/40f8d096a3777232204cb3f796c577b7?s=128&d=retro'
//! ```
//!
//! Avatars are kept in `./avatars-data` (the same directory `avatars serve` and `avatars import`
//! use; `DATA_DIR` changes it). Set `ADDR` to listen elsewhere. The `x-demo-user` header stands
//! in for a login: a real application takes the user, and their verified addresses, from its
//! session.

use std::sync::Arc;

use avatar_image::{Crop, Limits};
use avatar_proto::{AvatarHash, AvatarUrlBuilder, Identity};
use avatar_service::upload::{UploadOptions, store_upload_with};
use avatar_service::{AvatarLayer, AvatarService, ServiceError};
use avatar_store::{FsStore, Store as _};
use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};

/// The largest upload request accepted: the image limit (8 MiB by default, above axum's 2 MB
/// default body limit) plus room for the multipart framing. A larger file within it still gets
/// a clear 413 from [`store_upload_with`].
const UPLOAD_BODY_LIMIT: usize = Limits::DEFAULT.max_input_bytes + 64 * 1024;

/// What an upload that is not a form with the picture is told.
const NOT_A_FORM: &str = "expected a multipart form with the picture in a field named `avatar` \
                          (curl -F avatar=@FILE), and optionally a `crop` field, X,Y,SIDE\n";

/// Where the service answers in front of the application.
const AVATARS_PREFIX: &str = "/avatars";

/// What the routes share: the store the avatar service reads.
#[derive(Clone)]
struct App {
    store: Arc<FsStore>,
}

/// The whole application on the store at `data_dir`.
///
/// # Errors
/// When the store cannot be opened (see [`FsStore::open`]).
pub(crate) fn app(data_dir: &std::path::Path) -> Result<Router, ServiceError> {
    let store = Arc::new(FsStore::open(data_dir)?);
    // One store, two front doors: clones of a service share its caches.
    let nested = AvatarService::new(Arc::clone(&store));
    let layered = AvatarService::builder(Arc::clone(&store))
        .prefix(AVATARS_PREFIX)
        .build()?;

    Ok(Router::new()
        .route(
            "/",
            get(|| async {
                "Welcome! Avatars are at /avatars/avatar/{hash} and /nested/avatar/{hash}."
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .route(
            "/me/avatar",
            post(upload)
                .delete(remove)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route("/has-avatar/{hash}", get(has_avatar))
        .with_state(App { store })
        .nest_service("/nested", nested)
        .layer(AvatarLayer::new(layered)))
}

/// `POST /me/avatar`, a `multipart/form-data` form with the picture in its `avatar` field and,
/// from a cropping tool, the square chosen in a `crop` field (`X,Y,SIDE`, before or after it):
/// stored for every address of the user, answered with the new avatar's URL (with a `v=` that
/// changes with the picture, so the user sees it at once despite browser caches).
async fn upload(
    State(app): State<App>,
    user: User,
    form: Result<Multipart, MultipartRejection>,
) -> (StatusCode, String) {
    let Ok(mut form) = form else {
        return (StatusCode::BAD_REQUEST, NOT_A_FORM.to_owned());
    };
    // Every field is read before anything is stored: a page's script may append the crop
    // after the picture.
    let mut options = UploadOptions::new();
    let mut picture = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("avatar") => {
                if picture.is_some() {
                    return (
                        StatusCode::BAD_REQUEST,
                        "one picture at a time: the form has two fields named `avatar`\n"
                            .to_owned(),
                    );
                }
                match field.bytes().await {
                    Ok(bytes) => picture = Some(bytes),
                    Err(err) => return (err.status(), err.body_text()),
                }
            }
            Ok(Some(field)) if field.name() == Some("crop") => {
                let crop = match field.text().await {
                    Ok(text) => text.parse::<Crop>(),
                    Err(err) => return (err.status(), err.body_text()),
                };
                match crop {
                    Ok(crop) => options = options.crop(crop),
                    Err(err) => return (StatusCode::BAD_REQUEST, format!("{err}\n")),
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(err) => return (err.status(), err.body_text()),
        }
    }
    let Some(picture) = picture else {
        return (StatusCode::BAD_REQUEST, NOT_A_FORM.to_owned());
    };
    let stored = store_upload_with(
        &*app.store,
        &user.addresses,
        picture,
        &Limits::DEFAULT,
        &options,
    );
    match stored.await {
        Ok(uploaded) => {
            // What was stored, and what came in when that was more (a large upload is stored
            // as its master, a cropped one as the square chosen).
            let (stored, upload) = (uploaded.stored_image(), uploaded.image);
            let url = AvatarUrlBuilder::new(user.addresses[0].clone())
                .size(128)
                .version(uploaded.version)
                .build_under(&format!("{AVATARS_PREFIX}/avatar/"));
            let from = if (stored.width, stored.height) == (upload.width, upload.height) {
                String::new()
            } else {
                format!(" (from a {} x {} upload)", upload.width, upload.height)
            };
            let message = format!(
                "stored a {} {} x {} picture for {}{from}: {url}\n",
                stored.format,
                stored.width,
                stored.height,
                user.list_addresses(),
            );
            (StatusCode::CREATED, message)
        }
        Err(err) => (err.status(), format!("{err}\n")),
    }
}

/// `DELETE /me/avatar`: removes the picture of every address of the user.
async fn remove(State(app): State<App>, user: User) -> (StatusCode, String) {
    let mut removed = false;
    for address in &user.addresses {
        match app.store.remove(address).await {
            Ok(was_there) => removed |= was_there,
            Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
        }
    }
    if removed {
        (
            StatusCode::OK,
            format!("removed the picture of {}\n", user.list_addresses()),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            "there was no picture to remove\n".to_owned(),
        )
    }
}

/// `GET /has-avatar/{hash}`: 204 when this site holds an avatar for the hash, 404 when it does
/// not; no image is read. A page uses it to choose between its own avatar URL and discovery
/// (`avatar_discovery::local_or_discovered`).
async fn has_avatar(State(app): State<App>, Path(hash): Path<String>) -> (StatusCode, String) {
    let hash = match hash.parse::<AvatarHash>() {
        Ok(hash) => hash,
        Err(err) => return (StatusCode::BAD_REQUEST, format!("{err}\n")),
    };
    match app.store.contains(&hash).await {
        Ok(true) => (StatusCode::NO_CONTENT, String::new()),
        Ok(false) => (StatusCode::NOT_FOUND, String::new()),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")),
    }
}

/// The logged-in user and their verified addresses. Stand-in: the `x-demo-user` header names
/// one of two demo users.
struct User {
    addresses: Vec<Identity>,
}

impl User {
    fn list_addresses(&self) -> String {
        let addresses: Vec<_> = self.addresses.iter().map(Identity::as_str).collect();
        addresses.join(", ")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addresses: &[&str] = match parts
            .headers
            .get("x-demo-user")
            .map(axum::http::HeaderValue::as_bytes)
        {
            Some(b"alice") => &["alice@example.org", "alice@work.example"],
            Some(b"george") => &["george@example.com"],
            _ => {
                return Err((
                    StatusCode::UNAUTHORIZED,
                    "log in first: send `x-demo-user: alice` or `x-demo-user: george`\n",
                ));
            }
        };
        let addresses = addresses
            .iter()
            .map(|address| Identity::parse(address).expect("the demo addresses are valid"))
            .collect();
        Ok(Self { addresses })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::var("DATA_DIR").unwrap_or_else(|_| "avatars-data".to_owned());
    let app = app(data_dir.as_ref())?;
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
