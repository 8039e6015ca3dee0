//! `avatars completions SHELL` and `avatars man-pages DIR`: the shell's tab completion and the
//! manual pages, made from the same command definition as `--help` (`clap_complete` and
//! `clap_mangen`), so they never disagree with it.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::error::CliError;

/// Writes the completion script for `shell` to `out` (`source <(avatars completions bash)`).
///
/// # Errors
/// [`CliError::Output`] when `out` cannot be written.
pub(crate) fn completions(
    shell: clap_complete::Shell,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut command = Cli::command();
    // Made in memory first: `generate` panics when its writer fails (a full disk, a reader
    // that has gone), where this returns the error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "avatars", &mut script);
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(CliError::Output)
}

/// Writes `avatars.1` and a page per subcommand (`avatars-serve.1`, ...) into `dir`, made when
/// missing, and says how many on `out`.
///
/// # Errors
/// [`CliError::WriteFile`] when `dir` or a page cannot be written.
pub(crate) fn man_pages(dir: &Path, out: &mut impl Write) -> Result<(), CliError> {
    let failed = |source| CliError::WriteFile {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(failed)?;
    let pages = std::fs::read_dir(dir)
        .map_err(failed)?
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("avatars") && name.ends_with(".1")
        })
        .count();
    writeln!(
        out,
        "wrote {pages} manual pages in {} (man -l {}/avatars.1, or copy them to /usr/local/share/man/man1)",
        dir.display(),
        dir.display()
    )
    .map_err(CliError::Output)
}
