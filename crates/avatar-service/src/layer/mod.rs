//! [`AvatarLayer`]: wraps an application so `{prefix}/avatar/{hash}` is answered by avatars and
//! everything else reaches the application untouched.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use avatar_store::Store;
use http::{Request, Response};
use http_body_util::Either;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::service::{AvatarBody, AvatarService, ResponseFuture as AvatarFuture};

/// A layer answering avatar paths in front of any service.
///
/// ```
/// use avatar_service::{AvatarLayer, AvatarService};
/// use avatar_store::MemoryStore;
/// use axum::{Router, routing::get};
///
/// let avatars = AvatarService::builder(MemoryStore::new()).prefix("/avatars").build()?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .layer(AvatarLayer::new(avatars));
/// # Ok::<(), avatar_service::ServiceError>(())
/// ```
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
    type Service = Avatar<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        Avatar {
            inner,
            avatars: self.avatars.clone(),
        }
    }
}

/// The service [`AvatarLayer`] makes: avatars for avatar paths, `S` for the rest.
pub struct Avatar<S, St> {
    inner: S,
    avatars: AvatarService<St>,
}

impl<S: Clone, St> Clone for Avatar<S, St> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            avatars: self.avatars.clone(),
        }
    }
}

impl<S: fmt::Debug, St> fmt::Debug for Avatar<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Avatar")
            .field("inner", &self.inner)
            .field("avatars", &self.avatars)
            .finish()
    }
}

impl<S, St, ReqBody, ResBody> Service<Request<ReqBody>> for Avatar<S, St>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    St: Store,
{
    type Response = Response<Either<AvatarBody, ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let kind = if self.avatars.serves(request.uri().path()) {
            Kind::Avatar {
                future: self.avatars.respond_to(&request),
            }
        } else {
            Kind::Inner {
                future: self.inner.call(request),
            }
        };
        ResponseFuture { kind }
    }
}

pin_project! {
    /// The future of an [`Avatar`] response.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F> {
        Avatar { #[pin] future: AvatarFuture },
        Inner { #[pin] future: F },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<Either<AvatarBody, ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Avatar { future } => future.poll(cx).map(|result| match result {
                Ok(response) => Ok(response.map(Either::Left)),
                Err(never) => match never {},
            }),
            KindProjection::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(Either::Right))),
        }
    }
}
