//! Every row of the error table, and the retrievals and uploads, in-process.

use avatar_proto::Identity;
use avatar_store::{MemoryStore, Store as _};
use avatar_xmpp::payload::{NS_IQ_AVATAR, NS_STORAGE_AVATAR, VCard};
use avatar_xmpp::{AvatarQuery, IqConfig, IqService, JidMapping};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use minidom::Element;
use test_support::hostile::png_claiming;
use test_support::images;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    images::png(&images::solid(width, height, rgb))
}

async fn service(anti_harvesting: bool) -> IqService<MemoryStore> {
    let store = MemoryStore::new();
    store
        .put(
            &Identity::parse("alice@example.org").unwrap(),
            Bytes::from(png(300, 200, [200, 40, 40])),
        )
        .await
        .unwrap();
    let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
    IqService::new(
        store,
        IqConfig::new(mapping).anti_harvesting(anti_harvesting),
    )
}

fn iq(kind: &str, from: &str, to: &str, payload: &str) -> Iq {
    let xml = format!(
        "<iq xmlns='jabber:component:accept' type='{kind}' id='q1' from='{from}' to='{to}'>{payload}</iq>"
    );
    xml.parse::<Element>().unwrap().try_into().unwrap()
}

async fn refused<St: avatar_store::Store>(
    service: &IqService<St>,
    request: Iq,
) -> (ErrorType, DefinedCondition) {
    let (kind, condition, _) = refused_with_text(service, request).await;
    (kind, condition)
}

/// The error's type, condition and text.
async fn refused_with_text<St: avatar_store::Store>(
    service: &IqService<St>,
    request: Iq,
) -> (ErrorType, DefinedCondition, String) {
    match service.answer(request).await {
        Some(Iq::Error { error, id, .. }) => {
            assert_eq!(id, "q1");
            let text = error
                .texts
                .values()
                .next()
                .expect("errors explain themselves")
                .clone();
            (error.type_, error.defined_condition, text)
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Alice's stored avatar as XMPP serves it.
async fn alice_rendition(service: &IqService<MemoryStore>) -> avatar_image::XmppRendition {
    service
        .rendition(&Identity::parse("alice@example.org").unwrap())
        .await
        .unwrap()
        .expect("alice has an avatar")
}

/// A `storage:client:avatar` payload carrying `bytes` as a PNG.
fn storage(bytes: &[u8]) -> String {
    format!(
        "<query xmlns='storage:client:avatar'><data mimetype='image/png'>{}</data></query>",
        STANDARD.encode(bytes)
    )
}

async fn result_payload<St: avatar_store::Store>(
    service: &IqService<St>,
    request: Iq,
) -> Option<Element> {
    match service.answer(request).await {
        Some(Iq::Result {
            payload,
            from,
            to,
            id,
        }) => {
            assert_eq!(id, "q1");
            assert_eq!(from.unwrap().to_string(), "alice@avatars.example.org");
            assert_eq!(to.unwrap().to_string(), "alice@example.org/phone");
            payload
        }
        other => panic!("expected a result, got {other:?}"),
    }
}

const ALICE: &str = "alice@avatars.example.org";
const OWNER: &str = "alice@example.org/phone";

#[tokio::test]
async fn retrieval_in_every_namespace_gives_one_compliant_image() {
    let service = service(false).await;
    let expected = alice_rendition(&service).await;
    for namespace in [NS_IQ_AVATAR, NS_STORAGE_AVATAR] {
        let payload = result_payload(
            &service,
            iq(
                "get",
                OWNER,
                ALICE,
                &format!("<query xmlns='{namespace}'/>"),
            ),
        )
        .await
        .unwrap();
        let query = AvatarQuery::try_from(&payload).unwrap();
        let data = query.data.unwrap();
        assert_eq!(data.mimetype, "image/png");
        assert_eq!(data.bytes, expected.rendered.bytes.to_vec(), "{namespace}");
        assert!(data.bytes.len() < 8192);
        let decoded = image::load_from_memory(&data.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 64));
    }
    let payload = result_payload(
        &service,
        iq("get", OWNER, ALICE, "<vCard xmlns='vcard-temp'/>"),
    )
    .await
    .unwrap();
    let photo = VCard::try_from(payload).unwrap().photo.unwrap();
    assert_eq!(photo.type_.data, "image/png");
    assert_eq!(photo.binval.data, expected.rendered.bytes.to_vec());
}

#[tokio::test]
async fn known_subject_without_avatar_is_item_not_found() {
    let service = service(false).await;
    let request = iq(
        "get",
        OWNER,
        "carol@avatars.example.org",
        "<query xmlns='jabber:iq:avatar'/>",
    );
    assert_eq!(
        refused(&service, request).await,
        (ErrorType::Cancel, DefinedCondition::ItemNotFound)
    );
}

/// A store that cannot be read is `wait`/`internal-server-error` at every request (the
/// client may retry), and logged once, not at every request: the failures are the store's,
/// and a log line each would bury the one that says so.
#[tokio::test]
async fn an_unreadable_store_is_internal_server_error_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = avatar_store::FsStore::open(dir.path()).unwrap();
    let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
    let service = IqService::new(store, IqConfig::new(mapping));
    // The folder of SHA-256 pointers becomes a file: every lookup fails (ENOTDIR).
    let pointers = dir.path().join("hashes/sha256");
    std::fs::remove_dir(&pointers).unwrap();
    std::fs::write(&pointers, "not a folder").unwrap();
    let log = test_support::log::Captured::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    for _ in 0..20 {
        let request = iq("get", OWNER, ALICE, "<query xmlns='jabber:iq:avatar'/>");
        assert_eq!(
            refused(&service, request).await,
            (ErrorType::Wait, DefinedCondition::InternalServerError)
        );
    }
    let text = log.text();
    assert_eq!(
        text.matches("cannot read the stored avatar").count(),
        1,
        "the first failed read only, within 10 s:\n{text}"
    );
}

/// A stored picture damaged past reading is no avatar, logged once and not decoded again at
/// every request; a new picture stored for the same person is served.
#[tokio::test]
async fn a_damaged_stored_picture_is_no_avatar_logged_once_until_replaced() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let bob = Identity::parse("bob@example.org").unwrap();
    store
        .put(
            &bob,
            Bytes::from_static(b"\x89PNG\r\n\x1a\n and nothing of a PNG after"),
        )
        .await
        .unwrap();
    let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
    let service = IqService::new(std::sync::Arc::clone(&store), IqConfig::new(mapping));
    let log = test_support::log::Captured::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    for _ in 0..5 {
        assert!(service.rendition(&bob).await.unwrap().is_none());
    }
    let text = log.text();
    assert_eq!(
        text.matches("cannot render the stored avatar").count(),
        1,
        "logged once:\n{text}"
    );
    store
        .put(&bob, Bytes::from(png(90, 90, [10, 200, 10])))
        .await
        .unwrap();
    let rendition = service.rendition(&bob).await.unwrap();
    assert!(rendition.is_some(), "the new picture is served");
}

#[tokio::test]
async fn unknown_subject_is_service_unavailable_or_hidden_by_anti_harvesting() {
    for to in [
        "avatars.example.org",
        "alice@elsewhere.example",
        "bad\\40@avatars.example.org",
    ] {
        let request = iq("get", OWNER, to, "<query xmlns='jabber:iq:avatar'/>");
        assert_eq!(
            refused(&service(false).await, request).await,
            (ErrorType::Cancel, DefinedCondition::ServiceUnavailable),
            "{to}"
        );
        let request = iq("get", OWNER, to, "<query xmlns='jabber:iq:avatar'/>");
        assert_eq!(
            refused(&service(true).await, request).await,
            (ErrorType::Cancel, DefinedCondition::ItemNotFound),
            "{to}"
        );
    }
}

#[tokio::test]
async fn namespaces_not_understood_are_service_unavailable() {
    let service = service(false).await;
    for payload in [
        "<query xmlns='jabber:iq:version'/>",
        "<ping xmlns='urn:xmpp:ping'/>",
    ] {
        for kind in ["get", "set"] {
            assert_eq!(
                refused(&service, iq(kind, OWNER, ALICE, payload)).await,
                (ErrorType::Cancel, DefinedCondition::ServiceUnavailable),
                "{kind} {payload}"
            );
        }
    }
}

#[tokio::test]
async fn set_on_jabber_iq_avatar_is_not_implemented() {
    let service = service(false).await;
    let data = STANDARD.encode(png(40, 40, [1, 2, 3]));
    let request = iq(
        "set",
        OWNER,
        ALICE,
        &format!(
            "<query xmlns='jabber:iq:avatar'><data mimetype='image/png'>{data}</data></query>"
        ),
    );
    assert_eq!(
        refused(&service, request).await,
        (ErrorType::Cancel, DefinedCondition::FeatureNotImplemented)
    );
}

#[tokio::test]
async fn bad_base64_or_missing_data_is_bad_request() {
    let service = service(false).await;
    for payload in [
        "<query xmlns='storage:client:avatar'/>",
        "<query xmlns='storage:client:avatar'><data mimetype='image/png'>not*base64</data></query>",
        "<query xmlns='storage:client:avatar'><data>AAAA</data></query>",
        "<vCard xmlns='vcard-temp'/>",
    ] {
        assert_eq!(
            refused(&service, iq("set", OWNER, ALICE, payload)).await,
            (ErrorType::Modify, DefinedCondition::BadRequest),
            "{payload}"
        );
    }
}

#[tokio::test]
async fn non_images_and_oversized_images_are_not_acceptable_and_change_nothing() {
    let service = service(false).await;
    let before = alice_rendition(&service).await;
    for (bytes, says) in [
        (
            b"hello, not an image".to_vec(),
            "not a PNG, JPEG, GIF or WebP",
        ),
        (png_claiming(100_000, 100_000), "from 1 to 8192 pixels"),
    ] {
        let request = iq("set", OWNER, ALICE, &storage(&bytes));
        let (kind, condition, text) = refused_with_text(&service, request).await;
        assert_eq!(
            (kind, condition),
            (ErrorType::Modify, DefinedCondition::NotAcceptable)
        );
        assert!(text.contains(says), "the refusal names the rule: {text}");
    }
    let after = alice_rendition(&service).await;
    assert_eq!(before.sha1, after.sha1);

    // Too large for the configured limit.
    let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
    let limits = avatar_image::Limits {
        max_input_bytes: 1000,
        ..avatar_image::Limits::default()
    };
    let strict = IqService::new(MemoryStore::new(), IqConfig::new(mapping).limits(limits));
    let request = iq(
        "set",
        OWNER,
        ALICE,
        &storage(&png(300, 300, [9, 9, 9]).repeat(2)),
    );
    let (kind, condition, text) = refused_with_text(&strict, request).await;
    assert_eq!(
        (kind, condition),
        (ErrorType::Modify, DefinedCondition::NotAcceptable)
    );
    assert!(
        text.contains("at most 1000 bytes are accepted"),
        "the refusal names the limit: {text}"
    );
}

#[tokio::test]
async fn setting_someone_elses_avatar_is_forbidden() {
    let service = service(false).await;
    let payload = storage(&png(40, 40, [1, 2, 3]));
    for from in [
        "mallory@example.org/laptop",
        "alice@example.org.evil.example/x",
        "avatars.example.org",
    ] {
        assert_eq!(
            refused(&service, iq("set", from, ALICE, &payload)).await,
            (ErrorType::Auth, DefinedCondition::Forbidden),
            "{from}"
        );
    }
}

#[tokio::test]
async fn the_owner_uploads_through_storage_or_vcard_and_every_protocol_sees_it() {
    let service = service(false).await;
    let alice = Identity::parse("alice@example.org").unwrap();
    let before = service.rendition(&alice).await.unwrap().unwrap();

    let payload = storage(&png(50, 50, [10, 200, 90]));
    assert_eq!(
        result_payload(&service, iq("set", OWNER, ALICE, &payload)).await,
        None
    );
    let after = service.rendition(&alice).await.unwrap().unwrap();
    assert_ne!(before.sha1, after.sha1);

    let vcard_upload = png(70, 70, [250, 250, 0]);
    let payload = format!(
        "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>{}</BINVAL></PHOTO></vCard>",
        STANDARD.encode(&vcard_upload)
    );
    assert_eq!(
        result_payload(&service, iq("set", OWNER, ALICE, &payload)).await,
        None
    );
    let latest = service.rendition(&alice).await.unwrap().unwrap();
    assert_ne!(latest.sha1, after.sha1);
}

/// An upload through XMPP is stored as every upload is: over 512 px, as its master.
#[tokio::test]
async fn a_large_upload_is_stored_as_its_master() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
    let service = IqService::new(std::sync::Arc::clone(&store), IqConfig::new(mapping));
    let payload = storage(&png(1500, 1000, [10, 200, 90]));
    assert_eq!(
        result_payload(&service, iq("set", OWNER, ALICE, &payload)).await,
        None
    );
    let alice = Identity::parse("alice@example.org").unwrap();
    let stored = store
        .get(&alice.hash(avatar_proto::HashAlgorithm::Md5))
        .await
        .unwrap()
        .unwrap();
    let header = avatar_image::probe(&stored.bytes, &avatar_image::Limits::default()).unwrap();
    assert_eq!((header.width, header.height), (512, 512));
}

#[tokio::test]
async fn escaped_addresses_name_any_identity() {
    let service = service(false).await;
    let expected = alice_rendition(&service).await;
    let escaped = "alice\\40example.org@avatars.example.org";
    match service
        .answer(iq(
            "get",
            OWNER,
            escaped,
            "<query xmlns='jabber:iq:avatar'/>",
        ))
        .await
    {
        Some(Iq::Result { from, payload, .. }) => {
            assert_eq!(from.unwrap().to_string(), escaped);
            let data = AvatarQuery::try_from(&payload.unwrap())
                .unwrap()
                .data
                .unwrap();
            assert_eq!(data.bytes, expected.rendered.bytes.to_vec());
        }
        other => panic!("expected a result, got {other:?}"),
    }
}

#[tokio::test]
async fn results_and_errors_get_no_reply() {
    let service = service(false).await;
    assert!(
        service
            .answer(iq("result", OWNER, ALICE, ""))
            .await
            .is_none()
    );
    let error = "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>";
    assert!(
        service
            .answer(iq("error", OWNER, ALICE, error))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn presence_carries_one_sha1_in_both_protocols_then_the_disabled_forms() {
    use avatar_xmpp::XAvatar;
    use avatar_xmpp::payload::VCardUpdate;

    let service = service(false).await;
    let alice = Identity::parse("alice@example.org").unwrap();
    let rendition = service.rendition(&alice).await.unwrap().unwrap();
    let presence = service.presence_for(&alice).await.unwrap();
    assert_eq!(
        presence.from.unwrap().to_string(),
        "alice@avatars.example.org"
    );
    let x = presence
        .payloads
        .iter()
        .find(|p| p.is("x", "jabber:x:avatar"))
        .unwrap();
    let update = presence
        .payloads
        .iter()
        .find(|p| p.is("x", "vcard-temp:x:update"))
        .unwrap();
    assert_eq!(
        XAvatar::try_from(x).unwrap().hash.unwrap().0,
        rendition.sha1
    );
    assert_eq!(
        VCardUpdate::try_from(update.clone())
            .unwrap()
            .photo
            .unwrap()
            .data,
        Some(rendition.sha1)
    );

    // The IQ data's SHA-1 is the presence hash.
    let payload = result_payload(
        &service,
        iq("get", OWNER, ALICE, "<query xmlns='jabber:iq:avatar'/>"),
    )
    .await
    .unwrap();
    let data = AvatarQuery::try_from(&payload).unwrap().data.unwrap();
    let digest: [u8; 20] = <sha1::Sha1 as sha1::Digest>::digest(&data.bytes).into();
    assert_eq!(digest, rendition.sha1);

    // Someone without an avatar: the disabled forms.
    let carol = Identity::parse("carol@example.org").unwrap();
    let presence = service.presence_for(&carol).await.unwrap();
    assert_disabled(&presence);
    // Escaped when the address is not on the identity domain.
    let elsewhere = Identity::parse("bob@elsewhere.net").unwrap();
    assert_eq!(
        service
            .presence_for(&elsewhere)
            .await
            .unwrap()
            .from
            .unwrap()
            .to_string(),
        "bob\\40elsewhere.net@avatars.example.org"
    );
}

#[tokio::test]
async fn disco_info_lists_the_features_for_the_domain_and_its_jids() {
    use xmpp_parsers::disco::DiscoInfoResult;

    let service = service(false).await;
    for to in ["avatars.example.org", ALICE] {
        let Some(Iq::Result {
            payload: Some(payload),
            ..
        }) = service
            .answer(iq(
                "get",
                OWNER,
                to,
                "<query xmlns='http://jabber.org/protocol/disco#info'/>",
            ))
            .await
        else {
            panic!("expected a disco#info result for {to}");
        };
        let info = DiscoInfoResult::try_from(payload).unwrap();
        assert!(info.features.contains("jabber:iq:avatar"), "{to}");
        assert!(info.features.contains("vcard-temp"), "{to}");
        assert_eq!(info.identities[0].category, "component");
    }
}

#[tokio::test]
async fn xep_0084_data_and_metadata_carry_the_same_sha1_as_xep_0008() {
    use avatar_xmpp::payload::{PepData, PepMetadata};

    let service = service(false).await;
    let rendition = alice_rendition(&service).await;
    let hex = avatar_proto::hex::encode_lower(&rendition.sha1);
    let item = |payload: &Element| -> Element {
        let items = payload
            .get_child("items", "http://jabber.org/protocol/pubsub")
            .unwrap();
        let item = items
            .get_child("item", "http://jabber.org/protocol/pubsub")
            .unwrap();
        assert_eq!(item.attr("id"), Some(hex.as_str()), "item id = SHA-1");
        item.children().next().unwrap().clone()
    };

    let request = "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'/></pubsub>";
    let payload = result_payload(&service, iq("get", OWNER, ALICE, request))
        .await
        .unwrap();
    let data = PepData::try_from(item(&payload)).unwrap().data;
    assert_eq!(data, rendition.rendered.bytes.to_vec());
    let digest: [u8; 20] = <sha1::Sha1 as sha1::Digest>::digest(&data).into();
    assert_eq!(digest, rendition.sha1);

    let request = "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:metadata'/></pubsub>";
    let payload = result_payload(&service, iq("get", OWNER, ALICE, request))
        .await
        .unwrap();
    let metadata = PepMetadata::try_from(item(&payload)).unwrap();
    let info = &metadata.infos[0];
    assert_eq!(info.bytes as usize, data.len());
    assert_eq!(info.type_, "image/png");
    assert_eq!((info.width, info.height), (Some(64), Some(64)));

    let other = "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:microblog:0'/></pubsub>";
    assert_eq!(
        refused(&service, iq("get", OWNER, ALICE, other)).await,
        (ErrorType::Cancel, DefinedCondition::ServiceUnavailable)
    );
    let nobody = "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'/></pubsub>";
    assert_eq!(
        refused(
            &service,
            iq("get", OWNER, "carol@avatars.example.org", nobody)
        )
        .await,
        (ErrorType::Cancel, DefinedCondition::ItemNotFound)
    );
}

#[tokio::test]
async fn subscriptions_are_accepted_and_answered_with_presence() {
    use avatar_xmpp::component::replies;
    use xmpp_parsers::presence::{Presence, Type};
    use xmpp_parsers::stanza::Stanza;

    let service = service(false).await;
    let subscribe = Presence::new(Type::Subscribe)
        .with_from("bob@example.org".parse::<jid::Jid>().unwrap())
        .with_to(ALICE.parse::<jid::Jid>().unwrap());
    let answers = replies(&service, Stanza::Presence(subscribe)).await;
    assert_eq!(answers.len(), 2);
    let Stanza::Presence(subscribed) = &answers[0] else {
        panic!()
    };
    assert_eq!(subscribed.type_, Type::Subscribed);
    assert_eq!(
        subscribed.to.as_ref().unwrap().to_string(),
        "bob@example.org"
    );
    let Stanza::Presence(current) = &answers[1] else {
        panic!()
    };
    assert!(
        current
            .payloads
            .iter()
            .any(|payload| payload.is("x", "jabber:x:avatar"))
    );
    // Unavailable presence and messages need no answer.
    let gone = Presence::new(Type::Unavailable)
        .with_from("bob@example.org".parse::<jid::Jid>().unwrap())
        .with_to(ALICE.parse::<jid::Jid>().unwrap());
    assert!(replies(&service, Stanza::Presence(gone)).await.is_empty());
}

#[tokio::test]
async fn removing_the_avatar_turns_presence_into_the_disabled_forms() {
    use avatar_store::MemoryStore;
    use avatar_xmpp::XAvatar;

    let store = std::sync::Arc::new(MemoryStore::new());
    let alice = Identity::parse("alice@example.org").unwrap();
    store
        .put(&alice, Bytes::from(png(50, 50, [1, 2, 3])))
        .await
        .unwrap();
    let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
    let service = IqService::new(std::sync::Arc::clone(&store), IqConfig::new(mapping));
    let before = service.presence_for(&alice).await.unwrap();
    let x = before
        .payloads
        .iter()
        .find(|p| p.is("x", "jabber:x:avatar"))
        .unwrap();
    assert!(XAvatar::try_from(x).unwrap().hash.is_some());

    assert!(store.remove(&alice).await.unwrap());
    let after = service.presence_for(&alice).await.unwrap();
    assert_disabled(&after);
}

/// Both presence elements in their "no avatar" forms.
fn assert_disabled(presence: &xmpp_parsers::presence::Presence) {
    use avatar_xmpp::XAvatar;
    use avatar_xmpp::payload::VCardUpdate;

    let x = presence
        .payloads
        .iter()
        .find(|p| p.is("x", "jabber:x:avatar"))
        .unwrap();
    assert_eq!(XAvatar::try_from(x).unwrap().hash, None);
    let update = presence
        .payloads
        .iter()
        .find(|p| p.is("x", "vcard-temp:x:update"))
        .unwrap();
    assert_eq!(
        VCardUpdate::try_from(update.clone())
            .unwrap()
            .photo
            .unwrap()
            .data,
        None
    );
}

/// Found by `cargo xtask fuzz` (target `stanza`): a subject node with `\4` before a two-byte
/// character made unescaping slice inside the character and panic, ending the session.
#[tokio::test]
async fn a_backslash_before_a_multibyte_character_in_the_subject_is_answered() {
    let service = service(false).await;
    let stanza: Element = "<iq xmlns='jabber:component:accept' type='get' id='f1' \
         from='bob@example.org/r' to='alice\\4\u{3ba}xample.org@avatars.example.org'>\
         <query xmlns='jabber:iq:avatar'/></iq>"
        .parse()
        .unwrap();
    let own = "avatars.example.org".parse().unwrap();
    let replies = avatar_xmpp::component::replies_to_element(&service, stanza, &own).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].attr("type"), Some("error"));
}
