//! [`AvatarProxyLayer`] and the service it makes, [`AvatarProxyMiddleware`]: the proxy in front
//! of an application, so `{prefix}/{token}` is answered by the proxy and every other request
//! reaches the application untouched (the tower-http shape; the body and future are
//! avatar-service's layer's, [`ResponseBody`] and [`ResponseFuture`], with the proxy in front).
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

use std::task::{Context, Poll};

use avatar_service::layer::ResponseBody;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::service::{AvatarProxy, ResponseFuture as ProxyFuture};

/// The future of an [`AvatarProxyMiddleware`] response: the proxy's or the wrapped service's
/// (avatar-service's layer future, with the proxy's in front).
pub type ResponseFuture<F> = avatar_service::layer::ResponseFuture<F, ProxyFuture>;

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
            ResponseFuture::avatar(self.proxy.call(request))
        } else {
            ResponseFuture::inner(self.inner.call(request))
        }
    }
}
