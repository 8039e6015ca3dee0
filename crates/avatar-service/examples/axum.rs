//! An axum application with its own routes and the avatar service mounted both ways:
//! nested under `/nested` with `Router::nest_service`, and as a layer answering
//! `/avatars/avatar/{hash}` in front of the whole application.
//!
//! ```text
//! cargo run -p avatar-service --example axum
//! curl -o george.png 'http://127.0.0.1:3000/avatars/avatar/40f8d096a3777232204cb3f796c577b7?s=128&d=identicon'
//! curl -o george.png 'http://127.0.0.1:3000/nested/avatar/40f8d096a3777232204cb3f796c577b7?s=128&d=retro'
//! ```
//!
//! Avatars come from `./avatars-data` (the same directory `avatars serve` and `avatars import`
//! use). Set `ADDR` to listen elsewhere.

use avatar_service::{AvatarLayer, AvatarService};
use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One store, two front doors: the service is cheap to clone and clones share the cache.
    let nested = AvatarService::from_dir("avatars-data")?;
    let layered = AvatarService::builder(nested.store().clone())
        .prefix("/avatars")
        .build()?;

    let app = Router::new()
        .route(
            "/",
            get(|| async {
                "Welcome! Avatars are at /avatars/avatar/{hash} and /nested/avatar/{hash}."
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .nest_service("/nested", nested)
        .layer(AvatarLayer::new(layered));

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
