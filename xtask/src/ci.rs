//! `cargo xtask ci`: the whole gate CI runs, step by step with a progress line around each,
//! stopping at the first failure.
//!
//! Clippy does not get a build of its own: every cargo command of the gate runs with
//! `clippy-driver` as the workspace's compiler (`RUSTC_WORKSPACE_WRAPPER`, what `cargo clippy`
//! itself sets) and `RUSTFLAGS=-D warnings`, so the one build that tests run from is also the
//! lint, every target included. A separate `cargo clippy` type-checked all 300 dependencies a
//! second time: a third of the gate's time.

use std::env;
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::workspace_root;

/// One step of a task: a name for the progress line, the program (cargo unless said otherwise),
/// and its arguments.
struct Step {
    name: &'static str,
    program: Option<&'static str>,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const CI_STEPS: &[Step] = &[
    Step {
        name: "test peers (Prosody, installed with apt-get when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-prosody.sh"],
        env: &[],
    },
    Step {
        name: "format check",
        program: None,
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "build and clippy, every target (clippy-driver compiles the workspace, -D warnings)",
        program: None,
        args: &[
            "test",
            "--workspace",
            "--all-targets",
            "--locked",
            "--no-run",
        ],
        env: &[],
    },
    Step {
        name: "tests",
        program: None,
        args: &["test", "--workspace", "--locked"],
        // Snapshots are compared, never rewritten, in the gate.
        env: &[("INSTA_UPDATE", "no")],
    },
    Step {
        name: "conformance (in process, avatars serve/url over TCP, avatars xmpp as a component)",
        program: None,
        args: &["xtask", "conformance"],
        env: &[],
    },
    Step {
        name: "docs",
        program: None,
        args: &[
            "doc",
            "--workspace",
            "--no-deps",
            "--all-features",
            "--locked",
        ],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

/// Runs [`CI_STEPS`].
pub(crate) fn ci() -> ExitCode {
    run_steps(CI_STEPS)
}

/// `clippy-driver` beside the cargo that runs us (the toolchain's own), or from the path.
fn clippy_driver(cargo: &str) -> String {
    std::path::Path::new(cargo)
        .parent()
        .map(|bin| bin.join("clippy-driver"))
        .filter(|driver| driver.is_file())
        .map_or_else(
            || "clippy-driver".to_owned(),
            |driver| driver.display().to_string(),
        )
}

/// Runs the steps in order, stopping at the first failure, with a progress line around each.
fn run_steps(steps: &[Step]) -> ExitCode {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let clippy = clippy_driver(&cargo);
    let started = Instant::now();
    for (index, step) in steps.iter().enumerate() {
        let number = index + 1;
        eprintln!("xtask [{number}/{}] {} ...", steps.len(), step.name);
        let step_started = Instant::now();
        let status = Command::new(step.program.unwrap_or(&cargo))
            .current_dir(workspace_root())
            .args(step.args)
            // A gate builds everything once from scratch: incremental state would only be
            // written, never read, and costs time on every crate of the workspace.
            .env("CARGO_INCREMENTAL", "0")
            // Every build is linted, and the same flags everywhere let each step reuse the
            // artifacts of the one before.
            .env("RUSTC_WORKSPACE_WRAPPER", &clippy)
            .env("RUSTFLAGS", "-D warnings")
            .envs(step.env.iter().copied())
            .status();
        let seconds = step_started.elapsed().as_secs_f64();
        match status {
            Ok(status) if status.success() => {
                eprintln!(
                    "xtask [{number}/{}] {} ok in {seconds:.1}s",
                    steps.len(),
                    step.name
                );
            }
            Ok(status) => {
                eprintln!(
                    "xtask [{number}/{}] {} FAILED ({status}) after {seconds:.1}s: {} {}",
                    steps.len(),
                    step.name,
                    step.program.unwrap_or("cargo"),
                    step.args.join(" ")
                );
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("xtask: cannot run {cargo}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!(
        "xtask: all {} steps passed in {:.1}s",
        steps.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
