//! `avatars serve`: the standalone server.

use std::io::{BufReader, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use avatar_image::{Limits, RenderAhead, RenderCache, RenditionFiles};
use avatar_proto::{AvatarHash, HashAlgorithm, Identity, TrustedUrl, TrustedUrls};
use avatar_proxy::ProxyKeys;
use avatar_service::upload::UploadOptions;
use avatar_service::{AvatarService, Upstream};
use avatar_store::{Store, StoreError};
use axum::Router;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::cli::ServeArgs;
use crate::commands::import::{check_upload, describe, import_file};
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
        let store = location.open(Open::Create).await?;
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

/// The files `serve` reads before it touches anything, so that one it cannot use stops it
/// with nothing stored and nothing listening: every `--email` picture (read and decoded under
/// the upload limits, not kept), the TLS certificate and key, the admin tokens and the proxy
/// keys. `avatars config check` reads them the same way.
pub(crate) struct StartFiles {
    imports: Vec<(Identity, PathBuf)>,
    tls: Option<Arc<ReloadableTls>>,
    tokens: Tokens,
    proxy_keys: Option<ProxyKeys>,
}

impl StartFiles {
    /// Reads and checks every file `args` names.
    ///
    /// # Errors
    /// The first file that cannot be used, saying what is wrong with it.
    pub(crate) fn read(args: &ServeArgs) -> Result<Self, CliError> {
        let imports = args
            .emails
            .iter()
            .map(|(identity, file)| Ok((Identity::parse(identity)?, file.clone())))
            .collect::<Result<Vec<_>, CliError>>()?;
        let limits = upload_limits(args);
        for (_, file) in &imports {
            check_upload(file, &limits)?;
        }
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(ReloadableTls::load(cert, key)?)),
            _ => None,
        };
        let tokens = args
            .admin_token_file
            .as_deref()
            .map(Tokens::read)
            .transpose()?
            .unwrap_or_default();
        let proxy_keys = args
            .proxy_key_file
            .as_deref()
            .map(crate::commands::proxy::read_keys)
            .transpose()?;
        Ok(Self {
            imports,
            tls,
            tokens,
            proxy_keys,
        })
    }

    /// What the operator should hear of, though serve runs with it: the TLS certificate
    /// expired or expiring ([`ReloadableTls::expiry_warning`]), a secret file (the TLS key,
    /// the admin tokens, the proxy keys) that every user of the machine may read, and an admin
    /// listener other machines can reach, which has no TLS of its own ([`setting_warnings`]).
    pub(crate) fn warnings(&self, args: &ServeArgs) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .tls
            .as_deref()
            .and_then(ReloadableTls::expiry_warning)
            .into_iter()
            .collect();
        warnings.extend(readable_secrets(&secret_files(args)));
        warnings.extend(setting_warnings(args));
        warnings
    }

    /// What was read, for `config check` to say: `the TLS certificate and key, 2 admin
    /// token(s), the proxy key file, 1 picture(s)`; `None` when no file is named.
    pub(crate) fn describe(&self) -> Option<String> {
        let mut read = Vec::new();
        if let Some(tls) = &self.tls {
            read.push(match tls.valid_until() {
                Some(until) => {
                    format!("the TLS certificate (valid until {}) and key", until.date())
                }
                None => "the TLS certificate and key".to_owned(),
            });
        }
        if !self.tokens.is_empty() {
            read.push(format!("{} admin token(s)", self.tokens.len()));
        }
        if self.proxy_keys.is_some() {
            read.push("the proxy key file".to_owned());
        }
        if !self.imports.is_empty() {
            read.push(format!("{} picture(s)", self.imports.len()));
        }
        (!read.is_empty()).then(|| read.join(", "))
    }
}

/// What [`check_start`] found, for its one line.
pub(crate) struct StartChecked {
    /// What was read, when files were ([`StartFiles::describe`]).
    pub(crate) read: Option<String>,
    /// The PostgreSQL store's URL (without its password) and what was found there.
    pub(crate) database: Option<String>,
}

/// What `avatars config check` checks of `serve`'s start, as `serve` checks it before it
/// opens the store: every file named, read as [`StartFiles::read`] reads it (unless
/// `values_only`), the store's address (a PostgreSQL URL parsed and, unless `values_only`,
/// connected to and inspected without changing anything: [`inspect_database`]), and the
/// settings ([`check_settings`]).
///
/// # Errors
/// The first file or setting refused, as `serve` would say it.
pub(crate) fn check_start(args: &ServeArgs, values_only: bool) -> Result<StartChecked, CliError> {
    let (proxy_keys, read) = if values_only {
        // The key file is not read: any key builds the proxy the same.
        let any_key = args
            .proxy_key_file
            .is_some()
            .then(|| ProxyKeys::new(avatar_proxy::ProxyKey::generate(), Vec::new()));
        if let Some(warning) = setting_warnings(args) {
            say!("avatars: warning: {warning}");
        }
        (any_key, None)
    } else {
        let files = StartFiles::read(args)?;
        let read = files.describe();
        for warning in files.warnings(args) {
            say!("avatars: warning: {warning}");
        }
        (files.proxy_keys, read)
    };
    let location = args.data.location()?;
    check_render_ahead(&args.renditions, &location)?;
    let proxy_on = proxy_keys.is_some();
    check_settings(args, proxy_keys)?;
    if !values_only {
        if let Location::Dir(dir) = &location {
            // A store there must be one serve can open (a new or empty folder becomes one).
            match avatar_store::FsStore::open_existing(dir) {
                Ok(_) | Err(StoreError::NoStore { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        for (dir, named, what) in written_folders(args, &location, proxy_on) {
            check_writable(&dir, named, what)?;
        }
    }
    let database = match &location {
        Location::Postgres(url) if !values_only => Some(inspect_database(url)?),
        _ => None,
    };
    Ok(StartChecked { read, database })
}

/// The database at `url` as `serve` would meet it, inspected without changing anything
/// ([`PgStoreBuilder::inspect`](avatar_store_postgres::PgStoreBuilder::inspect)): the URL
/// and what was found, for the check's line; privileges missing for some of the store's
/// statements, and changes that would not be followed, as warnings (`serve` starts, and works
/// without them, less well).
///
/// # Errors
/// The database unreachable, holding a newer schema, or one this role could not create or
/// migrate: as `serve` would stop.
fn inspect_database(url: &str) -> Result<String, CliError> {
    let shown = avatar_store_postgres::display_url(url);
    let found = crate::commands::small_runtime()?
        .block_on(avatar_store_postgres::PgStore::builder(url).inspect())?;
    if let Some(missing) = &found.missing_privileges {
        say!("avatars: warning: {shown}: {missing}");
    }
    if let Some(why) = found.why_not_following {
        say!("avatars: warning: {shown}: {why}");
    }
    if let Some(elsewhere) = &found.tables_elsewhere {
        say!("avatars: warning: {shown}: serve would create empty avatar tables, but {elsewhere}");
    }
    Ok(format!("{shown}: {found}"))
}

/// The folders `serve` writes in, each with the setting's value that names it and what it
/// keeps there: the store's (a directory store), the rendition files', the proxy's cache
/// (with the proxy on), and the render cache file's.
fn written_folders<'a>(
    args: &'a ServeArgs,
    location: &'a Location,
    proxy_on: bool,
) -> Vec<(PathBuf, &'a Path, &'static str)> {
    let mut folders = Vec::new();
    if let Location::Dir(dir) = location {
        folders.push((dir.clone(), dir.as_path(), "the store"));
    }
    if let Some(dir) = &args.renditions.render_files_dir {
        folders.push((dir.clone(), dir.as_path(), "the rendition files"));
    }
    if let Some(dir) = args.proxy_cache_dir.as_ref().filter(|_| proxy_on) {
        folders.push((dir.clone(), dir.as_path(), "the proxy's cache"));
    }
    // Written when the server stops (and every --render-cache-save-secs), beside itself.
    if let Some(file) = &args.render_cache_file {
        let folder = file
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        folders.push((folder.to_owned(), file.as_path(), "the render cache file"));
    }
    folders
}

/// Whether `serve` could keep `what` (the setting's value `named`) in the folder `dir`, as the
/// user running the check (the one the server runs as, best): it must be able to write in
/// `dir`, or, where `dir` is not made yet, in the nearest folder above it (it makes `dir`).
/// Tried by making and removing a file there; nothing else is written.
///
/// # Errors
/// [`CliError::Config`] naming `named` and the folder it cannot write in.
fn check_writable(dir: &Path, named: &Path, what: &str) -> Result<(), CliError> {
    crate::owner::check_root_writes_its_own(dir)?;
    let writes_in = crate::owner::nearest_existing(dir);
    let probe = writes_in.join(format!(".avatars-config-check-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match written {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => Err(CliError::Config {
            path: named.to_owned(),
            problem: format!(
                "{what} cannot be kept here: cannot write in {}: {err} (check as the user the server runs as)",
                std::fs::canonicalize(writes_in)
                    .unwrap_or_else(|_| writes_in.to_owned())
                    .display()
            ),
        }),
    }
}

/// Whether the avatar service and the proxy (with `proxy_keys`, when it is on) would be built
/// with `args`' settings: both built and dropped, over an empty store in memory and with no
/// folder made, so that a setting they refuse is found before any store is opened or made.
///
/// # Errors
/// The first setting refused.
fn check_settings(args: &ServeArgs, proxy_keys: Option<ProxyKeys>) -> Result<(), CliError> {
    service(args, avatar_store::MemoryStore::new(), None)?;
    if let Some(keys) = proxy_keys {
        crate::commands::proxy::check_settings(args, keys)?;
    }
    Ok(())
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
enum Held {
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
fn upload_limits(args: &ServeArgs) -> Limits {
    Limits {
        master_side: Limits::DEFAULT.master_side.max(args.max_size),
        ..Limits::DEFAULT
    }
}

/// Fills the render cache from `file` (`--render-cache-file`), saying how many renditions it
/// held; a file that is missing is a first start, one that cannot be read is reported and the
/// cache starts empty.
fn load_renditions(cache: &RenderCache, file: &Path) {
    let opened = match std::fs::File::open(file) {
        Ok(opened) => opened,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
        Err(err) => {
            say!(
                "warning: cannot read the render cache {}: {err}",
                file.display()
            );
            return;
        }
    };
    let started = Instant::now();
    match cache.read_snapshot(&mut BufReader::new(opened)) {
        Ok(read) => say!(
            "render cache: {read} rendition(s) from {} in {:.2} s",
            file.display(),
            started.elapsed().as_secs_f64()
        ),
        Err(err) => say!(
            "warning: render cache {} not used past a damaged part ({err}); {} rendition(s) kept",
            file.display(),
            cache.len()
        ),
    }
}

/// `--render-cache-file`: read when the server starts, saved every
/// `--render-cache-save-secs` while it serves and once more when it stops, one save at a time.
#[derive(Clone)]
struct RenditionsFile {
    file: PathBuf,
    saving: Arc<std::sync::Mutex<()>>,
}

impl RenditionsFile {
    /// Fills `service`'s render cache from the file and starts the periodic saves; `None`
    /// without `--render-cache-file`.
    fn start(args: &ServeArgs, service: &AvatarService<AnyStore>) -> Option<Self> {
        let file = args.render_cache_file.clone()?;
        load_renditions(service.render_cache(), &file);
        let renditions = Self {
            file,
            saving: Arc::new(std::sync::Mutex::new(())),
        };
        if args.render_cache_save_secs > 0 {
            let every = Duration::from_secs(args.render_cache_save_secs);
            tokio::spawn(renditions.clone().save_every(every, service.clone()));
        }
        Some(renditions)
    }

    fn save(&self, cache: &RenderCache) {
        let _one_at_a_time = self
            .saving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        save_renditions(cache, &self.file);
    }

    /// Saves every `every`, on a blocking thread, while the server runs.
    async fn save_every(self, every: Duration, service: AvatarService<AnyStore>) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (renditions, service) = (self.clone(), service.clone());
            let _ =
                tokio::task::spawn_blocking(move || renditions.save(service.render_cache())).await;
        }
    }
}

/// Writes the render cache to `file` through a temporary file renamed into place, so a crash
/// while saving leaves the previous snapshot whole.
fn save_renditions(cache: &RenderCache, file: &Path) {
    let temporary = file.with_extension("tmp");
    let written = std::fs::File::create(&temporary).and_then(|created| {
        let mut out = BufWriter::new(created);
        let count = cache.write_snapshot(&mut out)?;
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()?;
        std::fs::rename(&temporary, file)?;
        Ok(count)
    });
    match written {
        Ok(count) => say!(
            "render cache: {count} rendition(s) saved to {}",
            file.display()
        ),
        Err(err) => {
            let _ = std::fs::remove_file(&temporary);
            say!(
                "warning: cannot save the render cache to {}: {err}",
                file.display()
            );
        }
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

/// The warnings of [`StartFiles::warnings`] that the settings alone give, which `config check
/// --values-only` says too: an admin listener other machines can reach.
fn setting_warnings(args: &ServeArgs) -> Option<String> {
    let admin = args.admin_addr.filter(|addr| !addr.ip().is_loopback())?;
    Some(format!(
        "the admin listener ({admin}) can be reached from other machines, and has no TLS: its bearer tokens and uploads cross the network in clear; bind it to 127.0.0.1 or firewall it"
    ))
}

/// The files holding secrets, each with the flag that names it: the TLS key, the admin tokens
/// and the proxy keys, those that are set.
fn secret_files(args: &ServeArgs) -> Vec<(&'static str, PathBuf)> {
    [
        ("--tls-key", &args.tls_key),
        ("--admin-token-file", &args.admin_token_file),
        ("--proxy-key-file", &args.proxy_key_file),
    ]
    .into_iter()
    .filter_map(|(flag, file)| Some((flag, file.clone()?)))
    .collect()
}

/// A warning for each of `secrets` that every user of the machine may read.
fn readable_secrets(secrets: &[(&'static str, PathBuf)]) -> Vec<String> {
    secrets
        .iter()
        .filter_map(|(flag, file)| {
            let mode = world_readable(file)?;
            Some(format!(
                "{} ({flag}) is a secret that every user of this machine can read (mode {mode:04o}): chmod o-r it",
                file.display()
            ))
        })
        .collect()
}

/// The permission bits of `file` when other users may read it (`o+r`).
fn world_readable(file: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o7777;
        (mode & 0o004 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
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
fn service<St: Store>(
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

/// The home page's style sheet, inline in the page.
const HOME_PAGE_STYLE: &str = "body{font:16px system-ui;max-width:42em;margin:2em auto;\
    line-height:1.5}code{background:#f2f2f2;padding:0 .2em}img{vertical-align:middle;\
    margin-right:.5em}";

/// The home page's headers: it loads nothing but its own pictures and its own style (allowed
/// by its SHA-256, not by `'unsafe-inline'`), runs no script and is framed by no one, and its
/// policy says so (the page is what people and security scanners see first of a server). It
/// counts what the store holds, so caches keep it a minute at most.
fn home_page_headers() -> axum::http::HeaderMap {
    use base64::Engine as _;
    use sha2::Digest as _;

    let style = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(HOME_PAGE_STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; img-src 'self'; style-src 'sha256-{style}'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    );
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in [
        ("content-security-policy", policy.as_str()),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "max-age=60"),
    ] {
        headers.insert(
            name,
            value
                .parse()
                .expect("ASCII without controls is a header value"),
        );
    }
    headers
}

/// `GET /`: what this server is, what it holds, and how to build an avatar URL, with a live
/// example.
fn home_page(prefix: &str, stored: Held, example_hash: &str) -> String {
    let base = format!("{prefix}/avatar/");
    format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>avatars</title>\
         <style>{HOME_PAGE_STYLE}</style>\
         <main><h1>A Libravatar server</h1>\
         <p>This is <code>avatars serve</code>, serving the \
         <a href=\"https://wiki.libravatar.org/api/\">Libravatar API</a>. It holds \
         {stored} avatar(s).</p>\
         <h2>Building an avatar URL</h2>\
         <p><code>{base}HASH?s=SIZE&amp;d=DEFAULT</code>, where HASH is the MD5 or SHA-256 (in hex) \
         of the lowercased, trimmed email address; <code>s</code> is the size in pixels (80 by \
         default); <code>d</code> is what to show when there is no avatar: <code>404</code>, \
         <code>mp</code>, <code>identicon</code>, <code>monsterid</code>, <code>wavatar</code>, \
         <code>retro</code>, <code>robohash</code>, <code>pagan</code>, <code>blank</code> or a \
         URL. <code>avatars hash ADDRESS</code> prints both hashes.</p>\
         <p><img src=\"{base}{example_hash}?s=80&amp;d=identicon\" width=80 height=80 \
         alt=\"an example avatar\"><code>{base}{example_hash}?s=80&amp;d=identicon</code> \
         (george@example.com)</p></main>"
    )
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
