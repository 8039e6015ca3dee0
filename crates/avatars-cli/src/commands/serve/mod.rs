//! `avatars serve`: the standalone server. Here, its start and its listeners; beside it, what
//! is checked before anything starts ([`start_checks`], shared with `avatars config check`),
//! the render cache kept across restarts ([`render_cache_file`]) and the page at `/`
//! ([`mod@home_page`]).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use avatar_image::{Limits, RenderAhead, RenditionFiles};
use avatar_proto::{AvatarHash, HashAlgorithm, Identity, TrustedUrl, TrustedUrls};
use avatar_service::upload::UploadOptions;
use avatar_service::{AvatarService, Upstream};
use avatar_store::{Store, StoreError};
use axum::Router;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::cli::ServeArgs;
use crate::commands::import::{describe, import_file};
use crate::commands::{answer_hangups, init_logging};
use crate::error::CliError;
use crate::renditions::{self, check_render_ahead, output_formats};
use crate::server::admin::{self, AdminState, Tokens};
use crate::server::event_loops::LoopThreads;
use crate::server::listen::{ConnectionLimits, Listener, Serving};
use crate::server::metrics::Metrics;
use crate::server::observe::{ObserveLayer, Observer, RateLimit, TrustedProxies};
use crate::server::service_manager;
use crate::server::tls::ReloadableTls;
use crate::store::{AnyStore, Location, Open};

mod home_page;
mod render_cache_file;
mod start_checks;

use home_page::{home_page, home_page_headers};
use render_cache_file::RenditionsFile;
pub(crate) use start_checks::check_start;
use start_checks::{StartFiles, check_settings, readable_secrets, secret_files, written_folders};

/// Binds every listener, opens (or creates) the data directory, imports any `--email` pairs,
/// prints `listening on http://HOST:PORT` (then `listening on https://...` and `admin on
/// http://...` for the TLS and admin listeners) on stdout, and serves until Ctrl-C or SIGTERM;
/// then stops accepting and lets requests in flight finish within `--shutdown-timeout-secs`.
pub(crate) fn run(args: &ServeArgs, out: &mut impl Write) -> Result<(), CliError> {
    let files = StartFiles::read(args)?;
    let mut warnings = files.warnings(args);
    let StartFiles {
        imports,
        tls,
        tokens,
        proxy_keys,
    } = files;
    let location = args.data.location()?;
    // Before the store is opened, which would make a new folder a store.
    check_settings(args, proxy_keys.clone())?;
    init_logging(args.log_format);
    let listeners = 1 + u64::from(args.tls_addr.is_some()) + u64::from(args.admin_addr.is_some());
    warnings.extend(crate::server::open_files::make_room(
        listeners,
        args.max_connections,
    ));

    let (runtime, threads) = runtime(args)?;
    let upload_limits = upload_limits(args);
    runtime.block_on(async {
        check_render_ahead(&args.renditions, &location)?;
        for (dir, _, _) in written_folders(args, &location, proxy_keys.is_some()) {
            crate::owner::check_root_writes_its_own(&dir)?;
        }
        // Before the store is opened: a port that cannot be had stops the start with nothing
        // made or stored. Connections wait in the backlog until the start is done.
        let (plain, secure, admin) = bind_listeners(args, tls.is_some()).await?;
        let store = location.open(Open::Create, args.data.flag()).await?;
        let (files, ahead) = renditions::open(&args.renditions, &location)?;
        let service = service(args, store, files)?;
        let proxy = crate::commands::proxy::for_serve(args, proxy_keys, &service)?;
        let (stored, shown) =
            store_imports(service.store(), &imports, &upload_limits, ahead.as_ref()).await?;
        let renditions = RenditionsFile::start(args, &service);
        let metrics = Arc::new(Metrics::new(service.clone(), proxy.clone(), tls.clone()));
        let observer = |listener| observer(args, &metrics, listener);
        let rate_limit = rate_limit(args);
        let limits = connection_limits(args);
        let app = public_app(args, service.clone(), proxy.clone(), stored);
        let observed =
            |tcp, tls, app, observer| observed(tcp, tls, app, observer, limits, &metrics);

        // Installed just before the server says it listens (see `shutdown_signal`); until
        // then, Ctrl-C stops a long start (imports, counting the store) at once.
        let shutdown = crate::commands::shutdown_signal();
        // Likewise: from the listening line on, a SIGHUP (`systemctl reload`) never ends it.
        answer_hangups(reload_on_hangup(
            args,
            tls.as_ref(),
            &tokens,
            proxy.as_ref(),
        ));
        let mut listeners = Vec::new();
        let mut admin_listener = None;
        let addr = plain.local_addr()?;
        crate::commands::announce(out, &format!("listening on http://{addr}"))?;
        let public = |listener| Observer {
            rate_limit: rate_limit.clone(),
            ..observer(listener)
        };
        listeners.push(observed(plain, None, app.clone(), public("http")));
        if let (Some(secure), Some(tls)) = (secure, &tls) {
            crate::commands::announce(
                out,
                &format!("listening on https://{}", secure.local_addr()?),
            )?;
            let tls = Some(Arc::clone(tls));
            let app = strict_transport_security(app.clone(), args.hsts_max_age_secs);
            listeners.push(observed(secure, tls, app, public("https")));
        }
        if let Some(admin) = admin {
            crate::commands::announce(out, &format!("admin on http://{}", admin.local_addr()?))?;
            let state = AdminState {
                service: service.clone(),
                tokens,
                limits: upload_limits,
                ahead,
                metrics: Arc::clone(&metrics),
            };
            let routes = admin::router(state);
            admin_listener = Some(observed(admin, None, routes, observer("admin")));
        }
        out.flush()?;
        say_serving(
            &warnings,
            args,
            addr,
            stored,
            &location,
            shown.as_ref(),
            proxy.as_ref(),
        );

        crate::server::run_until_shutdown(
            listeners,
            admin_listener,
            threads,
            shutdown,
            Duration::from_secs(args.shutdown_timeout_secs),
        )
        .await?;
        if let Some(renditions) = renditions {
            renditions.save(service.render_cache());
        }
        say!("shut down");
        Ok(())
    })
}

/// Stores `imports` (`--email`, each already checked by [`StartFiles::read`]) in `store`,
/// each said on stderr; then how many avatars it holds, counted up to [`COUNTED_AT_START`],
/// and whose avatar to show the operator: the first imported, or else the first stored
/// (`None`: nobody is).
async fn store_imports(
    store: &AnyStore,
    imports: &[(Identity, PathBuf)],
    limits: &Limits,
    ahead: Option<&RenderAhead>,
) -> Result<(Held, Option<Identity>), CliError> {
    let options = ahead.map_or_else(UploadOptions::new, |ahead| {
        UploadOptions::new().render_ahead(ahead.clone())
    });
    for (identity, file) in imports {
        let identities = std::slice::from_ref(identity);
        let uploaded = import_file(store, identities, file, limits, &options).await?;
        say!("{}", describe(identity, &uploaded));
    }
    let (stored, first_stored) = count_stored(store, COUNTED_AT_START).await?;
    let shown = imports
        .first()
        .map(|(identity, _)| identity.clone())
        .or_else(|| first_stored.and_then(|identity| Identity::parse(&identity).ok()));
    Ok((stored, shown))
}

/// The most avatars counted before the server listens: counting reads the whole store (a
/// folder's directories, or a table), which for 100,000 avatars in a folder took 1.5 to 2.7
/// s (2026-12-06), so a million would keep a restarted server from answering for half a
/// minute, only to print a number.
const COUNTED_AT_START: usize = 10_000;

/// How many avatars a store holds, as far as they were counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// All of them.
    Exactly(usize),
    /// Counting stopped here; there are more.
    MoreThan(usize),
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exactly(count) => write!(f, "{count}"),
            Self::MoreThan(count) => write!(f, "more than {count}"),
        }
    }
}

/// The avatars `store` holds, counted as they are read up to `limit` (never collected), and
/// the first one's identity.
async fn count_stored(
    store: &impl Store,
    limit: usize,
) -> Result<(Held, Option<String>), StoreError> {
    let (count, first) = store
        .entries()
        .take(limit.saturating_add(1))
        .try_fold((0, None), async |(count, first), entry| {
            Ok((count + 1, first.or(Some(entry.identity))))
        })
        .await?;
    let held = if count > limit {
        Held::MoreThan(limit)
    } else {
        Held::Exactly(count)
    };
    Ok((held, first))
}

/// The runtime that starts the server, serves the admin listener and runs the background
/// tasks, and the event loops' threads (`server::event_loops`) that serve the public
/// listeners.
///
/// Store reads and renders run on blocking pools. Renders are CPU-bound and limited to about
/// one per CPU by the service anyway; small pools keep glibc from growing an arena per thread
/// (measured by `cargo xtask bench`: 105 MiB resident with tokio's default of 512 threads,
/// 70 MiB with this).
fn runtime(args: &ServeArgs) -> std::io::Result<(tokio::runtime::Runtime, LoopThreads)> {
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .max_blocking_threads(cpus + 2)
        .build()?;
    let threads = LoopThreads {
        loops: args.event_loops.map_or(cpus, usize::from),
        blocking_per_loop: cpus + 2,
    };
    Ok((runtime, threads))
}

/// The limits of uploads (`--email`, the management API): the defaults, with a master no
/// smaller than the largest size served.
pub(super) fn upload_limits(args: &ServeArgs) -> Limits {
    Limits {
        master_side: Limits::DEFAULT.master_side.max(args.max_size),
        ..Limits::DEFAULT
    }
}

/// A listener whose every request goes through `observer` (rate limit, access log, metrics).
fn observed(
    tcp: tokio::net::TcpListener,
    tls: Option<Arc<ReloadableTls>>,
    app: Router,
    observer: Observer,
    limits: ConnectionLimits,
    metrics: &Metrics,
) -> Listener {
    let open = metrics.connections(observer.listener);
    let app = app.layer(ObserveLayer::new(observer));
    Listener {
        tcp,
        serving: Arc::new(Serving::new(tls, app, limits, open)),
    }
}

/// `--hsts-max-age-secs`: `Strict-Transport-Security` on every answer of `app` (the HTTPS
/// listener's; RFC 6797 has it ignored over plain HTTP, so it is never sent there); `app`
/// as it is for 0.
fn strict_transport_security(app: Router, max_age_secs: u64) -> Router {
    if max_age_secs == 0 {
        return app;
    }
    let value = axum::http::HeaderValue::from_str(&format!("max-age={max_age_secs}"))
        .expect("digits are a valid header value");
    app.layer(axum::middleware::map_response(
        move |mut response: axum::response::Response| {
            let value = value.clone();
            async move {
                response
                    .headers_mut()
                    .insert(axum::http::header::STRICT_TRANSPORT_SECURITY, value);
                response
            }
        },
    ))
}

/// `--rate-limit` and `--rate-burst`.
fn rate_limit(args: &ServeArgs) -> Option<Arc<RateLimit>> {
    args.rate_limit.map(|per_second| {
        RateLimit::new(
            NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
            NonZeroU32::new(args.rate_burst).unwrap_or(NonZeroU32::MIN),
        )
    })
}

/// `--trusted-proxy` and `--forwarded-header`.
fn trusted_proxies(args: &ServeArgs) -> TrustedProxies {
    TrustedProxies {
        nets: Arc::from(args.trusted_proxies.as_slice()),
        header: args.forwarded_header,
    }
}

/// `--header-timeout-secs`, `--idle-timeout-secs` and `--max-connections`.
fn connection_limits(args: &ServeArgs) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
    }
}

/// What `listener` records of each request: its metrics, and the access log as `args` say;
/// no rate limit (the public listeners add theirs).
fn observer(args: &ServeArgs, metrics: &Metrics, listener: &'static str) -> Observer {
    Observer {
        listener,
        prefix: Arc::from(args.prefix.as_str()),
        log: args.log_format,
        log_clients: args.log_clients,
        metrics: Arc::new(metrics.for_listener(listener)),
        rate_limit: None,
        trusted_proxies: trusted_proxies(args),
    }
}

/// The public listeners' routes: the home page, the avatar API, and the proxy when configured.
fn public_app(
    args: &ServeArgs,
    service: AvatarService<AnyStore>,
    proxy: Option<avatar_proxy::AvatarProxy>,
    stored: Held,
) -> Router {
    let prefix = args.prefix.clone();
    let example = example_hash().to_string();
    let headers = home_page_headers();
    let app = Router::new()
        .route(
            "/",
            axum::routing::get(move || {
                let page = home_page(&prefix, stored, &example);
                let headers = headers.clone();
                async move { (headers, axum::response::Html(page)) }
            }),
        )
        .fallback_service(service);
    match proxy {
        Some(proxy) => app.route_service("/proxy/{token}", proxy),
        None => app,
    }
}

/// What the operator reads on stderr once the server listens on `addr`: the `warnings` of
/// [`StartFiles::warnings`], where its `stored` avatars are, a URL to try, and where the proxy
/// answers; then a service manager is told the server is ready, with the status line
/// `systemctl status` shows.
fn say_serving(
    warnings: &[String],
    args: &ServeArgs,
    addr: SocketAddr,
    stored: Held,
    location: &Location,
    shown: Option<&Identity>,
    proxy: Option<&avatar_proxy::AvatarProxy>,
) {
    for warning in warnings {
        say!("avatars: warning: {warning}");
    }
    // Bound to every address (0.0.0.0 or [::]): the link goes to this machine's loopback.
    let addr = reachable_here(addr);
    let url = try_url(addr, &args.prefix, shown);
    say!(
        "serving {stored} avatar(s) from {}; try {url} (Ctrl-C stops)",
        location.describe()
    );
    if stored == Held::Exactly(0) {
        say!(
            "nobody is stored yet: add someone with `avatars import {}ADDRESS PICTURE` (the server finds them within a second)",
            location.as_flag()
        );
    }
    if let Some(proxy) = proxy {
        // The proxied link of the avatar shown above, which the proxy answers from this store.
        let example =
            shown.and_then(|identity| Some((identity, proxy.url(identity, 128, None).ok()?)));
        if let Some((identity, path)) = example {
            say!(
                "the avatar proxy answers http://{addr}/proxy/TOKEN; try http://{addr}{path} ({identity}'s link; `avatars proxy-url` prints anyone's)"
            );
        } else {
            say!(
                "the avatar proxy answers http://{addr}/proxy/TOKEN (`avatars proxy-url` prints anyone's link)"
            );
        }
    }
    // Said, and listening: a systemd unit's `systemctl start` returns.
    service_manager::ready(&format!(
        "serving {stored} avatar(s) from {} on http://{addr}",
        location.describe()
    ));
}

/// `addr`, or for a listener on every address (`0.0.0.0`, `[::]`), the loopback address of
/// its family on the same port: an unspecified address is a place to listen, not to go. Linux
/// takes it as this machine (curl and Chromium 156 open `http://0.0.0.0:PORT/` and
/// `http://[::]:PORT/` there), but Windows refuses to connect to it, and loopback says plainly
/// that the link is for this machine.
fn reachable_here(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// A URL to open once the server listens, under `prefix` as the service answers: `shown`'s
/// avatar (the first `--email` imported, or else the first stored), otherwise, with nothing
/// stored, [`example_hash`]'s, a miss that shows an identicon. Only the operator reads it:
/// the public home page keeps to the example.
fn try_url(addr: SocketAddr, prefix: &str, shown: Option<&Identity>) -> String {
    match shown {
        Some(identity) => {
            let hash = identity.hash(HashAlgorithm::Md5);
            format!("http://{addr}{prefix}/avatar/{hash}?s=128")
        }
        None => format!(
            "http://{addr}{prefix}/avatar/{}?s=128&d=identicon",
            example_hash()
        ),
    }
}

/// The avatar hash the home page and the start line show as an example: george@example.com's,
/// the Libravatar API documentation's example address.
fn example_hash() -> AvatarHash {
    Identity::parse("george@example.com")
        .expect("a valid address")
        .hash(HashAlgorithm::Md5)
}

/// Listens on `addr`, given with `flag`.
/// The plain listener, the TLS one when there is a certificate, and the admin one when asked
/// for, bound.
async fn bind_listeners(
    args: &ServeArgs,
    with_tls: bool,
) -> Result<
    (
        tokio::net::TcpListener,
        Option<tokio::net::TcpListener>,
        Option<tokio::net::TcpListener>,
    ),
    CliError,
> {
    let plain = bind("--addr", args.addr).await?;
    let secure = match args.tls_addr.filter(|_| with_tls) {
        Some(addr) => Some(bind("--tls-addr", addr).await?),
        None => None,
    };
    let admin = match args.admin_addr {
        Some(addr) => Some(bind("--admin-addr", addr).await?),
        None => None,
    };
    Ok((plain, secure, admin))
}

/// A listener on `addr`, or [`CliError::Bind`] naming `flag`, the option that gave it.
pub(crate) async fn bind(
    flag: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| CliError::Bind { flag, addr, source })
}

/// What a SIGHUP does to `serve`: reads again the TLS certificate and key, the admin tokens
/// and the proxy keys, those that are set (one that cannot be used is reported and the old
/// one kept), and says there is nothing to read again when none is.
fn reload_on_hangup(
    args: &ServeArgs,
    tls: Option<&Arc<ReloadableTls>>,
    tokens: &Tokens,
    proxy: Option<&avatar_proxy::AvatarProxy>,
) -> impl FnMut() + Send + 'static {
    let (tls, tokens) = (tls.cloned(), tokens.clone());
    let proxy = proxy.cloned().zip(args.proxy_key_file.clone());
    let secrets = secret_files(args);
    let settings = args
        .config
        .as_ref()
        .and_then(|path| Some((path.clone(), crate::config_file::read_settings(path).ok()?)));
    move || {
        if let Some((path, started_with)) = &settings
            && let Some(note) = crate::config_file::changed_since(path, started_with)
        {
            say!("avatars: warning: {note}");
        }
        let tokens_read = tokens.reload();
        if tls.is_none() && tokens_read.is_none() && proxy.is_none() {
            say!(
                "SIGHUP: nothing to read again (only the TLS certificate and key, the admin tokens and the proxy keys are, and none is set); still serving"
            );
            return;
        }
        if let Some(tls) = &tls {
            match tls.reload() {
                Ok(()) => {
                    let until = tls.valid_until().map_or_else(String::new, |until| {
                        format!(" (valid until {})", until.date())
                    });
                    say!(
                        "reloaded the TLS certificate from {}{until}",
                        tls.cert_path().display()
                    );
                    if let Some(warning) = tls.expiry_warning() {
                        say!("avatars: warning: {warning}");
                    }
                }
                Err(err) => say!("avatars: kept the TLS certificate in use: {err}"),
            }
        }
        match tokens_read {
            Some(Ok((path, count))) => {
                say!("reloaded {count} admin token(s) from {}", path.display());
            }
            Some(Err(err)) => say!("avatars: kept the admin tokens in use: {err}"),
            None => {}
        }
        if let Some((proxy, path)) = &proxy {
            match crate::commands::proxy::read_keys(path) {
                Ok(keys) => {
                    proxy.replace_keys(keys);
                    say!("reloaded the proxy keys from {}", path.display());
                }
                Err(err) => say!("avatars: kept the proxy keys in use: {err}"),
            }
        }
        // A file replaced since the start may have come with other permissions.
        for warning in readable_secrets(&secrets) {
            say!("avatars: warning: {warning}");
        }
    }
}

/// The service as the flags configure it.
pub(super) fn service<St: Store>(
    args: &ServeArgs,
    store: St,
    files: Option<Arc<RenditionFiles>>,
) -> Result<AvatarService<St>, CliError> {
    let mut builder = AvatarService::builder(store)
        .prefix(args.prefix.clone())
        .max_size(args.max_size)
        .server_default(args.default)
        .output_formats(output_formats(&args.renditions.formats))
        .cache_bytes(args.cache_bytes)
        .hit_max_age(Duration::from_secs(args.hit_max_age))
        .default_max_age(Duration::from_secs(args.default_max_age));
    if !args.trusted_urls.is_empty() {
        let mut trusted = TrustedUrls::none();
        for pattern in &args.trusted_urls {
            trusted = trusted.with(pattern.parse::<TrustedUrl>()?);
        }
        builder = builder.trusted_urls(trusted);
    }
    let mut upstream = match args.upstream.as_str() {
        "redirect" => Upstream::redirect(),
        "proxy" => Upstream::proxy(),
        _ => Upstream::off(),
    };
    if let Some(url) = &args.upstream_url {
        upstream = upstream.base_url(url.clone());
    }
    builder = builder.upstream(upstream);
    if let Some(threads) = args.render_threads {
        builder = builder.render_threads(usize::try_from(threads).unwrap_or(usize::MAX));
    }
    if let Some(files) = files {
        builder = builder.rendition_files(files);
    }
    // Refused only when empty, which is the default palette's case.
    if let Ok(palette) = avatar_image::Palette::new(args.palette.clone()) {
        builder = builder.palette(palette);
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use avatar_proto::Identity;
    use avatar_store::{MemoryStore, Store as _};
    use bytes::Bytes;

    use super::{Held, count_stored, reachable_here};

    #[tokio::test]
    async fn counting_stops_past_the_limit() {
        let store = MemoryStore::new();
        assert_eq!(
            count_stored(&store, 3).await.unwrap(),
            (Held::Exactly(0), None)
        );
        for n in 0..4 {
            let identity = Identity::parse(&format!("user{n}@example.org")).unwrap();
            store
                .put(&identity, Bytes::from_static(b"a picture"))
                .await
                .unwrap();
        }
        let (held, first) = count_stored(&store, 4).await.unwrap();
        assert_eq!(held, Held::Exactly(4));
        assert!(first.is_some());
        assert_eq!(count_stored(&store, 3).await.unwrap().0, Held::MoreThan(3));
        assert_eq!(Held::MoreThan(3).to_string(), "more than 3");
    }

    /// The start line's links go to this machine's loopback address when the server listens
    /// on every address; a given address is kept.
    #[test]
    fn links_to_a_listener_on_every_address_go_to_loopback() {
        for (bound, shown) in [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8080", "[::1]:8080"),
            ("192.0.2.7:8080", "192.0.2.7:8080"),
            ("[2001:db8::1]:443", "[2001:db8::1]:443"),
        ] {
            assert_eq!(
                reachable_here(bound.parse().unwrap()).to_string(),
                shown,
                "{bound}"
            );
        }
    }
}
