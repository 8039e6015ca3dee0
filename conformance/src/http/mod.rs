//! Libravatar server cases: a request (as a template over the fixtures) and what its answer
//! must show.

mod cases;
mod target;

use std::fmt;

use http::Method;

pub use cases::server_cases;
pub use target::{Answer, Exchange, Hop, HttpTarget, MAX_REDIRECTS, describe_body};

use crate::case::{SeenImage, Verdict};
use crate::error::ConformanceError;
use crate::fixtures::{FIXTURES, fixture, near};

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
    /// The body decodes to a square image whose side is one of these (where the spec allows
    /// either answer).
    SquareIn(&'static [u32]),
    /// The body decodes to an image of one colour (every pixel within 8 of the first).
    Solid,
    /// The body is a rendition of the fixture with this name (any square crop of it, at any
    /// size): a hit, not a drawn default.
    ShowsFixture(&'static str),
    /// The pixels at 10 %, 50 % and 90 % of the width of the middle row are close to these
    /// colours: which part of a wide image a square crop kept.
    ColoursAcross([[u8; 3]; 3]),
    /// The body is an animated GIF with at least this many frames.
    GifFrames(usize),
    /// The body is an animation, GIF or WebP, with at least this many frames.
    AnimatedFrames(usize),
    /// The body decodes to a square image whose side is within these bounds (inclusive).
    SquareWithin(u32, u32),
    /// When this answer and another request's come in different formats (`Content-Type`),
    /// both carry `Vary` listing `accept` (RFC 9110 12.5.5: caches must not give one client's
    /// format to another). Same formats pass.
    VaryWhenFormatDiffersFrom(Req),
    /// When this answer and another request's come in different formats, their `ETag`s (when
    /// both have one) differ: a strong validator names one representation (RFC 9110 8.8.3).
    EtagDiffersWhenFormatDiffersFrom(Req),
    /// The body is empty.
    BodyEmpty,
    /// The body is shorter than this many bytes.
    BodyShorterThan(usize),
    /// The body contains this text.
    BodyContains(&'static str),
    /// The body does not contain this text.
    BodyLacks(&'static str),
    /// The body is a short, non-empty UTF-8 text (a reason a person can read).
    BodyIsReason,
    /// `ETag` is present and strong (a quoted string without `W/`).
    StrongEtag,
    /// `Cache-Control` has a positive `max-age` (RFC 9111 5.2.2.1; `public` is not needed for
    /// a response without `Authorization`).
    MaxAge,
    /// `Location` is exactly this (after template expansion).
    Location(&'static str),
    /// No `Location` anywhere in the chain leaves the target's origin, except for URLs the
    /// default trusted-URL rules allow (`docs/protocol.md` `[server.default-url]`).
    NoOpenRedirect,
    /// The body is byte-identical to that of another request.
    SameBodyAs(Req),
    /// The body differs from that of another request.
    DifferentBodyFrom(Req),
    /// The `ETag` equals that of another request.
    SameEtagAs(Req),
    /// When both answers carry an `ETag`, they differ (no `ETag` at all passes).
    EtagDiffersFrom(Req),
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
            Self::SquareIn(sides) => {
                let sides: Vec<String> =
                    sides.iter().map(|side| format!("{side}x{side}")).collect();
                write!(f, "a square image of {} pixels", sides.join(" or "))
            }
            Self::Solid => f.write_str("an image of one solid colour"),
            Self::ShowsFixture(name) => write!(
                f,
                "the stored {name} image ({}), not a default",
                fixture(name).map_or("?", |fixture| fixture.description)
            ),
            Self::ColoursAcross([left, centre, right]) => write!(
                f,
                "across the middle row, pixels near rgb{left:?}, rgb{centre:?}, rgb{right:?} (a centred crop)"
            ),
            Self::GifFrames(frames) => write!(f, "an animated GIF of at least {frames} frames"),
            Self::AnimatedFrames(frames) => {
                write!(f, "an animated GIF or WebP of at least {frames} frames")
            }
            Self::SquareWithin(low, high) => {
                write!(f, "a square image of {low} to {high} pixels a side")
            }
            Self::VaryWhenFormatDiffersFrom(other) => write!(
                f,
                "Vary: accept on both answers if {other} comes in another format"
            ),
            Self::EtagDiffersWhenFormatDiffersFrom(other) => write!(
                f,
                "an ETag different from {other}'s if that comes in another format"
            ),
            Self::BodyEmpty => f.write_str("an empty body"),
            Self::BodyShorterThan(limit) => write!(f, "a body shorter than {limit} bytes"),
            Self::BodyContains(text) => write!(f, "a body containing {text:?}"),
            Self::BodyLacks(text) => write!(f, "a body without {text:?}"),
            Self::BodyIsReason => f.write_str("a short plain-text reason in the body"),
            Self::StrongEtag => f.write_str("a strong ETag"),
            Self::MaxAge => f.write_str("Cache-Control with max-age=N, N > 0"),
            Self::Location(location) => write!(f, "Location: {}", expand(location)),
            Self::NoOpenRedirect => f.write_str(
                "no redirect off the server's origin (except to trusted URLs), at any hop",
            ),
            Self::SameBodyAs(other) => write!(f, "the same bytes as {other}"),
            Self::DifferentBodyFrom(other) => write!(f, "different bytes from {other}"),
            Self::SameEtagAs(other) => write!(f, "the same ETag as {other}"),
            Self::EtagDiffersFrom(other) => {
                write!(f, "an ETag different from {other}'s (or no ETag)")
            }
            Self::SameHeadersAs(other) => write!(f, "the same headers as {other}"),
            Self::ShorterMaxAgeThan(other) => write!(f, "a shorter max-age than {other}"),
            Self::Revalidates => {
                f.write_str("304 with no body and the same ETag for If-None-Match: <ETag>")
            }
        }
    }
}

/// Which answer of a redirect chain a case judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judge {
    /// The answer to the request as sent: for rules about the redirect itself (its status and
    /// `Location`).
    FirstHop,
    /// The end of the chain, after following the redirects that stay on the server's origin:
    /// a server may answer a default with a redirect to its own static image.
    Final,
}

impl Judge {
    /// The answer this judge looks at.
    #[must_use]
    pub fn pick(self, answer: &Answer) -> &Exchange {
        match self {
            Self::FirstHop => answer.first(),
            Self::Final => answer.last(),
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
    /// Which answer of the chain is judged (every `Location` in it is judged by
    /// [`Expect::NoOpenRedirect`] either way).
    pub judge: Judge,
}

impl HttpCheck {
    /// Every request template the check sends: its own, and those of the requests its
    /// expectations compare with.
    #[must_use]
    pub fn templates(&self) -> Vec<&'static str> {
        let mut templates = vec![self.request.target];
        for expect in &self.expect {
            if let Expect::SameBodyAs(other)
            | Expect::DifferentBodyFrom(other)
            | Expect::SameEtagAs(other)
            | Expect::EtagDiffersFrom(other)
            | Expect::SameHeadersAs(other)
            | Expect::ShorterMaxAgeThan(other)
            | Expect::VaryWhenFormatDiffersFrom(other)
            | Expect::EtagDiffersWhenFormatDiffersFrom(other) = expect
            {
                templates.push(other.target);
            }
        }
        templates
    }

    /// Sends the request and checks every expectation; collects the images seen.
    pub async fn run(&self, target: &HttpTarget) -> (Verdict, Vec<SeenImage>) {
        let mut images = Vec::new();
        let answer = match fetch(target, &self.request).await {
            Ok(answer) => answer,
            Err(err) => {
                return (
                    Verdict::fail(self.request.to_string(), "an answer", err.to_string()),
                    images,
                );
            }
        };
        let exchange = self.judge.pick(&answer);
        if let Some(kind) = avatar_image::ImageFormat::sniff(&exchange.body) {
            images.push(SeenImage {
                label: self.request.to_string(),
                content_type: kind.mime_type().to_owned(),
                bytes: exchange.body.to_vec(),
            });
        }
        for expect in &self.expect {
            if let Err(got) = check(expect, &self.request, &answer, self.judge, target).await {
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

async fn fetch(target: &HttpTarget, request: &Req) -> Result<Answer, ConformanceError> {
    fetch_with(target, request, &[]).await
}

async fn fetch_with(
    target: &HttpTarget,
    request: &Req,
    extra: &[(String, String)],
) -> Result<Answer, ConformanceError> {
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
        .fetch(&method, &target.expand(request.target), &headers)
        .await
}

/// Checks one expectation against the judged answer of `answer`;
/// [`ConformanceError::Mismatch`] holds what came back instead.
#[expect(clippy::too_many_lines, reason = "one short arm per expectation")]
async fn check(
    expect: &Expect,
    request: &Req,
    answer: &Answer,
    judge: Judge,
    target: &HttpTarget,
) -> Result<(), ConformanceError> {
    let got = judge.pick(answer);
    let whole = || ConformanceError::Mismatch(answer.describe());
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
        Expect::SquareIn(sides) => ok(image::load_from_memory(&got.body)
            .is_ok_and(|image| image.width() == image.height() && sides.contains(&image.width()))),
        Expect::Solid => ok(image::load_from_memory(&got.body).is_ok_and(|image| {
            let image = image.to_rgba8();
            let first = image.get_pixel(0, 0).0;
            image
                .pixels()
                .all(|pixel| pixel.0.iter().zip(first).all(|(a, b)| a.abs_diff(b) <= 8))
        })),
        Expect::ShowsFixture(name) => ok(image::load_from_memory(&got.body)
            .is_ok_and(|image| fixture(name).is_some_and(|f| f.recognise(&image.to_rgb8())))),
        Expect::ColoursAcross(colours) => ok(image::load_from_memory(&got.body)
            .is_ok_and(|image| colours_across(&image.to_rgb8(), colours))),
        Expect::GifFrames(frames) => ok(gif_frames(&got.body) >= *frames),
        Expect::AnimatedFrames(frames) => {
            ok(gif_frames(&got.body).max(webp_frames(&got.body)) >= *frames)
        }
        Expect::SquareWithin(low, high) => {
            ok(image::load_from_memory(&got.body).is_ok_and(|image| {
                image.width() == image.height() && (*low..=*high).contains(&image.width())
            }))
        }
        Expect::BodyEmpty => ok(got.body.is_empty()),
        Expect::BodyShorterThan(limit) => ok(got.body.len() < *limit),
        Expect::BodyContains(text) => ok(String::from_utf8_lossy(&got.body).contains(text)),
        Expect::BodyLacks(text) => ok(!String::from_utf8_lossy(&got.body).contains(text)),
        Expect::BodyIsReason => ok(std::str::from_utf8(&got.body)
            .is_ok_and(|text| !text.trim().is_empty() && text.len() < 1000 && !text.contains('<'))),
        Expect::StrongEtag => ok(got
            .header("etag")
            .is_some_and(|tag| tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'))),
        Expect::MaxAge => ok(got
            .header("cache-control")
            .and_then(max_age)
            .is_some_and(|age| age > 0)),
        Expect::Location(location) => ok(got.header("location") == Some(expand(location).as_str())),
        Expect::NoOpenRedirect => match open_redirect(answer, target) {
            None => Ok(()),
            Some(reason) => Err(ConformanceError::Mismatch(format!(
                "{reason}\n{}",
                answer.describe()
            ))),
        },
        Expect::SameBodyAs(other)
        | Expect::DifferentBodyFrom(other)
        | Expect::SameEtagAs(other)
        | Expect::EtagDiffersFrom(other)
        | Expect::SameHeadersAs(other)
        | Expect::ShorterMaxAgeThan(other)
        | Expect::VaryWhenFormatDiffersFrom(other)
        | Expect::EtagDiffersWhenFormatDiffersFrom(other) => {
            let second_answer = fetch(target, other).await?;
            let second = judge.pick(&second_answer);
            let holds = match expect {
                Expect::SameBodyAs(_) => second.body == got.body,
                Expect::DifferentBodyFrom(_) => second.body != got.body,
                Expect::SameEtagAs(_) => {
                    got.header("etag").is_some() && second.header("etag") == got.header("etag")
                }
                Expect::EtagDiffersFrom(_) => match (got.header("etag"), second.header("etag")) {
                    (Some(mine), Some(theirs)) => mine != theirs,
                    _ => true,
                },
                Expect::VaryWhenFormatDiffersFrom(_) => {
                    !differ_in_format(got, second)
                        || (varies_with_accept(got) && varies_with_accept(second))
                }
                Expect::EtagDiffersWhenFormatDiffersFrom(_) => {
                    !differ_in_format(got, second)
                        || match (got.header("etag"), second.header("etag")) {
                            (Some(mine), Some(theirs)) => mine != theirs,
                            _ => true,
                        }
                }
                Expect::SameHeadersAs(_) => {
                    let strip = |exchange: &Exchange| {
                        let mut headers = exchange.headers.clone();
                        // Both change from one answer to the next by their nature.
                        headers.remove("date");
                        headers.remove("age");
                        headers
                    };
                    strip(second) == strip(got)
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
                    answer.describe(),
                    second_answer.describe()
                )))
            }
        }
        Expect::Revalidates => {
            let Some(etag) = got.header("etag") else {
                return Err(whole());
            };
            let again_answer = fetch_with(
                target,
                request,
                &[("if-none-match".to_owned(), etag.to_owned())],
            )
            .await?;
            let again = judge.pick(&again_answer);
            if again.status == 304 && again.body.is_empty() && again.header("etag") == Some(etag) {
                Ok(())
            } else {
                Err(ConformanceError::Mismatch(format!(
                    "with If-None-Match: {etag}: {}",
                    again_answer.describe()
                )))
            }
        }
    }
}

/// The pixels at 10 %, 50 % and 90 % of the width of the middle row, against `colours`.
fn colours_across(image: &image::RgbImage, colours: &[[u8; 3]; 3]) -> bool {
    let y = image.height() / 2;
    [10, 50, 90].iter().zip(colours).all(|(percent, colour)| {
        let x = (image.width() * percent / 100).min(image.width().saturating_sub(1));
        near(image.get_pixel(x, y).0, *colour)
    })
}

/// Why a chain redirects somewhere it must not, if it does: a `Location` that leaves the
/// target's origin for a URL the default trusted-URL rules do not allow, or that is not a URL.
fn open_redirect(answer: &Answer, target: &HttpTarget) -> Option<String> {
    let trusted = avatar_proto::TrustedUrls::default();
    answer.hops().enumerate().find_map(|(index, hop)| {
        let location = hop.exchange.header("location").or_else(|| {
            // A Location that is not even text is as bad as one that goes anywhere.
            hop.exchange
                .headers
                .get("location")
                .map(|_| "(not ASCII text)")
        })?;
        if target.is_same_origin(&hop.url, location) || trusted.redirect_target(location).is_some()
        {
            return None;
        }
        Some(format!(
            "hop {} ({}) redirects off the server to {location:?}, which is not a trusted URL",
            index + 1,
            hop.url
        ))
    })
}

/// A warning when `target` holds none, or only some, of the fixtures with an image: its hit
/// cases would fail for a reason that is not the server's. Each fixture is asked for once, at
/// 80 pixels with `d=404`, following same-origin redirects.
pub async fn fixtures_warning(target: &HttpTarget) -> Option<String> {
    let mut missing = Vec::new();
    let mut held = 0;
    for fixture in FIXTURES.iter().filter(|fixture| fixture.file.is_some()) {
        let request = format!("/avatar/{}?s=80&d=404", fixture.md5());
        let shown = match target.fetch(&Method::GET, &request, &[]).await {
            Ok(answer) => image::load_from_memory(&answer.last().body)
                .is_ok_and(|image| fixture.recognise(&image.to_rgb8())),
            Err(_) => false,
        };
        if shown {
            held += 1;
        } else {
            missing.push(fixture.identity);
        }
    }
    let load = "load them first: `avatar-conformance fixtures --out DIR` writes the images and \
                a manifest.json (`avatars import --manifest DIR/manifest.json` for this project's \
                server)";
    match (held, missing.is_empty()) {
        (_, true) => None,
        (0, false) => Some(format!(
            "the server holds none of the suite's fixtures, so every hit case will fail; {load}"
        )),
        _ => Some(format!(
            "the server does not hold the fixtures of {}: the hit cases for them will fail; {load}",
            missing.join(", ")
        )),
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

/// Whether two answers are in different formats, by their bytes.
fn differ_in_format(one: &Exchange, other: &Exchange) -> bool {
    avatar_image::ImageFormat::sniff(&one.body) != avatar_image::ImageFormat::sniff(&other.body)
}

/// Whether `Vary` lists `accept` (or is `*`).
fn varies_with_accept(exchange: &Exchange) -> bool {
    exchange
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|token| token == "*" || token.eq_ignore_ascii_case("accept"))
}

/// How many frames an animated WebP has (0 if it is not a WebP; 1 for a still one).
fn webp_frames(bytes: &[u8]) -> usize {
    use image::AnimationDecoder as _;
    image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_or(0, |decoder| {
        decoder.into_frames().take(1000).flatten().count()
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
