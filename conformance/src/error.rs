//! The crate's one error type: what stops a run (bad options, a target that cannot be set up, a
//! file that cannot be written), and what goes wrong while a case talks to its target, which
//! the case reports as what came back instead of what the rule expects.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Any error of the suite. Variants keep the error they came from as their
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// A command-line option or argument was wrong.
    #[error("{0}")]
    Usage(String),

    /// The fake DNS server could not start.
    #[error("the fake DNS server: {0}")]
    Dns(#[from] avatar_discovery::DiscoveryError),

    /// A record for the fake DNS server could not be built.
    #[error("the fake DNS server's records: {0}")]
    Record(#[from] hickory_proto::ProtoError),

    /// A target could not be set up.
    #[error("the target: {what}: {source}")]
    Setup {
        /// What was being set up.
        what: String,
        /// Why it failed.
        source: Box<Self>,
    },

    /// The fixtures could not be stored in a target's store.
    #[error("storing a fixture: {0}")]
    Store(#[from] avatar_store::StoreError),

    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A socket operation with the target failed.
    #[error("{action}: {source}")]
    Network {
        /// What was being done (`connecting to 127.0.0.1:5222`, `reading`).
        action: String,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// Nothing came within the time allowed.
    #[error("{waiting_for}: nothing within {after:?}")]
    Timeout {
        /// What was awaited.
        waiting_for: String,
        /// How long.
        after: Duration,
    },

    /// An HTTP exchange failed below the level of a response.
    #[error("{request}: {source}")]
    Http {
        /// The request, as `METHOD URI`.
        request: String,
        /// What the HTTP client said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The peer's bytes are not well-formed XML.
    #[error("not XML: {0}")]
    Xml(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The peer broke the protocol: closed the stream, refused a login, answered the wrong thing.
    #[error("{0}")]
    Protocol(String),

    /// A client program could not be run.
    #[error("cannot run {command:?}: {source}")]
    Spawn {
        /// The program and its arguments.
        command: Vec<String>,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A client program failed or printed no URL.
    #[error("{command:?} {problem}")]
    Client {
        /// The program and its arguments.
        command: Vec<String>,
        /// What went wrong (`exited with exit status: 1: ...`, `printed nothing`).
        problem: String,
    },

    /// What came back is not what a rule expects: the text is what came back.
    #[error("{0}")]
    Mismatch(String),

    /// Standard output could not be written (a full disk, a closed descriptor; a reader that
    /// has gone is no error).
    #[error("writing to standard output: {0}")]
    Output(#[source] std::io::Error),

    /// Same-origin redirects that never end: a loop, or more than [`MAX_REDIRECTS`] hops.
    ///
    /// [`MAX_REDIRECTS`]: crate::http::MAX_REDIRECTS
    #[error("{what}: {chain}")]
    Redirects {
        /// `a redirect loop` or `more than N redirects`.
        what: String,
        /// The URLs visited, joined by arrows.
        chain: String,
    },
}

impl ConformanceError {
    /// Wraps `self` as the reason `what` could not be set up.
    #[must_use]
    pub fn setting_up(self, what: impl Into<String>) -> Self {
        Self::Setup {
            what: what.into(),
            source: Box::new(self),
        }
    }

    /// A client program that exited unsuccessfully.
    pub(crate) fn client_exited(command: Vec<String>, status: ExitStatus, stderr: &[u8]) -> Self {
        Self::Client {
            command,
            problem: format!(
                "exited with {status}: {}",
                String::from_utf8_lossy(stderr).trim()
            ),
        }
    }
}

/// `Result` with this crate's error.
pub(crate) type Result<T> = std::result::Result<T, ConformanceError>;
