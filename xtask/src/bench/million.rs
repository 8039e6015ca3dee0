//! The million part: the memory a server's index and render cache take at scale, from
//! `avatar-service`'s `million` example (release, in process): a full pass over the MD5 and
//! SHA-256 hashes of 1,000,000 stored identities (two million requests, two million renders),
//! then the resident set, which must stay within [`BUDGET_MIB`] whatever the number of
//! identities: the index keeps 131,072 hashes and the render cache 64 MiB (the defaults).

use std::path::Path;

use serde_json::Value;

use super::TASK;
use super::report::Target;

/// Identities of the pass.
const IDENTITIES: &str = "1000000";
/// The budget: the render cache's 64 MiB, the index's 131,072 entries (about 100 bytes each
/// with their bookkeeping) and the process itself.
const BUDGET_MIB: f64 = 128.0;

/// Builds and runs the example; its JSON report.
pub(super) fn measure(cargo: &str, root: &Path) -> Result<Value, String> {
    eprintln!(
        "{TASK}: the index and caches over 1,000,000 identities (release build of million; about 2 minutes) ..."
    );
    super::run_example_report(
        cargo,
        root,
        ("avatar-service", "million"),
        &[],
        &[IDENTITIES.as_ref()],
    )
}

/// The target the report meets or misses.
pub(super) fn targets(report: &Value) -> Vec<Target> {
    let resident = report["resident_after_mib"].as_f64();
    vec![Target {
        name: "million: resident after a pass over 1,000,000 identities".to_owned(),
        measured: resident.map_or_else(|| "not run".to_owned(), |mib| format!("{mib:.1} MiB")),
        required: format!("<= {BUDGET_MIB} MiB"),
        met: resident.is_some_and(|mib| mib <= BUDGET_MIB),
    }]
}

/// One paragraph for the terminal.
pub(super) fn print(report: &Value) {
    println!(
        "million: {} requests over {} identities in {:.0} s ({} renders); index {} hashes, \
         render cache {} entries / {:.1} MiB; resident {:.1} MiB before, {:.1} MiB after",
        report["requests"],
        report["identities"],
        report["seconds"].as_f64().unwrap_or(f64::NAN),
        report["renders"],
        report["index_entries"],
        report["cache_entries"],
        report["cache_bytes"].as_f64().unwrap_or(f64::NAN) / f64::from(1 << 20),
        report["resident_before_mib"].as_f64().unwrap_or(f64::NAN),
        report["resident_after_mib"].as_f64().unwrap_or(f64::NAN),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_resident_set_after_the_pass_is_the_target() {
        assert!(targets(&json!({"resident_after_mib": 100.6}))[0].met);
        assert!(!targets(&json!({"resident_after_mib": 300.0}))[0].met);
        assert!(!targets(&json!({}))[0].met, "not run is not met");
    }
}
