//! Running the cases: each against its group's target, one after the other, with a progress line.

use std::io::{IsTerminal as _, Write as _};
use std::time::Instant;

use serde::Serialize;

use crate::case::{Case, Check, Group, Level, Outcome, Verdict, VerdictKind};
use crate::discovery::{DiscoveryClient, Nameservers, discovery_cases};
use crate::error::ConformanceError;
use crate::http::{HttpTarget, server_cases};
use crate::xmpp::{XmppTarget, xmpp_cases};

/// Every case, in report order.
#[must_use]
pub fn all_cases() -> Vec<Case> {
    let mut cases = server_cases();
    cases.extend(discovery_cases());
    cases.extend(xmpp_cases());
    cases
}

/// The cases of `cases` that `patterns` name, in report order: each pattern is a case's id, or
/// the start of some ids followed by `*` (`discovery-trailing-dot*`).
///
/// # Errors
/// [`ConformanceError::Usage`] for a pattern that names no case, listing the ids that contain
/// it, if any.
pub fn cases_named(cases: Vec<Case>, patterns: &[String]) -> Result<Vec<Case>, ConformanceError> {
    let matches = |pattern: &str, id: &str| match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => id == pattern,
    };
    for pattern in patterns {
        if !cases.iter().any(|case| matches(pattern, case.id)) {
            let word = pattern.trim_end_matches('*');
            let near: Vec<&str> = cases
                .iter()
                .map(|case| case.id)
                .filter(|id| !word.is_empty() && id.contains(word))
                .collect();
            let hint = if near.is_empty() {
                "`avatar-conformance list` shows every case".to_owned()
            } else {
                format!("ids containing it: {}", near.join(", "))
            };
            return Err(ConformanceError::Usage(format!(
                "no case has the id {pattern:?} (a trailing * matches ids starting with the \
                 rest); {hint}"
            )));
        }
    }
    Ok(cases
        .into_iter()
        .filter(|case| patterns.iter().any(|pattern| matches(pattern, case.id)))
        .collect())
}

/// The targets of one run; a group runs only when its target is set.
#[derive(Debug, Default)]
pub struct Targets {
    /// For `libravatar-server`.
    pub http: Option<HttpTarget>,
    /// For `libravatar-discovery`.
    pub discovery: Option<DiscoveryClient>,
    /// For the XMPP groups.
    pub xmpp: Option<XmppTarget>,
    /// A description of each target, for the reports.
    pub described: Vec<(String, String)>,
}

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Quiet,
    /// A line on standard error per case (rewritten in place on a terminal).
    Stderr,
}

impl Progress {
    /// Writes `text` to standard error for [`Progress::Stderr`]. Unlike `eprint!`, a standard
    /// error that cannot be written (`2>&1 | head` once `head` has gone) loses the text
    /// instead of stopping the run with a panic before its verdicts and reports.
    pub fn say(self, text: std::fmt::Arguments<'_>) {
        if self == Self::Stderr {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_fmt(text).and_then(|()| stderr.flush());
        }
    }
}

/// The result of a run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What each group ran against.
    pub targets: Vec<(String, String)>,
    /// What the reader should know before reading any verdict (such as a server that holds
    /// none of the fixtures, so every hit case fails).
    pub warnings: Vec<String>,
    /// One outcome per case that ran.
    pub outcomes: Vec<Outcome>,
    /// How long the run took, in milliseconds.
    pub millis: u64,
}

impl Report {
    /// The failed cases at or above `level` (MUST < SHOULD < COMPAT in strictness order).
    pub fn failures_at_least(&self, level: Level) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(move |outcome| {
            outcome.level <= level && matches!(outcome.verdict, Verdict::Fail { .. })
        })
    }

    /// The groups that ran, in report order, each with its outcomes.
    pub fn by_group(&self) -> impl Iterator<Item = (Group, Vec<&Outcome>)> {
        Group::ALL.into_iter().filter_map(|group| {
            let outcomes: Vec<&Outcome> = self
                .outcomes
                .iter()
                .filter(|outcome| outcome.group == group)
                .collect();
            (!outcomes.is_empty()).then_some((group, outcomes))
        })
    }

    /// Counts of passed, failed and skipped cases.
    #[must_use]
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |kind| {
            self.outcomes
                .iter()
                .filter(|outcome| outcome.verdict.kind() == kind)
                .count()
        };
        (
            count(VerdictKind::Pass),
            count(VerdictKind::Fail),
            count(VerdictKind::Skip),
        )
    }
}

/// Runs `cases` (those whose group has a target and is in `groups`) and reports.
///
/// # Errors
/// [`ConformanceError::Dns`] when discovery cases are to run and the fake DNS cannot start;
/// [`ConformanceError::Setup`] when server cases are to run and the server does not answer at
/// all ([`HttpTarget::answers`](crate::http::HttpTarget::answers)).
pub async fn run(
    cases: &[Case],
    targets: &mut Targets,
    groups: &[Group],
    progress: Progress,
) -> Result<Report, ConformanceError> {
    let started = Instant::now();
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|case| groups.contains(&case.group))
        .filter(|case| match case.group {
            Group::LibravatarServer => targets.http.is_some(),
            Group::LibravatarDiscovery => targets.discovery.is_some(),
            _ => targets.xmpp.is_some(),
        })
        .collect();
    let nameservers = if selected
        .iter()
        .any(|case| case.group == Group::LibravatarDiscovery)
    {
        Some(Nameservers::start().await?)
    } else {
        None
    };
    let mut warnings = Vec::new();
    if let Some(target) = &targets.http
        && selected
            .iter()
            .any(|case| case.group == Group::LibravatarServer)
    {
        target
            .answers()
            .await
            .map_err(|err| ConformanceError::Setup {
                what: "the Libravatar server does not answer (is it running, at that address?)"
                    .to_owned(),
                source: Box::new(err),
            })?;
        warnings.extend(crate::http::fixtures_warning(target).await);
    }
    for warning in &warnings {
        progress.say(format_args!("warning: {warning}\n"));
    }
    let terminal = std::io::stderr().is_terminal();
    let mut outcomes = Vec::with_capacity(selected.len());
    let mut failed = 0;
    for (index, case) in selected.iter().enumerate() {
        if progress == Progress::Stderr {
            let line = format!(
                "[{:>3}/{}] {failed} failed  {}",
                index + 1,
                selected.len(),
                case.id
            );
            let group_starts = index == 0 || selected[index - 1].group != case.group;
            if terminal {
                progress.say(format_args!("\r\x1b[2K{line}"));
            } else if group_starts || index % 20 == 0 {
                // Logs get a line per group and every 20 cases, not one per case.
                progress.say(format_args!("{line} ({})\n", case.group));
            }
        }
        let began = Instant::now();
        let (verdict, images) = run_case(case, targets, nameservers.as_ref()).await;
        if matches!(verdict, Verdict::Fail { .. }) {
            failed += 1;
        }
        outcomes.push(Outcome {
            id: case.id,
            group: case.group,
            title: case.title,
            source: case.source,
            level: case.level,
            verdict,
            millis: u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
            images,
        });
    }
    if terminal {
        progress.say(format_args!("\n"));
    }
    Ok(Report {
        targets: targets.described.clone(),
        warnings,
        outcomes,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

async fn run_case(
    case: &Case,
    targets: &mut Targets,
    nameservers: Option<&Nameservers>,
) -> (Verdict, Vec<crate::case::SeenImage>) {
    match (&case.check, nameservers) {
        (Check::Http(check), _) => match &targets.http {
            Some(target) => check.run(target).await,
            None => (Verdict::skip("no HTTP target"), Vec::new()),
        },
        (Check::Discovery(check), Some(nameservers)) => match &targets.discovery {
            Some(client) => (check.run(client, nameservers).await, Vec::new()),
            None => (Verdict::skip("no discovery client"), Vec::new()),
        },
        (Check::Discovery(_), None) => (Verdict::skip("no DNS server"), Vec::new()),
        (Check::Xmpp(check), _) => match &mut targets.xmpp {
            Some(target) => check.run(case.id, target).await,
            None => (Verdict::skip("no XMPP target"), Vec::new()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(patterns: &[&str]) -> Result<Vec<&'static str>, ConformanceError> {
        let patterns: Vec<String> = patterns.iter().map(|&pattern| pattern.to_owned()).collect();
        let cases = cases_named(all_cases(), &patterns)?;
        Ok(cases.iter().map(|case| case.id).collect())
    }

    #[test]
    fn cases_are_named_by_id_or_by_the_start_of_ids_and_run_in_report_order() {
        assert_eq!(
            ids(&["discovery-trailing-dot-several", "discovery-http"]).unwrap(),
            ["discovery-http", "discovery-trailing-dot-several"]
        );
        assert_eq!(
            ids(&["discovery-trailing-dot*", "discovery-trailing-dot"]).unwrap(),
            ["discovery-trailing-dot", "discovery-trailing-dot-several"]
        );
        assert_eq!(ids(&["*"]).unwrap().len(), all_cases().len());
        // The start of an id without `*` is no id.
        assert!(ids(&["discovery-trailing"]).is_err());
        assert!(ids(&["discovery-http", "DISCOVERY-HTTPS"]).is_err());
    }
}
