//! `avatars xmpp`: the XEP-0114 component over the same data directory `avatars serve` uses.

use std::io::Write;

use avatar_store::FsStore;
use avatar_xmpp::component::run;
use avatar_xmpp::{ComponentConfig, IqConfig, IqService, JidMapping};

use crate::cli::XmppArgs;
use crate::commands::{init_logging, shutdown_signal};
use crate::error::CliError;

/// Connects to the server's component port and answers until Ctrl-C or SIGTERM, reconnecting
/// with backoff whenever the server refuses or drops the component.
pub(crate) fn run_component(args: &XmppArgs, out: &mut impl Write) -> Result<(), CliError> {
    // Refused here, before connecting: a wrong domain would otherwise be retried forever.
    let config = ComponentConfig::new(&args.server, &args.domain, &args.secret)?;
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = FsStore::open(&args.data.data_dir)?;
        let mut mapping = JidMapping::new(&args.domain);
        if let Some(domain) = &args.identity_domain {
            mapping = mapping.identity_domain(domain);
        }
        let service = IqService::new(
            store,
            IqConfig::new(mapping).anti_harvesting(args.anti_harvesting),
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
