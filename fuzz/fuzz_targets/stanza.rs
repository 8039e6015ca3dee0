//! XMPP stanzas as the component receives them: bytes -> XML element (minidom, as the wire
//! reader does) -> the IQ service's answer. Never panics; every reply is an IQ result or error
//! addressed back to the sender.
#![no_main]

use std::sync::OnceLock;

use avatar_store::MemoryStore;
use avatar_xmpp::component::replies_to_element;
use avatar_xmpp::{IqConfig, IqService, JidMapping};
use libfuzzer_sys::fuzz_target;

const DOMAIN: &str = "avatars.fuzz.test";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(element) = text.parse::<minidom::Element>() else {
        return;
    };
    let service = IqService::new(MemoryStore::new(), IqConfig::new(JidMapping::new(DOMAIN)));
    let own: jid::Jid = DOMAIN.parse().expect("a valid JID");
    let replies = runtime().block_on(replies_to_element(&service, element, &own));
    for reply in replies {
        assert!(
            ["iq", "presence", "message"].contains(&reply.name()),
            "unexpected reply {}",
            String::from(&reply)
        );
    }
});
