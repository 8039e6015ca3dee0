//! [`AvatarService`]: the tower `Service` answering the Libravatar HTTP API, and its
//! [`ResponseFuture`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use avatar_image::{RenderCache, RenditionFiles};
use avatar_store::{FsStore, Store};
use http::{Request, Response};
use tower_service::Service;

use crate::body::AvatarBody;
use crate::config::{AvatarServiceBuilder, Config};
use crate::error::ServiceError;
use crate::respond::{self, Prepared, StoreIndex};
use crate::upstream::UpstreamClient;

/// State shared by all clones of a service.
pub(crate) struct Shared<St> {
    pub(crate) store: St,
    pub(crate) config: Config,
    pub(crate) cache: RenderCache,
    pub(crate) index: StoreIndex,
    /// One permit per render allowed to run at once.
    pub(crate) renders: Arc<tokio::sync::Semaphore>,
    pub(crate) upstream: UpstreamClient,
    /// What [`AvatarService::stats`] reports.
    pub(crate) counters: crate::stats::Counters,
    /// Renditions kept as files past the render cache, if configured.
    pub(crate) files: Option<Arc<RenditionFiles>>,
}

/// Serves `{prefix}/avatar/{hash}` from a [`Store`]; answers every other path with a 404 that
/// says what is served. Cheap to clone (clones share the store and the render cache).
///
/// Mount it alone (hyper, `Router::nest_service`, `fallback_service`) or wrap another service
/// with [`AvatarLayer`](crate::AvatarLayer).
///
/// ```
/// use avatar_service::AvatarService;
/// use avatar_store::MemoryStore;
/// use http::{Request, StatusCode};
/// use tower::ServiceExt as _;
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let service = AvatarService::new(MemoryStore::new());
/// let request = Request::get("/avatar/40f8d096a3777232204cb3f796c577b7?s=64&d=404").body(())?;
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::NOT_FOUND);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AvatarService<St> {
    shared: Arc<Shared<St>>,
}

impl<St> Clone for AvatarService<St> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<St> fmt::Debug for AvatarService<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvatarService")
            .field("config", &self.shared.config)
            .field("cache", &self.shared.cache)
            .field("indexed_hashes", &self.shared.index.len())
            .finish_non_exhaustive()
    }
}

impl<St: Store> AvatarService<St> {
    /// A service with every default, serving from `store`.
    ///
    /// # Panics
    /// Never: only settings changed through [`AvatarService::builder`] can be invalid.
    #[must_use]
    pub fn new(store: St) -> Self {
        Self::builder(store)
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder to change the defaults.
    pub fn builder(store: St) -> AvatarServiceBuilder<St> {
        AvatarServiceBuilder::new(store)
    }

    pub(crate) const fn from_shared(shared: Arc<Shared<St>>) -> Self {
        Self { shared }
    }

    /// The path this service answers `hash` at: `{prefix}/avatar/{hash}`.
    #[must_use]
    pub fn path_of(&self, hash: &avatar_proto::AvatarHash) -> String {
        format!("{}/avatar/{hash}", self.shared.config.prefix)
    }

    /// Whether the store is known, this instant, to hold nothing this service would serve
    /// under `hash`: it was asked since `hash` last changed, and held no picture (or one that
    /// cannot be read). `false` when that is not known: never asked, asked before a change,
    /// forgotten, or a store without [generations](Store::generation); only a request says
    /// then. Touches neither the store nor the disk, for a caller that answers from caches of
    /// its own unless this service has the picture (as the avatar proxy does with
    /// `AvatarProxyBuilder::local`).
    #[must_use]
    pub fn known_missing(&self, hash: &avatar_proto::AvatarHash) -> bool {
        let Some(generation) = self.shared.store.generation(hash) else {
            return false;
        };
        matches!(
            self.shared.index.get(hash, generation),
            Some(respond::Found::Nothing | respond::Found::Unusable)
        )
    }

    /// Whether `path` is one this service answers (`{prefix}/avatar/...`).
    #[must_use]
    pub fn serves(&self, path: &str) -> bool {
        respond::avatar_segment(&self.shared.config.prefix, path).is_some()
    }

    /// The store avatars are served from.
    #[must_use]
    pub fn store(&self) -> &St {
        &self.shared.store
    }

    /// The rendition files, when the service keeps renditions on disk
    /// ([`AvatarServiceBuilder::rendition_files`](crate::AvatarServiceBuilder::rendition_files)):
    /// give them to a [`RenderAhead`](avatar_image::RenderAhead) so uploads are rendered where
    /// the service looks.
    #[must_use]
    pub fn rendition_files(&self) -> Option<&Arc<RenditionFiles>> {
        self.shared.files.as_ref()
    }

    /// The render cache (for statistics).
    #[must_use]
    pub fn render_cache(&self) -> &RenderCache {
        &self.shared.cache
    }

    /// What the service has done so far (renders, cache hits and misses, store errors) and
    /// what its caches hold now, for an operator's metrics.
    #[must_use]
    pub fn stats(&self) -> crate::ServiceStats {
        crate::ServiceStats {
            cache_bytes_now: self.shared.cache.used_bytes(),
            cache_entries_now: self.shared.cache.len(),
            index_entries: self.shared.index.len(),
            files_bytes_now: self
                .shared
                .files
                .as_ref()
                .map_or(0, |files| files.used_bytes()),
            files_now: self.shared.files.as_ref().map_or(0, |files| files.len()),
            file_write_failures: self
                .shared
                .files
                .as_ref()
                .map_or(0, |files| files.write_failures()),
            ..self.shared.counters.snapshot()
        }
    }

    /// Answers at once when the caches can; otherwise returns a future that looks up.
    pub(crate) fn respond_to<B>(&self, request: &Request<B>) -> ResponseFuture {
        let prepared = respond::prepare(
            &self.shared,
            request.method(),
            request.uri(),
            request.headers(),
        );
        let inner = match prepared {
            Prepared::Ready(response) => Inner::Ready(Some(response)),
            Prepared::Pending(pending) => {
                let shared = Arc::clone(&self.shared);
                let headers = request.headers().clone();
                Inner::Pending(Box::pin(async move {
                    Ok(respond::finish(&shared, pending, &headers).await)
                }))
            }
        };
        ResponseFuture { inner }
    }
}

impl AvatarService<FsStore> {
    /// The embedded default: a service over a filesystem store in `dir` (created if missing).
    ///
    /// # Errors
    /// [`ServiceError::Store`] if the directory cannot be created or holds something else.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, ServiceError> {
        Ok(Self::new(FsStore::open(dir)?))
    }
}

impl<St: Store, B> Service<Request<B>> for AvatarService<St> {
    type Response = Response<AvatarBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.respond_to(&request)
    }
}

/// The future of an [`AvatarService`] response: already complete when the caches answered.
pub struct ResponseFuture {
    inner: Inner,
}

enum Inner {
    Ready(Option<Response<AvatarBody>>),
    Pending(Pin<Box<dyn Future<Output = Result<Response<AvatarBody>, Infallible>> + Send>>),
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<AvatarBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Ready(response) => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            Inner::Pending(future) => future.as_mut().poll(cx),
        }
    }
}
