//! `avatars serve`: the standalone server.

use std::io::Write;

use std::time::{Duration, Instant};

use avatar_image::Limits;
use avatar_proto::{HashAlgorithm, Identity, OutputFormats, TrustedUrl, TrustedUrls};
use avatar_service::{AvatarService, Upstream};
use avatar_store::{FsStore, Store as _};
use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::cli::ServeArgs;
use crate::commands::import::{describe, import_file};
use crate::commands::{init_logging, shutdown_signal};
use crate::error::CliError;

/// Opens (or creates) the data directory, imports any `--email` pairs, binds, prints
/// `listening on http://HOST:PORT` on stdout, and serves until Ctrl-C or SIGTERM, then lets
/// requests in flight finish.
pub(crate) fn run(args: &ServeArgs, out: &mut impl Write) -> Result<(), CliError> {
    // Validate every identity before touching anything.
    let imports = args
        .emails
        .iter()
        .map(|(identity, file)| Ok((Identity::parse(identity)?, file.clone())))
        .collect::<Result<Vec<_>, CliError>>()?;
    init_logging();

    // Store reads and renders run on the blocking pool. Renders are CPU-bound and limited to
    // one per CPU by the service anyway; a small pool keeps glibc from growing an arena per
    // thread (measured by `cargo xtask bench`: 105 MiB resident with tokio's default of 512
    // threads, 70 MiB with this).
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cpus + 2)
        .build()?;
    runtime.block_on(async {
        let store = FsStore::open(&args.data.data_dir)?;
        for (identity, file) in &imports {
            let info = import_file(&store, std::slice::from_ref(identity), file, &Limits::default()).await?;
            eprintln!("{}", describe(identity, &info));
        }
        let stored = store.list().await?.len();
        let service = service(args, store)?;
        let proxy = crate::commands::proxy::for_serve(args)?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|source| CliError::Bind { addr: args.addr, source })?;
        let addr = listener.local_addr()?;
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        let example = Identity::parse("george@example.com")?.hash(HashAlgorithm::Md5);
        eprintln!(
            "serving {stored} avatar(s) from {}; try http://{addr}/avatar/{example}?s=128&d=identicon (Ctrl-C stops)",
            args.data.data_dir.display()
        );
        let prefix = args.prefix.clone();
        let app = Router::new()
            .route(
                "/",
                axum::routing::get(move || {
                    let page = home_page(&prefix, stored, &example.to_string());
                    async move { axum::response::Html(page) }
                }),
            )
            .fallback_service(service);
        let app = match proxy {
            Some(proxy) => {
                eprintln!("the avatar proxy answers http://{addr}/proxy/TOKEN (avatars proxy-url prints one)");
                app.route_service("/proxy/{token}", proxy)
            }
            None => app,
        };
        let app = app
            .layer(axum::middleware::from_fn_with_state(
                args.log_format == "json",
                access_log,
            ));
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        eprintln!("shut down");
        Ok(())
    })
}

/// `--formats`: `none` anywhere means the stored format only.
fn output_formats(names: &[String]) -> OutputFormats {
    if names.iter().any(|name| name == "none") {
        return OutputFormats::STORED_ONLY;
    }
    let has = |wanted: &str| names.iter().any(|name| name == wanted);
    OutputFormats::STORED_ONLY
        .webp(has("webp"))
        .avif(has("avif"))
}

/// The service as the flags configure it.
fn service(args: &ServeArgs, store: FsStore) -> Result<AvatarService<FsStore>, CliError> {
    let mut builder = AvatarService::builder(store)
        .prefix(args.prefix.clone())
        .max_size(args.max_size)
        .server_default(args.default)
        .output_formats(output_formats(&args.formats))
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
    // Refused only when empty, which is the default palette's case.
    if let Ok(palette) = avatar_image::Palette::new(args.palette.clone()) {
        builder = builder.palette(palette);
    }
    Ok(builder.build()?)
}

/// One line per request at info level: method, path and query, status, body bytes, duration
/// and the client's address when known.
/// One access-log line per request at info level on target `avatars::access`: method, path
/// with the query, status, bytes, duration and client address, as text or (with `json`) as one
/// JSON object per line. No header is logged, so neither is `Authorization`.
async fn access_log(
    axum::extract::State(json): axum::extract::State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |target| target.as_str().to_owned(),
    );
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    let bytes = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    if json {
        // Written whole, one object per line, when the access target is enabled (RUST_LOG).
        if tracing::enabled!(target: "avatars::access", tracing::Level::INFO) {
            let line = serde_json::json!({
                "method": method.as_str(),
                "path": target,
                "status": status,
                "bytes": bytes.parse::<u64>().ok(),
                "ms": (millis * 10.0).round() / 10.0,
                "client": client,
            });
            eprintln!("{line}");
        }
    } else {
        tracing::info!(
            target: "avatars::access",
            "{method} {target} {status} {bytes} {millis:.1}ms {client}"
        );
    }
    response
}

/// `GET /`: what this server is, what it holds, and how to build an avatar URL, with a live
/// example.
fn home_page(prefix: &str, stored: usize, example_hash: &str) -> String {
    let base = format!("{prefix}/avatar/");
    format!(
        "<!doctype html><meta charset=utf-8><title>avatars</title>\
         <style>body{{font:16px system-ui;max-width:42em;margin:2em auto;line-height:1.5}}\
         code{{background:#f2f2f2;padding:0 .2em}}img{{vertical-align:middle;margin-right:.5em}}</style>\
         <h1>A Libravatar server</h1>\
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
         (george@example.com)</p>"
    )
}
