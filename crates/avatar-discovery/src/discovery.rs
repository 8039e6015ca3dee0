//! [`Discovery`]: the handle applications keep, and its builder.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use avatar_proto::identity::idna_domain;
use avatar_proto::srv::UniformRandom as _;
use avatar_proto::{AvatarUrlBuilder, BaseUrl, Fallback, Scheme, SrvRecord};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::cache::{AnswerCache, Cached};
use crate::clock::{Clock, SystemClock};
use crate::error::DiscoveryError;
use crate::lookup::{self, SrvAnswer};
use crate::random;

/// The cache key of one (scheme, domain) answer.
fn cache_key(domain: &str, scheme: Scheme) -> String {
    format!("{}|{}", scheme.as_str(), domain.to_ascii_lowercase())
}

/// Positive answers are kept at least this long, whatever their TTL (the spec's rule).
pub const MIN_POSITIVE_TTL: Duration = Duration::from_secs(86_400);
/// Default bound on one lookup.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

type RandomSource = Box<dyn FnMut(u64) -> u64 + Send>;

/// Finds the avatar server of a domain through DNS SRV, as the Libravatar spec demands: the
/// scheme's service name (`_avatars._tcp` or `_avatars-sec._tcp`), the domain in IDNA ASCII with
/// no walk up to parent domains, only the lowest priority value, the RFC 2782 weighted draw (made
/// per call from the cached record set), `.` as "no service", sanitised targets, the trailing dot
/// stripped, the default port left out; and the central server on no record, a bad record, or
/// any DNS error or timeout.
///
/// Cheap to clone; clones share the resolver and the cache. Positive answers are cached for
/// max(TTL, 1 day); negative answers and errors for shorter, configurable times; concurrent
/// lookups of one name share one query.
///
/// ```no_run
/// use avatar_discovery::Discovery;
/// use avatar_proto::{AvatarUrlBuilder, Identity, Scheme};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let discovery = Discovery::builder().build()?; // the system's resolver
/// let base = discovery.base_url("example.org", Scheme::Https).await;
/// println!("{base}"); // https://avatars.example.org/avatar/ or https://seccdn.libravatar.org/avatar/
///
/// let url = discovery
///     .avatar_url(&AvatarUrlBuilder::new(Identity::parse("alice@example.org")?).size(64))
///     .await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Discovery {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    /// Whether `resolver` reads the system's configuration (no nameserver was given): host
    /// addresses then come from the system's own resolver, as any program's would.
    system: bool,
    cache: AnswerCache,
    clock: Arc<dyn Clock>,
    random: Mutex<RandomSource>,
    timeout: Duration,
    negative_ttl: Duration,
    error_ttl: Duration,
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovery")
            .field("timeout", &self.inner.timeout)
            .field("negative_ttl", &self.inner.negative_ttl)
            .field("error_ttl", &self.inner.error_ttl)
            .field("cached_names", &self.inner.cache.len())
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// A builder: system resolver, 1 s timeout, 10,000 cached names.
    pub fn builder() -> DiscoveryBuilder {
        DiscoveryBuilder::default()
    }

    /// The addresses of `host` (an SRV record's target, say), to connect to the server it
    /// names: asked of the nameservers given to [`DiscoveryBuilder::nameserver`], so that the
    /// one DNS server answers for the records and for their targets alike, IPv6 and IPv4
    /// together (within the lookup timeout); or, when none was given, of the system's resolver
    /// (`getaddrinfo`: `/etc/hosts` and the system's name services), as any program's lookup.
    /// An address literal is its own answer.
    ///
    /// # Errors
    /// [`DiscoveryError::HostAddresses`]: no such name, no address, no answer in time, or the
    /// resolver's error.
    pub async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, DiscoveryError> {
        let failed = |reason: String| DiscoveryError::HostAddresses {
            host: host.to_owned(),
            reason,
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let inner = &self.inner;
        let found: Vec<IpAddr> = if inner.system {
            tokio::net::lookup_host((host, 0))
                .await
                .map_err(|err| failed(err.to_string()))?
                .map(|addr| addr.ip())
                .collect()
        } else {
            // Absolute, so no search domain is tried first.
            let name = if host.ends_with('.') {
                host.to_owned()
            } else {
                format!("{host}.")
            };
            tokio::time::timeout(inner.timeout, inner.resolver.lookup_ip(name))
                .await
                .map_err(|_| failed(format!("no answer within {:?}", inner.timeout)))?
                .map_err(|err| failed(err.to_string()))?
                .iter()
                .collect()
        };
        if found.is_empty() {
            return Err(failed("the name has no address".to_owned()));
        }
        Ok(found)
    }

    /// The SRV records of `domain` for `scheme`'s service, from the cache or DNS.
    ///
    /// # Errors
    /// The [`Fallback`] reason there are none to use: no records, an invalid domain, or a failed
    /// lookup (each cached for its configured time).
    pub async fn records(
        &self,
        domain: &str,
        scheme: Scheme,
    ) -> Result<Arc<[SrvRecord]>, Fallback> {
        let inner = &self.inner;
        let key = cache_key(domain, scheme);
        let fetch = async {
            let outcome = match idna_domain(domain) {
                Ok(ascii) => Some(
                    lookup::srv(&inner.resolver, &scheme.srv_name(&ascii), inner.timeout).await,
                ),
                Err(_) => None,
            };
            let now = inner.clock.now();
            match outcome {
                Some(SrvAnswer::Records { records, ttl }) => Cached {
                    answer: Ok(records),
                    expires: now + MIN_POSITIVE_TTL.max(Duration::from_secs(u64::from(ttl))),
                },
                Some(SrvAnswer::NoRecords) => Cached {
                    answer: Err(Fallback::NoRecords),
                    expires: now + inner.negative_ttl,
                },
                Some(SrvAnswer::Failed { .. }) => Cached {
                    answer: Err(Fallback::LookupFailed),
                    expires: now + inner.error_ttl,
                },
                Some(SrvAnswer::TimedOut { .. }) => Cached {
                    answer: Err(Fallback::TimedOut),
                    expires: now + inner.error_ttl,
                },
                None => Cached {
                    answer: Err(Fallback::InvalidDomain),
                    expires: now + inner.negative_ttl,
                },
            }
        };
        inner
            .cache
            .get_or_fetch(&key, inner.clock.now(), fetch)
            .await
            .answer
    }

    /// What DNS says now about `domain`'s SRV records for `scheme`'s service, bypassing (and not
    /// filling) the cache, with the TTL and, for a failure, its reason: for diagnostics such as
    /// the conformance suite's domain checker, not for building URLs.
    ///
    /// # Errors
    /// [`Fallback::InvalidDomain`] when `domain` cannot be turned into a DNS name.
    pub async fn lookup_now(&self, domain: &str, scheme: Scheme) -> Result<SrvAnswer, Fallback> {
        let ascii = idna_domain(domain).map_err(|_| Fallback::InvalidDomain)?;
        let inner = &self.inner;
        Ok(lookup::srv(&inner.resolver, &scheme.srv_name(&ascii), inner.timeout).await)
    }

    /// The avatar base URL for `domain` (`http(s)://host[:port]/avatar/`), federated or central.
    pub async fn base_url(&self, domain: &str, scheme: Scheme) -> BaseUrl {
        self.base_from(scheme, self.records(domain, scheme).await)
    }

    /// The base URL for `domain` without waiting, for rendering pages: the cached answer when
    /// there is one; otherwise the central server at once ([`Fallback::Resolving`]), with the
    /// lookup started in the background (one per name however many ask), so that a later call
    /// gets the domain's own server. A slow DNS server never stalls a page.
    ///
    /// Needs a tokio runtime to start the background lookup; without one it only reads the
    /// cache.
    #[must_use]
    pub fn base_url_now(&self, domain: &str, scheme: Scheme) -> BaseUrl {
        let now = self.inner.clock.now();
        if let Some(cached) = self.inner.cache.peek(&cache_key(domain, scheme), now) {
            return self.base_from(scheme, cached.answer);
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (discovery, domain) = (self.clone(), domain.to_owned());
            runtime.spawn(async move {
                let _ = discovery.records(&domain, scheme).await;
            });
        }
        BaseUrl::central(scheme, Fallback::Resolving)
    }

    fn base_from(&self, scheme: Scheme, answer: Result<Arc<[SrvRecord]>, Fallback>) -> BaseUrl {
        match answer {
            Ok(records) => {
                let mut random = self
                    .inner
                    .random
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                BaseUrl::from_srv(scheme, &records, &mut *random)
            }
            Err(reason) => BaseUrl::central(scheme, reason),
        }
    }

    /// As [`Discovery::avatar_url`] without waiting (see [`Discovery::base_url_now`]).
    #[must_use]
    pub fn avatar_url_now(&self, url: &AvatarUrlBuilder) -> String {
        let scheme = url.scheme_of_page();
        let base = match url.identity().domain() {
            Ok(domain) => self.base_url_now(&domain, scheme),
            Err(_) => BaseUrl::central(scheme, Fallback::InvalidDomain),
        };
        url.build_with_base(&base)
    }

    /// The URL an application puts in its pages: under its own mount point (`local_base`, such
    /// as `/avatars/avatar/`) when it holds the avatar itself, otherwise the identity's own
    /// server or the central one, found without waiting (see [`Discovery::base_url_now`]).
    ///
    /// `held` says whether this site holds the avatar: ask the store with
    /// `avatar_store::Store::contains`, a cheap check that reads no image. It is a flag because
    /// discovery does not depend on any store.
    ///
    /// `held` says whether this site holds the avatar: ask the store with
    /// `avatar_store::Store::contains` (a cheap check that reads no image). It is a flag
    /// because this crate does not depend on the store (`docs/protocol.md` has the layout).
    ///
    /// ```
    /// use avatar_discovery::Discovery;
    /// use avatar_proto::{AvatarUrlBuilder, Identity};
    ///
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let discovery = Discovery::builder().nameserver("127.0.0.1:9".parse()?).build()?;
    /// let alice = AvatarUrlBuilder::new(Identity::parse("alice@example.org")?).size(64);
    /// let ours = discovery.local_or_discovered(&alice, "/avatars/avatar/", true);
    /// assert_eq!(ours, "/avatars/avatar/fbf7c6aec1d4280b7c2704c1c0478bd6?s=64");
    /// let theirs = discovery.local_or_discovered(&alice, "/avatars/avatar/", false);
    /// assert_eq!(theirs, "http://cdn.libravatar.org/avatar/fbf7c6aec1d4280b7c2704c1c0478bd6?s=64");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn local_or_discovered(
        &self,
        url: &AvatarUrlBuilder,
        local_base: &str,
        held_locally: bool,
    ) -> String {
        if held_locally {
            url.build_under(local_base)
        } else {
            self.avatar_url_now(url)
        }
    }

    /// The full avatar URL: the identity's domain is discovered for the builder's scheme, then
    /// the builder's hash and options are appended.
    pub async fn avatar_url(&self, url: &AvatarUrlBuilder) -> String {
        let scheme = url.scheme_of_page();
        let base = match url.identity().domain() {
            Ok(domain) => self.base_url(&domain, scheme).await,
            Err(_) => BaseUrl::central(scheme, Fallback::InvalidDomain),
        };
        url.build_with_base(&base)
    }

    /// How many (scheme, domain) answers are cached.
    #[must_use]
    pub fn cached_names(&self) -> usize {
        self.inner.cache.len()
    }
}

/// Builds a [`Discovery`].
#[must_use]
pub struct DiscoveryBuilder {
    nameservers: Vec<SocketAddr>,
    timeout: Duration,
    cache_capacity: usize,
    negative_ttl: Duration,
    error_ttl: Duration,
    clock: Arc<dyn Clock>,
    random: Option<RandomSource>,
}

impl Default for DiscoveryBuilder {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            cache_capacity: 10_000,
            negative_ttl: Duration::from_secs(3600),
            error_ttl: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            random: None,
        }
    }
}

impl fmt::Debug for DiscoveryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscoveryBuilder")
            .field("nameservers", &self.nameservers)
            .field("timeout", &self.timeout)
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

impl DiscoveryBuilder {
    /// Asks this nameserver (UDP, then TCP, on the given port) instead of the system's; repeat for
    /// more. With none, the system configuration (`/etc/resolv.conf`) is used.
    pub fn nameserver(mut self, addr: SocketAddr) -> Self {
        self.nameservers.push(addr);
        self
    }

    /// Bounds each lookup (default 1 s); past it the central server is used.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many (scheme, domain) answers to keep (default 10,000).
    pub const fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// How long "no such name" and "no SRV records" are remembered (default 1 hour).
    pub const fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How long a failed or timed-out lookup is remembered (default 1 minute).
    pub const fn error_ttl(mut self, ttl: Duration) -> Self {
        self.error_ttl = ttl;
        self
    }

    /// The clock cache expiry is measured with (for tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The random source of the weighted draw: called with `max`, returns a number in
    /// `0..=max` (for tests; the default is a seeded fast generator).
    pub fn random(mut self, random: impl FnMut(u64) -> u64 + Send + 'static) -> Self {
        self.random = Some(Box::new(random));
        self
    }

    /// Builds the resolver.
    ///
    /// # Errors
    /// [`DiscoveryError::SystemConfig`] if no nameserver was given and the system configuration
    /// cannot be read; [`DiscoveryError::Resolver`] if the resolver refuses the settings;
    /// [`DiscoveryError::Setting`] for a zero timeout.
    pub fn build(self) -> Result<Discovery, DiscoveryError> {
        if self.timeout.is_zero() {
            return Err(DiscoveryError::Setting(
                "the lookup timeout must be more than zero",
            ));
        }
        let mut builder = if self.nameservers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|source| DiscoveryError::SystemConfig { source })?
        } else {
            let servers = self
                .nameservers
                .iter()
                .map(|addr| {
                    let (mut udp, mut tcp) = (ConnectionConfig::udp(), ConnectionConfig::tcp());
                    udp.port = addr.port();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let options = builder.options_mut();
        options.timeout = self.timeout;
        options.attempts = 1;
        // This crate caches answers itself, under the spec's rules.
        options.cache_size = 0;
        let resolver = builder
            .build()
            .map_err(|source| DiscoveryError::Resolver { source })?;
        let random = self.random.unwrap_or_else(|| {
            let mut generator = random::seeded();
            Box::new(move |max| generator.uniform_inclusive(max))
        });
        Ok(Discovery {
            inner: Arc::new(Inner {
                resolver,
                system: self.nameservers.is_empty(),
                cache: AnswerCache::new(self.cache_capacity),
                clock: self.clock,
                random: Mutex::new(random),
                timeout: self.timeout,
                negative_ttl: self.negative_ttl,
                error_ttl: self.error_ttl,
            }),
        })
    }
}
