//! The XMPP cases: every row of the error table in `docs/protocol.md` section 4, the presence
//! states, the image rules, hash agreement across the three protocols, the XEP-0114 handshake
//! and malformed stanzas.

use super::{ImageIn, Send, Step, XmppCheck, XmppExpect};

/// A step that sends something other than a stanza template.
const fn step_of(send: Send, expect: XmppExpect) -> Step {
    Step { send, expect }
}
use crate::case::{Case, Check, Group, Level};

use Level::{Must, Should};
use XmppExpect::{
    Announces, Answered, Error, ErrorOneOf, Features, HandshakeValid, HashesAgree, Image,
    MirrorCopies, MirrorOffered, MirrorRemoved, NoImage, NoReply, PepMetadataMatches, PresenceHash,
    PresenceHashDisabled, PresenceNoPhoto, PresencePhoto, Sent, Subscribed,
};

const XEP_0008: &str = "XEP-0008 v0.3.1";
const XEP_0153: &str = "XEP-0153 1.1.1";
const XEP_0084: &str = "XEP-0084 1.1.4";
const ERRORS: &str = "docs/protocol.md [xmpp.error.*]; RFC 6120 8.2.3";
const RFC_6120: &str = "RFC 6120 8.2.3 and 8.3";

const GET_IQ_AVATAR: &str =
    "<iq type='get' id='{id}' to='{subject}'{from}><query xmlns='jabber:iq:avatar'/></iq>";
const GET_STORAGE: &str =
    "<iq type='get' id='{id}' to='{subject}'{from}><query xmlns='storage:client:avatar'/></iq>";
const GET_VCARD: &str =
    "<iq type='get' id='{id}' to='{subject}'{from}><vCard xmlns='vcard-temp'/></iq>";
const GET_PEP_DATA: &str = "<iq type='get' id='{id}' to='{subject}'{from}><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'/></pubsub></iq>";
const GET_PEP_METADATA: &str = "<iq type='get' id='{id}' to='{subject}'{from}><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:metadata'/></pubsub></iq>";

const SUBSCRIBERS: &str = "docs/protocol.md [xmpp.subscribers]; RFC 6121 4.2 (no XEP requires it)";
const MIRROR: &str = "docs/protocol.md [xmpp.mirror]; XEP-0163, XEP-0084 (no XEP requires it)";
const UPLOAD_FRESH_AS_ME: &str = "<iq type='set' id='{id}' to='{me}'{as_me}><query xmlns='storage:client:avatar'><data mimetype='image/png'>{fresh_png}</data></query></iq>";

fn step(send: &'static str, expect: XmppExpect) -> Step {
    Step {
        send: Send::Stanza(send),
        expect,
    }
}

fn case(
    id: &'static str,
    group: Group,
    level: Level,
    source: &'static str,
    title: &'static str,
    steps: Vec<Step>,
) -> Case {
    Case {
        id,
        group,
        title,
        source,
        level,
        check: Check::Xmpp(XmppCheck {
            steps,
            direct_only: false,
        }),
    }
}

/// A case that needs a direct line to the service (see [`XmppCheck::direct_only`]).
fn direct_case(
    id: &'static str,
    level: Level,
    source: &'static str,
    title: &'static str,
    steps: Vec<Step>,
) -> Case {
    let mut case = case(id, Group::Xep0008, level, source, title, steps);
    if let Check::Xmpp(check) = &mut case.check {
        check.direct_only = true;
    }
    case
}

const XEP_0008_IMAGE: XmppExpect = Image {
    at: ImageIn::IqAvatar,
    sides: (32, 64),
    max_bytes: 8192,
};

/// The XMPP cases, in report order.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "a table of cases reads best as one list"
)]
pub fn xmpp_cases() -> Vec<Case> {
    use Group::{Xep0008, Xep0084, Xep0153};
    vec![
        Case {
            id: "xep0114-handshake",
            group: Xep0008,
            title: "the component's XEP-0114 handshake is the hex SHA-1 of stream id and secret",
            source: "XEP-0114 1.6 section 3",
            level: Must,
            check: Check::Xmpp(XmppCheck {
                steps: vec![Step {
                    send: Send::Nothing,
                    expect: HandshakeValid,
                }],
                direct_only: false,
            }),
        },
        case(
            "xep0008-retrieve",
            Xep0008,
            Must,
            XEP_0008,
            "jabber:iq:avatar get returns <data mimetype> with the image",
            vec![step(
                GET_IQ_AVATAR,
                Image {
                    at: ImageIn::IqAvatar,
                    sides: (1, 4096),
                    max_bytes: usize::MAX,
                },
            )],
        ),
        case(
            "xep0008-image-sides",
            Xep0008,
            Must,
            XEP_0008,
            "the image is 32 to 64 px on each side",
            vec![step(
                GET_IQ_AVATAR,
                Image {
                    at: ImageIn::IqAvatar,
                    sides: (32, 64),
                    max_bytes: usize::MAX,
                },
            )],
        ),
        case(
            "xep0008-image-bytes",
            Xep0008,
            Must,
            XEP_0008,
            "the image is under 8 KB (8192 bytes)",
            vec![step(
                GET_IQ_AVATAR,
                Image {
                    at: ImageIn::IqAvatar,
                    sides: (1, 4096),
                    max_bytes: 8192,
                },
            )],
        ),
        case(
            "xep0008-image-format",
            Xep0008,
            Must,
            XEP_0008,
            "the image is GIF, JPEG or PNG and the mimetype says which",
            vec![step(GET_IQ_AVATAR, XEP_0008_IMAGE)],
        ),
        case(
            "xep0008-storage-get",
            Xep0008,
            Must,
            XEP_0008,
            "storage:client:avatar get on the bare JID returns the image",
            vec![step(
                GET_STORAGE,
                Image {
                    at: ImageIn::Storage,
                    sides: (32, 64),
                    max_bytes: 8192,
                },
            )],
        ),
        case(
            "xep0008-no-avatar",
            Xep0008,
            Must,
            ERRORS,
            "a known subject without an avatar gets cancel/item-not-found",
            vec![step(
                "<iq type='get' id='{id}' to='{empty}'{from}><query xmlns='jabber:iq:avatar'/></iq>",
                Error("cancel", "item-not-found"),
            )],
        ),
        case(
            "xep0008-unknown-subject",
            Xep0008,
            Must,
            ERRORS,
            "a JID that names no one gets cancel/service-unavailable (item-not-found with anti-harvesting)",
            vec![step(
                "<iq type='get' id='{id}' to='{unknown}'{from}><query xmlns='jabber:iq:avatar'/></iq>",
                ErrorOneOf("cancel", &["service-unavailable", "item-not-found"]),
            )],
        ),
        case(
            "xep0008-unknown-namespace",
            Xep0008,
            Must,
            RFC_6120,
            "a namespace the service does not answer gets cancel/service-unavailable",
            vec![step(
                "<iq type='get' id='{id}' to='{subject}'{from}><query xmlns='urn:example:not-avatars'/></iq>",
                Error("cancel", "service-unavailable"),
            )],
        ),
        case(
            "xep0008-set-iq-avatar",
            Xep0008,
            Must,
            ERRORS,
            "set on jabber:iq:avatar gets cancel/feature-not-implemented",
            vec![step(
                "<iq type='set' id='{id}' to='{subject}'{from}><query xmlns='jabber:iq:avatar'><data mimetype='image/png'>{png}</data></query></iq>",
                Error("cancel", "feature-not-implemented"),
            )],
        ),
        case(
            "xep0008-storage-forbidden",
            Xep0008,
            Must,
            ERRORS,
            "set on someone else's storage gets auth/forbidden",
            vec![step(
                "<iq type='set' id='{id}' to='{subject}'{from}><query xmlns='storage:client:avatar'><data mimetype='image/png'>{png}</data></query></iq>",
                Error("auth", "forbidden"),
            )],
        ),
        direct_case(
            "xep0008-storage-bad-base64",
            Must,
            ERRORS,
            "the owner's set with bad base64 gets modify/bad-request",
            vec![step(
                "<iq type='set' id='{id}' to='{writer}'{owner}><query xmlns='storage:client:avatar'><data mimetype='image/png'>!!not base64!!</data></query></iq>",
                Error("modify", "bad-request"),
            )],
        ),
        direct_case(
            "xep0008-storage-missing-data",
            Must,
            ERRORS,
            "the owner's set without <data> gets modify/bad-request",
            vec![step(
                "<iq type='set' id='{id}' to='{writer}'{owner}><query xmlns='storage:client:avatar'/></iq>",
                Error("modify", "bad-request"),
            )],
        ),
        direct_case(
            "xep0008-storage-not-image",
            Must,
            ERRORS,
            "the owner's set of text gets modify/not-acceptable",
            vec![step(
                "<iq type='set' id='{id}' to='{writer}'{owner}><query xmlns='storage:client:avatar'><data mimetype='image/png'>{not_image}</data></query></iq>",
                Error("modify", "not-acceptable"),
            )],
        ),
        direct_case(
            "xep0008-storage-wrong-format",
            Must,
            ERRORS,
            "the owner's set of a BMP (an image, but not GIF, JPEG or PNG) gets modify/not-acceptable",
            vec![step(
                "<iq type='set' id='{id}' to='{writer}'{owner}><query xmlns='storage:client:avatar'><data mimetype='image/bmp'>{bmp}</data></query></iq>",
                Error("modify", "not-acceptable"),
            )],
        ),
        direct_case(
            "xep0008-storage-too-large",
            Should,
            ERRORS,
            "the owner's set of a 20000 px wide PNG gets modify/not-acceptable",
            vec![step(
                "<iq type='set' id='{id}' to='{writer}'{owner}><query xmlns='storage:client:avatar'><data mimetype='image/png'>{huge}</data></query></iq>",
                Error("modify", "not-acceptable"),
            )],
        ),
        direct_case(
            "xep0008-storage-owner-set",
            Should,
            XEP_0008,
            "the owner's set (base64 with line breaks) is stored and then served",
            vec![
                step(
                    "<iq type='set' id='{id}' to='{writer}'{owner}><query xmlns='storage:client:avatar'><data mimetype='image/png'>{png_wrapped}</data></query></iq>",
                    XmppExpect::Result,
                ),
                step(
                    "<iq type='get' id='{id}' to='{writer}'{from}><query xmlns='jabber:iq:avatar'/></iq>",
                    XEP_0008_IMAGE,
                ),
            ],
        ),
        case(
            "xep0008-result-no-reply",
            Xep0008,
            Must,
            RFC_6120,
            "an IQ result gets no reply",
            vec![step(
                "<iq type='result' id='{id}' to='{subject}'{from}/>",
                NoReply,
            )],
        ),
        case(
            "xep0008-error-no-reply",
            Xep0008,
            Must,
            RFC_6120,
            "an IQ error gets no reply",
            vec![step(
                "<iq type='error' id='{id}' to='{subject}'{from}><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
                NoReply,
            )],
        ),
        direct_case(
            "xep0008-malformed-empty-get",
            Should,
            RFC_6120,
            "a get without a payload gets modify/bad-request",
            vec![step(
                "<iq type='get' id='{id}' to='{subject}'{from}/>",
                Error("modify", "bad-request"),
            )],
        ),
        direct_case(
            "xep0008-malformed-two-payloads",
            Should,
            RFC_6120,
            "a get with two payloads gets modify/bad-request",
            vec![step(
                "<iq type='get' id='{id}' to='{subject}'{from}><query xmlns='jabber:iq:avatar'/><query xmlns='jabber:iq:avatar'/></iq>",
                Error("modify", "bad-request"),
            )],
        ),
        direct_case(
            "xep0008-malformed-survives",
            Must,
            RFC_6120,
            "after malformed stanzas the service still answers",
            vec![
                step(
                    "<iq type='bogus' id='{id}' to='{subject}'{from}><query xmlns='jabber:iq:avatar'/></iq>",
                    XmppExpect::NoReply,
                ),
                step(
                    "<iq type='get' to='{subject}'{from}><query xmlns='jabber:iq:avatar'/></iq>",
                    XmppExpect::NoReply,
                ),
                step(GET_IQ_AVATAR, Answered),
            ],
        ),
        case(
            "xep0008-presence-hash",
            Xep0008,
            Must,
            XEP_0008,
            "presence carries <x xmlns='jabber:x:avatar'><hash> = SHA-1 of the image bytes",
            vec![Step {
                send: Send::Presence("george"),
                expect: PresenceHash("george"),
            }],
        ),
        case(
            "xep0008-presence-disabled",
            Xep0008,
            Must,
            XEP_0008,
            "with no avatar, presence carries <x xmlns='jabber:x:avatar'/> without a hash",
            vec![Step {
                send: Send::Presence("nobody"),
                expect: PresenceHashDisabled,
            }],
        ),
        case(
            "xep0008-disco",
            Xep0008,
            Should,
            "XEP-0030; xmpp-avatars.md",
            "disco#info on the domain lists the avatar namespaces",
            vec![step(
                "<iq type='get' id='{id}' to='{domain}'{from}><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
                Features(&["jabber:iq:avatar", "vcard-temp", "urn:xmpp:avatar:metadata"]),
            )],
        ),
        case(
            "xep0153-vcard",
            Xep0153,
            Must,
            XEP_0153,
            "a vCard get returns PHOTO with TYPE and BINVAL",
            vec![step(
                GET_VCARD,
                Image {
                    at: ImageIn::VCard,
                    sides: (1, 4096),
                    max_bytes: usize::MAX,
                },
            )],
        ),
        case(
            "xep0153-image-rules",
            Xep0153,
            Should,
            XEP_0153,
            "the vCard photo is 32 to 96 px and under 8 KB",
            vec![step(
                GET_VCARD,
                Image {
                    at: ImageIn::VCard,
                    sides: (32, 96),
                    max_bytes: 8192,
                },
            )],
        ),
        case(
            "xep0153-no-avatar",
            Xep0153,
            Must,
            ERRORS,
            "a vCard get without an avatar has no PHOTO (or item-not-found)",
            vec![step(
                "<iq type='get' id='{id}' to='{empty}'{from}><vCard xmlns='vcard-temp'/></iq>",
                NoImage,
            )],
        ),
        case(
            "xep0153-presence-photo",
            Xep0153,
            Must,
            XEP_0153,
            "presence carries <photo> = SHA-1 of the vCard photo",
            vec![Step {
                send: Send::Presence("george"),
                expect: PresencePhoto("george"),
            }],
        ),
        case(
            "xep0153-presence-no-photo",
            Xep0153,
            Must,
            XEP_0153,
            "with no avatar, presence carries an empty <photo/>",
            vec![Step {
                send: Send::Presence("nobody"),
                expect: PresenceNoPhoto,
            }],
        ),
        case(
            "xep0153-vcard-set-forbidden",
            Xep0153,
            Must,
            ERRORS,
            "a vCard set on someone else's JID gets auth/forbidden",
            vec![step(
                "<iq type='set' id='{id}' to='{subject}'{from}><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>{png}</BINVAL></PHOTO></vCard></iq>",
                Error("auth", "forbidden"),
            )],
        ),
        case(
            "xep0153-hashes-agree",
            Xep0153,
            Must,
            "xmpp-avatars.md: one image, one SHA-1",
            "XEP-0008, XEP-0153 and XEP-0084 give the same SHA-1",
            vec![step(GET_VCARD, HashesAgree("george"))],
        ),
        case(
            "xep0084-data",
            Xep0084,
            Must,
            XEP_0084,
            "the data node's item holds the PNG in base64",
            vec![step(
                GET_PEP_DATA,
                Image {
                    at: ImageIn::PepData,
                    sides: (1, 4096),
                    max_bytes: usize::MAX,
                },
            )],
        ),
        case(
            "xep0084-metadata",
            Xep0084,
            Must,
            XEP_0084,
            "the metadata info gives id = SHA-1, bytes, type, width and height of the data",
            vec![step(GET_PEP_METADATA, PepMetadataMatches("george"))],
        ),
        case(
            "xep0084-no-avatar",
            Xep0084,
            Should,
            XEP_0084,
            "no avatar: no data item (or item-not-found)",
            vec![step(
                "<iq type='get' id='{id}' to='{empty}'{from}><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'/></pubsub></iq>",
                NoImage,
            )],
        ),
        case(
            "xep0084-unknown-node",
            Xep0084,
            Should,
            RFC_6120,
            "a pubsub node other than the avatar ones gets an error",
            vec![step(
                "<iq type='get' id='{id}' to='{subject}'{from}><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:other'/></pubsub></iq>",
                ErrorOneOf(
                    "cancel",
                    &[
                        "service-unavailable",
                        "item-not-found",
                        "feature-not-implemented",
                    ],
                ),
            )],
        ),
        case(
            "subscribers-presence-after-change",
            Xep0008,
            Should,
            SUBSCRIBERS,
            "a subscriber gets presence with the new hash within a second of a change",
            vec![
                step_of(Send::Subscribe("me"), Subscribed),
                step(UPLOAD_FRESH_AS_ME, XmppExpect::Result),
                step_of(Send::Nothing, Announces("me")),
                step_of(
                    Send::Notice("<presence type='unsubscribe' to='{me}'{as_me}/>"),
                    Sent,
                ),
            ],
        ),
        direct_case(
            "mirror-subscriber",
            Should,
            MIRROR,
            "a user who subscribes to the service's own JID has their PEP avatar served for their address until they unsubscribe",
            vec![
                step_of(Send::Subscribe("domain"), MirrorOffered),
                step_of(Send::Nothing, MirrorCopies),
                step_of(
                    Send::Notice(
                        "<presence type='unsubscribe' to='{domain}' from='mirrored@example.net'/>",
                    ),
                    MirrorRemoved,
                ),
            ],
        ),
    ]
}
