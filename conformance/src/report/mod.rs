//! The reports of a run: a terminal summary, JSON, JUnit XML and a self-contained HTML page.

use std::fmt::Write as _;

mod html;
mod junit;
mod terminal;

pub use html::{html, html_page};
pub use junit::junit;
pub use terminal::summary;

use crate::runner::Report;

/// The report as pretty-printed JSON.
#[must_use]
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
}

/// Milliseconds as seconds, for display.
pub(crate) fn seconds(millis: u64) -> f64 {
    std::time::Duration::from_millis(millis).as_secs_f64()
}

/// Escapes text for XML and HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all, even as references: C0 controls but
            // tab and the line ends, and the non-characters U+FFFE and U+FFFF.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t')
                || matches!(c, '\u{fffe}' | '\u{ffff}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}
