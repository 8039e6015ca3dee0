//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write", "create directory", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// A file in the store is not what the layout says it should be.
    #[error("store file {} is damaged: {reason}", path.display())]
    Damaged {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The directory holds a store of another layout version, or something else entirely.
    #[error(
        "{} is not an avatars store of this version (its VERSION file says {found:?}; expected {expected:?}); \
         use an empty or new directory",
        path.display()
    )]
    WrongVersion {
        /// The store directory.
        path: PathBuf,
        /// What the VERSION file says.
        found: String,
        /// What this release writes.
        expected: &'static str,
    },

    /// The path holds something that is not a store: files of its own, or a file.
    #[error(
        "{} is not an avatars store: {why}",
        path.display()
    )]
    NotAStore {
        /// The path.
        path: PathBuf,
        /// What is there instead: "it is a file, not a directory", or "it is not empty and
        /// has no VERSION file".
        why: &'static str,
    },

    /// There is no store at the path (it does not exist, or is an empty directory), and the
    /// command does not create one.
    #[error(
        "there is no avatars store at {} (nothing has been stored there)",
        path.display()
    )]
    NoStore {
        /// The path.
        path: PathBuf,
    },

    /// The store cannot be reached now (its database is down, or did not answer in time): a
    /// transient failure, worth retrying later. A server answers it with 503 and
    /// `Retry-After`.
    #[error("the store is unavailable: {0}; retry later")]
    Unavailable(String),

    /// The database has no room left for a write (its disk is full). A folder store's full
    /// disk is an [`Io`](Self::Io) error; [`is_out_of_space`](Self::is_out_of_space) tells
    /// both.
    #[error("the store's database is out of space: {0}; free some, or give it more")]
    OutOfSpace(String),

    /// The store's backend refused an operation (a database error other than being
    /// unreachable).
    #[error("the store's database failed: {0}")]
    Backend(String),

    /// The store's address (a `postgres://` URL) is not usable.
    #[error("{url}: {reason}")]
    InvalidUrl {
        /// The URL, with any password removed.
        url: String,
        /// What is wrong, and what is accepted.
        reason: String,
    },

    /// A blocking task was cancelled or panicked.
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether a write failed for want of room: a full disk or an exhausted quota under a
    /// folder store, a full disk under a database. Retrying soon will not help; freeing space
    /// will.
    #[must_use]
    pub fn is_out_of_space(&self) -> bool {
        match self {
            Self::OutOfSpace(_) => true,
            Self::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }

    /// Whether the failure is transient (the store is unreachable now): a caller answers
    /// "try again later" rather than "not found" or "broken".
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
