//! Presence for an identity: `jabber:x:avatar` (XEP-0008) and `vcard-temp:x:update` (XEP-0153)
//! carrying the same SHA-1, or their "no avatar" forms.

use avatar_proto::Identity;
use avatar_store::Store;
use xmpp_parsers::presence::Presence;

use crate::iq::{IqService, Refusal};
use crate::payload::{ImageSha1, UpdatePhoto, VCardUpdate, XAvatar};

impl<St: Store> IqService<St> {
    /// The available presence of `identity`'s JID on the component's domain, announcing its
    /// avatar's SHA-1 in both protocols, or (with no avatar) `<x xmlns='jabber:x:avatar'/>` and
    /// `<x xmlns='vcard-temp:x:update'><photo/></x>`.
    ///
    /// # Errors
    /// [`Refusal::UnknownSubject`] if the identity has no JID here; [`Refusal::StoreFailed`].
    pub async fn presence_for(&self, identity: &Identity) -> Result<Presence, Refusal> {
        let jid = self
            .mapping()
            .jid_of(identity)
            .map_err(|_| Refusal::UnknownSubject)?;
        let sha1 = self
            .rendition(identity)
            .await?
            .map(|rendition| rendition.sha1);
        Ok(available_with(jid.into(), sha1))
    }
}

/// Available presence from `from` announcing `sha1` in both protocols, or their "no avatar"
/// forms for `None`.
pub(crate) fn available_with(from: jid::Jid, sha1: Option<[u8; 20]>) -> Presence {
    let payloads = vec![
        XAvatar {
            hash: sha1.map(ImageSha1),
        }
        .into(),
        VCardUpdate {
            photo: Some(UpdatePhoto { data: sha1 }),
        }
        .into(),
    ];
    Presence::available()
        .with_from(from)
        .with_payloads(payloads)
}
