//! A self-contained HTML page: the pass/fail matrix per group (one square per case, coloured by
//! verdict, grouped by level), then every case with its details and the images it got back,
//! inline.

use std::fmt::Write as _;

use base64::Engine as _;

use super::escape;
use crate::case::{Group, Level, Verdict};
use crate::runner::Report;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
.matrix { display: grid; grid-template-columns: 12em 1fr; gap: .3em 1em; align-items: center; }
.cells { display: flex; flex-wrap: wrap; gap: 3px; }
.cell { width: 18px; height: 18px; border-radius: 3px; display: inline-block; }
.pass { background: #2e9d4f; } .fail { background: #d33; } .skip { background: #bbb; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: .35em .5em; text-align: left; vertical-align: top; }
td.verdict { font-weight: bold; } tr.fail td.verdict { color: #d33; } tr.pass td.verdict { color: #2e9d4f; }
pre { white-space: pre-wrap; margin: .2em 0; font-size: 12px; background: #f6f6f6; padding: .4em; }
img { image-rendering: pixelated; border: 1px solid #ccc; margin: 2px; max-width: 128px; max-height: 128px; vertical-align: middle; }
.level { font-size: 11px; padding: 1px 4px; border-radius: 3px; background: #eee; }
";

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
    let (pass, fail, skip) = report.counts();
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Avatar conformance</title><style>{STYLE}</style></head><body>\n<h1>Avatar conformance: {pass} passed, {fail} failed, {skip} skipped</h1>\n<ul>"
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
    matrix(report, &mut out);
    for (group, outcomes) in report.by_group() {
        let _ = write!(
            out,
            "<h2>{}</h2>\n<table><tr><th>case</th><th>level</th><th>verdict</th><th>what</th><th>returned</th></tr>\n",
            group.name()
        );
        for outcome in outcomes {
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
            let _ = writeln!(
                out,
                "<tr id=\"{id}\" class=\"{class}\"><td><code>{id}</code></td><td><span class=\"level\">{level}</span></td><td class=\"verdict\">{verdict}</td><td>{details}</td><td>{images}</td></tr>",
                id = outcome.id,
                class = class(&outcome.verdict),
                level = outcome.level,
                verdict = outcome.verdict.label(),
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}
