//! `avatars list`: what the data directory holds.

use std::io::Write;
use std::pin::pin;

use avatar_proto::Identity;
use avatar_store::Store as _;
use futures_util::StreamExt as _;

use crate::cli::ListArgs;
use crate::commands::hash::described;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::store::Open;

/// One line per avatar: size in bytes, then the identity, or with `--json` one object with
/// the identity, its kind and hashes (as `avatars hash --json`) and `bytes`; each printed as
/// it is read, so a million avatars take the memory of a few hundred. In the store's order:
/// identity order for a database, directory order for a folder.
pub(crate) fn run(args: &ListArgs, out: &mut impl Write) -> Result<(), CliError> {
    let runtime = small_runtime()?;
    runtime.block_on(async {
        let store = args
            .data
            .location()?
            .open(Open::Read, args.data.flag())
            .await?;
        let mut entries = pin!(store.entries());
        while let Some(entry) = entries.next().await {
            let entry = entry?;
            if args.json {
                let mut object = described(&Identity::parse(&entry.identity)?);
                object.insert("bytes".into(), entry.bytes.into());
                writeln!(out, "{}", serde_json::Value::Object(object))?;
            } else {
                writeln!(out, "{:>9} {}", entry.bytes, entry.identity)?;
            }
        }
        Ok(())
    })
}
