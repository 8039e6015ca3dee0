//! `avatars serve`: the standalone server.

use std::io::Write;

use avatar_image::Limits;
use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::AvatarService;
use avatar_store::{FsStore, Store as _};
use axum::Router;

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
            let info = import_file(&store, identity, file, &Limits::default()).await?;
            eprintln!("{}", describe(identity, &info));
        }
        let stored = store.list().await?.len();
        let service = AvatarService::new(store);
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
        axum::serve(listener, Router::new().fallback_service(service))
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        eprintln!("shut down");
        Ok(())
    })
}
