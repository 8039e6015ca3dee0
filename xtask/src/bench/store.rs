//! The store part: the PostgreSQL store against the filesystem store, from
//! `avatar-store-postgres`'s `store_bench` example (release, one process, a private cluster
//! started by the example; `scripts/ensure-postgres.sh` installs PostgreSQL when missing):
//! 1. hits on each store, alternating rounds: PostgreSQL no slower than the filesystem (both
//!    answer from memory): at most [`HIT_RATIO`] times its time per hit;
//! 2. the cold path (the first request per avatar: a store read and a render), p50 and p99 on
//!    each, reported;
//! 3. invalidation across two servers: from a write's start on one store to the other's
//!    generation of that hash changing (the write's transaction included), p50 and p99; p99
//!    within [`INVALIDATION_P99_MS`].

use std::path::Path;

use serde_json::Value;

use super::report::Target;
use super::{TASK, run_tool};

/// PostgreSQL's time per hit over the filesystem's, at most (1 plus noise).
const HIT_RATIO: f64 = 1.1;
/// The slowest invalidation tolerated, milliseconds (the 100 ms for a change to be
/// served by the other server).
const INVALIDATION_P99_MS: f64 = 100.0;

/// Builds and runs the example; its JSON report.
pub(super) fn measure(cargo: &str, root: &Path) -> Result<Value, String> {
    run_tool(
        "bash",
        &["scripts/ensure-postgres.sh"],
        root,
        "installing PostgreSQL",
    )?;
    eprintln!(
        "{TASK}: the PostgreSQL store against the filesystem store (release build of store_bench) ..."
    );
    super::run_example_report(
        cargo,
        root,
        ("avatar-store-postgres", "store_bench"),
        &[],
        &[],
    )
}

fn hit_ratio(report: &Value) -> Option<f64> {
    let hits = &report["hit_ns"];
    hits["postgres"]
        .as_f64()
        .zip(hits["filesystem"].as_f64())
        .map(|(postgres, filesystem)| postgres / filesystem)
}

/// The targets the report meets or misses.
pub(super) fn targets(report: &Value) -> Vec<Target> {
    let ratio = hit_ratio(report);
    let p99 = report["invalidation_ms"]["p99"].as_f64();
    vec![
        Target {
            name: "store: PostgreSQL hit / filesystem hit".to_owned(),
            measured: ratio.map_or_else(|| "not run".to_owned(), |ratio| format!("{ratio:.2}x")),
            required: format!("<= {HIT_RATIO}x"),
            met: ratio.is_some_and(|ratio| ratio <= HIT_RATIO),
        },
        Target {
            name: "store: invalidation across servers, p99".to_owned(),
            measured: p99.map_or_else(|| "not run".to_owned(), |ms| format!("{ms:.2} ms")),
            required: format!("<= {INVALIDATION_P99_MS} ms"),
            met: p99.is_some_and(|ms| ms <= INVALIDATION_P99_MS),
        },
    ]
}

/// One paragraph for the terminal.
pub(super) fn print(report: &Value) {
    let ms = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
    println!(
        "store ({} avatars): hit {:.0} ns on PostgreSQL, {:.0} ns on the filesystem ({:.2}x); \
         cold p50/p99 {:.2}/{:.2} ms on PostgreSQL, {:.2}/{:.2} ms on the filesystem; \
         invalidation across servers p50 {:.2} ms, p99 {:.2} ms",
        report["avatars"],
        ms(&report["hit_ns"]["postgres"]),
        ms(&report["hit_ns"]["filesystem"]),
        hit_ratio(report).unwrap_or(f64::NAN),
        ms(&report["cold_ms"]["postgres"]["p50"]),
        ms(&report["cold_ms"]["postgres"]["p99"]),
        ms(&report["cold_ms"]["filesystem"]["p50"]),
        ms(&report["cold_ms"]["filesystem"]["p99"]),
        ms(&report["invalidation_ms"]["p50"]),
        ms(&report["invalidation_ms"]["p99"]),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_hit_ratio_and_the_invalidation_p99_are_the_targets() {
        let report = json!({
            "avatars": 300,
            "hit_ns": {"postgres": 2100.0, "filesystem": 2000.0},
            "invalidation_ms": {"p50": 0.8, "p99": 140.0},
        });
        let judged = targets(&report);
        assert_eq!(judged[0].measured, "1.05x");
        assert!(judged[0].met);
        assert!(!judged[1].met, "140 ms is over the bound");
        assert!(!targets(&json!({}))[0].met, "not run is not met");
    }
}
