//! `avatars migrate --from STORE --to STORE`: copies every avatar from one store to another (a
//! directory to PostgreSQL, or back), idempotently: an avatar the target already holds,
//! byte for byte, is left alone, so a migration that stopped half way is finished by running
//! it again. The source is read as it is copied (`Store::entries`), so a million avatars take
//! the memory of a few hundred.

use std::io::Write;
use std::pin::pin;
use std::time::{Duration, Instant};

use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::Store as _;
use futures_util::StreamExt as _;

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
        let mut entries = pin!(source.entries());
        let (mut total, mut copied, mut present) = (0usize, 0usize, 0usize);
        let mut shown = Instant::now();
        while let Some(entry) = entries.next().await {
            let entry = entry?;
            total += 1;
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
                eprintln!("migrate: {total} so far ({copied} copied, {present} already there)");
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
