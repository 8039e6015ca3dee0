//! `cargo xtask conformance`: the conformance suite against three targets, each a real process
//! where it can be:
//!
//! 1. in process: this project's service, discovery client and IQ service;
//! 2. the `avatars serve` binary over TCP (loaded with the suite's fixtures through
//!    `avatars import`), with the `avatars url` binary as the discovery client (`--client-cmd`);
//! 3. the `avatars xmpp` component, connecting to the suite as its XEP-0114 server.
//!
//! Reports (terminal, JSON, JUnit, HTML) for each go to `target/conformance/`. Any MUST failure
//! fails the task.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Running, start_server, wait_bounded};

const SECRET: &str = "conformance-secret";
const DOMAIN: &str = "avatars.conformance.test";

pub(crate) fn conformance() -> ExitCode {
    match run() {
        Ok(true) => {
            eprintln!("xtask conformance: every target passed (reports in target/conformance/)");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("xtask conformance: FAILED (reports in target/conformance/)");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("xtask conformance: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    let bin = crate::process::build_test_binaries("xtask conformance")?;
    let suite = bin.join("avatar-conformance");
    let avatars = bin.join("avatars");
    let work = bin.with_file_name("conformance");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|err| format!("creating {}: {err}", work.display()))?;

    let mut passed = true;
    passed &= run_suite(&suite, &work, "in-process", &[])?;

    let data = work.join("data");
    load_fixtures(&suite, &avatars, &work, &data)?;
    let (server, url) = start_server(&avatars, &data, "xtask conformance")?;
    let client = format!(
        "{} url --nameserver {{nameserver}} --scheme {{scheme}} --size={{size}} --default={{default}} {{identity}} {{again}}",
        avatars.display()
    );
    passed &= run_suite(
        &suite,
        &work,
        "avatars-binaries",
        &[
            "--group",
            "libravatar-server",
            "--target-url",
            &url,
            "--group",
            "libravatar-discovery",
            "--client-cmd",
            &client,
        ],
    )?;
    drop(server);

    passed &= run_component(&suite, &avatars, &work, &data)?;
    Ok(passed)
}

/// Runs the suite with `args`, reports under `work/NAME.*`; whether it passed.
fn run_suite(suite: &Path, work: &Path, name: &str, args: &[&str]) -> Result<bool, String> {
    eprintln!("xtask conformance: suite against {name} ...");
    let started = Instant::now();
    let status = suite_command(suite, work, name, args)
        .status()
        .map_err(|err| format!("cannot run {}: {err}", suite.display()))?;
    eprintln!(
        "xtask conformance: {name}: {} in {:.1}s",
        if status.success() { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    Ok(status.success())
}

fn suite_command(suite: &Path, work: &Path, name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(suite);
    command
        .args(args)
        .arg("--json")
        .arg(work.join(format!("{name}.json")))
        .arg("--junit")
        .arg(work.join(format!("{name}.junit.xml")))
        .arg("--html")
        .arg(work.join(format!("{name}.html")));
    command
}

/// Writes the fixtures and imports every avatar of the manifest into `data`.
fn load_fixtures(suite: &Path, avatars: &Path, work: &Path, data: &Path) -> Result<(), String> {
    let fixtures = work.join("fixtures");
    let status = Command::new(suite)
        .arg("fixtures")
        .arg("--out")
        .arg(&fixtures)
        .stdout(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run {}: {err}", suite.display()))?;
    if !status.success() {
        return Err("writing the fixtures failed".to_owned());
    }
    let manifest = std::fs::read_to_string(fixtures.join("manifest.json"))
        .map_err(|err| format!("reading the manifest: {err}"))?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest)
        .map_err(|err| format!("the manifest is not JSON: {err}"))?;
    let entries = manifest["avatars"].as_array().map_or(0, Vec::len);
    // The import path other implementations are told about in the README: one command.
    let output = Command::new(avatars)
        .arg("import")
        .arg("--data-dir")
        .arg(data)
        .arg("--manifest")
        .arg(fixtures.join("manifest.json"))
        .output()
        .map_err(|err| format!("cannot run {}: {err}", avatars.display()))?;
    if !output.status.success() {
        return Err(format!(
            "avatars import --manifest failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    eprintln!("xtask conformance: imported {entries} fixture avatars");
    Ok(())
}

/// Starts the suite as a component's server, then `avatars xmpp` pointed at it.
fn run_component(suite: &Path, avatars: &Path, work: &Path, data: &Path) -> Result<bool, String> {
    let name = "avatars-xmpp";
    eprintln!("xtask conformance: suite against {name} (the suite plays the XEP-0114 server) ...");
    let started = Instant::now();
    let mut harness = suite_command(
        suite,
        work,
        name,
        &[
            "--group",
            "xep-0008",
            "--group",
            "xep-0153",
            "--group",
            "xep-0084",
            "--component-listen",
            "127.0.0.1:0",
            "--secret",
            SECRET,
            "--component-wait",
            "60",
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .map_err(|err| format!("cannot run {}: {err}", suite.display()))?;
    let stderr = harness.stderr.take().ok_or("no stderr from the suite")?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = harness.kill();
            return Err("the suite ended before listening for a component".to_owned());
        };
        eprintln!("{line}");
        if let Some(addr) = line.strip_prefix("avatar-conformance: waiting for a component on ") {
            break addr.trim().to_owned();
        }
    };
    let component = Running(
        Command::new(avatars)
            .arg("xmpp")
            .arg("--data-dir")
            .arg(data)
            .args(["--server", &addr, "--domain", DOMAIN, "--secret", SECRET])
            // The mirroring case plays a user of example.net.
            .args(["--identity-domain", "example.net", "--mirror-subscribers"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start avatars xmpp: {err}"))?,
    );
    // Pass the suite's progress lines through while it runs.
    let forward = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    let status = wait_bounded(&mut harness, "the suite", Duration::from_secs(300))?;
    let _ = forward.join();
    drop(component);
    eprintln!(
        "xtask conformance: {name}: {} in {:.1}s",
        if status { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    Ok(status)
}
