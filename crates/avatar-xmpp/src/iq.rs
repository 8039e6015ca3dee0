//! Answering IQ stanzas: XEP-0008 retrieval and storage, vCard (XEP-0054/0153), every row of the
//! error table, as plain functions behind a tower `Service`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use avatar_image::throttle::WarnThrottle;
use avatar_image::{ImageError, Limits, XmppRendition, prepare, render_xmpp};
use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::{Store, StoredImage};
use bytes::Bytes;
use jid::Jid;
use minidom::Element;
use quick_cache::sync::Cache;
use tower_service::Service;
use xmpp_parsers::disco::{DiscoInfoResult, Identity as DiscoIdentity};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::mapping::JidMapping;
use crate::payload::{
    AvatarData, AvatarQuery, Binval, NS_IQ_AVATAR, NS_STORAGE_AVATAR, PepData, VCard, VCardPhoto,
    VCardType,
};
use crate::subscriptions::Subscriptions;

const NS_VCARD: &str = "vcard-temp";
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// XEP-0084's data node.
pub const NODE_AVATAR_DATA: &str = "urn:xmpp:avatar:data";
/// XEP-0084's metadata node.
pub const NODE_AVATAR_METADATA: &str = "urn:xmpp:avatar:metadata";

/// The features disco#info announces: what this service answers.
pub const FEATURES: [&str; 8] = [
    NS_DISCO_INFO,
    NODE_AVATAR_DATA,
    NODE_AVATAR_METADATA,
    NS_IQ_AVATAR,
    NS_STORAGE_AVATAR,
    NS_VCARD,
    "jabber:x:avatar",
    "vcard-temp:x:update",
];

/// Why an IQ is refused: the error table of `docs/protocol.md` section 4 (`[xmpp.error.*]`).
///
/// Its [`Display`](std::fmt::Display) is the text sent in the stanza error (with anti-harvesting
/// off), so a log line and the client see the same words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A subject we could serve, with no avatar: `cancel` / `item-not-found`.
    #[error("no avatar is stored for this address")]
    NoAvatar,
    /// A JID that names no identity: `cancel` / `service-unavailable` (or `item-not-found` with
    /// anti-harvesting on, so the two cannot be told apart).
    #[error("this JID does not name an address served here")]
    UnknownSubject,
    /// A namespace this service does not answer: `cancel` / `service-unavailable`.
    #[error("this service answers jabber:iq:avatar, storage:client:avatar and vcard-temp")]
    NamespaceNotUnderstood,
    /// `set` on `jabber:iq:avatar`: `cancel` / `feature-not-implemented`.
    #[error(
        "jabber:iq:avatar is read-only; set the avatar through storage:client:avatar or vcard-temp"
    )]
    SetOnIqAvatar,
    /// Bad base64 or no `<data>`: `modify` / `bad-request`.
    #[error("expected <data mimetype='...'> with base64 image data")]
    BadRequest,
    /// Not an image, too large, wrong format: `modify` / `not-acceptable`, with the limit the
    /// upload broke.
    #[error("the image is refused: {0}")]
    NotAcceptable(#[source] ImageError),
    /// A set on someone else's avatar: `auth` / `forbidden`.
    #[error("only the address's owner may set its avatar")]
    Forbidden,
    /// The store failed: `wait` / `internal-server-error`.
    #[error("the avatar store failed; try again later")]
    StoreFailed,
}

impl Refusal {
    /// The stanza error sent for this refusal.
    fn stanza_error(&self, anti_harvesting: bool) -> StanzaError {
        let (kind, condition) = match self {
            Self::NoAvatar => (ErrorType::Cancel, DefinedCondition::ItemNotFound),
            Self::UnknownSubject if anti_harvesting => {
                return Self::NoAvatar.stanza_error(anti_harvesting);
            }
            Self::UnknownSubject | Self::NamespaceNotUnderstood => {
                (ErrorType::Cancel, DefinedCondition::ServiceUnavailable)
            }
            Self::SetOnIqAvatar => (ErrorType::Cancel, DefinedCondition::FeatureNotImplemented),
            Self::BadRequest => (ErrorType::Modify, DefinedCondition::BadRequest),
            Self::NotAcceptable(_) => (ErrorType::Modify, DefinedCondition::NotAcceptable),
            Self::Forbidden => (ErrorType::Auth, DefinedCondition::Forbidden),
            Self::StoreFailed => (ErrorType::Wait, DefinedCondition::InternalServerError),
        };
        StanzaError::new(kind, condition, "en", self.to_string())
    }
}

/// Settings of an [`IqService`].
#[derive(Debug, Clone)]
#[must_use]
pub struct IqConfig {
    mapping: JidMapping,
    anti_harvesting: bool,
    limits: Limits,
    subscriptions: Option<Arc<Subscriptions>>,
}

impl IqConfig {
    /// JIDs are mapped to identities by `mapping`; anti-harvesting off; default image limits.
    pub fn new(mapping: JidMapping) -> Self {
        Self {
            mapping,
            anti_harvesting: false,
            limits: Limits::default(),
            subscriptions: None,
        }
    }

    /// Where subscriptions to the component's JIDs are kept (default: in memory, forgotten
    /// when the process ends); see [`Subscriptions::open`] for a file.
    pub fn subscriptions(mut self, subscriptions: Arc<Subscriptions>) -> Self {
        self.subscriptions = Some(subscriptions);
        self
    }

    /// Answer "unknown subject" exactly like "no avatar" (XEP-0054 1.3.0's anti-harvesting rule).
    pub const fn anti_harvesting(mut self, on: bool) -> Self {
        self.anti_harvesting = on;
        self
    }

    /// Limits for uploaded images.
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

struct Shared<St> {
    store: St,
    config: IqConfig,
    subscriptions: Arc<Subscriptions>,
    /// By stored content: its rendition, or `None` for a stored picture that cannot be
    /// rendered (until another is stored, as the HTTP service remembers it).
    renditions: Cache<[u8; 32], Option<XmppRendition>>,
    /// "cannot read the stored avatar", said at most once a [`READ_WARNING_EVERY`].
    read_warnings: WarnThrottle,
    started: Instant,
}

/// After a warning that a stored avatar cannot be read, the next one waits this long (as the
/// HTTP service's).
const READ_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Answers avatar IQs from a [`Store`]. Cheap to clone.
///
/// Every `get` and `set` gets a result or an error (RFC 6120); `result` and `error` IQs get no
/// reply (`None`).
pub struct IqService<St> {
    shared: Arc<Shared<St>>,
}

impl<St> Clone for IqService<St> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<St> std::fmt::Debug for IqService<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IqService")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<St: Store> IqService<St> {
    /// A service answering from `store`.
    pub fn new(store: St, config: IqConfig) -> Self {
        let subscriptions = config
            .subscriptions
            .clone()
            .unwrap_or_else(|| Arc::new(Subscriptions::in_memory()));
        Self {
            shared: Arc::new(Shared {
                store,
                config,
                subscriptions,
                renditions: Cache::new(1024),
                read_warnings: WarnThrottle::new(READ_WARNING_EVERY),
                started: Instant::now(),
            }),
        }
    }

    /// The JID mapping.
    pub fn mapping(&self) -> &JidMapping {
        &self.shared.config.mapping
    }

    /// Who subscribed to which JID of the component.
    #[must_use]
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.shared.subscriptions
    }

    /// The store avatars are answered from.
    #[must_use]
    pub fn store(&self) -> &St {
        &self.shared.store
    }

    /// The XMPP rendition of `identity`'s avatar, if it has one (cached by stored content).
    ///
    /// # Errors
    /// [`Refusal::StoreFailed`] if the store cannot be read (logged at most once every 10 s,
    /// with how many reads failed). A stored file that cannot be rendered counts as no avatar
    /// (logged once, and remembered until another is stored).
    pub async fn rendition(&self, identity: &Identity) -> Result<Option<XmppRendition>, Refusal> {
        let stored = self
            .shared
            .store
            .get(&identity.hash(HashAlgorithm::Sha256))
            .await
            .map_err(|err| {
                if let Some(failed) = self.shared.read_warnings.record(self.shared.started.elapsed()) {
                    tracing::warn!(%identity, error = %err, failed, "cannot read the stored avatar; answering internal-server-error ({failed} read(s) failed since the last such warning; at most one every 10 s)");
                }
                Refusal::StoreFailed
            })?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        if let Some(cached) = self.shared.renditions.get(&stored.content) {
            return Ok(cached);
        }
        let limits = self.shared.config.limits;
        let bytes = stored.bytes.clone();
        let rendered = tokio::task::spawn_blocking(move || render_xmpp(&bytes, &limits)).await;
        match rendered {
            Ok(Ok(rendition)) => {
                self.shared
                    .renditions
                    .insert(stored.content, Some(rendition.clone()));
                Ok(Some(rendition))
            }
            // The picture itself cannot be read: remembered, so that it is not decoded (and
            // logged) again at every request.
            Ok(Err(err)) if err.is_the_pictures() => {
                self.shared.renditions.insert(stored.content, None);
                tracing::warn!(%identity, error = %err, "cannot render the stored avatar for XMPP; answering as no avatar until another is stored");
                Ok(None)
            }
            Ok(Err(err)) => {
                tracing::warn!(%identity, error = %err, "cannot render the stored avatar for XMPP");
                Ok(None)
            }
            Err(err) => {
                tracing::warn!(%identity, error = %err, "the rendering task failed");
                Ok(None)
            }
        }
    }

    /// The reply to `iq`, or `None` for result and error IQs.
    pub async fn answer(&self, iq: Iq) -> Option<Iq> {
        let (from, to, id, outcome) = match iq {
            Iq::Result { .. } | Iq::Error { .. } => return None,
            Iq::Get {
                from,
                to,
                id,
                payload,
            } => {
                let outcome = self.get(to.as_ref(), &payload).await;
                (from, to, id, outcome)
            }
            Iq::Set {
                from,
                to,
                id,
                payload,
            } => {
                let outcome = self.set(from.as_ref(), to.as_ref(), &payload).await;
                (from, to, id, outcome)
            }
        };
        Some(match outcome {
            Ok(payload) => Iq::Result {
                from: to,
                to: from,
                id,
                payload,
            },
            Err(refusal) => Iq::Error {
                from: to,
                to: from,
                id,
                error: refusal.stanza_error(self.shared.config.anti_harvesting),
                payload: None,
            },
        })
    }

    fn subject(&self, to: Option<&Jid>) -> Result<Identity, Refusal> {
        to.and_then(|jid| self.shared.config.mapping.identity_of(jid))
            .ok_or(Refusal::UnknownSubject)
    }

    async fn get(&self, to: Option<&Jid>, payload: &Element) -> Result<Option<Element>, Refusal> {
        let namespace = payload.ns();
        if namespace == NS_DISCO_INFO {
            return self.disco_info(to);
        }
        let pep_node = if namespace == NS_PUBSUB {
            let node = payload
                .get_child("items", NS_PUBSUB)
                .and_then(|items| items.attr("node"));
            match node {
                Some(NODE_AVATAR_DATA) => Some(NODE_AVATAR_DATA),
                Some(NODE_AVATAR_METADATA) => Some(NODE_AVATAR_METADATA),
                _ => return Err(Refusal::NamespaceNotUnderstood),
            }
        } else if matches!(
            namespace.as_str(),
            NS_IQ_AVATAR | NS_STORAGE_AVATAR | NS_VCARD
        ) {
            None
        } else {
            return Err(Refusal::NamespaceNotUnderstood);
        };
        let identity = self.subject(to)?;
        let rendition = self.rendition(&identity).await?.ok_or(Refusal::NoAvatar)?;
        if let Some(node) = pep_node {
            return Ok(Some(pep_items(node, &rendition)));
        }
        let mimetype = rendition.rendered.format.mime_type().to_owned();
        let bytes = rendition.rendered.bytes.to_vec();
        Ok(Some(match namespace.as_str() {
            NS_VCARD => VCard {
                photo: Some(VCardPhoto {
                    type_: VCardType { data: mimetype },
                    binval: Binval { data: bytes },
                }),
                payloads: Vec::new(),
            }
            .into(),
            NS_IQ_AVATAR => AvatarQuery {
                namespace: NS_IQ_AVATAR,
                data: Some(AvatarData { mimetype, bytes }),
            }
            .into(),
            _ => AvatarQuery {
                namespace: NS_STORAGE_AVATAR,
                data: Some(AvatarData { mimetype, bytes }),
            }
            .into(),
        }))
    }

    /// disco#info for the component's domain and every JID on it.
    fn disco_info(&self, to: Option<&Jid>) -> Result<Option<Element>, Refusal> {
        let ours = to.is_some_and(|jid| {
            jid.domain()
                .as_str()
                .eq_ignore_ascii_case(self.shared.config.mapping.component_domain())
        });
        if !ours {
            return Err(Refusal::UnknownSubject);
        }
        let info = DiscoInfoResult {
            node: None,
            identities: vec![DiscoIdentity::new("component", "generic", "en", "Avatars")],
            features: FEATURES
                .iter()
                .map(|feature| (*feature).to_owned())
                .collect(),
            extensions: Vec::new(),
        };
        Ok(Some(info.into()))
    }

    async fn set(
        &self,
        from: Option<&Jid>,
        to: Option<&Jid>,
        payload: &Element,
    ) -> Result<Option<Element>, Refusal> {
        let image = match payload.ns().as_str() {
            NS_IQ_AVATAR => return Err(Refusal::SetOnIqAvatar),
            NS_STORAGE_AVATAR => {
                let query = AvatarQuery::try_from(payload).map_err(|_| Refusal::BadRequest)?;
                query.data.ok_or(Refusal::BadRequest)?.bytes
            }
            NS_VCARD => {
                let vcard = VCard::try_from(payload.clone()).map_err(|_| Refusal::BadRequest)?;
                vcard.photo.ok_or(Refusal::BadRequest)?.binval.data
            }
            _ => return Err(Refusal::NamespaceNotUnderstood),
        };
        let identity = self.subject(to)?;
        if !from.is_some_and(|from| JidMapping::is_owner(from, &identity)) {
            return Err(Refusal::Forbidden);
        }
        self.store_image(&identity, image).await?;
        Ok(None)
    }

    /// Checks `image` against the limits and stores it for `identity` as every upload path
    /// does (a picture over the master side is stored as its master); returns the SHA-256 of
    /// the stored file.
    pub(crate) async fn store_image(
        &self,
        identity: &Identity,
        image: Vec<u8>,
    ) -> Result<[u8; 32], Refusal> {
        let prepared =
            prepare(&image, &self.shared.config.limits).map_err(Refusal::NotAcceptable)?;
        let stored = prepared
            .master
            .map_or_else(|| Bytes::from(image), |master| master.bytes);
        let content = StoredImage::new(stored.clone()).content;
        self.shared
            .store
            .put(identity, stored)
            .await
            .map_err(|err| {
                tracing::warn!(%identity, error = %err, "cannot store the uploaded avatar");
                Refusal::StoreFailed
            })?;
        Ok(content)
    }
}

/// A XEP-0084 `<pubsub><items node=...><item id=SHA1>...</item></items></pubsub>` answer: the
/// rendition itself (data node) or its description (metadata node), under the same SHA-1.
fn pep_items(node: &str, rendition: &XmppRendition) -> Element {
    let name = xml_name;
    let id = avatar_proto::hex::encode_lower(&rendition.sha1);
    let payload: Element = if node == NODE_AVATAR_DATA {
        PepData {
            data: rendition.rendered.bytes.to_vec(),
        }
        .into()
    } else {
        Element::builder("metadata", NODE_AVATAR_METADATA)
            .append(metadata_info(rendition))
            .build()
    };
    Element::builder("pubsub", NS_PUBSUB)
        .append(
            Element::builder("items", NS_PUBSUB)
                .attr(name("node"), node)
                .append(
                    Element::builder("item", NS_PUBSUB)
                        .attr(name("id"), id)
                        .append(payload),
                ),
        )
        .build()
}

/// XEP-0084's `<info bytes id type width height/>` describing `rendition`.
pub(crate) fn metadata_info(rendition: &XmppRendition) -> Element {
    Element::builder("info", NODE_AVATAR_METADATA)
        .attr(
            xml_name("bytes"),
            rendition.rendered.bytes.len().to_string(),
        )
        .attr(
            xml_name("id"),
            avatar_proto::hex::encode_lower(&rendition.sha1),
        )
        .attr(xml_name("type"), rendition.rendered.format.mime_type())
        .attr(xml_name("width"), rendition.rendered.size.to_string())
        .attr(xml_name("height"), rendition.rendered.size.to_string())
        .build()
}

/// An XML name written in the code.
pub(crate) fn xml_name(text: &str) -> minidom::rxml::NcName {
    minidom::rxml::NcName::try_from(text).expect("a valid XML name")
}

impl<St: Store> Service<Iq> for IqService<St> {
    type Response = Option<Iq>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Iq>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, iq: Iq) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.answer(iq).await) })
    }
}
