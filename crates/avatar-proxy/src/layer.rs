//! [`AvatarProxyLayer`] and the service it makes, [`AvatarProxyMiddleware`]: the proxy in front
//! of an application, so `{prefix}/{token}` is answered by the proxy and every other request
//! reaches the application untouched (the tower-http shape; the body is avatar-service's
//! [`ResponseBody`], shared with its own layer).
//!
//! ```
//! use avatar_discovery::Discovery;
//! use avatar_proxy::{AvatarProxy, AvatarProxyLayer, ProxyKey, ProxyKeys};
//! use axum::{Router, routing::get};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ProxyKeys::new(ProxyKey::generate(), Vec::new());
//! let discovery = Discovery::builder().nameserver("127.0.0.1:9".parse()?).build()?;
//! let proxy = AvatarProxy::builder(keys, discovery).build()?;
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "home" }))
//!     .layer(AvatarProxyLayer::new(proxy));
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use avatar_service::layer::ResponseBody;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::service::{AvatarProxy, ResponseFuture as ProxyFuture};

/// A layer answering proxy paths in front of any service (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct AvatarProxyLayer {
    proxy: AvatarProxy,
}

impl AvatarProxyLayer {
    /// A layer answering with `proxy` (its prefix decides which paths are taken).
    #[must_use]
    pub const fn new(proxy: AvatarProxy) -> Self {
        Self { proxy }
    }
}

impl<S> Layer<S> for AvatarProxyLayer {
    type Service = AvatarProxyMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AvatarProxyMiddleware::new(inner, self.proxy.clone())
    }
}

/// The service [`AvatarProxyLayer`] makes: the proxy answers its paths, `S` everything else.
#[derive(Debug, Clone)]
pub struct AvatarProxyMiddleware<S> {
    inner: S,
    proxy: AvatarProxy,
}

impl<S> AvatarProxyMiddleware<S> {
    /// `inner` with `proxy` in front of it.
    #[must_use]
    pub const fn new(inner: S, proxy: AvatarProxy) -> Self {
        Self { inner, proxy }
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

    /// The proxy answering in front.
    pub const fn proxy(&self) -> &AvatarProxy {
        &self.proxy
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AvatarProxyMiddleware<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.proxy.serves(request.uri().path()) {
            ResponseFuture {
                kind: Kind::Proxy {
                    future: self.proxy.call(request),
                },
            }
        } else {
            ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(request),
                },
            }
        }
    }
}

pin_project! {
    /// The future of an [`AvatarProxyMiddleware`] response: the proxy's or the wrapped
    /// service's.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F> {
        Proxy { #[pin] future: ProxyFuture },
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
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Proxy { future } => future.poll(cx).map(|result| match result {
                Ok(response) => Ok(response.map(ResponseBody::avatar)),
                Err(never) => match never {},
            }),
            KindProjection::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(ResponseBody::inner))),
        }
    }
}
