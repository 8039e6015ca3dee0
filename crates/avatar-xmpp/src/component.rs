//! The XEP-0114 component: log into an XMPP server as the avatar domain, answer IQs and presence
//! from an [`IqService`], and reconnect with backoff whenever the server refuses the handshake
//! (`not-authorized`), replaces the session (`conflict`), or the stream drops.

use std::future::Future;
use std::time::Duration;

use avatar_store::Store;
use futures_util::StreamExt as _;
use tokio_xmpp::Component;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::xmlstream::Timeouts;
use xmpp_parsers::stanza::Stanza;

use crate::iq::IqService;

/// Where and as whom the component connects.
#[derive(Debug, Clone)]
#[must_use]
pub struct ComponentConfig {
    server: String,
    domain: String,
    secret: String,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl ComponentConfig {
    /// Connect to `server` (`HOST:PORT` of the server's component port) as `domain`, proving
    /// the shared `secret`. Backoff starts at 1 s and doubles up to 60 s.
    pub fn new(
        server: impl Into<String>,
        domain: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self {
            server: server.into(),
            domain: domain.into(),
            secret: secret.into(),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }

    /// Sets the first wait before reconnecting and the longest one.
    pub const fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The component's domain.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

/// Runs the component until `shutdown` resolves: connect, serve, and after any failure or
/// dropped stream wait (1 s, 2 s, 4 s, ... up to the maximum) and connect again. A session that
/// got through the handshake resets the wait.
pub async fn run<St: Store>(
    config: ComponentConfig,
    service: IqService<St>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut backoff = config.initial_backoff;
    loop {
        let session = async {
            match connect(&config).await {
                Ok(component) => {
                    tracing::info!(domain = %config.domain, server = %config.server, "component connected");
                    serve(component, &service).await;
                    tracing::warn!(domain = %config.domain, "the server closed the stream; reconnecting");
                    true
                }
                Err(err) => {
                    tracing::warn!(domain = %config.domain, server = %config.server, error = %err, "cannot connect or authenticate");
                    false
                }
            }
        };
        let connected = tokio::select! {
            connected = session => connected,
            () = &mut shutdown => return,
        };
        if connected {
            backoff = config.initial_backoff;
        }
        tracing::info!(wait = ?backoff, "reconnecting after a pause");
        tokio::select! {
            () = tokio::time::sleep(backoff) => {},
            () = &mut shutdown => return,
        }
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

async fn connect(
    config: &ComponentConfig,
) -> Result<Component<tokio_xmpp::connect::TcpServerConnector>, tokio_xmpp::Error> {
    Component::new_plaintext(
        &config.domain,
        &config.secret,
        DnsConfig::Addr {
            addr: config.server.clone(),
        },
        Timeouts::tight(),
    )
    .await
}

/// Answers stanzas until the stream ends.
async fn serve<St: Store>(
    mut component: Component<tokio_xmpp::connect::TcpServerConnector>,
    service: &IqService<St>,
) {
    while let Some(stanza) = component.next().await {
        for reply in replies(service, stanza).await {
            if let Err(err) = component.send_stanza(reply).await {
                tracing::warn!(error = %err, "cannot send a reply");
                return;
            }
        }
    }
}

/// What to send back for one incoming stanza.
pub async fn replies<St: Store>(service: &IqService<St>, stanza: Stanza) -> Vec<Stanza> {
    match stanza {
        Stanza::Iq(iq) => service
            .answer(iq)
            .await
            .map(Stanza::Iq)
            .into_iter()
            .collect(),
        Stanza::Presence(presence) => presence_replies(service, presence).await,
        Stanza::Message(_) => Vec::new(),
    }
}

/// Probes get the subject's presence; subscriptions are accepted, then answered with presence.
async fn presence_replies<St: Store>(service: &IqService<St>, presence: Presence) -> Vec<Stanza> {
    let (Some(from), Some(to)) = (presence.from.clone(), presence.to.clone()) else {
        return Vec::new();
    };
    let Some(identity) = service.mapping().identity_of(&to) else {
        return Vec::new();
    };
    let mut replies = Vec::new();
    match presence.type_ {
        PresenceType::Subscribe => {
            replies.push(Stanza::Presence(
                Presence::new(PresenceType::Subscribed)
                    .with_from(to)
                    .with_to(from.clone()),
            ));
        }
        PresenceType::Probe => {}
        _ => return replies,
    }
    match service.presence_for(&identity).await {
        Ok(current) => replies.push(Stanza::Presence(current.with_to(from))),
        Err(refusal) => tracing::warn!(%identity, ?refusal, "cannot build presence"),
    }
    replies
}
