//! Servers that are correct but different, which the suite must pass with no MUST failure, and
//! servers that are wrong in one way, which must fail on exactly the cases for that behaviour.
//! Each is this project's service over TCP with one behaviour changed, modelled on what real
//! servers were measured doing (ivatar's `/gravatarproxy/` chain, redirects to static default
//! images, no ETag, `s` out of range ignored rather than clamped).

use std::collections::BTreeSet;

use avatar_conformance::fixtures::{FIXTURES, fixture};
use avatar_conformance::{Group, HttpTarget, Level, Report, Targets, Verdict};
use avatar_proto::DefaultKeyword;
use axum::body::Body;
use http::{HeaderMap, Request, Response};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// What a stand-in does with a request.
pub(crate) enum Altered {
    /// Pass it (perhaps changed) to this project's service.
    Forward(Request<Body>),
    /// Answer it without the service.
    Answer(Response<Body>),
}

/// Serves this project's service (with the fixtures, or with nothing when `empty`) over TCP:
/// `alter` sees every request first, `edit` every forwarded answer's headers.
pub(crate) async fn stand_in(
    alter: fn(Request<Body>) -> Altered,
    edit: fn(&mut HeaderMap),
    empty: bool,
) -> String {
    let service = if empty {
        avatar_service::AvatarService::new(avatar_store::MemoryStore::new())
    } else {
        let HttpTarget::InProcess(service) = HttpTarget::in_process().await.unwrap() else {
            unreachable!("in_process gives the in-process target")
        };
        service
    };
    let handler = tower::service_fn(move |request: Request<Body>| {
        let service = service.clone();
        async move {
            let request = match alter(request) {
                Altered::Forward(request) => request,
                Altered::Answer(response) => return Ok::<_, std::convert::Infallible>(response),
            };
            let Ok(response) = service.oneshot(request).await;
            let mut response = response.map(Body::new);
            edit(response.headers_mut());
            Ok(response)
        }
    });
    let router = axum::Router::new().fallback_service(handler);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Headers as the service sends them.
pub(crate) fn unchanged(_: &mut HeaderMap) {}

/// The server group against a stand-in.
pub(crate) async fn server_report(url: &str) -> Report {
    let mut targets = Targets {
        http: Some(HttpTarget::url(url).unwrap()),
        ..Targets::default()
    };
    avatar_conformance::run(
        &avatar_conformance::all_cases(),
        &mut targets,
        &[Group::LibravatarServer],
        avatar_conformance::Progress::Quiet,
    )
    .await
    .unwrap()
}

/// Asserts that `report` has no MUST failure, printing the summary when it has.
pub(crate) fn assert_no_must_failure(report: &Report, what: &str) {
    let must: Vec<_> = report
        .failures_at_least(Level::Must)
        .map(|outcome| outcome.id)
        .collect();
    assert!(
        must.is_empty(),
        "MUST failures for {what}: {must:?}\n{}",
        avatar_conformance::report::summary(report)
    );
}

pub(crate) fn failed(report: &Report) -> BTreeSet<&'static str> {
    report
        .outcomes
        .iter()
        .filter(|outcome| matches!(outcome.verdict, Verdict::Fail { .. }))
        .map(|outcome| outcome.id)
        .collect()
}

/// What `id` got back, when it failed.
fn got(report: &Report, id: &str) -> String {
    report
        .outcomes
        .iter()
        .find_map(|outcome| match &outcome.verdict {
            Verdict::Fail { got, .. } if outcome.id == id => Some(got.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{id} did not fail"))
}

/// The hashes (lowercase hex) the fixture store answers for: what a stand-in treats as hits.
fn is_stored(hash: &str) -> bool {
    FIXTURES.iter().any(|candidate| {
        let stored = candidate.file.is_some()
            || candidate
                .variant_of
                .and_then(fixture)
                .is_some_and(|original| original.file.is_some());
        stored && (candidate.md5() == hash || candidate.sha256() == hash)
    })
}

/// The query's value for `name`, decoded.
fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The hash of an `/avatar/HASH[.ext]` path, lowercased.
fn hash_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/avatar/")?;
    let hash = rest.split('.').next().unwrap_or(rest);
    Some(hash.to_ascii_lowercase())
}

fn redirect(status: u16, location: &str) -> Altered {
    Altered::Answer(
        Response::builder()
            .status(status)
            .header("location", location)
            .body(Body::empty())
            .unwrap(),
    )
}

fn forward(mut request: Request<Body>, path_and_query: &str) -> Altered {
    *request.uri_mut() = path_and_query.parse().unwrap();
    Altered::Forward(request)
}

/// A size this server honours: 1..=512; anything else is ignored (the default, 80), as the API
/// page allows.
fn size_of(query: &str) -> u32 {
    let size = param(query, "size")
        .filter(|size| !size.is_empty())
        .or_else(|| param(query, "s"));
    size.and_then(|size| size.parse().ok())
        .filter(|size| (1..=512).contains(size))
        .unwrap_or(80)
}

/// ivatar's and microavatar's shape: a miss, or `f=y`, is a `302 /gravatarproxy/HASH?...`; there
/// a drawn keyword is a `307` to a static image of it, anything else is answered as usual.
/// Sizes out of range are ignored (80), not clamped.
fn redirecting_defaults(request: Request<Body>) -> Altered {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    if let Some(rest) = path.strip_prefix("/static/defaults/") {
        // /static/defaults/KEYWORD/HASH/SIZE.png
        let parts: Vec<&str> = rest.split('/').collect();
        if let [keyword, hash, file] = parts[..] {
            let size = file.trim_end_matches(".png");
            return forward(request, &format!("/avatar/{hash}?s={size}&d={keyword}&f=y"));
        }
    }
    if let Some(hash) = path.strip_prefix("/gravatarproxy/") {
        let default = param(&query, "default")
            .filter(|value| !value.is_empty())
            .or_else(|| param(&query, "d"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if DefaultKeyword::parse(&default, None).is_some_and(DefaultKeyword::is_drawn) {
            let size = size_of(&query);
            return redirect(
                307,
                &format!("/static/defaults/{default}/{hash}/{size}.png"),
            );
        }
        return forward(request, &format!("/avatar/{hash}?{query}"));
    }
    let Some(hash) = hash_of(&path) else {
        return Altered::Forward(request);
    };
    let forced = param(&query, "f").as_deref() == Some("y")
        || param(&query, "forcedefault").as_deref() == Some("y");
    if !is_stored(&hash) || forced {
        return redirect(302, &format!("/gravatarproxy/{hash}?{query}"));
    }
    // A hit: out-of-range sizes are ignored.
    let size = size_of(&query);
    let kept: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key != "s" && key != "size")
        .map(|(key, value)| {
            format!(
                "{key}={}",
                form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            )
        })
        .chain(std::iter::once(format!("s={size}")))
        .collect();
    forward(request, &format!("{path}?{}", kept.join("&")))
}

/// No `ETag` at all, and `Cache-Control` worded otherwise (`public, must-revalidate`, which
/// RFC 9111 allows and this project does not send).
fn no_etag_other_wording(headers: &mut HeaderMap) {
    headers.remove("etag");
    if let Some(value) = headers
        .get("cache-control")
        .and_then(|value| value.to_str().ok())
    {
        let other = format!("public, must-revalidate, {value}");
        headers.insert("cache-control", other.parse().unwrap());
    }
}

#[tokio::test]
async fn a_correct_server_that_redirects_defaults_and_sends_no_etag_passes_every_must() {
    let url = stand_in(redirecting_defaults, no_etag_other_wording, false).await;
    // It does redirect: a keyword on a miss is two hops away from its image.
    let first = HttpTarget::url(&url)
        .unwrap()
        .send(
            &http::Method::GET,
            &format!(
                "/avatar/{}?s=48&d=identicon",
                fixture("nobody").unwrap().md5()
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(first.status, 302);
    assert!(
        first
            .header("location")
            .unwrap()
            .starts_with("/gravatarproxy/")
    );
    let report = server_report(&url).await;
    assert_no_must_failure(&report, "a correct server");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // What differs is reported where the project's own choices are stated.
    let failed = failed(&report);
    for id in [
        "server-size-clamp",
        "server-header-etag",
        "server-conditional-hit",
    ] {
        assert!(
            failed.contains(id),
            "{id} states the project's choice; failed: {failed:?}"
        );
    }
}

/// ivatar's chain with one bug: at the end of it, a URL default is redirected to as given.
fn open_redirect_at_the_end_of_the_chain(request: Request<Body>) -> Altered {
    let query = request.uri().query().unwrap_or("").to_owned();
    if request.uri().path().starts_with("/gravatarproxy/")
        && let Some(location) = param(&query, "d").filter(|d| d.contains('/') || d.contains(':'))
    {
        return redirect(302, &location.replace(['\r', '\n'], ""));
    }
    redirecting_defaults(request)
}

#[tokio::test]
async fn an_open_redirect_at_the_end_of_a_same_origin_chain_fails_for_that_reason() {
    let url = stand_in(open_redirect_at_the_end_of_the_chain, unchanged, false).await;
    let report = server_report(&url).await;
    let failed = failed(&report);
    for id in [
        "server-url-default-protocol-relative",
        "server-url-default-untrusted",
        "server-url-default-userinfo",
        "server-url-default-suffix-trick",
        "server-url-default-backslash",
    ] {
        assert!(failed.contains(id), "{id} should fail; failed: {failed:?}");
        let got = got(&report, id);
        assert!(
            got.contains("hop 2") && got.contains("redirects off the server"),
            "{id}: {got}"
        );
    }
    assert!(got(&report, "server-url-default-protocol-relative").contains("//evil.example/x"));
    assert!(
        !failed.contains("server-url-default-crlf"),
        "the CR LF never reached a header"
    );
}

/// Every keyword answered with the mystery person.
fn keywords_ignored(mut request: Request<Body>) -> Altered {
    let uri = request.uri().clone();
    let query: Vec<String> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(key, value)| {
            let value = if key == "d" && value.chars().all(char::is_alphanumeric) && value != "404"
            {
                "mp".into()
            } else {
                value
            };
            format!(
                "{key}={}",
                form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            )
        })
        .collect();
    *request.uri_mut() = format!("{}?{}", uri.path(), query.join("&"))
        .parse()
        .unwrap();
    Altered::Forward(request)
}

#[tokio::test]
async fn a_server_that_honours_no_keyword_fails_the_keyword_cases() {
    let url = stand_in(keywords_ignored, unchanged, false).await;
    let report = server_report(&url).await;
    let failed = failed(&report);
    for id in [
        "server-default-mp",
        "server-default-identicon",
        "server-default-monsterid",
        "server-default-wavatar",
        "server-default-retro",
        "server-default-robohash",
        "server-default-pagan",
    ] {
        assert!(failed.contains(id), "{id} should fail; failed: {failed:?}");
        assert!(
            got(&report, id).contains("gave"),
            "{id} names the other keyword's answer"
        );
    }
    assert!(!failed.contains("server-hash-md5"));
}

/// George's hits cropped from the top left instead of the centre.
fn top_left_crop(request: Request<Body>) -> Altered {
    let george = fixture("george").unwrap();
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    let is_george =
        hash_of(path).is_some_and(|hash| hash == george.md5() || hash == george.sha256());
    if !is_george || param(query, "f").is_some() || path.contains('.') {
        return Altered::Forward(request);
    }
    let size = size_of(query).min(512);
    let image = image::load_from_memory(&george.image().unwrap()).unwrap();
    let square = image.crop_imm(0, 0, 200, 200).resize_exact(
        size,
        size,
        image::imageops::FilterType::Triangle,
    );
    let mut png = Vec::new();
    square
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    Altered::Answer(
        Response::builder()
            .header("content-type", "image/png")
            .header("content-length", png.len())
            .body(Body::from(png))
            .unwrap(),
    )
}

#[tokio::test]
async fn a_top_left_crop_fails_the_centre_crop_case_and_only_it() {
    let url = stand_in(top_left_crop, unchanged, false).await;
    let report = server_report(&url).await;
    let failed = failed(&report);
    assert!(failed.contains("server-hit-centre-crop"), "{failed:?}");
    assert!(
        !failed.contains("server-hash-md5"),
        "a top-left crop is still George: {failed:?}"
    );
    assert!(
        !failed.contains("server-size-1") && !failed.contains("server-size-512"),
        "{failed:?}"
    );
}

/// The headers of a server that predates cross-origin isolation: CORS, and no CORP.
fn no_corp(headers: &mut HeaderMap) {
    headers.remove("cross-origin-resource-policy");
}

#[tokio::test]
async fn a_server_without_corp_passes_every_must_and_fails_the_corp_case_alone() {
    let url = stand_in(Altered::Forward, no_corp, false).await;
    let report = server_report(&url).await;
    assert_no_must_failure(&report, "a server without CORP");
    assert_eq!(
        failed(&report),
        BTreeSet::from(["server-header-corp"]),
        "{}",
        avatar_conformance::report::summary(&report)
    );
}

#[tokio::test]
async fn an_empty_server_fails_the_hit_cases_and_is_warned_about_first() {
    let url = stand_in(Altered::Forward, unchanged, true).await;
    let report = server_report(&url).await;
    assert!(
        report
            .warnings
            .iter()
            .any(|warning| warning.contains("holds none of the suite's fixtures")),
        "{:?}",
        report.warnings
    );
    let failed = failed(&report);
    for id in [
        "server-hash-md5",
        "server-openid",
        "server-hit-jpeg",
        "server-size-upscale",
    ] {
        assert!(
            failed.contains(id),
            "{id} should fail on an empty server; failed: {failed:?}"
        );
    }
    assert!(
        avatar_conformance::report::summary(&report).starts_with("WARNING: the server holds none"),
        "the warning comes first"
    );
}

/// Every miss sent round a loop of two same-origin redirects.
fn redirect_loop(request: Request<Body>) -> Altered {
    let path = request.uri().path().to_owned();
    if let Some(hash) = path.strip_prefix("/loop-a/") {
        return redirect(302, &format!("/loop-b/{hash}"));
    }
    if let Some(hash) = path.strip_prefix("/loop-b/") {
        return redirect(302, &format!("/loop-a/{hash}"));
    }
    match hash_of(&path) {
        Some(hash) if !is_stored(&hash) => redirect(302, &format!("/loop-a/{hash}")),
        _ => Altered::Forward(request),
    }
}

#[tokio::test]
async fn a_redirect_loop_fails_the_cases_that_meet_it_and_names_the_chain() {
    let url = stand_in(redirect_loop, unchanged, false).await;
    let report = server_report(&url).await;
    let failed = failed(&report);
    assert!(failed.contains("server-default-404"), "{failed:?}");
    assert!(
        !failed.contains("server-hash-md5"),
        "hits do not meet the loop: {failed:?}"
    );
    let got = got(&report, "server-default-404");
    assert!(got.starts_with("a redirect loop: "), "{got}");
    assert!(got.contains("/loop-a/") && got.contains(" -> "), "{got}");
}
