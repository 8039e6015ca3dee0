//! The builder, and the settled configuration a proxy runs with.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use avatar_discovery::Discovery;
use avatar_image::{Limits, Palette, RenderCache, cache::DEFAULT_CACHE_BYTES};
use avatar_proto::{DefaultKeyword, Identity, OutputFormats, RequestRules};
use avatar_service::AvatarService;
use http::HeaderValue;
use ipnet::IpNet;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::disk::DiskCache;
use crate::error::ProxyError;
use crate::fetch::{FetchFailure, FetchLimits, Fetcher};
use crate::guard::AddressGuard;
use crate::local::Local;
use crate::respond::{Opened, Original};
use crate::service::AvatarProxy;
use crate::token::ProxyKeys;

/// The central server asked when a domain has no avatar server of its own.
pub const DEFAULT_CENTRAL: &str = "https://seccdn.libravatar.org/avatar/";
/// The whole of one fetch, redirects included.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(1);
/// Connecting to one address.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// The most bytes of one upstream file.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
/// How long a fetched original is kept.
pub const DEFAULT_TTL: Duration = Duration::from_secs(86_400);
/// How long a miss or a failure is kept.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(300);
/// The size originals are fetched at (every size is rendered from it).
pub const DEFAULT_FETCH_SIZE: u32 = 512;

/// Gravatar as a last resort, after the identity's own server and the central one have no
/// avatar: off unless the operator turns it on, and then told only the hash they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GravatarFallback {
    /// Never asked (the default): Gravatar learns nothing.
    #[default]
    Off,
    /// Asked with the SHA-256 of the address (which Gravatar accepts).
    Sha256,
    /// Asked with the MD5 of the address: most of Gravatar's pictures are indexed by it, and
    /// most MD5s of real addresses have been cracked, so this tells Gravatar whose avatar a
    /// page shows. Only when explicitly chosen.
    Md5,
}

/// Gravatar's avatar base URL.
pub const GRAVATAR: &str = "https://gravatar.com/avatar/";

/// Opened tokens remembered (each about 250 bytes: the token, its identity and hash).
const TOKENS_KEPT: usize = 65_536;

/// The keys and the tokens opened with them, replaced together
/// ([`AvatarProxy::replace_keys`]): a token opened with a retired key is never found in the
/// cache of the keys that retired it.
pub(crate) struct Keyring {
    pub(crate) keys: ProxyKeys,
    /// Tokens already opened, so a repeated request skips the decryption.
    pub(crate) tokens: Cache<String, Opened>,
}

impl Keyring {
    pub(crate) fn new(keys: ProxyKeys) -> Self {
        Self {
            keys,
            tokens: Cache::new(TOKENS_KEPT),
        }
    }
}

/// Everything a request needs, shared by every clone of the proxy.
pub(crate) struct Shared {
    pub(crate) keyring: ArcSwap<Keyring>,
    pub(crate) prefix: String,
    pub(crate) discovery: Discovery,
    pub(crate) central: String,
    pub(crate) https_only: bool,
    pub(crate) gravatar: GravatarFallback,
    pub(crate) gravatar_base: String,
    pub(crate) fetcher: Fetcher,
    /// Resolution and fetching of one original together.
    pub(crate) deadline: Duration,
    pub(crate) fetch_size: u32,
    pub(crate) limits: Limits,
    pub(crate) rules: RequestRules,
    pub(crate) formats: OutputFormats,
    pub(crate) server_default: DefaultKeyword,
    pub(crate) palette: Arc<Palette>,
    pub(crate) cache: RenderCache,
    pub(crate) originals: Cache<Identity, Original, OriginalWeight>,
    pub(crate) ttl: Duration,
    pub(crate) negative_ttl: Duration,
    /// Originals kept on disk across restarts, if configured.
    pub(crate) disk: Option<Arc<DiskCache>>,
    /// Identities whose stale picture is being refetched in the background.
    pub(crate) refreshing: Mutex<HashSet<Identity>>,
    /// Originals fetched, and how many gave no usable picture, by
    /// [`FetchFailure::reason`](crate::fetch::FetchFailure::reason) (`ProxyStats`).
    pub(crate) fetches: AtomicU64,
    pub(crate) fetch_failures: [AtomicU64; FetchFailure::REASONS.len()],
    pub(crate) hit_cache_control: HeaderValue,
    pub(crate) default_cache_control: HeaderValue,
    /// The local store answered from first, if any.
    pub(crate) local: Option<Local>,
}

impl Shared {
    /// The keys in use and their opened tokens, for the length of a request.
    pub(crate) fn keyring(&self) -> arc_swap::Guard<Arc<Keyring>> {
        self.keyring.load()
    }
}

#[derive(Clone)]
pub(crate) struct OriginalWeight;

impl Weighter<Identity, Original> for OriginalWeight {
    fn weight(&self, identity: &Identity, original: &Original) -> u64 {
        let bytes = match original {
            Original::Image { bytes, .. } => bytes.len(),
            Original::Missing { .. } => 0,
        };
        (bytes + identity.as_str().len() + 100) as u64
    }
}

/// Builds an [`AvatarProxy`]. Every setting but the keys and the discovery client has a default
/// that works.
#[derive(Debug)]
#[must_use]
pub struct AvatarProxyBuilder {
    keys: ProxyKeys,
    discovery: Discovery,
    prefix: String,
    central: String,
    https_only: bool,
    gravatar: GravatarFallback,
    gravatar_base: String,
    guard: AddressGuard,
    fetch: FetchLimits,
    extra_roots: Vec<Vec<u8>>,
    fetch_size: u32,
    max_size: Option<u32>,
    formats: OutputFormats,
    server_default: DefaultKeyword,
    palette: Palette,
    cache_bytes: u64,
    original_bytes: u64,
    ttl: Duration,
    negative_ttl: Duration,
    disk: Option<(PathBuf, u64)>,
    hit_max_age: Duration,
    default_max_age: Duration,
    local: Option<Local>,
}

impl AvatarProxyBuilder {
    pub(crate) fn new(keys: ProxyKeys, discovery: Discovery) -> Self {
        Self {
            keys,
            discovery,
            prefix: "/proxy".to_owned(),
            central: DEFAULT_CENTRAL.to_owned(),
            https_only: false,
            gravatar: GravatarFallback::Off,
            gravatar_base: GRAVATAR.to_owned(),
            guard: AddressGuard::default(),
            fetch: FetchLimits {
                deadline: DEFAULT_DEADLINE,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                max_bytes: DEFAULT_MAX_BYTES,
            },
            extra_roots: Vec::new(),
            fetch_size: DEFAULT_FETCH_SIZE,
            max_size: None,
            formats: OutputFormats::default(),
            server_default: DefaultKeyword::MysteryPerson,
            palette: Palette::DEFAULT,
            cache_bytes: DEFAULT_CACHE_BYTES,
            original_bytes: 64 << 20,
            ttl: DEFAULT_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            disk: None,
            hit_max_age: DEFAULT_TTL,
            default_max_age: DEFAULT_NEGATIVE_TTL,
            local: None,
        }
    }

    /// Answers the identities `service`'s store holds from it first, with no lookup or
    /// fetch: a site that stores its own users' avatars and proxies everyone else's shows its
    /// users' pictures as they uploaded them, at once, with the avatar API's answer (its
    /// format choice, `ETag` and `Cache-Control`). Others are looked up and fetched as
    /// always. Off by default. Someone stored here after the proxy fetched their picture is
    /// shown the stored one from the next request on, and the fetched one again once theirs
    /// is removed here: the proxy answers from its caches only while `service` is known to
    /// hold nothing for the identity ([`AvatarService::known_missing`]), and asks `service`
    /// otherwise.
    pub fn local<St: avatar_store::Store>(mut self, service: AvatarService<St>) -> Self {
        self.local = Some(Local::new(service));
        self
    }

    /// Serves `{prefix}/{token}` (default `/proxy`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The central server's avatar base URL, ending in `/avatar/` (default
    /// [`DEFAULT_CENTRAL`]), asked when a domain has no avatar server of its own.
    pub fn central(mut self, base_url: impl Into<String>) -> Self {
        self.central = base_url.into();
        self
    }

    /// Only `_avatars-sec._tcp` servers, over https (default: `_avatars._tcp` over http too).
    pub const fn https_only(mut self, on: bool) -> Self {
        self.https_only = on;
        self
    }

    /// Asks Gravatar last, with the hash `fallback` allows (default: never).
    pub const fn gravatar(mut self, fallback: GravatarFallback) -> Self {
        self.gravatar = fallback;
        self
    }

    /// Gravatar's base URL (default [`GRAVATAR`]; for tests and mirrors).
    pub fn gravatar_base(mut self, base_url: impl Into<String>) -> Self {
        self.gravatar_base = base_url.into();
        self
    }

    /// Allows connecting to `network` although it is internal (loopback, private, link-local...):
    /// an avatar server on the operator's own network, or a test's loopback.
    pub fn allow_network(mut self, network: IpNet) -> Self {
        self.guard = self.guard.allow(network);
        self
    }

    /// The total deadline of finding and fetching one original: the SRV lookups, the fetch with
    /// its redirects, and the Gravatar fallback together (default 1 s). The lookups have half
    /// of it: one that takes longer is a DNS error, which sends the fetch to the central
    /// server, as any DNS error does (it goes on in the background, and its answer is cached
    /// for the next ask).
    pub const fn deadline(mut self, deadline: Duration) -> Self {
        self.fetch.deadline = deadline;
        self
    }

    /// The connect timeout of each connection (default 500 ms).
    pub const fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.fetch.connect_timeout = timeout;
        self
    }

    /// The most bytes of one upstream file (default 1 MiB).
    pub const fn max_bytes(mut self, bytes: usize) -> Self {
        self.fetch.max_bytes = bytes;
        self
    }

    /// Trusts this DER certificate for https upstreams, besides the web's roots (for tests or a
    /// private CA).
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(der.into());
        self
    }

    /// The largest size served (default 512; up to 4096).
    pub const fn max_size(mut self, max_size: u32) -> Self {
        self.max_size = Some(max_size);
        self
    }

    /// What `Accept` may turn a response into (default: WebP for clients that list it).
    pub const fn output_formats(mut self, formats: OutputFormats) -> Self {
        self.formats = formats;
        self
    }

    /// What a request without `d=` gets when there is no picture (default `mp`).
    pub const fn server_default(mut self, keyword: DefaultKeyword) -> Self {
        self.server_default = keyword;
        self
    }

    /// The colours `d=color` and `d=initials` pick from.
    pub fn palette(mut self, palette: Palette) -> Self {
        self.palette = palette;
        self
    }

    /// How long a fetched original is fresh (default one day, or the upstream's `max-age` when
    /// longer; after that it is still served while one background refresh runs) and how long a
    /// miss or failure is remembered (default five minutes).
    pub const fn ttl(mut self, ttl: Duration, negative_ttl: Duration) -> Self {
        self.ttl = ttl;
        self.negative_ttl = negative_ttl;
        self
    }

    /// Also keeps fetched originals in `dir` (created if missing), at most `max_bytes` of them,
    /// so a restarted proxy serves what it had without refetching (a stale one while it
    /// refreshes). Off by default.
    pub fn disk_cache(mut self, dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        self.disk = Some((dir.into(), max_bytes));
        self
    }

    /// The byte budgets of the render cache (default 64 MiB) and of the fetched originals
    /// (default 64 MiB).
    pub const fn cache_bytes(mut self, renditions: u64, originals: u64) -> Self {
        self.cache_bytes = renditions;
        self.original_bytes = originals;
        self
    }

    /// Checks the settings and builds the proxy.
    ///
    /// # Errors
    /// [`ProxyError`] naming the setting that is wrong.
    pub fn build(self) -> Result<AvatarProxy, ProxyError> {
        if !self.prefix.starts_with('/')
            || self.prefix.ends_with('/')
            || self.prefix.contains(['?', '#', '%', '\\'])
        {
            return Err(ProxyError::InvalidPrefix { found: self.prefix });
        }
        for (setting, base) in [
            ("central", &self.central),
            ("gravatar_base", &self.gravatar_base),
        ] {
            let usable = (base.starts_with("https://") || base.starts_with("http://"))
                && base.ends_with('/');
            if !usable {
                return Err(ProxyError::Setting {
                    setting,
                    reason: format!(
                        "{base:?}: expected an http(s) base URL ending in /, like {DEFAULT_CENTRAL}"
                    ),
                });
            }
        }
        if self.fetch.deadline.is_zero() || self.fetch.max_bytes == 0 {
            return Err(ProxyError::Setting {
                setting: "deadline or max_bytes",
                reason: "must be above zero".to_owned(),
            });
        }
        let mut rules = RequestRules::default();
        if let Some(max_size) = self.max_size {
            rules = rules
                .max_size(max_size)
                .map_err(|err| ProxyError::Setting {
                    setting: "max_size",
                    reason: err.to_string(),
                })?;
        }
        let limits = Limits {
            max_input_bytes: self.fetch.max_bytes,
            ..Limits::default()
        };
        let deadline = self.fetch.deadline;
        let fetcher = Fetcher::new(
            self.guard,
            self.fetch,
            &self.extra_roots,
            self.discovery.clone(),
        )?;
        let disk = match &self.disk {
            Some((dir, max_bytes)) => Some(Arc::new(DiskCache::open(dir, *max_bytes).map_err(
                |err| ProxyError::Setting {
                    setting: "disk_cache",
                    reason: format!("{}: {err}", dir.display()),
                },
            )?)),
            None => None,
        };
        let estimated = usize::try_from(self.original_bytes / 16_384)
            .unwrap_or(usize::MAX)
            .max(16);
        Ok(AvatarProxy::from_shared(Arc::new(Shared {
            keyring: ArcSwap::from_pointee(Keyring::new(self.keys)),
            prefix: self.prefix,
            discovery: self.discovery,
            central: self.central,
            https_only: self.https_only,
            gravatar: self.gravatar,
            gravatar_base: self.gravatar_base,
            fetcher,
            deadline,
            fetch_size: self.fetch_size,
            limits,
            rules,
            formats: self.formats,
            server_default: self.server_default,
            palette: Arc::new(self.palette),
            cache: RenderCache::with_budget(self.cache_bytes),
            originals: Cache::with_weighter(estimated, self.original_bytes.max(1), OriginalWeight),
            ttl: self.ttl,
            negative_ttl: self.negative_ttl,
            disk,
            refreshing: Mutex::new(HashSet::new()),
            fetches: AtomicU64::new(0),
            fetch_failures: std::array::from_fn(|_| AtomicU64::new(0)),
            hit_cache_control: cache_control(self.hit_max_age),
            default_cache_control: cache_control(self.default_max_age),
            local: self.local,
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
