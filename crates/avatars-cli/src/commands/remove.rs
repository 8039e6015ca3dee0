//! `avatars remove`: forget an identity's avatar.

use std::io::Write;

use avatar_proto::Identity;
use avatar_store::Store as _;

use crate::cli::RemoveArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::store::Open;

/// Removing what is not there is not an error (the command is idempotent); it says so.
pub(crate) fn run(args: &RemoveArgs, out: &mut impl Write) -> Result<(), CliError> {
    let identity = Identity::parse(&args.identity)?;
    let runtime = small_runtime()?;
    let store = runtime.block_on(args.data.location()?.open(Open::Existing, args.data.flag()))?;
    if runtime.block_on(store.remove(&identity))? {
        writeln!(out, "removed {identity}")?;
    } else {
        writeln!(out, "nothing stored for {identity}")?;
    }
    Ok(())
}
