//! Answering one request, as plain functions: route -> method -> parse (avatar-proto) -> look up
//! (index, render cache, store, upstream) -> render (avatar-image, once per rendition) ->
//! response.
//!
//! [`prepare`] goes as far as it can without waiting: a request the caches can answer (a hit,
//! a known miss, a drawn default, a 304) is answered there and then, with no task, no disk and
//! no decoding. Anything else comes back [`Prepared::Pending`] for [`finish`].

mod index;
mod lookup;
pub mod response;

use avatar_proto::{AvatarRequest, DefaultImage, DefaultKeyword};
use avatar_store::Store;
use http::{HeaderMap, Method, Response, Uri};

use crate::body::AvatarBody;
use crate::service::Shared;

pub(crate) use index::{Found, StoreIndex};
pub(crate) use lookup::Answer;
use lookup::Cached;

/// The text after `{prefix}/avatar/` in `path`, if `path` is an avatar path.
pub(crate) fn avatar_segment<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(prefix)?.strip_prefix("/avatar/")
}

/// How far a request got without waiting.
pub(crate) enum Prepared {
    /// Answered from the request and the caches alone.
    Ready(Response<AvatarBody>),
    /// Needs the store, a render or the upstream: see [`finish`].
    Pending(Pending),
}

/// A parsed avatar request still to be looked up.
pub(crate) struct Pending {
    request: AvatarRequest,
    head: bool,
}

/// Routes, checks the method, parses, and answers from the caches when they know the answer.
pub(crate) fn prepare<St: Store>(
    shared: &Shared<St>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Prepared {
    let config = &shared.config;
    let Some(segment) = avatar_segment(&config.prefix, uri.path()) else {
        return Prepared::Ready(response::not_an_avatar_path(&config.prefix));
    };
    let head = match *method {
        Method::GET => false,
        Method::HEAD => true,
        Method::OPTIONS => return Prepared::Ready(response::options()),
        _ => return Prepared::Ready(response::method_not_allowed(method)),
    };
    let query = uri.query().unwrap_or("");
    let request = match AvatarRequest::parse(&config.rules, segment, query) {
        Ok(request) => request,
        Err(err) => return Prepared::Ready(response::bad_request(&err)),
    };
    if request.default.is_none() && tracing::enabled!(tracing::Level::DEBUG) {
        log_refused_default(config, query);
    }
    match cached_answer(shared, &request, accept(headers)) {
        Some(answer) => Prepared::Ready(response::for_answer(answer, headers, config, head)),
        None => Prepared::Pending(Pending { request, head }),
    }
}

/// Says, at debug level, why a `d=` value that is neither a keyword nor a trusted URL is
/// ignored (the request is then answered with the server's own default).
fn log_refused_default(config: &crate::config::Config, query: &str) {
    let query = avatar_proto::AvatarQuery::parse(query.as_bytes());
    let Some(value) = query.default.as_deref() else {
        return;
    };
    if let Err(reason) = config.rules.trusted().check(value) {
        tracing::debug!(
            default = value,
            %reason,
            "d= ignored: not a default keyword, and as a URL {reason}"
        );
    }
}

/// Looks up what [`prepare`] could not answer, rendering if need be; `headers` are the
/// request's.
pub(crate) async fn finish<St: Store>(
    shared: &Shared<St>,
    pending: Pending,
    headers: &HeaderMap,
) -> Response<AvatarBody> {
    let answer = answer(shared, &pending.request, accept(headers)).await;
    response::for_answer(answer, headers, &shared.config, pending.head)
}

/// The request's `Accept` header, raw (only the first one: browsers send one).
fn accept(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(http::header::ACCEPT)
        .map(http::HeaderValue::as_bytes)
}

/// The answer from the index and the render cache alone, or `None` when the store, a render
/// or the upstream has to be waited for. Decides exactly as [`answer`] does.
fn cached_answer<St: Store>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
) -> Option<Answer> {
    if !request.force_default {
        match lookup::stored_cached(
            shared,
            request,
            accept,
            shared.store.generation(&request.hash),
        ) {
            Cached::Hit(answer) => return Some(answer),
            Cached::NotStored if shared.upstream.is_off() => {}
            Cached::NotStored | Cached::Evicted { .. } | Cached::Unknown => return None,
        }
    }
    match on_miss(shared, request) {
        Miss::Answer(answer) => Some(answer),
        Miss::Draw(keyword) => lookup::drawn_default_cached(shared, request, accept, keyword),
    }
}

/// Decides what to answer: the stored avatar, then the upstream (if configured), then the
/// default; `accept` is the request's `Accept` header.
pub(crate) async fn answer<St: Store>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
) -> Answer {
    if !request.force_default {
        if let Some(found) = lookup::stored(shared, request, accept).await {
            return found;
        }
        if let Some(found) = shared.upstream.answer(request).await {
            return found;
        }
    }
    match on_miss(shared, request) {
        Miss::Answer(answer) => answer,
        Miss::Draw(keyword) => lookup::drawn_default(shared, request, accept, keyword).await,
    }
}

/// What a miss (or `forcedefault`) gets.
enum Miss {
    /// A 404 or a redirect.
    Answer(Answer),
    /// A drawn default.
    Draw(DefaultKeyword),
}

fn on_miss<St>(shared: &Shared<St>, request: &AvatarRequest) -> Miss {
    match &request.default {
        // A server whose own default is `initials` draws the letters the request gives.
        None => keyword_miss(shared.config.server_default.with_initials(request.initials)),
        Some(DefaultImage::Keyword(keyword)) => keyword_miss(*keyword),
        Some(DefaultImage::Redirect(target)) => Miss::Answer(Answer::Redirect {
            location: target.as_str().to_owned(),
        }),
    }
}

const fn keyword_miss(keyword: DefaultKeyword) -> Miss {
    match keyword {
        DefaultKeyword::NotFound => Miss::Answer(Answer::NotFound),
        keyword => Miss::Draw(keyword),
    }
}
