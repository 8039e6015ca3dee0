//! The steps about subscriptions, which no XEP requires (so their cases are SHOULD): presence
//! announced to a subscriber after a change (`[xmpp.subscribers]` in `docs/protocol.md`), and
//! mirroring a subscriber's own avatar (`[xmpp.mirror]`).
//!
//! Mirroring needs the harness to play the user's server (it answers the service's PEP, vCard
//! and pubsub requests about the user), so its cases run only with a direct line: in process,
//! or with the component connected to the harness. A service that refuses or ignores the
//! subscription to its own JID does not offer mirroring, and those cases are skipped.

use std::time::Duration;

use minidom::Element;

use super::{
    ImageIn, NS_PEP_DATA, NS_PEP_METADATA, NS_PUBSUB, NS_STANZAS, NS_VCARD, NS_VCARD_UPDATE,
    NS_X_AVATAR, Placeholders, Send, Step, XmppExpect, XmppTarget, base64_of, fetch_image,
    mismatch, sha1_of,
};
use crate::error::Result;

/// The user whose avatar the mirroring cases publish.
pub(super) const MIRRORED_USER: &str = "mirrored@example.net";
/// The colour of the picture the mirrored user publishes.
const MIRRORED_COLOUR: [u8; 3] = [12, 140, 230];
/// How long an announcement may take ([xmpp.subscribers]: "within a second").
const ANNOUNCE_WAIT: Duration = Duration::from_secs(1);
/// How long a mirror may take to appear or go.
const MIRROR_WAIT: Duration = Duration::from_secs(10);

/// How a step ended, when it did not fail.
#[derive(Debug)]
pub(super) enum Outcome {
    /// As expected.
    Done,
    /// The service does not offer what the case is about: the case is skipped, saying why.
    NotOffered(String),
}

/// Whether `step` is one of this module's.
pub(super) fn handles(step: &Step) -> bool {
    matches!(
        step.expect,
        XmppExpect::Subscribed
            | XmppExpect::Announces(_)
            | XmppExpect::MirrorOffered
            | XmppExpect::MirrorCopies
            | XmppExpect::MirrorRemoved
    )
}

/// `<presence type='subscribe'>` to the subject: from `me` (or the server's stamp as a
/// client), or from the mirrored user to the service's own JID.
pub(super) fn subscribe_request(placeholders: &Placeholders, subject: &str) -> String {
    let to = placeholders.subject_jid(subject);
    if subject == "domain" {
        format!("<presence type='subscribe' to='{to}' from='{MIRRORED_USER}'/>")
    } else {
        placeholders.expand(
            &format!("<presence type='subscribe' to='{to}'{{as_me}}/>"),
            "",
        )
    }
}

/// A 48 x 48 PNG of a colour of its own each time it is made, so an upload always changes the
/// avatar, however often the suite runs against the same service.
pub(super) fn fresh_png() -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let [a, b, c, _] = nanos.to_le_bytes();
    png_of([a, b, c.wrapping_add(40)])
}

fn png_of(rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(48, 48, image::Rgb(rgb));
    let mut out = Vec::new();
    let _ = image.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// Runs one of this module's steps.
pub(super) async fn run_step(
    step: &Step,
    request: &str,
    placeholders: &Placeholders,
    target: &mut XmppTarget,
) -> Result<Outcome> {
    if matches!(step.send, Send::Subscribe(_) | Send::Notice(_)) {
        target.send(request).await?;
    }
    match &step.expect {
        XmppExpect::Subscribed | XmppExpect::MirrorOffered => {
            let Send::Subscribe(subject) = step.send else {
                return Err(mismatch("a subscription step must send a subscription"));
            };
            let from = placeholders.subject_jid(subject).to_lowercase();
            let answer = target
                .wait_for(
                    |element| {
                        element.name() == "presence"
                            && matches!(element.attr("type"), Some("subscribed" | "unsubscribed"))
                            && bare(element.attr("from")) == from
                    },
                    target.answer_wait(),
                )
                .await?;
            let accepted = answer
                .as_ref()
                .is_some_and(|answer| answer.attr("type") == Some("subscribed"));
            match (&step.expect, accepted) {
                (_, true) => Ok(Outcome::Done),
                (XmppExpect::MirrorOffered, false) => Ok(Outcome::NotOffered(format!(
                    "the service does not mirror subscribers' avatars: its answer to a subscription to its own JID was {}",
                    answer.map_or_else(|| "nothing".to_owned(), |answer| String::from(&answer))
                ))),
                (_, false) => Err(mismatch(answer.map_or_else(
                    || format!("no answer within {:?}", target.answer_wait()),
                    |answer| String::from(&answer),
                ))),
            }
        }
        XmppExpect::Announces(subject) => announced(placeholders, target, subject).await,
        XmppExpect::MirrorCopies => mirror_copies(placeholders, target).await,
        XmppExpect::MirrorRemoved => mirror_removed(placeholders, target).await,
        _ => Err(mismatch(
            "not a subscription step (a mistake in the case table)",
        )),
    }
}

/// The bare JID of a `from`, lowercased.
fn bare(from: Option<&str>) -> String {
    from.unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// Presence from `subject` carrying the hash of its current avatar arrives within a second.
async fn announced(
    placeholders: &Placeholders,
    target: &mut XmppTarget,
    subject: &str,
) -> Result<Outcome> {
    let started = tokio::time::Instant::now();
    let by_0008 = fetch_image(placeholders, target, subject, ImageIn::IqAvatar)
        .await
        .ok()
        .map(|bytes| sha1_of(&bytes));
    let by_0153 = fetch_image(placeholders, target, subject, ImageIn::VCard)
        .await
        .ok()
        .map(|bytes| sha1_of(&bytes));
    if by_0008.is_none() && by_0153.is_none() {
        return Err(mismatch(format!(
            "{subject} has no avatar after the upload (neither jabber:iq:avatar nor vcard-temp)"
        )));
    }
    let from = placeholders.subject_jid(subject).to_lowercase();
    let hash_in = |element: &Element, namespace: &str, name: &str| {
        element
            .get_child("x", namespace)
            .and_then(|x| x.get_child(name, namespace))
            .map(|hash| hash.text().trim().to_lowercase())
    };
    let wait = ANNOUNCE_WAIT.saturating_sub(started.elapsed());
    let presence = target
        .wait_for(
            |element| {
                element.name() == "presence"
                    && element.attr("type").is_none()
                    && bare(element.attr("from")) == from
                    && (by_0008.is_some() && hash_in(element, NS_X_AVATAR, "hash") == by_0008
                        || by_0153.is_some()
                            && hash_in(element, NS_VCARD_UPDATE, "photo") == by_0153)
            },
            wait,
        )
        .await?;
    match presence {
        Some(_) => Ok(Outcome::Done),
        None => Err(mismatch(format!(
            "no presence with the new hash ({}) within {ANNOUNCE_WAIT:?} of the change",
            by_0008.or(by_0153).unwrap_or_default()
        ))),
    }
}

/// Available presence from the mirrored user, announcing its vCard photo (XEP-0153), as its
/// server sends it once the service may see it: a service may wait for it before looking.
fn user_presence(placeholders: &Placeholders) -> String {
    let sha1 = sha1_of(&png_of(MIRRORED_COLOUR));
    format!(
        "<presence from='{MIRRORED_USER}/harness' to='{}'><x xmlns='{NS_VCARD_UPDATE}'><photo>{sha1}</photo></x></presence>",
        placeholders.domain
    )
}

/// Answers what the service asks the mirrored user's server, for `wait`: its IQs (PEP, vCard,
/// pubsub subscriptions), and a subscription to the user's presence (approved, then the
/// user's presence). Returns whether anything arrived.
async fn serve_user(
    placeholders: &Placeholders,
    target: &mut XmppTarget,
    wait: Duration,
) -> Result<bool> {
    let request = target
        .wait_for(
            |element| {
                let to_user = bare(element.attr("to")) == MIRRORED_USER;
                to_user
                    && (element.name() == "iq"
                        && matches!(element.attr("type"), Some("get" | "set"))
                        || element.name() == "presence"
                            && element.attr("type") == Some("subscribe"))
            },
            wait,
        )
        .await?;
    let Some(request) = request else {
        return Ok(false);
    };
    if request.name() == "presence" {
        let to = request.attr("from").unwrap_or_default();
        target
            .send(&format!(
                "<presence type='subscribed' from='{MIRRORED_USER}' to='{to}'/>"
            ))
            .await?;
        target.send(&user_presence(placeholders)).await?;
        return Ok(true);
    }
    let picture = png_of(MIRRORED_COLOUR);
    let sha1 = sha1_of(&picture);
    let data = base64_of(&picture);
    let id = request.attr("id").unwrap_or_default();
    let to = request.attr("from").unwrap_or_default();
    let node = request
        .get_child("pubsub", NS_PUBSUB)
        .and_then(|pubsub| pubsub.children().next())
        .and_then(|child| child.attr("node"));
    let payload = if request.get_child("vCard", NS_VCARD).is_some() {
        Some(format!(
            "<vCard xmlns='{NS_VCARD}'><PHOTO><TYPE>image/png</TYPE><BINVAL>{data}</BINVAL></PHOTO></vCard>"
        ))
    } else if request.attr("type") == Some("set") {
        // A pubsub subscription to the metadata node: accepted.
        Some(String::new())
    } else if node == Some(NS_PEP_METADATA) {
        Some(format!(
            "<pubsub xmlns='{NS_PUBSUB}'><items node='{NS_PEP_METADATA}'><item id='{sha1}'>\
             <metadata xmlns='{NS_PEP_METADATA}'><info id='{sha1}' bytes='{}' type='image/png' width='48' height='48'/></metadata>\
             </item></items></pubsub>",
            picture.len()
        ))
    } else if node == Some(NS_PEP_DATA) {
        Some(format!(
            "<pubsub xmlns='{NS_PUBSUB}'><items node='{NS_PEP_DATA}'><item id='{sha1}'>\
             <data xmlns='{NS_PEP_DATA}'>{data}</data></item></items></pubsub>"
        ))
    } else {
        None
    };
    let answer = match payload {
        Some(payload) => {
            format!("<iq type='result' id='{id}' from='{MIRRORED_USER}' to='{to}'>{payload}</iq>")
        }
        None => format!(
            "<iq type='error' id='{id}' from='{MIRRORED_USER}' to='{to}'><error type='cancel'>\
             <service-unavailable xmlns='{NS_STANZAS}'/></error></iq>"
        ),
    };
    target.send(&answer).await?;
    Ok(true)
}

/// The centre colour of the `jabber:iq:avatar` image served for the mirrored user, `None` when
/// there is none.
async fn mirrored_colour(
    placeholders: &Placeholders,
    target: &mut XmppTarget,
) -> Result<Option<[u8; 3]>> {
    let subject = MIRRORED_USER;
    let Ok(bytes) = fetch_image(placeholders, target, subject, ImageIn::IqAvatar).await else {
        return Ok(None);
    };
    let image = image::load_from_memory(&bytes)
        .map_err(|err| mismatch(format!("the mirrored avatar does not decode: {err}")))?
        .to_rgb8();
    let (width, height) = image.dimensions();
    Ok(Some(image.get_pixel(width / 2, height / 2).0))
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
}

async fn mirror_copies(placeholders: &Placeholders, target: &mut XmppTarget) -> Result<Outcome> {
    target.send(&user_presence(placeholders)).await?;
    let deadline = tokio::time::Instant::now() + MIRROR_WAIT;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        while serve_user(placeholders, target, Duration::from_millis(100)).await? {}
        last = mirrored_colour(placeholders, target).await?;
        if last.is_some_and(|colour| close(colour, MIRRORED_COLOUR)) {
            return Ok(Outcome::Done);
        }
    }
    Err(mismatch(format!(
        "after {MIRROR_WAIT:?}, the avatar served for {MIRRORED_USER} has the colour {last:?}, not the published {MIRRORED_COLOUR:?}"
    )))
}

async fn mirror_removed(placeholders: &Placeholders, target: &mut XmppTarget) -> Result<Outcome> {
    let deadline = tokio::time::Instant::now() + MIRROR_WAIT;
    while tokio::time::Instant::now() < deadline {
        while serve_user(placeholders, target, Duration::from_millis(100)).await? {}
        if mirrored_colour(placeholders, target).await?.is_none() {
            return Ok(Outcome::Done);
        }
    }
    Err(mismatch(format!(
        "{MIRROR_WAIT:?} after unsubscribing, an avatar is still served for {MIRRORED_USER}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::image_in;

    #[test]
    fn fresh_pictures_differ() {
        let first = fresh_png();
        std::thread::sleep(Duration::from_millis(2));
        assert_ne!(first, fresh_png());
        assert!(image_in_is_png(&first));
    }

    fn image_in_is_png(bytes: &[u8]) -> bool {
        image::load_from_memory(bytes).is_ok_and(|image| image.width() == 48)
    }

    #[test]
    fn the_image_helper_is_the_one_cases_use() {
        // `image_in` reads what `serve_user` answers for a vCard.
        let data = base64_of(&png_of(MIRRORED_COLOUR));
        let answer: Element = format!(
            "<iq xmlns='jabber:client' type='result' id='x'><vCard xmlns='{NS_VCARD}'><PHOTO><TYPE>image/png</TYPE><BINVAL>{data}</BINVAL></PHOTO></vCard></iq>"
        )
        .parse()
        .unwrap();
        let (kind, bytes) = image_in(&answer, ImageIn::VCard).unwrap();
        assert_eq!(kind, "image/png");
        assert_eq!(bytes, png_of(MIRRORED_COLOUR));
    }
}
