//! `avatars list`: what the data directory holds.

use std::io::Write;

use avatar_store::{FsStore, Store as _};

use crate::cli::ListArgs;
use crate::commands::small_runtime;
use crate::error::CliError;

/// One line per avatar: size in bytes, then the identity.
pub(crate) fn run(args: &ListArgs, out: &mut impl Write) -> Result<(), CliError> {
    let store = FsStore::open_existing(&args.data.data_dir)?;
    for entry in small_runtime()?.block_on(store.list())? {
        writeln!(out, "{:>9} {}", entry.bytes, entry.identity)?;
    }
    Ok(())
}
