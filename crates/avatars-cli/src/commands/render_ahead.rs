//! `avatars render-ahead`: makes the renditions `--render-ahead` asks for of every avatar
//! already stored, as `serve` and `import` make them for new ones, so a site that turns
//! `--render-ahead` on does not wait for its existing pictures to be asked for. A rendition
//! kept already is not made again, so a run that stopped half way is finished by running it
//! again. The store is read as it goes (`Store::entries`), and pictures are rendered on every
//! CPU at once; a picture stored for several addresses is rendered once. Each picture's rung
//! is made too; without `--render-ahead`, only the rungs (for a store imported before rungs
//! were made at import).

use std::collections::HashSet;
use std::io::Write;
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use avatar_image::rung::RUNG_SIDE;
use avatar_image::{Limits, RenderAhead};
use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::Store as _;
use futures_util::StreamExt as _;

use crate::cli::RenderAheadArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::renditions::{self, check_render_ahead};
use crate::store::{AnyStore, Location, Open};

/// What one stored avatar gave.
enum Outcome {
    /// This many rendition files were made (0: all were kept already).
    Made(usize),
    /// Its picture could not be rendered (logged on stderr).
    Failed,
    /// Removed since it was listed.
    Gone,
}

/// Renders, with a progress line on stderr at most once a second, then one line of totals on
/// stdout.
pub(crate) fn run(args: &RenderAheadArgs, out: &mut impl Write) -> Result<(), CliError> {
    let location = args.data.location()?;
    check_render_ahead(&args.renditions, &location)?;
    let rungs_only = args.renditions.render_ahead.is_empty();
    if rungs_only {
        check_room_for_rungs(args, &location)?;
    }
    let runtime = small_runtime()?;
    runtime.block_on(async {
        let store = location.open(Open::Existing, args.data.flag()).await?;
        let (_, Some(ahead)) = renditions::open(&args.renditions, &location)? else {
            return Ok(());
        };
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let seen = Mutex::new(HashSet::new());
        let mut outcomes = pin!(
            store
                .entries()
                .map(|entry| render_one(&store, &ahead, &seen, entry))
                // Twice the CPUs: each picture is read from the store before it is rendered,
                // and with one per CPU those reads left the CPUs idle a fifth of the time.
                .buffer_unordered(cpus * 2)
        );
        let (mut avatars, mut made, mut failed) = (0usize, 0usize, 0usize);
        let started = Instant::now();
        let mut shown = Instant::now();
        while let Some(outcome) = outcomes.next().await {
            match outcome? {
                Outcome::Made(files) => {
                    avatars += 1;
                    made += files;
                }
                Outcome::Failed => {
                    avatars += 1;
                    failed += 1;
                }
                Outcome::Gone => {}
            }
            if shown.elapsed() >= Duration::from_secs(1) {
                let rate = count_per_second(avatars, started);
                if rungs_only {
                    stderr_line!("render-ahead: {avatars} avatar(s) so far ({rate:.0} a second)");
                } else {
                    stderr_line!(
                        "render-ahead: {avatars} avatar(s) so far, {made} rendition(s) made ({rate:.0} avatars a second)"
                    );
                }
                shown = Instant::now();
            }
        }
        let files = ahead.files();
        let unkept = files.write_failures();
        let not_written = if unkept == 0 {
            String::new()
        } else {
            format!(", {unkept} rendition file(s) that could not be written")
        };
        if rungs_only {
            writeln!(
                out,
                "made the rungs of {avatars} avatar(s) in {} (those larger than {RUNG_SIDE} px that had none), {failed} picture(s) that could not be rendered{not_written}",
                files.dir().display()
            )?;
        } else {
            let sizes = args.renditions.render_ahead.iter().map(u32::to_string);
            let formats = &args.renditions.formats;
            let mut converted = String::new();
            if !formats.iter().any(|format| format == "none") {
                for format in formats {
                    converted.push_str(" and ");
                    converted.push_str(format);
                }
            }
            writeln!(
                out,
                "rendered ahead at {} px, in the stored format{converted}, for {avatars} avatar(s) in {}: {made} rendition(s) made, {failed} picture(s) that could not be rendered{not_written}",
                sizes.collect::<Vec<_>>().join(", "),
                files.dir().display()
            )?;
        }
        if unkept > 0 {
            return Err(CliError::RenditionsNotKept {
                dir: files.dir().to_owned(),
                count: unkept,
                reason: files.latest_write_error().unwrap_or_default(),
            });
        }
        Ok(())
    })
}

/// Without sizes, `render-ahead` makes each picture's rung into the rendition files: there
/// must be some.
fn check_room_for_rungs(args: &RenderAheadArgs, location: &Location) -> Result<(), CliError> {
    const WHY: &str = "without --render-ahead PX,..., render-ahead makes each picture's rung, kept as a rendition file";
    if args.renditions.render_files_dir.is_none() && matches!(location, Location::Postgres(_)) {
        return Err(CliError::MissingOption {
            option: "--render-files-dir DIR (or --render-ahead PX,...)",
            why: WHY,
        });
    }
    if args.renditions.render_files_bytes == 0 {
        return Err(CliError::MissingOption {
            option: "--render-files-bytes above 0",
            why: WHY,
        });
    }
    Ok(())
}

/// Reads `entry`'s picture and renders it ahead on a blocking thread, unless a picture of the
/// same content is in `seen` (one stored for several addresses, `import --also`): its
/// renditions are that picture's, made or being made already. `seen` holds the first 8 bytes
/// of each content's SHA-256, 8 MiB or so for a million pictures; two pictures sharing them
/// (about one chance in 10^7 in a million) would leave the second to be rendered when asked.
async fn render_one(
    store: &AnyStore,
    ahead: &RenderAhead,
    seen: &Mutex<HashSet<u64>>,
    entry: Result<avatar_store::StoredEntry, avatar_store::StoreError>,
) -> Result<Outcome, CliError> {
    let entry = entry?;
    let identity = Identity::parse(&entry.identity)?;
    let image = match store.get(&identity.hash(HashAlgorithm::Sha256)).await {
        Ok(Some(image)) => image,
        Ok(None) => return Ok(Outcome::Gone),
        Err(err) if err.is_unavailable() => return Err(err.into()),
        // One damaged or unreadable file: the server answers it as a miss, and so it is here.
        Err(err) => {
            stderr_line!("warning: {identity}: not rendered ahead: {err}");
            return Ok(Outcome::Failed);
        }
    };
    let first = seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(u64::from_le_bytes(
            image.content[..8].try_into().expect("8 of 32 bytes"),
        ));
    if !first {
        return Ok(Outcome::Made(0));
    }
    let ahead = ahead.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        ahead.render(&image.bytes, image.content, &Limits::DEFAULT)
    })
    .await
    .map_err(|err| CliError::Output(std::io::Error::other(err)))?;
    Ok(match rendered {
        Ok(files) => Outcome::Made(files),
        Err(err) => {
            stderr_line!("warning: {identity}: not rendered ahead: {err}");
            Outcome::Failed
        }
    })
}

#[expect(
    clippy::cast_precision_loss,
    reason = "a count of avatars, shown rounded"
)]
fn count_per_second(count: usize, since: Instant) -> f64 {
    count as f64 / since.elapsed().as_secs_f64().max(1e-9)
}
