//! `cargo xtask gallery --out DIR`: every default-image generator on one page.

use std::env;
use std::path::Path;
use std::process::{Command, ExitCode};

/// `gallery --out DIR`: runs the gallery example in release mode (drawing is quick either way,
/// but the page is for looking at, so it should match what a server sends).
pub(crate) fn gallery(out: &Path) -> ExitCode {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "avatar-image",
            "--example",
            "gallery",
            "--",
        ])
        .arg(out)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask: the gallery example failed ({status})");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("xtask: cannot run cargo: {err}");
            ExitCode::FAILURE
        }
    }
}
