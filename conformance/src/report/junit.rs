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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::junit;
    use crate::case::{Group, Level, Outcome, Verdict};
    use crate::runner::Report;

    /// The text of `xml` as a strict XML 1.0 parser reads it, or why it is not XML.
    fn text_of(xml: &str) -> Result<String, String> {
        let mut reader = rxml::Reader::new(std::io::BufReader::new(xml.as_bytes()));
        let mut text = String::new();
        rxml::as_eof_flag(reader.read_all(|event| {
            if let rxml::Event::Text(_, chunk) = event {
                text.push_str(&chunk);
            }
        }))
        .map_err(|err| err.to_string())?;
        Ok(text)
    }

    /// What strict parsers refuse even escaped: C0 controls but tab and newlines, and the
    /// non-characters U+FFFE and U+FFFF; a hostile server's headers may carry any of them.
    const UNREADABLE: &str =
        "bell\u{7} nul\u{0} esc\u{1b} fffe\u{fffe} ffff\u{ffff} <tag> & \"quote\"";

    proptest! {
        /// Whatever a target sends back (control characters, U+FFFE, markup, any script),
        /// the JUnit report stays XML a CI system can read, and says it.
        #[test]
        fn any_text_a_target_returns_stays_readable_xml(
            got in prop_oneof![any::<String>(), Just(UNREADABLE.to_owned())],
            request in any::<String>(),
            reason in any::<String>(),
        ) {
            let outcome = |verdict| Outcome {
                id: "server-hash-md5",
                group: Group::LibravatarServer,
                title: "a title",
                source: "a source",
                level: Level::Must,
                verdict,
                millis: 1,
                images: Vec::new(),
            };
            let report = Report {
                targets: Vec::new(),
                warnings: Vec::new(),
                outcomes: vec![
                    outcome(Verdict::Fail {
                        request: request.clone(),
                        expected: "an image".to_owned(),
                        got: got.clone(),
                    }),
                    outcome(Verdict::Skip { reason }),
                ],
                millis: 2,
            };
            let xml = junit(&report);
            let text = text_of(&xml).map_err(|err| TestCaseError::fail(format!("{err}: {xml}")))?;
            let readable = |value: &str| !value.chars().any(|c| c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}'));
            if readable(&got) && readable(&request) {
                prop_assert!(text.contains(&format!("got: {got}")), "{text}");
                prop_assert!(text.contains(&format!("request: {request}")), "{text}");
            }
        }
    }
}
