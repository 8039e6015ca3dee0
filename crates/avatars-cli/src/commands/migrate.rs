//! `avatars migrate --from STORE --to STORE`: copies every avatar from one store to another (a
//! directory to PostgreSQL, or back), idempotently: an avatar the target already holds,
//! byte for byte, is left alone, so a migration that stopped half way is finished by running
//! it again.

use std::io::Write;
use std::time::{Duration, Instant};

use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::Store as _;

use crate::cli::MigrateArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::store::{Location, Open};

/// Copies, with a progress line on stderr at most once a second, then one line of totals on
/// stdout.
pub(crate) fn run(args: &MigrateArgs, out: &mut impl Write) -> Result<(), CliError> {
    let (from, to) = (Location::parse(&args.from), Location::parse(&args.to));
    if from == to {
        return Err(CliError::SameStore {
            store: from.describe(),
        });
    }
    let runtime = small_runtime()?;
    runtime.block_on(async {
        let source = from.open(Open::Existing).await?;
        let target = to.open(Open::Create).await?;
        let entries = source.list().await?;
        let total = entries.len();
        let (mut copied, mut present) = (0usize, 0usize);
        let mut shown = Instant::now();
        for (done, entry) in entries.iter().enumerate() {
            let identity = Identity::parse(&entry.identity)?;
            let hash = identity.hash(HashAlgorithm::Sha256);
            // Removed since it was listed: nothing to copy.
            if let Some(image) = source.get(&hash).await? {
                match target.get(&hash).await? {
                    Some(held) if held.content == image.content => present += 1,
                    _ => {
                        target.put(&identity, image.bytes).await?;
                        copied += 1;
                    }
                }
            }
            if shown.elapsed() >= Duration::from_secs(1) {
                eprintln!(
                    "migrate: {}/{total} ({copied} copied, {present} already there)",
                    done + 1
                );
                shown = Instant::now();
            }
        }
        writeln!(
            out,
            "migrated {total} avatar(s) from {} to {}: {copied} copied, {present} already there",
            from.describe(),
            to.describe()
        )?;
        Ok(())
    })
}
