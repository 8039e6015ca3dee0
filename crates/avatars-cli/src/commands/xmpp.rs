//! `avatars xmpp`: the XEP-0114 component over the same data directory `avatars serve` uses.

use std::io::Write;

use avatar_xmpp::component::run;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use avatar_store_postgres::PgStore;
use avatar_xmpp::{
    ComponentConfig, ComponentSecret, ComponentStats, IqConfig, IqService, JidMapping, Mirroring,
    StorageFuture, SubscriptionStorage, Subscriptions,
};

use std::net::ToSocketAddrs as _;

use crate::cli::XmppArgs;
use crate::commands::{answer_hangups, init_logging, shutdown_signal};
use crate::error::CliError;
use crate::server::{component_monitor, service_manager};
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
    let stats = Arc::new(ComponentStats::default());
    config = config.stats(Arc::clone(&stats));
    init_logging(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Before the store is opened: a port that cannot be had stops the start with nothing
        // made.
        let monitor = match args.metrics_addr {
            Some(addr) => Some(crate::commands::serve::bind("--metrics-addr", addr).await?),
            None => None,
        };
        let location = args.data.location()?;
        // A file is read before the store is opened (or created), so a damaged one changes
        // nothing.
        let from_file = subscriptions_file(args, &location)
            .map(Subscriptions::open)
            .transpose()?;
        let store = match location.open(Open::Create, args.data.flag()).await? {
            // Changes by other processes (`avatars import`, `avatars serve`'s management API)
            // are looked for often enough to be announced within a second.
            AnyStore::Dir(store) => {
                AnyStore::Dir(store.external_writes_check(Duration::from_millis(200)))
            }
            other @ AnyStore::Postgres(_) => other,
        };
        let subscriptions = match (from_file, &store) {
            (Some(subscriptions), _) => subscriptions,
            (None, AnyStore::Postgres(database)) => {
                Subscriptions::load(DatabaseDocument {
                    store: database.clone(),
                    name: format!("{SUBSCRIPTIONS} {}", args.domain.to_lowercase()),
                })
                .await?
            }
            (None, AnyStore::Dir(dir)) => Subscriptions::open(dir.root().join(SUBSCRIPTIONS))?,
        };
        let subscriptions =
            Arc::new(subscriptions.limits(args.max_subscriptions_per_jid, args.max_subscriptions));
        let mut mapping = JidMapping::new(&args.domain);
        for domain in &args.identity_domain {
            mapping = mapping.identity_domain(domain);
        }
        let monitored = store.clone();
        let service = IqService::new(
            store,
            IqConfig::new(mapping)
                .anti_harvesting(args.anti_harvesting)
                .subscriptions(subscriptions),
        );
        // Installed before the component says it connects: see `shutdown_signal`.
        let shutdown = shutdown_signal();
        // Likewise a SIGHUP (`systemctl reload`, a log rotation's `pkill -HUP avatars`) never
        // ends it: it reads the secret file again.
        answer_hangups(reread_secret(args, config.secret()));
        crate::commands::announce(
            out,
            &format!("component {} connecting to {}", args.domain, args.server),
        )?;
        let monitor = match monitor {
            Some(listener) => {
                crate::commands::announce(
                    out,
                    &format!("metrics on http://{}", listener.local_addr()?),
                )?;
                let routes = component_monitor::router(Arc::clone(&stats), monitored);
                Some(tokio::spawn(async move {
                    if let Err(err) = axum::serve(listener, routes).await {
                        say!("avatars: the metrics listener failed: {err}");
                    }
                }))
            }
            None => None,
        };
        out.flush()?;
        service_manager::ready(&format!(
            "component {} connecting to {}",
            args.domain, args.server
        ));
        let status = service_manager::is_watching().then(|| {
            tokio::spawn(report_status(
                stats,
                args.domain.clone(),
                args.server.clone(),
            ))
        });
        run(config, service, shutdown).await;
        for task in [monitor, status].into_iter().flatten() {
            task.abort();
        }
        say!("shut down");
        Ok(())
    })
}

/// Keeps the status line `systemctl status` shows saying whether the component is joined to
/// its server, and why not when it is not.
async fn report_status(stats: Arc<ComponentStats>, domain: String, server: String) {
    let mut shown = String::new();
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    loop {
        every_second.tick().await;
        let now = stats.snapshot();
        let line = match (now.joined, now.last_failure) {
            (true, _) => format!("component {domain} joined to {server}"),
            (false, Some(why)) => format!(
                "component {domain} not joined to {server} ({} failed attempt(s)): {why}",
                now.failed_joins
            ),
            (false, None) => continue,
        };
        if line != shown {
            service_manager::status(&line);
            shown = line;
        }
    }
}

/// The name of the subscriptions document: a file in a store's directory, a row of
/// `avatar_documents` in a database.
const SUBSCRIPTIONS: &str = "xmpp-subscriptions";

/// `--subscriptions-file`, or `xmpp-subscriptions` in the store's directory; `None` for a
/// database store, which keeps them itself.
fn subscriptions_file(args: &XmppArgs, location: &Location) -> Option<PathBuf> {
    match (&args.subscriptions_file, location) {
        (Some(file), _) => Some(file.clone()),
        (None, Location::Dir(dir)) => Some(dir.join(SUBSCRIPTIONS)),
        (None, Location::Postgres(_)) => None,
    }
}

/// The subscriptions as a document in the database, one per component domain
/// (`xmpp-subscriptions avatars.example.org`): components for different XMPP domains may share a
/// database; one domain has one component connected at a time.
struct DatabaseDocument {
    store: PgStore,
    name: String,
}

impl SubscriptionStorage for DatabaseDocument {
    fn load(&self) -> StorageFuture<'_, Option<String>> {
        Box::pin(async move {
            self.store
                .read_document(&self.name)
                .await
                .map_err(std::io::Error::other)
        })
    }

    fn save(&self, text: String) -> StorageFuture<'_, ()> {
        Box::pin(async move {
            self.store
                .write_document(&self.name, &text)
                .await
                .map_err(std::io::Error::other)
        })
    }

    fn describe(&self) -> String {
        format!("the database's avatar_documents row {:?}", self.name)
    }
}

/// The secret from `--secret` (or `AVATARS_XMPP_SECRET`) or from `--secret-file`.
fn secret(args: &XmppArgs) -> Result<String, CliError> {
    match (&args.secret, &args.secret_file) {
        (Some(secret), _) => Ok(secret.clone()),
        (None, Some(path)) => read_secret_file(path),
        // clap requires one of the two.
        (None, None) => Ok(String::new()),
    }
}

/// The secret in `path`: its text without the line end.
fn read_secret_file(path: &std::path::Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// What a SIGHUP does to the component: reads `--secret-file` again, which it proves from its
/// next connection on (the one open goes on); a file that cannot be used is reported and the
/// secret in use kept. A secret given otherwise has nothing to read again.
fn reread_secret(args: &XmppArgs, secret: ComponentSecret) -> impl FnMut() + Send + 'static {
    let file = args.secret_file.clone().filter(|_| args.secret.is_none());
    move || {
        let Some(file) = &file else {
            say!(
                "SIGHUP: nothing to read again (only --secret-file is, and the secret was given otherwise); still running"
            );
            return;
        };
        let read = read_secret_file(file)
            .and_then(|text| secret.replace(text).map_err(CliError::Component));
        match read {
            Ok(()) => say!(
                "reloaded the component secret from {} (proved from the next connection on)",
                file.display()
            ),
            Err(err) => say!("avatars: kept the component secret in use: {err}"),
        }
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
