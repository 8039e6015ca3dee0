//! [`AvatarProxy`]: the tower `Service`, and the URL minter templates call.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use avatar_discovery::Discovery;
use avatar_proto::url_builder::encode_query_value;
use avatar_proto::{AvatarUrlBuilder, Identity};
use avatar_service::AvatarBody;
use http::{Request, Response};
use tower_service::Service;

use crate::config::{AvatarProxyBuilder, Keyring, Shared};
use crate::error::ProxyError;
use crate::fetch::FetchFailure;
use crate::respond;
use crate::token::ProxyKeys;

/// Serves `{prefix}/{token}?s=N&d=KEYWORD`: the avatar of the identity the token seals, found
/// through DNS SRV, fetched, re-encoded at the asked size and cached, so the browser only ever
/// talks to this site. Cheap to clone (clones share the caches).
#[derive(Clone)]
pub struct AvatarProxy {
    shared: Arc<Shared>,
}

impl fmt::Debug for AvatarProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvatarProxy")
            .field("prefix", &self.shared.prefix)
            .field("central", &self.shared.central)
            .field("renditions", &self.shared.cache.len())
            .field("originals", &self.shared.originals.len())
            .finish_non_exhaustive()
    }
}

impl AvatarProxy {
    /// A builder over `keys` (the first mints, all open) and `discovery` (the resolver that
    /// finds each domain's avatar server, and then its address: with nameservers given, both
    /// are asked of them).
    pub fn builder(keys: ProxyKeys, discovery: Discovery) -> AvatarProxyBuilder {
        AvatarProxyBuilder::new(keys, discovery)
    }

    pub(crate) const fn from_shared(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Mint and open with `keys` from now on, in every clone of this proxy: a key added first
    /// mints the next URLs, a key left out no longer opens its URLs (which then answer 404),
    /// and tokens opened with the old keys are forgotten. Pages keep working through a
    /// rotation when the new file keeps the old key after the new one until they are gone.
    pub fn replace_keys(&self, keys: ProxyKeys) {
        self.shared.keyring.store(Arc::new(Keyring::new(keys)));
    }

    /// The URL a page puts in `<img src>`: `{prefix}/{token}?s={size}` and `&d={default}` when
    /// given (a keyword; URLs are ignored by the proxy). Stable for the same identity and key,
    /// so browsers and CDNs cache it.
    ///
    /// # Errors
    /// [`ProxyError::IdentityTooLong`] for an identity too long to seal.
    pub fn url(
        &self,
        identity: &Identity,
        size: u32,
        default: Option<&str>,
    ) -> Result<String, ProxyError> {
        let token = self.shared.keyring().keys.mint(identity)?;
        Ok(self.url_with_token(&token, size, default))
    }

    /// The value of an `<img srcset>` for 1x, 2x, 3x... screens (`densities`): the proxied URL
    /// at `size` times each density, clamped to the proxy's maximum size, one token for all.
    ///
    /// # Errors
    /// As [`AvatarProxy::url`].
    pub fn srcset(
        &self,
        identity: &Identity,
        size: u32,
        densities: &[u32],
        default: Option<&str>,
    ) -> Result<String, ProxyError> {
        let token = self.shared.keyring().keys.mint(identity)?;
        let builder = AvatarUrlBuilder::new(identity.clone())
            .size(size)
            .max_size(self.shared.rules.max_size_px());
        Ok(builder.srcset(densities, |sized| {
            self.url_with_token(&token, sized.requested_size().unwrap_or(size), default)
        }))
    }

    fn url_with_token(&self, token: &str, size: u32, default: Option<&str>) -> String {
        let mut url = format!("{}/{token}?s={size}", self.shared.prefix);
        if let Some(default) = default {
            url.push_str("&d=");
            url.push_str(&encode_query_value(default));
        }
        url
    }

    /// Whether `path` is one of the proxy's (`{prefix}/...`).
    #[must_use]
    pub fn serves(&self, path: &str) -> bool {
        path.strip_prefix(self.shared.prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }

    /// How many renditions and originals are cached.
    #[must_use]
    pub fn cached(&self) -> (usize, usize) {
        (self.shared.cache.len(), self.shared.originals.len())
    }

    /// What the proxy has fetched so far and what it holds now, for an operator's metrics.
    #[must_use]
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            fetches: self.shared.fetches.load(Ordering::Relaxed),
            fetch_failures_by_reason: std::array::from_fn(|index| {
                (
                    FetchFailure::REASONS[index],
                    self.shared.fetch_failures[index].load(Ordering::Relaxed),
                )
            }),
            cache_entries_now: self.shared.cache.len(),
            cache_bytes_now: self.shared.cache.used_bytes(),
            originals_now: self.shared.originals.len(),
        }
    }
}

/// [`AvatarProxy::stats`]: counters since the proxy was built, and current levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Originals fetched (or tried): one per identity and refresh, whichever servers it took
    /// (the identity's own, the central one, Gravatar).
    pub fetches: u64,
    /// Of those, the ones that gave no usable picture for a reason other than "no avatar
    /// here" (a 404), counted by [`FetchFailure::reason`] in the order of
    /// [`FetchFailure::REASONS`]: a bad status, a refused address, the deadline, too large,
    /// not a picture, and so on.
    pub fetch_failures_by_reason: [(&'static str, u64); FetchFailure::REASONS.len()],
    /// Renditions the proxy's render cache holds now.
    pub cache_entries_now: usize,
    /// Bytes the render cache holds now.
    pub cache_bytes_now: u64,
    /// Fetched originals (and remembered misses) held now.
    pub originals_now: usize,
}

impl ProxyStats {
    /// Fetches that gave no usable picture, whatever the reason (404s not counted).
    #[must_use]
    pub fn fetch_failures(&self) -> u64 {
        self.fetch_failures_by_reason
            .iter()
            .map(|&(_, count)| count)
            .sum()
    }
}

/// The future of [`AvatarProxy`]'s `call`: ready at once when the caches could answer,
/// otherwise the lookup, fetch or render; it never fails.
pub struct ResponseFuture {
    kind: Kind,
}

enum Kind {
    Ready(Option<Response<AvatarBody>>),
    Pending(Pin<Box<dyn Future<Output = Response<AvatarBody>> + Send>>),
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::Ready(_) => "ResponseFuture(ready)",
            Kind::Pending(_) => "ResponseFuture(pending)",
        })
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<AvatarBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.kind {
            Kind::Ready(response) => Poll::Ready(Ok(response
                .take()
                .expect("a ready ResponseFuture is polled once"))),
            Kind::Pending(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

impl<B> Service<Request<B>> for AvatarProxy {
    type Response = Response<AvatarBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        // A cached hit is answered here and now: no task, no allocation for a future.
        if let Some(response) = respond::answer_now(
            &self.shared,
            request.method(),
            request.uri(),
            request.headers(),
        ) {
            return ResponseFuture {
                kind: Kind::Ready(Some(response)),
            };
        }
        let shared = Arc::clone(&self.shared);
        let (parts, _body) = request.into_parts();
        ResponseFuture {
            kind: Kind::Pending(Box::pin(async move {
                respond::answer(&shared, &parts.method, &parts.uri, &parts.headers).await
            })),
        }
    }
}
