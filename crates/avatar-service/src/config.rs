//! Configuration and the builder.

use std::sync::Arc;
use std::time::Duration;

use avatar_image::{Limits, Palette, RenderCache, RenditionFiles, cache::DEFAULT_CACHE_BYTES};
use avatar_proto::{DefaultKeyword, OutputFormats, RequestRules, TrustedUrls};
use avatar_store::Store;
use http::HeaderValue;

use crate::error::ServiceError;
use crate::respond::StoreIndex;
use crate::service::{AvatarService, Shared};
use crate::upstream::{Upstream, UpstreamClient};

/// How long browsers and proxies may keep a stored avatar: one day.
pub const DEFAULT_HIT_MAX_AGE: Duration = Duration::from_secs(86_400);
/// How long they may keep a default image, a 404 or a redirect: five minutes, so a newly
/// uploaded avatar shows up soon.
pub const DEFAULT_DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// The settled configuration a service runs with.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) prefix: String,
    pub(crate) rules: RequestRules,
    pub(crate) server_default: DefaultKeyword,
    pub(crate) limits: Limits,
    pub(crate) hit_cache_control: HeaderValue,
    pub(crate) default_cache_control: HeaderValue,
    /// What `d=color` picks from, and its id (computed once, read on the hot path).
    pub(crate) palette: Arc<Palette>,
    pub(crate) palette_id: u64,
    /// What `Accept` may turn a response into.
    pub(crate) formats: OutputFormats,
}

/// Builds an [`AvatarService`]. Every setting has a default that works.
///
/// ```
/// use std::time::Duration;
/// use avatar_proto::DefaultKeyword;
/// use avatar_service::AvatarService;
/// use avatar_store::MemoryStore;
///
/// let service = AvatarService::builder(MemoryStore::new())
///     .prefix("/avatars")
///     .max_size(256)
///     .server_default(DefaultKeyword::NotFound)
///     .hit_max_age(Duration::from_secs(3600))
///     .build()?;
/// # let _ = service;
/// # Ok::<(), avatar_service::ServiceError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct AvatarServiceBuilder<St> {
    store: St,
    prefix: String,
    max_size: Option<u32>,
    trusted_urls: TrustedUrls,
    server_default: DefaultKeyword,
    cache_bytes: u64,
    hit_max_age: Duration,
    default_max_age: Duration,
    limits: Limits,
    upstream: Upstream,
    render_threads: Option<usize>,
    palette: Palette,
    formats: OutputFormats,
    rendition_files: Option<Arc<RenditionFiles>>,
}

impl<St: Store> AvatarServiceBuilder<St> {
    pub(crate) fn new(store: St) -> Self {
        Self {
            store,
            prefix: String::new(),
            max_size: None,
            trusted_urls: TrustedUrls::default(),
            server_default: DefaultKeyword::MysteryPerson,
            cache_bytes: DEFAULT_CACHE_BYTES,
            hit_max_age: DEFAULT_HIT_MAX_AGE,
            default_max_age: DEFAULT_DEFAULT_MAX_AGE,
            limits: Limits::default(),
            upstream: Upstream::off(),
            render_threads: None,
            palette: Palette::DEFAULT,
            formats: OutputFormats::default(),
            rendition_files: None,
        }
    }

    /// Also keeps renditions of stored avatars as files (default: none), read back when the
    /// render cache has let them go: under a long tail most renders are of renditions asked
    /// for before, and reading one back costs microseconds where making it costs about half a
    /// millisecond of CPU. Sizes up to 96 px, and 128 px, of a picture larger than 128 px are
    /// then rendered from its rung kept there ([`avatar_image::rung`]), a fraction of the decoding and
    /// resizing. See [`RenditionFiles`]; share an `Arc` of them with a
    /// [`RenderAhead`](avatar_image::RenderAhead) (or
    /// [`RenderAhead::rung_only`](avatar_image::RenderAhead::rung_only)) to have uploads
    /// rendered, or their rungs made, where the service looks.
    pub fn rendition_files(mut self, files: impl Into<Arc<RenditionFiles>>) -> Self {
        self.rendition_files = Some(files.into());
        self
    }

    /// Which formats a client's `Accept` may get instead of the stored one (default: WebP to
    /// clients that list `image/webp`; AVIF off). An extension on the hash (`HASH.png`) always
    /// chooses the format. Responses whose format `Accept` could change carry `Vary: Accept`.
    /// [`OutputFormats::STORED_ONLY`] never looks at `Accept`.
    pub const fn output_formats(mut self, formats: OutputFormats) -> Self {
        self.formats = formats;
        self
    }

    /// The colours `d=color` picks from (default: sixteen that keep white text readable); a
    /// site's own theme. Changing it changes those defaults' `ETag`s too.
    pub fn palette(mut self, palette: Palette) -> Self {
        self.palette = palette;
        self
    }

    /// Serves `{prefix}/avatar/{hash}` (default: no prefix, `/avatar/{hash}`). With
    /// `Router::nest_service`, leave it empty: axum strips the nesting path itself.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The largest size served (default 512); larger requests are clamped to it.
    pub const fn max_size(mut self, max_size: u32) -> Self {
        self.max_size = Some(max_size);
        self
    }

    /// Which `d=` URLs may be redirected to (default: ivatar's list plus relative paths).
    pub fn trusted_urls(mut self, trusted_urls: TrustedUrls) -> Self {
        self.trusted_urls = trusted_urls;
        self
    }

    /// What a miss without `d=` answers (default: the `mp` silhouette; `NotFound` for a 404).
    pub const fn server_default(mut self, keyword: DefaultKeyword) -> Self {
        self.server_default = keyword;
        self
    }

    /// The render cache's budget in bytes (default 64 MiB; 0 turns caching off). A small
    /// index of what the store holds for each hash (about 100 bytes per hash, one hash per 512
    /// bytes of budget) comes with it.
    pub const fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// `Cache-Control` max-age of stored avatars (default one day).
    pub const fn hit_max_age(mut self, max_age: Duration) -> Self {
        self.hit_max_age = max_age;
        self
    }

    /// `Cache-Control` max-age of defaults, 404s and redirects (default five minutes).
    pub const fn default_max_age(mut self, max_age: Duration) -> Self {
        self.default_max_age = max_age;
        self
    }

    /// Limits for decoding stored images.
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// What to do on a miss before the default flow (default: nothing, see [`Upstream`]).
    pub fn upstream(mut self, upstream: Upstream) -> Self {
        self.upstream = upstream;
        self
    }

    /// How many renders (decode, resize, encode, or drawing a default) may run at once
    /// (default: one more than the number of CPUs); requests beyond this wait, and each render
    /// in flight holds a decoded image in memory. Rendering is CPU-bound, but a render's turn
    /// is also held while a blocking thread wakes up to run it and while it reads its rung,
    /// and with only as many turns as CPUs those moments left a CPU idle whenever every
    /// waiting request was a render: on 2 CPUs, under the scale bench's long tail (rungs kept,
    /// 2026-12-05), 3 turns answered 16,539 and 16,332 requests a second where 2 answered
    /// 13,970 and 13,355 (interleaved runs; the CPUs idle 2 % against 4 %), and 1 turn
    /// 9,904.
    ///
    /// Renders and filesystem reads run on tokio's blocking pool. With glibc's allocator, a
    /// runtime built with a small pool (`max_blocking_threads` of about the CPU count plus two,
    /// as `avatars serve` does) keeps the resident set much lower than the default of 512
    /// threads, each of which may get its own malloc arena.
    pub const fn render_threads(mut self, threads: usize) -> Self {
        self.render_threads = Some(threads);
        self
    }

    /// Checks the settings and builds the service.
    ///
    /// # Errors
    /// [`ServiceError`] naming the setting that is wrong.
    pub fn build(self) -> Result<AvatarService<St>, ServiceError> {
        let prefix_ok = self.prefix.is_empty()
            || (self.prefix.starts_with('/')
                && !self.prefix.ends_with('/')
                && !self.prefix.contains(['?', '#', '%', '\\'])
                && !self.prefix.chars().any(char::is_whitespace));
        if !prefix_ok {
            return Err(ServiceError::InvalidPrefix { found: self.prefix });
        }
        if self.formats.offers_avif() && !cfg!(feature = "avif") {
            return Err(ServiceError::AvifNotBuilt);
        }
        let mut rules = RequestRules::default().trusted_urls(self.trusted_urls);
        if let Some(max_size) = self.max_size {
            rules = rules.max_size(max_size)?;
        }
        let config = Config {
            prefix: self.prefix,
            rules,
            server_default: self.server_default,
            limits: self.limits,
            hit_cache_control: cache_control(self.hit_max_age),
            default_cache_control: cache_control(self.default_max_age),
            palette_id: self.palette.id(),
            palette: Arc::new(self.palette),
            formats: self.formats,
        };
        let upstream = UpstreamClient::new(self.upstream, self.limits)?;
        let render_threads = match self.render_threads {
            Some(0) => return Err(ServiceError::NoRenderThreads),
            Some(threads) => threads,
            None => std::thread::available_parallelism().map_or(2, usize::from) + 1,
        };
        Ok(AvatarService::from_shared(Arc::new(Shared {
            store: self.store,
            config,
            cache: RenderCache::with_budget(self.cache_bytes),
            index: StoreIndex::for_budget(self.cache_bytes),
            renders: Arc::new(tokio::sync::Semaphore::new(render_threads)),
            upstream,
            counters: crate::stats::Counters::default(),
            files: self.rendition_files,
        })))
    }
}

/// `max-age=N`, without `public`: it only lets shared caches keep answers to requests that
/// carried `Authorization`, which an avatar request never needs to and a private deployment's
/// would (RFC 9111 5.2.2.9; REDbot warns of it).
fn cache_control(max_age: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!("max-age={}", max_age.as_secs()))
        .expect("digits are a valid header value")
}
