//! Turning an answer (or a refusal) into an HTTP response with the right headers; the image
//! and 404 answers are public, for the proxy (`avatar-proxy`) to answer exactly alike.

use avatar_image::ImageFormat;
use avatar_proto::hex;
use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, LOCATION, RETRY_AFTER, VARY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use avatar_image::Rendered;

use super::Answer;
use crate::body::AvatarBody;
use crate::config::Config;

/// The methods avatar paths answer. OPTIONS lists these standard methods (not the default
/// keywords some servers put in `Allow`; those are documented instead).
const ALLOWED: &str = "GET, HEAD, OPTIONS";

/// `Cross-Origin-Resource-Policy` (Fetch), which `http` has no constant for.
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");

/// The response to an answer; for HEAD, the same without its body.
pub(super) fn for_answer(
    answer: Answer,
    request_headers: &HeaderMap,
    config: &Config,
    head: bool,
) -> Response<AvatarBody> {
    let response = from_answer(answer, request_headers, config);
    if head {
        without_body(response)
    } else {
        response
    }
}

fn from_answer(
    answer: Answer,
    request_headers: &HeaderMap,
    config: &Config,
) -> Response<AvatarBody> {
    match answer {
        Answer::Image {
            rendered,
            fingerprint,
            hit,
            varies_with_accept,
        } => {
            let cache_control = if hit {
                config.hit_cache_control.clone()
            } else {
                config.default_cache_control.clone()
            };
            image(
                &rendered,
                &fingerprint,
                cache_control,
                varies_with_accept,
                request_headers,
            )
        }
        Answer::NotFound => not_found(
            "no avatar for this hash\n",
            config.default_cache_control.clone(),
        ),
        Answer::Unavailable => {
            let mut response = static_text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the avatar store is unavailable; retry later\n",
            );
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Answer::Redirect { location } => {
            let mut response = common(StatusCode::FOUND, Bytes::new());
            let headers = response.headers_mut();
            match HeaderValue::try_from(location) {
                Ok(location) => headers.insert(LOCATION, location),
                // Locations come out of the trusted-URL filter or are built from a hash: always
                // valid header text. Never redirect somewhere unchecked.
                Err(_) => {
                    return text(StatusCode::INTERNAL_SERVER_ERROR, "invalid redirect target");
                }
            };
            headers.insert(CACHE_CONTROL, config.default_cache_control.clone());
            response
        }
    }
}

/// An image answer: 200 with the rendition, or 304 when `If-None-Match` names its `ETag` (made
/// from `fingerprint`); `Cache-Control` as given, `Vary: Accept` when `varies_with_accept`, and
/// the headers every answer carries (`Content-Length`, CORS, CORP, `nosniff`). For HEAD, drop the body
/// with [`without_body`].
pub fn image(
    rendered: &Rendered,
    fingerprint: &[u8; 16],
    cache_control: HeaderValue,
    varies_with_accept: bool,
    request_headers: &HeaderMap,
) -> Response<AvatarBody> {
    let etag = etag(fingerprint);
    if if_none_match(request_headers, &etag) {
        let mut response = common(StatusCode::NOT_MODIFIED, Bytes::new());
        response.headers_mut().remove(CONTENT_LENGTH);
        let headers = response.headers_mut();
        headers.insert(ETAG, etag);
        headers.insert(CACHE_CONTROL, cache_control);
        if varies_with_accept {
            headers.insert(VARY, HeaderValue::from_static("accept"));
        }
        return response;
    }
    let content_type = ImageFormat::sniff(&rendered.bytes)
        .unwrap_or(rendered.format)
        .mime_type();
    let mut response = common(StatusCode::OK, rendered.bytes.clone());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(ETAG, etag);
    headers.insert(CACHE_CONTROL, cache_control);
    if varies_with_accept {
        headers.insert(VARY, HeaderValue::from_static("accept"));
    }
    response
}

/// A 404 with a fixed one-line plain-text body (`line` ends in a newline) and `cache_control`.
pub fn not_found(line: &'static str, cache_control: HeaderValue) -> Response<AvatarBody> {
    let mut response = static_text(StatusCode::NOT_FOUND, line);
    response.headers_mut().insert(CACHE_CONTROL, cache_control);
    response
}

pub(super) fn bad_request(err: &avatar_proto::Error) -> Response<AvatarBody> {
    let mut response = text(StatusCode::BAD_REQUEST, &err.to_string());
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn not_an_avatar_path(prefix: &str) -> Response<AvatarBody> {
    text(
        StatusCode::NOT_FOUND,
        &format!("not an avatar URL: expected {prefix}/avatar/HASH"),
    )
}

pub(super) fn method_not_allowed(method: &Method) -> Response<AvatarBody> {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} is not allowed here; use GET, HEAD or OPTIONS"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(ALLOWED));
    response
}

/// A CORS-friendly answer to OPTIONS (also a preflight answer).
pub(super) fn options() -> Response<AvatarBody> {
    let mut response = common(StatusCode::NO_CONTENT, Bytes::new());
    let headers = response.headers_mut();
    headers.remove(CONTENT_LENGTH);
    headers.insert(ALLOW, HeaderValue::from_static(ALLOWED));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("if-none-match"),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

/// HEAD: every header of GET (Content-Length included), no body.
pub fn without_body(response: Response<AvatarBody>) -> Response<AvatarBody> {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, AvatarBody::empty())
}

/// A one-line plain-text response.
fn text(status: StatusCode, line: &str) -> Response<AvatarBody> {
    let mut body = line.replace(['\r', '\n'], " ");
    body.push('\n');
    plain_text(status, Bytes::from(body))
}

/// A fixed one-line plain-text response (`line` ends in a newline): no copy of the text.
fn static_text(status: StatusCode, line: &'static str) -> Response<AvatarBody> {
    plain_text(status, Bytes::from_static(line.as_bytes()))
}

fn plain_text(status: StatusCode, body: Bytes) -> Response<AvatarBody> {
    let mut response = common(status, body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The headers every avatar response carries.
fn common(status: StatusCode, body: Bytes) -> Response<AvatarBody> {
    let length = body.len();
    let mut response = Response::new(AvatarBody::new(body));
    *response.status_mut() = status;
    // Room for every header an image answer carries (at most 8), made once: growing the map
    // on the way would allocate its tables again.
    *response.headers_mut() = HeaderMap::with_capacity(9);
    let headers = response.headers_mut();
    // Formatted on the stack: `HeaderValue::from(usize)` allocates twice.
    let length = HeaderValue::from_str(itoa::Buffer::new().format(length))
        .expect("digits are a valid header value");
    headers.insert(CONTENT_LENGTH, length);
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    // Avatars are for embedding anywhere: without this, a page that is cross-origin isolated
    // (`Cross-Origin-Embedder-Policy: require-corp`) cannot show them in a plain `<img>`.
    headers.insert(
        CROSS_ORIGIN_RESOURCE_POLICY,
        HeaderValue::from_static("cross-origin"),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A strong ETag from a rendition's fingerprint: quoted lowercase hex, built on the stack.
fn etag(fingerprint: &[u8; 16]) -> HeaderValue {
    let mut text = [b'"'; 34];
    for (pair, &byte) in text[1..33].chunks_exact_mut(2).zip(fingerprint) {
        pair.copy_from_slice(&hex::lower_digits(byte));
    }
    HeaderValue::from_bytes(&text).expect("quoted hex is a valid header value")
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header) or is `*`.
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate).as_bytes() == ours
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let ours = etag(&[0xab; 16]);
        let quoted = ours.to_str().unwrap().to_owned();
        let matches = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            if_none_match(&headers, &ours)
        };
        assert!(matches(&quoted));
        assert!(matches(&format!("W/{quoted}")));
        assert!(matches(&format!("\"other\", {quoted}")));
        assert!(matches("*"));
        assert!(!matches("\"other\""));
        assert!(!matches(quoted.trim_matches('"')));
    }

    #[test]
    fn text_bodies_are_one_line() {
        let response = text(StatusCode::BAD_REQUEST, "a\r\nb");
        assert_eq!(response.headers()[CONTENT_LENGTH], "5");
    }
}
