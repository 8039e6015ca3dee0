//! The terminal summary: counts per group, then every failure with its request, what was
//! expected and what came back.

use std::fmt::Write as _;

use super::seconds;
use crate::case::{Verdict, VerdictKind};
use crate::runner::Report;

/// The summary printed at the end of a run.
#[must_use]
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    for warning in &report.warnings {
        let _ = writeln!(out, "WARNING: {warning}");
    }
    for (role, target) in &report.targets {
        let _ = writeln!(out, "{role}: {target}");
    }
    let _ = writeln!(
        out,
        "\n{:<22} {:>5} {:>5} {:>5}   failed MUST/SHOULD/COMPAT",
        "group", "pass", "fail", "skip"
    );
    for (group, outcomes) in report.by_group() {
        let count = |kind| {
            outcomes
                .iter()
                .filter(|outcome| outcome.verdict.kind() == kind)
                .count()
        };
        let failed_at = |level| {
            outcomes
                .iter()
                .filter(|outcome| {
                    outcome.level == level && outcome.verdict.kind() == VerdictKind::Fail
                })
                .count()
        };
        let _ = writeln!(
            out,
            "{:<22} {:>5} {:>5} {:>5}   {}/{}/{}",
            group.name(),
            count(VerdictKind::Pass),
            count(VerdictKind::Fail),
            count(VerdictKind::Skip),
            failed_at(crate::case::Level::Must),
            failed_at(crate::case::Level::Should),
            failed_at(crate::case::Level::Compat),
        );
    }
    for outcome in &report.outcomes {
        if let Verdict::Fail {
            request,
            expected,
            got,
        } = &outcome.verdict
        {
            let _ = writeln!(
                out,
                "\nFAIL [{}] {} ({}): {}\n  source:   {}\n  request:  {}\n  expected: {}\n  got:      {}",
                outcome.level,
                outcome.id,
                outcome.group,
                outcome.title,
                outcome.source,
                request,
                expected,
                got.replace('\n', "\n            ")
            );
        }
    }
    let (pass, fail, skip) = report.counts();
    let ran = report.outcomes.len();
    let _ = writeln!(
        out,
        "\n{ran} {}: {pass} passed, {fail} failed, {skip} skipped in {:.1} s",
        if ran == 1 { "case" } else { "cases" },
        seconds(report.millis)
    );
    out
}
