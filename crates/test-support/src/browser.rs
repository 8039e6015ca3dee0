//! Debian's Chromium, headless, as the project's browser tests run it: installed by
//! `scripts/ensure-chromium.sh` (which `cargo xtask ci` runs), started with a fresh profile and
//! the flags the guide names, bounded in time.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether `chromium` can be run here. Tests skip loudly (naming themselves) when not.
#[must_use]
pub fn available(test: &str) -> bool {
    if Command::new("chromium").arg("--version").output().is_ok() {
        return true;
    }
    eprintln!(
        "\n*** SKIPPED {test}: chromium is not installed and scripts/ensure-chromium.sh could \
         not install it (no apt-get here). ***\n"
    );
    false
}

/// A headless Chromium command with a fresh profile under `dir`; add `--dump-dom` and a URL.
#[must_use]
pub fn headless(dir: &Path) -> Command {
    let mut chromium = Command::new("chromium");
    chromium
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()));
    chromium
}

/// Runs `command` to the end, killing it after `limit`; its output either way.
///
/// # Panics
/// If the program cannot be started.
#[must_use]
pub fn run_with_timeout(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("the killed child can be waited for");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Runs `chromium` (a [`headless`] command given `--dump-dom` and a page whose probe script
/// writes JSON into `<pre id="browser-result">`) for at most `limit`, and returns that JSON.
///
/// # Panics
/// When the page wrote no probe result or not JSON: the message has Chromium's stderr.
#[must_use]
pub fn probe(chromium: Command, limit: Duration) -> serde_json::Value {
    let output = run_with_timeout(chromium, limit);
    let dom = String::from_utf8_lossy(&output.stdout);
    let found = probe_result(&dom).unwrap_or_else(|| {
        panic!(
            "no probe result in the page; chromium said: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    serde_json::from_str(&found).unwrap_or_else(|err| panic!("not JSON ({err}): {found}"))
}

/// The text of `<pre id="browser-result">` in a dumped DOM: what a page's probe script found.
fn probe_result(dom: &str) -> Option<String> {
    let text = dom
        .split("<pre id=\"browser-result\">")
        .nth(1)?
        .split("</pre>")
        .next()?;
    Some(
        text.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
