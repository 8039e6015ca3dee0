//! `cargo xtask bench`: the speed and memory targets, measured.
//!
//! 1. criterion: every `benches/` target of the workspace (request parsing, hashing, the
//!    service in process, cold renders, generators, discovery), then the render and generator
//!    targets checked against criterion's medians;
//! 2. HTTP, side by side: the release `avatars serve` (built, as for every part below that
//!    runs it, with the `libjpeg-turbo` feature: `scripts/ensure-libjpeg-turbo.sh` installs the
//!    library when missing) and Debian's nginx-light (installed by
//!    `scripts/ensure-bench-tools.sh` when missing, run on 127.0.0.1 with logs off) serving the
//!    same rendered bytes, both driven by wrk with the same bounded load, A/B order alternating
//!    every round;
//! 3. memory: resident set of a fresh `avatars serve` after rounds of 100,000 requests over
//!    10,000 distinct (hash, size) pairs;
//! 4. load: 60 s at 256 connections of mixed hits, defaults and 404s (`load.rs`): no other
//!    status, and a flat resident set after warm-up;
//! 5. formats: bytes and time of each response format against JPEG and PNG, and the drawn
//!    defaults and a photo render at 2048 px (`formats.rs`; `--avif` measures AVIF too);
//! 6. proxy: a cached proxy hit against a local hit, first-fetch latency, and 1,000 cold
//!    identities through the proxy (`proxy.rs`);
//! 7. store: the PostgreSQL store against the filesystem store (hits, the cold path) and the
//!    invalidation latency across two servers on one database (`store.rs`);
//! 8. million: the resident set of the service's index and caches after a pass over the
//!    hashes of 1,000,000 identities (`million.rs`);
//! 9. scale: 100,000 imported photos under a Zipf workload against nginx serving every
//!    rendition pre-rendered, and the time a restarted server takes to warm (`scale/`).
//!
//! Prints a table, writes `target/bench/bench.json` and `target/bench/bench.svg`, and exits 1 if
//! a target is not met. Every wait is bounded; everything listens on loopback only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::{Value, json};

use self::http::CaseResult;
use self::report::Target;
use crate::workspace_root;

mod chart;
mod client;
mod criterion;
mod formats;
mod http;
mod load;
mod memory;
mod million;
mod nginx;
mod proxy;
mod report;
mod scale;
mod store;
mod wrk;

const TASK: &str = "xtask bench";
/// The stored avatar: a real 512 x 512 photograph (see `xtask/assets/README.md`).
const PHOTO: &str = "xtask/assets/astronaut-512.jpg";
const OWNER: &str = "eileen@bench.test";
/// The hit/404/304 target: this share of nginx's requests per second in the same run.
const HTTP_TARGET_RATIO: f64 = 0.8;

/// `cargo xtask bench`'s options.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Rounds of the HTTP comparison (the A/B order alternates every round).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,
    /// Seconds of wrk per case and server in each round.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=120))]
    seconds: u32,
    /// Runs only this part (repeatable); every part by default.
    #[arg(long = "only", value_enum)]
    only: Vec<Part>,
    /// Avatars in the scale part's corpus (100,000 is the target's; fewer for a quick look).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    scale_avatars: u32,
    /// Measures AVIF in the formats part too (builds the `avif` feature: rav1e takes minutes).
    #[arg(long)]
    avif: bool,
    /// Measures nothing: draws the scale part's picture again and prints its paragraph and
    /// targets from FILE, the report of an earlier run, after a change to how they are drawn.
    /// The picture goes where FILE's own is: `scale.svg` beside a run's `bench.json`,
    /// `NAME.svg` beside any other `NAME.json` (so `docs/bench/scale-DATE.json` redraws
    /// `docs/bench/scale-DATE.svg`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["only", "rounds", "seconds", "scale_avatars", "avif"])]
    replot_scale: Option<PathBuf>,
}

/// The parts of the bench, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Part {
    /// Every criterion bench, and the render and generator targets.
    Criterion,
    /// `avatars serve` against nginx under wrk.
    Http,
    /// The resident set after rounds of 100,000 requests.
    Memory,
    /// 60 s at 256 connections.
    Load,
    /// Bytes and time per response format; defaults and renders at 2048 px.
    Formats,
    /// The avatar proxy: cached hits, first fetches, 1,000 cold identities.
    Proxy,
    /// The PostgreSQL store against the filesystem store; invalidation across servers.
    Store,
    /// The index and caches after a pass over 1,000,000 identities.
    Million,
    /// 100,000 avatars under a Zipf workload against nginx; warming after a restart.
    Scale,
}

impl BenchArgs {
    fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

/// Runs the parts asked for; exit status 1 when a target is missed or a part fails.
pub(crate) fn bench(options: &BenchArgs) -> ExitCode {
    // A replot measures nothing: its targets are the saved report's, its picture beside it.
    let results = if options.replot_scale.is_some() {
        ""
    } else {
        " (results in target/bench/)"
    };
    match run(options) {
        Ok(true) => {
            eprintln!("{TASK}: every target met{results}");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("{TASK}: SOME TARGETS NOT MET{results}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{TASK}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &BenchArgs) -> Result<bool, String> {
    if let Some(saved) = &options.replot_scale {
        return replot_scale(saved);
    }
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let work = target_dir.join("bench");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|err| format!("creating {}: {err}", work.display()))?;

    let mut targets = Vec::new();
    let mut report = json!({
        "date": report::utc_now(),
        "machine": report::machine(),
    });

    if options.wants(Part::Criterion) {
        let names = criterion::bench_targets(&root)?;
        eprintln!("{TASK}: criterion benches ({}) ...", names.join(", "));
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args(["bench", "--locked", "--workspace"])
            .args(names.iter().flat_map(|name| ["--bench", name.as_str()]))
            .arg("--")
            .args(["--warm-up-time", "1", "--measurement-time", "3"])
            .status()
            .map_err(|err| format!("cannot run cargo bench: {err}"))?;
        if !status.success() {
            return Err(format!("cargo bench failed ({status})"));
        }
        let medians = criterion::criterion_medians(&target_dir.join("criterion"))?;
        targets.extend(criterion::criterion_targets(&medians));
        report["criterion_median_ns"] = json!(medians);
    }

    if options.wants(Part::Formats) {
        let measured = formats::measure(&cargo, &root, &root.join(PHOTO), options.avif)?;
        formats::print_table(&measured);
        targets.extend(formats::targets(&measured));
        report["formats"] = measured;
    }

    if options.wants(Part::Store) {
        let measured = store::measure(&cargo, &root)?;
        store::print(&measured);
        targets.extend(store::targets(&measured));
        report["store"] = measured;
    }

    if options.wants(Part::Million) {
        let measured = million::measure(&cargo, &root)?;
        million::print(&measured);
        targets.extend(million::targets(&measured));
        report["million"] = measured;
    }

    if options.wants(Part::Http)
        || options.wants(Part::Memory)
        || options.wants(Part::Load)
        || options.wants(Part::Proxy)
        || options.wants(Part::Scale)
    {
        server_benches(
            options,
            &root,
            &cargo,
            &target_dir,
            &work,
            &mut targets,
            &mut report,
        )?;
    }

    eprintln!();
    report::print_targets(&targets);
    report["targets"] = report::targets_json(&targets);
    let text = serde_json::to_string_pretty(&report).map_err(|err| err.to_string())?;
    fs::write(work.join("bench.json"), text).map_err(|err| format!("writing bench.json: {err}"))?;
    Ok(targets.iter().all(|target| target.met))
}

/// The features the measured `avatars` is built with: libjpeg-turbo encodes JPEG about twice as
/// fast as the default encoder (`avatar-image/src/encode.rs`), and a deployment that cares about
/// speed builds with it.
const AVATARS_FEATURES: &str = "libjpeg-turbo";

/// The release server against nginx, and its memory: builds, loads the photo, runs the parts
/// asked for, adding their targets and results.
fn server_benches(
    options: &BenchArgs,
    root: &Path,
    cargo: &str,
    target_dir: &Path,
    work: &Path,
    targets: &mut Vec<Target>,
    report: &mut Value,
) -> Result<(), String> {
    run_tool(
        "bash",
        &["scripts/ensure-bench-tools.sh"],
        root,
        "installing nginx-light and wrk",
    )?;
    let avatars = build_avatars(root, cargo, target_dir)?;
    report["avatars_features"] = json!(AVATARS_FEATURES);
    let data = work.join("data");
    let output = Command::new(&avatars)
        .arg("import")
        .arg("--data-dir")
        .arg(&data)
        .arg(OWNER)
        .arg(root.join(PHOTO))
        .output()
        .map_err(|err| format!("cannot run {}: {err}", avatars.display()))?;
    if !output.status.success() {
        return Err(format!(
            "avatars import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let hash = md5_of(&avatars, OWNER)?;

    if options.wants(Part::Http) {
        let results = http::http_comparison(options, &avatars, &data, work, &hash)?;
        targets.extend(http::http_targets(&results));
        http::print_table(&results);
        let caption = format!(
            "{}, {} CPUs, {} rounds x {} s",
            report["date"].as_str().unwrap_or_default(),
            report["machine"]["cpus"],
            options.rounds,
            options.seconds
        );
        fs::write(work.join("bench.svg"), chart::svg(&results, &caption))
            .map_err(|err| format!("writing bench.svg: {err}"))?;
        report["http"] = json!(results.iter().map(CaseResult::to_json).collect::<Vec<_>>());
        report["http_load"] = json!({
            "tool": "wrk",
            "threads": 2,
            "connections": 32,
            "seconds": options.seconds,
            "rounds": options.rounds,
        });
    }
    if options.wants(Part::Memory) {
        let memory = memory::memory_rounds(&avatars, &data, &hash)?;
        targets.extend(memory::memory_targets(&memory));
        report["memory"] = memory.to_json();
    }
    if options.wants(Part::Load) {
        let load = load::run(&avatars, &data, work, &hash)?;
        load.print();
        targets.extend(load.targets());
        report["load"] = load.to_json();
    }
    if options.wants(Part::Proxy) {
        let measured = proxy::run(options, root, &avatars, work)?;
        measured.print();
        targets.extend(measured.targets());
        report["proxy"] = measured.to_json();
    }
    if options.wants(Part::Scale) {
        let started = std::time::Instant::now();
        let mut measured = scale::measure(cargo, root, &avatars, work, options.scale_avatars)?;
        measured["part_seconds"] = json!(started.elapsed().as_secs_f64());
        scale::print(&measured);
        fs::write(
            work.join("scale.svg"),
            scale::svg(&measured, &scale_caption(report)),
        )
        .map_err(|err| format!("writing scale.svg: {err}"))?;
        targets.extend(scale::targets(&measured));
        report["scale"] = measured;
    }
    Ok(())
}

/// Builds the release `avatars` with [`AVATARS_FEATURES`] (installing libjpeg-turbo when
/// missing); its path.
fn build_avatars(root: &Path, cargo: &str, target_dir: &Path) -> Result<PathBuf, String> {
    run_tool(
        "bash",
        &["scripts/ensure-libjpeg-turbo.sh"],
        root,
        "installing libjpeg-turbo",
    )?;
    eprintln!("{TASK}: building avatars (release, {AVATARS_FEATURES}) ...");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "avatars-cli",
            "--features",
            AVATARS_FEATURES,
        ])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(target_dir.join("release").join("avatars"))
    } else {
        Err(format!("the release build failed ({status})"))
    }
}

/// `--replot-scale`: the scale part's picture, paragraph and targets from a saved report.
fn replot_scale(saved: &Path) -> Result<bool, String> {
    let text =
        fs::read_to_string(saved).map_err(|err| format!("reading {}: {err}", saved.display()))?;
    let report: Value = serde_json::from_str(&text)
        .map_err(|err| format!("{}: not a bench.json: {err}", saved.display()))?;
    let measured = &report["scale"];
    if measured.is_null() {
        return Err(format!("{} has no scale part", saved.display()));
    }
    scale::print(measured);
    let svg = replotted_picture(saved);
    fs::write(&svg, scale::svg(measured, &scale_caption(&report)))
        .map_err(|err| format!("writing {}: {err}", svg.display()))?;
    eprintln!("{TASK}: drew {}", svg.display());
    let targets = scale::targets(measured);
    report::print_targets(&targets);
    Ok(targets.iter().all(|target| target.met))
}

/// Where `--replot-scale` draws the picture of the report at `saved`: where that report's own
/// picture is. A run writes `bench.json` and `scale.svg` side by side; a report kept in
/// `docs/bench/` as `scale-DATE.json` has its picture as `scale-DATE.svg`.
fn replotted_picture(saved: &Path) -> PathBuf {
    if saved.file_name().is_some_and(|name| name == "bench.json") {
        saved.with_file_name("scale.svg")
    } else {
        saved.with_extension("svg")
    }
}

/// The scale picture's caption: when, on how many CPUs and on which CPU it was measured (the
/// ratio to nginx differs by host: 0.48x to 0.60x on AMD EPYC hosts, 0.35x and 0.37x on an
/// Intel Xeon one, 2026-12-05).
fn scale_caption(report: &Value) -> String {
    let cpu = report["machine"]["cpu"]
        .as_str()
        .unwrap_or("an unknown CPU")
        .replace("(R)", "")
        .replace("(TM)", "");
    format!(
        "{}, {} CPUs, {cpu}",
        report["date"].as_str().unwrap_or_default(),
        report["machine"]["cpus"]
    )
}

/// Runs `example` of `package` built for release (with `features`, none when empty) with
/// `args`, passing its stderr through, and parses the JSON report it prints on stdout.
fn run_example_report(
    cargo: &str,
    root: &Path,
    (package, example): (&str, &str),
    features: &[&str],
    args: &[&std::ffi::OsStr],
) -> Result<Value, String> {
    let mut command = Command::new(cargo);
    command.current_dir(root).args([
        "run",
        "--quiet",
        "--release",
        "--locked",
        "-p",
        package,
        "--example",
        example,
    ]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command
        .arg("--")
        .args(args)
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(format!("the {example} example failed ({})", output.status));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("the {example} example printed no JSON report: {err}"))
}

fn run_tool(program: &str, args: &[&str], dir: &Path, what: &str) -> Result<(), String> {
    let status = Command::new(program)
        .current_dir(dir)
        .args(args)
        .status()
        .map_err(|err| format!("{what}: cannot run {program}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The MD5 hash `avatars hash` prints for `identity`.
fn md5_of(avatars: &Path, identity: &str) -> Result<String, String> {
    let output = Command::new(avatars)
        .args(["hash", identity])
        .output()
        .map_err(|err| format!("cannot run avatars hash: {err}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("md5 "))
        .map(|hash| hash.trim().to_owned())
        .ok_or_else(|| "avatars hash printed no md5 line".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replot_draws_where_the_report_s_own_picture_is() {
        assert_eq!(
            replotted_picture(Path::new("target/bench/bench.json")),
            Path::new("target/bench/scale.svg")
        );
        assert_eq!(
            replotted_picture(Path::new("docs/bench/scale-2026-12-04.json")),
            Path::new("docs/bench/scale-2026-12-04.svg")
        );
        assert_eq!(
            replotted_picture(Path::new("saved")),
            Path::new("saved.svg")
        );
    }

    #[test]
    fn the_scale_caption_names_the_cpu() {
        let report = serde_json::json!({
            "date": "2026-12-05T23:17:17Z",
            "machine": {"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2},
        });
        assert_eq!(
            scale_caption(&report),
            "2026-12-05T23:17:17Z, 2 CPUs, Intel Xeon Processor"
        );
    }
}
