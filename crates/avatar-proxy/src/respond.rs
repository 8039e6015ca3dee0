//! Answering one proxy request, as plain functions: route -> open the token -> the local
//! store, when one is set and holds the identity -> find the identity's server -> fetch the
//! original (cached, once per identity) -> render at the asked size (cached) -> answer; any
//! failure on the way answers the asked default.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use avatar_image::{ImageFormat, RenderKey, Rendered, render_default_with, render_square_as};
use avatar_proto::{
    AvatarHash, AvatarQuery, BaseOrigin, DefaultKeyword, HashAlgorithm, Identity, Initials, Scheme,
};
use avatar_service::AvatarBody;
use avatar_service::response::{image, not_found, without_body};
use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use sha2::{Digest as _, Sha256};

use crate::config::{GravatarFallback, Shared};
use crate::fetch::{FetchFailure, Fetched};

/// How long a failure of the network is remembered at most (an upstream's answer is remembered
/// for the negative TTL).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(15);

/// What the proxy knows of one identity's picture upstream.
#[derive(Debug, Clone)]
pub(crate) enum Original {
    /// The upstream's file, as fetched (never sent on: only rendered from).
    Image {
        bytes: Bytes,
        content: [u8; 32],
        format: ImageFormat,
        until: Instant,
    },
    /// No usable picture (none upstream, a failure, or a file the limits refuse).
    Missing { until: Instant },
}

impl Original {
    fn fresh(&self, now: Instant) -> bool {
        match self {
            Self::Image { until, .. } | Self::Missing { until } => now < *until,
        }
    }
}

/// The answer to one request.
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response<AvatarBody> {
    let head = match *method {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or HEAD\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
    };
    let response = answer_get(shared, uri, headers).await;
    if head {
        without_body(response)
    } else {
        response
    }
}

/// An opened token: the identity it shows, and that identity's SHA-256 hash (what the local
/// store is asked by), kept together in the token cache so a cached hit hashes nothing.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    identity: Identity,
    sha256: AvatarHash,
}

/// What one request asks for.
struct Asked {
    identity: Identity,
    sha256: AvatarHash,
    size: u32,
    default: DefaultKeyword,
}

/// The identity behind the request's token (from the token cache, or opened and cached), the
/// size and the default; `None` for a path that is no valid token.
fn asked(shared: &Shared, uri: &Uri) -> Option<Asked> {
    let token = uri
        .path()
        .strip_prefix(shared.prefix.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|token| !token.contains('/'))?;
    let keyring = shared.keyring();
    let Opened { identity, sha256 } = if let Some(opened) = keyring.tokens.get(token) {
        opened
    } else {
        let identity = keyring.keys.open(token)?;
        let opened = Opened {
            sha256: identity.hash(HashAlgorithm::Sha256),
            identity,
        };
        keyring.tokens.insert(token.to_owned(), opened.clone());
        opened
    };
    let query = AvatarQuery::parse(uri.query().unwrap_or("").as_bytes());
    let size = shared.rules.size(query.size.as_deref());
    let initials = Initials::from_query(query.initials.as_deref(), query.name.as_deref());
    // Keywords only: a proxy never sends the browser elsewhere, so `d=` URLs are ignored.
    let default = query
        .default
        .as_deref()
        .and_then(|raw| DefaultKeyword::parse(raw, query.robohash.as_deref()))
        .unwrap_or(shared.server_default)
        .with_initials(initials);
    Some(Asked {
        identity,
        sha256,
        size,
        default,
    })
}

/// The answer from the caches alone, without waiting: a GET or HEAD whose token is known, for
/// an identity the local store (if set) is known to hold nothing for, whose original is fresh
/// in memory and whose rendition is cached. `None`: see [`answer`].
pub(crate) fn answer_now(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response<AvatarBody>> {
    let head = match *method {
        Method::GET => false,
        Method::HEAD => true,
        _ => return None,
    };
    let asked = asked(shared, uri)?;
    if let Some(local) = &shared.local
        && !local.known_missing(&asked.sha256)
    {
        return None;
    }
    let Some(Original::Image {
        content,
        format,
        until,
        ..
    }) = shared.originals.get(&asked.identity)
    else {
        return None;
    };
    if Instant::now() >= until {
        return None;
    }
    let accept = headers.get(http::header::ACCEPT).map(HeaderValue::as_bytes);
    let choice = shared.formats.choose(None, accept, format);
    let key = RenderKey::Stored {
        content,
        size: asked.size,
        format: choice.format,
    };
    let rendered = shared.cache.get(&key)?;
    let response = image(
        &rendered,
        &key.fingerprint(),
        shared.hit_cache_control.clone(),
        choice.varies_with_accept,
        headers,
    );
    Some(if head {
        without_body(response)
    } else {
        response
    })
}

async fn answer_get(shared: &Arc<Shared>, uri: &Uri, headers: &HeaderMap) -> Response<AvatarBody> {
    // A bad or forged token costs no upstream traffic and says nothing about why.
    let Some(Asked {
        identity,
        sha256,
        size,
        default,
    }) = asked(shared, uri)
    else {
        return not_found(
            "no such avatar link\n",
            HeaderValue::from_static("no-store"),
        );
    };
    if let Some(local) = &shared.local
        && let Some(response) = local.answer(&sha256, size, headers).await
    {
        return response;
    }
    let accept = headers.get(http::header::ACCEPT).map(HeaderValue::as_bytes);

    if let Original::Image {
        bytes,
        content,
        format,
        ..
    } = original_of(shared, &identity).await
    {
        let choice = shared.formats.choose(None, accept, format);
        let key = RenderKey::Stored {
            content,
            size,
            format: choice.format,
        };
        let limits = shared.limits;
        let rendered = shared
            .cache
            .get_or_render(key.clone(), async move {
                tokio::task::spawn_blocking(move || {
                    render_square_as(&bytes, size, Some(choice.format), &limits)
                })
                .await
                .map_err(|err| err.to_string())?
                .map_err(|err| err.to_string())
            })
            .await;
        match rendered {
            Ok(rendered) => {
                return image(
                    &rendered,
                    &key.fingerprint(),
                    shared.hit_cache_control.clone(),
                    choice.varies_with_accept,
                    headers,
                );
            }
            Err(reason) => {
                tracing::debug!(%identity, reason, "upstream image not rendered; answering the default");
                shared.originals.insert(
                    identity.clone(),
                    Original::Missing {
                        until: Instant::now() + shared.negative_ttl,
                    },
                );
            }
        }
    }
    drawn_default(shared, &identity, default, size, accept, headers).await
}

/// The asked default for a miss or any failure: a drawn keyword, or a 404.
async fn drawn_default(
    shared: &Shared,
    identity: &Identity,
    keyword: DefaultKeyword,
    size: u32,
    accept: Option<&[u8]>,
    headers: &HeaderMap,
) -> Response<AvatarBody> {
    if keyword == DefaultKeyword::NotFound {
        return not_found("no avatar\n", shared.default_cache_control.clone());
    }
    let choice = shared.formats.choose(None, accept, ImageFormat::Png);
    let hash = identity.hash(HashAlgorithm::Sha256);
    let key = RenderKey::Default {
        keyword,
        hash,
        size,
        palette: shared.palette.id(),
        format: choice.format,
    };
    let palette = Arc::clone(&shared.palette);
    let drawn: Result<Rendered, String> = shared
        .cache
        .get_or_render(key.clone(), async move {
            tokio::task::spawn_blocking(move || {
                render_default_with(keyword, &hash, size, &palette, choice.format)
                    .map_err(|err| err.to_string())?
                    .ok_or_else(|| "not an image".to_owned())
            })
            .await
            .map_err(|err| err.to_string())?
        })
        .await;
    match drawn {
        Ok(rendered) => image(
            &rendered,
            &key.fingerprint(),
            shared.default_cache_control.clone(),
            choice.varies_with_accept,
            headers,
        ),
        Err(reason) => {
            tracing::error!(%keyword, size, reason, "cannot draw a default; answering 404");
            not_found("no avatar\n", shared.default_cache_control.clone())
        }
    }
}

/// The identity's original: from the cache while fresh; once stale, a picture is still served
/// at once while one background refresh runs; otherwise fetched, once for every request that
/// asks meanwhile.
pub(crate) async fn original_of(shared: &Arc<Shared>, identity: &Identity) -> Original {
    let now = Instant::now();
    match shared.originals.get(identity) {
        Some(original) if original.fresh(now) => return original,
        Some(stale @ Original::Image { .. }) => {
            refresh_in_background(shared, identity);
            return stale;
        }
        Some(Original::Missing { .. }) => {
            shared.originals.remove(identity);
        }
        None => {}
    }
    match shared.originals.get_value_or_guard_async(identity).await {
        Ok(original) => original,
        Err(guard) => {
            if let Some(original) = from_disk(shared, identity).await {
                let _ = guard.insert(original.clone());
                if !original.fresh(Instant::now()) {
                    refresh_in_background(shared, identity);
                }
                return original;
            }
            let (original, _) = fetch_original(shared, identity).await;
            let _ = guard.insert(original.clone());
            original
        }
    }
}

/// The original kept on disk by an earlier run, if any (stale or not), checked as a fetched one.
async fn from_disk(shared: &Shared, identity: &Identity) -> Option<Original> {
    let disk = Arc::clone(shared.disk.as_ref()?);
    let owned = identity.clone();
    let (bytes, expires) = tokio::task::spawn_blocking(move || disk.load(&owned))
        .await
        .ok()??;
    let format = ImageFormat::sniff(&bytes).filter(|&format| format != ImageFormat::Avif)?;
    avatar_image::probe(&bytes, &shared.limits).ok()?;
    let left = expires
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Some(Original::Image {
        content: Sha256::digest(&bytes).into(),
        bytes,
        format,
        until: Instant::now() + left,
    })
}

/// Refetches a stale picture, one refresh per identity at a time. A refresh that fails for a
/// reason of the network (timeout, connection) keeps the stale picture a little longer; one the
/// upstream answers (no avatar any more, or a file the limits refuse) replaces it.
fn refresh_in_background(shared: &Arc<Shared>, identity: &Identity) {
    {
        let mut refreshing = shared
            .refreshing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !refreshing.insert(identity.clone()) {
            return;
        }
    }
    let (shared, identity) = (Arc::clone(shared), identity.clone());
    tokio::spawn(async move {
        let (fresh, answered) = fetch_original(&shared, &identity).await;
        let kept = match (fresh, answered, shared.originals.get(&identity)) {
            (
                Original::Missing { until },
                false,
                Some(Original::Image {
                    bytes,
                    content,
                    format,
                    ..
                }),
            ) => Original::Image {
                bytes,
                content,
                format,
                until,
            },
            (fresh, ..) => fresh,
        };
        shared.originals.insert(identity.clone(), kept);
        shared
            .refreshing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&identity);
    });
}

/// The fetched original, and whether the upstream answered at all (a 404 or a bad file is an
/// answer; a timeout or a refused connection is not).
async fn fetch_original(shared: &Shared, identity: &Identity) -> (Original, bool) {
    shared.fetches.fetch_add(1, Ordering::Relaxed);
    // Resolution, the fetch and the Gravatar fallback together stay within the deadline: a
    // dead nameserver or a slow upstream costs a page at most that (the lookup itself goes on
    // in the background, so its answer is cached for the next request).
    let found = tokio::time::timeout(shared.deadline, async {
        let url = upstream_url(shared, identity).await;
        let fetched = fetch_url(shared, &url).await;
        // Gravatar last, and only as the operator allows: after the identity's own server (or
        // the central one) answered that it has no avatar.
        if matches!(fetched, Err(FetchFailure::Status(404)))
            && let Some(gravatar) = gravatar_url(shared, identity)
        {
            let fetched = fetch_url(shared, &gravatar).await;
            return (gravatar, fetched);
        }
        (url, fetched)
    })
    .await;
    let (url, fetched) = found.unwrap_or_else(|_| (String::new(), Err(FetchFailure::Deadline)));
    let checked = fetched.and_then(
        |Fetched {
             body: bytes,
             max_age,
         }| {
            let format = ImageFormat::sniff(&bytes).ok_or_else(|| {
                FetchFailure::NotAPicture("not PNG, JPEG, GIF or WebP".to_owned())
            })?;
            if format == ImageFormat::Avif {
                return Err(FetchFailure::NotAPicture(
                    "AVIF, which the proxy does not decode".to_owned(),
                ));
            }
            // The header alone is checked here (dimensions, decoded size: bombs are refused
            // before any decoding); the render decodes under the same limits.
            avatar_image::probe(&bytes, &shared.limits)
                .map_err(|err| FetchFailure::NotAPicture(err.to_string()))?;
            Ok((bytes, format, max_age))
        },
    );
    match checked {
        // The upstream's max-age is honoured when it is longer than ours.
        Ok((bytes, format, max_age)) => {
            let ttl = max_age.map_or(shared.ttl, |age| age.max(shared.ttl));
            if let Some(disk) = &shared.disk {
                let (disk, identity, bytes) = (Arc::clone(disk), identity.clone(), bytes.clone());
                let expires = SystemTime::now() + ttl;
                tokio::task::spawn_blocking(move || disk.store(&identity, &bytes, expires));
            }
            (
                Original::Image {
                    content: Sha256::digest(&bytes).into(),
                    bytes,
                    format,
                    until: Instant::now() + ttl,
                },
                true,
            )
        }
        Err(failure) => {
            tracing::debug!(%identity, url, %failure, "no usable upstream avatar");
            // A 404 is an answer ("no avatar here"), not a failure.
            if !matches!(failure, FetchFailure::Status(404)) {
                shared.fetch_failures[failure.reason_index()].fetch_add(1, Ordering::Relaxed);
            }
            let answered = matches!(
                failure,
                FetchFailure::Status(_) | FetchFailure::TooLarge(_) | FetchFailure::NotAPicture(_)
            );
            // An answer ("no avatar", a bad file) is remembered for the negative TTL; a
            // failure of the network (a timeout, a refused connection) only briefly, so a slow
            // nameserver's first lookup does not hide a picture for minutes.
            let remembered = if answered {
                shared.negative_ttl
            } else {
                shared.negative_ttl.min(RETRY_AFTER_FAILURE)
            };
            (
                Original::Missing {
                    until: Instant::now() + remembered,
                },
                answered,
            )
        }
    }
}

async fn fetch_url(shared: &Shared, url: &str) -> Result<Fetched, FetchFailure> {
    match url.parse() {
        Ok(uri) => shared.fetcher.fetch(uri).await,
        Err(_) => Err(FetchFailure::Scheme(url.to_owned())),
    }
}

/// Gravatar's URL for the identity, with the hash the operator allows; `None` when off.
fn gravatar_url(shared: &Shared, identity: &Identity) -> Option<String> {
    let algorithm = match shared.gravatar {
        GravatarFallback::Off => return None,
        GravatarFallback::Sha256 => HashAlgorithm::Sha256,
        GravatarFallback::Md5 => HashAlgorithm::Md5,
    };
    // Gravatar knows email addresses only.
    let Identity::Email(email) = identity else {
        return None;
    };
    Some(format!(
        "{}{}?s={}&d=404",
        shared.gravatar_base,
        email.hash(algorithm),
        shared.fetch_size
    ))
}

/// `{base}{sha256}?s=N&d=404`: the domain's `_avatars-sec._tcp` server over https, else (unless
/// https only) its `_avatars._tcp` server over http, else the central server.
pub(crate) async fn upstream_url(shared: &Shared, identity: &Identity) -> String {
    let hash = identity.hash(HashAlgorithm::Sha256);
    // The lookups get half the deadline, the fetch the rest: a nameserver slower than that is
    // a DNS error, and a DNS error means the central server (docs/protocol.md
    // `[discovery.fallback]`). Given the whole deadline, a dead nameserver left no time to
    // fetch from the central server on the first ask, so the default was shown for someone
    // the central server has.
    let base = match identity.domain() {
        Ok(domain) => tokio::time::timeout(shared.deadline / 2, federated_base(shared, &domain))
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let base = base.unwrap_or_else(|| shared.central.clone());
    format!("{base}{hash}?s={}&d=404", shared.fetch_size)
}

async fn federated_base(shared: &Shared, domain: &str) -> Option<String> {
    // On a task of its own: if the caller stops waiting (the deadline), the lookups still
    // finish and land in discovery's cache.
    let (discovery, domain, https_only) = (
        shared.discovery.clone(),
        domain.to_owned(),
        shared.https_only,
    );
    let lookups = tokio::spawn(async move {
        let secure = discovery.base_url(&domain, Scheme::Https).await;
        if matches!(secure.origin(), BaseOrigin::Federated(_)) {
            return Some(secure.as_str().to_owned());
        }
        if https_only {
            return None;
        }
        let plain = discovery.base_url(&domain, Scheme::Http).await;
        matches!(plain.origin(), BaseOrigin::Federated(_)).then(|| plain.as_str().to_owned())
    });
    lookups.await.ok().flatten()
}

/// A one-line plain-text answer with `status`, not to be cached.
fn plain(status: StatusCode, line: &'static str) -> Response<AvatarBody> {
    let mut response = not_found(line, HeaderValue::from_static("no-store"));
    *response.status_mut() = status;
    response
}
