//! `cargo xtask openapi`: the admin listener's management API and its contract,
//! `docs/admin-openapi.yaml`, judged by three tools others wrote, each installed (pinned) by
//! `scripts/ensure-api-tools.sh`. Part of `ci`.
//!
//! 1. Redocly CLI lints the document with its recommended rules, every warning an error
//!    (`docs/redocly.yaml`; the exceptions, each with its reason, in
//!    `docs/.redocly.lint-ignore.yaml`).
//! 2. openapi-python-client generates a Python client from it (configured as a Python
//!    application would, `docs/openapi-python-client.yaml`), and `xtask/generated_client.py`
//!    drives a live server through that client as an embedding application would: store,
//!    crop, describe, fetch, list, refuse and remove.
//! 3. schemathesis, against the same live `avatars serve --admin-addr` (a token, two stored
//!    avatars): every check it has (`docs/schemathesis.toml` says the one setting), no 5xx,
//!    and no response the document does not describe.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use crate::process::{Running, build_test_binaries, wait_bounded};
use crate::workspace_root;

/// The token the run uses (any 16 characters or more).
const TOKEN: &str = "xtask-schemathesis-token-0123456789";

/// How long each tool may take.
const TOOL_LIMIT: Duration = Duration::from_secs(300);

/// Runs the three checks; exit 1 on the first failure.
pub(crate) fn openapi() -> ExitCode {
    match run() {
        Ok(()) => {
            eprintln!(
                "xtask openapi: docs/admin-openapi.yaml lints clean, its generated client works, and the admin API matches it"
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("xtask openapi: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Where `scripts/ensure-api-tools.sh` keeps a tool: `$variable`, or `~/.cache/folder`.
fn tools_dir(variable: &str, folder: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache").join(folder)
        },
        PathBuf::from,
    )
}

/// `path`, or why it cannot be used.
fn installed(path: PathBuf) -> Result<PathBuf, String> {
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run scripts/ensure-api-tools.sh",
            path.display()
        ))
    }
}

/// Runs `command` to its end within [`TOOL_LIMIT`]; an error naming `what` when it fails.
fn run_tool(mut command: Command, what: &str) -> Result<(), String> {
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run {what}: {err}"))?;
    if wait_bounded(&mut child, what, TOOL_LIMIT)? {
        Ok(())
    } else {
        Err(format!("{what} failed (above)"))
    }
}

fn run() -> Result<(), String> {
    let root = workspace_root();
    let schemathesis =
        installed(tools_dir("AVATARS_VENV", "avatars-venv").join("bin/schemathesis"))?;
    let tools = tools_dir("AVATARS_OPENAPI", "avatars-openapi");
    let redocly = installed(tools.join("node_modules/.bin/redocly"))?;
    let generator = installed(tools.join("python/bin/openapi-python-client"))?;

    eprintln!("xtask openapi: linting docs/admin-openapi.yaml (Redocly, recommended rules) ...");
    let mut lint = Command::new(&redocly);
    lint.current_dir(&root)
        .args([
            "lint",
            "docs/admin-openapi.yaml",
            "--config",
            "docs/redocly.yaml",
        ])
        // No usage report and no update check: the machine may have no internet, and a
        // check must not talk to a third party.
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true");
    run_tool(lint, "redocly lint")?;

    let bin = build_test_binaries("xtask openapi")?;
    let work = bin.with_file_name("openapi");
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

    eprintln!("xtask openapi: generating a Python client (openapi-python-client) ...");
    let client = work.join("client");
    let venv_bin = generator.parent().unwrap_or(&work).to_path_buf();
    // Its own formatter (ruff) is in the same environment.
    let path = std::env::join_paths(std::iter::once(venv_bin.clone()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .map_err(|err| format!("PATH: {err}"))?;
    let mut generate = Command::new(&generator);
    generate
        .current_dir(&work)
        .args(["generate", "--path"])
        .arg(root.join("docs/admin-openapi.yaml"))
        .arg("--config")
        .arg(root.join("docs/openapi-python-client.yaml"))
        .arg("--output-path")
        .arg(&client)
        .env("PATH", &path);
    run_tool(generate, "openapi-python-client generate")?;
    eprintln!("xtask openapi: driving {admin} through the generated client ...");
    let mut drive = Command::new(venv_bin.join("python"));
    drive
        .arg(root.join("xtask/generated_client.py"))
        .arg(&client)
        .args([admin.as_str(), TOKEN])
        .arg(&picture);
    run_tool(
        drive,
        "the generated client's run (xtask/generated_client.py)",
    )?;

    eprintln!("xtask openapi: checking {admin} against docs/admin-openapi.yaml (schemathesis) ...");
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
    if wait_bounded(&mut child, "schemathesis", TOOL_LIMIT)? {
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
