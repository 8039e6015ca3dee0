//! `avatars export`: the picture stored for an identity, byte for byte as it was stored, to a
//! file or to standard output: to look at what someone has, keep a copy, or hand a person
//! their data.

use std::fs::OpenOptions;
use std::io::{IsTerminal as _, Write};
use std::path::Path;

use avatar_image::{Limits, probe};
use avatar_proto::{HashAlgorithm, Identity, ImageFormat};
use avatar_store::Store as _;

use crate::cli::ExportArgs;
use crate::commands::small_runtime;
use crate::error::CliError;
use crate::store::Open;

/// Writes the stored picture to `args.file`, which must not exist yet, or with `-` to `out`
/// (never a terminal); says what it wrote on `out`, or on stderr when `out` has the picture.
pub(crate) fn run(args: &ExportArgs, out: &mut impl Write) -> Result<(), CliError> {
    let identity = Identity::parse(&args.identity)?;
    let to_out = args.file.as_os_str() == "-";
    if to_out && std::io::stdout().is_terminal() {
        return Err(CliError::PictureToTerminal);
    }
    let runtime = small_runtime()?;
    let store = runtime.block_on(args.data.location()?.open(Open::Read, args.data.flag()))?;
    let Some(stored) = runtime.block_on(store.get(&identity.hash(HashAlgorithm::Sha256)))? else {
        return Err(CliError::NotStored {
            identity: identity.to_string(),
        });
    };
    let what = describe(&stored.bytes);
    if to_out {
        out.write_all(&stored.bytes)?;
        // Said once it is all written, not while part of it waits in a buffer.
        out.flush()?;
        stderr_line!("exported {identity}: {what}");
        return Ok(());
    }
    write_new(&args.file, &stored.bytes)?;
    writeln!(
        out,
        "exported {identity}: {what}, to {}",
        args.file.display()
    )?;
    if let Some(warning) = name_warning(&args.file, &stored.bytes) {
        stderr_line!("avatars: warning: {warning}");
    }
    Ok(())
}

/// `PNG 480 x 480, 42341 bytes`; the bytes alone for a picture that cannot be read (which
/// is exported all the same: it is what is stored).
fn describe(bytes: &[u8]) -> String {
    let unlimited = Limits {
        max_input_bytes: usize::MAX,
        ..Limits::DEFAULT
    };
    match probe(bytes, &unlimited) {
        Ok(info) => format!(
            "{} {} x {}, {} bytes",
            info.format,
            info.width,
            info.height,
            bytes.len()
        ),
        Err(_) => format!("{} bytes", bytes.len()),
    }
}

/// Creates `path`, which must not exist, with `bytes`; a file left part-written (a full disk)
/// is removed.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let cannot = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Exists {
                path: path.to_owned(),
            }
        } else {
            CliError::WriteFile {
                path: path.to_owned(),
                source,
            }
        }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(cannot)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(source) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(cannot(source));
    }
    Ok(())
}

/// A warning when `path`'s extension names another format than the picture's.
fn name_warning(path: &Path, bytes: &[u8]) -> Option<String> {
    let format = ImageFormat::sniff(bytes)?;
    let named = ImageFormat::from_extension(path.extension()?.as_encoded_bytes())?;
    (named != format).then(|| {
        format!(
            "{} holds a {format} picture, as it was stored, whatever its name says (.{} would say so)",
            path.display(),
            format.extension()
        )
    })
}
