//! The XMPP avatar service under test: this project's IQ service in process, a component that
//! connects to the harness (XEP-0114, the harness plays the server), or a real server reached as
//! a client.

use std::collections::VecDeque;
use std::time::Duration;

use avatar_store::MemoryStore;
use avatar_xmpp::component::Session;
use avatar_xmpp::{IqConfig, IqService, JidMapping, Mirroring};
use jid::Jid;
use minidom::Element;
use tokio::net::TcpListener;

use super::wire::{Handshake, NS_COMPONENT, XmlStream, accept_component, client_login};
use crate::error::ConformanceError;
use crate::fixtures::memory_store;

/// The component domain of the in-process target.
pub const IN_PROCESS_DOMAIN: &str = "avatars.conformance.test";

/// The JID the harness sends from when it may choose (in process and as the component's server).
pub const TESTER: &str = "tester@conformance.test/harness";

/// The address the harness speaks as when it may choose (the owner of the `writer` fixture).
pub const ME: &str = "writer@example.com";

/// The domain of the users the in-process target mirrors (`--identity-domain` of a component).
pub const MIRRORED_DOMAIN: &str = "example.net";

/// How long the service may take to answer a stanza that must be answered, unless
/// [`XmppTarget::answer_timeout`] says otherwise.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// How the harness reaches the service.
#[derive(Debug)]
enum Link {
    InProcess {
        session: Box<Session<MemoryStore>>,
        replies: VecDeque<Element>,
    },
    Component {
        stream: XmlStream,
        handshake: Handshake,
    },
    Client {
        stream: XmlStream,
    },
}

/// The XMPP service under test, with what the cases need to address it.
#[derive(Debug)]
pub struct XmppTarget {
    link: Link,
    domain: String,
    sender: Option<String>,
    me: String,
    stash: Vec<Element>,
    answer_timeout: Duration,
}

impl XmppTarget {
    /// This project's component [`Session`] with the fixtures in a memory store, answering for
    /// [`IN_PROCESS_DOMAIN`] and mirroring the users of [`MIRRORED_DOMAIN`] who subscribe to it;
    /// after each stanza it looks for changes, as the connected component does a few times a
    /// second.
    ///
    /// # Errors
    /// [`ConformanceError::Store`] if a fixture cannot be stored (it never should).
    pub async fn in_process() -> Result<Self, ConformanceError> {
        let store = memory_store().await?;
        let mapping = JidMapping::new(IN_PROCESS_DOMAIN).identity_domain(MIRRORED_DOMAIN);
        let service = IqService::new(store, IqConfig::new(mapping));
        let own = Jid::new(IN_PROCESS_DOMAIN).map_err(|err| {
            ConformanceError::Usage(format!("the in-process domain {IN_PROCESS_DOMAIN}: {err}"))
        })?;
        Ok(Self {
            link: Link::InProcess {
                session: Box::new(Session::new(service, own, Some(Mirroring::new()))),
                replies: VecDeque::new(),
            },
            domain: IN_PROCESS_DOMAIN.to_owned(),
            sender: Some(TESTER.to_owned()),
            me: ME.to_owned(),
            stash: Vec::new(),
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// Waits on `listener` for a component to connect and checks its handshake against
    /// `secret`. A refused handshake still gives a target: its cases then fail with the reason.
    ///
    /// # Errors
    /// [`ConformanceError::Setup`] when no component connects within `wait` or the exchange
    /// breaks off.
    pub async fn component(
        listener: &TcpListener,
        secret: &str,
        wait: Duration,
    ) -> Result<Self, ConformanceError> {
        let (stream, handshake) = accept_component(listener, secret, wait)
            .await
            .map_err(|err| err.setting_up("the component under test"))?;
        Ok(Self {
            domain: handshake.domain.clone(),
            link: Link::Component { stream, handshake },
            sender: Some(TESTER.to_owned()),
            me: ME.to_owned(),
            stash: Vec::new(),
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// Logs into the server at `server` (`HOST:PORT`, plain c2s) as `jid`; the service under
    /// test answers for `subject_domain` (a component of that server).
    ///
    /// # Errors
    /// [`ConformanceError::Setup`] when the login fails.
    pub async fn client(
        server: &str,
        jid: &str,
        password: &str,
        subject_domain: &str,
    ) -> Result<Self, ConformanceError> {
        let (stream, full) = client_login(server, jid, password)
            .await
            .map_err(|err| err.setting_up(format!("logging into {server} as {jid}")))?;
        let me = full.split('/').next().unwrap_or(jid).to_lowercase();
        Ok(Self {
            link: Link::Client { stream },
            domain: subject_domain.to_owned(),
            sender: None,
            me,
            stash: Vec::new(),
            answer_timeout: ANSWER_TIMEOUT,
        })
    }

    /// How long the service may take to answer a stanza that must be answered (5 s unless
    /// set): a case whose answer has not come by then fails with "no answer within ...". A
    /// slow service or link needs more; a harness testing services that never answer, less.
    #[must_use]
    pub const fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    /// How long to wait for an answer that must come ([`XmppTarget::answer_timeout`]).
    pub(super) const fn answer_wait(&self) -> Duration {
        self.answer_timeout
    }

    /// The domain whose JIDs name the subjects.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The JID the harness sends from, when it can choose one (not as a client: the server
    /// stamps it).
    #[must_use]
    pub fn sender(&self) -> Option<&str> {
        self.sender.as_deref()
    }

    /// The address the harness speaks as: [`ME`] where it may choose, the logged-in user's as a
    /// client.
    #[must_use]
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The component's handshake, when the target is a connected component.
    #[must_use]
    pub const fn handshake(&self) -> Option<&Handshake> {
        match &self.link {
            Link::Component { handshake, .. } => Some(handshake),
            _ => None,
        }
    }

    /// Whether the target is a real server reached as a client.
    #[must_use]
    pub const fn is_client(&self) -> bool {
        matches!(self.link, Link::Client { .. })
    }

    /// Sends one stanza, given as XML text without a namespace on its root.
    ///
    /// # Errors
    /// [`ConformanceError::Usage`] when the case's text is not XML (in process);
    /// [`ConformanceError::Protocol`] when the component's handshake was refused;
    /// [`ConformanceError::Network`] when the connection fails.
    pub async fn send(&mut self, xml: &str) -> Result<(), ConformanceError> {
        match &mut self.link {
            Link::InProcess { session, replies } => {
                let element: Element =
                    with_namespace(xml, NS_COMPONENT).parse().map_err(|err| {
                        ConformanceError::Usage(format!(
                            "the case's stanza is not XML ({err}): {xml}"
                        ))
                    })?;
                replies.extend(session.handle(element).await);
                replies.extend(session.look().await);
                Ok(())
            }
            Link::Component { stream, handshake } => {
                if !handshake.accepted() {
                    return Err(ConformanceError::Protocol(format!(
                        "the component's handshake was refused: sent {:?}, expected {:?} (SHA-1 of stream id {:?} and the secret)",
                        handshake.sent, handshake.expected, handshake.stream_id
                    )));
                }
                stream.send(xml).await
            }
            Link::Client { stream } => stream.send(xml).await,
        }
    }

    /// The first element matching `wanted` that arrives within `wait` (earlier unmatched ones
    /// are kept for later calls).
    ///
    /// # Errors
    /// What [`XmlStream::next`](super::wire::XmlStream::next) refuses: a broken connection,
    /// bytes that are not XML.
    pub async fn wait_for(
        &mut self,
        wanted: impl Fn(&Element) -> bool,
        wait: Duration,
    ) -> Result<Option<Element>, ConformanceError> {
        if let Some(index) = self.stash.iter().position(&wanted) {
            return Ok(Some(self.stash.remove(index)));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let next = match &mut self.link {
                Link::InProcess { replies, .. } => replies.pop_front(),
                Link::Component { stream, .. } | Link::Client { stream } => {
                    if left.is_zero() {
                        None
                    } else {
                        stream.next(left).await?
                    }
                }
            };
            match next {
                Some(element) if wanted(&element) => return Ok(Some(element)),
                Some(element) => {
                    if self.stash.len() >= 256 {
                        self.stash.remove(0);
                    }
                    self.stash.push(element);
                }
                None => return Ok(None),
            }
        }
    }
}

/// Puts `xmlns='NS'` on the root element of a stanza written without one.
fn with_namespace(xml: &str, namespace: &str) -> String {
    let start = xml.find('<').map_or(0, |index| index + 1);
    let name_end = xml[start..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .map_or(xml.len(), |index| start + index);
    format!(
        "{} xmlns='{namespace}'{}",
        &xml[..name_end],
        &xml[name_end..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_goes_on_the_root() {
        assert_eq!(
            with_namespace("<iq type='get'/>", "jabber:client"),
            "<iq xmlns='jabber:client' type='get'/>"
        );
        assert_eq!(with_namespace("<presence/>", "x"), "<presence xmlns='x'/>");
    }
}
