//! Project automation, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `ci` (`ci.rs`): the whole gate CI runs: the test peers (Debian's Prosody, ejabberd and
//!   Chromium, and slixmpp in a venv, installed by `scripts/ensure-xmpp-peers.sh` and
//!   `scripts/ensure-chromium.sh` when missing), format check, clippy with `-D warnings`, every
//!   test (unit, integration, property, snapshot, doc, the tidy checks, the Prosody and ejabberd
//!   end-to-end tests and the report's browser test), the
//!   conformance suite, and the docs with warnings denied.
//! - `conformance` (`conformance.rs`): the conformance suite against this project in process,
//!   against the `avatars serve` and `avatars url` binaries, and against the `avatars xmpp`
//!   component; reports in `target/conformance/`. Part of `ci`.
//! - `bench` (`bench/`): criterion benches, `avatars serve` side by side with nginx under wrk,
//!   memory after 100,000 requests over 10,000 (hash, size) pairs, a load test, and bytes and
//!   time per response format with the 2048 px costs; results in `target/bench/`, exit 1 when a
//!   target is not met. Not part of `ci`: it takes minutes and
//!   wants a quiet machine.
//! - `openapi` (`openapi.rs`): `docs/admin-openapi.yaml` linted by Redocly, a Python client
//!   generated from it driven against a live server, and the admin listener checked against it
//!   by schemathesis. Part of `ci`.
//! - `fuzz` (`fuzz.rs`): the cargo-fuzz targets of `fuzz/`, N seconds each, on stable.
//! - `notices [--out FILE]` (`notices.rs`): the third-party notices that go with the
//!   `avatars` binary, by cargo-about (installed when missing). Not part of `ci`: a release
//!   step, about a minute.
//! - `gallery --out DIR` (`gallery.rs`): an HTML page of every default-image generator, and
//!   `d=initials` in a dozen scripts.
//!
//! `tidy.rs` holds the repository's house rules as tests (every module opens with `//!`,
//! dependencies come from the workspace, the README names only paths that exist).
//! xtask depends on none of the project's crates, so it builds in seconds.

mod bench;
mod ci;
mod conformance;
mod fuzz;
mod gallery;
mod notices;
mod openapi;
mod process;
#[cfg(test)]
mod tidy;
mod walk;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `cargo xtask`: the project's automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Test peers, format check, clippy -D warnings, all tests, conformance, docs: what CI runs.
    Ci,
    /// The conformance suite against every target; reports in target/conformance/.
    Conformance,
    /// Criterion benches, avatars serve against nginx under wrk, memory, load, formats, proxy,
    /// PostgreSQL store, a million identities and the scale workload (--only picks parts);
    /// results in target/bench/, exit 1 when a target is missed.
    Bench(bench::BenchArgs),
    /// Each cargo-fuzz target for N seconds; a crash in fuzz/artifacts/ fails the task.
    Fuzz(fuzz::FuzzArgs),
    /// docs/admin-openapi.yaml linted (Redocly), a Python client generated from it
    /// (openapi-python-client) driven against a live server, and the admin API checked
    /// against it (schemathesis); the tools are installed by scripts/ensure-api-tools.sh.
    Openapi,
    /// The third-party notices that go with the avatars binary (licence texts, the IJG's
    /// sentence, where the MPL crates' source is, NOTICE files), by cargo-about.
    Notices {
        /// Where to write them (default target/notices/THIRD-PARTY-NOTICES.md).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// An HTML page with every default-image generator.
    Gallery {
        /// Where to write the page and its images.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Ci => ci::ci(),
        Task::Conformance => conformance::conformance(),
        Task::Bench(options) => bench::bench(&options),
        Task::Fuzz(options) => fuzz::fuzz(&options),
        Task::Gallery { out } => gallery::gallery(&out),
        Task::Notices { out } => notices::notices(out.as_deref()),
        Task::Openapi => openapi::openapi(),
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let xtask = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tasks_and_their_flags_parse() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied()))
        };
        assert!(matches!(parse(&["ci"]).unwrap().task, Task::Ci));
        let Task::Bench(bench) = parse(&[
            "bench", "--only", "http", "--only", "formats", "--rounds", "2", "--avif",
        ])
        .unwrap()
        .task
        else {
            panic!("not bench");
        };
        assert_eq!(
            format!("{bench:?}"),
            "BenchArgs { rounds: 2, seconds: 10, only: [Http, Formats], scale_avatars: 100000, avif: true, replot_scale: None }"
        );
        assert!(parse(&["bench", "--replot-scale", "target/bench/bench.json"]).is_ok());
        assert!(
            parse(&["bench", "--replot-scale", "bench.json", "--only", "scale"]).is_err(),
            "redrawing measures nothing"
        );
        let Task::Fuzz(fuzz) = parse(&["fuzz", "--seconds", "5", "--target", "srv"])
            .unwrap()
            .task
        else {
            panic!("not fuzz");
        };
        assert_eq!(
            format!("{fuzz:?}"),
            "FuzzArgs { seconds: 5, target: [Srv] }"
        );
        assert!(matches!(
            parse(&["gallery", "--out", "dir"]).unwrap().task,
            Task::Gallery { .. }
        ));
    }

    #[test]
    fn bad_flags_are_refused_with_what_is_accepted() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied()))
        };
        for args in [
            &["bench", "--rounds", "0"][..],
            &["bench", "--seconds", "500"],
            &["bench", "--only", "everything"],
            &["fuzz", "--seconds", "0"],
            &["fuzz", "--target", "nope"],
            &["gallery"],
            &["unknown"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
        let err = parse(&["bench", "--only", "everything"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("criterion") && err.contains("load"), "{err}");
    }
}
