//! Answering from a local store first ([`AvatarProxyBuilder::local`]): a site that stores its
//! own users' avatars and proxies everyone else's shows its users' pictures from its own
//! store, as uploaded and at once, with no lookup or fetch.
//!
//! [`AvatarProxyBuilder::local`]: crate::AvatarProxyBuilder::local

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use avatar_proto::AvatarHash;
use avatar_service::{AvatarBody, AvatarService};
use avatar_store::Store;
use http::header::{ACCEPT, IF_NONE_MATCH};
use http::{HeaderMap, Request, Response, StatusCode};
use tower_service::Service as _;

type Answering = Pin<Box<dyn Future<Output = Response<AvatarBody>> + Send>>;

/// A local [`AvatarService`], its store's type erased.
pub(crate) struct Local {
    call: Box<dyn Fn(Request<()>) -> Answering + Send + Sync>,
    path_of: Box<dyn Fn(&AvatarHash) -> String + Send + Sync>,
    known_missing: Box<dyn Fn(&AvatarHash) -> bool + Send + Sync>,
}

impl fmt::Debug for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Local(AvatarService)")
    }
}

impl Local {
    pub(crate) fn new<St: Store>(service: AvatarService<St>) -> Self {
        let paths = service.clone();
        let index = service.clone();
        Self {
            call: Box::new(move |request| {
                let mut service = service.clone();
                Box::pin(async move {
                    match service.call(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                })
            }),
            path_of: Box::new(move |hash| paths.path_of(hash)),
            known_missing: Box::new(move |hash| index.known_missing(hash)),
        }
    }

    /// Whether the local store is known, now, to hold nothing under `sha256` (an identity's
    /// SHA-256 hash; [`AvatarService::known_missing`]): only then may a picture fetched for it
    /// be answered from the proxy's caches without asking [`answer`](Self::answer), so someone
    /// who stores a picture here is shown it at once, not when the fetched one is due for a
    /// refresh.
    pub(crate) fn known_missing(&self, sha256: &AvatarHash) -> bool {
        (self.known_missing)(sha256)
    }

    /// The local service's answer for the identity whose SHA-256 hash is `sha256`, at `size`,
    /// when its store holds a picture for it (200, or 304 for the request's `If-None-Match`),
    /// `None` otherwise. The request's `Accept` goes along, so formats are chosen as on the
    /// avatar API.
    pub(crate) async fn answer(
        &self,
        sha256: &AvatarHash,
        size: u32,
        headers: &HeaderMap,
    ) -> Option<Response<AvatarBody>> {
        let path = (self.path_of)(sha256);
        let mut request = Request::get(format!("{path}?s={size}&d=404"))
            .body(())
            .ok()?;
        for name in [ACCEPT, IF_NONE_MATCH] {
            if let Some(value) = headers.get(&name) {
                request.headers_mut().insert(name, value.clone());
            }
        }
        let response = (self.call)(request).await;
        matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED).then_some(response)
    }
}
