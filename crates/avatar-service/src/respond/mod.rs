//! Answering one request, as plain functions: route -> method -> parse (avatar-proto) -> look up
//! (store, upstream) -> render (avatar-image, through the cache) -> response.

mod lookup;
mod response;

use avatar_proto::{AvatarRequest, DefaultImage, DefaultKeyword};
use avatar_store::Store;
use http::{HeaderMap, Method, Response, Uri};

use crate::service::{AvatarBody, Shared};

pub(crate) use lookup::Answer;

/// The text after `{prefix}/avatar/` in `path`, if `path` is an avatar path.
pub(crate) fn avatar_segment<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(prefix)?.strip_prefix("/avatar/")
}

/// The whole response to one request.
pub(crate) async fn respond<St: Store>(
    shared: &Shared<St>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response<AvatarBody> {
    let config = &shared.config;
    let Some(segment) = avatar_segment(&config.prefix, uri.path()) else {
        return response::not_an_avatar_path(&config.prefix);
    };
    let head = match *method {
        Method::GET => false,
        Method::HEAD => true,
        Method::OPTIONS => return response::options(),
        _ => return response::method_not_allowed(method),
    };
    let request = match AvatarRequest::parse(&config.rules, segment, uri.query().unwrap_or("")) {
        Ok(request) => request,
        Err(err) => return response::bad_request(&err),
    };
    let answer = answer(shared, &request).await;
    let response = response::from_answer(answer, headers, config);
    if head {
        response::without_body(response)
    } else {
        response
    }
}

/// Decides what to answer: the stored avatar, then the upstream (if configured), then the default.
pub(crate) async fn answer<St: Store>(shared: &Shared<St>, request: &AvatarRequest) -> Answer {
    if !request.force_default {
        if let Some(found) = lookup::stored(shared, request).await {
            return found;
        }
        if let Some(found) = shared.upstream.answer(request).await {
            return found;
        }
    }
    let default = request
        .default
        .clone()
        .unwrap_or(DefaultImage::Keyword(shared.config.server_default));
    match default {
        DefaultImage::Keyword(DefaultKeyword::NotFound) => Answer::NotFound,
        DefaultImage::Keyword(keyword) => lookup::drawn_default(shared, request, keyword).await,
        DefaultImage::Redirect(target) => Answer::Redirect {
            location: target.as_str().to_owned(),
        },
    }
}
