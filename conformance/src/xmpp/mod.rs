//! XMPP avatar cases (XEP-0008, XEP-0153, XEP-0084 and the XEP-0114 handshake): stanzas written
//! as templates over the fixtures, and what the answers must show.

mod cases;
mod subscribing;
mod target;
pub mod wire;

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use minidom::Element;
use sha1::Digest as _;

pub use cases::xmpp_cases;
pub use target::{IN_PROCESS_DOMAIN, ME, MIRRORED_DOMAIN, TESTER, XmppTarget};

use crate::case::{SeenImage, Verdict};
use crate::error::{ConformanceError, Result};
use crate::fixtures::fixture;

const NS_IQ_AVATAR: &str = "jabber:iq:avatar";
const NS_STORAGE: &str = "storage:client:avatar";
const NS_X_AVATAR: &str = "jabber:x:avatar";
const NS_VCARD: &str = "vcard-temp";
const NS_VCARD_UPDATE: &str = "vcard-temp:x:update";
const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const NS_PEP_DATA: &str = "urn:xmpp:avatar:data";
const NS_PEP_METADATA: &str = "urn:xmpp:avatar:metadata";
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// How long to wait before concluding that no answer comes.
const SILENCE_WAIT: Duration = Duration::from_secs(1);

/// Where an avatar image sits in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageIn {
    /// XEP-0008 `<query xmlns='jabber:iq:avatar'><data mimetype>`.
    IqAvatar,
    /// XEP-0008 `<query xmlns='storage:client:avatar'><data mimetype>`.
    Storage,
    /// XEP-0153 `<vCard><PHOTO><TYPE/><BINVAL/></PHOTO>`.
    VCard,
    /// XEP-0084 `<pubsub><items node='urn:xmpp:avatar:data'><item><data>`.
    PepData,
}

impl ImageIn {
    /// The request that fetches it for `subject` (a placeholder name such as `subject`).
    fn request(self, to: &str) -> String {
        let payload = match self {
            Self::IqAvatar => format!("<query xmlns='{NS_IQ_AVATAR}'/>"),
            Self::Storage => format!("<query xmlns='{NS_STORAGE}'/>"),
            Self::VCard => format!("<vCard xmlns='{NS_VCARD}'/>"),
            Self::PepData => {
                format!("<pubsub xmlns='{NS_PUBSUB}'><items node='{NS_PEP_DATA}'/></pubsub>")
            }
        };
        format!("<iq type='get' id='{{id}}' to='{to}'{{from}}>{payload}</iq>")
    }
}

/// What to send in one step.
#[derive(Debug, Clone)]
pub enum Send {
    /// A stanza template; see [`Placeholders`] for what `{...}` stands for.
    Stanza(&'static str),
    /// Ask for the presence of a subject (a placeholder name) with a probe.
    Presence(&'static str),
    /// Subscribe to the presence of a subject (a placeholder name, `domain` for the service's
    /// own JID) as `me` (see [`Placeholders`]), or as the mirrored user for `domain`.
    Subscribe(&'static str),
    /// A stanza template sent without waiting for any answer.
    Notice(&'static str),
    /// Nothing: the step only looks at the connection (the handshake).
    Nothing,
}

/// What the answer to one step must show.
#[derive(Debug, Clone)]
pub enum XmppExpect {
    /// An IQ result.
    Result,
    /// An IQ error of this type and condition.
    Error(&'static str, &'static str),
    /// An IQ error of this type with one of these conditions.
    ErrorOneOf(&'static str, &'static [&'static str]),
    /// Some answer (result or error) with the IQ's id.
    Answered,
    /// No answer at all.
    NoReply,
    /// A result carrying an image at `at`, of a GIF, JPEG or PNG whose declared type matches
    /// its bytes, with sides within `sides` and fewer than `max_bytes` bytes.
    Image {
        /// Where the image is.
        at: ImageIn,
        /// Smallest and largest side.
        sides: (u32, u32),
        /// Size limit (exclusive).
        max_bytes: usize,
    },
    /// `item-not-found`, or a result that carries no image.
    NoImage,
    /// A disco#info result listing these features.
    Features(&'static [&'static str]),
    /// Presence with `<x xmlns='jabber:x:avatar'><hash>` equal to the SHA-1 of the XEP-0008
    /// image of `subject`.
    PresenceHash(&'static str),
    /// Presence with `<x xmlns='jabber:x:avatar'/>` and no hash (avatar disabled).
    PresenceHashDisabled,
    /// Presence with `<x xmlns='vcard-temp:x:update'><photo>` equal to the SHA-1 of the vCard
    /// photo of `subject` (hex in either case).
    PresencePhoto(&'static str),
    /// Presence with an empty `<photo/>` (no avatar).
    PresenceNoPhoto,
    /// PEP metadata whose `info` (id, bytes, type, width, height) describes the PEP data of
    /// `subject`, with item id = info id.
    PepMetadataMatches(&'static str),
    /// The SHA-1 is the same across XEP-0008, XEP-0153 and XEP-0084 for `subject`.
    HashesAgree(&'static str),
    /// The component proved the secret: handshake = hex SHA-1 of stream id + secret.
    HandshakeValid,
    /// `subscribed` presence from the subject.
    Subscribed,
    /// Within a second, presence from `subject` announcing its current avatar: the XEP-0008 hash
    /// of its `jabber:iq:avatar` image, or the XEP-0153 photo hash of its vCard photo.
    Announces(&'static str),
    /// Nothing to check (the step only sends).
    Sent,
    /// `subscribed` from the service's own JID; `unsubscribed` or silence means mirroring is not
    /// offered, and the case is skipped.
    MirrorOffered,
    /// Playing the mirrored user's server (answering the service's PEP, vCard and pubsub
    /// requests with one picture), the service soon serves that picture for the user's address.
    MirrorCopies,
    /// After the user unsubscribed, the service soon serves no avatar for the user's address.
    MirrorRemoved,
}

impl fmt::Display for XmppExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Result => f.write_str("an IQ result"),
            Self::Error(kind, condition) => write!(f, "an IQ error {kind}/{condition}"),
            Self::ErrorOneOf(kind, conditions) => {
                write!(f, "an IQ error {kind}/({})", conditions.join(" or "))
            }
            Self::Answered => f.write_str("an answer (result or error)"),
            Self::NoReply => f.write_str("no reply"),
            Self::Image {
                at,
                sides,
                max_bytes,
            } => write!(
                f,
                "an image in {at:?}: GIF, JPEG or PNG as declared, sides {}..={} px, under {max_bytes} bytes",
                sides.0, sides.1
            ),
            Self::NoImage => f.write_str("item-not-found, or a result without an image"),
            Self::Features(features) => write!(f, "disco#info listing {}", features.join(", ")),
            Self::PresenceHash(subject) => {
                write!(
                    f,
                    "presence with the SHA-1 of {subject}'s XEP-0008 image in <x xmlns='jabber:x:avatar'><hash>"
                )
            }
            Self::PresenceHashDisabled => {
                f.write_str("presence with <x xmlns='jabber:x:avatar'/> and no hash")
            }
            Self::PresencePhoto(subject) => {
                write!(
                    f,
                    "presence with the SHA-1 of {subject}'s vCard photo in <photo>"
                )
            }
            Self::PresenceNoPhoto => f.write_str("presence with an empty <photo/>"),
            Self::PepMetadataMatches(subject) => {
                write!(
                    f,
                    "PEP metadata describing {subject}'s PEP data (id = SHA-1, bytes, type, width, height)"
                )
            }
            Self::HashesAgree(subject) => {
                write!(
                    f,
                    "one SHA-1 for {subject} across XEP-0008, XEP-0153 and XEP-0084"
                )
            }
            Self::HandshakeValid => {
                f.write_str("handshake = lowercase hex SHA-1 of stream id + secret")
            }
            Self::Subscribed => f.write_str("presence type='subscribed' from the subject"),
            Self::Announces(subject) => write!(
                f,
                "within a second, presence from {subject} with the SHA-1 of its new avatar (XEP-0008 hash or XEP-0153 photo)"
            ),
            Self::Sent => f.write_str("nothing (the step only sends)"),
            Self::MirrorOffered => f.write_str(
                "presence type='subscribed' from the service's own JID (else mirroring is not offered)",
            ),
            Self::MirrorCopies => f.write_str(
                "the user's PEP avatar served for the user's address within 10 s",
            ),
            Self::MirrorRemoved => f.write_str(
                "no avatar served for the user's address within 10 s of unsubscribing",
            ),
        }
    }
}

/// One step of a check.
#[derive(Debug, Clone)]
pub struct Step {
    /// What to send.
    pub send: Send,
    /// What the answer must show.
    pub expect: XmppExpect,
}

/// The check of an XMPP case.
#[derive(Debug, Clone)]
pub struct XmppCheck {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Whether it needs a direct line to the service: it sends from a chosen JID (the owner's),
    /// or sends malformed stanzas that a real server would answer itself. Skipped as a client.
    pub direct_only: bool,
}

/// The fixed values the stanza templates refer to.
#[derive(Debug)]
pub struct Placeholders {
    domain: String,
    sender: Option<String>,
    me: String,
}

/// The owner's full JID: the owner of `writer@example.com` is that address as a bare JID.
const OWNER: &str = "writer@example.com/conformance";

impl Placeholders {
    fn subject_jid(&self, name: &str) -> String {
        match name {
            "unknown" => format!("\\40invalid@{}", self.domain),
            "domain" => self.domain.clone(),
            "me" => format!(
                "{}@{}",
                avatar_xmpp::escape::escape_node(&self.me),
                self.domain
            ),
            _ => {
                let identity = fixture(name).map_or(name, |fixture| fixture.identity);
                format!(
                    "{}@{}",
                    avatar_xmpp::escape::escape_node(&identity.to_lowercase()),
                    self.domain
                )
            }
        }
    }

    /// Fills in `{id}`, `{from}`, `{owner}`, `{as_me}` (the owner's `from` where the harness
    /// may choose, nothing as a client), `{domain}`, the subjects (`{subject}` george, `{empty}`
    /// nobody, `{writer}`, `{unknown}`, `{me}`) and the payloads (`{png}`, `{png_wrapped}`,
    /// `{fresh_png}` (a colour of its own each time), `{not_image}`, `{huge}`, `{bmp}`).
    fn expand(&self, template: &str, id: &str) -> String {
        let from = self
            .sender
            .as_deref()
            .map(|sender| format!(" from='{sender}'"))
            .unwrap_or_default();
        let as_me = if self.sender.is_some() {
            format!(" from='{OWNER}'")
        } else {
            String::new()
        };
        let png = upload_png();
        let wrapped: String = png
            .as_bytes()
            .chunks(20)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("\n ");
        template
            .replace("{id}", id)
            .replace("{from}", &from)
            .replace("{owner}", &format!(" from='{OWNER}'"))
            .replace("{as_me}", &as_me)
            .replace("{me}", &self.subject_jid("me"))
            .replace("{fresh_png}", &base64_of(&subscribing::fresh_png()))
            .replace("{subject}", &self.subject_jid("george"))
            .replace("{empty}", &self.subject_jid("nobody"))
            .replace("{writer}", &self.subject_jid("writer"))
            .replace("{unknown}", &self.subject_jid("unknown"))
            .replace("{domain}", &self.domain)
            .replace("{png_wrapped}", &wrapped)
            .replace("{png}", &png)
            .replace(
                "{not_image}",
                &base64_of(b"this is not an image, just text"),
            )
            .replace("{huge}", &base64_of(&huge_png()))
            .replace("{bmp}", &base64_of(&tiny_bmp()))
    }
}

pub(super) fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A 48 x 48 PNG for uploads, base64.
fn upload_png() -> String {
    let image = image::RgbImage::from_fn(48, 48, |x, y| {
        image::Rgb([
            (x * 5).try_into().unwrap_or(u8::MAX),
            (y * 5).try_into().unwrap_or(u8::MAX),
            160,
        ])
    });
    let mut out = Vec::new();
    let _ = image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    base64_of(&out)
}

/// A real 2 x 2 BMP: an image, but not one of the formats XEP-0008 allows.
fn tiny_bmp() -> Vec<u8> {
    let mut bmp = Vec::with_capacity(70);
    bmp.extend_from_slice(b"BM");
    bmp.extend_from_slice(&70u32.to_le_bytes()); // file size
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
    bmp.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
    bmp.extend_from_slice(&2i32.to_le_bytes());
    bmp.extend_from_slice(&2i32.to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes()); // planes
    bmp.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
    bmp.extend_from_slice(&[0; 4]); // no compression
    bmp.extend_from_slice(&16u32.to_le_bytes()); // image size
    bmp.extend_from_slice(&[0; 16]);
    // Two rows of two BGR pixels, each row padded to 4 bytes.
    bmp.extend_from_slice(&[0, 0, 255, 0, 255, 0, 0, 0, 255, 0, 0, 255, 255, 255, 0, 0]);
    bmp
}

/// A real PNG 20000 pixels wide: small in bytes, beyond any avatar limit in size.
fn huge_png() -> Vec<u8> {
    let image = image::GrayImage::new(20_000, 1);
    let mut out = Vec::new();
    let _ = image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

impl XmppCheck {
    /// Runs the steps against `target`; collects the images seen.
    pub async fn run(&self, case_id: &str, target: &mut XmppTarget) -> (Verdict, Vec<SeenImage>) {
        let mut images = Vec::new();
        if self.direct_only && target.is_client() {
            return (
                Verdict::skip(
                    "needs a direct line to the service: a client cannot choose its JID, and a server answers malformed stanzas itself",
                ),
                images,
            );
        }
        let about_handshake = self
            .steps
            .iter()
            .any(|step| matches!(step.expect, XmppExpect::HandshakeValid));
        if about_handshake && target.handshake().is_none() {
            return (
                Verdict::skip("only a component connecting to the harness has a handshake"),
                images,
            );
        }
        let placeholders = Placeholders {
            domain: target.domain().to_owned(),
            sender: target.sender().map(str::to_owned),
            me: target.me().to_owned(),
        };
        for (index, step) in self.steps.iter().enumerate() {
            let id = format!("{case_id}-{index}");
            let request = match &step.send {
                Send::Stanza(template) | Send::Notice(template) => {
                    placeholders.expand(template, &id)
                }
                Send::Presence(subject) => presence_request(&placeholders, subject),
                Send::Subscribe(subject) => subscribing::subscribe_request(&placeholders, subject),
                Send::Nothing => "(nothing: the step watches the connection)".to_owned(),
            };
            let outcome = if subscribing::handles(step) {
                subscribing::run_step(step, &request, &placeholders, target).await
            } else {
                run_step(step, &id, &request, &placeholders, target, &mut images)
                    .await
                    .map(|()| subscribing::Outcome::Done)
            };
            match outcome {
                Ok(subscribing::Outcome::Done) => {}
                Ok(subscribing::Outcome::NotOffered(reason)) => {
                    return (Verdict::skip(reason), images);
                }
                Err(got) => {
                    return (
                        Verdict::fail(request, step.expect.to_string(), got.to_string()),
                        images,
                    );
                }
            }
        }
        (Verdict::Pass, images)
    }
}

fn presence_request(placeholders: &Placeholders, subject: &str) -> String {
    let to = placeholders.subject_jid(subject);
    placeholders.expand(&format!("<presence type='probe' to='{to}'{{from}}/>"), "")
}

#[expect(clippy::too_many_lines, reason = "one short arm per expectation")]
async fn run_step(
    step: &Step,
    id: &str,
    request: &str,
    placeholders: &Placeholders,
    target: &mut XmppTarget,
    images: &mut Vec<SeenImage>,
) -> Result<()> {
    let reply = match &step.send {
        Send::Nothing => None,
        Send::Notice(_) | Send::Subscribe(_) => {
            target.send(request).await?;
            None
        }
        Send::Stanza(_) => {
            target.send(request).await?;
            let wait = if matches!(step.expect, XmppExpect::NoReply) {
                SILENCE_WAIT
            } else {
                target.answer_wait()
            };
            target
                .wait_for(
                    |element| element.name() == "iq" && element.attr("id") == Some(id),
                    wait,
                )
                .await?
        }
        Send::Presence(subject) => {
            target.send(request).await?;
            let from = placeholders.subject_jid(subject).to_lowercase();
            target
                .wait_for(
                    |element| {
                        element.name() == "presence"
                            && element
                                .attr("type")
                                .is_none_or(|kind| kind == "unavailable")
                            && element.attr("from").is_some_and(|sender| {
                                sender.split('/').next().unwrap_or("").to_lowercase() == from
                            })
                    },
                    target.answer_wait(),
                )
                .await?
        }
    };
    let shown = |reply: &Option<Element>| {
        reply
            .as_ref()
            .map_or_else(|| "no answer".to_owned(), String::from)
    };
    let waited = target.answer_wait();
    let answer = || {
        reply
            .as_ref()
            .ok_or_else(|| mismatch(format!("no answer within {waited:?}")))
    };
    match &step.expect {
        XmppExpect::Result => expect_type(answer()?, "result"),
        XmppExpect::Error(kind, condition) => expect_error(answer()?, kind, &[condition]),
        XmppExpect::ErrorOneOf(kind, conditions) => expect_error(answer()?, kind, conditions),
        XmppExpect::Answered => answer().map(|_| ()),
        XmppExpect::NoReply => match reply {
            None => Ok(()),
            Some(_) => Err(mismatch(shown(&reply))),
        },
        XmppExpect::Image {
            at,
            sides,
            max_bytes,
        } => {
            let answer = answer()?;
            expect_type(answer, "result")?;
            let (declared, bytes) = image_in(answer, *at)?;
            images.push(SeenImage {
                label: format!("{at:?} image"),
                content_type: declared.clone(),
                bytes: bytes.clone(),
            });
            check_image(&declared, &bytes, *sides, *max_bytes)
        }
        XmppExpect::NoImage => {
            let answer = answer()?;
            if expect_error(answer, "cancel", &["item-not-found"]).is_ok() {
                return Ok(());
            }
            expect_type(answer, "result")?;
            let carries = [
                ImageIn::IqAvatar,
                ImageIn::Storage,
                ImageIn::VCard,
                ImageIn::PepData,
            ]
            .into_iter()
            .any(|at| image_in(answer, at).is_ok());
            if carries {
                Err(mismatch(shown(&reply)))
            } else {
                Ok(())
            }
        }
        XmppExpect::Features(features) => {
            let answer = answer()?;
            expect_type(answer, "result")?;
            let listed: Vec<&str> = answer
                .get_child("query", NS_DISCO_INFO)
                .map(|query| {
                    query
                        .children()
                        .filter(|child| child.name() == "feature")
                        .filter_map(|child| child.attr("var"))
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<&&str> = features
                .iter()
                .filter(|feature| !listed.contains(feature))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(mismatch(format!(
                    "missing {missing:?} in {}",
                    shown(&reply)
                )))
            }
        }
        XmppExpect::PresenceHash(subject) => {
            let answer = answer()?;
            let hash = answer
                .get_child("x", NS_X_AVATAR)
                .and_then(|x| x.get_child("hash", NS_X_AVATAR))
                .map(|hash| hash.text().trim().to_lowercase())
                .ok_or_else(|| mismatch(shown(&reply)))?;
            let expected =
                sha1_of(&fetch_image(placeholders, target, subject, ImageIn::IqAvatar).await?);
            if hash == expected {
                Ok(())
            } else {
                Err(mismatch(format!(
                    "hash {hash}, but the XEP-0008 image's SHA-1 is {expected}: {}",
                    shown(&reply)
                )))
            }
        }
        XmppExpect::PresenceHashDisabled => {
            let answer = answer()?;
            match answer.get_child("x", NS_X_AVATAR) {
                Some(x)
                    if x.get_child("hash", NS_X_AVATAR)
                        .is_none_or(|hash| hash.text().trim().is_empty()) =>
                {
                    Ok(())
                }
                _ => Err(mismatch(shown(&reply))),
            }
        }
        XmppExpect::PresencePhoto(subject) => {
            let answer = answer()?;
            let photo = answer
                .get_child("x", NS_VCARD_UPDATE)
                .and_then(|x| x.get_child("photo", NS_VCARD_UPDATE))
                .map(|photo| photo.text().trim().to_lowercase())
                .ok_or_else(|| mismatch(shown(&reply)))?;
            let expected =
                sha1_of(&fetch_image(placeholders, target, subject, ImageIn::VCard).await?);
            if photo == expected {
                Ok(())
            } else {
                Err(mismatch(format!(
                    "photo {photo}, but the vCard photo's SHA-1 is {expected}: {}",
                    shown(&reply)
                )))
            }
        }
        XmppExpect::PresenceNoPhoto => {
            let answer = answer()?;
            let photo = answer
                .get_child("x", NS_VCARD_UPDATE)
                .and_then(|x| x.get_child("photo", NS_VCARD_UPDATE));
            match photo {
                Some(photo) if photo.text().trim().is_empty() => Ok(()),
                _ => Err(mismatch(shown(&reply))),
            }
        }
        XmppExpect::PepMetadataMatches(subject) => {
            let answer = answer()?;
            expect_type(answer, "result")?;
            let item = answer
                .get_child("pubsub", NS_PUBSUB)
                .and_then(|pubsub| pubsub.get_child("items", NS_PUBSUB))
                .and_then(|items| items.get_child("item", NS_PUBSUB))
                .ok_or_else(|| mismatch(format!("no pubsub item: {}", shown(&reply))))?;
            let info = item
                .get_child("metadata", NS_PEP_METADATA)
                .and_then(|metadata| metadata.get_child("info", NS_PEP_METADATA))
                .ok_or_else(|| mismatch(format!("no metadata/info: {}", shown(&reply))))?;
            let data = fetch_image(placeholders, target, subject, ImageIn::PepData).await?;
            let decoded = image::load_from_memory(&data)
                .map_err(|err| mismatch(format!("the PEP data is not an image: {err}")))?;
            let expected_id = sha1_of(&data);
            let checks = [
                (
                    "item id",
                    item.attr("id").map(str::to_lowercase),
                    expected_id.clone(),
                ),
                (
                    "info id",
                    info.attr("id").map(str::to_lowercase),
                    expected_id,
                ),
                (
                    "bytes",
                    info.attr("bytes").map(str::to_owned),
                    data.len().to_string(),
                ),
                (
                    "type",
                    info.attr("type").map(str::to_owned),
                    "image/png".to_owned(),
                ),
                (
                    "width",
                    info.attr("width").map(str::to_owned),
                    decoded.width().to_string(),
                ),
                (
                    "height",
                    info.attr("height").map(str::to_owned),
                    decoded.height().to_string(),
                ),
            ];
            for (what, got, expected) in checks {
                if got.as_deref() != Some(expected.as_str()) {
                    return Err(mismatch(format!(
                        "{what} is {got:?}, expected {expected:?}: {}",
                        shown(&reply)
                    )));
                }
            }
            Ok(())
        }
        XmppExpect::HashesAgree(subject) => {
            let mut hashes = Vec::new();
            for at in [ImageIn::IqAvatar, ImageIn::VCard, ImageIn::PepData] {
                let bytes = fetch_image(placeholders, target, subject, at).await?;
                hashes.push((at, sha1_of(&bytes)));
            }
            if hashes.iter().all(|(_, hash)| *hash == hashes[0].1) {
                Ok(())
            } else {
                Err(mismatch(format!("{hashes:?}")))
            }
        }
        XmppExpect::HandshakeValid => match target.handshake() {
            None => Err(mismatch("not a component target")),
            Some(handshake) if handshake.accepted() => Ok(()),
            Some(handshake) => Err(mismatch(format!(
                "sent {:?} for stream id {:?}; expected {:?}",
                handshake.sent, handshake.stream_id, handshake.expected
            ))),
        },
        XmppExpect::Sent => Ok(()),
        XmppExpect::Subscribed
        | XmppExpect::Announces(_)
        | XmppExpect::MirrorOffered
        | XmppExpect::MirrorCopies
        | XmppExpect::MirrorRemoved => Err(mismatch(
            "a subscription expectation outside a subscription step (a mistake in the case table)",
        )),
    }
}

/// Fetches the image of `subject` at `at` with a fresh IQ.
pub(super) async fn fetch_image(
    placeholders: &Placeholders,
    target: &mut XmppTarget,
    subject: &str,
    at: ImageIn,
) -> Result<Vec<u8>> {
    let id = format!("fetch-{at:?}-{subject}");
    let request = placeholders.expand(&at.request(&placeholders.subject_jid(subject)), &id);
    target.send(&request).await?;
    let reply = target
        .wait_for(
            |element| element.name() == "iq" && element.attr("id") == Some(id.as_str()),
            target.answer_wait(),
        )
        .await?
        .ok_or_else(|| {
            mismatch(format!(
                "no answer within {:?} to {request}",
                target.answer_wait()
            ))
        })?;
    image_in(&reply, at)
        .map(|(_, bytes)| bytes)
        .map_err(|err| mismatch(format!("fetching {at:?} of {subject}: {err}")))
}

fn expect_type(answer: &Element, kind: &str) -> Result<()> {
    if answer.attr("type") == Some(kind) {
        Ok(())
    } else {
        Err(mismatch(String::from(answer)))
    }
}

fn expect_error(answer: &Element, kind: &str, conditions: &[&str]) -> Result<()> {
    let error = answer
        .children()
        .find(|child| child.name() == "error")
        .filter(|_| answer.attr("type") == Some("error"));
    let holds = error.is_some_and(|error| {
        error.attr("type") == Some(kind)
            && error
                .children()
                .any(|child| child.ns() == NS_STANZAS && conditions.contains(&child.name()))
    });
    if holds {
        Ok(())
    } else {
        Err(mismatch(String::from(answer)))
    }
}

/// The declared type and bytes of the image in `answer` at `at`.
pub(super) fn image_in(answer: &Element, at: ImageIn) -> Result<(String, Vec<u8>)> {
    let shown = || String::from(answer);
    let (declared, text) = match at {
        ImageIn::IqAvatar | ImageIn::Storage => {
            let namespace = if at == ImageIn::IqAvatar {
                NS_IQ_AVATAR
            } else {
                NS_STORAGE
            };
            let data = answer
                .get_child("query", namespace)
                .and_then(|query| query.get_child("data", namespace))
                .ok_or_else(|| mismatch(format!("no <query><data>: {}", shown())))?;
            let mimetype = data
                .attr("mimetype")
                .ok_or_else(|| mismatch(format!("<data> without mimetype: {}", shown())))?;
            (mimetype.to_owned(), data.text())
        }
        ImageIn::VCard => {
            let photo = answer
                .get_child("vCard", NS_VCARD)
                .and_then(|vcard| vcard.get_child("PHOTO", NS_VCARD))
                .ok_or_else(|| mismatch(format!("no vCard PHOTO: {}", shown())))?;
            let kind = photo
                .get_child("TYPE", NS_VCARD)
                .map(Element::text)
                .unwrap_or_default();
            let binval = photo
                .get_child("BINVAL", NS_VCARD)
                .ok_or_else(|| mismatch(format!("no BINVAL: {}", shown())))?;
            (kind, binval.text())
        }
        ImageIn::PepData => {
            let data = answer
                .get_child("pubsub", NS_PUBSUB)
                .and_then(|pubsub| pubsub.get_child("items", NS_PUBSUB))
                .and_then(|items| items.get_child("item", NS_PUBSUB))
                .and_then(|item| item.get_child("data", NS_PEP_DATA))
                .ok_or_else(|| mismatch(format!("no pubsub item with <data>: {}", shown())))?;
            ("image/png".to_owned(), data.text())
        }
    };
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|err| mismatch(format!("bad base64 ({err}): {}", shown())))?;
    Ok((declared, bytes))
}

fn check_image(declared: &str, bytes: &[u8], sides: (u32, u32), max_bytes: usize) -> Result<()> {
    let actual = avatar_image::ImageFormat::sniff(bytes).map(avatar_image::ImageFormat::mime_type);
    if !matches!(actual, Some("image/png" | "image/jpeg" | "image/gif")) {
        return Err(mismatch(format!(
            "{} bytes that are not GIF, JPEG or PNG",
            bytes.len()
        )));
    }
    if actual != Some(declared) {
        return Err(mismatch(format!(
            "declared {declared}, but the bytes are {}",
            actual.unwrap_or("unknown")
        )));
    }
    let image = image::load_from_memory(bytes)
        .map_err(|err| mismatch(format!("does not decode: {err}")))?;
    let (width, height) = (image.width(), image.height());
    let within = |side: u32| (sides.0..=sides.1).contains(&side);
    if !within(width) || !within(height) {
        return Err(mismatch(format!("{width}x{height} px")));
    }
    if bytes.len() >= max_bytes {
        return Err(mismatch(format!("{} bytes", bytes.len())));
    }
    Ok(())
}

/// What came back, as the error a failed expectation is reported with.
pub(super) fn mismatch(got: impl Into<String>) -> ConformanceError {
    ConformanceError::Mismatch(got.into())
}

pub(super) fn sha1_of(bytes: &[u8]) -> String {
    avatar_proto::hex::encode_lower(sha1::Sha1::digest(bytes).as_slice())
}
