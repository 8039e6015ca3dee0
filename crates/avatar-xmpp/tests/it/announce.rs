//! Subscriptions and announcements in-process: a subscribe is remembered on disk, and a change
//! made by another process on the same folder store (a second `FsStore`, as `avatars import`
//! would be) is announced to every subscriber with the new hashes; a removal with the "no
//! avatar" forms; an unsubscribe stops it.

use std::sync::Arc;
use std::time::Duration;

use avatar_proto::Identity;
use avatar_store::{FsStore, Store as _};
use avatar_xmpp::component::replies;
use avatar_xmpp::{Announcer, IqConfig, IqService, JidMapping, Subscriptions};
use bytes::Bytes;
use minidom::Element;
use sha1::Digest as _;
use test_support::images;
use xmpp_parsers::stanza::Stanza;

const ALICE_JID: &str = "alice@avatars.example.org";

fn png(rgb: [u8; 3]) -> Bytes {
    Bytes::from(images::png(&images::checkers(64, 64, rgb)))
}

fn presence(xml: &str) -> Stanza {
    let element: Element = format!("<presence xmlns='jabber:component:accept' {xml}/>")
        .parse()
        .unwrap();
    Stanza::try_from(element).unwrap()
}

/// What `stanzas` say, one line each: `presence TO HASH` (the XEP-0008 hash, checked equal to
/// the XEP-0153 one, `-` for none) or `event TO ID` (the metadata item's id).
fn summary(stanzas: Vec<Stanza>) -> Vec<String> {
    stanzas
        .into_iter()
        .map(|stanza| {
            let element = Element::from(stanza);
            let to = element.attr("to").unwrap_or("?").to_owned();
            match element.name() {
                "presence" => {
                    let x = element.get_child("x", "jabber:x:avatar").unwrap();
                    let hash = x.get_child("hash", "jabber:x:avatar").map(Element::text);
                    let photo = element
                        .get_child("x", "vcard-temp:x:update")
                        .unwrap()
                        .get_child("photo", "vcard-temp:x:update")
                        .unwrap()
                        .text();
                    assert_eq!(
                        hash.clone().unwrap_or_default(),
                        photo,
                        "{}",
                        String::from(&element)
                    );
                    format!("presence {to} {}", hash.unwrap_or_else(|| "-".to_owned()))
                }
                "message" => {
                    assert_eq!(element.attr("type"), Some("headline"));
                    let item = element
                        .get_child("event", "http://jabber.org/protocol/pubsub#event")
                        .and_then(|event| event.children().next())
                        .and_then(|items| items.children().next())
                        .unwrap();
                    format!("event {to} {}", item.attr("id").unwrap())
                }
                other => panic!("unexpected <{other}>"),
            }
        })
        .collect()
}

async fn sha1_of_rendition(service: &IqService<FsStore>, identity: &Identity) -> String {
    let rendition = service.rendition(identity).await.unwrap().unwrap();
    assert_eq!(
        <[u8; 20]>::from(sha1::Sha1::digest(&rendition.rendered.bytes)),
        rendition.sha1
    );
    avatar_proto::hex::encode_lower(&rendition.sha1)
}

#[tokio::test]
async fn a_change_by_another_process_is_announced_to_every_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Identity::parse("alice@example.org").unwrap();
    let other_process = FsStore::open(dir.path().join("store")).unwrap();
    other_process.put(&alice, png([200, 0, 0])).await.unwrap();

    let file = dir.path().join("subscriptions");
    let open = || {
        let store = FsStore::open(dir.path().join("store"))
            .unwrap()
            .external_writes_check(Duration::ZERO);
        let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
        IqService::new(
            store,
            IqConfig::new(mapping).subscriptions(Arc::new(Subscriptions::open(&file).unwrap())),
        )
    };
    let service = open();
    for subscriber in ["bob@example.net/phone", "carol@example.com/laptop"] {
        let answers = replies(
            &service,
            presence(&format!(
                "type='subscribe' from='{subscriber}' to='{ALICE_JID}'"
            )),
        )
        .await;
        assert_eq!(answers.len(), 2, "subscribed, then the current presence");
    }
    let first = sha1_of_rendition(&service, &alice).await;

    let mut announcer = Announcer::new();
    assert_eq!(
        summary(announcer.everything(&service).await),
        [
            format!("presence bob@example.net {first}"),
            format!("event bob@example.net {first}"),
            format!("presence carol@example.com {first}"),
            format!("event carol@example.com {first}"),
        ]
    );
    assert!(
        announcer.changes(&service).await.is_empty(),
        "nothing changed"
    );

    // Another process replaces the avatar.
    other_process.put(&alice, png([0, 0, 200])).await.unwrap();
    let second = sha1_of_rendition(&service, &alice).await;
    assert_ne!(first, second);
    assert_eq!(
        summary(announcer.changes(&service).await),
        [
            format!("presence bob@example.net {second}"),
            format!("event bob@example.net {second}"),
            format!("presence carol@example.com {second}"),
            format!("event carol@example.com {second}"),
        ]
    );
    assert!(announcer.changes(&service).await.is_empty());

    // The same picture stored again is no change to announce.
    other_process.put(&alice, png([0, 0, 200])).await.unwrap();
    assert!(announcer.changes(&service).await.is_empty());

    // Carol unsubscribes; the subscriptions survive a restart.
    replies(
        &service,
        presence(&format!(
            "type='unsubscribe' from='carol@example.com/laptop' to='{ALICE_JID}'"
        )),
    )
    .await;
    let service = open();
    let mut announcer = Announcer::new();
    assert_eq!(
        summary(announcer.everything(&service).await),
        [
            format!("presence bob@example.net {second}"),
            format!("event bob@example.net {second}"),
        ]
    );

    // A removal is announced with the "no avatar" forms.
    assert!(other_process.remove(&alice).await.unwrap());
    assert_eq!(
        summary(announcer.changes(&service).await),
        [
            "presence bob@example.net -",
            "event bob@example.net current"
        ]
    );
}

#[tokio::test]
async fn subscriptions_to_jids_that_name_no_address_are_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("subscriptions");
    let service = IqService::new(
        avatar_store::MemoryStore::new(),
        IqConfig::new(JidMapping::new("avatars.example.org"))
            .subscriptions(Arc::new(Subscriptions::open(&file).unwrap())),
    );
    for to in ["nobody@elsewhere.org", "plain@avatars.example.org"] {
        let answers = replies(
            &service,
            presence(&format!(
                "type='subscribe' from='bob@example.net/phone' to='{to}'"
            )),
        )
        .await;
        assert!(answers.is_empty(), "{to}");
    }
    assert!(service.subscriptions().contacts().is_empty());
    assert!(!file.exists());
}
