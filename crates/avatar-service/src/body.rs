//! [`AvatarBody`]: the body of every response the avatar service makes.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The body of an avatar response: the whole image, or a short text, in one piece.
///
/// Its length is always known ([`Body::size_hint`] is exact), it never fails, and it yields at
/// most one frame. Collect it with `http_body_util::BodyExt::collect`, or hand it to any server
/// that takes an [`http_body::Body`].
///
/// ```
/// use avatar_service::AvatarService;
/// use avatar_store::MemoryStore;
/// use http_body::Body as _;
/// use tower::ServiceExt as _;
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let service = AvatarService::new(MemoryStore::new());
/// let request = http::Request::get("/avatar/40f8d096a3777232204cb3f796c577b7?d=404").body(())?;
/// let body = service.oneshot(request).await?.into_body();
/// assert_eq!(body.size_hint().exact(), Some(24));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AvatarBody {
    /// The bytes not yet yielded; `None` once the one frame has been taken.
    bytes: Option<Bytes>,
}

impl AvatarBody {
    /// A body of `bytes` (no frame at all when `bytes` is empty).
    pub(crate) fn new(bytes: Bytes) -> Self {
        Self {
            bytes: (!bytes.is_empty()).then_some(bytes),
        }
    }

    /// An empty body (HEAD, 304, 204 and redirects).
    pub(crate) const fn empty() -> Self {
        Self { bytes: None }
    }
}

/// An empty body: what middleware that answers by itself makes for its answers (tower-http's
/// `CorsLayer` for a preflight, `TimeoutLayer` for a 408), which is why they ask for `Default`.
impl Default for AvatarBody {
    fn default() -> Self {
        Self::empty()
    }
}

impl Body for AvatarBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.get_mut()
                .bytes
                .take()
                .map(|bytes| Ok(Frame::data(bytes))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
    }
}

impl fmt::Debug for AvatarBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvatarBody")
            .field("remaining", &self.bytes.as_ref().map_or(0, Bytes::len))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    #[tokio::test]
    async fn yields_its_bytes_once_with_an_exact_size() {
        let body = AvatarBody::new(Bytes::from_static(b"picture"));
        assert_eq!(body.size_hint().exact(), Some(7));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "picture");
    }

    #[test]
    fn empty_bodies_end_at_once() {
        for body in [AvatarBody::empty(), AvatarBody::new(Bytes::new())] {
            assert!(body.is_end_stream());
            assert_eq!(body.size_hint().exact(), Some(0));
        }
    }
}
