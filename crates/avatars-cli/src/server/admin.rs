//! The admin listener (`--admin-addr`): `GET /metrics`, `GET /healthz`, and the management API
//! under `/v1/avatars` (`docs/admin-openapi.yaml` is its contract, which `cargo xtask openapi`
//! checks: linted, a client generated from it driven against a server, and schemathesis).
//!
//! Every `/v1` request needs `Authorization: Bearer TOKEN` with a token of
//! `--admin-token-file`: 401 without one, 403 with a wrong one, checked before the body is read.
//! Uploads go through the library's upload path (`store_upload`), so they are validated
//! exactly as `avatars import` validates a file. Every error is a JSON object
//! `{"error": "...", "status": N}` saying what was wrong.

use std::collections::BinaryHeap;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use avatar_image::{Crop, ImageInfo, Limits, RenderAhead};
use avatar_proto::{HashAlgorithm, Identity};
use avatar_service::upload::{self, UploadOptions, store_upload_with};
use avatar_service::{AvatarService, ServiceError};
use avatar_store::{Store as _, StoreError};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::metrics::Metrics;
use crate::error::CliError;
use crate::store::AnyStore;

/// The shortest token accepted in `--admin-token-file`.
const MIN_TOKEN_CHARS: usize = 16;

/// Listed avatars per page when `limit` is not given, and the most a page may hold.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The bearer tokens of the management API, kept as SHA-256 digests: a request's token is
/// hashed and compared with each in constant time, so neither its content nor its length
/// shows in the timing. Clones share them, and [`Tokens::reload`] replaces them for all (a
/// token rotated on SIGHUP).
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    digests: Arc<RwLock<Arc<[[u8; 32]]>>>,
    /// The file they were read from.
    path: Option<Arc<Path>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.len())
    }
}

impl Tokens {
    /// One token per line of `path`; blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// [`CliError::ReadFile`] when it cannot be read, [`CliError::Config`] when it holds no
    /// token or one shorter than 16 characters.
    pub(crate) fn read(path: &Path) -> Result<Self, CliError> {
        Ok(Self {
            digests: Arc::new(RwLock::new(Self::digests(path)?)),
            path: Some(Arc::from(path)),
        })
    }

    /// Reads the file again and accepts its tokens from now on, in place of the old ones; a
    /// file that cannot be used leaves the old ones in place. `None` without a file.
    ///
    /// # Errors
    /// As [`Tokens::read`].
    pub(crate) fn reload(&self) -> Option<Result<(&Path, usize), CliError>> {
        let path = self.path.as_deref()?;
        Some(Self::digests(path).map(|digests| {
            let count = digests.len();
            *self
                .digests
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = digests;
            (path, count)
        }))
    }

    /// The current digests (cheap: the list is shared, not copied).
    fn current(&self) -> Arc<[[u8; 32]]> {
        Arc::clone(
            &self
                .digests
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The digests of the tokens in `path`.
    fn digests(path: &Path) -> Result<Arc<[[u8; 32]]>, CliError> {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let problem = |problem: String| CliError::Config {
            path: path.to_owned(),
            problem,
        };
        let mut tokens = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            if token.chars().count() < MIN_TOKEN_CHARS || token.contains(char::is_whitespace) {
                return Err(problem(format!(
                    "line {}: a token must be at least {MIN_TOKEN_CHARS} characters with no spaces (such as the output of `openssl rand -hex 32`)",
                    number + 1
                )));
            }
            tokens.push(Sha256::digest(token.as_bytes()).into());
        }
        if tokens.is_empty() {
            return Err(problem(
                "holds no token: expected one token per line (blank lines and # comments are skipped)".into(),
            ));
        }
        Ok(tokens.into())
    }

    /// How many tokens are accepted.
    pub(crate) fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether no token is accepted (no `--admin-token-file`).
    pub(crate) fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    fn accepts(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every token is compared, so the time does not say which one matched.
        self.current()
            .iter()
            .fold(subtle::Choice::from(0), |found, known| {
                found | known.ct_eq(&digest)
            })
            .into()
    }
}

/// What the admin routes work with.
#[derive(Debug, Clone)]
pub(crate) struct AdminState {
    pub(crate) service: AvatarService<AnyStore>,
    pub(crate) tokens: Tokens,
    pub(crate) limits: Limits,
    /// `--render-ahead`: the renditions an upload gets before it is stored.
    pub(crate) ahead: Option<RenderAhead>,
    pub(crate) metrics: Arc<Metrics>,
}

/// The admin listener's routes.
pub(crate) fn router(state: AdminState) -> Router {
    let routes = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/v1/avatars", get(list))
        .route(
            "/v1/avatars/{identity}",
            get(show).put(put).delete(delete),
        )
        .route("/v1/avatars/{identity}/picture", get(picture))
        // The body is read by `put` itself, under the image limit, once the token is checked.
        .layer(DefaultBodyLimit::disable())
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such admin route: the admin listener serves GET /metrics, GET /healthz, GET /v1/avatars, GET, PUT and DELETE /v1/avatars/{identity}, GET /v1/avatars/{identity}/picture",
            )
        })
        .with_state(state);
    // axum gives a 405 its `Allow` header outside every layer of the routes, so the layer
    // that reads it wraps the router whole.
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .layer(middleware::from_fn(method_not_allowed))
            .service(routes),
    )
}

/// A known path asked with a method it does not take: axum's 405, with its `Allow` header,
/// given a JSON body saying so as every other error does (axum's own is empty).
async fn method_not_allowed(method: Method, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let allowed = allow
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .replace(',', ", ");
    ApiError {
        header: allow.map(|value| (header::ALLOW, value)),
        ..ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed here; use {allowed}"),
        )
    }
    .into_response()
}

/// What went wrong with an admin request, answered as JSON: `{"error": what, "status": code}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    error: String,
    /// `WWW-Authenticate: Bearer` (401), `Allow` (405) or `Retry-After` (503).
    header: Option<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            header: None,
        }
    }

    /// 404 for an identity with no avatar.
    fn nothing_stored(identity: &Identity) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("nothing is stored for {identity}"),
        )
    }

    fn unauthorized(error: &str) -> Self {
        Self {
            header: Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))),
            ..Self::new(StatusCode::UNAUTHORIZED, error)
        }
    }

    /// The store failed (it is logged): 507 when it has no room left, which retrying will not
    /// mend, otherwise 503 with `Retry-After`.
    fn store(err: &avatar_store::StoreError) -> Self {
        tracing::error!(error = %err, "the store fails");
        if err.is_out_of_space() {
            return Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("the store has no room left: {err}"),
            );
        }
        Self {
            header: Some((header::RETRY_AFTER, HeaderValue::from_static("5"))),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the store fails: {err}"),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.error, "status": self.status.as_u16() }));
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some((name, value)) = self.header {
            headers.insert(name, value);
        }
        response
    }
}

async fn metrics(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    state.metrics.respond(&headers)
}

/// 200 when the store answers a lookup within two seconds, 503 otherwise; never cached (an
/// answer is true only now). With a PostgreSQL store, whether it sees other servers' changes
/// (`follows_changes`, and `why_not` when it does not): a server that does not still answers,
/// so it stays healthy, and the `avatars_store_following_changes` gauge is what to alert on.
async fn healthz(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let probe = avatar_proto::AvatarHash::parse_hex(&[b'0'; 32]).expect("32 hex digits are an MD5");
    let store = state.service.store();
    match tokio::time::timeout(Duration::from_secs(2), store.contains(&probe)).await {
        Ok(Ok(_)) => Ok((
            [(header::CACHE_CONTROL, "no-store")],
            Json(store.with_following(json!({ "status": "ok" }))),
        )
            .into_response()),
        Ok(Err(err)) => Err(ApiError::store(&err)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store did not answer within 2 s",
        )),
    }
}

/// Whether the request carries an accepted bearer token: 401 without one, 403 with a wrong one.
fn authorize(tokens: &Tokens, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "no Authorization header: send Authorization: Bearer TOKEN",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "the Authorization header is not a bearer token: send Authorization: Bearer TOKEN",
            )
        })?;
    if tokens.accepts(token) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token is not one of --admin-token-file's",
        ))
    }
}

/// The `{identity}` of a `/v1/avatars/{identity}` path as axum decoded it, or its refusal,
/// answered only once the token has been checked.
type IdentitySegment = Result<UrlPath<String>, PathRejection>;

/// The identity in the path (400 when it is none, or not UTF-8 once decoded).
fn identity(segment: &IdentitySegment) -> Result<Identity, ApiError> {
    let UrlPath(text) = segment.as_ref().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "the identity in the path is not UTF-8 once percent-decoded; expected an email \
             address or an OpenID URL, its non-ASCII characters percent-encoded as UTF-8",
        )
    })?;
    Identity::parse(text).map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, err.to_string()))
}

/// The query of `PUT /v1/avatars/{identity}`.
#[derive(serde::Deserialize)]
struct PutQuery {
    /// `X,Y,SIDE`: the square the person chose ([`Crop`]).
    crop: Option<String>,
}

/// `PUT /v1/avatars/{identity}`: the body is the image; `?crop=X,Y,SIDE` stores that square of
/// it instead of the centred one. 201 when the identity had no avatar, 200 when it replaced
/// one.
async fn put(
    State(state): State<AdminState>,
    segment: IdentitySegment,
    query: Result<Query<PutQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state.tokens, &headers)?;
    let identity = identity(&segment)?;
    let bad_query =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {message}"));
    let Query(query) = query.map_err(|_| bad_query("expected at most crop=X,Y,SIDE".to_owned()))?;
    let mut options = UploadOptions::new();
    if let Some(crop) = query.crop {
        options = options.crop(
            crop.parse::<Crop>()
                .map_err(|err| bad_query(err.to_string()))?,
        );
    }
    if let Some(ahead) = &state.ahead {
        options = options.render_ahead(ahead.clone());
    }
    refuse_a_form(&headers)?;
    let limit = state.limits.max_input_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the image is larger than {limit} bytes, the most accepted"),
        )
    };
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<LengthLimitError>() => return Err(too_large()),
        Err(err) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {err}"),
            ));
        }
    };
    let store = state.service.store();
    let existed = store
        .contains(&identity.hash(HashAlgorithm::Sha256))
        .await
        .map_err(|err| ApiError::store(&err))?;
    let identities = std::slice::from_ref(&identity);
    let uploaded = store_upload_with(store, identities, bytes, &state.limits, &options)
        .await
        .map_err(|err| match err {
            ServiceError::Store(err) => ApiError::store(&err),
            err => {
                let status = err.status();
                if status.is_server_error() {
                    tracing::error!(%identity, error = %err, "cannot store an uploaded avatar");
                }
                ApiError::new(status, err.to_string())
            }
        })?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    // The picture stored (a square when one was stored instead), as `GET` will describe it.
    let body = described(&identity, &uploaded.stored_image(), &uploaded.version);
    Ok((status, Json(body)).into_response())
}

/// The JSON of an identity's stored picture, as `PUT` and `GET` answer it.
fn described(identity: &Identity, image: &ImageInfo, version: &str) -> serde_json::Value {
    json!({
        "identity": identity.to_string(),
        "md5": matches!(identity, Identity::Email(_))
            .then(|| identity.hash(HashAlgorithm::Md5).to_string()),
        "sha256": identity.hash(HashAlgorithm::Sha256).to_string(),
        "format": image.format.extension(),
        "width": image.width,
        "height": image.height,
        "version": version,
    })
}

/// The identity `text` names and what is stored for it, once the token is checked: 401 or 403
/// without a good token, 400 for a bad identity, 404 when nothing is stored.
async fn stored_for(
    state: &AdminState,
    segment: &IdentitySegment,
    headers: &HeaderMap,
) -> Result<(Identity, avatar_store::StoredImage), ApiError> {
    authorize(&state.tokens, headers)?;
    let identity = identity(segment)?;
    let stored = state
        .service
        .store()
        .get(&identity.hash(HashAlgorithm::Sha256))
        .await
        .map_err(|err| ApiError::store(&err))?
        .ok_or_else(|| ApiError::nothing_stored(&identity))?;
    Ok((identity, stored))
}

/// `GET /v1/avatars/{identity}`: what is stored for it, described as `PUT` answered (its
/// width and height those of the stored picture: for an upload larger than the master side,
/// its centred square), and its size in bytes; 404 when nothing is.
async fn show(
    State(state): State<AdminState>,
    segment: IdentitySegment,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (identity, stored) = stored_for(&state, &segment, &headers).await?;
    let bytes = stored.bytes.clone();
    let limits = state.limits;
    // Decoded whole, off the event loop, for the dimensions as shown (EXIF orientation).
    let image = tokio::task::spawn_blocking(move || avatar_image::validate(&bytes, &limits))
        .await
        .map_err(|err| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?
        .map_err(|err| {
            tracing::error!(%identity, error = %err, "a stored avatar does not decode");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the picture stored for {identity} does not decode: {err}"),
            )
        })?;
    let mut body = described(&identity, &image, &upload::version(&stored.content));
    body["bytes"] = json!(stored.bytes.len());
    Ok(Json(body).into_response())
}

/// `GET /v1/avatars/{identity}/picture`: the picture stored for it, byte for byte, as
/// `avatars export` writes it (to look at, keep, or hand to the person); 404 when nothing is.
async fn picture(
    State(state): State<AdminState>,
    segment: IdentitySegment,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, stored) = stored_for(&state, &segment, &headers).await?;
    let content_type = avatar_proto::ImageFormat::sniff(&stored.bytes).map_or(
        "application/octet-stream",
        avatar_proto::ImageFormat::mime_type,
    );
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        stored.bytes,
    )
        .into_response())
}

/// 415 for a form (`curl -F`, an HTML form's `multipart/form-data`): its framing around the
/// picture would be refused as "not an image", which does not say what to send instead.
fn refuse_a_form(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if content_type
        .get(..10)
        .is_some_and(|start| start.eq_ignore_ascii_case("multipart/"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is a form (multipart); send the image itself as the body: \
             curl --data-binary @FILE, or any Content-Type but multipart/*"
                .to_owned(),
        ));
    }
    Ok(())
}

/// `DELETE /v1/avatars/{identity}`: 204 when removed, 404 when nothing was stored.
async fn delete(
    State(state): State<AdminState>,
    segment: IdentitySegment,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorize(&state.tokens, &headers)?;
    let identity = identity(&segment)?;
    match state.service.store().remove(&identity).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::nothing_stored(&identity)),
        Err(err) => Err(ApiError::store(&err)),
    }
}

/// `GET /v1/avatars?limit=N&after=IDENTITY`.
#[derive(Debug, serde::Deserialize)]
struct Page {
    limit: Option<usize>,
    after: Option<String>,
}

/// `GET /v1/avatars`: the stored identities in order, `limit` at a time after `after`; `next`
/// is the `after` of the next page, `null` on the last.
async fn list(
    State(state): State<AdminState>,
    headers: HeaderMap,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state.tokens, &headers)?;
    let bad_page = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "bad query: expected limit (1 to {MAX_PAGE}) and after (an identity from next)"
            ),
        )
    };
    let Query(page) = page.map_err(|_| bad_page())?;
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    // The query is decoded lossily: bytes that are not UTF-8 (`after=%FF`) arrive as U+FFFD,
    // which no `next` holds, and would give an empty last page instead of this error.
    let undecodable = page
        .after
        .as_deref()
        .is_some_and(|after| after.contains(char::REPLACEMENT_CHARACTER));
    if !(1..=MAX_PAGE).contains(&limit) || undecodable {
        return Err(bad_page());
    }
    let (shown, more) = page_after(state.service.store(), page.after.as_deref(), limit)
        .await
        .map_err(|err| ApiError::store(&err))?;
    let next = more
        .then(|| shown.last().map(|(identity, _)| identity.clone()))
        .flatten();
    let avatars: Vec<_> = shown
        .iter()
        .map(|(identity, bytes)| json!({ "identity": identity, "bytes": bytes }))
        .collect();
    Ok(Json(json!({ "avatars": avatars, "next": next })).into_response())
}

/// The first `limit` identities (with their sizes) after `after`, in identity order, and
/// whether more follow: one pass over the store's entries keeping the `limit + 1` smallest in
/// a heap, so a page of a million avatars costs the memory of the page.
async fn page_after(
    store: &AnyStore,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<(String, u64)>, bool), StoreError> {
    let mut smallest = BinaryHeap::with_capacity(limit + 2);
    let mut entries = pin!(store.entries());
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        if after.is_some_and(|after| entry.identity.as_str() <= after) {
            continue;
        }
        smallest.push((entry.identity, entry.bytes));
        if smallest.len() > limit + 1 {
            smallest.pop();
        }
    }
    let mut page = smallest.into_sorted_vec();
    let more = page.len() > limit;
    page.truncate(limit);
    Ok((page, more))
}
