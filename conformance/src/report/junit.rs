//! JUnit XML, one test suite per group, for CI systems.

use std::fmt::Write as _;

use super::escape;
use super::seconds;
use crate::case::{Verdict, VerdictKind};
use crate::runner::Report;

/// The report as JUnit XML.
#[must_use]
pub fn junit(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let (_, failures, skipped) = report.counts();
    let _ = writeln!(
        out,
        "<testsuites name=\"avatar-conformance\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        report.outcomes.len(),
        seconds(report.millis)
    );
    for (group, outcomes) in report.by_group() {
        let failed = outcomes
            .iter()
            .filter(|outcome| outcome.verdict.kind() == VerdictKind::Fail)
            .count();
        let skipped = outcomes
            .iter()
            .filter(|outcome| outcome.verdict.kind() == VerdictKind::Skip)
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">",
            group.name(),
            outcomes.len()
        );
        for outcome in outcomes {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{} [{}] {}\" time=\"{:.3}\"",
                group.name(),
                outcome.id,
                outcome.level,
                escape(outcome.title),
                seconds(outcome.millis)
            );
            match &outcome.verdict {
                Verdict::Pass => out.push_str("/>\n"),
                Verdict::Skip { reason } => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                Verdict::Fail {
                    request,
                    expected,
                    got,
                } => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}: expected {}\" type=\"{}\">request: {}\nexpected: {}\ngot: {}\nsource: {}</failure>\n    </testcase>",
                        escape(outcome.title),
                        escape(expected),
                        outcome.level,
                        escape(request),
                        escape(expected),
                        escape(got),
                        escape(outcome.source)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
