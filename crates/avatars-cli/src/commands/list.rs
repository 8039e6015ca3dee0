//! `avatars list`: what the data directory holds.

use std::io::Write;

use avatar_store::Store as _;

use crate::cli::ListArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::store::Open;

/// One line per avatar: size in bytes, then the identity.
pub(crate) fn run(args: &ListArgs, out: &mut impl Write) -> Result<(), CliError> {
    let runtime = small_runtime()?;
    let store = runtime.block_on(args.data.location().open(Open::Existing))?;
    for entry in runtime.block_on(store.list())? {
        writeln!(out, "{:>9} {}", entry.bytes, entry.identity)?;
    }
    Ok(())
}
