//! [`ResponseBody`]: the body of an [`AvatarMiddleware`](super::AvatarMiddleware) response.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::body::AvatarBody;

pin_project! {
    /// The body of an [`AvatarMiddleware`](super::AvatarMiddleware) response: an
    /// [`AvatarBody`] for avatar paths, the wrapped service's body `B` for the rest. Its errors
    /// are `B`'s (an avatar body never fails).
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<B> {
        Avatar { #[pin] body: AvatarBody },
        Inner { #[pin] body: B },
    }
}

impl<B> ResponseBody<B> {
    /// An avatar answer's body (also what `avatar-proxy`'s layer answers with).
    pub const fn avatar(body: AvatarBody) -> Self {
        Self {
            kind: Kind::Avatar { body },
        }
    }

    /// The wrapped service's body.
    pub const fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }
}

/// An empty body, whatever `B` is: what middleware that answers by itself makes for its
/// answers (tower-http's `CorsLayer` for a preflight, `TimeoutLayer` for a 408), which is why
/// they ask for `Default`. It needs no `Default` of `B`, which bodies such as hyper's
/// `Incoming` do not have.
impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        Self::avatar(AvatarBody::empty())
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProjection::Avatar { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(|never| match never {}))),
            KindProjection::Inner { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Avatar { body } => body.is_end_stream(),
            Kind::Inner { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Avatar { body } => body.size_hint(),
            Kind::Inner { body } => body.size_hint(),
        }
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}
