//! `avatars xmpp`: the XEP-0114 component over the same data directory `avatars serve` uses.

use std::io::Write;

use avatar_xmpp::component::run;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use avatar_xmpp::{ComponentConfig, IqConfig, IqService, JidMapping, Mirroring, Subscriptions};

use std::net::ToSocketAddrs as _;

use crate::cli::XmppArgs;
use crate::commands::{init_logging, shutdown_signal};
use crate::error::CliError;
use crate::store::{AnyStore, Location, Open};

/// Connects to the server's component port and answers until Ctrl-C or SIGTERM, reconnecting
/// with backoff whenever the server refuses or drops the component.
pub(crate) fn run_component(args: &XmppArgs, out: &mut impl Write) -> Result<(), CliError> {
    // Refused here, before connecting: a wrong domain, secret or server would otherwise be
    // retried forever.
    let secret = secret(args)?;
    let mut config = ComponentConfig::new(&args.server, &args.domain, secret)?;
    if args.mirror_subscribers {
        if args.identity_domain.is_empty() {
            return Err(CliError::MissingOption {
                option: "--identity-domain D",
                why: "--mirror-subscribers mirrors only users of the domains you list",
            });
        }
        config = config
            .mirror_subscribers(Mirroring::new().overwrite_other_uploads(args.mirror_overwrites));
    }
    resolve(&args.server)?;
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let location = args.data.location();
        let subscriptions = Arc::new(Subscriptions::open(subscriptions_file(args, &location)?)?);
        let store = match location.open(Open::Create).await? {
            // Changes by other processes (`avatars import`, `avatars serve`'s management API)
            // are looked for often enough to be announced within a second.
            AnyStore::Dir(store) => {
                AnyStore::Dir(store.external_writes_check(Duration::from_millis(200)))
            }
            other @ AnyStore::Postgres(_) => other,
        };
        let mut mapping = JidMapping::new(&args.domain);
        for domain in &args.identity_domain {
            mapping = mapping.identity_domain(domain);
        }
        let service = IqService::new(
            store,
            IqConfig::new(mapping)
                .anti_harvesting(args.anti_harvesting)
                .subscriptions(subscriptions),
        );
        writeln!(
            out,
            "component {} connecting to {}",
            args.domain, args.server
        )?;
        out.flush()?;
        run(config, service, shutdown_signal()).await;
        eprintln!("shut down");
        Ok(())
    })
}

/// `--subscriptions-file`, or `xmpp-subscriptions` in the store's directory.
fn subscriptions_file(args: &XmppArgs, location: &Location) -> Result<PathBuf, CliError> {
    match (&args.subscriptions_file, location) {
        (Some(file), _) => Ok(file.clone()),
        (None, Location::Dir(dir)) => Ok(dir.join("xmpp-subscriptions")),
        (None, Location::Postgres(_)) => Err(CliError::MissingOption {
            option: "--subscriptions-file FILE",
            why: "with a database store, subscriptions are kept in a file of their own",
        }),
    }
}

/// The secret from `--secret` (or `AVATARS_XMPP_SECRET`) or from `--secret-file`.
fn secret(args: &XmppArgs) -> Result<String, CliError> {
    match (&args.secret, &args.secret_file) {
        (Some(secret), _) => Ok(secret.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
                path: path.clone(),
                source,
            })?;
            Ok(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        // clap requires one of the two.
        (None, None) => Ok(String::new()),
    }
}

/// Refuses a server address that does not resolve now: at start-up that is a typing mistake,
/// not a network that will come back.
fn resolve(server: &str) -> Result<(), CliError> {
    let unresolvable = |reason: String| CliError::Unresolvable {
        server: server.to_owned(),
        reason,
    };
    let mut addrs = server
        .to_socket_addrs()
        .map_err(|err| unresolvable(err.to_string()))?;
    if addrs.next().is_none() {
        return Err(unresolvable("it has no address".to_owned()));
    }
    Ok(())
}
