//! XMPP avatars answered from the same store as the Libravatar API: XEP-0008 (`jabber:iq:avatar`,
//! `storage:client:avatar`, `jabber:x:avatar`), and its successors XEP-0153 (vCard PHOTO and
//! `vcard-temp:x:update`) and XEP-0084 (payload types). One rendition, one SHA-1, every protocol.
//!
//! ```
//! use avatar_store::MemoryStore;
//! use avatar_xmpp::{IqConfig, IqService, JidMapping};
//! use xmpp_parsers::iq::Iq;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
//! let service = IqService::new(MemoryStore::new(), IqConfig::new(mapping));
//! let request: Iq = "<iq xmlns='jabber:component:accept' type='get' id='1' to='alice@avatars.example.org' from='bob@example.org/phone'>\
//!     <query xmlns='jabber:iq:avatar'/></iq>".parse::<minidom::Element>()?.try_into()?;
//! let Some(Iq::Error { error, .. }) = service.answer(request).await else { panic!() };
//! assert_eq!(error.defined_condition, xmpp_parsers::stanza_error::DefinedCondition::ItemNotFound);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where things live: [`payload`] (the XML payloads), [`escape`] (XEP-0106), [`mapping`] (JID to
//! identity), [`iq`] (the IQ service and the error table), `presence.rs` (presence hashes),
//! [`component`] (the XEP-0114 connection and its reconnect loop), [`Subscriptions`] (who
//! subscribed, kept on disk), [`Announcer`] (presence to subscribers after any change),
//! [`mirror`] (subscribers' own avatars copied into the store), [`stats`] (what a running
//! component has done, for monitoring).

mod announce;
pub mod component;
mod error;
pub mod escape;
pub mod iq;
pub mod mapping;
pub mod mirror;
pub mod payload;
mod presence;
pub mod stats;
mod subscriptions;

pub use announce::Announcer;
pub use component::{ComponentConfig, ComponentSecret};
pub use error::ConfigError;
pub use iq::{IqConfig, IqService, Refusal};
pub use mapping::JidMapping;
pub use mirror::Mirroring;
pub use payload::{AvatarData, AvatarQuery, ImageSha1, PayloadError, XAvatar};
pub use stats::{ComponentStats, ComponentStatsSnapshot};
pub use subscriptions::{
    Added, DEFAULT_PER_SUBSCRIBER, DEFAULT_TOTAL, StorageFuture, SubscriptionFile,
    SubscriptionStorage, Subscriptions,
};
