//! Finding the picture: the index and render cache first; for a picture the index knows, its
//! rendition file, then its rung (neither reads the store); then the store, the renderer and
//! the drawn defaults.

use std::sync::Arc;

use avatar_image::{
    FileRead, ImageError, RenderKey, Rendered, RenditionFiles, render_default_with,
    render_from_rung, render_square_as, render_stored,
};
use avatar_proto::{AvatarRequest, DefaultKeyword, FormatChoice, ImageFormat};
use avatar_store::{Store, StoredImage};

use super::index::Found;
use crate::service::Shared;

/// What a request gets, before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// An image: a stored avatar (`hit`), or a default.
    Image {
        rendered: Rendered,
        fingerprint: [u8; 16],
        hit: bool,
        /// Another `Accept` could have given another format (`Vary: Accept`).
        varies_with_accept: bool,
    },
    /// `d=404`, or a server default of 404.
    NotFound,
    /// A 302 to a trusted default URL or to the upstream server.
    Redirect { location: String },
    /// The store is unreachable now ([`StoreError::is_unavailable`]): 503 with `Retry-After`,
    /// rather than a default that would say "no avatar" for someone who has one.
    ///
    /// [`StoreError::is_unavailable`]: avatar_store::StoreError::is_unavailable
    Unavailable,
}

impl Answer {
    fn image(rendered: Rendered, key: &RenderKey, hit: bool, choice: FormatChoice) -> Self {
        Self::Image {
            rendered,
            fingerprint: key.fingerprint(),
            hit,
            varies_with_accept: choice.varies_with_accept,
        }
    }
}

/// The response format for `request` when the picture is in `source`: the hash's extension,
/// else what `accept` (the raw `Accept` header) lists among the offered formats, else `source`
/// (`[server.format]`).
fn choose_format<St>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
    source: ImageFormat,
) -> FormatChoice {
    shared.config.formats.choose(request.format, accept, source)
}

/// What the caches alone know about a request's stored avatar.
#[derive(Debug)]
pub(crate) enum Cached {
    /// The rendition, ready.
    Hit(Answer),
    /// Nothing is stored under the hash (in the store's current generation).
    NotStored,
    /// The picture is known but the render cache does not hold this rendition (not made yet,
    /// or let go): its file may have it, or it must be made.
    Evicted {
        /// The rendition wanted.
        key: RenderKey,
        /// Its format, as chosen.
        choice: FormatChoice,
        /// The stored picture's format.
        source: ImageFormat,
    },
    /// The store must be asked.
    Unknown,
}

/// The stored avatar at the requested size from the index and the render cache, without
/// touching the store or the decoder. `generation` is the store's, taken now.
pub(crate) fn stored_cached<St>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
    generation: Option<u64>,
) -> Cached {
    let Some(generation) = generation else {
        return Cached::Unknown;
    };
    match shared.index.get(&request.hash, generation) {
        Some(Found::Nothing | Found::Unusable) => Cached::NotStored,
        Some(Found::Stored { content, format }) => {
            let choice = choose_format(shared, request, accept, format);
            let key = RenderKey::Stored {
                content,
                size: request.size,
                format: choice.format,
            };
            match shared.cache.get(&key) {
                Some(rendered) => {
                    shared.counters.cache_hit();
                    Cached::Hit(Answer::image(rendered, &key, true, choice))
                }
                None => Cached::Evicted {
                    key,
                    choice,
                    source: format,
                },
            }
        }
        None => Cached::Unknown,
    }
}

/// The stored avatar at the requested size, or `None` (a miss, or an unreadable or corrupt
/// file, which is logged and then treated as a miss); [`Answer::Unavailable`] when the store
/// cannot be reached now. What the store says is remembered in the
/// index; the rendition is made once however many requests ask for it at the same time.
pub(crate) async fn stored<St: Store>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
) -> Option<Answer> {
    // Taken before the store is asked: an answer read just before a write is then never kept.
    let generation = shared.store.generation(&request.hash);
    let known = match stored_cached(shared, request, accept, generation) {
        Cached::Hit(answer) => return Some(answer),
        Cached::NotStored => return None,
        Cached::Evicted {
            key,
            choice,
            source,
        } => Some((key, choice, source)),
        Cached::Unknown => None,
    };
    // The rendition's file, or the picture's rung, without reading the stored picture at all.
    if let Some((key, choice, source)) = &known {
        if let Some(answer) = from_file(shared, key, *choice).await {
            return Some(answer);
        }
        if let Some(answer) = from_rung(shared, key, *choice, *source).await {
            return Some(answer);
        }
    }
    let remember = |found| {
        if let Some(generation) = generation {
            shared.index.insert(request.hash, generation, found);
        }
    };
    let image = match read_store(shared, request).await {
        Ok(Some(image)) => image,
        Ok(None) => {
            remember(Found::Nothing);
            return None;
        }
        Err(answer) => return answer,
    };
    let Some(source) = ImageFormat::sniff(&image.bytes) else {
        remember(Found::Unusable);
        tracing::warn!(hash = %request.hash, "the stored avatar is not in a known image format; answering as a miss until another is stored");
        return None;
    };
    remember(Found::Stored {
        content: image.content,
        format: source,
    });
    let choice = choose_format(shared, request, accept, source);
    let key = RenderKey::Stored {
        content: image.content,
        size: request.size,
        format: choice.format,
    };
    // Known only now (the index had forgotten the hash): the rendition may be cached (another
    // hash of the same picture, or a rendition snapshot read at start), or in its file.
    if known.as_ref().is_none_or(|(tried, ..)| *tried != key) {
        if let Some(cached) = shared.cache.get(&key) {
            shared.counters.cache_hit();
            return Some(Answer::image(cached, &key, true, choice));
        }
        if let Some(answer) = from_file(shared, &key, choice).await {
            return Some(answer);
        }
    }
    let (limits, size) = (shared.config.limits, request.size);
    let files = shared.files.clone();
    let rendered = render_blocking(shared, key.clone(), shared.files.clone(), move || {
        let format = Some(choice.format);
        match files {
            // Its rung read from, or kept in, the rendition files.
            Some(files) => {
                render_stored(&image.bytes, &image.content, size, format, &limits, &files)
            }
            None => render_square_as(&image.bytes, size, format, &limits),
        }
        .map_err(Into::into)
    });
    match rendered.await {
        Ok(rendered) => Some(Answer::image(rendered, &key, true, choice)),
        // The picture itself cannot be read: every size of it would fail alike.
        Err(RenderError::Image(err)) if err.is_the_pictures() => {
            remember(Found::Unusable);
            tracing::warn!(hash = %request.hash, error = %err, "cannot render the stored avatar; answering as a miss until another is stored");
            None
        }
        Err(err) => {
            tracing::warn!(hash = %request.hash, error = %err, "cannot render the stored avatar; answering as a miss");
            None
        }
    }
}

/// What the store holds under the request's hash; `Err` with the answer when it cannot say:
/// [`Answer::Unavailable`] while it cannot be reached, or a miss for a file it cannot read
/// (counted each time, logged at most once every 10 s with how many failed). An outage is logged where it begins and where it ends, not at every
/// read it fails (a database down under a thousand requests a second logged a thousand lines
/// a second).
async fn read_store<St: Store>(
    shared: &Shared<St>,
    request: &AvatarRequest,
) -> Result<Option<StoredImage>, Option<Answer>> {
    match shared.store.get(&request.hash).await {
        Ok(found) => {
            if let Some(failed) = shared.counters.store_answered() {
                tracing::info!(
                    failed,
                    "the store answers again ({failed} read(s) answered 503 meanwhile)"
                );
            }
            Ok(found)
        }
        Err(err) if err.is_unavailable() => {
            if shared.counters.store_unavailable() {
                tracing::warn!(hash = %request.hash, error = %err, "the store is unavailable: answering 503 to what needs it until it answers again (cached answers go on)");
            }
            Err(Some(Answer::Unavailable))
        }
        Err(err) => {
            if let Some(failed) = shared.counters.store_error() {
                tracing::warn!(hash = %request.hash, error = %err, failed, "cannot read the stored avatar; answering as a miss ({failed} read(s) failed since the last such warning; at most one every 10 s, all counted in the stats)");
            }
            Err(None)
        }
    }
}

/// The rendition from its file ([`RenditionFiles`](avatar_image::RenditionFiles)), kept in the
/// render cache again; `None` when there are no files or this one is not kept.
async fn from_file<St>(
    shared: &Shared<St>,
    key: &RenderKey,
    choice: FormatChoice,
) -> Option<Answer> {
    let files = Arc::clone(shared.files.as_ref()?);
    // Read here when the page cache holds the file, as nginx does: handing a read of a few
    // kilobytes from memory to a blocking thread costs more than the read.
    let rendered = match files.get_if_cached(key) {
        FileRead::Found(rendered) => rendered,
        FileRead::Absent => return None,
        FileRead::WouldWait => {
            let wanted = key.clone();
            tokio::task::spawn_blocking(move || files.get(&wanted))
                .await
                .ok()??
        }
    };
    shared.counters.cache_miss();
    shared.counters.file_hit();
    shared.cache.insert(key.clone(), rendered.clone());
    Some(Answer::image(rendered, key, true, choice))
}

/// The rendition made from the picture's kept rung alone ([`render_from_rung`]), without
/// reading the store, kept in the render cache and its file as any render; `None` when no rung
/// serves it (no rung kept for the picture, a size rungs do not serve, or the rung gone or
/// damaged meanwhile) or the render failed: the caller then reads the picture.
async fn from_rung<St>(
    shared: &Shared<St>,
    key: &RenderKey,
    choice: FormatChoice,
    source: ImageFormat,
) -> Option<Answer> {
    let files = Arc::clone(shared.files.as_ref()?);
    let RenderKey::Stored { content, size, .. } = *key else {
        return None;
    };
    if !files.has_rung_for(&content, size) {
        return None;
    }
    let format = Some(choice.format);
    let from = Arc::clone(&files);
    let rendered = render_blocking(shared, key.clone(), Some(files), move || {
        render_from_rung(&content, source, size, format, &from)
            .ok_or(RenderError::NoRung)?
            .map_err(Into::into)
    });
    match rendered.await {
        Ok(rendered) => Some(Answer::image(rendered, key, true, choice)),
        Err(RenderError::NoRung) => None,
        Err(err) => {
            tracing::warn!(size, error = %err, "cannot render from a kept rung; rendering from the stored picture");
            None
        }
    }
}

fn default_key<St>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    keyword: DefaultKeyword,
    choice: FormatChoice,
) -> RenderKey {
    RenderKey::Default {
        format: choice.format,
        keyword,
        hash: request.hash,
        size: request.size,
        palette: if matches!(
            keyword,
            DefaultKeyword::Colour | DefaultKeyword::Initials(_)
        ) {
            shared.config.palette_id
        } else {
            0
        },
    }
}

/// A drawn default from the render cache, if it was drawn before.
pub(crate) fn drawn_default_cached<St>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
    keyword: DefaultKeyword,
) -> Option<Answer> {
    // Defaults are drawn, so PNG is their own format.
    let choice = choose_format(shared, request, accept, ImageFormat::Png);
    let key = default_key(shared, request, keyword, choice);
    let rendered = shared.cache.get(&key)?;
    shared.counters.cache_hit();
    Some(Answer::image(rendered, &key, false, choice))
}

/// A drawn default (never `404`, which the caller handles), cached like stored renditions.
pub(crate) async fn drawn_default<St>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    accept: Option<&[u8]>,
    keyword: DefaultKeyword,
) -> Answer {
    let choice = choose_format(shared, request, accept, ImageFormat::Png);
    let key = default_key(shared, request, keyword, choice);
    let (hash, size) = (request.hash, request.size);
    let palette = Arc::clone(&shared.config.palette);
    let drawn = render_blocking(shared, key.clone(), None, move || {
        render_default_with(keyword, &hash, size, &palette, choice.format)?
            .ok_or(RenderError::NotAnImage)
    });
    match drawn.await {
        Ok(rendered) => Answer::image(rendered, &key, false, choice),
        Err(err) => {
            // Sizes are validated by parsing and drawing cannot fail otherwise; say so loudly.
            tracing::error!(%keyword, size, error = %err, "cannot draw a default image; answering 404");
            Answer::NotFound
        }
    }
}

/// Why a rendition could not be made.
#[derive(Debug, thiserror::Error)]
enum RenderError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("the keyword is not an image")]
    NotAnImage,
    #[error("no rung is kept for the picture")]
    NoRung,
    #[error("the render task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("the service is shutting down")]
    Closed,
}

/// The rendition for `key` from the cache, or made by `render` on a blocking thread (once for
/// all concurrent requests of the same key) and cached, and kept in `files` if given. At most
/// [`render_threads`](crate::AvatarServiceBuilder::render_threads) renders run at once; the
/// rest wait their turn, so a burst of cold requests costs neither unbounded threads nor the
/// memory of that many decoded images. The file is written on the same thread after the
/// render's turn is given back: a turn is for decoding, resizing and encoding, and holding it
/// through the file system calls kept the next render waiting while a CPU had nothing to do.
/// The response waits for the file, so it is there once the answer is, and writes never pile up.
async fn render_blocking<St>(
    shared: &Shared<St>,
    key: RenderKey,
    files: Option<Arc<RenditionFiles>>,
    render: impl FnOnce() -> Result<Rendered, RenderError> + Send + 'static,
) -> Result<Rendered, RenderError> {
    // Cached since the caller looked, or a drawn default the caller did not look for.
    if let Some(cached) = shared.cache.get(&key) {
        shared.counters.cache_hit();
        return Ok(cached);
    }
    shared.counters.cache_miss();
    let file_key = key.clone();
    shared
        .cache
        .get_or_render(key, async {
            let permit = Arc::clone(&shared.renders)
                .acquire_owned()
                .await
                .map_err(|_| RenderError::Closed)?;
            let (rendered, took) = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let rendered = render();
                let took = started.elapsed();
                drop(permit);
                if let (Ok(rendered), Some(files)) = (&rendered, files) {
                    // The answer does not need the file: one that cannot be written is counted
                    // and logged by the files, at most once a minute.
                    let _ = files.put(&file_key, rendered);
                }
                (rendered, took)
            })
            .await?;
            // A rung gone since it was looked for made nothing; the caller renders anew.
            if !matches!(rendered, Err(RenderError::NoRung)) {
                shared.counters.rendered(took);
            }
            rendered
        })
        .await
}
