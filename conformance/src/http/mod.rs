//! Libravatar server cases: a request (as a template over the fixtures) and what its answer
//! must show.

mod cases;
mod target;

use std::fmt;

use http::Method;

pub use cases::server_cases;
pub use target::{Exchange, HttpTarget, describe_body};

use crate::case::{SeenImage, Verdict};
use crate::error::ConformanceError;
use crate::fixtures::fixture;

/// A request, as a template: `{george}` is the MD5 of the `george` fixture, `{george.sha256}`
/// its SHA-256, `{george.MD5}` its MD5 in uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Req {
    /// `GET`, `HEAD`, `OPTIONS`, `POST`, ...
    pub method: &'static str,
    /// Path and query, starting with `/avatar/`.
    pub target: &'static str,
    /// Extra request headers.
    pub headers: &'static [(&'static str, &'static str)],
}

impl Req {
    /// A GET of `target`.
    #[must_use]
    pub const fn get(target: &'static str) -> Self {
        Self {
            method: "GET",
            target,
            headers: &[],
        }
    }

    /// `method` on `target`.
    #[must_use]
    pub const fn with_method(method: &'static str, target: &'static str) -> Self {
        Self {
            method,
            target,
            headers: &[],
        }
    }

    /// The same request with extra headers.
    #[must_use]
    pub const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    /// The target with the fixture placeholders filled in.
    #[must_use]
    pub fn expanded_target(&self) -> String {
        expand(self.target)
    }
}

impl fmt::Display for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.expanded_target())?;
        for (name, value) in self.headers {
            write!(f, " [{name}: {value}]")?;
        }
        Ok(())
    }
}

/// Replaces `{name}`, `{name.sha256}` and `{name.MD5}` with the fixture's hashes.
#[must_use]
pub fn expand(template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let key = &after[..close];
        let (name, kind) = key.split_once('.').unwrap_or((key, "md5"));
        match (fixture(name), kind) {
            (Some(fixture), "md5") => out.push_str(&fixture.md5()),
            (Some(fixture), "MD5") => out.push_str(&fixture.md5().to_uppercase()),
            (Some(fixture), "sha256") => out.push_str(&fixture.sha256()),
            _ => {
                out.push('{');
                out.push_str(key);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// What an answer must show.
#[derive(Debug, Clone)]
pub enum Expect {
    /// This status.
    Status(u16),
    /// One of these statuses.
    StatusIn(&'static [u16]),
    /// Header `name` is exactly `value`.
    Header(&'static str, &'static str),
    /// Header `name` is present.
    HeaderPresent(&'static str),
    /// Header `name` is absent.
    HeaderAbsent(&'static str),
    /// Header `name`, a comma-separated list, includes each token (ASCII case-insensitive).
    HeaderListIncludes(&'static str, &'static [&'static str]),
    /// `Content-Type` names the format the body's bytes actually are.
    ContentTypeFromBytes,
    /// `Content-Type` starts with this media type.
    ContentType(&'static str),
    /// `Content-Length`, when present, equals the body's length.
    ContentLengthMatches,
    /// The body decodes to an image of exactly N x N pixels.
    Square(u32),
    /// The body is an animated GIF with at least this many frames.
    GifFrames(usize),
    /// The pixel at the centre is close (each channel within 40) to this colour.
    CentreColour([u8; 3]),
    /// The body is empty.
    BodyEmpty,
    /// The body is shorter than this many bytes.
    BodyShorterThan(usize),
    /// The body contains this text.
    BodyContains(&'static str),
    /// `ETag` is present and strong (a quoted string without `W/`).
    StrongEtag,
    /// `Cache-Control` says `public` with a positive `max-age`.
    PublicMaxAge,
    /// `Location` is exactly this (after template expansion).
    Location(&'static str),
    /// Not a redirect: a status outside 300..400 and no `Location`.
    NoRedirect,
    /// The body is byte-identical to that of another request.
    SameBodyAs(Req),
    /// The body differs from that of another request.
    DifferentBodyFrom(Req),
    /// The `ETag` equals that of another request.
    SameEtagAs(Req),
    /// Headers (ignoring `Date`) equal those of another request.
    SameHeadersAs(Req),
    /// The `max-age` is shorter than that of another request.
    ShorterMaxAgeThan(Req),
    /// Sending the request again with `If-None-Match: <its ETag>` gives 304, no body, same ETag.
    Revalidates,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "status {code}"),
            Self::StatusIn(codes) => write!(f, "status one of {codes:?}"),
            Self::Header(name, value) => write!(f, "{name}: {value}"),
            Self::HeaderPresent(name) => write!(f, "a {name} header"),
            Self::HeaderAbsent(name) => write!(f, "no {name} header"),
            Self::HeaderListIncludes(name, tokens) => {
                write!(f, "{name} listing {}", tokens.join(", "))
            }
            Self::ContentTypeFromBytes => f.write_str("Content-Type naming the body's real format"),
            Self::ContentType(media) => write!(f, "Content-Type {media}"),
            Self::ContentLengthMatches => f.write_str("Content-Length equal to the body's length"),
            Self::Square(side) => write!(f, "an image of exactly {side}x{side} pixels"),
            Self::GifFrames(frames) => write!(f, "an animated GIF of at least {frames} frames"),
            Self::CentreColour([r, g, b]) => write!(f, "a centre pixel near rgb({r}, {g}, {b})"),
            Self::BodyEmpty => f.write_str("an empty body"),
            Self::BodyShorterThan(limit) => write!(f, "a body shorter than {limit} bytes"),
            Self::BodyContains(text) => write!(f, "a body containing {text:?}"),
            Self::StrongEtag => f.write_str("a strong ETag"),
            Self::PublicMaxAge => f.write_str("Cache-Control: public, max-age=N with N > 0"),
            Self::Location(location) => write!(f, "Location: {}", expand(location)),
            Self::NoRedirect => f.write_str("no redirect (no 3xx, no Location)"),
            Self::SameBodyAs(other) => write!(f, "the same bytes as {other}"),
            Self::DifferentBodyFrom(other) => write!(f, "different bytes from {other}"),
            Self::SameEtagAs(other) => write!(f, "the same ETag as {other}"),
            Self::SameHeadersAs(other) => write!(f, "the same headers as {other}"),
            Self::ShorterMaxAgeThan(other) => write!(f, "a shorter max-age than {other}"),
            Self::Revalidates => {
                f.write_str("304 with no body and the same ETag for If-None-Match: <ETag>")
            }
        }
    }
}

/// The check of a server case.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// The request.
    pub request: Req,
    /// What its answer must show, all of it.
    pub expect: Vec<Expect>,
}

impl HttpCheck {
    /// Sends the request and checks every expectation; collects the images seen.
    pub async fn run(&self, target: &HttpTarget) -> (Verdict, Vec<SeenImage>) {
        let mut images = Vec::new();
        let exchange = match send(target, &self.request).await {
            Ok(exchange) => exchange,
            Err(err) => {
                return (
                    Verdict::fail(self.request.to_string(), "an answer", err.to_string()),
                    images,
                );
            }
        };
        if let Some(kind) = avatar_image::ImageFormat::sniff(&exchange.body) {
            images.push(SeenImage {
                label: self.request.to_string(),
                content_type: kind.mime_type().to_owned(),
                bytes: exchange.body.to_vec(),
            });
        }
        for expect in &self.expect {
            if let Err(got) = check(expect, &self.request, &exchange, target).await {
                return (
                    Verdict::fail(
                        self.request.to_string(),
                        expect.to_string(),
                        got.to_string(),
                    ),
                    images,
                );
            }
        }
        (Verdict::Pass, images)
    }
}

async fn send(target: &HttpTarget, request: &Req) -> Result<Exchange, ConformanceError> {
    send_with(target, request, &[]).await
}

async fn send_with(
    target: &HttpTarget,
    request: &Req,
    extra: &[(String, String)],
) -> Result<Exchange, ConformanceError> {
    let method = Method::from_bytes(request.method.as_bytes()).map_err(|err| {
        ConformanceError::Usage(format!("the case's method {}: {err}", request.method))
    })?;
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    headers.extend_from_slice(extra);
    target
        .send(&method, &request.expanded_target(), &headers)
        .await
}

/// Checks one expectation; [`ConformanceError::Mismatch`] holds what came back instead.
#[expect(clippy::too_many_lines, reason = "one short arm per expectation")]
async fn check(
    expect: &Expect,
    request: &Req,
    got: &Exchange,
    target: &HttpTarget,
) -> Result<(), ConformanceError> {
    let whole = || ConformanceError::Mismatch(got.describe());
    let ok = |holds: bool| if holds { Ok(()) } else { Err(whole()) };
    match expect {
        Expect::Status(code) => ok(got.status == *code),
        Expect::StatusIn(codes) => ok(codes.contains(&got.status)),
        Expect::Header(name, value) => ok(got.header(name) == Some(*value)),
        Expect::HeaderPresent(name) => ok(got.headers.contains_key(*name)),
        Expect::HeaderAbsent(name) => ok(!got.headers.contains_key(*name)),
        Expect::HeaderListIncludes(name, tokens) => {
            let listed: Vec<String> = got
                .headers
                .get_all(*name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .map(|token| token.trim().to_ascii_lowercase())
                .collect();
            ok(tokens
                .iter()
                .all(|token| listed.contains(&token.to_ascii_lowercase())))
        }
        Expect::ContentTypeFromBytes => {
            let actual = avatar_image::ImageFormat::sniff(&got.body)
                .map(avatar_image::ImageFormat::mime_type);
            let declared = got
                .header("content-type")
                .map(|value| value.split(';').next().unwrap_or("").trim());
            ok(actual.is_some() && actual == declared)
        }
        Expect::ContentType(media) => ok(got
            .header("content-type")
            .is_some_and(|value| value.starts_with(media))),
        Expect::ContentLengthMatches => ok(got
            .header("content-length")
            .is_none_or(|length| length == got.body.len().to_string())),
        Expect::Square(side) => ok(image::load_from_memory(&got.body)
            .is_ok_and(|image| image.width() == *side && image.height() == *side)),
        Expect::GifFrames(frames) => ok(gif_frames(&got.body) >= *frames),
        Expect::CentreColour(colour) => {
            let Ok(image) = image::load_from_memory(&got.body) else {
                return Err(whole());
            };
            let image = image.to_rgb8();
            let centre = image.get_pixel(image.width() / 2, image.height() / 2).0;
            ok(centre.iter().zip(colour).all(|(a, b)| a.abs_diff(*b) <= 40))
        }
        Expect::BodyEmpty => ok(got.body.is_empty()),
        Expect::BodyShorterThan(limit) => ok(got.body.len() < *limit),
        Expect::BodyContains(text) => ok(String::from_utf8_lossy(&got.body).contains(text)),
        Expect::StrongEtag => ok(got
            .header("etag")
            .is_some_and(|tag| tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'))),
        Expect::PublicMaxAge => ok(got.header("cache-control").is_some_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case("public"))
                && max_age(value).is_some_and(|age| age > 0)
        })),
        Expect::Location(location) => ok(got.header("location") == Some(expand(location).as_str())),
        Expect::NoRedirect => {
            ok(!(300..400).contains(&got.status) && !got.headers.contains_key("location"))
        }
        Expect::SameBodyAs(other)
        | Expect::DifferentBodyFrom(other)
        | Expect::SameEtagAs(other)
        | Expect::SameHeadersAs(other)
        | Expect::ShorterMaxAgeThan(other) => {
            let second = send(target, other).await?;
            let holds = match expect {
                Expect::SameBodyAs(_) => second.body == got.body,
                Expect::DifferentBodyFrom(_) => second.body != got.body,
                Expect::SameEtagAs(_) => {
                    got.header("etag").is_some() && second.header("etag") == got.header("etag")
                }
                Expect::SameHeadersAs(_) => {
                    let strip = |exchange: &Exchange| {
                        let mut headers = exchange.headers.clone();
                        headers.remove("date");
                        headers
                    };
                    strip(&second) == strip(got)
                }
                _ => {
                    let mine = got.header("cache-control").and_then(max_age);
                    let theirs = second.header("cache-control").and_then(max_age);
                    matches!((mine, theirs), (Some(mine), Some(theirs)) if mine < theirs)
                }
            };
            if holds {
                Ok(())
            } else {
                Err(ConformanceError::Mismatch(format!(
                    "{}\nand {other} gave {}",
                    got.describe(),
                    second.describe()
                )))
            }
        }
        Expect::Revalidates => {
            let Some(etag) = got.header("etag") else {
                return Err(whole());
            };
            let again = send_with(
                target,
                request,
                &[("if-none-match".to_owned(), etag.to_owned())],
            )
            .await?;
            if again.status == 304 && again.body.is_empty() && again.header("etag") == Some(etag) {
                Ok(())
            } else {
                Err(ConformanceError::Mismatch(format!(
                    "with If-None-Match: {etag}: {}",
                    again.describe()
                )))
            }
        }
    }
}

/// The `max-age` of a `Cache-Control` value.
fn max_age(value: &str) -> Option<u64> {
    value.split(',').find_map(|part| {
        part.trim()
            .strip_prefix("max-age=")
            .and_then(|age| age.trim().parse().ok())
    })
}

/// How many frames a GIF has (0 if it is not a GIF).
fn gif_frames(bytes: &[u8]) -> usize {
    use image::AnimationDecoder as _;
    image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).map_or(0, |decoder| {
        decoder.into_frames().take(1000).flatten().count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_to_fixture_hashes() {
        assert_eq!(
            expand("/avatar/{george}?s=1"),
            "/avatar/40f8d096a3777232204cb3f796c577b7?s=1"
        );
        assert_eq!(
            expand("/avatar/{george.MD5}"),
            "/avatar/40F8D096A3777232204CB3F796C577B7"
        );
        assert!(expand("{george.sha256}").starts_with("47508cb4"));
        assert_eq!(expand("{unknown} {"), "{unknown} {");
    }
}
