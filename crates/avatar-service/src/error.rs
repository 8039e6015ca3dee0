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
    /// is refused (dimensions, a decompression bomb, too many frames, corrupt data) or a crop
    /// that does not fit in it, 400 for a crop not written as `X,Y,SIDE`; for what is
    /// not the uploader's fault, 507 when the store has no room left, 503 when it cannot be
    /// reached now (answer it with a `Retry-After`), and 500 for the rest.
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
                | ImageError::Corrupt { .. }
                | ImageError::CropOutside { .. },
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Refused(ImageError::InvalidCrop { .. }) => StatusCode::BAD_REQUEST,
            Self::Store(err) if err.is_out_of_space() => StatusCode::INSUFFICIENT_STORAGE,
            Self::Store(err) if err.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use avatar_store::StoreError;

    use super::*;

    /// A store failure is told apart by what will mend it: room (507), time (503), or
    /// neither (500).
    #[test]
    fn a_store_failure_answers_by_what_will_mend_it() {
        let io = |kind: io::ErrorKind| StoreError::Io {
            action: "write",
            path: "x".into(),
            source: io::Error::from(kind),
        };
        let cases = [
            (io(io::ErrorKind::StorageFull), 507),
            (io(io::ErrorKind::QuotaExceeded), 507),
            (StoreError::OutOfSpace("disk full".into()), 507),
            (StoreError::Unavailable("gone".into()), 503),
            (io(io::ErrorKind::ReadOnlyFilesystem), 500),
            (StoreError::Backend("refused".into()), 500),
        ];
        for (err, status) in cases {
            let described = err.to_string();
            assert_eq!(
                ServiceError::Store(err).status().as_u16(),
                status,
                "{described}"
            );
        }
    }
}
