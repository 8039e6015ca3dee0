//! Debian's Chromium, headless, as the project's browser tests run it: installed by
//! `scripts/ensure-chromium.sh` (which `cargo xtask ci` runs), started with a fresh profile and
//! the flags the guide names, bounded in time; and axe-core, the accessibility checker, run in
//! it over the pages the project writes ([`assert_accessible`]).

use std::io::Read as _;
use std::path::{Path, PathBuf};
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

/// Where `scripts/ensure-chromium.sh` installs axe-core's script.
fn axe_script() -> Option<PathBuf> {
    let dir = std::env::var_os("AVATARS_AXE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/avatars-axe"))
        })?;
    let script = dir.join("node_modules/axe-core/axe.min.js");
    script.is_file().then_some(script)
}

/// Runs axe-core after the page has loaded and writes the violated rules into the probe.
const AXE_PROBE: &str = r"<script>
window.addEventListener('load', () => {
  const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
  axe.run(document, { runOnly: { type: 'tag', values: tags } }).then((results) => {
    const result = document.createElement('pre');
    result.id = 'browser-result';
    result.textContent = JSON.stringify(results.violations.map((rule) =>
      `${rule.id}: ${rule.help} (${rule.nodes.length}: ` +
      `${rule.nodes.slice(0, 3).map((node) => node.target.join(' ')).join(', ')})`));
    document.body.appendChild(result);
  });
});
</script>";

/// Asserts that axe-core (Deque's checker, the one browsers' developer tools run) finds
/// nothing wrong with `html` for WCAG 2.2 AA and its best practices, loaded as a file in
/// headless Chromium; says so and returns when Chromium or axe-core is not installed
/// (`scripts/ensure-chromium.sh` installs both), for the test named `test` to go on without it.
///
/// The page is audited as a copy, in a temporary folder, with axe-core's script appended;
/// images and styles it links by relative paths are not there (axe does not load them).
///
/// # Panics
/// With one line per violated rule (its id, what it asks, how many elements and the first of
/// them); or when the page cannot be written or Chromium writes no result (with its stderr).
pub fn assert_accessible(test: &str, html: &str) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    if let Some(violations) = accessibility_violations(test, html, dir.path()) {
        assert!(violations.is_empty(), "{test}: {violations:#?}");
    }
}

/// What [`assert_accessible`] checks: the violated rules, `None` when the tools are missing.
fn accessibility_violations(test: &str, html: &str, dir: &Path) -> Option<Vec<String>> {
    if !available(test) {
        return None;
    }
    let Some(script) = axe_script() else {
        eprintln!(
            "\n*** SKIPPED the accessibility check of {test}: axe-core is not installed \
             (scripts/ensure-chromium.sh installs it). ***\n"
        );
        return None;
    };
    let page = dir.join("audited.html");
    std::fs::copy(&script, dir.join("axe.min.js")).expect("axe-core's script is copied");
    std::fs::write(
        &page,
        format!("{html}<script src=\"axe.min.js\"></script>{AXE_PROBE}"),
    )
    .expect("the page is written");
    let mut chromium = headless(dir);
    chromium
        .arg("--allow-file-access-from-files")
        .arg("--virtual-time-budget=20000")
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()));
    let found = probe(chromium, Duration::from_secs(90));
    Some(
        found
            .as_array()
            .expect("a list of violations")
            .iter()
            .map(|line| line.as_str().unwrap_or_default().to_owned())
            .collect(),
    )
}
