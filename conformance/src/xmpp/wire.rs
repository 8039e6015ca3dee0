//! XML streams on the wire, for the harness's two network roles: the server side of XEP-0114
//! (a component under test connects to it) and a plain c2s client (it logs into a real server).
//! Stanzas are read whole with rxml and minidom's tree builder, so the suite sees exactly what
//! the peer sent, malformed or not.

use std::time::Duration;

use base64::Engine as _;
use minidom::Element;
use minidom::rxml::error::EndOrError;
use minidom::rxml::{Parse as _, RawEvent, RawParser};
use minidom::tree_builder::TreeBuilder;
use sha1::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{ConformanceError, Result};

/// The stream namespace.
pub const NS_STREAM: &str = "http://etherx.jabber.org/streams";
/// The component protocol's content namespace (XEP-0114).
pub const NS_COMPONENT: &str = "jabber:component:accept";
/// The client protocol's content namespace.
pub const NS_CLIENT: &str = "jabber:client";

/// The most a peer may send before one stanza is complete.
const MAX_BUFFERED: usize = 4 << 20;

/// One XML stream over TCP: raw text out, whole elements in.
pub struct XmlStream {
    tcp: TcpStream,
    parser: RawParser,
    tree: TreeBuilder,
    pending: Vec<u8>,
    closed: bool,
}

impl std::fmt::Debug for XmlStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlStream")
            .field("peer", &self.tcp.peer_addr().ok())
            .field("depth", &self.tree.depth())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl XmlStream {
    /// Wraps a connected socket.
    #[must_use]
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            parser: RawParser::new(),
            tree: TreeBuilder::new(),
            pending: Vec::new(),
            closed: false,
        }
    }

    /// Sends raw XML text.
    ///
    /// # Errors
    /// [`ConformanceError::Network`] with the socket's error.
    pub async fn send(&mut self, xml: &str) -> Result<()> {
        self.tcp
            .write_all(xml.as_bytes())
            .await
            .map_err(|source| ConformanceError::Network {
                action: "sending".to_owned(),
                source,
            })
    }

    /// The stream header once it has been read (the root element, without children).
    ///
    /// # Errors
    /// [`ConformanceError::Timeout`] when none arrives within `wait`; what reading refuses.
    pub async fn header(&mut self, wait: Duration) -> Result<Element> {
        tokio::time::timeout(wait, async {
            loop {
                if self.tree.depth() >= 1
                    && let Some(root) = self.tree.top()
                {
                    return Ok(root.clone());
                }
                self.fill().await?;
            }
        })
        .await
        .map_err(|_| ConformanceError::Timeout {
            waiting_for: "a stream header".to_owned(),
            after: wait,
        })?
    }

    /// The next top-level element, or `None` if none arrives within `wait`.
    ///
    /// # Errors
    /// [`ConformanceError::Protocol`] when the peer closes the stream or sends too much without
    /// completing an element; [`ConformanceError::Xml`] for bytes that are not XML;
    /// [`ConformanceError::Network`] when reading fails.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Element>> {
        match tokio::time::timeout(wait, self.next_element()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn next_element(&mut self) -> Result<Element> {
        loop {
            if self.tree.depth() == 1
                && let Some(element) = self.tree.unshift_child()
            {
                return Ok(element);
            }
            if self.closed {
                return Err(ConformanceError::Protocol(
                    "the peer closed the stream".to_owned(),
                ));
            }
            self.fill().await?;
        }
    }

    /// Reads from the socket and feeds the parser until an event completes an element or the
    /// buffer runs dry.
    async fn fill(&mut self) -> Result<()> {
        loop {
            let mut slice = self.pending.as_slice();
            let result = self.parser.parse(&mut slice, false);
            let consumed = self.pending.len() - slice.len();
            self.pending.drain(..consumed);
            match result {
                Ok(Some(event)) => {
                    let ends_element = matches!(event, RawEvent::ElementFoot(_));
                    self.tree
                        .process_event(event)
                        .map_err(|err| ConformanceError::Xml(Box::new(err)))?;
                    if self.tree.depth() == 0 && self.tree.root.is_some() {
                        self.closed = true;
                        return Ok(());
                    }
                    if ends_element || self.tree.depth() == 1 {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    self.closed = true;
                    return Ok(());
                }
                Err(EndOrError::NeedMoreData) => {
                    self.pending.reserve(16 * 1024);
                    let read = self
                        .tcp
                        .read_buf(&mut self.pending)
                        .await
                        .map_err(|source| ConformanceError::Network {
                            action: "reading".to_owned(),
                            source,
                        })?;
                    if read == 0 {
                        self.closed = true;
                        return Err(ConformanceError::Protocol(
                            "the peer closed the connection".to_owned(),
                        ));
                    }
                    if self.pending.len() > MAX_BUFFERED {
                        return Err(ConformanceError::Protocol(format!(
                            "more than {MAX_BUFFERED} bytes without a whole element"
                        )));
                    }
                }
                Err(EndOrError::Error(err)) => return Err(ConformanceError::Xml(Box::new(err))),
            }
        }
    }
}

/// How a component's handshake went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The domain the component asked for (the `to` of its stream header).
    pub domain: String,
    /// The stream id the harness sent.
    pub stream_id: String,
    /// The handshake value the component sent.
    pub sent: String,
    /// The value XEP-0114 requires: lowercase hex SHA-1 of stream id and secret.
    pub expected: String,
}

impl Handshake {
    /// Whether the component proved the secret.
    #[must_use]
    pub fn accepted(&self) -> bool {
        self.sent == self.expected
    }
}

/// Waits on `listener` for a component, plays the server side of XEP-0114 and returns the stream
/// with how the handshake went. A wrong handshake is answered with `not-authorized` and the
/// stream closed, as a real server does; the verdict is still returned.
///
/// # Errors
/// [`ConformanceError::Timeout`] when no component connects within `wait`; what reading
/// refuses when the exchange breaks off.
pub async fn accept_component(
    listener: &TcpListener,
    secret: &str,
    wait: Duration,
) -> Result<(XmlStream, Handshake)> {
    let (tcp, _) = tokio::time::timeout(wait, listener.accept())
        .await
        .map_err(|_| ConformanceError::Timeout {
            waiting_for: "a component to connect".to_owned(),
            after: wait,
        })?
        .map_err(|source| ConformanceError::Network {
            action: "accepting".to_owned(),
            source,
        })?;
    let mut stream = XmlStream::new(tcp);
    let header = stream.header(Duration::from_secs(10)).await?;
    let domain = header.attr("to").unwrap_or_default().to_owned();
    let stream_id = format!("conformance-{:016x}", rand_id());
    stream
        .send(&format!(
            "<?xml version='1.0'?><stream:stream xmlns='{NS_COMPONENT}' xmlns:stream='{NS_STREAM}' from='{domain}' id='{stream_id}'>"
        ))
        .await?;
    let sent = match stream.next(Duration::from_secs(10)).await? {
        Some(element) if element.name() == "handshake" => element.text().trim().to_owned(),
        Some(other) => {
            return Err(ConformanceError::Protocol(format!(
                "expected <handshake>, got {}",
                String::from(&other)
            )));
        }
        None => {
            return Err(ConformanceError::Timeout {
                waiting_for: "<handshake>".to_owned(),
                after: Duration::from_secs(10),
            });
        }
    };
    let digest = sha1::Sha1::digest(format!("{stream_id}{secret}").as_bytes());
    let expected = avatar_proto::hex::encode_lower(digest.as_slice());
    let handshake = Handshake {
        domain,
        stream_id,
        sent,
        expected,
    };
    if handshake.accepted() {
        stream.send("<handshake/>").await?;
    } else {
        let _ = stream
            .send("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
            .await;
    }
    Ok((stream, handshake))
}

/// A number that differs between calls, for stream ids.
fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    #[expect(clippy::cast_possible_truncation, reason = "only the low bits matter")]
    let nanos = nanos as u64;
    nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32)
}

/// Logs into an XMPP server as a client over plain TCP: stream, SASL PLAIN, resource binding,
/// session, initial presence. Returns the stream and the full JID the server bound.
///
/// # Errors
/// [`ConformanceError::Usage`] for a JID without `@`; otherwise an error naming the step that
/// failed and what the server said.
pub async fn client_login(server: &str, jid: &str, password: &str) -> Result<(XmlStream, String)> {
    let (user, domain) = jid
        .split_once('@')
        .ok_or_else(|| ConformanceError::Usage(format!("--jid {jid:?}: expected USER@DOMAIN")))?;
    let tcp = TcpStream::connect(server)
        .await
        .map_err(|source| ConformanceError::Network {
            action: format!("connecting to {server}"),
            source,
        })?;
    let mut stream = XmlStream::new(tcp);
    let wait = Duration::from_secs(10);
    let open = format!(
        "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAM}'>"
    );
    stream.send(&open).await?;
    stream.header(wait).await?;
    expect_features(&mut stream, wait).await?;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    stream
        .send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>"
        ))
        .await?;
    match stream.next(wait).await? {
        Some(element) if element.name() == "success" => {}
        Some(other) => {
            return Err(ConformanceError::Protocol(format!(
                "SASL PLAIN refused: {}",
                String::from(&other)
            )));
        }
        None => {
            return Err(ConformanceError::Timeout {
                waiting_for: "an answer to SASL PLAIN".to_owned(),
                after: wait,
            });
        }
    }
    // A new stream after SASL: a fresh parser.
    let tcp = stream.tcp;
    let mut stream = XmlStream::new(tcp);
    stream.send(&open).await?;
    stream.header(wait).await?;
    expect_features(&mut stream, wait).await?;
    stream
        .send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>conformance</resource></bind></iq>")
        .await?;
    let bound = reply_to(&mut stream, "bind", wait).await?;
    let full = bound
        .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
        .and_then(|bind| bind.get_child("jid", "urn:ietf:params:xml:ns:xmpp-bind"))
        .map(Element::text)
        .ok_or_else(|| {
            ConformanceError::Protocol(format!("binding failed: {}", String::from(&bound)))
        })?;
    stream
        .send("<iq type='set' id='session'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
        .await?;
    let _ = reply_to(&mut stream, "session", wait).await;
    // As a client does: asking for the roster makes the resource "interested" (RFC 6121 2.1.6),
    // so the server hands it subscription answers; initial presence makes it available, so it
    // is handed its contacts' presence.
    stream
        .send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
        .await?;
    let _ = reply_to(&mut stream, "roster", wait).await;
    stream.send("<presence/>").await?;
    Ok((stream, full))
}

async fn expect_features(stream: &mut XmlStream, wait: Duration) -> Result<Element> {
    match stream.next(wait).await? {
        Some(element) if element.name() == "features" => Ok(element),
        Some(other) => Err(ConformanceError::Protocol(format!(
            "expected stream features, got {}",
            String::from(&other)
        ))),
        None => Err(ConformanceError::Timeout {
            waiting_for: "stream features".to_owned(),
            after: wait,
        }),
    }
}

/// The IQ answering `id`, skipping anything else.
async fn reply_to(stream: &mut XmlStream, id: &str, wait: Duration) -> Result<Element> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match stream.next(left).await? {
            Some(element) if element.name() == "iq" && element.attr("id") == Some(id) => {
                return Ok(element);
            }
            Some(_) => {}
            None => {
                return Err(ConformanceError::Timeout {
                    waiting_for: format!("an answer to IQ {id}"),
                    after: wait,
                });
            }
        }
    }
}
