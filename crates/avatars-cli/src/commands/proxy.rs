//! `avatars proxy-key` and `avatars proxy-url`, and the proxy `avatars serve` mounts with
//! `--proxy-key-file`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use avatar_discovery::Discovery;
use avatar_proto::Identity;
use avatar_proxy::{AvatarProxy, AvatarProxyBuilder, GravatarFallback, ProxyKey, ProxyKeys};
use avatar_service::AvatarService;

use crate::cli::{ProxyKeyArgs, ProxyUrlArgs, ServeArgs};
use crate::error::CliError;
use crate::store::AnyStore;

/// Writes a new random key to `--out`, which must not exist yet, readable by its owner only.
pub(crate) fn key(args: &ProxyKeyArgs, out: &mut impl Write) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(args.path()).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Exists {
                path: args.path().to_owned(),
            }
        } else {
            CliError::ReadFile {
                path: args.path().to_owned(),
                source,
            }
        }
    })?;
    writeln!(
        file,
        "# avatar proxy key: the first key line mints, every key line opens.\n{}",
        ProxyKey::generate().to_hex()
    )?;
    writeln!(out, "wrote a new proxy key to {}", args.path().display())?;
    Ok(())
}

/// Prints `{base}/proxy/{token}?s=N[&d=KEYWORD]` for the identity.
pub(crate) fn url(args: &ProxyUrlArgs, out: &mut impl Write) -> Result<(), CliError> {
    let identity = Identity::parse(&args.identity)?;
    let keys = read_keys(&args.key_file)?;
    let token = keys.mint(&identity)?;
    let mut url = format!(
        "{}/proxy/{token}?s={}",
        args.base.trim_end_matches('/'),
        args.size
    );
    if let Some(default) = args.default {
        url.push_str("&d=");
        url.push_str(default.name());
    }
    writeln!(out, "{url}")?;
    Ok(())
}

/// The keys in the file at `path` (`avatars proxy-key` writes one).
///
/// # Errors
/// [`CliError::ReadFile`] when it cannot be read, [`CliError::Config`] naming it and what
/// is wrong with its keys.
pub(crate) fn read_keys(path: &Path) -> Result<ProxyKeys, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    ProxyKeys::from_lines(&text).map_err(|err| CliError::Config {
        path: path.to_owned(),
        problem: err.to_string(),
    })
}

/// The proxy `serve` mounts at `/proxy/`, if `--proxy-key-file` is given (`keys`, read from
/// it), answering the identities `local` (the server's own avatar service) stores from it.
pub(crate) fn for_serve(
    args: &ServeArgs,
    keys: Option<ProxyKeys>,
    local: &AvatarService<AnyStore>,
) -> Result<Option<AvatarProxy>, CliError> {
    let Some(keys) = keys else {
        return Ok(None);
    };
    // The identities this server stores are answered from its store, not fetched back.
    let mut proxy = builder(args, keys)?.local(local.clone());
    if let Some(dir) = &args.proxy_cache_dir {
        proxy = proxy.disk_cache(dir, args.proxy_cache_bytes);
    }
    Ok(Some(proxy.build()?))
}

/// Whether [`for_serve`] would build the proxy with these settings: built and dropped, with
/// no local store and no disk cache (which would create its folder).
///
/// # Errors
/// The setting the proxy refuses.
pub(crate) fn check_settings(args: &ServeArgs, keys: ProxyKeys) -> Result<(), CliError> {
    builder(args, keys)?.build()?;
    Ok(())
}

/// The proxy's builder with `serve`'s settings, all but its local store and disk cache.
fn builder(args: &ServeArgs, keys: ProxyKeys) -> Result<AvatarProxyBuilder, CliError> {
    let mut discovery = Discovery::builder().timeout(Duration::from_millis(args.dns_timeout_ms));
    for nameserver in &args.nameservers {
        discovery = discovery.nameserver(*nameserver);
    }
    let mut proxy = AvatarProxy::builder(keys, discovery.build()?)
        .central(args.proxy_central.clone())
        .max_size(args.max_size)
        .server_default(args.default)
        .gravatar(match args.proxy_gravatar.as_str() {
            "sha256" => GravatarFallback::Sha256,
            "md5" => GravatarFallback::Md5,
            _ => GravatarFallback::Off,
        });
    for network in &args.proxy_allow_nets {
        proxy = proxy.allow_network(*network);
    }
    Ok(proxy)
}
