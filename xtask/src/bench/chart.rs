//! The picture of the HTTP comparison: requests per second and p99 per case, as SVG.

use std::fmt::Write as _;

use super::HTTP_TARGET_RATIO;
use super::http::CaseResult;
use super::wrk::Run;

/// Two panels: requests per second per case (avatars against nginx, with the 0.8x mark), and
/// p99 latency.
pub(super) fn svg(results: &[CaseResult], caption: &str) -> String {
    const WIDTH: f64 = 960.0;
    const LABEL: f64 = 170.0;
    const ROW: f64 = 54.0;
    const TOP: f64 = 70.0;
    let plot = WIDTH - LABEL - 140.0;
    let rows = f64::from(u32::try_from(results.len()).unwrap_or(u32::MAX));
    let panel = ROW * rows;
    let height = TOP + panel + 70.0 + panel + 60.0;
    let max_rps = results
        .iter()
        .flat_map(|result| {
            [
                CaseResult::rps(&result.ours),
                CaseResult::rps(&result.nginx),
            ]
        })
        .fold(1.0, f64::max);
    let p99 = |runs: &[Run]| CaseResult::median(runs, |run| run.p99_ms);
    let max_p99 = results
        .iter()
        .flat_map(|result| [p99(&result.ours), p99(&result.nginx)])
        .fold(0.001, f64::max);
    let caption_x = WIDTH - 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="28" font-size="18" font-weight="bold">avatars serve vs nginx (same bytes, wrk -t2 -c32, loopback)</text>
<text x="{caption_x}" y="28" font-size="12" fill="#4a5568" text-anchor="end">{caption}</text>
<rect x="20" y="42" width="12" height="12" fill="#2b6cb0"/><text x="38" y="53">avatars</text>
<rect x="110" y="42" width="12" height="12" fill="#a0aec0"/><text x="128" y="53">nginx</text>
<line x1="200" y1="48" x2="220" y2="48" stroke="#c53030" stroke-dasharray="4 3" stroke-width="2"/><text x="226" y="53">0.8 x nginx (target)</text>"##
    );
    let bars = |out: &mut String,
                top: f64,
                title: &str,
                value: &dyn Fn(&CaseResult, bool) -> f64,
                max: f64,
                unit: &dyn Fn(f64) -> String,
                mark: bool| {
        let _ = writeln!(
            out,
            r#"<text x="20" y="{}" font-weight="bold">{title}</text>"#,
            top - 8.0
        );
        let mut y = top - ROW;
        for result in results {
            y += ROW;
            let _ = writeln!(
                out,
                r#"<text x="20" y="{}">{}</text>"#,
                y + 26.0,
                result.name
            );
            for (offset, ours, color) in [(4.0, true, "#2b6cb0"), (24.0, false, "#a0aec0")] {
                let v = value(result, ours);
                let width = (v / max * plot).max(1.0);
                let _ = writeln!(
                    out,
                    r#"<rect x="{LABEL}" y="{}" width="{width:.1}" height="18" fill="{color}"/><text x="{:.1}" y="{}">{}</text>"#,
                    y + offset,
                    LABEL + width + 6.0,
                    y + offset + 14.0,
                    unit(v)
                );
            }
            if mark && result.has_target {
                let x = LABEL + value(result, false) * HTTP_TARGET_RATIO / max * plot;
                let _ = writeln!(
                    out,
                    r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#c53030" stroke-dasharray="4 3" stroke-width="2"/>"##,
                    y + 1.0,
                    y + 45.0
                );
            }
        }
    };
    bars(
        &mut out,
        TOP + 20.0,
        "requests per second (median of the rounds; longer is better)",
        &|result, ours| CaseResult::rps(if ours { &result.ours } else { &result.nginx }),
        max_rps,
        &|v| format!("{:.0}k", v / 1000.0),
        true,
    );
    bars(
        &mut out,
        TOP + panel + 90.0,
        "p99 latency in ms (median of the rounds; shorter is better)",
        &|result, ours| p99(if ours { &result.ours } else { &result.nginx }),
        max_p99,
        &|v| format!("{v:.2} ms"),
        false,
    );
    out.push_str("</svg>\n");
    out
}
