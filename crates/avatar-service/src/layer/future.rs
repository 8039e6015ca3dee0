//! [`ResponseFuture`]: what [`AvatarMiddleware`](super::AvatarMiddleware) returns.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::ResponseBody;
use crate::AvatarBody;
use crate::service::ResponseFuture as AvatarFuture;

pin_project! {
    /// The future of an [`AvatarMiddleware`](super::AvatarMiddleware) response: the avatar
    /// service's (`A`) or the wrapped service's (`F`). `avatar-proxy`'s layer answers with it
    /// too, its `A` the proxy's future.
    pub struct ResponseFuture<F, A = AvatarFuture> {
        #[pin]
        kind: Kind<F, A>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F, A> {
        Avatar { #[pin] future: A },
        Inner { #[pin] future: F },
    }
}

impl<F, A> ResponseFuture<F, A> {
    /// The answer of the service in front (the avatar service's, or the proxy's).
    pub const fn avatar(future: A) -> Self {
        Self {
            kind: Kind::Avatar { future },
        }
    }

    /// The wrapped service's answer.
    pub const fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }
}

impl<F, A> fmt::Debug for ResponseFuture<F, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, A, ResBody, E> Future for ResponseFuture<F, A>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    A: Future<Output = Result<Response<AvatarBody>, Infallible>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Avatar { future } => future.poll(cx).map(|result| match result {
                Ok(response) => Ok(response.map(ResponseBody::avatar)),
                Err(never) => match never {},
            }),
            KindProjection::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(ResponseBody::inner))),
        }
    }
}
