//! What `serve` checks before it touches anything, and `avatars config check` with it: the
//! files it reads, the store's address, the folders it writes and the settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use avatar_proto::Identity;
use avatar_proxy::ProxyKeys;
use avatar_store::StoreError;

use crate::cli::ServeArgs;
use crate::commands::import::check_upload;
use crate::error::CliError;
use crate::renditions::check_render_ahead;
use crate::server::admin::Tokens;
use crate::server::tls::ReloadableTls;
use crate::store::Location;

use super::{service, upload_limits};

/// The files `serve` reads before it touches anything, so that one it cannot use stops it
/// with nothing stored and nothing listening: every `--email` picture (read and decoded under
/// the upload limits, not kept), the TLS certificate and key, the admin tokens and the proxy
/// keys. `avatars config check` reads them the same way.
pub(crate) struct StartFiles {
    pub(super) imports: Vec<(Identity, PathBuf)>,
    pub(super) tls: Option<Arc<ReloadableTls>>,
    pub(super) tokens: Tokens,
    pub(super) proxy_keys: Option<ProxyKeys>,
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
pub(super) fn written_folders<'a>(
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
pub(super) fn check_settings(
    args: &ServeArgs,
    proxy_keys: Option<ProxyKeys>,
) -> Result<(), CliError> {
    listeners_apart(args)?;
    service(args, avatar_store::MemoryStore::new(), None)?;
    if let Some(keys) = proxy_keys {
        crate::commands::proxy::check_settings(args, keys)?;
    }
    Ok(())
}

/// Each listener on an address of its own: two of `--addr`, `--tls-addr` and `--admin-addr` on
/// one port (the same address, or one of them every address) would have the second told that
/// "another program" holds the port, which is this one. Port 0 picks a free port each time.
fn listeners_apart(args: &ServeArgs) -> Result<(), CliError> {
    let listeners = [
        ("--addr", Some(args.addr)),
        ("--tls-addr", args.tls_addr),
        ("--admin-addr", args.admin_addr),
    ];
    let given: Vec<(&'static str, SocketAddr)> = listeners
        .into_iter()
        .filter_map(|(flag, addr)| addr.map(|addr| (flag, addr)))
        .collect();
    for (at, &(first, one)) in given.iter().enumerate() {
        for &(second, other) in &given[at + 1..] {
            let overlap =
                one.ip() == other.ip() || one.ip().is_unspecified() || other.ip().is_unspecified();
            if one.port() != 0 && one.port() == other.port() && overlap {
                return Err(CliError::SameAddress {
                    first,
                    second,
                    port: one.port(),
                });
            }
        }
    }
    Ok(())
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
pub(super) fn secret_files(args: &ServeArgs) -> Vec<(&'static str, PathBuf)> {
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
pub(super) fn readable_secrets(secrets: &[(&'static str, PathBuf)]) -> Vec<String> {
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
