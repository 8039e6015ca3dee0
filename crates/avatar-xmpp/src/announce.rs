//! Telling subscribers that an avatar changed: after any change of a stored avatar, by any path
//! (an XMPP upload, `avatars import`, the HTTP management API, another process on the same
//! store), every subscriber of its JID gets new presence with the XEP-0008 and XEP-0153 hashes,
//! and a XEP-0084 metadata event.
//!
//! Changes are found by looking, not by being told: [`Announcer::changes`] runs a few times a
//! second and re-reads only the avatars whose [`Store::generation`] moved (every subscribed one
//! for a store that cannot tell), so a write through any process is announced within a second of
//! the store noticing it. (PostgreSQL tells at once; a folder, within its
//! `external_writes_check`.)
//!
//! The event is a `headline` message carrying `<event xmlns='http://jabber.org/protocol/pubsub#event'>`,
//! sent to each subscriber's bare JID: the server hands a headline to every online resource and
//! drops it when none is online (RFC 6121 8.5.2.1.1), so it is never stored offline; a client
//! that does not do XEP-0084 ignores it. (A component has no PEP service whose `+notify`
//! filtering would pick the recipients, and cannot see its subscribers' capabilities without
//! subscribing to them.)

use std::collections::HashMap;

use avatar_proto::HashAlgorithm;
use avatar_store::Store;
use jid::{BareJid, Jid};
use minidom::Element;
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::stanza::Stanza;

use crate::iq::{IqService, NODE_AVATAR_METADATA, xml_name as name};
use crate::presence::available_with;

const NS_PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";

/// What was last announced for one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announced {
    /// The store's generation of the contact's hash when it was read (`None`: cannot tell).
    generation: Option<u64>,
    /// The SHA-1 of the XMPP rendition announced, `None` for no avatar.
    sha1: Option<[u8; 20]>,
}

/// Finds changed avatars among the subscribed contacts and builds what to send.
#[derive(Debug, Default)]
pub struct Announcer {
    announced: HashMap<BareJid, Announced>,
}

impl Announcer {
    /// Nothing announced yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Presence and an event for every subscriber of every contact, changed or not: what a
    /// component sends when it comes online, since the server does not do it for a component.
    pub async fn everything<St: Store>(&mut self, service: &IqService<St>) -> Vec<Stanza> {
        self.announce(service, true).await
    }

    /// Presence and an event for the subscribers of each contact whose avatar changed since it
    /// was last announced.
    pub async fn changes<St: Store>(&mut self, service: &IqService<St>) -> Vec<Stanza> {
        self.announce(service, false).await
    }

    async fn announce<St: Store>(&mut self, service: &IqService<St>, all: bool) -> Vec<Stanza> {
        let mut stanzas = Vec::new();
        let contacts = service.subscriptions().contacts();
        self.announced
            .retain(|contact, _| contacts.contains(contact));
        for contact in contacts {
            let Some(identity) = service.mapping().identity_of(&Jid::from(contact.clone())) else {
                continue;
            };
            // Taken before reading, so a change made while reading shows next time.
            let generation = service
                .store()
                .generation(&identity.hash(HashAlgorithm::Sha256));
            let before = self.announced.get(&contact).copied();
            if !all
                && generation.is_some()
                && before.is_some_and(|before| before.generation == generation)
            {
                continue;
            }
            let rendition = match service.rendition(&identity).await {
                Ok(rendition) => rendition,
                Err(refusal) => {
                    tracing::warn!(%identity, %refusal, "cannot read an avatar to announce; trying again");
                    continue;
                }
            };
            let sha1 = rendition.as_ref().map(|rendition| rendition.sha1);
            self.announced
                .insert(contact.clone(), Announced { generation, sha1 });
            // A contact seen for the first time was just subscribed to: its subscriber got
            // presence with the subscription, but the avatar may have changed since, so it is
            // announced once more (a repeated presence is harmless; a missed change is not).
            if !all && before.is_some_and(|before| before.sha1 == sha1) {
                continue;
            }
            // From the JID they subscribed to (an address has a plain and an escaped JID).
            let presence = available_with(Jid::from(contact.clone()), sha1);
            let event = metadata_event(rendition.as_ref());
            let subscribers = service.subscriptions().subscribers_of(&contact);
            if !all {
                tracing::info!(%identity, subscribers = subscribers.len(), "announcing a changed avatar");
            }
            for subscriber in subscribers {
                let to = Jid::from(subscriber);
                stanzas.push(Stanza::Presence(presence.clone().with_to(to.clone())));
                let mut message = Message::new(Some(to));
                message.payloads.push(event.clone());
                message.from = Some(Jid::from(contact.clone()));
                message.type_ = MessageType::Headline;
                stanzas.push(Stanza::Message(message));
            }
        }
        stanzas
    }
}

/// `<event><items node='urn:xmpp:avatar:metadata'><item id=SHA1><metadata><info .../></metadata>
/// </item></items></event>`, or with an empty `<metadata/>` (XEP-0084 4.5: publishing stopped)
/// when there is no avatar.
fn metadata_event(rendition: Option<&avatar_image::XmppRendition>) -> Element {
    let mut metadata = Element::builder("metadata", NODE_AVATAR_METADATA);
    let mut item = Element::builder("item", NS_PUBSUB_EVENT);
    if let Some(rendition) = rendition {
        let id = avatar_proto::hex::encode_lower(&rendition.sha1);
        metadata = metadata.append(crate::iq::metadata_info(rendition));
        item = item.attr(name("id"), id);
    } else {
        item = item.attr(name("id"), "current");
    }
    Element::builder("event", NS_PUBSUB_EVENT)
        .append(
            Element::builder("items", NS_PUBSUB_EVENT)
                .attr(name("node"), NODE_AVATAR_METADATA)
                .append(item.append(metadata)),
        )
        .build()
}
