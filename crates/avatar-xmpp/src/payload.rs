//! XEP-0008 payloads (`jabber:x:avatar`, `jabber:iq:avatar`, `storage:client:avatar`) on
//! minidom. The successors' payloads (vCard PHOTO, `vcard-temp:x:update`, XEP-0084 data and
//! metadata) come typed from `xmpp-parsers` and are re-exported here.

use std::fmt;
use std::str::FromStr;

use avatar_proto::hex;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minidom::Element;

use crate::iq::xml_name;

pub use xmpp_parsers::avatar::{Data as PepData, Info as PepInfo, Metadata as PepMetadata};
pub use xmpp_parsers::vcard::{Binval, Photo as VCardPhoto, Type as VCardType, VCard};
pub use xmpp_parsers::vcard_update::{Photo as UpdatePhoto, VCardUpdate};

/// `jabber:x:avatar`, the XEP-0008 presence element.
pub const NS_X_AVATAR: &str = "jabber:x:avatar";
/// `jabber:iq:avatar`, XEP-0008 retrieval from the user's resource.
pub const NS_IQ_AVATAR: &str = "jabber:iq:avatar";
/// `storage:client:avatar`, XEP-0008 storage on the server (XEP-0049), set by the owner.
pub const NS_STORAGE_AVATAR: &str = "storage:client:avatar";

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The element is not the one expected.
    #[error("expected <{expected}/>, got <{found}/> in namespace {namespace:?}")]
    WrongElement {
        /// The expected name and namespace.
        expected: &'static str,
        /// The name found.
        found: String,
        /// The namespace found.
        namespace: String,
    },
    /// A query that must carry `<data>` has none.
    #[error("the query has no <data mimetype='...'> child")]
    MissingData,
    /// `<data>` has no `mimetype` attribute.
    #[error("<data> has no mimetype attribute (XEP-0008 spells it 'mimetype')")]
    MissingMimetype,
    /// The base64 text is not base64 (white space is allowed and ignored).
    #[error("the image data is not valid base64")]
    BadBase64,
    /// A hash is not 40 hex digits.
    #[error("{found:?} is not a SHA-1 hash: expected 40 hex digits")]
    BadHash {
        /// The text found, shortened.
        found: String,
    },
}

/// The SHA-1 of an image's bytes, as XMPP presence carries it (40 hex digits, any case in,
/// lowercase out).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageSha1(pub [u8; 20]);

impl FromStr for ImageSha1 {
    type Err = PayloadError;

    fn from_str(text: &str) -> Result<Self, PayloadError> {
        hex::decode_exact::<20>(text.trim().as_bytes())
            .map(Self)
            .ok_or_else(|| PayloadError::BadHash {
                found: text.chars().take(60).collect(),
            })
    }
}

impl fmt::Display for ImageSha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_lower(f, &self.0)
    }
}

impl fmt::Debug for ImageSha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha1({self})")
    }
}

/// `<x xmlns='jabber:x:avatar'>`: the avatar's hash, or (with none) "avatar disabled".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAvatar {
    /// The hash; `None` means the avatar is disabled.
    pub hash: Option<ImageSha1>,
}

impl From<XAvatar> for Element {
    fn from(x: XAvatar) -> Self {
        let mut element = Element::builder("x", NS_X_AVATAR);
        if let Some(hash) = x.hash {
            element =
                element.append(Element::builder("hash", NS_X_AVATAR).append(hash.to_string()));
        }
        element.build()
    }
}

impl TryFrom<&Element> for XAvatar {
    type Error = PayloadError;

    fn try_from(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "x", NS_X_AVATAR, "x xmlns='jabber:x:avatar'")?;
        let hash = element
            .get_child("hash", NS_X_AVATAR)
            .map(|hash| hash.text().parse())
            .transpose()?;
        Ok(Self { hash })
    }
}

/// `<data mimetype='image/png'>BASE64</data>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarData {
    /// The media type, as given.
    pub mimetype: String,
    /// The decoded image bytes.
    pub bytes: Vec<u8>,
}

/// A `jabber:iq:avatar` or `storage:client:avatar` `<query>`, with or without `<data>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarQuery {
    /// [`NS_IQ_AVATAR`] or [`NS_STORAGE_AVATAR`].
    pub namespace: &'static str,
    /// The image (absent in a get).
    pub data: Option<AvatarData>,
}

impl From<AvatarQuery> for Element {
    fn from(query: AvatarQuery) -> Self {
        let mut element = Element::builder("query", query.namespace);
        if let Some(data) = query.data {
            element = element.append(
                Element::builder("data", query.namespace)
                    .attr(xml_name("mimetype"), data.mimetype)
                    .append(STANDARD.encode(&data.bytes)),
            );
        }
        element.build()
    }
}

impl TryFrom<&Element> for AvatarQuery {
    type Error = PayloadError;

    fn try_from(element: &Element) -> Result<Self, PayloadError> {
        let namespace = if element.ns() == NS_IQ_AVATAR {
            NS_IQ_AVATAR
        } else {
            NS_STORAGE_AVATAR
        };
        expect(
            element,
            "query",
            namespace,
            "query xmlns='jabber:iq:avatar' or 'storage:client:avatar'",
        )?;
        let data = element
            .get_child("data", namespace)
            .map(|data| {
                let mimetype = data
                    .attr("mimetype")
                    .ok_or(PayloadError::MissingMimetype)?
                    .to_owned();
                let text: String = data
                    .text()
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                let bytes = STANDARD.decode(text).map_err(|_| PayloadError::BadBase64)?;
                Ok(AvatarData { mimetype, bytes })
            })
            .transpose()?;
        Ok(Self { namespace, data })
    }
}

fn expect(
    element: &Element,
    name: &str,
    namespace: &str,
    expected: &'static str,
) -> Result<(), PayloadError> {
    if element.name() == name && element.ns() == namespace {
        Ok(())
    } else {
        Err(PayloadError::WrongElement {
            expected,
            found: element.name().to_owned(),
            namespace: element.ns(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn x_avatar_round_trips_with_and_without_hash() {
        let with = XAvatar {
            hash: Some("A5E0D7C1F2B3A4E5D6C7B8A9F0E1D2C3B4A5F6E7".parse().unwrap()),
        };
        let element = Element::from(with.clone());
        assert_eq!(
            element.get_child("hash", NS_X_AVATAR).unwrap().text(),
            "a5e0d7c1f2b3a4e5d6c7b8a9f0e1d2c3b4a5f6e7"
        );
        assert_eq!(XAvatar::try_from(&element).unwrap(), with);
        let disabled = XAvatar { hash: None };
        assert_eq!(
            XAvatar::try_from(&Element::from(disabled.clone())).unwrap(),
            disabled
        );
        let bad = parse("<x xmlns='jabber:x:avatar'><hash>xyz</hash></x>");
        assert!(matches!(
            XAvatar::try_from(&bad),
            Err(PayloadError::BadHash { .. })
        ));
    }

    #[test]
    fn queries_round_trip_and_accept_whitespace_in_base64() {
        let query = AvatarQuery {
            namespace: NS_IQ_AVATAR,
            data: Some(AvatarData {
                mimetype: "image/png".into(),
                bytes: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
            }),
        };
        assert_eq!(
            AvatarQuery::try_from(&Element::from(query.clone())).unwrap(),
            query
        );
        let spaced = parse(
            "<query xmlns='storage:client:avatar'><data mimetype='image/gif'>R0lG\n  ODlh\tAQ==</data></query>",
        );
        let parsed = AvatarQuery::try_from(&spaced).unwrap();
        assert_eq!(parsed.namespace, NS_STORAGE_AVATAR);
        assert_eq!(parsed.data.unwrap().bytes, b"GIF89a\x01");
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        let cases = [
            (
                "<query xmlns='jabber:iq:avatar'><data mimetype='image/png'>!!!</data></query>",
                PayloadError::BadBase64,
            ),
            (
                "<query xmlns='jabber:iq:avatar'><data>AAAA</data></query>",
                PayloadError::MissingMimetype,
            ),
        ];
        for (xml, expected) in cases {
            assert_eq!(
                AvatarQuery::try_from(&parse(xml)).unwrap_err(),
                expected,
                "{xml}"
            );
        }
        let wrong = parse("<other xmlns='jabber:iq:avatar'/>");
        assert!(matches!(
            AvatarQuery::try_from(&wrong),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
