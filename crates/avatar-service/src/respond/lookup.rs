//! Finding the picture: the store, the render cache, the drawn defaults.

use avatar_image::{ImageError, RenderKey, Rendered, render_default, render_square};
use avatar_proto::{AvatarRequest, DefaultKeyword};
use avatar_store::Store;

use crate::service::Shared;

/// What a request gets, before it becomes an HTTP response.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// An image: a stored avatar (`hit`), or a default.
    Image {
        rendered: Rendered,
        fingerprint: [u8; 16],
        hit: bool,
    },
    /// `d=404`, or a server default of 404.
    NotFound,
    /// A 302 to a trusted default URL or to the upstream server.
    Redirect { location: String },
}

/// The stored avatar at the requested size, or `None` (a miss, or an unreadable or corrupt
/// file, which is logged and then treated as a miss).
pub(crate) async fn stored<St: Store>(
    shared: &Shared<St>,
    request: &AvatarRequest,
) -> Option<Answer> {
    let image = match shared.store.get(&request.hash).await {
        Ok(Some(image)) => image,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!(hash = %request.hash, error = %err, "cannot read the stored avatar; answering as a miss");
            return None;
        }
    };
    let key = RenderKey::Stored {
        content: image.content,
        size: request.size,
    };
    let limits = shared.config.limits;
    let size = request.size;
    match rendered(shared, key.clone(), move || {
        Ok(render_square(&image.bytes, size, &limits)?)
    })
    .await
    {
        Ok(rendered) => Some(Answer::Image {
            rendered,
            fingerprint: key.fingerprint(),
            hit: true,
        }),
        Err(err) => {
            tracing::warn!(hash = %request.hash, error = %err, "cannot render the stored avatar; answering as a miss");
            None
        }
    }
}

/// A drawn default (never `404`, which the caller handles).
pub(crate) async fn drawn_default<St: Store>(
    shared: &Shared<St>,
    request: &AvatarRequest,
    keyword: DefaultKeyword,
) -> Answer {
    let key = RenderKey::Default {
        keyword,
        hash: request.hash,
        size: request.size,
    };
    let (hash, size) = (request.hash, request.size);
    let drawn = rendered(shared, key.clone(), move || {
        render_default(keyword, &hash, size)?.ok_or(RenderError::NotAnImage)
    })
    .await;
    match drawn {
        Ok(rendered) => Answer::Image {
            rendered,
            fingerprint: key.fingerprint(),
            hit: false,
        },
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
    #[error("the render task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The rendition for `key` from the cache, or made by `render` on a blocking thread and cached.
async fn rendered<St>(
    shared: &Shared<St>,
    key: RenderKey,
    render: impl FnOnce() -> Result<Rendered, RenderError> + Send + 'static,
) -> Result<Rendered, RenderError> {
    if let Some(cached) = shared.cache.get(&key) {
        return Ok(cached);
    }
    let rendered = tokio::task::spawn_blocking(render).await??;
    shared.cache.insert(key, rendered.clone());
    Ok(rendered)
}
