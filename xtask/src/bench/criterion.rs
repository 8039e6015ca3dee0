//! The criterion part: every `benches/` target of the workspace, then the cold-render and
//! generator targets checked against criterion's medians.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::report::Target;
use crate::walk;

/// The first render of a 512 x 512 JPEG at 80 px, median.
const COLD_RENDER_TARGET_MS: f64 = 2.0;
/// The first render at 80 px of an 8192 x 8192 JPEG upload (its stored master), median.
const LARGE_UPLOAD_RENDER_TARGET_MS: f64 = 3.0;
/// The same, against the 512 x 512 JPEG's in the same run: the cost must not grow with the
/// upload's dimensions.
const LARGE_UPLOAD_RENDER_MAX_RATIO: f64 = 1.25;
/// A 512 x 512 JPEG in Display P3 rendered at 80 px, against the same picture without the
/// profile in the same run: the conversion to sRGB (about 0.4 ms of 1.3 ms, 2026-12-07) with
/// its transform made once per profile, not once per render (1.7x when it was).
const DISPLAY_P3_RENDER_MAX_RATIO: f64 = 1.5;
/// Each generator at 80 px, median.
const GENERATOR_TARGET_MS: f64 = 1.0;

/// The names of every `crates/*/benches/*.rs` target. Named one by one: `--benches` would
/// also run the libraries' test harnesses, which refuse criterion's options.
pub(super) fn bench_targets(root: &Path) -> Result<Vec<String>, String> {
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
pub(super) fn criterion_medians(dir: &Path) -> Result<BTreeMap<String, f64>, String> {
    let read = |path: PathBuf| -> Option<Value> {
        serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
    };
    let mut medians = BTreeMap::new();
    // Each benchmark's latest run is `.../new/benchmark.json` beside `.../new/estimates.json`.
    for benchmark in walk::files(dir, &|_| false, &|path| {
        path.ends_with("new/benchmark.json")
    }) {
        let estimates = benchmark.with_file_name("estimates.json");
        if let (Some(benchmark), Some(estimates)) = (read(benchmark), read(estimates))
            && let (Some(id), Some(median)) = (
                benchmark["full_id"].as_str(),
                estimates["median"]["point_estimate"].as_f64(),
            )
        {
            medians.insert(id.to_owned(), median);
        }
    }
    if medians.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()));
    }
    Ok(medians)
}

pub(super) fn criterion_targets(medians: &BTreeMap<String, f64>) -> Vec<Target> {
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
    check(
        "cold render 8192x8192 JPEG upload -> 80 px".to_owned(),
        "cold render of an 8192x8192 JPEG upload/to 80",
        LARGE_UPLOAD_RENDER_TARGET_MS,
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
    let mut ratio = |name: &str, id: &str, reference: &str, max: f64| {
        let ratio = medians
            .get(id)
            .zip(medians.get(reference))
            .map(|(measured, reference)| measured / reference);
        targets.push(Target {
            name: name.to_owned(),
            measured: ratio.map_or_else(|| "not run".to_owned(), |ratio| format!("{ratio:.2}x")),
            required: format!("<= {max}x"),
            met: ratio.is_some_and(|ratio| ratio <= max),
        });
    };
    ratio(
        "cold render 8192x8192 upload / 512x512 upload (80 px)",
        "cold render of an 8192x8192 JPEG upload/to 80",
        "cold render of a 512x512 JPEG/to 80",
        LARGE_UPLOAD_RENDER_MAX_RATIO,
    );
    ratio(
        "cold render Display P3 / plain 512x512 JPEG (80 px)",
        "cold render of a 512x512 Display P3 JPEG/to 80",
        "cold render of a 512x512 JPEG/to 80",
        DISPLAY_P3_RENDER_MAX_RATIO,
    );
    targets
}
