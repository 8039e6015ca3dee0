//! `cargo xtask ci`: the whole gate CI runs, step by step with a progress line around each,
//! stopping at the first failure.

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
        name: "XMPP peers (Prosody and ejabberd from apt, slixmpp in a venv, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-xmpp-peers.sh"],
        env: &[],
    },
    Step {
        name: "browser tests' tools (Chromium with apt-get, axe-core with npm, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-chromium.sh"],
        env: &[],
    },
    Step {
        name: "PostgreSQL and PgBouncer for the database store's tests (Debian's, installed when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-postgres.sh"],
        env: &[],
    },
    Step {
        name: "HTTP tools (curl and openssl from apt; schemathesis, openapi-python-client, Redocly CLI, REDbot and sslyze, pinned, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-api-tools.sh"],
        env: &[],
    },
    Step {
        name: "Libravatar client libraries for the conformance suite to judge, and Gravatar URL builders (pyLibravatar, django-avatar and django-gravatar2 from PyPI, libravatar from npm, go-libravatar, Go and Gravatar::URL from apt, pinned, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-client-libraries.sh"],
        env: &[],
    },
    Step {
        name: "reverse proxies for their tests and the bench (nginx-light, wrk and caddy from apt, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-bench-tools.sh"],
        env: &[],
    },
    Step {
        name: "deploy tools (systemd-analyze, strace, promtool and shellcheck from apt, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-unit-tools.sh"],
        env: &[],
    },
    Step {
        name: "libjpeg-turbo for the feature of that name (libturbojpeg0-dev from apt, when missing)",
        program: Some("bash"),
        args: &["scripts/ensure-libjpeg-turbo.sh"],
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
        name: "the crates as crates.io would get them (cargo package, without building each again)",
        program: None,
        args: &[
            "package",
            "--workspace",
            "--exclude",
            "test-support",
            "--exclude",
            "xtask",
            "--no-verify",
            "--locked",
        ],
        env: &[],
    },
    Step {
        name: "the oldest Rust the workspace declares (rust-version), with rustup when it is there",
        program: Some("bash"),
        args: &["scripts/check-msrv.sh"],
        env: &[],
    },
    Step {
        name: "tests",
        program: None,
        args: &["test", "--workspace", "--locked"],
        // Snapshots are compared, never rewritten, in the gate. Four tests at once on two
        // cores: most of the slow ones wait on a service (ejabberd, Prosody, PostgreSQL,
        // systemd, a real client's retries), and with two at once the cores sat idle half the
        // time (the step's tests: 273 s with 2, 206 to 230 s with 4, measured 2026-12-07).
        env: &[("INSTA_UPDATE", "no"), ("RUST_TEST_THREADS", "4")],
    },
    Step {
        name: "clippy with libjpeg-turbo encoding JPEG (the build `cargo xtask bench` measures)",
        program: None,
        args: &[
            "clippy",
            "--package",
            "avatar-image",
            "--features",
            "libjpeg-turbo",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "avatar-image's tests with libjpeg-turbo encoding JPEG",
        program: None,
        args: &[
            "test",
            "--package",
            "avatar-image",
            "--features",
            "libjpeg-turbo",
            "--locked",
        ],
        env: &[("INSTA_UPDATE", "no")],
    },
    Step {
        name: "avatar-service's format tests with AVIF built (--features avif)",
        program: None,
        args: &[
            "test",
            "--package",
            "avatar-service",
            "--features",
            "avif",
            "--locked",
            "--test",
            "it",
            "formats",
        ],
        env: &[("INSTA_UPDATE", "no")],
    },
    Step {
        name: "conformance (in process, avatars serve/url over TCP, avatars xmpp as a component)",
        program: None,
        args: &["xtask", "conformance"],
        env: &[],
    },
    Step {
        name: "admin API and docs/admin-openapi.yaml (Redocly's lint, a generated Python client, schemathesis)",
        program: None,
        args: &["xtask", "openapi"],
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
            // A gate builds everything once from scratch: incremental state would only be
            // written, never read, and costs time on every crate of the workspace.
            .env("CARGO_INCREMENTAL", "0")
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
