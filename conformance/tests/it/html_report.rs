//! The HTML report as a person sees it, in Debian's Chromium (headless): the warning and the
//! failures come first, every verdict badge is readable on its row (WCAG contrast of at least
//! 4.5:1, measured on the computed colours), and "show failures only" leaves only failures;
//! and axe-core's accessibility audit of it finds nothing.
//!
//! Needs `chromium` (`scripts/ensure-chromium.sh`, which `cargo xtask ci` runs); skips loudly
//! only where it is not installed and could not be.

use std::time::Duration;

use avatar_conformance::case::{Group, Level, Outcome, SeenImage, Verdict};
use avatar_conformance::fixtures::{Fixture, fixture};
use avatar_conformance::{Report, report};
use test_support::browser;

fn outcome(id: &'static str, level: Level, verdict: Verdict) -> Outcome {
    Outcome {
        id,
        group: Group::LibravatarServer,
        title: "a case",
        source: "the API page",
        level,
        verdict,
        millis: 1,
        images: vec![SeenImage {
            label: format!("GET /avatar/{id}"),
            content_type: "image/png".to_owned(),
            bytes: fixture("george").and_then(Fixture::image).unwrap(),
        }],
    }
}

/// Measures the page from inside the browser and writes the findings into the DOM as JSON.
const PROBE: &str = r"<script>
function luminance(colour) {
  const [r, g, b] = colour.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(element) {
  for (; element; element = element.parentElement) {
    const colour = getComputedStyle(element).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') return colour;
  }
  return 'rgb(255, 255, 255)';
}
let worst = 1000, worstText = '';
for (const badge of document.querySelectorAll('.verdict')) {
  const a = luminance(getComputedStyle(badge).color), b = luminance(background(badge));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < worst) { worst = ratio; worstText = badge.textContent + ' in ' + badge.closest('tr').className; }
}
const headings = [...document.querySelectorAll('h2')].map((h) => h.textContent);
const warning = document.querySelector('.warning');
const warningFirst = !!warning && warning.getBoundingClientRect().top < document.querySelector('h2').getBoundingClientRect().top;
const rowsBefore = [...document.querySelectorAll('tr[class^=row-]')].filter((r) => r.offsetParent !== null).length;
document.getElementById('only-failures').click();
const visible = [...document.querySelectorAll('tr[class^=row-]')].filter((r) => r.offsetParent !== null).map((r) => r.className);
const result = document.createElement('pre');
result.id = 'browser-result';
result.textContent = JSON.stringify({ worst, worstText, headings, warningFirst, rowsBefore, visible });
document.body.appendChild(result);
</script>";

/// A report with a warning and one outcome of each kind.
fn sample_report() -> Report {
    Report {
        targets: vec![(
            "libravatar-server".to_owned(),
            "http://127.0.0.1:1".to_owned(),
        )],
        warnings: vec!["the server holds none of the suite's fixtures".to_owned()],
        outcomes: vec![
            outcome("server-pass", Level::Must, Verdict::Pass),
            outcome(
                "server-should-fail",
                Level::Should,
                Verdict::fail("GET /a", "an ETag", "200 without one"),
            ),
            outcome("server-skip", Level::Compat, Verdict::skip("no reason")),
            outcome(
                "server-must-fail",
                Level::Must,
                Verdict::fail("GET /b", "status 404", "200"),
            ),
        ],
        millis: 5,
    }
}

#[test]
fn the_html_report_reads_in_a_real_browser() {
    if !browser::available("the_html_report_reads_in_a_real_browser") {
        return;
    }
    let report = sample_report();
    let html = report::html(&report).replace("</body>", &format!("{PROBE}</body>"));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();

    let mut chromium = browser::headless(dir.path());
    chromium
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()));
    let found = browser::probe(chromium, Duration::from_secs(60));

    let worst = found["worst"].as_f64().unwrap();
    assert!(
        worst >= 4.5,
        "a verdict is hard to read ({worst:.2}:1): {found}"
    );
    assert!(
        found["warningFirst"].as_bool().unwrap(),
        "the warning comes first: {found}"
    );
    assert_eq!(found["headings"][0], "Failures (2)", "{found}");
    assert!(found["rowsBefore"].as_u64().unwrap() >= 6, "{found}");
    let visible: Vec<&str> = found["visible"]
        .as_array()
        .unwrap()
        .iter()
        .map(|class| class.as_str().unwrap())
        .collect();
    assert!(!visible.is_empty(), "{found}");
    assert!(visible.iter().all(|class| *class == "row-fail"), "{found}");
}

/// axe-core finds nothing to fix in the report: landmarks, language, headings, contrast, and
/// the matrix's links large or spaced enough to hit with a finger (WCAG 2.2's 24 px).
#[test]
fn the_html_report_passes_an_accessibility_audit() {
    browser::assert_accessible(
        "the_html_report_passes_an_accessibility_audit",
        &report::html(&sample_report()),
    );
}
