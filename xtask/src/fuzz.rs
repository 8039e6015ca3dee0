//! `cargo xtask fuzz [--seconds N] [--target NAME]...`: every cargo-fuzz target in `fuzz/` for N
//! seconds each (default 60), one after the other.
//!
//! On the stable toolchain: cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when
//! missing) asks rustc for `-Z` flags, which stable accepts with `RUSTC_BOOTSTRAP=1`; the
//! targets build without a sanitizer (`--sanitizer none`: the workspace forbids `unsafe` and its
//! decoders are pure Rust, and libFuzzer runs about twice as fast without the address sanitizer). The corpus
//! grows in `fuzz/corpus/TARGET/` (not committed); a crash is written to
//! `fuzz/artifacts/TARGET/` and fails the task, naming the file. Crashes found are kept as
//! regression tests in the crates' own test suites.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use clap::ValueEnum as _;

use crate::process::{ensure_cargo_tool, wait_bounded};
use crate::workspace_root;

const TASK: &str = "xtask fuzz";

/// `cargo xtask fuzz`'s options.
#[derive(Debug, clap::Args)]
pub(crate) struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Runs only this target (repeatable); every target by default.
    #[arg(long, value_enum)]
    target: Vec<Target>,
}

/// The targets, in `fuzz/Cargo.toml`'s order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum Target {
    /// `/avatar/{hash}?query` parsing.
    Request,
    /// Identity normalisation and hashing.
    Identity,
    /// SRV selection and sanitising.
    Srv,
    /// XMPP stanzas through the IQ service.
    Stanza,
    /// Decoding and rendering any file.
    ImageRender,
    /// Rendering any file through its rung, as a server keeping rendition files does.
    ImageRung,
    /// The XMPP rendition of any file.
    XmppRendition,
}

/// Runs the chosen targets (all by default), `seconds` each.
pub(crate) fn fuzz(options: &FuzzArgs) -> ExitCode {
    let chosen: Vec<String> = if options.target.is_empty() {
        Target::value_variants()
            .iter()
            .copied()
            .map(Target::name)
            .collect()
    } else {
        options.target.iter().copied().map(Target::name).collect()
    };
    match run(&chosen, options.seconds) {
        Ok(()) => {
            eprintln!("{TASK}: no crash in {} target(s)", chosen.len());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{TASK}: {err}");
            ExitCode::FAILURE
        }
    }
}

impl Target {
    /// The cargo-fuzz target's name.
    fn name(self) -> String {
        self.to_possible_value()
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }
}

fn run(targets: &[String], seconds: u64) -> Result<(), String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    ensure_cargo_tool(TASK, &cargo, "fuzz", None, &["cargo-fuzz", "--locked"])?;
    let fuzz_dir = root.join("fuzz");
    for (number, target) in targets.iter().enumerate() {
        eprintln!(
            "{TASK}: [{}/{}] {target} for {seconds} s ...",
            number + 1,
            targets.len()
        );
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|err| format!("creating {}: {err}", corpus.display()))?;
        let (started, started_at) = (Instant::now(), SystemTime::now());
        let mut child = Command::new(&cargo)
            .current_dir(&root)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--fuzz-dir"])
            .arg(&fuzz_dir)
            .args(["--sanitizer", "none", target])
            .arg(&corpus)
            .arg(fuzz_dir.join("seeds").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot run cargo fuzz: {err}"))?;
        // Building the target comes first: allow for it on top of the fuzzing time.
        let ok = wait_bounded(
            &mut child,
            &format!("fuzzing {target}"),
            Duration::from_secs(seconds + 900),
        )?;
        if !ok {
            let seconds = started.elapsed().as_secs_f64();
            return Err(match artifact(&fuzz_dir, target, started_at) {
                Some(input) => format!(
                    "{target} FAILED after {seconds:.0} s: the crashing input is {}",
                    input.display()
                ),
                None => format!(
                    "{target} FAILED after {seconds:.0} s without a crash file: a build or \
                     libFuzzer error, see above"
                ),
            });
        }
    }
    Ok(())
}

/// The newest input cargo-fuzz saved for `target` (a crash, a leak or a timeout) since
/// `since`, if any.
fn artifact(fuzz_dir: &Path, target: &str, since: SystemTime) -> Option<std::path::PathBuf> {
    std::fs::read_dir(fuzz_dir.join("artifacts").join(target))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .filter(|(modified, _)| *modified >= since)
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path)
}
