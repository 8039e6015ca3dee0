//! `avatars migrate --from STORE --to STORE`: copies every avatar from one store to another (a
//! directory to PostgreSQL, or back), idempotently: an avatar the target already holds,
//! byte for byte, is left alone, so a migration that stopped half way is finished by running
//! it again. The source is read as it is copied (`Store::entries`), so a million avatars take
//! the memory of a few hundred.
//!
//! With `--normalise`, an avatar larger than the master side is written as its master (what
//! uploads have been stored as since masters exist), so a store written before keeps no large
//! originals; `--from` and `--to` may then be the same store, normalised in place. Running it
//! again changes nothing: a master is not larger than the master side.

use std::io::Write;
use std::pin::pin;
use std::time::{Duration, Instant};

use avatar_image::{Limits, prepare};
use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::{Store as _, StoredImage};
use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::cli::MigrateArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::store::{Location, Open};

/// Copies, with a progress line on stderr at most once a second, then one line of totals on
/// stdout.
pub(crate) fn run(args: &MigrateArgs, out: &mut impl Write) -> Result<(), CliError> {
    let (from, to) = (Location::parse(&args.from)?, Location::parse(&args.to)?);
    if from == to && !args.normalise {
        return Err(CliError::SameStore {
            store: from.describe(),
        });
    }
    let limits = args.normalise.then(|| Limits {
        master_side: args.master_side.unwrap_or(Limits::DEFAULT.master_side),
        ..Limits::DEFAULT
    });
    let runtime = small_runtime()?;
    runtime.block_on(async {
        let source = from.open(Open::Read, "--from").await?;
        let target = to.open(Open::Create, "--to").await?;
        let mut entries = pin!(source.entries());
        let (mut total, mut copied, mut present, mut normalised) = (0usize, 0usize, 0usize, 0usize);
        let mut shown = Instant::now();
        while let Some(entry) = entries.next().await {
            let entry = entry?;
            total += 1;
            let identity = Identity::parse(&entry.identity)?;
            let hash = identity.hash(HashAlgorithm::Sha256);
            // Removed since it was listed: nothing to copy.
            if let Some(mut image) = source.get(&hash).await? {
                if let Some(limits) = limits
                    && let Some(master) = master_of(&entry.identity, image.bytes.clone(), limits).await
                {
                    image = StoredImage::new(master);
                    normalised += 1;
                }
                match target.get(&hash).await? {
                    Some(held) if held.content == image.content => present += 1,
                    _ => {
                        target.put(&identity, image.bytes).await?;
                        copied += 1;
                    }
                }
            }
            if shown.elapsed() >= Duration::from_secs(1) {
                stderr_line!(
                    "migrate: {total} so far ({copied} copied, {present} already there, {normalised} normalised)"
                );
                shown = Instant::now();
            }
        }
        let normalised = if limits.is_some() {
            format!(", {normalised} stored as their master")
        } else {
            String::new()
        };
        writeln!(
            out,
            "migrated {total} avatar(s) from {} to {}: {copied} copied, {present} already there{normalised}",
            from.describe(),
            to.describe()
        )?;
        Ok(())
    })
}

/// The master of a stored avatar larger than the master side, made on a blocking thread;
/// `None` when it is not larger, or cannot be read under today's limits (it is then copied as
/// it is, with a warning: migrating never loses an avatar).
async fn master_of(identity: &str, bytes: Bytes, limits: Limits) -> Option<Bytes> {
    let prepared = tokio::task::spawn_blocking(move || prepare(&bytes, &limits)).await;
    match prepared {
        Ok(Ok(prepared)) => prepared.master.map(|master| master.bytes),
        Ok(Err(err)) => {
            stderr_line!("warning: {identity}: copied as it is, not normalised: {err}");
            None
        }
        Err(err) => {
            stderr_line!("warning: {identity}: copied as it is, not normalised: {err}");
            None
        }
    }
}
