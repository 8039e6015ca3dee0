//! [`AvatarLayer`] and the service it makes, [`AvatarMiddleware`]: avatars answered in front of
//! an application, so `{prefix}/avatar/{hash}` is served from the store and every other request
//! reaches the application untouched.
//!
//! ```
//! use avatar_service::{AvatarLayer, AvatarService};
//! use avatar_store::MemoryStore;
//! use axum::{Router, routing::get};
//!
//! let avatars = AvatarService::builder(MemoryStore::new()).prefix("/avatars").build()?;
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "home" }))
//!     .layer(AvatarLayer::new(avatars));
//! # Ok::<(), avatar_service::ServiceError>(())
//! ```

mod body;
mod future;

use std::fmt;
use std::task::{Context, Poll};

use avatar_store::Store;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::service::AvatarService;

pub use self::body::ResponseBody;
pub use self::future::ResponseFuture;

/// A layer answering avatar paths in front of any service (see the [module docs](self)).
pub struct AvatarLayer<St> {
    avatars: AvatarService<St>,
}

impl<St> AvatarLayer<St> {
    /// A layer answering with `avatars` (its prefix decides which paths are taken).
    #[must_use]
    pub const fn new(avatars: AvatarService<St>) -> Self {
        Self { avatars }
    }
}

impl<St> Clone for AvatarLayer<St> {
    fn clone(&self) -> Self {
        Self {
            avatars: self.avatars.clone(),
        }
    }
}

impl<St> fmt::Debug for AvatarLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvatarLayer")
            .field("avatars", &self.avatars)
            .finish()
    }
}

impl<S, St> Layer<S> for AvatarLayer<St> {
    type Service = AvatarMiddleware<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        AvatarMiddleware::new(inner, self.avatars.clone())
    }
}

/// The service [`AvatarLayer`] makes: `avatars` answers avatar paths, `S` everything else.
pub struct AvatarMiddleware<S, St> {
    inner: S,
    avatars: AvatarService<St>,
}

impl<S, St> AvatarMiddleware<S, St> {
    /// `inner` with `avatars` in front of it.
    #[must_use]
    pub const fn new(inner: S, avatars: AvatarService<St>) -> Self {
        Self { inner, avatars }
    }

    /// The wrapped service.
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub const fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps this middleware, returning the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The avatar service answering in front.
    pub const fn avatars(&self) -> &AvatarService<St> {
        &self.avatars
    }
}

impl<S: Clone, St> Clone for AvatarMiddleware<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            avatars: self.avatars.clone(),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for AvatarMiddleware<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvatarMiddleware")
            .field("inner", &self.inner)
            .field("avatars", &self.avatars)
            .finish()
    }
}

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for AvatarMiddleware<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    St: Store,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.avatars.serves(request.uri().path()) {
            ResponseFuture::avatar(self.avatars.respond_to(&request))
        } else {
            ResponseFuture::inner(self.inner.call(request))
        }
    }
}
