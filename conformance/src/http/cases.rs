//! The `libravatar-server` cases: every row of the decisions table in
//! `docs/protocol.md` section 2 and every rule of the API page.

use crate::case::{Case, Check, Group, Level};
use crate::fixtures::{BLUE, GREEN, RED};
use crate::http::{Expect, HttpCheck, Judge, Req};

use Expect::{
    AnimatedFrames, BodyEmpty, BodyIsReason, BodyLacks, BodyShorterThan, ColoursAcross,
    ContentLengthMatches, ContentType, ContentTypeFromBytes, DifferentBodyFrom, EtagDiffersFrom,
    EtagDiffersWhenFormatDiffersFrom, GifFrames, Header, HeaderPresent, Location, MaxAge,
    NoOpenRedirect, Revalidates, SameBodyAs, SameHeadersAs, ShorterMaxAgeThan, ShowsFixture,
    Square, SquareIn, SquareWithin, Status, StatusIn, StrongEtag, VaryWhenFormatDiffersFrom,
};
use Level::{Compat, Must, Should};

const SPEC: &str = "Libravatar API (wiki.libravatar.org/api)";
const HASH_FORM: &str = "docs/protocol.md [server.hash-form]";
const TRAILING_SLASH: &str = "docs/protocol.md [server.hash-form]; Gravatar and ivatar answer it";
const SIZE: &str = "docs/protocol.md [server.size]";
const DEFAULT: &str = "docs/protocol.md [server.default-keyword]";
const URL_DEFAULT: &str = "docs/protocol.md [server.default-url] (open redirect, CWE-601)";
const HEADERS: &str = "docs/protocol.md [server.headers]";
const METHODS: &str = "docs/protocol.md [server.methods]";
const RFC_HEAD: &str = "RFC 9110 9.3.2 (HEAD: the server MUST NOT send content)";
/// What a browser sends for an image (Chromium's `Accept`).
const BROWSER_ACCEPT: &[(&str, &str)] = &[(
    "accept",
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
)];
const JPEG_48: Req = Req::get("/avatar/{jpeg}?s=48");
const TRAVERSAL: &str = "RFC 3986 5.2.4 (dot segments); CWE-22 (path traversal)";

fn case(
    id: &'static str,
    level: Level,
    source: &'static str,
    title: &'static str,
    request: Req,
    expect: Vec<Expect>,
) -> Case {
    Case {
        id,
        group: Group::LibravatarServer,
        title,
        source,
        level,
        check: Check::Http(HttpCheck {
            request,
            expect,
            judge: Judge::Final,
        }),
    }
}

/// The same case judged on the first answer, not the end of the redirect chain: for rules
/// about the redirect itself.
fn first_hop(mut case: Case) -> Case {
    if let Check::Http(check) = &mut case.check {
        check.judge = Judge::FirstHop;
    }
    case
}

/// The Libravatar server cases, in report order.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "a table of cases reads best as one list"
)]
pub fn server_cases() -> Vec<Case> {
    const GEORGE_40: Req = Req::get("/avatar/{george}?s=40");
    const GEORGE_32: Req = Req::get("/avatar/{george}?s=32");
    const GEORGE_64: Req = Req::get("/avatar/{george}?s=64");
    const NOBODY_DEFAULT: Req = Req::get("/avatar/{nobody}?s=48");
    let mut cases = vec![
        // Hash form.
        case(
            "server-hash-md5",
            Must,
            SPEC,
            "an MD5 hash in lowercase hex finds the stored avatar",
            GEORGE_40,
            vec![
                Status(200),
                Square(40),
                ContentTypeFromBytes,
                ShowsFixture("george"),
            ],
        ),
        case(
            "server-hash-sha256",
            Must,
            SPEC,
            "the SHA-256 of the same email gives the same image",
            Req::get("/avatar/{george.sha256}?s=40"),
            vec![Status(200), SameBodyAs(GEORGE_40)],
        ),
        case(
            "server-hash-uppercase",
            Should,
            HASH_FORM,
            "uppercase hex is accepted and normalised",
            Req::get("/avatar/{george.MD5}?s=40"),
            vec![Status(200), SameBodyAs(GEORGE_40)],
        ),
        case(
            "server-hash-suffix-png",
            Compat,
            HASH_FORM,
            "a .png suffix finds the same avatar (in any format)",
            Req::get("/avatar/{george}.png?s=40"),
            vec![Status(200), Square(40), ShowsFixture("george")],
        ),
        case(
            "server-hash-suffix-jpg",
            Compat,
            HASH_FORM,
            "a .jpg suffix finds the same avatar (in any format)",
            Req::get("/avatar/{george}.jpg?s=40"),
            vec![Status(200), Square(40), ShowsFixture("george")],
        ),
        case(
            "server-hash-suffix-jpeg",
            Compat,
            HASH_FORM,
            "a .jpeg suffix finds the same avatar (in any format)",
            Req::get("/avatar/{george}.jpeg?s=40"),
            vec![Status(200), Square(40), ShowsFixture("george")],
        ),
        case(
            "server-hash-suffix-gif",
            Compat,
            HASH_FORM,
            "a .gif suffix finds the same avatar (in any format)",
            Req::get("/avatar/{george}.gif?s=40"),
            vec![Status(200), Square(40), ShowsFixture("george")],
        ),
        case(
            "server-hash-suffix-webp",
            Compat,
            HASH_FORM,
            "a .webp suffix finds the same avatar (in any format)",
            Req::get("/avatar/{george}.webp?s=40"),
            vec![Status(200), Square(40), ShowsFixture("george")],
        ),
        case(
            "server-hash-trailing-slash",
            Compat,
            TRAILING_SLASH,
            "a trailing slash finds the same avatar (django-avatar asks /avatar/HASH/?s=N)",
            Req::get("/avatar/{george}/?s=40"),
            vec![Status(200), Square(40), ShowsFixture("george")],
        ),
        case(
            "server-hash-short",
            Should,
            HASH_FORM,
            "a hash of 3 digits is refused with 400 and a plain-text reason",
            Req::get("/avatar/abc"),
            vec![Status(400), ContentType("text/plain"), BodyShorterThan(400)],
        ),
        case(
            "server-hash-31-digits",
            Should,
            HASH_FORM,
            "31 hex digits are refused with 400",
            Req::get("/avatar/40f8d096a3777232204cb3f796c577b"),
            vec![Status(400)],
        ),
        case(
            "server-hash-non-hex",
            Should,
            HASH_FORM,
            "32 characters that are not hex are refused with 400",
            Req::get("/avatar/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            vec![Status(400)],
        ),
        case(
            "server-hash-unknown-suffix",
            Should,
            HASH_FORM,
            "an unknown suffix (.bmp) is refused with 400",
            Req::get("/avatar/{george}.bmp"),
            vec![Status(400)],
        ),
        case(
            "server-hash-extra-segment",
            Should,
            HASH_FORM,
            "a path below the hash is refused, not served",
            Req::get("/avatar/{george}/extra"),
            vec![StatusIn(&[400, 404])],
        ),
        case(
            "server-hash-traversal",
            Must,
            TRAVERSAL,
            "../ in the path never reaches the filesystem",
            Req::get("/avatar/../../etc/passwd"),
            vec![BodyLacks("root:"), NoOpenRedirect],
        ),
        case(
            "server-hash-traversal-encoded",
            Must,
            TRAVERSAL,
            "percent-encoded ../ never reaches the filesystem either",
            Req::get("/avatar/..%2F..%2Fetc%2Fpasswd"),
            vec![BodyLacks("root:"), NoOpenRedirect],
        ),
        case(
            "server-hash-reason",
            Should,
            HASH_FORM,
            "the 400 says why, in a short plain text",
            Req::get("/avatar/abc"),
            vec![Status(400), BodyIsReason],
        ),
        // Size.
        case(
            "server-size-default",
            Must,
            SPEC,
            "without s the image is 80 x 80",
            Req::get("/avatar/{george}"),
            vec![Status(200), Square(80)],
        ),
        case(
            "server-size-1",
            Must,
            SPEC,
            "s=1 gives 1 x 1",
            Req::get("/avatar/{george}?s=1"),
            vec![Status(200), Square(1)],
        ),
        case(
            "server-size-512",
            Must,
            SPEC,
            "s=512 gives 512 x 512",
            Req::get("/avatar/{george}?s=512"),
            vec![Status(200), Square(512)],
        ),
        case(
            "server-size-long-name",
            Must,
            SPEC,
            "size= works like s=",
            Req::get("/avatar/{george}?size=200"),
            vec![Status(200), Square(200)],
        ),
        case(
            "server-size-out-of-range",
            Must,
            "Libravatar API: sizes outside 1..512 \"will be ignored\" (80) or clamped (512)",
            "s=1000 gives the default 80 x 80 or the largest 512 x 512",
            Req::get("/avatar/{george}?s=1000"),
            vec![Status(200), SquareIn(&[80, 512])],
        ),
        case(
            "server-size-clamp",
            Should,
            SIZE,
            "s above the maximum is clamped to 512",
            Req::get("/avatar/{george}?s=1000"),
            vec![Status(200), Square(512)],
        ),
        case(
            "server-size-zero",
            Should,
            SIZE,
            "s=0 means the default 80",
            Req::get("/avatar/{george}?s=0"),
            vec![Status(200), Square(80)],
        ),
        case(
            "server-size-negative",
            Should,
            SIZE,
            "a negative s means 80",
            Req::get("/avatar/{george}?s=-4"),
            vec![Status(200), Square(80)],
        ),
        case(
            "server-size-non-numeric",
            Should,
            SIZE,
            "a non-numeric s means 80",
            Req::get("/avatar/{george}?s=big"),
            vec![Status(200), Square(80)],
        ),
        case(
            "server-size-empty",
            Should,
            SIZE,
            "an empty s means 80",
            Req::get("/avatar/{george}?s="),
            vec![Status(200), Square(80)],
        ),
        case(
            "server-size-precedence",
            Should,
            SIZE,
            "size wins over s",
            Req::get("/avatar/{george}?s=20&size=30"),
            vec![Status(200), Square(30)],
        ),
        case(
            "server-size-empty-long-name",
            Should,
            SIZE,
            "an empty size= is absent, so s applies",
            Req::get("/avatar/{george}?size=&s=40"),
            vec![Status(200), Square(40)],
        ),
        case(
            "server-size-upscale",
            Should,
            "docs/protocol.md [server.hit]",
            "a 20 px image is upscaled to exactly the requested size",
            Req::get("/avatar/{small}?s=100"),
            vec![Status(200), Square(100), ShowsFixture("small")],
        ),
        // Hits.
        case(
            "server-hit-centre-crop",
            Should,
            "docs/protocol.md [server.hit]",
            "a 300 x 200 image is cropped to its centred square (red, green, blue across)",
            Req::get("/avatar/{george}?s=50"),
            vec![Status(200), Square(50), ColoursAcross([RED, GREEN, BLUE])],
        ),
        case(
            "server-hit-jpeg",
            Should,
            "docs/protocol.md [server.hit]",
            "a stored JPEG is served as JPEG at the size",
            Req::get("/avatar/{jpeg}?s=70"),
            vec![
                Status(200),
                ContentType("image/jpeg"),
                Square(70),
                ShowsFixture("jpeg"),
            ],
        ),
        case(
            "server-hit-animated-gif",
            Should,
            "docs/protocol.md [server.hit]",
            "an animated GIF stays animated",
            Req::get("/avatar/{animated}?s=90"),
            vec![
                Status(200),
                ContentType("image/gif"),
                Square(90),
                GifFrames(3),
            ],
        ),
        case(
            "server-hit-type-from-bytes",
            Should,
            HEADERS,
            "Content-Type follows the bytes, not the .png suffix",
            Req::get("/avatar/{jpeg}.png?s=40"),
            vec![Status(200), ContentTypeFromBytes],
        ),
        case(
            "server-openid",
            Must,
            SPEC,
            "an OpenID URL's SHA-256 finds its avatar",
            Req::get("/avatar/{openid.sha256}?s=64&d=404"),
            vec![Status(200), Square(64), ShowsFixture("openid")],
        ),
        case(
            "server-openid-http",
            Compat,
            "ivatar: four variants per OpenID",
            "the http:// variant of a stored OpenID resolves",
            Req::get("/avatar/{openid-http.sha256}?s=64&d=404"),
            vec![
                Status(200),
                SameBodyAs(Req::get("/avatar/{openid.sha256}?s=64&d=404")),
            ],
        ),
        case(
            "server-openid-slash",
            Compat,
            "ivatar: four variants per OpenID",
            "the trailing-slash variant resolves",
            Req::get("/avatar/{openid-slash.sha256}?s=64&d=404"),
            vec![
                Status(200),
                SameBodyAs(Req::get("/avatar/{openid.sha256}?s=64&d=404")),
            ],
        ),
        case(
            "server-openid-http-slash",
            Compat,
            "ivatar: four variants per OpenID",
            "the http:// trailing-slash variant resolves",
            Req::get("/avatar/{openid-http-slash.sha256}?s=64&d=404"),
            vec![
                Status(200),
                SameBodyAs(Req::get("/avatar/{openid.sha256}?s=64&d=404")),
            ],
        ),
        // Defaults.
        case(
            "server-default-404",
            Must,
            SPEC,
            "d=404 on a miss gives status 404",
            Req::get("/avatar/{nobody}?d=404"),
            vec![Status(404)],
        ),
        case(
            "server-default-404-body",
            Should,
            "docs/protocol.md [server.default-404]",
            "the 404 is a short plain-text body",
            Req::get("/avatar/{nobody}?d=404"),
            vec![Status(404), ContentType("text/plain"), BodyShorterThan(200)],
        ),
        case(
            "server-default-404-long-name",
            Must,
            SPEC,
            "default=404 works like d=404",
            Req::get("/avatar/{nobody}?default=404"),
            vec![Status(404)],
        ),
    ];
    // Each keyword names its own image: a 48 x 48 picture that is not the one another keyword
    // gives (a server that honours no keyword serves one picture for all and fails here).
    macro_rules! keyword {
        ($id:literal, $keyword:literal, $other:literal) => {
            case(
                $id,
                Must,
                SPEC,
                concat!(
                    "d=",
                    $keyword,
                    " gives its own 48 x 48 image on a miss (not d=",
                    $other,
                    "'s)"
                ),
                Req::get(concat!("/avatar/{nobody}?s=48&d=", $keyword)),
                vec![
                    Status(200),
                    Square(48),
                    ContentTypeFromBytes,
                    DifferentBodyFrom(Req::get(concat!("/avatar/{nobody}?s=48&d=", $other))),
                ],
            )
        };
    }
    cases.extend([
        keyword!("server-default-mp", "mp", "identicon"),
        keyword!("server-default-mm", "mm", "identicon"),
        keyword!("server-default-identicon", "identicon", "mp"),
        keyword!("server-default-monsterid", "monsterid", "identicon"),
        keyword!("server-default-wavatar", "wavatar", "identicon"),
        keyword!("server-default-retro", "retro", "identicon"),
        keyword!("server-default-robohash", "robohash", "identicon"),
        keyword!("server-default-pagan", "pagan", "identicon"),
    ]);
    cases.extend([
        case(
            "server-default-blank",
            Compat,
            "Gravatar; docs/protocol.md [server.default-drawn]",
            "d=blank gives a 48 x 48 image",
            Req::get("/avatar/{nobody}?s=48&d=blank"),
            vec![Status(200), Square(48)],
        ),
        case(
            "server-default-color",
            Compat,
            "Gravatar (d=color); docs/protocol.md [server.default-color]",
            "d=color gives a 48 x 48 square of one colour",
            Req::get("/avatar/{nobody}?s=48&d=color"),
            vec![Status(200), Square(48), Expect::Solid],
        ),
        case(
            "server-default-deterministic",
            Should,
            DEFAULT,
            "a generated default is the same every time",
            Req::get("/avatar/{nobody}?s=64&d=identicon"),
            vec![
                Status(200),
                SameBodyAs(Req::get("/avatar/{nobody}?s=64&d=identicon")),
            ],
        ),
        case(
            "server-default-per-hash",
            Should,
            DEFAULT,
            "generated defaults differ between hashes",
            Req::get("/avatar/{nobody}?s=64&d=identicon"),
            vec![
                Status(200),
                DifferentBodyFrom(Req::get("/avatar/{stranger}?s=64&d=identicon")),
            ],
        ),
        case(
            "server-default-robohash-set",
            Compat,
            SPEC,
            "robohash=set2 picks another robot set",
            Req::get("/avatar/{nobody}?s=50&d=robohash&robohash=set2"),
            vec![
                Status(200),
                Square(50),
                DifferentBodyFrom(Req::get("/avatar/{nobody}?s=50&d=robohash&robohash=set1")),
            ],
        ),
        case(
            "server-default-precedence",
            Should,
            DEFAULT,
            "default wins over d",
            Req::get("/avatar/{nobody}?d=mp&default=404"),
            vec![Status(404)],
        ),
        case(
            "server-default-empty",
            Should,
            DEFAULT,
            "an empty default= is absent, so d applies",
            Req::get("/avatar/{nobody}?default=&d=404"),
            vec![Status(404)],
        ),
        case(
            "server-default-unknown",
            Should,
            DEFAULT,
            "an unknown keyword is absent: the server's own default",
            Req::get("/avatar/{nobody}?s=48&d=NOTFOUND"),
            vec![Status(200), Square(48), SameBodyAs(NOBODY_DEFAULT)],
        ),
        case(
            "server-default-case",
            Should,
            DEFAULT,
            "keywords are lowercase: d=Identicon is unknown",
            Req::get("/avatar/{nobody}?s=48&d=Identicon"),
            vec![Status(200), SameBodyAs(NOBODY_DEFAULT)],
        ),
        case(
            "server-miss-no-default",
            Should,
            "docs/protocol.md [server.miss]",
            "a miss without d ends in one 200 image at the size",
            NOBODY_DEFAULT,
            vec![Status(200), Square(48)],
        ),
        // forcedefault.
        case(
            "server-forcedefault",
            Must,
            SPEC,
            "f=y shows the default even though an avatar is stored",
            Req::get("/avatar/{george}?s=32&f=y"),
            vec![Status(200), DifferentBodyFrom(GEORGE_32)],
        ),
        case(
            "server-forcedefault-long-name",
            Must,
            SPEC,
            "forcedefault=y with d=404 gives 404 for a stored avatar",
            Req::get("/avatar/{george}?forcedefault=y&d=404"),
            vec![Status(404)],
        ),
        case(
            "server-forcedefault-only-y",
            Should,
            "docs/protocol.md [server.forcedefault]",
            "f=Y is not y: the stored avatar is served",
            Req::get("/avatar/{george}?s=32&f=Y"),
            vec![Status(200), SameBodyAs(GEORGE_32)],
        ),
        case(
            "server-forcedefault-true",
            Should,
            "docs/protocol.md [server.forcedefault]",
            "f=true is not y either",
            Req::get("/avatar/{george}?s=32&f=true"),
            vec![Status(200), SameBodyAs(GEORGE_32)],
        ),
        // URL defaults.
        first_hop(case(
            "server-url-default-trusted",
            Should,
            URL_DEFAULT,
            "a trusted Gravatar URL is a 302 with the decoded URL",
            Req::get(
                "/avatar/{nobody}?d=https%3A%2F%2Fsecure.gravatar.com%2Favatar%2Fabc%3Fs%3D80",
            ),
            vec![
                Status(302),
                Location("https://secure.gravatar.com/avatar/abc?s=80"),
            ],
        )),
        first_hop(case(
            "server-url-default-relative",
            Should,
            URL_DEFAULT,
            "a relative path is a 302, percent-encoded",
            Req::get("/avatar/{nobody}?d=%2Fstatic%2Fno%20body.png"),
            vec![Status(302), Location("/static/no%20body.png")],
        )),
    ]);
    // The API lets `d` name any URL, so refusing untrusted targets is a decision (ivatar's and
    // ours, against CWE-601): SHOULD. A CR LF reaching a header breaks HTTP itself: MUST.
    // Every hop of the chain is judged, so a same-origin redirect that ends off-site fails too.
    macro_rules! hostile {
        ($id:literal, $title:literal, $query:literal) => {
            hostile!($id, Should, URL_DEFAULT, $title, $query)
        };
        ($id:literal, $level:expr, $source:expr, $title:literal, $query:literal) => {
            case(
                $id,
                $level,
                $source,
                $title,
                Req::get(concat!("/avatar/{nobody}?", $query)),
                vec![NoOpenRedirect],
            )
        };
    }
    cases.extend([
        hostile!(
            "server-url-default-protocol-relative",
            "//evil.example/x is not followed",
            "d=%2F%2Fevil.example%2Fx"
        ),
        hostile!(
            "server-url-default-untrusted",
            "an untrusted host is not followed",
            "d=https%3A%2F%2Fevil.example%2Favatar%2F"
        ),
        hostile!(
            "server-url-default-javascript",
            "javascript: is not followed",
            "d=javascript%3Aalert(1)"
        ),
        hostile!(
            "server-url-default-backslash",
            "/\\evil.example is not followed",
            "d=%2F%5Cevil.example"
        ),
        hostile!(
            "server-url-default-userinfo",
            "gravatar.com@evil.example is not followed",
            "d=https%3A%2F%2Fgravatar.com%40evil.example%2Favatar%2F"
        ),
        hostile!(
            "server-url-default-crlf",
            Must,
            "RFC 9110 5.5 (CR and LF are invalid in a field value)",
            "a CR LF in the URL never reaches a header",
            "d=https%3A%2F%2Fgravatar.com%2Favatar%2F%0D%0ASet-Cookie%3A%20x"
        ),
        hostile!(
            "server-url-default-data",
            "data: is not followed",
            "d=data%3Atext%2Fhtml%2C%3Cscript%3E"
        ),
        hostile!(
            "server-url-default-suffix-trick",
            "gravatar.com.evil.example is not gravatar.com",
            "d=https%3A%2F%2Fgravatar.com.evil.example%2Favatar%2F"
        ),
        hostile!(
            "server-url-default-mixed-case-scheme",
            "JaVaScRiPt: is not followed either",
            "d=JaVaScRiPt%3Aalert(1)"
        ),
    ]);
    cases.extend([
        // Headers.
        case(
            "server-header-content-length",
            Must,
            "RFC 9110",
            "Content-Length equals the body's length",
            GEORGE_64,
            vec![Status(200), ContentLengthMatches],
        ),
        case(
            "server-header-etag",
            Should,
            HEADERS,
            "a strong ETag",
            GEORGE_64,
            vec![StrongEtag],
        ),
        case(
            "server-header-cache-control",
            Should,
            HEADERS,
            "Cache-Control with a max-age",
            GEORGE_64,
            vec![MaxAge],
        ),
        case(
            "server-header-cors",
            Should,
            HEADERS,
            "Access-Control-Allow-Origin: *",
            GEORGE_64,
            vec![Header("access-control-allow-origin", "*")],
        ),
        case(
            "server-header-corp",
            Should,
            HEADERS,
            "Cross-Origin-Resource-Policy: cross-origin (a cross-origin isolated page may show it)",
            GEORGE_64,
            vec![Header("cross-origin-resource-policy", "cross-origin")],
        ),
        case(
            "server-header-nosniff",
            Should,
            HEADERS,
            "X-Content-Type-Options: nosniff",
            GEORGE_64,
            vec![Header("x-content-type-options", "nosniff")],
        ),
        case(
            "server-header-stable",
            Should,
            "RFC 9111 4.3.4 (a cache keeps the stored headers current)",
            "the same request twice gets the same headers (a cached answer keeps Cache-Control)",
            GEORGE_64,
            vec![Status(200), SameHeadersAs(GEORGE_64)],
        ),
        case(
            "server-header-default-max-age",
            Should,
            HEADERS,
            "defaults are cached for less time than hits",
            Req::get("/avatar/{nobody}?s=64&d=identicon"),
            vec![MaxAge, ShorterMaxAgeThan(GEORGE_64)],
        ),
        case(
            "server-header-default-headers",
            Should,
            HEADERS,
            "a generated default carries the same headers as a hit",
            Req::get("/avatar/{nobody}?s=64&d=identicon"),
            vec![
                ContentTypeFromBytes,
                ContentLengthMatches,
                StrongEtag,
                Header("access-control-allow-origin", "*"),
                Header("x-content-type-options", "nosniff"),
            ],
        ),
        // Conditional requests.
        case(
            "server-conditional-hit",
            Should,
            "docs/protocol.md [server.conditional]",
            "If-None-Match with the ETag gives 304 and no body",
            GEORGE_64,
            vec![Status(200), Revalidates],
        ),
        case(
            "server-conditional-default",
            Should,
            "docs/protocol.md [server.conditional]",
            "a generated default revalidates too",
            Req::get("/avatar/{nobody}?s=64&d=identicon"),
            vec![Status(200), Revalidates],
        ),
        case(
            "server-conditional-mismatch",
            Must,
            "RFC 9110",
            "a different ETag in If-None-Match gives the full 200",
            GEORGE_64.headers(&[("if-none-match", "\"not-this-one\"")]),
            vec![Status(200), SameBodyAs(GEORGE_64)],
        ),
        case(
            "server-etag-per-size",
            Should,
            "RFC 9110 8.8.3 (an entity tag tells representations apart)",
            "another size is another representation: another ETag, when ETags are sent",
            Req::get("/avatar/{george}?s=65"),
            vec![EtagDiffersFrom(GEORGE_64)],
        ),
        // Methods.
        case(
            "server-method-head",
            Must,
            RFC_HEAD,
            "HEAD is answered like GET, with no body",
            Req::with_method("HEAD", "/avatar/{george}?s=64"),
            vec![Status(200), BodyEmpty],
        ),
        case(
            "server-method-head-headers",
            Should,
            "RFC 9110 9.3.2 (the server SHOULD send the same header fields as for GET)",
            "HEAD carries GET's headers",
            Req::with_method("HEAD", "/avatar/{george}?s=64"),
            vec![SameHeadersAs(GEORGE_64)],
        ),
        case(
            "server-method-options",
            Compat,
            METHODS,
            "OPTIONS is answered with an Allow header (methods or default keywords)",
            Req::with_method("OPTIONS", "/avatar/{george}"),
            vec![StatusIn(&[200, 204]), HeaderPresent("allow")],
        ),
    ]);
    macro_rules! refused_method {
        ($id:literal, $method:literal) => {
            case(
                $id,
                Should,
                METHODS,
                concat!($method, " gets 405 with Allow"),
                Req::with_method($method, "/avatar/{george}"),
                vec![Status(405), HeaderPresent("allow")],
            )
        };
    }
    cases.extend([
        refused_method!("server-method-post", "POST"),
        refused_method!("server-method-put", "PUT"),
        refused_method!("server-method-delete", "DELETE"),
        refused_method!("server-method-patch", "PATCH"),
    ]);
    cases.extend([
        case(
            "server-params-unknown",
            Must,
            SPEC,
            "r, rating and unknown parameters are ignored",
            Req::get("/avatar/{george}?s=40&r=x&rating=pg&foo=bar"),
            vec![Status(200), SameBodyAs(GEORGE_40)],
        ),
        case(
            "server-params-case-sensitive",
            Should,
            "docs/protocol.md [server.other-params]",
            "S=99 is an unknown parameter, not s",
            Req::get("/avatar/{george}?s=40&S=99"),
            vec![Status(200), Square(40)],
        ),
    ]);
    cases.extend(format_cases());
    cases.extend(gravatar_cases());
    cases
}

/// `[server.format]`: an extension names the format; `Accept` may choose another; either way
/// the answer is correct, animations stay animated, and caches can tell the formats apart.
/// A server that always answers in the stored format passes every case but the extension ones.
fn format_cases() -> Vec<Case> {
    let accept_webp = JPEG_48.headers(BROWSER_ACCEPT);
    vec![
        case(
            "server-format-extension-png",
            Compat,
            "Gravatar (a .png or .jpg on the hash); docs/protocol.md [server.format]",
            "HASH.png answers a PNG, of the stored picture",
            Req::get("/avatar/{jpeg}.png?s=48"),
            vec![
                Status(200),
                ContentType("image/png"),
                ContentTypeFromBytes,
                Square(48),
                ShowsFixture("jpeg"),
            ],
        ),
        case(
            "server-format-extension-webp",
            Compat,
            "Gravatar (WebP); docs/protocol.md [server.format]",
            "HASH.webp answers a WebP, of the stored picture",
            Req::get("/avatar/{jpeg}.webp?s=48"),
            vec![
                Status(200),
                ContentType("image/webp"),
                ContentTypeFromBytes,
                Square(48),
                ShowsFixture("jpeg"),
            ],
        ),
        case(
            "server-format-accept-answers",
            Must,
            "Libravatar API (a hit is the stored picture); RFC 9110 12.5.1 (Accept is a preference)",
            "a browser's Accept gets the stored picture, in a format the bytes declare",
            accept_webp,
            vec![
                Status(200),
                ContentTypeFromBytes,
                Square(48),
                ShowsFixture("jpeg"),
            ],
        ),
        case(
            "server-format-vary",
            Should,
            "RFC 9110 12.5.5 (Vary names what chose the representation)",
            "an answer whose format follows Accept says Vary: accept",
            accept_webp,
            vec![VaryWhenFormatDiffersFrom(JPEG_48)],
        ),
        case(
            "server-format-etag",
            Should,
            "RFC 9110 8.8.3 (an entity tag tells representations apart)",
            "another format is another representation: another ETag",
            accept_webp,
            vec![EtagDiffersWhenFormatDiffersFrom(JPEG_48)],
        ),
        case(
            "server-format-conditional",
            Should,
            "docs/protocol.md [server.conditional]",
            "a negotiated answer revalidates with its own ETag",
            accept_webp,
            vec![Status(200), Revalidates],
        ),
        case(
            "server-format-animated-extension",
            Should,
            "docs/protocol.md [server.hit] (animations stay animated)",
            "HASH.webp of an animated GIF is still animated (as WebP, or GIF)",
            Req::get("/avatar/{animated}.webp?s=40"),
            vec![
                Status(200),
                ContentTypeFromBytes,
                Square(40),
                AnimatedFrames(3),
            ],
        ),
        case(
            "server-format-animated-accept",
            Should,
            "docs/protocol.md [server.hit] (animations stay animated)",
            "an animated GIF stays animated whatever Accept lists",
            Req::get("/avatar/{animated}?s=40").headers(BROWSER_ACCEPT),
            vec![
                Status(200),
                ContentTypeFromBytes,
                Square(40),
                AnimatedFrames(3),
            ],
        ),
    ]
}

/// What Gravatar documents beyond the Libravatar API, which sites moving from Gravatar send.
fn gravatar_cases() -> Vec<Case> {
    vec![
        case(
            "server-size-gravatar-max",
            Compat,
            "Gravatar (sizes up to 2048); docs/protocol.md [server.size]",
            "s=2048 gives a square of 512 (the Libravatar maximum) to 2048 pixels",
            Req::get("/avatar/{george}?s=2048"),
            vec![Status(200), SquareWithin(512, 2048)],
        ),
        case(
            "server-default-initials",
            Compat,
            "Gravatar (d=initials with name=); docs/protocol.md [server.default-initials]",
            "d=initials&name=... draws a 64 x 64 picture that differs between names",
            Req::get("/avatar/{nobody}?s=64&d=initials&name=Jane+Doe"),
            vec![
                Status(200),
                ContentTypeFromBytes,
                Square(64),
                DifferentBodyFrom(Req::get("/avatar/{nobody}?s=64&d=initials&name=Kim+Lee")),
            ],
        ),
        case(
            "server-default-initials-given",
            Compat,
            "Gravatar (initials= wins over name=); docs/protocol.md [server.default-initials]",
            "initials=JD draws what name=Jane Doe draws",
            Req::get("/avatar/{nobody}?s=64&d=initials&initials=JD&name=Kim+Lee"),
            vec![
                Status(200),
                SameBodyAs(Req::get("/avatar/{nobody}?s=64&d=initials&name=Jane+Doe")),
            ],
        ),
    ]
}
