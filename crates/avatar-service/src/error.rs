//! The one error type of this crate: what can go wrong while building a service or storing an
//! upload.

use avatar_image::ImageError;
use http::StatusCode;

/// Why an [`AvatarService`](crate::AvatarService) could not be built, or an upload
/// ([`store_upload`](crate::upload::store_upload)) was not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The path prefix is malformed.
    #[error(
        "invalid path prefix {found:?}: expected \"\" or a path starting with / and not ending with /, like /avatars"
    )]
    InvalidPrefix {
        /// The prefix given.
        found: String,
    },

    /// A protocol setting (such as the maximum size) is out of range.
    #[error(transparent)]
    Protocol(#[from] avatar_proto::Error),

    /// The store could not be opened, or failed to store an upload.
    #[error(transparent)]
    Store(#[from] avatar_store::StoreError),

    /// An upload is not an acceptable image; nothing was stored. The message says why and what
    /// is accepted, for the person who uploaded it.
    #[error("upload refused: {0}")]
    Refused(#[source] ImageError),

    /// An upload was given no identity to store it for.
    #[error("an upload must be stored for at least one identity; none was given")]
    NoIdentity,

    /// The blocking thread that validates an upload failed (the runtime is shutting down).
    #[error("could not validate the upload: {0}")]
    Task(String),

    /// AVIF output was asked for in a build without the `avif` feature.
    #[error(
        "AVIF output needs the `avif` feature of avatar-service (built without it); offer WebP only, or rebuild with --features avif"
    )]
    AvifNotBuilt,

    /// `render_threads(0)`: nothing could ever be rendered.
    #[error("render_threads must be at least 1")]
    NoRenderThreads,

    /// The upstream configuration cannot work.
    #[error("invalid upstream {found:?}: {reason}")]
    InvalidUpstream {
        /// The upstream base URL given.
        found: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ServiceError {
    /// The HTTP status to answer an upload with when it failed this way: 413 for a file over the
    /// size limit, 415 for bytes that are not a supported image format, 422 for an image that
    /// is refused (dimensions, a decompression bomb, too many frames, corrupt data), and 500
    /// for everything that is not the uploader's fault.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused(ImageError::InputTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Refused(ImageError::UnknownFormat | ImageError::UnsupportedFormat { .. }) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::Refused(
                ImageError::Dimensions { .. }
                | ImageError::DecodedTooLarge { .. }
                | ImageError::TooManyFrames { .. }
                | ImageError::Corrupt { .. },
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
