//! `avatars import`: validate an image and store it for one identity or several, through the
//! library's upload path ([`avatar_service::upload::store_upload`]).

use std::fs::File;
use std::io::{IsTerminal as _, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use avatar_image::{ImageError, ImageInfo, Limits, RenderAhead, probe, validate};
use avatar_proto::Identity;
use avatar_service::ServiceError;
use avatar_service::upload::{UploadOptions, Uploaded, store_upload_with};
use avatar_store::Store;
use bytes::Bytes;

use crate::cli::ImportArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::renditions::{self, check_render_ahead};
use crate::store::{Location, Open};

pub(crate) fn run(args: &ImportArgs, out: &mut impl Write) -> Result<(), CliError> {
    let imports = match (&args.manifest, &args.identity, &args.file) {
        (Some(manifest), _, _) => read_manifest(manifest)?,
        (None, Some(identity), Some(file)) => {
            let identities = std::iter::once(identity)
                .chain(&args.also)
                .map(|text| Identity::parse(text))
                .collect::<Result<Vec<_>, _>>()?;
            vec![(identities, file.clone())]
        }
        // clap requires both unless --manifest is given.
        _ => return Ok(()),
    };
    let location = args.data.location()?;
    check_render_ahead(&args.renditions, &location)?;
    let limits = Limits {
        master_side: args.master_side,
        ..Limits::DEFAULT
    };
    // A manifest is refused whole for a file that is no picture it can store: each one's
    // header is read before anything is stored (decoding them all twice would slow an import
    // of 100,000 by half).
    if imports.len() > 1 {
        for (_, file) in &imports {
            check_header(file, &limits)?;
        }
    }
    check_first_import(
        &location,
        imports.first().map(|(_, file)| file.as_path()),
        &limits,
    )?;
    let runtime = small_runtime()?;
    let store = runtime.block_on(location.open(Open::Create, args.data.flag()))?;
    // Opened only to make each picture's rung and the renditions asked for ahead: importing
    // does not read them. With a budget of 0 they are not opened at all (opening would empty
    // the server's folder).
    let ahead = if args.renditions.render_files_bytes == 0 {
        None
    } else {
        renditions::open(&args.renditions, &location)?.1
    };
    let mut options = UploadOptions::new();
    if let Some(crop) = args.crop {
        options = options.crop(crop);
    }
    if let Some(ahead) = &ahead {
        options = options.render_ahead(ahead.clone());
    }
    for (identities, file) in &imports {
        let uploaded =
            runtime.block_on(import_file(&store, identities, file, &limits, &options))?;
        for identity in identities {
            writeln!(out, "{}", describe(identity, &uploaded))?;
        }
    }
    // Stored all the same: a rung or rendition that could not be kept is made when asked for.
    if let Some(files) = ahead.as_ref().map(RenderAhead::files)
        && files.write_failures() > 0
    {
        stderr_line!(
            "warning: {} rendition file(s) could not be written in {}: {}; they will be made when asked for",
            files.write_failures(),
            files.dir().display(),
            files.latest_write_error().unwrap_or_default()
        );
    }
    Ok(())
}

/// One entry of a manifest (the conformance suite's `manifest.json` has more fields, which are
/// ignored).
#[derive(Debug, serde::Deserialize)]
struct ManifestEntry {
    identity: String,
    file: PathBuf,
}

/// The avatars of a manifest: every identity parsed and every file found before anything is
/// imported, so a bad manifest stores nothing.
fn read_manifest(path: &Path) -> Result<Vec<(Vec<Identity>, PathBuf)>, CliError> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        avatars: Vec<ManifestEntry>,
    }
    let read_error = |source| CliError::ReadFile {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|err| CliError::Manifest {
        path: path.to_owned(),
        problem: format!(
            "{err}; expected {{\"avatars\": [{{\"identity\": \"EMAIL OR OPENID\", \"file\": \"NAME.png\"}}, ...]}}"
        ),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    manifest
        .avatars
        .into_iter()
        .map(|entry| {
            let identity = Identity::parse(&entry.identity)?;
            let file = base.join(&entry.file);
            if !file.is_file() {
                return Err(CliError::Manifest {
                    path: path.to_owned(),
                    problem: format!("{} (for {identity}) is not a file", file.display()),
                });
            }
            Ok((vec![identity], file))
        })
        .collect()
}

/// A folder becomes a store only for a picture it will hold: where `location` holds no store
/// yet, the `first` file to import is read and decoded before the store is made, so a refused
/// first file leaves no empty store behind. (A file refused later leaves those imported
/// before it, each said as it was stored.)
fn check_first_import(
    location: &Location,
    first: Option<&Path>,
    limits: &Limits,
) -> Result<(), CliError> {
    if let Some(first) = first
        && location.is_new_dir()
    {
        check_upload(first, limits)?;
    }
    Ok(())
}

/// Whether the picture at `path` would be stored: read (refused unread when over the size
/// limit) and decoded under `limits`, stored nowhere.
///
/// # Errors
/// [`CliError::ReadFile`] or [`CliError::Image`] saying what is wrong with the file.
pub(crate) fn check_upload(path: &Path, limits: &Limits) -> Result<(), CliError> {
    check_with(path, limits, validate)
}

/// Whether the file at `path` looks like a picture that would be stored: read (refused unread
/// when over the size limit), and its header (format and dimensions) checked under `limits`
/// without decoding the picture ([`probe`]).
///
/// # Errors
/// [`CliError::ReadFile`] or [`CliError::Image`] saying what is wrong with the file.
fn check_header(path: &Path, limits: &Limits) -> Result<(), CliError> {
    check_with(path, limits, probe)
}

/// The file at `path` read (refused unread when over the size limit) and given to `check`
/// ([`validate`] or [`probe`]).
fn check_with(
    path: &Path,
    limits: &Limits,
    check: fn(&[u8], &Limits) -> Result<ImageInfo, ImageError>,
) -> Result<(), CliError> {
    let bytes = read_upload(path, limits)?;
    check(&bytes, limits).map_err(|source| CliError::Image {
        path: shown(path),
        source,
    })?;
    Ok(())
}

/// Reads `path` (refusing files over the size limit before reading them), decodes it fully under
/// `limits`, and only then stores it, once for all `identities`, as `options` say (the square
/// chosen, the renditions made ahead): a refused file leaves the store exactly as it was.
pub(crate) async fn import_file(
    store: &impl Store,
    identities: &[Identity],
    path: &Path,
    limits: &Limits,
    options: &UploadOptions,
) -> Result<Uploaded, CliError> {
    let bytes = read_upload(path, limits)?;
    store_upload_with(store, identities, bytes, limits, options)
        .await
        .map_err(|err| match err {
            ServiceError::Refused(source) => CliError::Image {
                path: shown(path),
                source,
            },
            ServiceError::Store(source) => CliError::Store(source),
            other => CliError::Service(other),
        })
}

/// The name that means standard input instead of a file, as `avatars import ADDRESS -`.
const STDIN: &str = "-";

/// How standard input is named in messages.
const STDIN_NAME: &str = "standard input";

/// The bytes of the file at `path` (standard input for `-`), refused without reading it when it
/// is over the size limit.
fn read_upload(path: &Path, limits: &Limits) -> Result<Bytes, CliError> {
    if path.as_os_str() == STDIN {
        return read_stdin(limits);
    }
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
    // Read at most one byte past the limit: a pipe (`/dev/stdin`) measures 0, and a file may
    // have grown since it was measured.
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > limit {
        return Err(CliError::StreamTooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(Bytes::from(bytes))
}

/// `path` as messages name it: standard input for `-`.
fn shown(path: &Path) -> PathBuf {
    if path.as_os_str() == STDIN {
        PathBuf::from(STDIN_NAME)
    } else {
        path.to_owned()
    }
}

/// The picture piped in, read once however often it is asked for (a new store's first picture
/// is read to check it, then again to store it); refused when standard input is a terminal,
/// where nobody would know the command is waiting for a picture.
fn read_stdin(limits: &Limits) -> Result<Bytes, CliError> {
    static READ: OnceLock<Bytes> = OnceLock::new();
    if let Some(bytes) = READ.get() {
        return Ok(bytes.clone());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(CliError::PictureFromTerminal);
    }
    let read_error = |source| CliError::ReadFile {
        path: PathBuf::from(STDIN_NAME),
        source,
    };
    let limit = limits.max_input_bytes;
    let mut stdin = stdin.lock();
    let mut bytes = Vec::new();
    (&mut stdin)
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > limit {
        // Not read to its end to say how long it is: `cat /dev/zero |` never ends.
        return Err(CliError::StreamTooLarge {
            path: PathBuf::from(STDIN_NAME),
            limit,
        });
    }
    Ok(READ.get_or_init(|| Bytes::from(bytes)).clone())
}

/// One line for a stored picture: its format and size, the square stored instead of a large
/// one, and the renditions made ahead.
pub(crate) fn describe(identity: &Identity, uploaded: &Uploaded) -> String {
    let info = &uploaded.image;
    let ahead = match uploaded.rendered_ahead {
        0 => String::new(),
        made => format!(", {made} rendition(s) made ahead"),
    };
    let square = match (uploaded.crop, uploaded.stored_square) {
        (Some(crop), Some(side)) => {
            format!(", stored as the square {crop} (X,Y,SIDE) at {side} x {side}")
        }
        (_, Some(side)) => format!(", stored as its centred {side} x {side} square"),
        (_, None) => String::new(),
    };
    format!(
        "imported {identity}: {} {} x {}{square}{ahead}",
        info.format, info.width, info.height
    )
}
