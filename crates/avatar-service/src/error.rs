//! The one error type of this crate: what can go wrong while building a service.

/// Why an [`AvatarService`](crate::AvatarService) could not be built.
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

    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] avatar_store::StoreError),

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
