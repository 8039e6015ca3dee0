//! [`ResponseFuture`]: what [`AvatarMiddleware`](super::AvatarMiddleware) returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::ResponseBody;
use crate::service::ResponseFuture as AvatarFuture;

pin_project! {
    /// The future of an [`AvatarMiddleware`](super::AvatarMiddleware) response: the avatar
    /// service's or the wrapped service's.
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

impl<F> ResponseFuture<F> {
    pub(super) const fn avatar(future: AvatarFuture) -> Self {
        Self {
            kind: Kind::Avatar { future },
        }
    }

    pub(super) const fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
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
