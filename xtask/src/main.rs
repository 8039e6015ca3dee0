//! Project automation, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `ci`: the whole gate CI runs: the test peers (Debian's Prosody, installed by
//!   `scripts/ensure-prosody.sh` when missing), format check, clippy with `-D warnings`, every
//!   test (unit, integration, property, snapshot, doc, and the Prosody end-to-end test), and the
//!   docs with warnings denied.
//! - `gallery --out DIR`: an HTML page of every default-image generator for 12 hashes at 32, 80
//!   and 256 px (runs `avatar-image`'s `gallery` example, so xtask needs none of the crates).
//!
//! - `conformance`: the conformance suite against this project in process, against the
//!   `avatars serve` and `avatars url` binaries, and against the `avatars xmpp` component; reports
//!   in `target/conformance/`. Part of `ci`.
//!
//! - `bench`: criterion benches, `avatars serve` side by side with nginx under wrk, and memory
//!   after 100,000 requests over 10,000 (hash, size) pairs; results in `target/bench/`, exit 1
//!   when a target is not met (see `bench.rs`). Not part of `ci`: it takes minutes and wants a
//!   quiet machine.
//!
//! - `fuzz [--seconds N] [--target NAME]...`: the cargo-fuzz targets of `fuzz/`, N seconds each,
//!   on the stable toolchain (see `fuzz.rs`).

mod bench;
mod conformance;
mod fuzz;
mod process;

use std::env;
use std::process::{Command, ExitCode};
use std::time::Instant;

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
        name: "clippy",
        program: None,
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
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

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci                 test peers, format check, clippy -D warnings, all tests, conformance, docs
  conformance        the conformance suite against every target; reports in target/conformance/
  gallery --out DIR  an HTML page with every default-image generator
";

fn main() -> ExitCode {
    let task = env::args().nth(1);
    match task.as_deref() {
        Some("ci") => run_steps(CI_STEPS),
        Some("conformance") => conformance::conformance(),
        Some("bench") => bench::bench(&env::args().skip(2).collect::<Vec<_>>()),
        Some("fuzz") => fuzz::fuzz(&env::args().skip(2).collect::<Vec<_>>()),
        Some("gallery") => gallery(&env::args().skip(2).collect::<Vec<_>>()),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}{}\n{}", bench::USAGE, fuzz::USAGE);
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown task {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> std::path::PathBuf {
    let xtask = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// `gallery --out DIR`: runs the gallery example in release mode (drawing is quick either way,
/// but the page is for looking at, so it should match what a server sends).
fn gallery(args: &[String]) -> ExitCode {
    let out = match args {
        [flag, dir] if flag == "--out" => dir.clone(),
        _ => {
            eprintln!("xtask: usage: cargo xtask gallery --out DIR");
            return ExitCode::from(2);
        }
    };
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
            &out,
        ])
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

/// Runs the steps in order, stopping at the first failure, with a progress line around each.
fn run_steps(steps: &[Step]) -> ExitCode {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let started = Instant::now();
    for (index, step) in steps.iter().enumerate() {
        let number = index + 1;
        eprintln!("xtask [{number}/{}] {} ...", steps.len(), step.name);
        let step_started = Instant::now();
        let status = Command::new(step.program.unwrap_or(&cargo))
            .current_dir(workspace_root())
            .args(step.args)
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
