//! Mirroring, opt-in by each user: an XMPP user who subscribes to the component's own JID (such
//! as `avatars.example.org`) has their chat avatar copied into the store under their bare JID
//! as an email address, so the Libravatar API answers it by that address's hashes.
//!
//! How it goes, with `bob@example.org` on a listed identity domain:
//!
//! 1. Bob subscribes to `avatars.example.org`. The component accepts, remembers it
//!    ([`Subscriptions`](crate::Subscriptions)), subscribes back, and sends presence carrying
//!    entity capabilities (XEP-0115) whose features include `urn:xmpp:avatar:metadata+notify`,
//!    so Bob's server sends it his XEP-0084 notifications (XEP-0163's `+notify`).
//! 2. Once Bob approves (or at every connect), it asks Bob's PEP for `urn:xmpp:avatar:metadata`;
//!    an item there is fetched from `urn:xmpp:avatar:data` by its id. With no PEP avatar it asks
//!    for his vCard (XEP-0054) and takes its `PHOTO`.
//! 3. Changes follow: a metadata notification fetches the new data (an empty `<metadata/>`
//!    removes the mirror); a new `vcard-temp:x:update` photo hash in Bob's presence makes it look
//!    again, PEP first, then the vCard; so does any other available presence of a user whose
//!    mirror came from PEP, for one IQ (below).
//!
//!    ejabberd (23.01) sends a component neither `+notify` notifications (it never asks a
//!    component for its capabilities: presence from a domain it routes counts as its own) nor
//!    those of an explicit XEP-0060 subscription (PEP delivery there is presence-based, and a
//!    component has no session). What reaches a component there is the user's presence: with
//!    `mod_avatar` and `mod_vcard_xupdate`, in Debian's default configuration, a PEP publish
//!    becomes a vCard photo and new presence, and so a new look.
//! 4. Bob unsubscribes (`unsubscribe` or `unsubscribed`): the mirrored avatar is removed.
//!
//! A mirrored avatar is marked as such (the SHA-256 of the file it stored, in the
//! subscriptions file). The mirror never replaces an avatar stored by another path (an upload,
//! `avatars import`, the management API), nor removes one, unless the operator allows it with
//! [`Mirroring::overwrite_other_uploads`]. JIDs of domains the operator did not list
//! ([`JidMapping::identity_domain`](crate::JidMapping::identity_domain)) are refused with
//! `unsubscribed`.

use std::collections::HashMap;

use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::Store;
use jid::{BareJid, Jid};
use minidom::Element;
use sha1::Digest as _;
use xmpp_parsers::caps::Caps;
use xmpp_parsers::disco::{DiscoInfoResult, Identity as DiscoIdentity};
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use crate::iq::{FEATURES, IqService, NODE_AVATAR_DATA, NODE_AVATAR_METADATA, xml_name};
use crate::payload::{PepData, VCard};
use crate::subscriptions::Added;

const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const NS_PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_VCARD: &str = "vcard-temp";
const NS_VCARD_UPDATE: &str = "vcard-temp:x:update";
/// The entity-capabilities node naming this software (XEP-0115 4.1).
pub const CAPS_NODE: &str = "https://example.invalid/avatars#xmpp";

/// Mirroring settings: see [`ComponentConfig::mirror_subscribers`](crate::ComponentConfig::mirror_subscribers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct Mirroring {
    overwrite: bool,
}

impl Mirroring {
    /// Mirror subscribers' avatars, never over (or removing) one stored by another path.
    pub const fn new() -> Self {
        Self { overwrite: false }
    }

    /// Let a mirrored avatar replace one stored by another path, and an unsubscribe remove it.
    pub const fn overwrite_other_uploads(mut self, on: bool) -> Self {
        self.overwrite = on;
        self
    }
}

/// Where a user's mirrored avatar came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A XEP-0084 item, by its id.
    Pep(String),
    /// A vCard photo, by the SHA-1 of its bytes (what XEP-0153 presence announces).
    VCard(String),
}

/// What an IQ the mirror sent was asking. The number is the look it belongs to: answers to
/// a look older than the user's latest are ignored, so a slow answer about an old picture never
/// replaces a newer one.
#[derive(Debug, Clone)]
enum Asked {
    Follow(BareJid),
    Metadata(BareJid, u64),
    Data(BareJid, String, u64),
    VCard(BareJid, u64),
}

/// The mirror's side of one component session.
#[derive(Debug)]
pub(crate) struct Mirror {
    settings: Mirroring,
    own: BareJid,
    caps: Caps,
    caps_info: DiscoInfoResult,
    asked: HashMap<String, Asked>,
    counter: u64,
    /// Each user's latest look (see [`Asked`]).
    looks: HashMap<BareJid, u64>,
    mirrored: HashMap<BareJid, Source>,
    /// The last `vcard-temp:x:update` photo hash seen in each mirrored user's presence.
    photos: HashMap<BareJid, String>,
}

impl Mirror {
    pub(crate) fn new(settings: Mirroring, own: BareJid) -> Self {
        let mut features: std::collections::BTreeSet<String> =
            FEATURES.iter().map(|f| (*f).to_owned()).collect();
        features.insert(format!("{NODE_AVATAR_METADATA}+notify"));
        let mut caps_info = DiscoInfoResult {
            node: None,
            identities: vec![DiscoIdentity::new("component", "generic", "en", "Avatars")],
            features,
            extensions: Vec::new(),
        };
        let caps = Caps {
            ext: None,
            node: CAPS_NODE.to_owned(),
            hash: Algo::Sha_1,
            ver: sha1::Sha1::digest(verification_string(&caps_info)).to_vec(),
        };
        caps_info.node = Some(format!(
            "{CAPS_NODE}#{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &caps.ver)
        ));
        Self {
            settings,
            own,
            caps,
            caps_info,
            asked: HashMap::new(),
            counter: 0,
            looks: HashMap::new(),
            mirrored: HashMap::new(),
            photos: HashMap::new(),
        }
    }

    /// On connecting: presence with capabilities to every mirrored user, and a fresh look at
    /// their avatars (they may have changed while the component was away).
    pub(crate) fn on_connect<St: Store>(&mut self, service: &IqService<St>) -> Vec<Element> {
        let users = service.subscriptions().subscribers_of(&self.own);
        let mut out = Vec::new();
        for user in users {
            out.push(self.presence_to(&user));
            out.push(self.ask_metadata(&user));
        }
        out
    }

    /// Handles `element` when it is the mirror's business (presence to or from the component's
    /// own JID, a PEP notification to it, an answer to its IQs, a capabilities query); `None`
    /// lets the IQ service answer it.
    pub(crate) async fn handle<St: Store>(
        &mut self,
        service: &IqService<St>,
        element: &Element,
    ) -> Option<Vec<Element>> {
        let to = element.attr("to").and_then(|to| Jid::new(to).ok());
        let from = element.attr("from").and_then(|from| Jid::new(from).ok());
        let (to, from) = (to?, from?);
        if to.node().is_some() || to.domain() != self.own.domain() {
            return None;
        }
        let user = from.to_bare();
        match element.name() {
            "presence" => Some(self.presence(service, &user, element).await),
            "message" => Some(self.notification(service, &user, element).await),
            "iq" => self.iq(service, &user, element).await,
            _ => None,
        }
    }

    async fn presence<St: Store>(
        &mut self,
        service: &IqService<St>,
        user: &BareJid,
        element: &Element,
    ) -> Vec<Element> {
        let subscribed = self.is_mirrored(service, user);
        match element.attr("type") {
            Some("subscribe") => {
                if !service.mapping().lists(user.domain().as_str()) || user.node().is_none() {
                    tracing::info!(%user, "refused a mirror subscription: not a user of a listed identity domain");
                    return vec![self.presence_typed(user, PresenceType::Unsubscribed)];
                }
                let new = match service.subscriptions().add(&self.own, user).await {
                    Ok(Added::New) => true,
                    Ok(Added::Known) => false,
                    Ok(Added::OverLimit) => {
                        tracing::warn!(%user, "refused a mirror subscription: over the subscription limits");
                        return vec![self.presence_typed(user, PresenceType::Unsubscribed)];
                    }
                    Err(err) => {
                        tracing::error!(%user, error = %err, "cannot save a mirror subscription");
                        false
                    }
                };
                let mut out = vec![self.presence_typed(user, PresenceType::Subscribed)];
                if new {
                    tracing::info!(%user, "mirroring this user's avatar");
                    // Asked once: a client that subscribes back on every request would
                    // otherwise go on forever.
                    out.push(self.presence_typed(user, PresenceType::Subscribe));
                }
                out.push(self.presence_to(user));
                out.push(self.ask_metadata(user));
                out
            }
            Some("subscribed") if subscribed => {
                vec![
                    self.presence_to(user),
                    self.follow(user),
                    self.ask_metadata(user),
                ]
            }
            Some("unsubscribe" | "unsubscribed") => {
                if !subscribed {
                    return Vec::new();
                }
                if let Err(err) = service.subscriptions().remove(&self.own, user).await {
                    tracing::error!(%user, error = %err, "cannot save an unsubscription");
                }
                // Answers still on their way are stale.
                self.looks.remove(user);
                self.mirrored.remove(user);
                self.photos.remove(user);
                self.unmirror(service, user).await;
                vec![
                    self.presence_typed(user, PresenceType::Unsubscribe),
                    self.presence_typed(user, PresenceType::Unsubscribed),
                ]
            }
            Some("probe") if subscribed => vec![self.presence_to(user)],
            None if subscribed => {
                // A new photo hash is a sign of change, whichever way the avatar was set (a
                // vCard; or PEP on servers that convert it to a vCard and update presence,
                // XEP-0398, as ejabberd's mod_avatar does): look again, PEP first.
                let photo = element
                    .get_child("x", NS_VCARD_UPDATE)
                    .and_then(|x| x.get_child("photo", NS_VCARD_UPDATE))
                    .map(|photo| photo.text().to_ascii_lowercase())
                    .filter(|hash| !hash.is_empty());
                match photo {
                    Some(hash) if self.photos.get(user) != Some(&hash) => {
                        self.photos.insert(user.clone(), hash);
                        vec![self.ask_metadata(user)]
                    }
                    // ejabberd sends presence when a PEP publish has become a vCard; under
                    // load that presence went out before the vCard was stored, with the old
                    // hash. The PEP item was stored before it: one IQ finds out.
                    _ if matches!(self.mirrored.get(user), Some(Source::Pep(_))) => {
                        vec![self.ask_metadata(user)]
                    }
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    /// Whether `user` subscribed to the component's own JID (and so is mirrored).
    fn is_mirrored<St: Store>(&self, service: &IqService<St>, user: &BareJid) -> bool {
        service
            .subscriptions()
            .subscribers_of(&self.own)
            .contains(user)
    }

    /// A XEP-0084 metadata notification from a mirrored user's PEP.
    async fn notification<St: Store>(
        &mut self,
        service: &IqService<St>,
        user: &BareJid,
        element: &Element,
    ) -> Vec<Element> {
        if !self.is_mirrored(service, user) {
            return Vec::new();
        }
        let Some(items) = element
            .get_child("event", NS_PUBSUB_EVENT)
            .and_then(|event| event.get_child("items", NS_PUBSUB_EVENT))
            .filter(|items| items.attr("node") == Some(NODE_AVATAR_METADATA))
        else {
            return Vec::new();
        };
        let Some(metadata) = items
            .children()
            .filter(|item| item.name() == "item")
            .last()
            .and_then(|item| item.get_child("metadata", NODE_AVATAR_METADATA))
        else {
            return Vec::new();
        };
        match metadata_id(metadata) {
            Some(id) if self.mirrored.get(user) == Some(&Source::Pep(id.clone())) => Vec::new(),
            Some(id) => {
                let look = self.new_look(user);
                vec![self.ask_data(user, &id, look)]
            }
            None => {
                // XEP-0084 4.5: publishing stopped. Answers still on their way are stale.
                self.new_look(user);
                if matches!(self.mirrored.get(user), Some(Source::Pep(_))) {
                    self.mirrored.remove(user);
                    self.unmirror(service, user).await;
                }
                Vec::new()
            }
        }
    }

    async fn iq<St: Store>(
        &mut self,
        service: &IqService<St>,
        user: &BareJid,
        element: &Element,
    ) -> Option<Vec<Element>> {
        let id = element.attr("id")?;
        match element.attr("type") {
            Some("get") => {
                let query = element.get_child("query", NS_DISCO_INFO)?;
                if query.attr("node") != self.caps_info.node.as_deref() {
                    return None;
                }
                let answer = Element::builder("iq", "jabber:component:accept")
                    .attr(xml_name("type"), "result")
                    .attr(xml_name("id"), id)
                    .attr(xml_name("from"), self.own.as_str())
                    .attr(xml_name("to"), element.attr("from").unwrap_or_default())
                    .append(Element::from(self.caps_info.clone()))
                    .build();
                Some(vec![answer])
            }
            Some(kind @ ("result" | "error")) => {
                let asked = self.asked.remove(id)?;
                let ok = kind == "result";
                Some(
                    self.answered(service, user, asked, ok.then_some(element))
                        .await,
                )
            }
            _ => None,
        }
    }

    /// What to do with the answer to one of the mirror's IQs (`None` for an error).
    async fn answered<St: Store>(
        &mut self,
        service: &IqService<St>,
        user: &BareJid,
        asked: Asked,
        answer: Option<&Element>,
    ) -> Vec<Element> {
        let look = match &asked {
            Asked::Follow(_) => None,
            Asked::Metadata(_, look) | Asked::Data(_, _, look) | Asked::VCard(_, look) => {
                Some(*look)
            }
        };
        if look.is_some() && look != self.looks.get(user).copied() {
            return Vec::new();
        }
        match asked {
            Asked::Follow(asked_of) => {
                if answer.is_none() {
                    tracing::info!(user = %asked_of, "the PEP service refused an explicit subscription; following through +notify only");
                }
                Vec::new()
            }
            Asked::Metadata(asked_of, look) if &asked_of == user => {
                let id = answer
                    .and_then(|iq| pubsub_item(iq, NODE_AVATAR_METADATA))
                    .and_then(|item| item.get_child("metadata", NODE_AVATAR_METADATA))
                    .and_then(metadata_id);
                match id {
                    Some(id) if self.mirrored.get(user) == Some(&Source::Pep(id.clone())) => {
                        Vec::new()
                    }
                    Some(id) => vec![self.ask_data(user, &id, look)],
                    None => vec![self.ask_vcard(user, look)],
                }
            }
            Asked::Data(asked_of, id, _) if &asked_of == user => {
                let data = answer
                    .and_then(|iq| pubsub_item(iq, NODE_AVATAR_DATA))
                    .and_then(|item| item.get_child("data", NODE_AVATAR_DATA))
                    .and_then(|data| PepData::try_from(data.clone()).ok());
                if let Some(data) = data {
                    self.mirror(service, user, data.data, Source::Pep(id)).await;
                } else {
                    tracing::warn!(%user, "the PEP avatar data could not be fetched");
                }
                Vec::new()
            }
            Asked::VCard(asked_of, _) if &asked_of == user => {
                let photo = answer
                    .and_then(|iq| iq.get_child("vCard", NS_VCARD))
                    .and_then(|vcard| VCard::try_from(vcard.clone()).ok())
                    .and_then(|vcard| vcard.photo)
                    .map(|photo| photo.binval.data);
                if let Some(bytes) = photo {
                    let sha1 = avatar_proto::hex::encode_lower(&sha1::Sha1::digest(&bytes));
                    self.mirror(service, user, bytes, Source::VCard(sha1)).await;
                }
                Vec::new()
            }
            // An answer from someone other than who was asked: ignored.
            _ => Vec::new(),
        }
    }

    /// Stores `bytes` as `user`'s avatar, unless another path stored one there first.
    async fn mirror<St: Store>(
        &mut self,
        service: &IqService<St>,
        user: &BareJid,
        bytes: Vec<u8>,
        source: Source,
    ) {
        let Some(identity) = identity_of(user) else {
            return;
        };
        if !self.ours_to_write(service, &identity).await {
            tracing::info!(%identity, "not mirroring over an avatar stored another way (overwrite_other_uploads, `avatars xmpp --mirror-overwrites`, allows it)");
            return;
        }
        match service.store_image(&identity, bytes).await {
            Ok(content) => {
                if let Err(err) = service
                    .subscriptions()
                    .set_mirror(identity.as_str(), content)
                    .await
                {
                    tracing::error!(%identity, error = %err, "cannot mark the avatar as mirrored");
                }
                tracing::info!(%identity, ?source, "mirrored");
                self.mirrored.insert(user.clone(), source);
            }
            Err(refusal) => tracing::warn!(%identity, %refusal, "cannot mirror this avatar"),
        }
    }

    /// Removes `user`'s mirrored avatar, if the store still holds what the mirror wrote.
    async fn unmirror<St: Store>(&self, service: &IqService<St>, user: &BareJid) {
        let Some(identity) = identity_of(user) else {
            return;
        };
        let was_mirrored = service
            .subscriptions()
            .mirror_of(identity.as_str())
            .is_some();
        if was_mirrored && self.ours_to_write(service, &identity).await {
            match service.store().remove(&identity).await {
                Ok(_) => tracing::info!(%identity, "removed the mirrored avatar"),
                Err(err) => {
                    tracing::warn!(%identity, error = %err, "cannot remove the mirrored avatar");
                }
            }
        }
        if let Err(err) = service
            .subscriptions()
            .clear_mirror(identity.as_str())
            .await
        {
            tracing::error!(%identity, error = %err, "cannot unmark the mirrored avatar");
        }
    }

    /// Whether the mirror may write or remove `identity`'s avatar: there is none, it is the
    /// one the mirror stored, or the operator allows overwriting.
    async fn ours_to_write<St: Store>(&self, service: &IqService<St>, identity: &Identity) -> bool {
        if self.settings.overwrite {
            return true;
        }
        match service
            .store()
            .get(&identity.hash(HashAlgorithm::Sha256))
            .await
        {
            Ok(None) => true,
            Ok(Some(stored)) => {
                service.subscriptions().mirror_of(identity.as_str()) == Some(stored.content)
            }
            Err(err) => {
                tracing::warn!(%identity, error = %err, "cannot read the store");
                false
            }
        }
    }

    /// An explicit XEP-0060 subscription to `user`'s metadata node: servers that send PEP
    /// notifications to a component only on request (ejabberd) need it; with those that also
    /// honour `+notify` (Prosody) a change may be notified twice, and the second is a no-op.
    fn follow(&mut self, user: &BareJid) -> Element {
        let subscribe = Element::builder("pubsub", NS_PUBSUB)
            .append(
                Element::builder("subscribe", NS_PUBSUB)
                    .attr(xml_name("node"), NODE_AVATAR_METADATA)
                    .attr(xml_name("jid"), self.own.as_str())
                    .build(),
            )
            .build();
        self.send_iq("set", Asked::Follow(user.clone()), user, subscribe)
    }

    /// A new look at `user`'s avatar; answers to earlier ones are ignored from now on.
    fn new_look(&mut self, user: &BareJid) -> u64 {
        self.counter += 1;
        self.looks.insert(user.clone(), self.counter);
        self.counter
    }

    /// A new look, starting with the PEP metadata.
    fn ask_metadata(&mut self, user: &BareJid) -> Element {
        let look = self.new_look(user);
        let query = pubsub_items(NODE_AVATAR_METADATA, None);
        self.ask(Asked::Metadata(user.clone(), look), user, query)
    }

    fn ask_data(&mut self, user: &BareJid, id: &str, look: u64) -> Element {
        let query = pubsub_items(NODE_AVATAR_DATA, Some(id));
        self.ask(Asked::Data(user.clone(), id.to_owned(), look), user, query)
    }

    fn ask_vcard(&mut self, user: &BareJid, look: u64) -> Element {
        let query = Element::builder("vCard", NS_VCARD).build();
        self.ask(Asked::VCard(user.clone(), look), user, query)
    }

    /// An IQ get to `user`'s bare JID, remembered until answered.
    fn ask(&mut self, asked: Asked, user: &BareJid, payload: Element) -> Element {
        self.send_iq("get", asked, user, payload)
    }

    /// An IQ of type `kind` to `user`'s bare JID, remembered until answered.
    fn send_iq(&mut self, kind: &str, asked: Asked, user: &BareJid, payload: Element) -> Element {
        self.counter += 1;
        let id = format!("mirror-{}", self.counter);
        self.asked.insert(id.clone(), asked);
        Element::builder("iq", "jabber:component:accept")
            .attr(xml_name("type"), kind)
            .attr(xml_name("id"), id)
            .attr(xml_name("from"), self.own.as_str())
            .attr(xml_name("to"), user.as_str())
            .append(payload)
            .build()
    }

    /// Available presence with the component's capabilities.
    fn presence_to(&self, user: &BareJid) -> Element {
        Presence::available()
            .with_from(self.own.clone())
            .with_to(user.clone())
            .with_payloads(vec![self.caps.clone().into()])
            .into()
    }

    fn presence_typed(&self, user: &BareJid, kind: PresenceType) -> Element {
        Presence::new(kind)
            .with_from(self.own.clone())
            .with_to(user.clone())
            .into()
    }
}

/// XEP-0115 5.1's verification string of a disco#info answer without extensions: each identity
/// as `category/type/lang/name<` and each feature followed by `<`, identities and features
/// each sorted by their own text.
///
/// Written here because `xmpp_parsers::caps::compute_disco` (0.23) sorts features with their
/// `<` appended, which puts `urn:xmpp:avatar:metadata+notify` before `urn:xmpp:avatar:metadata`
/// (`+` sorts before `<`) and `vcard-temp:x:update` before `vcard-temp`: servers that check
/// the hash (ejabberd) then reject the capabilities and never send notifications.
fn verification_string(info: &DiscoInfoResult) -> String {
    let mut identities: Vec<String> = info
        .identities
        .iter()
        .map(|identity| {
            format!(
                "{}/{}/{}/{}",
                identity.category,
                identity.type_,
                identity.lang.as_deref().unwrap_or_default(),
                identity.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    identities.sort();
    let features: Vec<&String> = info.features.iter().collect(); // a BTreeSet: sorted
    let mut text = String::new();
    for item in identities.iter().chain(features) {
        text.push_str(item);
        text.push('<');
    }
    text
}

/// The identity a mirrored user's avatar is stored under: the bare JID as an email address.
fn identity_of(user: &BareJid) -> Option<Identity> {
    match Identity::parse(user.as_str()) {
        Ok(identity @ Identity::Email(_)) => Some(identity),
        _ => None,
    }
}

/// `<pubsub><items node=NODE [max_items=1]><item id=ID/>?</items></pubsub>`.
fn pubsub_items(node: &str, id: Option<&str>) -> Element {
    let mut items = Element::builder("items", NS_PUBSUB).attr(xml_name("node"), node);
    match id {
        Some(id) => {
            items = items.append(
                Element::builder("item", NS_PUBSUB)
                    .attr(xml_name("id"), id)
                    .build(),
            );
        }
        None => items = items.attr(xml_name("max_items"), "1"),
    }
    Element::builder("pubsub", NS_PUBSUB).append(items).build()
}

/// The last item of `node` in a pubsub items result.
fn pubsub_item<'a>(iq: &'a Element, node: &str) -> Option<&'a Element> {
    iq.get_child("pubsub", NS_PUBSUB)?
        .get_child("items", NS_PUBSUB)
        .filter(|items| items.attr("node") == Some(node))?
        .children()
        .filter(|item| item.name() == "item")
        .last()
}

/// The id of the first `<info>` of a XEP-0084 `<metadata>`: the SHA-1 of the image, and the id
/// of its data item. `None` for an empty metadata (publishing stopped).
fn metadata_id(metadata: &Element) -> Option<String> {
    metadata
        .children()
        .find(|info| info.name() == "info" && info.attr("url").is_none())
        .and_then(|info| info.attr("id"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use avatar_store::MemoryStore;
    use bytes::Bytes;

    use super::*;
    use crate::{IqConfig, JidMapping, Subscriptions};

    const OWN: &str = "avatars.example.org";

    fn service() -> IqService<MemoryStore> {
        IqService::new(
            MemoryStore::new(),
            IqConfig::new(JidMapping::new(OWN).identity_domain("example.org"))
                .subscriptions(Arc::new(Subscriptions::in_memory())),
        )
    }

    fn png(rgb: [u8; 3]) -> Vec<u8> {
        test_support::images::png(&test_support::images::solid(48, 48, rgb))
    }

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn presence(kind: &str, from: &str) -> Element {
        parse(&format!(
            "<presence xmlns='jabber:component:accept' type='{kind}' from='{from}' to='{OWN}'/>"
        ))
    }

    /// The id of the IQ among `sent` that asks for `node`.
    fn asked<'a>(sent: &'a [Element], node: &str) -> &'a str {
        sent.iter()
            .find(|stanza| {
                let text = String::from(*stanza);
                stanza.name() == "iq"
                    && (text.contains(&format!("node='{node}'"))
                        || text.contains(&format!("node=\"{node}\"")))
            })
            .and_then(|iq| iq.attr("id"))
            .unwrap_or_else(|| panic!("no IQ for {node} in {sent:?}"))
    }

    fn metadata_result(id: &str, from: &str, sha1: &str) -> Element {
        parse(&format!(
            "<iq xmlns='jabber:component:accept' type='result' id='{id}' from='{from}' to='{OWN}'>\
             <pubsub xmlns='{NS_PUBSUB}'><items node='{NODE_AVATAR_METADATA}'><item id='{sha1}'>\
             <metadata xmlns='{NODE_AVATAR_METADATA}'><info bytes='1' id='{sha1}' type='image/png'/></metadata>\
             </item></items></pubsub></iq>"
        ))
    }

    fn data_result(id: &str, from: &str, sha1: &str, bytes: &[u8]) -> Element {
        let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
        parse(&format!(
            "<iq xmlns='jabber:component:accept' type='result' id='{id}' from='{from}' to='{OWN}'>\
             <pubsub xmlns='{NS_PUBSUB}'><items node='{NODE_AVATAR_DATA}'><item id='{sha1}'>\
             <data xmlns='{NODE_AVATAR_DATA}'>{data}</data></item></items></pubsub></iq>"
        ))
    }

    fn event(from: &str, sha1: &str) -> Element {
        parse(&format!(
            "<message xmlns='jabber:component:accept' type='headline' from='{from}' to='{OWN}'>\
             <event xmlns='{NS_PUBSUB_EVENT}'><items node='{NODE_AVATAR_METADATA}'><item id='{sha1}'>\
             <metadata xmlns='{NODE_AVATAR_METADATA}'><info bytes='1' id='{sha1}' type='image/png'/></metadata>\
             </item></items></event></message>"
        ))
    }

    /// Bob subscribes and publishes `picture` over PEP as item `sha1`; returns what the store
    /// holds for him afterwards.
    async fn subscribe_and_publish(
        mirror: &mut Mirror,
        service: &IqService<MemoryStore>,
        picture: &[u8],
        sha1: &str,
    ) -> Option<[u8; 32]> {
        let bob = "bob@example.org";
        let sent = mirror
            .handle(service, &presence("subscribe", &format!("{bob}/phone")))
            .await
            .unwrap();
        let metadata = asked(&sent, NODE_AVATAR_METADATA).to_owned();
        let sent = mirror
            .handle(service, &metadata_result(&metadata, bob, sha1))
            .await
            .unwrap();
        let data = asked(&sent, NODE_AVATAR_DATA).to_owned();
        mirror
            .handle(service, &data_result(&data, bob, sha1, picture))
            .await
            .unwrap();
        stored(service, bob).await
    }

    async fn stored(service: &IqService<MemoryStore>, address: &str) -> Option<[u8; 32]> {
        let identity = Identity::parse(address).unwrap();
        service
            .store()
            .get(&identity.hash(HashAlgorithm::Md5))
            .await
            .unwrap()
            .map(|image| image.content)
    }

    #[tokio::test]
    async fn a_slow_answer_about_an_older_picture_never_replaces_a_newer_one() {
        let service = service();
        let mut mirror = Mirror::new(Mirroring::new(), OWN.parse().unwrap());
        let bob = "bob@example.org";
        let sent = mirror
            .handle(&service, &presence("subscribe", bob))
            .await
            .unwrap();
        let old_look = asked(&sent, NODE_AVATAR_METADATA).to_owned();
        // Before the metadata answer, a notification of a new picture arrives and is fetched.
        let sent = mirror.handle(&service, &event(bob, "bb")).await.unwrap();
        let new_data = asked(&sent, NODE_AVATAR_DATA).to_owned();
        mirror
            .handle(
                &service,
                &data_result(&new_data, bob, "bb", &png([0, 0, 200])),
            )
            .await
            .unwrap();
        let newer = stored(&service, bob).await.unwrap();
        // The old look's answer, naming the old picture, asks for nothing more.
        let sent = mirror
            .handle(&service, &metadata_result(&old_look, bob, "aa"))
            .await
            .unwrap();
        assert!(sent.is_empty(), "{sent:?}");
        assert_eq!(stored(&service, bob).await, Some(newer));
    }

    /// Presence announcing `photo` from a subscribed user (XEP-0153).
    fn presence_with_photo(from: &str, photo: &str) -> Element {
        parse(&format!(
            "<presence xmlns='jabber:component:accept' from='{from}' to='{OWN}'>\
             <x xmlns='{NS_VCARD_UPDATE}'><photo>{photo}</photo></x></presence>"
        ))
    }

    /// ejabberd under load: after a PEP publish, presence went out with the old photo hash
    /// (the vCard it converts the item into was not stored yet). Any available presence of a
    /// user mirrored from PEP makes the mirror look at the PEP metadata again.
    #[tokio::test]
    async fn presence_with_the_old_photo_still_looks_at_pep_again() {
        let service = service();
        let mut mirror = Mirror::new(Mirroring::new(), OWN.parse().unwrap());
        let bob = "bob@example.org";
        subscribe_and_publish(&mut mirror, &service, &png([200, 0, 0]), "aa")
            .await
            .expect("mirrored");
        let old = stored(&service, bob).await;
        for presence in [
            presence_with_photo(&format!("{bob}/phone"), "aa"),
            presence_with_photo(&format!("{bob}/phone"), "aa"),
            parse(&format!(
                "<presence xmlns='jabber:component:accept' from='{bob}/laptop' to='{OWN}'/>"
            )),
        ] {
            let sent = mirror.handle(&service, &presence).await.unwrap();
            let look = asked(&sent, NODE_AVATAR_METADATA).to_owned();
            let sent = mirror
                .handle(&service, &metadata_result(&look, bob, "aa"))
                .await
                .unwrap();
            assert!(sent.is_empty(), "unchanged: {sent:?}");
        }
        let sent = mirror
            .handle(&service, &presence_with_photo(bob, "aa"))
            .await
            .unwrap();
        let look = asked(&sent, NODE_AVATAR_METADATA).to_owned();
        let sent = mirror
            .handle(&service, &metadata_result(&look, bob, "bb"))
            .await
            .unwrap();
        let data = asked(&sent, NODE_AVATAR_DATA).to_owned();
        mirror
            .handle(&service, &data_result(&data, bob, "bb", &png([0, 0, 200])))
            .await
            .unwrap();
        assert_ne!(
            stored(&service, bob).await,
            old,
            "the new picture is mirrored"
        );
    }

    #[tokio::test]
    async fn users_of_unlisted_domains_are_refused() {
        let service = service();
        let mut mirror = Mirror::new(Mirroring::new(), OWN.parse().unwrap());
        for from in ["eve@elsewhere.org/laptop", "example.org"] {
            let sent = mirror
                .handle(&service, &presence("subscribe", from))
                .await
                .unwrap();
            assert_eq!(sent.len(), 1, "{from}");
            assert_eq!(sent[0].attr("type"), Some("unsubscribed"));
        }
        assert!(service.subscriptions().contacts().is_empty());
    }

    #[tokio::test]
    async fn a_pep_avatar_is_mirrored_followed_and_removed_on_unsubscribe() {
        let service = service();
        let mut mirror = Mirror::new(Mirroring::new(), OWN.parse().unwrap());
        let first = subscribe_and_publish(&mut mirror, &service, &png([200, 0, 0]), "aa")
            .await
            .expect("mirrored");
        assert_eq!(
            service.subscriptions().mirror_of("bob@example.org"),
            Some(first)
        );

        // A notification of a new item fetches it; the same item again asks for nothing.
        let sent = mirror
            .handle(&service, &event("bob@example.org", "bb"))
            .await
            .unwrap();
        let data = asked(&sent, NODE_AVATAR_DATA).to_owned();
        mirror
            .handle(
                &service,
                &data_result(&data, "bob@example.org", "bb", &png([0, 0, 200])),
            )
            .await
            .unwrap();
        let second = stored(&service, "bob@example.org").await.unwrap();
        assert_ne!(first, second);
        let again = mirror
            .handle(&service, &event("bob@example.org", "bb"))
            .await
            .unwrap();
        assert!(again.is_empty(), "{again:?}");

        let sent = mirror
            .handle(&service, &presence("unsubscribe", "bob@example.org"))
            .await
            .unwrap();
        assert!(!sent.is_empty());
        assert_eq!(stored(&service, "bob@example.org").await, None);
        assert_eq!(service.subscriptions().mirror_of("bob@example.org"), None);
    }

    #[tokio::test]
    async fn an_avatar_stored_another_way_is_kept_unless_the_operator_says_so() {
        for overwrite in [false, true] {
            let service = service();
            let bob = Identity::parse("bob@example.org").unwrap();
            let uploaded = Bytes::from(png([0, 200, 0]));
            service.store().put(&bob, uploaded.clone()).await.unwrap();
            let own_upload = avatar_store::StoredImage::new(uploaded).content;
            let settings = Mirroring::new().overwrite_other_uploads(overwrite);
            let mut mirror = Mirror::new(settings, OWN.parse().unwrap());
            let after = subscribe_and_publish(&mut mirror, &service, &png([200, 0, 0]), "aa")
                .await
                .unwrap();
            assert_eq!(after == own_upload, !overwrite, "overwrite {overwrite}");
            mirror
                .handle(&service, &presence("unsubscribed", "bob@example.org"))
                .await
                .unwrap();
            let left = stored(&service, "bob@example.org").await;
            if overwrite {
                assert_eq!(left, None, "the mirror was removed");
            } else {
                assert_eq!(left, Some(own_upload), "the upload is left alone");
            }
        }
    }

    #[test]
    fn the_verification_string_matches_xep_0115s_example() {
        // XEP-0115 5.2, "Simple Generation Example".
        let info = DiscoInfoResult {
            node: None,
            identities: vec![DiscoIdentity::new("client", "pc", "", "Exodus 0.9.1")],
            features: [
                "http://jabber.org/protocol/caps",
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/muc",
            ]
            .map(str::to_owned)
            .into(),
            extensions: Vec::new(),
        };
        let digest = sha1::Sha1::digest(verification_string(&info));
        assert_eq!(
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest),
            "QgayPKawpkPSDYmwT/WM94uAlu0="
        );
    }

    #[test]
    fn capabilities_hash_as_xep_0115_computes_it() {
        let mirror = Mirror::new(Mirroring::new(), "avatars.example.org".parse().unwrap());
        // Computed by hand with XEP-0115 5.1: "component/generic/en/Avatars<" and the sorted
        // features, each followed by "<", through SHA-1 and base64.
        assert_eq!(
            mirror.caps_info.node.as_deref(),
            Some("https://example.invalid/avatars#xmpp#ZRZ8XJzfZ07CWm1Vv1RSMdsL+e4=")
        );
    }
}
