//! `avatars import`: validate an image and store it for an identity.

use std::fs::File;
use std::io::{Read as _, Write};
use std::path::Path;

use avatar_image::{ImageError, ImageInfo, Limits, validate};
use avatar_proto::Identity;
use avatar_store::{FsStore, Store as _};
use bytes::Bytes;

use crate::cli::ImportArgs;
use crate::commands::small_runtime;
use crate::error::CliError;

pub(crate) fn run(args: &ImportArgs, out: &mut impl Write) -> Result<(), CliError> {
    let identity = Identity::parse(&args.identity)?;
    let store = FsStore::open(&args.data.data_dir)?;
    let info = small_runtime()?.block_on(import_file(
        &store,
        &identity,
        &args.file,
        &Limits::default(),
    ))?;
    writeln!(out, "{}", describe(&identity, &info))?;
    Ok(())
}

/// Reads `path` (refusing files over the size limit before reading them), decodes it fully under
/// `limits`, and only then stores it: a refused file leaves the store exactly as it was.
pub(crate) async fn import_file(
    store: &FsStore,
    identity: &Identity,
    path: &Path,
    limits: &Limits,
) -> Result<ImageInfo, CliError> {
    let read_error = |source| CliError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let length = file.metadata().map_err(read_error)?.len();
    let limit = limits.max_input_bytes;
    if length > limit as u64 {
        return Err(CliError::Image {
            path: path.to_owned(),
            source: ImageError::InputTooLarge {
                size: usize::try_from(length).unwrap_or(usize::MAX),
                limit,
            },
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    // Read at most one byte past the limit, in case the file grew since it was measured.
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let info = validate(&bytes, limits).map_err(|source| CliError::Image {
        path: path.to_owned(),
        source,
    })?;
    store.put(identity, Bytes::from(bytes)).await?;
    Ok(info)
}

pub(crate) fn describe(identity: &Identity, info: &ImageInfo) -> String {
    format!(
        "imported {identity}: {} {} x {}",
        info.format, info.width, info.height
    )
}
