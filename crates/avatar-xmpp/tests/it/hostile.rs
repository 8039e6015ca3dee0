//! Hostile XML and uploads: each gets a stanza error or is refused before it is a stanza, memory
//! stays bounded, and the stored avatar never changes.

use std::sync::Arc;

use avatar_proto::Identity;
use avatar_store::{MemoryStore, Store as _};
use avatar_xmpp::component::replies_to_element;
use avatar_xmpp::{IqConfig, IqService, JidMapping};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use minidom::Element;
use test_support::images;

const ALICE: &str = "alice@avatars.example.org";
const OWNER: &str = "alice@example.org/phone";
const DOMAIN: &str = "avatars.example.org";

fn png(side: u32) -> Vec<u8> {
    images::png(&images::solid(side, side, [200, 40, 40]))
}

type Service = IqService<Arc<MemoryStore>>;

/// The service, and its store (shared) to check what is stored.
async fn service() -> (Service, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    store.put(&alice(), Bytes::from(png(100))).await.unwrap();
    let service = IqService::new(
        Arc::clone(&store),
        IqConfig::new(JidMapping::new(DOMAIN).identity_domain("example.org")),
    );
    (service, store)
}

fn alice() -> Identity {
    Identity::parse("alice@example.org").unwrap()
}

async fn stored(store: &MemoryStore) -> Bytes {
    let hash = alice().hash(avatar_proto::HashAlgorithm::Sha256);
    store.get(&hash).await.unwrap().unwrap().bytes
}

/// The one reply to `xml`, as the component would send it: `(type, first error condition)`.
async fn answer(service: &Service, xml: &str) -> (String, Option<String>) {
    answer_element(service, xml.parse().expect("well-formed XML")).await
}

async fn answer_element(service: &Service, element: Element) -> (String, Option<String>) {
    let own = DOMAIN.parse().unwrap();
    let replies = replies_to_element(service, element, &own).await;
    assert_eq!(replies.len(), 1, "one reply");
    let reply = &replies[0];
    let condition = reply
        .get_child("error", "jabber:component:accept")
        .and_then(|error| error.children().next())
        .map(|condition| condition.name().to_owned());
    (reply.attr("type").unwrap_or_default().to_owned(), condition)
}

fn upload(data: &str) -> String {
    format!(
        "<iq xmlns='jabber:component:accept' type='set' id='u1' from='{OWNER}' to='{ALICE}'>\
         <query xmlns='storage:client:avatar'><data mimetype='image/png'>{data}</data></query></iq>"
    )
}

#[test]
fn entity_declarations_are_refused_by_the_parser_and_never_expanded() {
    let bombs = [
        // Billion laughs.
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;\">]>\
         <iq xmlns='jabber:component:accept' type='get' id='x'>&lol2;</iq>",
        // An external entity.
        "<!DOCTYPE iq [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
         <iq xmlns='jabber:component:accept' type='get' id='x'>&xxe;</iq>",
        // An undeclared entity.
        "<iq xmlns='jabber:component:accept' type='get' id='x'>&undeclared;</iq>",
    ];
    for bomb in bombs {
        assert!(bomb.parse::<Element>().is_err(), "parsed: {}", &bomb[..60]);
    }
}

/// 2,000 levels, and 20,000 (140 KB: in a debug build, walking that recursively overflows a
/// worker thread's stack): a `bad-request`, no crash.
#[tokio::test]
async fn deep_nesting_gets_an_error_not_a_crash() {
    let (service, _) = service().await;
    for depth in [2_000, 20_000] {
        let xml = format!(
            "<iq xmlns='jabber:component:accept' type='get' id='d1' from='bob@example.org/r' to='{ALICE}'>\
             <query xmlns='jabber:iq:avatar'>{}{}</query></iq>",
            "<x>".repeat(depth),
            "</x>".repeat(depth)
        );
        let (kind, condition) = answer(&service, &xml).await;
        assert_eq!(kind, "error", "depth {depth}");
        assert_eq!(condition.as_deref(), Some("bad-request"), "depth {depth}");
    }
    // The deepest real payload (XEP-0084 metadata in a pubsub publish) is well within the limit.
    let (kind, _) = answer(
        &service,
        &format!(
            "<iq xmlns='jabber:component:accept' type='get' id='d2' from='bob@example.org/r' to='{ALICE}'>\
             <query xmlns='jabber:iq:avatar'/></iq>"
        ),
    )
    .await;
    assert_eq!(kind, "result");
}

#[tokio::test]
async fn huge_and_broken_base64_uploads_are_refused_and_change_nothing() {
    let (service, store) = service().await;
    let before = stored(&store).await;

    // 50 MB of image data: refused as not acceptable (the default input limit is 8 MiB). Built
    // as an element: parsing one 67 MB text node from a string takes rxml minutes (its lexer
    // is quadratic there), which is the reader's concern, not the service's.
    let mut huge = png(64);
    huge.resize(50 << 20, 0);
    let name = |text: &str| minidom::rxml::NcName::try_from(text).unwrap();
    let data = Element::builder("data", "storage:client:avatar")
        .attr(name("mimetype"), "image/png")
        .append(STANDARD.encode(&huge))
        .build();
    let query = Element::builder("query", "storage:client:avatar")
        .append(data)
        .build();
    let stanza = Element::builder("iq", "jabber:component:accept")
        .attr(name("type"), "set")
        .attr(name("id"), "u1")
        .attr(name("from"), OWNER)
        .attr(name("to"), ALICE)
        .append(query)
        .build();
    let (kind, condition) = answer_element(&service, stanza).await;
    assert_eq!(
        (kind.as_str(), condition.as_deref()),
        ("error", Some("not-acceptable"))
    );

    // Not base64, base64 of nothing, and base64 of something that is not an image.
    for data in ["!!!not base64!!!", "", &STANDARD.encode(b"<html>no</html>")] {
        let (kind, condition) = answer(&service, &upload(data)).await;
        assert_eq!(kind, "error", "{data:?}");
        assert!(
            matches!(condition.as_deref(), Some("bad-request" | "not-acceptable")),
            "{data:?}: {condition:?}"
        );
    }
    // A PNG header claiming 100000 x 100000.
    let mut claim = png(1);
    claim[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    claim[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let (kind, condition) = answer(&service, &upload(&STANDARD.encode(&claim))).await;
    assert_eq!(
        (kind.as_str(), condition.as_deref()),
        ("error", Some("not-acceptable"))
    );

    assert_eq!(stored(&store).await, before, "the stored avatar changed");
}
