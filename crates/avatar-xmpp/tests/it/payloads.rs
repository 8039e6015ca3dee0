//! Round trips of the successors' payloads (typed by xmpp-parsers) as this crate uses them.

use avatar_xmpp::payload::{
    Binval, PepData, PepInfo, PepMetadata, UpdatePhoto, VCard, VCardPhoto, VCardType, VCardUpdate,
};
use minidom::Element;

fn round_trip<T>(value: &T) -> T
where
    T: Clone + PartialEq + std::fmt::Debug + Into<Element> + TryFrom<Element>,
    <T as TryFrom<Element>>::Error: std::fmt::Debug,
{
    let element: Element = value.clone().into();
    let text = String::from(&element);
    let parsed: Element = text.parse().unwrap();
    let back = T::try_from(parsed).unwrap();
    assert_eq!(&back, value, "{text}");
    back
}

#[test]
fn vcard_photo() {
    round_trip(&VCard {
        photo: Some(VCardPhoto {
            type_: VCardType {
                data: "image/png".into(),
            },
            binval: Binval {
                data: vec![0x89, b'P', b'N', b'G', 0, 1, 2],
            },
        }),
        payloads: Vec::new(),
    });
}

#[test]
fn vcard_update_in_all_three_states_and_either_hex_case() {
    round_trip(&VCardUpdate { photo: None });
    round_trip(&VCardUpdate {
        photo: Some(UpdatePhoto { data: None }),
    });
    round_trip(&VCardUpdate {
        photo: Some(UpdatePhoto {
            data: Some([0xab; 20]),
        }),
    });
    let upper: Element = "<x xmlns='vcard-temp:x:update'><photo>ABABABABABABABABABABABABABABABABABABABAB</photo></x>".parse().unwrap();
    assert_eq!(
        VCardUpdate::try_from(upper).unwrap().photo.unwrap().data,
        Some([0xab; 20])
    );
}

#[test]
fn pep_data_and_metadata() {
    round_trip(&PepData {
        data: vec![1, 2, 3, 4],
    });
    let metadata: Element = "<metadata xmlns='urn:xmpp:avatar:metadata'>\
        <info bytes='12345' id='111f4b3c50d7b0df729d299bc6f8e9ef9066971f' type='image/png' width='64' height='64'/>\
        </metadata>"
        .parse()
        .unwrap();
    let parsed = PepMetadata::try_from(metadata).unwrap();
    let info: &PepInfo = &parsed.infos[0];
    assert_eq!(
        (info.bytes, info.width, info.height),
        (12345, Some(64), Some(64))
    );
    round_trip(&parsed);
    round_trip(&PepMetadata { infos: Vec::new() });
}
