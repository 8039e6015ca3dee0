//! The scale part: a forge's long tail. `avatar-image`'s `corpus` example (release) makes
//! 100,000 (`--scale-avatars`) distinct synthetic photos of varied sizes and formats and a Zipf
//! workload (exponent 1.1) of 1,000,000 requests over (avatar, size) with sizes 32 to 256 px.
//! Then:
//! 1. the photos are imported by one `avatars import --manifest` per manifest (eight) at once
//!    (the import rate), which makes each picture's 128 px rung into the data directory's
//!    rendition files, as any import does; then `avatars render-ahead` makes the workload's
//!    eight sizes of every avatar (in the stored format, which is what wrk's requests get)
//!    into a rendition files' folder of their own (its rate too); every rendition the
//!    workload asks for is then written as a file for nginx, as `avatars serve` answers it
//!    over those ([`static_files`]: the server's very bytes, and none rendered again);
//! 2. nginx serves the pre-rendered files (the static limit) and a fresh `avatars serve` the
//!    store, rendering as asked (its own rendition files, holding only the rungs the import
//!    made), each driven by wrk with the workload (each request a path drawn at random from
//!    the file's million) for [`WARM_UP_SECONDS`], then measured for [`MEASURE_SECONDS`] in
//!    [`SLICES`] slices, the server's and nginx's taking turns, so that both are measured in
//!    the same minutes of a shared machine whose speed moves: requests per second, p50/p99,
//!    and for avatars the share answered without rendering (from memory or a rendition
//!    file), renders per second (from `/metrics`), resident memory and the CPU seconds the
//!    server and wrk used; for both, the share of the machine's CPU time its host stole.
//!    Target: at least [`TARGET_RATIO`] of nginx;
//! 3. restarts: the server is stopped (saving `--render-cache-file`) and started again, then
//!    driven in one-second slices until a slice's share answered without rendering is back to
//!    [`WARM_FRACTION`] of the measured one: with the saved renditions, with the rendition
//!    files only, and with neither. Target: warm no later with the saved renditions than with
//!    neither;
//! 4. the server once more, over the rendition files the import made ahead (every size of
//!    every avatar, as nginx has every rendition), driven the same way, its slices taking
//!    turns with nginx's again (its ratio is to those): what a site that
//!    renders its pages' sizes when pictures are stored gets. Target: at least
//!    [`TARGET_RATIO`] of nginx;
//! 5. the CPU budget ([`cpu_budget`]): what an answer and a render cost in CPU, the rate a
//!    model of the whole run gives at those costs (beside the one measured), and what one
//!    render could cost for rendering as asked to reach the goal on this machine.
//!
//! The whole part, timed by its caller, is a target too: at most [`PART_LIMIT_SECONDS`].
//!
//! Where things live: this file runs the part in order and names its targets; `prepare`
//! (the import, the renditions made ahead, nginx's files, the wrk script), `drive` (nginx's
//! turns and the server's runs beside them, the counters and CPU seconds read around each,
//! the restarts), `budget` (the CPU budget's model) and `show` (the table lines and the
//! picture).

mod budget;
mod drive;
mod prepare;
mod show;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use super::TASK;
use super::nginx::free_loopback_addr;
use super::report::Target;
use super::wrk::Run;

use budget::{Budget, Workload, cpu_budget};
use drive::{Drive, Restart, StaticReference, rendered_ahead};
use prepare::{import, lua_script, render_ahead, static_files};
pub(super) use show::{print, svg};

/// wrk before measuring, seconds.
pub(super) const WARM_UP_SECONDS: u32 = 10;
/// wrk measured, seconds.
pub(super) const MEASURE_SECONDS: u32 = 60;
/// The measured seconds of a server are driven in this many slices, each followed by a slice
/// of nginx as long: both are then measured in the same minutes of the machine's, whose speed
/// moves from one minute to the next (wrk's own CPU a request by 18 % between two runs of
/// 2026-12-05).
pub(super) const SLICES: u32 = 4;
/// avatars' requests per second over nginx's, at least.
pub(super) const TARGET_RATIO: f64 = 0.5;
/// The rendition files' budget of the import's `--render-ahead` and of the server reading
/// them: room for every size of every avatar (about 5 GiB for 100,000).
pub(super) const AHEAD_BUDGET: u64 = 8 << 30;
/// A restarted server is warm once a slice's hit rate is this share of the measured one.
pub(super) const WARM_FRACTION: f64 = 0.95;
/// The most one-second slices driven after a restart.
pub(super) const WARM_SLICES: u32 = 20;
/// The whole part, from making the corpus to the last measured run, at most (the issue's
/// acceptance: the bench completes on a 2-core machine in under 20 minutes).
pub(super) const PART_LIMIT_SECONDS: f64 = 20.0 * 60.0;

/// Runs the whole part; its JSON report.
pub(super) fn measure(
    cargo: &str,
    root: &Path,
    avatars: &Path,
    work: &Path,
    count: u32,
) -> Result<Value, String> {
    let corpus = work.join("scale");
    let _ = fs::remove_dir_all(&corpus);
    eprintln!(
        "{TASK}: scale: making {count} photos and the workload (release build of corpus; minutes) ..."
    );
    let made = super::run_example_report(
        cargo,
        root,
        ("avatar-image", "corpus"),
        &[],
        &[corpus.as_os_str(), count.to_string().as_ref()],
    )?;

    let data = corpus.join("data");
    let ahead = Ahead::of(&corpus, &made)?;
    let imported = import(avatars, &data, &corpus, count)?;
    let made_ahead = render_ahead(avatars, &data, &ahead, count)?;
    let avatar_count = f64::from(count);
    let static_seconds = static_files(avatars, &data, &ahead, &corpus)?;
    let writeback_seconds = write_back()?;

    let reference = StaticReference::start(work, &corpus)?;

    let snapshot = corpus.join("renditions.cache");
    let admin = free_loopback_addr()?;
    let snapshot_arg = snapshot.display().to_string();
    let args = [
        "--admin-addr",
        admin.as_str(),
        "--render-cache-file",
        snapshot_arg.as_str(),
    ];
    let script = lua_script(
        work,
        "scale-avatars.lua",
        &corpus.join("workload-avatars.txt"),
    )?;
    eprintln!(
        "{TASK}: scale: avatars serve, {WARM_UP_SECONDS} s warm-up and {MEASURE_SECONDS} s \
         in {SLICES} slices, each followed by one of nginx ..."
    );
    let drive = Drive {
        avatars,
        data: &data,
        args: &args,
        admin: &admin,
        work,
        script: &script,
    };
    let lazy = drive.measured(&reference)?;
    let (avatars_run, nginx_run) = (&lazy.run, &lazy.reference);

    let restarts = Restart {
        drive,
        steady: lazy.counted.hit_rate(),
    };
    let (with_file, files_only, without_file) = restarts.three(&snapshot)?;
    let rendered_ahead = rendered_ahead(avatars, &data, &ahead, work, &script, &reference)?;
    drop(reference);
    let workload = Workload::read(&corpus.join("workload-avatars.txt"))?;

    Ok(json!({
        "corpus": made,
        "import_seconds": imported.seconds,
        "static_files_seconds": static_seconds,
        "writeback_seconds": writeback_seconds,
        "imports_per_second": avatar_count / imported.seconds,
        "rungs": {
            "files": imported.files,
            "bytes_on_disk": imported.bytes,
        },
        "nginx": lazy.reference_json(),
        "avatars": lazy.rendering_as_asked_json(),
        "ratio": avatars_run.requests_per_second / nginx_run.requests_per_second,
        "cpu_budget": cpu_budget(&Budget {
            goal_rate: TARGET_RATIO * nginx_run.requests_per_second,
            workload: &workload,
            lazy: &lazy,
            ahead: &rendered_ahead,
        }),
        "restart_with_saved_renditions": with_file,
        "restart_with_files_only": files_only,
        "restart_without": without_file,
        "render_ahead": {
            "sizes": ahead.sizes,
            "files": made_ahead.files,
            "bytes_on_disk": made_ahead.bytes,
            "seconds": made_ahead.seconds,
            "avatars_per_second": avatar_count / made_ahead.seconds,
        },
        "rendered_ahead_ratio": rendered_ahead["requests_per_second"].as_f64().unwrap_or(0.0)
            / rendered_ahead["nginx"]["requests_per_second"].as_f64().unwrap_or(f64::NAN),
        "rendered_ahead": rendered_ahead,
        "warm_up_seconds": WARM_UP_SECONDS,
        "measured_seconds": MEASURE_SECONDS,
        "slices": SLICES,
    }))
}

/// Waits for what the preparation wrote (the corpus, the store, every rendition made ahead and
/// nginx's files: some 8 GiB in a few minutes) to be on disk, before anything is measured; how
/// long that took. Written back during a run, it can hold the server's own writes back (the
/// kernel throttles a writer while much is dirty), which nginx, writing nothing, never meets.
/// A run without this wait (2026-12-07, AMD EPYC host) left 21 % of the two CPUs unused in the
/// server's turns rendering as asked, with a p99 of 512 ms.
fn write_back() -> Result<f64, String> {
    let started = std::time::Instant::now();
    let status = std::process::Command::new("sync")
        .status()
        .map_err(|err| format!("running sync: {err}"))?;
    if !status.success() {
        return Err(format!("sync failed: {status}"));
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("{TASK}: scale: the preparation's writes on disk after {seconds:.1} s more");
    Ok(seconds)
}

/// Where the import makes renditions ahead, and at which sizes (the corpus's, comma-separated).
pub(super) struct Ahead {
    pub(super) dir: std::path::PathBuf,
    pub(super) sizes: String,
}

impl Ahead {
    pub(super) fn of(corpus: &Path, made: &Value) -> Result<Self, String> {
        let sizes: Vec<String> = made["sizes"]
            .as_array()
            .ok_or("the corpus example reported no sizes")?
            .iter()
            .map(Value::to_string)
            .collect();
        Ok(Self {
            dir: corpus.join("renditions-ahead"),
            sizes: sizes.join(","),
        })
    }

    /// The `avatars` arguments that use these rendition files (their folder and budget).
    pub(super) fn files_args(&self) -> [String; 4] {
        [
            "--render-files-dir".to_owned(),
            self.dir.display().to_string(),
            "--render-files-bytes".to_owned(),
            AHEAD_BUDGET.to_string(),
        ]
    }

    /// `avatars serve`'s arguments over these rendition files, with its admin listener (and so
    /// its `/metrics`) on `admin`.
    pub(super) fn serve_args(&self, admin: &str) -> Vec<String> {
        let mut args = vec!["--admin-addr".to_owned(), admin.to_owned()];
        args.extend(self.files_args());
        args
    }
}

/// A report's number; NaN (printed as such) where it is missing.
pub(super) fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// A report's number for the picture: 0 where it is missing (nothing drawn), not NaN.
pub(super) fn drawn(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

pub(super) fn run_json(run: &Run) -> Value {
    json!({
        "requests_per_second": run.requests_per_second,
        "p50_ms": run.p50_ms,
        "p99_ms": run.p99_ms,
    })
}

/// The targets the report meets or misses.
pub(super) fn targets(report: &Value) -> Vec<Target> {
    let ratio = report["ratio"].as_f64();
    let ahead_ratio = report["rendered_ahead_ratio"].as_f64();
    let judged = |ratio: Option<f64>| {
        (
            ratio.map_or_else(|| "not run".to_owned(), |ratio| format!("{ratio:.2}x")),
            ratio.is_some_and(|ratio| ratio >= TARGET_RATIO),
        )
    };
    let (measured, met) = judged(ratio);
    let (ahead_measured, ahead_met) = judged(ahead_ratio);
    let with_file = report["restart_with_saved_renditions"]["seconds_to_warm"].as_f64();
    let without = report["restart_without"]["seconds_to_warm"].as_f64();
    let part_seconds = report["part_seconds"].as_f64();
    vec![
        Target {
            name: format!(
                "scale: Zipf over {} avatars, avatars / nginx, rendering as asked",
                report["corpus"]["avatars"]
            ),
            measured,
            required: format!(">= {TARGET_RATIO}x"),
            met,
        },
        Target {
            name: "scale: the same, every size rendered ahead".to_owned(),
            measured: ahead_measured,
            required: format!(">= {TARGET_RATIO}x"),
            met: ahead_met,
        },
        Target {
            name: "scale: warm after a restart, with the saved renditions".to_owned(),
            measured: with_file.map_or_else(
                || format!("not within {WARM_SLICES} s"),
                |seconds| format!("{seconds:.1} s"),
            ),
            required: without.map_or_else(
                || format!("within {WARM_SLICES} s (with neither: never)"),
                |seconds| format!("<= {seconds:.1} s (with neither)"),
            ),
            met: with_file.is_some_and(|with| without.is_none_or(|without| with <= without)),
        },
        Target {
            name: "scale: the whole part, the corpus to the last run".to_owned(),
            measured: part_seconds.map_or_else(
                || "not measured".to_owned(),
                |seconds| format!("{:.1} min", seconds / 60.0),
            ),
            required: format!("<= {:.0} min", PART_LIMIT_SECONDS / 60.0),
            met: part_seconds.is_some_and(|seconds| seconds <= PART_LIMIT_SECONDS),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ratios_the_warm_restart_and_the_part_s_time_are_the_targets() {
        let report = json!({
            "ratio": 0.62,
            "rendered_ahead_ratio": 0.7,
            "restart_with_saved_renditions": {"seconds_to_warm": 1.4},
            "restart_without": {"seconds_to_warm": 9.0},
            "part_seconds": 1100.0,
        });
        let judged = targets(&report);
        assert!(judged.iter().all(|target| target.met));
        let slower = json!({
            "ratio": 0.3,
            "rendered_ahead_ratio": 0.55,
            "restart_with_saved_renditions": {"seconds_to_warm": null},
            "restart_without": {"seconds_to_warm": 9.0},
            "part_seconds": 1250.0,
        });
        let judged = targets(&slower);
        assert!(!judged[0].met && judged[1].met && !judged[2].met && !judged[3].met);
        assert_eq!(judged[3].measured, "20.8 min");
        assert!(
            targets(&json!({})).iter().all(|target| !target.met),
            "not run is not met"
        );
    }
}
