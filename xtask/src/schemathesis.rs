//! `cargo xtask schemathesis`: the admin listener's management API checked against its
//! contract, `docs/admin-openapi.yaml`, by schemathesis (installed in a virtual environment
//! by `scripts/ensure-api-tools.sh`): a live `avatars serve --admin-addr` with a token and two
//! stored avatars, every check schemathesis has (`docs/schemathesis.toml` says the one
//! setting), no 5xx, and no response the document does not describe. Part of `ci`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use crate::process::{Running, build_test_binaries, wait_bounded};
use crate::workspace_root;

/// The token the run uses (any 16 characters or more).
const TOKEN: &str = "xtask-schemathesis-token-0123456789";

/// Runs the check; exit 1 on any failure.
pub(crate) fn schemathesis() -> ExitCode {
    match run() {
        Ok(()) => {
            eprintln!("xtask schemathesis: the admin API matches docs/admin-openapi.yaml");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("xtask schemathesis: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Where `scripts/ensure-api-tools.sh` keeps schemathesis.
fn venv() -> PathBuf {
    std::env::var_os("AVATARS_VENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/avatars-venv")
        },
        PathBuf::from,
    )
}

fn run() -> Result<(), String> {
    let root = workspace_root();
    let schemathesis = venv().join("bin/schemathesis");
    if !schemathesis.exists() {
        return Err(format!(
            "{} is missing: run scripts/ensure-api-tools.sh",
            schemathesis.display()
        ));
    }
    let bin = build_test_binaries("xtask schemathesis")?;
    let work = bin.with_file_name("schemathesis");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|err| format!("creating {}: {err}", work.display()))?;
    // Readable by its owner only, as a deployment keeps it, so the server has nothing to
    // warn of.
    let tokens = work.join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n"))
        .and_then(|()| {
            std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        })
        .map_err(|err| format!("writing the token file: {err}"))?;
    let picture = root.join("docs/initials.png");
    let (_server, admin) = start_admin(&bin.join("avatars"), &work, &picture)?;

    eprintln!("xtask schemathesis: checking {admin} against docs/admin-openapi.yaml ...");
    let mut child = Command::new(&schemathesis)
        .current_dir(&root)
        .arg("--config-file")
        .arg(root.join("docs/schemathesis.toml"))
        .args(["run", "docs/admin-openapi.yaml", "--url", &admin])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--seed",
            "20261202",
        ])
        .args(["--request-timeout", "10", "--no-color"])
        .spawn()
        .map_err(|err| format!("cannot run {}: {err}", schemathesis.display()))?;
    if wait_bounded(&mut child, "schemathesis", Duration::from_secs(300))? {
        Ok(())
    } else {
        Err("schemathesis found responses that break docs/admin-openapi.yaml (above)".into())
    }
}

/// `avatars serve` with the admin listener in `work`, two avatars stored; the server and the
/// admin listener's base URL.
fn start_admin(avatars: &Path, work: &Path, picture: &Path) -> Result<(Running, String), String> {
    let picture = picture.display().to_string();
    let mut child = Command::new(avatars)
        .current_dir(work)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .args(["--admin-token-file", "tokens", "--data-dir", "data"])
        .args(["--email", &format!("alice@example.org={picture}")])
        .args(["--email", &format!("bob@example.org={picture}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot start avatars serve: {err}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from avatars serve")?;
    let server = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.map_err(|err| format!("reading avatars serve's output: {err}"))?;
        if let Some(addr) = line.strip_prefix("admin on ") {
            return Ok((server, addr.to_owned()));
        }
    }
    Err("avatars serve ended without printing 'admin on URL'".into())
}
