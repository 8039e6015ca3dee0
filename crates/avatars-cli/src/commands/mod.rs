//! One module per subcommand; each `run` writes its result to the writer it is given.

pub(crate) mod hash;
pub(crate) mod import;
pub(crate) mod list;
pub(crate) mod remove;
pub(crate) mod serve;
pub(crate) mod url;

use std::io;

/// A single-threaded runtime for the short store commands.
pub(crate) fn small_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
