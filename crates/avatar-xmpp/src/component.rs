//! The XEP-0114 component: log into an XMPP server as the avatar domain, answer IQs and presence
//! from an [`IqService`], and reconnect with backoff whenever the server refuses the handshake
//! (`not-authorized`), replaces the session (`conflict`), or the stream drops.

use std::borrow::Cow;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use avatar_store::Store;
use futures_util::{SinkExt as _, StreamExt as _};
use jid::Jid;
use minidom::Element;
use tokio::io::{AsyncRead, AsyncWrite, BufStream, ReadBuf};
use tokio::net::TcpStream;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::xmlstream::{ReadError, StreamHeader, Timeouts, XmlStream, initiate_stream};
use xmpp_parsers::component::Handshake;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::announce::Announcer;
use crate::error::ConfigError;
use crate::iq::IqService;
use crate::mirror::{Mirror, Mirroring};
use crate::stats::ComponentStats;
use crate::subscriptions::Added;

/// Where and as whom the component connects.
#[derive(Debug, Clone)]
#[must_use]
pub struct ComponentConfig {
    server: String,
    domain: String,
    secret: ComponentSecret,
    initial_backoff: Duration,
    max_backoff: Duration,
    connect_timeout: Duration,
    max_stanza_bytes: usize,
    look_for_changes: Duration,
    mirror: Option<Mirroring>,
    stats: Arc<ComponentStats>,
}

/// The default largest stanza: room for the largest image the default limits accept (8 MiB,
/// so about 10.7 MiB of base64) and its envelope.
pub const DEFAULT_MAX_STANZA_BYTES: usize = 12 << 20;

impl ComponentConfig {
    /// Connect to `server` (`HOST:PORT` of the server's component port) as `domain`, proving
    /// the shared `secret`. Backoff starts at 1 s and doubles up to 60 s.
    ///
    /// ```
    /// use avatar_xmpp::{ComponentConfig, ConfigError};
    ///
    /// let config = ComponentConfig::new("127.0.0.1:5347", "avatars.example.org", "s3cret")?;
    /// assert_eq!(config.domain(), "avatars.example.org");
    /// assert!(matches!(
    ///     ComponentConfig::new("127.0.0.1:5347", "alice@example.org", "s3cret"),
    ///     Err(ConfigError::NotADomain { .. })
    /// ));
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::InvalidDomain`] or [`ConfigError::NotADomain`] for a domain that is not a
    /// bare JID domain; [`ConfigError::InvalidServer`] for a server without a numeric port;
    /// [`ConfigError::EmptySecret`].
    pub fn new(
        server: impl Into<String>,
        domain: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let (server, domain, secret) = (server.into(), domain.into(), secret.into());
        let jid = Jid::new(&domain).map_err(|source| ConfigError::InvalidDomain {
            domain: domain.clone(),
            source,
        })?;
        if jid.node().is_some() || jid.resource().is_some() {
            return Err(ConfigError::NotADomain { domain });
        }
        let has_port = server.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !has_port {
            return Err(ConfigError::InvalidServer { server });
        }
        if secret.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        Ok(Self {
            server,
            domain,
            secret: ComponentSecret(Arc::new(Mutex::new(secret))),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_stanza_bytes: DEFAULT_MAX_STANZA_BYTES,
            look_for_changes: Duration::from_millis(250),
            mirror: None,
            stats: Arc::default(),
        })
    }

    /// The most bytes one stanza may take on the wire (default
    /// [`DEFAULT_MAX_STANZA_BYTES`]). A larger one ends the session, which is then
    /// reconnected: the stream reader keeps a stanza in memory until it is complete, so without
    /// a bound one endless stanza could take all of it.
    pub const fn max_stanza_bytes(mut self, bytes: usize) -> Self {
        self.max_stanza_bytes = bytes;
        self
    }

    /// How often subscribed avatars are looked at for changes to announce (default 250 ms; see
    /// [`Announcer`]). A look reads only avatars whose store generation moved.
    pub const fn look_for_changes(mut self, every: Duration) -> Self {
        self.look_for_changes = every;
        self
    }

    /// Mirror the avatars of users who subscribe to the component's own JID into the store,
    /// and follow their changes (see [`mirror`](crate::mirror)). Off by default.
    pub const fn mirror_subscribers(mut self, settings: Mirroring) -> Self {
        self.mirror = Some(settings);
        self
    }

    /// How long one attempt to join may take, from the TCP connect to the server's
    /// `<handshake/>` (default 10 s); then it counts as failed and is retried after the
    /// backoff. Without it, a server that accepts but never answers (stopped, overloaded, a
    /// firewall dropping packets) would hold each attempt for a minute and a half of stream
    /// timeouts, or the kernel's two minutes of TCP retries.
    pub const fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Keep the component's state and counts in `stats` as it runs (see
    /// [`stats`](crate::stats)); without it they are kept where nobody reads them.
    pub fn stats(mut self, stats: Arc<ComponentStats>) -> Self {
        self.stats = stats;
        self
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

    /// The secret the component proves at each connection, shared: replacing it (a rotated
    /// secret, or a wrong one corrected) takes effect at the next connection, without ending
    /// the one that is open.
    #[must_use]
    pub fn secret(&self) -> ComponentSecret {
        self.secret.clone()
    }
}

/// The component's shared secret, replaceable while it runs ([`ComponentConfig::secret`]).
/// Its `Debug` does not show it.
#[derive(Clone)]
pub struct ComponentSecret(Arc<Mutex<String>>);

impl std::fmt::Debug for ComponentSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ComponentSecret(***)")
    }
}

impl ComponentSecret {
    /// Proves `secret` from the next connection on.
    ///
    /// # Errors
    /// [`ConfigError::EmptySecret`], and the secret in use is kept.
    pub fn replace(&self, secret: impl Into<String>) -> Result<(), ConfigError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(ConfigError::EmptySecret);
        }
        *self.lock() = secret;
        Ok(())
    }

    fn current(&self) -> String {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
            let attempt = tokio::time::timeout(config.connect_timeout, connect(&config)).await;
            match attempt.unwrap_or(Err(ConnectError::TimedOut(config.connect_timeout))) {
                Ok((connection, budget, own)) => {
                    tracing::info!(domain = %config.domain, server = %config.server, "component connected");
                    config.stats.joined();
                    let session = Session::new(service.clone(), own, config.mirror);
                    let ended = serve(
                        connection,
                        &budget,
                        session,
                        config.look_for_changes,
                        &config.stats,
                    )
                    .await;
                    tracing::warn!(domain = %config.domain, "the server closed the stream; reconnecting");
                    config.stats.left(ended);
                    true
                }
                Err(err) => {
                    tracing::warn!(domain = %config.domain, server = %config.server, error = %err, "cannot connect or authenticate");
                    config.stats.failed_to_join(err.to_string());
                    false
                }
            }
        };
        let connected = tokio::select! {
            connected = session => connected,
            () = &mut shutdown => {
                config.stats.left("shut down".to_owned());
                return;
            }
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

/// One authenticated component stream, read as raw elements so that a malformed stanza is seen
/// (and answered) rather than ending the stream.
type Connection = XmlStream<BufStream<Budgeted<TcpStream>>, Element>;

/// A byte stream with a budget per stanza: reading fails once more than the budget has arrived
/// since the last [`refill`](Budget::refill), so a huge or endless stanza ends the session
/// instead of growing the reader's buffer without bound. Writes pass through.
struct Budgeted<S> {
    inner: S,
    budget: Budget,
}

/// What is left of the current stanza's byte budget; shared by the reader and the session loop.
#[derive(Clone)]
struct Budget {
    left: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    fn new(limit: usize) -> Self {
        Self {
            left: Arc::new(AtomicUsize::new(limit)),
            limit,
        }
    }

    /// A stanza is complete: the next one gets the whole budget.
    fn refill(&self) {
        self.left.store(self.limit, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.budget.left.load(Ordering::Relaxed) == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a stanza larger than {} bytes (max_stanza_bytes)",
                    this.budget.limit
                ),
            )));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        let _ = this
            .budget
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                Some(left.saturating_sub(read))
            });
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Why a connection attempt failed.
#[derive(Debug)]
enum ConnectError {
    Io(std::io::Error),
    Refused(String),
    /// No `<handshake/>` within the connect timeout.
    TimedOut(Duration),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => write!(
                f,
                "{err} (nothing listens there: is it the XMPP server's component port, 5347 by default?)"
            ),
            Self::Io(err) => write!(f, "{err}"),
            Self::Refused(why) => {
                write!(f, "handshake refused: {why}")?;
                // What the stream errors a server answers a component with mean (RFC 6120 4.9.3).
                match why.as_str() {
                    // ejabberd says so of a domain it has no component for, too.
                    "not-authorized" => f.write_str(
                        " (the secret is not the one the XMPP server has for this component, \
                         or it has no component of this domain in its settings)",
                    ),
                    "host-unknown" | "improper-addressing" => f.write_str(
                        " (the XMPP server has no component of this domain in its settings)",
                    ),
                    "conflict" => f.write_str(" (another component is connected as this domain)"),
                    _ => Ok(()),
                }
            }
            Self::TimedOut(timeout) => write!(
                f,
                "no handshake within {timeout:?}: the server accepted but did not answer"
            ),
        }
    }
}

/// Opens the TCP connection and the `jabber:component:accept` stream, and proves the secret
/// (XEP-0114: the handshake is the lowercase hex SHA-1 of the stream id and the secret).
async fn connect(config: &ComponentConfig) -> Result<(Connection, Budget, Jid), ConnectError> {
    let own = Jid::new(&config.domain).map_err(|err| {
        ConnectError::Refused(format!("{:?} is not a valid domain: {err}", config.domain))
    })?;
    let tcp = TcpStream::connect(&config.server)
        .await
        .map_err(ConnectError::Io)?;
    let header = StreamHeader {
        from: None,
        to: Some(Cow::Borrowed(config.domain.as_str())),
        id: None,
    };
    let budget = Budget::new(config.max_stanza_bytes);
    let tcp = Budgeted {
        inner: tcp,
        budget: budget.clone(),
    };
    let mut pending = initiate_stream(BufStream::new(tcp), ns::COMPONENT, header, timeouts())
        .await
        .map_err(ConnectError::Io)?;
    let Some(stream_id) = pending.take_header().id else {
        return Err(ConnectError::Refused(
            "the server's stream header has no id".to_owned(),
        ));
    };
    let mut connection: Connection = pending.skip_features();
    let handshake =
        Handshake::from_stream_id_and_password(stream_id.into_owned(), &config.secret.current());
    connection
        .send(&Element::from(handshake))
        .await
        .map_err(ConnectError::Io)?;
    loop {
        match connection.next().await {
            Some(Ok(element)) if element.name() == "handshake" => {
                budget.refill();
                return Ok((connection, budget, own));
            }
            Some(Ok(element)) if element.name() == "error" => {
                let condition = element
                    .children()
                    .next()
                    .map_or("an unnamed stream error", Element::name);
                return Err(ConnectError::Refused(condition.to_owned()));
            }
            Some(Ok(other)) => {
                return Err(ConnectError::Refused(format!(
                    "expected <handshake/>, got <{}>",
                    other.name()
                )));
            }
            Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::HardError(err))) => return Err(ConnectError::Io(err)),
            Some(Err(other)) => return Err(ConnectError::Refused(other.to_string())),
            None => return Err(ConnectError::Refused("the stream ended".to_owned())),
        }
    }
}

/// Read timeouts: after a minute of silence the component pings itself through the server, and
/// a server silent for 30 s more is taken as gone.
fn timeouts() -> Timeouts {
    Timeouts {
        read_timeout: Duration::from_secs(60),
        response_timeout: Duration::from_secs(30),
    }
}

/// Answers stanzas until the stream ends, and says how it ended. Each complete stanza refills
/// the byte `budget` for the next; every `look_for_changes` the session looks for changes to
/// announce. Stanzas read and written are counted in `stats`.
async fn serve<St: Store>(
    mut connection: Connection,
    budget: &Budget,
    mut session: Session<St>,
    look_for_changes: Duration,
    stats: &ComponentStats,
) -> String {
    let mut pings = 0u64;
    let mut looks = tokio::time::interval(look_for_changes);
    looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let replies = tokio::select! {
            // Reading a stanza keeps its progress in the stream, so a look may interrupt it.
            next = connection.next() => match next {
                Some(Ok(element)) if element.name() == "error" => {
                    let error = String::from(&element);
                    tracing::warn!(%error, "stream error from the server");
                    return format!("the server ended the stream with an error: {error}");
                }
                Some(Ok(element)) => {
                    budget.refill();
                    stats.received();
                    tracing::debug!(stanza = %String::from(&element), "received");
                    session.handle(element).await
                }
                Some(Err(ReadError::SoftTimeout)) => {
                    pings += 1;
                    vec![Element::from(self_ping(&session.own, pings))]
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "the stream failed");
                    return format!("the stream failed: {err}");
                }
                None => return "the server closed the stream".to_owned(),
            },
            _ = looks.tick() => session.look().await,
        };
        for reply in replies {
            tracing::debug!(stanza = %String::from(&reply), "sending");
            if let Err(err) = connection.send(&reply).await {
                tracing::warn!(error = %err, "cannot send a reply");
                return format!("cannot send to the server: {err}");
            }
            stats.sent();
        }
    }
}

/// What one connected component does, apart from the connection: answers each stanza
/// ([`handle`](Self::handle)) and, called a few times a second, announces changes
/// ([`look`](Self::look)). The connected component drives one per connection; the conformance
/// suite drives one in process.
pub struct Session<St> {
    service: IqService<St>,
    own: Jid,
    announcer: Announcer,
    mirror: Option<Mirror>,
    looked: bool,
}

impl<St> std::fmt::Debug for Session<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("own", &self.own)
            .field("mirror", &self.mirror.is_some())
            .finish_non_exhaustive()
    }
}

impl<St: Store> Session<St> {
    /// A session of the component `own` (its domain) answering from `service`, mirroring
    /// subscribers' avatars when `mirror` is set.
    #[must_use]
    pub fn new(service: IqService<St>, own: Jid, mirror: Option<Mirroring>) -> Self {
        let mirror = mirror.map(|settings| Mirror::new(settings, own.to_bare()));
        Self {
            service,
            own,
            announcer: Announcer::new(),
            mirror,
            looked: false,
        }
    }

    /// The replies to one incoming stanza: the mirror's business first, then
    /// [`replies_to_element`].
    pub async fn handle(&mut self, element: Element) -> Vec<Element> {
        if let Some(mirror) = self.mirror.as_mut()
            && let Some(replies) = mirror.handle(&self.service, &element).await
        {
            return replies;
        }
        replies_to_element(&self.service, element, &self.own).await
    }

    /// The first call: presence to every subscriber, and the mirror's fresh look at every
    /// mirrored user. Later calls: announcements of the avatars that changed
    /// ([`Announcer::changes`]).
    pub async fn look(&mut self) -> Vec<Element> {
        let first = !self.looked;
        self.looked = true;
        let announced = if first {
            self.announcer.everything(&self.service).await
        } else {
            self.announcer.changes(&self.service).await
        };
        let mut stanzas: Vec<Element> = announced.into_iter().map(Element::from).collect();
        if first && let Some(mirror) = self.mirror.as_mut() {
            stanzas.extend(mirror.on_connect(&self.service));
        }
        stanzas
    }
}

/// `modify` / `bad-request` for an IQ request that could not be parsed (RFC 6120 8.3.3.1); no
/// reply to anything else (a malformed result, error, presence or message).
fn malformed_stanza_reply(name: &str, header: &StanzaHeader, own: &Jid) -> Option<Stanza> {
    if name != "iq" || !matches!(header.type_.as_deref(), Some("get" | "set")) {
        return None;
    }
    let id = header.id.clone()?;
    let from = header
        .to
        .as_deref()
        .and_then(|to| Jid::new(to).ok())
        .unwrap_or_else(|| own.clone());
    let error = StanzaError::new(
        ErrorType::Modify,
        DefinedCondition::BadRequest,
        "en",
        "this IQ is malformed: it needs an id, a type of get or set, and exactly one payload element",
    );
    let mut reply = Iq::from_error(id, error).with_from(from);
    if let Some(to) = header.from.as_deref().and_then(|to| Jid::new(to).ok()) {
        reply = reply.with_to(to);
    }
    Some(Stanza::Iq(reply))
}

/// A XEP-0199 ping to the component's own domain, routed through the server: traffic both ways
/// that proves the server is still there.
fn self_ping(own: &Jid, counter: u64) -> Iq {
    Iq::from_get(format!("keepalive-{counter}"), Ping)
        .with_from(own.clone())
        .with_to(own.clone())
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

/// What to send back for one incoming stanza given as XML, exactly as the connected component
/// does: [`replies`] for a stanza that parses. An IQ `get` or `set` that is malformed (it does not
/// parse, or does not hold exactly one payload element, RFC 6120 8.2.3) gets `modify` /
/// `bad-request` from `own` (the component's JID) unless it was addressed to another JID of the
/// component; anything else malformed gets nothing. For embedding the service behind another
/// XMPP stack, and for the conformance suite's in-process target.
///
/// A stanza nested deeper than [`MAX_STANZA_DEPTH`] is malformed too, refused before anything
/// walks it: parsing into typed payloads recurses once per level, and a few hundred kilobytes
/// of `<x>` would otherwise overflow the task's stack and take the component down.
pub async fn replies_to_element<St: Store>(
    service: &IqService<St>,
    element: Element,
    own: &Jid,
) -> Vec<Element> {
    let header = StanzaHeader {
        from: element.attr("from").map(str::to_owned),
        to: element.attr("to").map(str::to_owned),
        type_: element.attr("type").map(str::to_owned),
        id: element.attr("id").map(str::to_owned),
    };
    let name = element.name().to_owned();
    let request = matches!(header.type_.as_deref(), Some("get" | "set"));
    let one_payload = element.children().count() == 1;
    let parsed = if nested_deeper_than(&element, MAX_STANZA_DEPTH) {
        dismantle(element);
        None
    } else if name == "iq" && request && !one_payload {
        None
    } else {
        Stanza::try_from(element).ok()
    };
    match parsed {
        Some(stanza) => replies(service, stanza)
            .await
            .into_iter()
            .map(Element::from)
            .collect(),
        None => malformed_stanza_reply(&name, &header, own)
            .map(Element::from)
            .into_iter()
            .collect(),
    }
}

/// How deeply a stanza may nest elements (the stanza itself is level 1). The deepest avatar
/// payload, a XEP-0084 metadata `info` in a pubsub publish, is at level 6; vCards go to 4.
pub const MAX_STANZA_DEPTH: usize = 32;

/// Whether `element` has elements more than `limit` levels down, found without recursion.
fn nested_deeper_than(element: &Element, limit: usize) -> bool {
    let mut pending = vec![(element, 1)];
    while let Some((element, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        pending.extend(element.children().map(|child| (child, depth + 1)));
    }
    false
}

/// Drops a tree level by level: dropping it whole recurses once per level.
fn dismantle(element: Element) {
    let mut pending = vec![element];
    while let Some(mut element) = pending.pop() {
        pending.extend(
            element
                .take_nodes()
                .into_iter()
                .filter_map(|node| match node {
                    minidom::Node::Element(child) => Some(child),
                    minidom::Node::Text(_) => None,
                }),
        );
    }
}

/// The routing attributes of a stanza, as sent.
struct StanzaHeader {
    from: Option<String>,
    to: Option<String>,
    type_: Option<String>,
    id: Option<String>,
}

/// Probes get the subject's presence. A subscription is accepted, remembered (so the subscriber
/// hears of every later change, see [`Announcer`]), and answered with presence; an
/// `unsubscribe` forgets it.
async fn presence_replies<St: Store>(service: &IqService<St>, presence: Presence) -> Vec<Stanza> {
    let (Some(from), Some(to)) = (presence.from.clone(), presence.to.clone()) else {
        return Vec::new();
    };
    let Some(identity) = service.mapping().identity_of(&to) else {
        return Vec::new();
    };
    let (contact, subscriber) = (to.to_bare(), from.to_bare());
    let mut replies = Vec::new();
    match presence.type_ {
        PresenceType::Subscribe => {
            match service.subscriptions().add(&contact, &subscriber).await {
                Ok(Added::New | Added::Known) => {}
                Ok(Added::OverLimit) => {
                    tracing::warn!(%contact, %subscriber, "refused a subscription: over the subscription limits");
                    return vec![Stanza::Presence(
                        Presence::new(PresenceType::Unsubscribed)
                            .with_from(to)
                            .with_to(from),
                    )];
                }
                Err(err) => {
                    tracing::error!(%contact, %subscriber, error = %err, "cannot save a subscription; this subscriber will not hear of changes");
                }
            }
            replies.push(Stanza::Presence(
                Presence::new(PresenceType::Subscribed)
                    .with_from(to)
                    .with_to(from.clone()),
            ));
        }
        PresenceType::Unsubscribe => {
            match service.subscriptions().remove(&contact, &subscriber).await {
                Ok(true) => tracing::info!(%contact, %subscriber, "unsubscribed"),
                Ok(false) => {}
                Err(err) => {
                    tracing::error!(%contact, %subscriber, error = %err, "cannot save an unsubscription");
                }
            }
            return vec![Stanza::Presence(
                Presence::new(PresenceType::Unavailable)
                    .with_from(to)
                    .with_to(from),
            )];
        }
        PresenceType::Probe => {}
        _ => return replies,
    }
    match service.presence_for(&identity).await {
        // From the JID asked (an address has a plain and an escaped JID).
        Ok(current) => replies.push(Stanza::Presence(
            current.with_from(Jid::from(contact)).with_to(from),
        )),
        Err(refusal) => tracing::warn!(%identity, ?refusal, "cannot build presence"),
    }
    replies
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret is never shown by `Debug` (a config logged whole), and a replaced one is
    /// what the next connection proves; an empty one is refused and the old one kept.
    #[test]
    fn the_secret_is_hidden_and_replaceable() {
        let config =
            ComponentConfig::new("127.0.0.1:5347", "avatars.example.org", "s3cret").unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        let secret = config.secret();
        secret.replace("rotated").unwrap();
        assert_eq!(config.secret.current(), "rotated");
        assert!(matches!(secret.replace(""), Err(ConfigError::EmptySecret)));
        assert_eq!(config.secret.current(), "rotated");
    }

    #[test]
    fn a_config_that_can_never_connect_is_refused_when_built() {
        let new = |server: &str, domain: &str, secret: &str| {
            ComponentConfig::new(server, domain, secret).map(|config| config.domain().to_owned())
        };
        assert_eq!(
            new("127.0.0.1:5347", "avatars.example.org", "s").unwrap(),
            "avatars.example.org"
        );
        for domain in ["", "bad domain", "avatars..example.org"] {
            let err = new("127.0.0.1:5347", domain, "s").unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidDomain { .. }),
                "{domain:?}: {err}"
            );
            assert!(
                err.to_string().contains("such as avatars.example.org"),
                "{err}"
            );
        }
        for domain in ["alice@example.org", "example.org/resource"] {
            let err = new("127.0.0.1:5347", domain, "s").unwrap_err();
            assert!(
                matches!(err, ConfigError::NotADomain { .. }),
                "{domain:?}: {err}"
            );
        }
        for server in ["127.0.0.1", ":5347", "host:0", "host:99999", "host:port"] {
            let err = new(server, "avatars.example.org", "s").unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidServer { .. }),
                "{server:?}: {err}"
            );
        }
        assert!(matches!(
            new("127.0.0.1:5347", "avatars.example.org", ""),
            Err(ConfigError::EmptySecret)
        ));
    }
}
