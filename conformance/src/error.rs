//! The crate's one error type.

/// What can stop a conformance run (as opposed to a case failing, which is a result).
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// A command-line option or argument was wrong.
    #[error("{0}")]
    Usage(String),
    /// The fake DNS server could not start.
    #[error("the fake DNS server: {0}")]
    Dns(String),
    /// A target could not be set up or reached.
    #[error("the target: {0}")]
    Target(String),
    /// A file could not be written.
    #[error("writing {0}: {1}")]
    Io(String, #[source] std::io::Error),
}
