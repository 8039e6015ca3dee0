//! The renditions `serve` and `import` make and keep, from the options they share
//! ([`RenditionArgs`]): the formats converted to on `Accept`, the rendition files, and the sizes
//! made when a picture is stored.

use std::sync::Arc;

use avatar_image::{OutputFormats, RenderAhead, RenditionFiles};

use crate::cli::RenditionArgs;
use crate::error::CliError;
use crate::store::Location;

/// `--formats`: `none` anywhere means the stored format only.
pub(crate) fn output_formats(names: &[String]) -> OutputFormats {
    if names.iter().any(|name| name == "none") {
        return OutputFormats::STORED_ONLY;
    }
    let has = |wanted: &str| names.iter().any(|name| name == wanted);
    OutputFormats::STORED_ONLY
        .webp(has("webp"))
        .avif(has("avif"))
}

/// `--render-files-dir`, or `renditions` in the store's directory; `None` with a database
/// and no directory given. A budget of 0 still opens the directory, to empty it.
fn rendition_files(
    args: &RenditionArgs,
    location: &Location,
) -> Result<Option<RenditionFiles>, CliError> {
    let dir = match (&args.render_files_dir, location) {
        (Some(dir), _) => dir.clone(),
        (None, Location::Dir(data)) => data.join("renditions"),
        (None, Location::Postgres(_)) => return Ok(None),
    };
    crate::owner::check_root_writes_its_own(&dir)?;
    RenditionFiles::open(&dir, args.render_files_bytes)
        .map(Some)
        .map_err(|source| CliError::RenditionFiles { path: dir, source })
}

/// The checks of `--render-ahead` that need nothing opened, so a wrong flag is told before a
/// store is made or connected to.
///
/// # Errors
/// [`CliError::MissingOption`] when there is nowhere to keep the files (a database store without
/// `--render-files-dir`, or `--render-files-bytes 0`); [`CliError::RenderAhead`] for too many
/// sizes.
pub(crate) fn check_render_ahead(
    args: &RenditionArgs,
    location: &Location,
) -> Result<(), CliError> {
    if args.render_ahead.is_empty() {
        return Ok(());
    }
    if args.render_files_dir.is_none() && matches!(location, Location::Postgres(_)) {
        return Err(CliError::MissingOption {
            option: "--render-files-dir DIR",
            why: "--render-ahead keeps renditions as files, and a database store has no folder for them",
        });
    }
    if args.render_files_bytes == 0 {
        return Err(CliError::MissingOption {
            option: "--render-files-bytes above 0",
            why: "--render-ahead keeps renditions as files",
        });
    }
    RenderAhead::check_sizes(args.render_ahead.iter().copied())
        .map(drop)
        .map_err(CliError::RenderAhead)
}

/// The rendition files ([`rendition_files`]) and what storing a picture makes into them: its
/// renditions at the `--render-ahead` sizes and its rung, or only its rung when no sizes are
/// given (`None` without files, or with a budget of 0). Call it once the store is open: the
/// files' folder is in the store's directory by default.
///
/// # Errors
/// As [`rendition_files`] and [`check_render_ahead`].
pub(crate) fn open(
    args: &RenditionArgs,
    location: &Location,
) -> Result<(Option<Arc<RenditionFiles>>, Option<RenderAhead>), CliError> {
    check_render_ahead(args, location)?;
    let files = rendition_files(args, location)?.map(Arc::new);
    let ahead = match &files {
        Some(files) if !args.render_ahead.is_empty() => Some(
            RenderAhead::new(
                Arc::clone(files),
                args.render_ahead.iter().copied(),
                output_formats(&args.formats),
            )
            .map_err(CliError::RenderAhead)?,
        ),
        Some(files) if args.render_files_bytes > 0 => {
            Some(RenderAhead::rung_only(Arc::clone(files)))
        }
        _ => None,
    };
    Ok((files, ahead))
}
