//! `cargo xtask bench`: the speed and memory targets, measured.
//!
//! 1. criterion: every `benches/` target of the workspace (request parsing, hashing, the
//!    service in process, cold renders, generators, discovery), then the render and generator
//!    targets checked against criterion's medians;
//! 2. HTTP, side by side: the release `avatars serve` and Debian's nginx-light (installed by
//!    `scripts/ensure-bench-tools.sh` when missing, run on 127.0.0.1 with logs off) serving the
//!    same rendered bytes, both driven by wrk with the same bounded load, A/B order alternating
//!    every round;
//! 3. memory: resident set of a fresh `avatars serve` after rounds of 100,000 requests over
//!    10,000 distinct (hash, size) pairs;
//! 4. load: 60 s at 256 connections of mixed hits, defaults and 404s (`load.rs`): no other
//!    status, and a flat resident set after warm-up.
//!
//! Prints a table, writes `target/bench/bench.json` and `target/bench/bench.svg`, and exits 1 if
//! a target is not met. Every wait is bounded; everything listens on loopback only.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::{Running, start_server, wait_bounded};
use crate::workspace_root;

mod load;

const TASK: &str = "xtask bench";
/// The stored avatar: a real 512 x 512 photograph (see `xtask/assets/README.md`).
const PHOTO: &str = "xtask/assets/astronaut-512.jpg";
const OWNER: &str = "eileen@bench.test";
/// The hit/404/304 target: this share of nginx's requests per second in the same run.
const HTTP_TARGET_RATIO: f64 = 0.8;
const COLD_RENDER_TARGET_MS: f64 = 2.0;
const GENERATOR_TARGET_MS: f64 = 1.0;
const RSS_TARGET_MIB: f64 = 100.0;
/// Growth allowed between the last two memory rounds (allocator noise), in MiB.
const RSS_GROWTH_ALLOWED_MIB: f64 = 4.0;

pub(crate) const USAGE: &str =
    "  bench [--rounds N] [--seconds S] [--only criterion|http|memory|load]...
                     criterion benches; avatars serve vs nginx under wrk (A/B, N rounds of
                     S seconds per case, default 3 x 10); memory after 100k requests over 10k
                     (hash, size) pairs; 60 s at 256 connections; results in target/bench/";

/// The parts of the bench, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Criterion,
    Http,
    Memory,
    Load,
}

const PARTS: [(&str, Part); 4] = [
    ("criterion", Part::Criterion),
    ("http", Part::Http),
    ("memory", Part::Memory),
    ("load", Part::Load),
];

struct Options {
    rounds: u32,
    seconds: u32,
    parts: Vec<Part>,
}

impl Options {
    fn wants(&self, part: Part) -> bool {
        self.parts.contains(&part)
    }
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        rounds: 3,
        seconds: 10,
        parts: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--rounds" => {
                options.rounds = value("--rounds")?
                    .parse()
                    .ok()
                    .filter(|rounds| (1..=20).contains(rounds))
                    .ok_or("--rounds takes a number from 1 to 20")?;
            }
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .ok()
                    .filter(|seconds| (1..=120).contains(seconds))
                    .ok_or("--seconds takes a number from 1 to 120")?;
            }
            "--only" => {
                let name = value("--only")?;
                let part = PARTS
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, part)| *part)
                    .ok_or_else(|| {
                        format!("--only takes criterion, http, memory or load, not {name:?}")
                    })?;
                options.parts.push(part);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.parts.is_empty() {
        options.parts = PARTS.iter().map(|(_, part)| *part).collect();
    }
    Ok(options)
}

pub(crate) fn bench(args: &[String]) -> ExitCode {
    let options = match options(args) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("{TASK}: {err}\nusage: cargo xtask{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => {
            eprintln!("{TASK}: every target met (results in target/bench/)");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("{TASK}: SOME TARGETS NOT MET (results in target/bench/)");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{TASK}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// One target: what, the figure, the bound, whether it holds.
struct Target {
    name: String,
    measured: String,
    required: String,
    met: bool,
}

fn run(options: &Options) -> Result<bool, String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let work = target_dir.join("bench");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|err| format!("creating {}: {err}", work.display()))?;

    let mut targets = Vec::new();
    let mut report = json!({
        "date": utc_now(),
        "machine": machine(),
    });

    if options.wants(Part::Criterion) {
        let names = bench_targets(&root)?;
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
        let medians = criterion_medians(&target_dir.join("criterion"))?;
        targets.extend(criterion_targets(&medians));
        report["criterion_median_ns"] = json!(medians);
    }

    if options.wants(Part::Http) || options.wants(Part::Memory) || options.wants(Part::Load) {
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
    println!("targets:");
    for target in &targets {
        println!(
            "  {:<4} {:<44} {:>16}   required {}",
            if target.met { "met" } else { "MISS" },
            target.name,
            target.measured,
            target.required
        );
    }
    report["targets"] = json!(
        targets
            .iter()
            .map(|target| json!({
                "name": target.name,
                "measured": target.measured,
                "required": target.required,
                "met": target.met,
            }))
            .collect::<Vec<_>>()
    );
    let text = serde_json::to_string_pretty(&report).map_err(|err| err.to_string())?;
    fs::write(work.join("bench.json"), text).map_err(|err| format!("writing bench.json: {err}"))?;
    Ok(targets.iter().all(|target| target.met))
}

/// The release server against nginx, and its memory: builds, loads the photo, runs the parts
/// asked for, adding their targets and results.
fn server_benches(
    options: &Options,
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
    eprintln!("{TASK}: building avatars (release) ...");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "avatars-cli",
        ])
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !status.success() {
        return Err(format!("the release build failed ({status})"));
    }
    let avatars = target_dir.join("release").join("avatars");
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
        let results = http_comparison(options, &avatars, &data, work, &hash)?;
        targets.extend(http_targets(&results));
        print_table(&results);
        let caption = format!(
            "{}, {} CPUs, {} rounds x {} s",
            report["date"].as_str().unwrap_or_default(),
            report["machine"]["cpus"],
            options.rounds,
            options.seconds
        );
        fs::write(work.join("bench.svg"), svg(&results, &caption))
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
        let memory = memory_rounds(&avatars, &data, &hash)?;
        targets.extend(memory_targets(&memory));
        report["memory"] = memory.to_json();
    }
    if options.wants(Part::Load) {
        let load = load::run(&avatars, &data, work, &hash)?;
        load.print();
        targets.extend(load.targets());
        report["load"] = load.to_json();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// criterion

/// The names of every `crates/*/benches/*.rs` target. Named one by one: `--benches` would
/// also run the libraries' test harnesses, which refuse criterion's options.
fn bench_targets(root: &Path) -> Result<Vec<String>, String> {
    let crates = root.join("crates");
    let mut names = Vec::new();
    for krate in
        fs::read_dir(&crates).map_err(|err| format!("listing {}: {err}", crates.display()))?
    {
        let Ok(entries) =
            fs::read_dir(krate.map_err(|err| err.to_string())?.path().join("benches"))
        else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "rs")
                && let Some(stem) = path.file_stem().and_then(|stem| stem.to_str())
            {
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Median estimates (ns) by full benchmark id, from criterion's `target/criterion/`.
fn criterion_medians(dir: &Path) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let mut medians = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name == "new") {
                    let read = |name: &str| -> Option<Value> {
                        serde_json::from_str(&fs::read_to_string(path.join(name)).ok()?).ok()
                    };
                    if let (Some(benchmark), Some(estimates)) =
                        (read("benchmark.json"), read("estimates.json"))
                        && let (Some(id), Some(median)) = (
                            benchmark["full_id"].as_str(),
                            estimates["median"]["point_estimate"].as_f64(),
                        )
                    {
                        medians.insert(id.to_owned(), median);
                    }
                } else {
                    pending.push(path);
                }
            }
        }
    }
    if medians.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()));
    }
    Ok(medians)
}

fn criterion_targets(medians: &std::collections::BTreeMap<String, f64>) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut check = |name: String, id: &str, bound_ms: f64| {
        let measured = medians.get(id).map(|ns| ns / 1e6);
        targets.push(Target {
            name,
            measured: measured.map_or_else(|| "not run".to_owned(), |ms| format!("{ms:.3} ms")),
            required: format!("<= {bound_ms} ms median"),
            met: measured.is_some_and(|ms| ms <= bound_ms),
        });
    };
    check(
        "cold render 512x512 JPEG -> 80 px".to_owned(),
        "cold render of a 512x512 JPEG/to 80",
        COLD_RENDER_TARGET_MS,
    );
    let generators: Vec<_> = medians
        .keys()
        .filter(|id| id.starts_with("default at 80 px/"))
        .cloned()
        .collect();
    if generators.is_empty() {
        check(
            "generators at 80 px".to_owned(),
            "default at 80 px/",
            GENERATOR_TARGET_MS,
        );
    }
    for id in generators {
        let name = format!("generator {} at 80 px", &id["default at 80 px/".len()..]);
        check(name, &id, GENERATOR_TARGET_MS);
    }
    targets
}

// ---------------------------------------------------------------------------------------------
// HTTP, side by side with nginx

/// One load case, as both servers are asked it.
struct Case {
    name: &'static str,
    /// Our path and query.
    ours: String,
    /// nginx's path.
    nginx: String,
    /// The status every response must have.
    status: u16,
    /// Whether the 0.8x target applies.
    has_target: bool,
    /// Sent as `If-None-Match` (filled in once the ETags are known).
    revalidate: bool,
}

/// What wrk measured in one run.
#[derive(Clone, Copy)]
struct Run {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct CaseResult {
    name: &'static str,
    has_target: bool,
    ours: Vec<Run>,
    nginx: Vec<Run>,
}

impl CaseResult {
    fn median(runs: &[Run], field: impl Fn(&Run) -> f64) -> f64 {
        let mut values: Vec<f64> = runs.iter().map(field).collect();
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        if values.len() % 2 == 1 {
            values[middle]
        } else {
            f64::midpoint(values[middle - 1], values[middle])
        }
    }

    fn rps(runs: &[Run]) -> f64 {
        Self::median(runs, |run| run.requests_per_second)
    }

    fn ratio(&self) -> f64 {
        Self::rps(&self.ours) / Self::rps(&self.nginx)
    }

    fn to_json(&self) -> Value {
        let side = |runs: &[Run]| {
            json!({
                "requests_per_second_median": Self::rps(runs),
                "p50_ms_median": Self::median(runs, |run| run.p50_ms),
                "p99_ms_median": Self::median(runs, |run| run.p99_ms),
                "rounds": runs.iter().map(|run| json!({
                    "requests_per_second": run.requests_per_second,
                    "p50_ms": run.p50_ms,
                    "p99_ms": run.p99_ms,
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "case": self.name,
            "avatars": side(&self.ours),
            "nginx": side(&self.nginx),
            "ratio": self.ratio(),
            "target_ratio": self.has_target.then_some(HTTP_TARGET_RATIO),
        })
    }
}

fn http_comparison(
    options: &Options,
    avatars: &Path,
    data: &Path,
    work: &Path,
    hash: &str,
) -> Result<Vec<CaseResult>, String> {
    let (_server, url) = start_server(avatars, data, TASK)?;
    let ours = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unexpected server URL {url}"))?
        .to_owned();
    let cases = cases(hash);

    // nginx serves exactly the bytes avatars serve.
    let nginx_root = work.join("nginx-root");
    fs::create_dir_all(&nginx_root).map_err(|err| err.to_string())?;
    for case in cases.iter().filter(|case| case.status == 200) {
        let (status, _, body) = http_get(&ours, &case.ours, None)?;
        if status != 200 {
            return Err(format!("avatars answered {} with {status}", case.ours));
        }
        fs::write(nginx_root.join(&case.nginx[1..]), body).map_err(|err| err.to_string())?;
    }
    let nginx_addr = free_loopback_addr()?;
    let _nginx = start_nginx(work, &nginx_root, &nginx_addr)?;

    let mut results = Vec::new();
    for case in &cases {
        let ours_etag = etag_of(&ours, &case.ours, case.revalidate)?;
        let nginx_etag = etag_of(&nginx_addr, &case.nginx, case.revalidate)?;
        for (addr, path, etag) in [
            (&ours, &case.ours, &ours_etag),
            (&nginx_addr, &case.nginx, &nginx_etag),
        ] {
            let (status, _, _) = http_get(addr, path, etag.as_deref())?;
            if status != case.status {
                return Err(format!(
                    "{}: http://{addr}{path} answered {status}, expected {}",
                    case.name, case.status
                ));
            }
        }
        results.push(CaseResult {
            name: case.name,
            has_target: case.has_target,
            ours: Vec::new(),
            nginx: Vec::new(),
        });
    }

    let total = options.rounds as usize * cases.len() * 2;
    let mut done = 0;
    let started = Instant::now();
    for round in 0..options.rounds {
        for (case, result) in cases.iter().zip(&mut results) {
            let ours_etag = etag_of(&ours, &case.ours, case.revalidate)?;
            let nginx_etag = etag_of(&nginx_addr, &case.nginx, case.revalidate)?;
            let mut sides = [
                ("avatars", &ours, &case.ours, ours_etag, true),
                ("nginx", &nginx_addr, &case.nginx, nginx_etag, false),
            ];
            // A/B, then B/A: neither server always runs on a machine just warmed by the other.
            if round % 2 == 1 {
                sides.reverse();
            }
            for (label, addr, path, etag, is_ours) in sides {
                done += 1;
                eprintln!(
                    "{TASK}: [{done}/{total}] round {}/{}: {} against {label} ({:.0}s elapsed)",
                    round + 1,
                    options.rounds,
                    case.name,
                    started.elapsed().as_secs_f64()
                );
                let run = wrk(
                    work,
                    &format!("http://{addr}{path}"),
                    etag.as_deref(),
                    options.seconds,
                    case.status,
                )?;
                if is_ours {
                    result.ours.push(run);
                } else {
                    result.nginx.push(run);
                }
            }
        }
    }
    Ok(results)
}

/// The five load cases.
fn cases(hash: &str) -> [Case; 5] {
    let nobody = "0123456789abcdef0123456789abcdef";
    [
        Case {
            name: "hit s=80",
            ours: format!("/avatar/{hash}?s=80"),
            nginx: "/hit-80.jpg".to_owned(),
            status: 200,
            has_target: true,
            revalidate: false,
        },
        Case {
            name: "hit s=512",
            ours: format!("/avatar/{hash}?s=512"),
            nginx: "/hit-512.jpg".to_owned(),
            status: 200,
            has_target: true,
            revalidate: false,
        },
        Case {
            name: "miss d=404",
            ours: format!("/avatar/{nobody}?d=404"),
            nginx: "/no-such-avatar".to_owned(),
            status: 404,
            has_target: true,
            revalidate: false,
        },
        Case {
            name: "miss d=identicon",
            ours: format!("/avatar/{nobody}?d=identicon"),
            nginx: "/identicon-80.png".to_owned(),
            status: 200,
            has_target: false,
            revalidate: false,
        },
        Case {
            name: "304 revalidation",
            ours: format!("/avatar/{hash}?s=80"),
            nginx: "/hit-80.jpg".to_owned(),
            status: 304,
            has_target: true,
            revalidate: true,
        },
    ]
}

/// The ETag `path` answers with, when the case revalidates.
fn etag_of(addr: &str, path: &str, revalidate: bool) -> Result<Option<String>, String> {
    if !revalidate {
        return Ok(None);
    }
    let (_, headers, _) = http_get(addr, path, None)?;
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("etag"))
        .map(|(_, value)| Some(value.clone()))
        .ok_or_else(|| format!("http://{addr}{path} sent no ETag"))
}

fn http_targets(results: &[CaseResult]) -> Vec<Target> {
    results
        .iter()
        .filter(|result| result.has_target)
        .map(|result| Target {
            name: format!("{} vs nginx", result.name),
            measured: format!("{:.2}x", result.ratio()),
            required: format!(">= {HTTP_TARGET_RATIO}x nginx req/s"),
            met: result.ratio() >= HTTP_TARGET_RATIO,
        })
        .collect()
}

fn print_table(results: &[CaseResult]) {
    println!();
    println!(
        "{:<18} {:>12} {:>9} {:>9}   {:>12} {:>9} {:>9}   {:>6}",
        "case", "avatars r/s", "p50 ms", "p99 ms", "nginx r/s", "p50 ms", "p99 ms", "ratio"
    );
    for result in results {
        let side = |runs: &[Run]| {
            format!(
                "{:>12.0} {:>9.3} {:>9.3}",
                CaseResult::rps(runs),
                CaseResult::median(runs, |run| run.p50_ms),
                CaseResult::median(runs, |run| run.p99_ms)
            )
        };
        println!(
            "{:<18} {}   {}   {:>5.2}x",
            result.name,
            side(&result.ours),
            side(&result.nginx),
            result.ratio()
        );
    }
    println!("(medians over the rounds; wrk -t2 -c32, loopback)");
}

/// Runs wrk once against `url`; every response must have `status`.
fn wrk(
    work: &Path,
    url: &str,
    if_none_match: Option<&str>,
    seconds: u32,
    status: u16,
) -> Result<Run, String> {
    let out_path = work.join("wrk.out");
    let out = fs::File::create(&out_path).map_err(|err| err.to_string())?;
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency"]);
    if let Some(etag) = if_none_match {
        command.args(["-H", &format!("If-None-Match: {etag}")]);
    }
    let mut child = command
        .arg(url)
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot run wrk: {err}"))?;
    let ok = wait_bounded(
        &mut child,
        "wrk",
        Duration::from_secs(u64::from(seconds) + 30),
    )?;
    let text = fs::read_to_string(&out_path).map_err(|err| err.to_string())?;
    if !ok {
        return Err(format!("wrk failed on {url}:\n{text}"));
    }
    parse_wrk(&text, status).map_err(|err| format!("wrk on {url}: {err}\n{text}"))
}

/// The 50th and 99th percentile latencies of wrk's `--latency` output, in milliseconds.
fn parse_latency(text: &str) -> Option<(f64, f64)> {
    let percentile = |label: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(label))
            .and_then(|value| duration_ms(value.trim()))
    };
    Some((percentile("50%")?, percentile("99%")?))
}

fn parse_wrk(text: &str, status: u16) -> Result<Run, String> {
    let mut requests_per_second = None;
    let mut non_2xx_3xx = 0u64;
    let mut total = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            requests_per_second = value.trim().parse::<f64>().ok();
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx_3xx = value.trim().parse().unwrap_or(u64::MAX);
        } else if line.contains(" requests in ") {
            total = line
                .split_whitespace()
                .next()
                .and_then(|count| count.parse::<u64>().ok());
        } else if line.starts_with("Socket errors:") {
            return Err(format!("socket errors: {line}"));
        }
    }
    let total = total.ok_or("no request count")?;
    let expected_non_2xx_3xx = if status >= 400 { total } else { 0 };
    if non_2xx_3xx != expected_non_2xx_3xx {
        return Err(format!(
            "{non_2xx_3xx} of {total} responses were not 2xx/3xx; expected {expected_non_2xx_3xx}"
        ));
    }
    let (p50_ms, p99_ms) = parse_latency(text).ok_or("no 50% or 99% latency")?;
    Ok(Run {
        requests_per_second: requests_per_second.ok_or("no Requests/sec line")?,
        p50_ms,
        p99_ms,
    })
}

/// `812.00us`, `1.23ms`, `2.00s` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(number) = text.strip_suffix("us") {
        (number, 1e-3)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix("m") {
        (number, 60_000.0)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|value| value * scale)
}

/// nginx, stopped gracefully when dropped: killing its master alone would leave the workers
/// running and holding the port.
struct Nginx {
    master: Running,
    prefix: PathBuf,
    conf: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        let _ = wait_bounded(&mut self.master.0, "nginx", Duration::from_secs(10));
    }
}

fn start_nginx(work: &Path, root: &Path, addr: &str) -> Result<Nginx, String> {
    let prefix = work.join("nginx");
    let temp = prefix.join("temp");
    fs::create_dir_all(&temp).map_err(|err| err.to_string())?;
    let conf = prefix.join("nginx.conf");
    let temp = temp.display();
    let text = format!(
        "# Written by cargo xtask bench: nginx serving the bytes avatars rendered, as a static
# file server at its usual best (sendfile, keep-alive, no logs).
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log crit;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}; proxy_temp_path {temp}; fastcgi_temp_path {temp};
    uwsgi_temp_path {temp}; scgi_temp_path {temp};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ image/jpeg jpg; image/png png; }}
    server {{
        listen {addr};
        root {root};
        # The headers avatars sends too.
        add_header Access-Control-Allow-Origin *;
        add_header X-Content-Type-Options nosniff;
        add_header Cache-Control \"public, max-age=86400\";
    }}
}}
",
        prefix = prefix.display(),
        root = root.display(),
    );
    fs::write(&conf, text).map_err(|err| err.to_string())?;
    let error_log = prefix.join("error.log");
    let child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(&prefix)
        .arg("-e")
        .arg(&error_log)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot start nginx: {err}"))?;
    let nginx = Nginx {
        master: Running(child),
        prefix: prefix.clone(),
        conf: conf.clone(),
    };
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("nginx did not listen on {addr} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("{TASK}: nginx is listening on http://{addr}");
    Ok(nginx)
}

fn free_loopback_addr() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|err| err.to_string())?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    Ok(addr.to_string())
}

/// Headers as (name, value) pairs.
type Headers = Vec<(String, String)>;

/// A plain HTTP/1.1 GET on loopback, read to the end: status, headers, body.
fn http_get(
    addr: &str,
    path: &str,
    if_none_match: Option<&str>,
) -> Result<(u16, Headers, Vec<u8>), String> {
    let mut stream = TcpStream::connect(addr).map_err(|err| format!("connect {addr}: {err}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|err| err.to_string())?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(etag) = if_none_match {
        let _ = write!(request, "If-None-Match: {etag}\r\n");
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| err.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|err| format!("reading from {addr}: {err}"))?;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete response from http://{addr}{path}"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line from http://{addr}{path}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Ok((status, headers, response[split + 4..].to_vec()))
}

// ---------------------------------------------------------------------------------------------
// memory

struct Memory {
    requests_per_round: u64,
    distinct_pairs: usize,
    start_mib: f64,
    rounds_mib: Vec<f64>,
}

impl Memory {
    fn to_json(&self) -> Value {
        json!({
            "requests_per_round": self.requests_per_round,
            "distinct_hash_size_pairs": self.distinct_pairs,
            "rss_mib_at_start": self.start_mib,
            "rss_mib_after_each_round": self.rounds_mib,
            "cache_budget": "default (64 MiB)",
        })
    }
}

const MEMORY_ROUNDS: usize = 3;
const REQUESTS_PER_ROUND: u64 = 100_000;
const SIZES: [u32; 10] = [24, 32, 48, 64, 80, 100, 128, 200, 256, 512];

/// A fresh server, then rounds of 100,000 requests cycling through 10,000 (hash, size) pairs:
/// the stored photo and 999 hashes without an avatar (identicon, retro, robohash and the rest
/// in turn), each at ten sizes.
fn memory_rounds(avatars: &Path, data: &Path, hash: &str) -> Result<Memory, String> {
    let (server, url) = start_server(avatars, data, TASK)?;
    let pid = server.0.id();
    let paths = mixed_paths(hash, 1000, false);
    let addr = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unexpected server URL {url}"))?
        .to_owned();
    let start_mib = rss_mib(pid)?;
    let mut rounds_mib = Vec::new();
    for round in 1..=MEMORY_ROUNDS {
        eprintln!(
            "{TASK}: memory round {round}/{MEMORY_ROUNDS}: {REQUESTS_PER_ROUND} requests over {} (hash, size) pairs ...",
            paths.len()
        );
        let started = Instant::now();
        let unexpected = drive(&addr, &paths, REQUESTS_PER_ROUND)?;
        if unexpected > 0 {
            return Err(format!(
                "memory round {round}: {unexpected} of {REQUESTS_PER_ROUND} answers were not 200"
            ));
        }
        eprintln!(
            "{TASK}: memory round {round}: {REQUESTS_PER_ROUND} answers in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let mib = rss_mib(pid)?;
        eprintln!("{TASK}: memory round {round}: resident {mib:.1} MiB");
        rounds_mib.push(mib);
    }
    Ok(Memory {
        requests_per_round: REQUESTS_PER_ROUND,
        distinct_pairs: paths.len(),
        start_mib,
        rounds_mib,
    })
}

/// Paths over `hashes` hashes at each of [`SIZES`]: the stored photo first, then hashes no one
/// has stored, cycling through the drawn defaults (and `d=404` when `with_404`).
pub(crate) fn mixed_paths(hash: &str, hashes: usize, with_404: bool) -> Vec<String> {
    let mut keywords = vec![
        "identicon",
        "monsterid",
        "wavatar",
        "retro",
        "robohash",
        "pagan",
        "mp",
    ];
    if with_404 {
        keywords.push("404");
    }
    let mut paths = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for index in 0..hashes {
        let (target, query) = if index == 0 {
            (hash.to_owned(), String::new())
        } else {
            let mut hex = String::new();
            for _ in 0..2 {
                // xorshift64: deterministic hashes that no one has stored.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let _ = write!(hex, "{state:016x}");
            }
            (hex, format!("&d={}", keywords[index % keywords.len()]))
        };
        for size in SIZES {
            paths.push(format!("/avatar/{target}?s={size}{query}"));
        }
    }
    paths
}

/// Sends exactly `total` GETs for `paths` in turn over 16 keep-alive connections; how many
/// answers were not 200. (wrk runs for a time, not a count.)
fn drive(addr: &str, paths: &[String], total: u64) -> Result<u64, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let next = AtomicU64::new(0);
    let unexpected = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    let mut connection = KeepAlive::connect(addr)?;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= total {
                            return Ok(());
                        }
                        let path = &paths[usize::try_from(index).unwrap_or(0) % paths.len()];
                        if connection.get(path)? != 200 {
                            unexpected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .map_err(|_| "a load thread panicked".to_owned())?
        })
    })?;
    Ok(unexpected.into_inner())
}

/// One keep-alive HTTP/1.1 connection that reads Content-Length framed responses.
struct KeepAlive {
    stream: std::io::BufReader<TcpStream>,
    addr: String,
}

impl KeepAlive {
    fn connect(addr: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).map_err(|err| format!("connect {addr}: {err}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|err| err.to_string())?;
        Ok(Self {
            stream: std::io::BufReader::new(stream),
            addr: addr.to_owned(),
        })
    }

    /// Sends one GET and reads the whole answer; its status.
    fn get(&mut self, path: &str) -> Result<u16, String> {
        use std::io::BufRead as _;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|err| format!("sending to {}: {err}", self.addr))?;
        let mut status = None;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            let read = self
                .stream
                .read_line(&mut line)
                .map_err(|err| format!("reading from {}: {err}", self.addr))?;
            if read == 0 {
                return Err(format!("{} closed the connection", self.addr));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if status.is_none() {
                status = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|code| code.parse().ok());
            } else if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(|_| "a bad Content-Length")?;
            }
        }
        let mut body = vec![0; length];
        self.stream
            .read_exact(&mut body)
            .map_err(|err| format!("reading a body from {}: {err}", self.addr))?;
        status.ok_or_else(|| format!("no status line from {}", self.addr))
    }
}

fn rss_mib(pid: u32) -> Result<f64, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|err| format!("reading /proc/{pid}/status: {err}"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .ok_or("no VmRSS in /proc/PID/status")?;
    Ok(kib / 1024.0)
}

fn memory_targets(memory: &Memory) -> Vec<Target> {
    let peak = memory.rounds_mib.iter().copied().fold(0.0, f64::max);
    let growth = match memory.rounds_mib.as_slice() {
        [.., before, last] => last - before,
        _ => 0.0,
    };
    vec![
        Target {
            name: format!(
                "resident set after {}x{}k requests",
                memory.rounds_mib.len(),
                memory.requests_per_round / 1000
            ),
            measured: format!("{peak:.1} MiB"),
            required: format!("< {RSS_TARGET_MIB} MiB"),
            met: peak < RSS_TARGET_MIB,
        },
        Target {
            name: "resident set growth, last round".to_owned(),
            measured: format!("{growth:+.1} MiB"),
            required: format!("<= {RSS_GROWTH_ALLOWED_MIB} MiB (flat)"),
            met: growth <= RSS_GROWTH_ALLOWED_MIB,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// the picture

/// Two panels: requests per second per case (avatars against nginx, with the 0.8x mark), and
/// p99 latency.
fn svg(results: &[CaseResult], caption: &str) -> String {
    const WIDTH: f64 = 960.0;
    const LABEL: f64 = 170.0;
    const ROW: f64 = 54.0;
    const TOP: f64 = 70.0;
    let plot = WIDTH - LABEL - 140.0;
    let rows = f64::from(u32::try_from(results.len()).unwrap_or(u32::MAX));
    let panel = ROW * rows;
    let height = TOP + panel + 70.0 + panel + 60.0;
    let max_rps = results
        .iter()
        .flat_map(|result| {
            [
                CaseResult::rps(&result.ours),
                CaseResult::rps(&result.nginx),
            ]
        })
        .fold(1.0, f64::max);
    let p99 = |runs: &[Run]| CaseResult::median(runs, |run| run.p99_ms);
    let max_p99 = results
        .iter()
        .flat_map(|result| [p99(&result.ours), p99(&result.nginx)])
        .fold(0.001, f64::max);
    let caption_x = WIDTH - 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="28" font-size="18" font-weight="bold">avatars serve vs nginx (same bytes, wrk -t2 -c32, loopback)</text>
<text x="{caption_x}" y="28" font-size="12" fill="#4a5568" text-anchor="end">{caption}</text>
<rect x="20" y="42" width="12" height="12" fill="#2b6cb0"/><text x="38" y="53">avatars</text>
<rect x="110" y="42" width="12" height="12" fill="#a0aec0"/><text x="128" y="53">nginx</text>
<line x1="200" y1="48" x2="220" y2="48" stroke="#c53030" stroke-dasharray="4 3" stroke-width="2"/><text x="226" y="53">0.8 x nginx (target)</text>"##
    );
    let bars = |out: &mut String,
                top: f64,
                title: &str,
                value: &dyn Fn(&CaseResult, bool) -> f64,
                max: f64,
                unit: &dyn Fn(f64) -> String,
                mark: bool| {
        let _ = writeln!(
            out,
            r#"<text x="20" y="{}" font-weight="bold">{title}</text>"#,
            top - 8.0
        );
        let mut y = top - ROW;
        for result in results {
            y += ROW;
            let _ = writeln!(
                out,
                r#"<text x="20" y="{}">{}</text>"#,
                y + 26.0,
                result.name
            );
            for (offset, ours, color) in [(4.0, true, "#2b6cb0"), (24.0, false, "#a0aec0")] {
                let v = value(result, ours);
                let width = (v / max * plot).max(1.0);
                let _ = writeln!(
                    out,
                    r#"<rect x="{LABEL}" y="{}" width="{width:.1}" height="18" fill="{color}"/><text x="{:.1}" y="{}">{}</text>"#,
                    y + offset,
                    LABEL + width + 6.0,
                    y + offset + 14.0,
                    unit(v)
                );
            }
            if mark && result.has_target {
                let x = LABEL + value(result, false) * HTTP_TARGET_RATIO / max * plot;
                let _ = writeln!(
                    out,
                    r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#c53030" stroke-dasharray="4 3" stroke-width="2"/>"##,
                    y + 1.0,
                    y + 45.0
                );
            }
        }
    };
    bars(
        &mut out,
        TOP + 20.0,
        "requests per second (median of the rounds; longer is better)",
        &|result, ours| CaseResult::rps(if ours { &result.ours } else { &result.nginx }),
        max_rps,
        &|v| format!("{:.0}k", v / 1000.0),
        true,
    );
    bars(
        &mut out,
        TOP + panel + 90.0,
        "p99 latency in ms (median of the rounds; shorter is better)",
        &|result, ours| p99(if ours { &result.ours } else { &result.nginx }),
        max_p99,
        &|v| format!("{v:.2} ms"),
        false,
    );
    out.push_str("</svg>\n");
    out
}

// ---------------------------------------------------------------------------------------------
// small helpers

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

/// `date -u` in ISO form, for the report.
fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// CPU model and count, memory, kernel: the machine class the figures belong to.
fn machine() -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_default();
    let cpus = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let memory_gib = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| (kib / 1024.0 / 1024.0).round());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({
        "cpu": model,
        "cpus": cpus,
        "memory_gib": memory_gib,
        "kernel": kernel.trim(),
    })
}
