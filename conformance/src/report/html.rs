//! A self-contained HTML page: warnings first, then the failures (MUST first) with what was sent,
//! expected and returned, the pass/fail matrix per group (one square per case, coloured by
//! verdict, grouped by level), then every case with its details and the images it got back,
//! inline. A checkbox hides everything but the failures. Verdicts are white on a dark badge, so
//! they read on any row (`tests/it/html_report.rs` checks the contrast in Chromium).

use std::fmt::Write as _;

use base64::Engine as _;

use super::escape;
use crate::case::{Group, Level, Outcome, Verdict};
use crate::runner::Report;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
.matrix { display: grid; grid-template-columns: 12em 1fr; gap: .3em 1em; align-items: center; }
.cells { display: flex; flex-wrap: wrap; gap: 6px; }
.cell { width: 20px; height: 20px; border-radius: 3px; display: inline-block; }
.cell.pass { background: #2e9d4f; } .cell.fail { background: #d33; } .cell.skip { background: #bbb; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: .35em .5em; text-align: left; vertical-align: top; }
tr.row-fail { background: #fdecec; }
.verdict { font-weight: bold; color: #fff; padding: 1px 6px; border-radius: 3px; white-space: nowrap; }
.verdict.pass { background: #1b6e34; } .verdict.fail { background: #b71c1c; } .verdict.skip { background: #616161; }
.warning { background: #fff4d6; border: 1px solid #c99700; color: #3d2e00; padding: .6em .8em; border-radius: 4px; }
.filter { margin: 1em 0; }
body:has(#only-failures:checked) tr.row-pass, body:has(#only-failures:checked) tr.row-skip,
body:has(#only-failures:checked) .matrix, body:has(#only-failures:checked) .all-passed { display: none; }
pre { white-space: pre-wrap; margin: .2em 0; font-size: 12px; background: #f6f6f6; padding: .4em; }
img { image-rendering: pixelated; border: 1px solid #ccc; margin: 2px; max-width: 128px; max-height: 128px; vertical-align: middle; }
.level { font-size: 11px; padding: 1px 4px; border-radius: 3px; background: #eee; }
";

/// The verdict's class: colours a matrix cell and a verdict badge (`row-` + it, a table row).
fn class(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail { .. } => "fail",
        Verdict::Skip { .. } => "skip",
    }
}

/// The pass/fail matrix: per group and level, one coloured square per case.
fn matrix(report: &Report, out: &mut String) {
    out.push_str("<h2>Matrix</h2>\n<div class=\"matrix\">\n");
    for group in Group::ALL {
        for level in [Level::Must, Level::Should, Level::Compat] {
            let outcomes: Vec<_> = report
                .outcomes
                .iter()
                .filter(|outcome| outcome.group == group && outcome.level == level)
                .collect();
            if outcomes.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                "<div>{} <span class=\"level\">{level}</span></div><div class=\"cells\">",
                group.name()
            );
            for outcome in outcomes {
                let _ = write!(
                    out,
                    "<a href=\"#{id}\" class=\"cell {class}\" title=\"{id}: {title} ({verdict})\"></a>",
                    id = outcome.id,
                    class = class(&outcome.verdict),
                    title = escape(outcome.title),
                    verdict = outcome.verdict.label()
                );
            }
            out.push_str("</div>\n");
        }
    }
    out.push_str("</div>\n");
}

/// The report as one HTML page with the images inline.
#[must_use]
pub fn html(report: &Report) -> String {
    html_page(Some(report), "")
}

/// A page in [`html`]'s style: `preface` (HTML), then `report` when there is one. The domain
/// checker's page is its findings in DNS, then the cases it ran, if any server answered.
#[must_use]
pub fn html_page(report: Option<&Report>, preface: &str) -> String {
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Avatar conformance</title><style>{STYLE}</style></head><body><main>\n{preface}"
    );
    if let Some(report) = report {
        report_body(report, &mut out);
    }
    out.push_str("</main></body></html>\n");
    out
}

/// The counts, the targets, the warnings, the failures, the matrix and every group's table.
fn report_body(report: &Report, out: &mut String) {
    let (pass, fail, skip) = report.counts();
    let _ = write!(
        out,
        "<h1>Avatar conformance: {pass} passed, {fail} failed, {skip} skipped</h1>\n<ul>"
    );
    for (role, target) in &report.targets {
        let _ = write!(
            out,
            "<li>{}: <code>{}</code></li>",
            escape(role),
            escape(target)
        );
    }
    out.push_str("</ul>\n");
    for warning in &report.warnings {
        let _ = writeln!(
            out,
            "<p class=\"warning\"><strong>Warning:</strong> {}</p>",
            escape(warning)
        );
    }
    out.push_str("<p class=\"filter\"><label><input type=\"checkbox\" id=\"only-failures\"> show failures only</label></p>\n");
    failures(report, out);
    matrix(report, out);
    for (group, outcomes) in report.by_group() {
        let _ = write!(
            out,
            "<h2>{}</h2>\n<table><tr><th>case</th><th>level</th><th>verdict</th><th>what</th><th>returned</th></tr>\n",
            group.name()
        );
        for outcome in outcomes {
            row(outcome, out, true);
        }
        out.push_str("</table>\n");
    }
}

/// The failures, MUST first, before anything else; or a line saying there are none.
fn failures(report: &Report, out: &mut String) {
    let mut failed: Vec<&Outcome> = report
        .outcomes
        .iter()
        .filter(|outcome| matches!(outcome.verdict, Verdict::Fail { .. }))
        .collect();
    if failed.is_empty() {
        out.push_str("<h2>Failures</h2>\n<p class=\"all-passed\">No case failed.</p>\n");
        return;
    }
    failed.sort_by_key(|outcome| outcome.level);
    let _ = write!(
        out,
        "<h2>Failures ({})</h2>\n<table class=\"failures\"><tr><th>case</th><th>level</th><th>verdict</th><th>what</th><th>returned</th></tr>\n",
        failed.len()
    );
    for outcome in failed {
        row(outcome, out, false);
    }
    out.push_str("</table>\n");
}

/// One case as a table row: id, level, verdict badge, details, images; `anchor` gives the
/// row the case's id, for the matrix's links (the failures table repeats rows without it).
fn row(outcome: &Outcome, out: &mut String, anchor: bool) {
    let mut details = format!(
        "{}<br><small>{}</small>",
        escape(outcome.title),
        escape(outcome.source)
    );
    match &outcome.verdict {
        Verdict::Fail {
            request,
            expected,
            got,
        } => {
            let _ = write!(
                details,
                "<pre>request:  {}\nexpected: {}\ngot:      {}</pre>",
                escape(request),
                escape(expected),
                escape(got)
            );
        }
        Verdict::Skip { reason } => {
            let _ = write!(details, "<br><em>{}</em>", escape(reason));
        }
        Verdict::Pass => {}
    }
    let mut images = String::new();
    for image in outcome.images.iter().take(4) {
        let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
        let _ = write!(
            images,
            "<img src=\"data:{};base64,{data}\" alt=\"{label}\" title=\"{label}\">",
            escape(&image.content_type),
            label = escape(&image.label)
        );
    }
    let id_attribute = if anchor {
        format!(" id=\"{}\"", outcome.id)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "<tr{id_attribute} class=\"row-{class}\"><td><code>{id}</code></td><td><span class=\"level\">{level}</span></td><td><span class=\"verdict {class}\">{verdict}</span></td><td>{details}</td><td>{images}</td></tr>",
        id = outcome.id,
        class = class(&outcome.verdict),
        level = outcome.level,
        verdict = outcome.verdict.label(),
    );
}
