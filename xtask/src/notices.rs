//! `cargo xtask notices [--out FILE]`: the third-party notices that go with the `avatars`
//! binary, as one Markdown file (`target/notices/THIRD-PARTY-NOTICES.md` by default).
//!
//! cargo-about (installed at [`CARGO_ABOUT`] when missing) finds every licence text in the
//! dependencies' own sources, offline, for the crates the binary is built from (no dev- or
//! build-only dependency), under the licences `about.toml` accepts. This task writes its
//! findings out and adds what no tool gathers: the sentence the IJG's licence asks for, where
//! the MPL-licensed crates' source is, the `NOTICE` files that Apache 2.0 (section 4 d) asks a
//! redistributor to pass on, and the licence of the font this project's crates bundle. About a minute, most of it cargo-about matching texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

use crate::process::ensure_cargo_tool;
use crate::workspace_root;

const TASK: &str = "xtask notices";
/// The cargo-about release whose JSON this task reads.
const CARGO_ABOUT: &str = "0.9.3";

/// Writes the notices to `out` (or the default path); exit 1 with the reason on failure.
pub(crate) fn notices(out: Option<&Path>) -> ExitCode {
    let out = out.map_or_else(
        || workspace_root().join("target/notices/THIRD-PARTY-NOTICES.md"),
        Path::to_path_buf,
    );
    match write_notices(&out) {
        Ok(summary) => {
            eprintln!("{TASK}: wrote {}: {summary}", out.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{TASK}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_notices(out: &Path) -> Result<String, String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    ensure_cargo_tool(
        TASK,
        &cargo,
        "about",
        Some(CARGO_ABOUT),
        &[
            "cargo-about",
            "--locked",
            "--version",
            CARGO_ABOUT,
            "--features",
            "cli",
        ],
    )?;
    let scratch = root.join("target/notices");
    std::fs::create_dir_all(&scratch)
        .map_err(|err| format!("cannot create {}: {err}", scratch.display()))?;
    let json = scratch.join("cargo-about.json");
    eprintln!("{TASK}: cargo about generate (about a minute) ...");
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["about", "generate", "--format", "json", "--frozen", "-c"])
        .arg(root.join("about.toml"))
        .arg("-m")
        .arg(root.join("crates/avatars-cli/Cargo.toml"))
        .arg("-o")
        .arg(&json)
        .status()
        .map_err(|err| format!("cannot run cargo about: {err}"))?;
    if !status.success() {
        return Err(format!("cargo about failed ({status}); see above"));
    }
    let text = std::fs::read_to_string(&json)
        .map_err(|err| format!("cannot read {}: {err}", json.display()))?;
    let about: Value = serde_json::from_str(&text)
        .map_err(|err| format!("{} is not cargo-about's JSON: {err}", json.display()))?;
    let mut notices = render(&about)?;
    bundled_licences(&root, &mut notices.text);
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
    }
    std::fs::write(out, &notices.text)
        .map_err(|err| format!("cannot write {}: {err}", out.display()))?;
    Ok(notices.summary)
}

/// Appends the licences of what this project's own crates bundle (the font `d=initials`
/// draws with): every `*LICENSE*` file under a crate's `assets/`.
fn bundled_licences(root: &Path, text: &mut String) {
    let found = crate::walk::files(&root.join("crates"), &|name| name == "target", &|path| {
        path.components().any(|part| part.as_os_str() == "assets")
            && path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().contains("LICENSE"))
    });
    for (index, path) in found.iter().enumerate() {
        if index == 0 {
            text.push_str("## Bundled in this project's crates\n\n");
        }
        let body = std::fs::read_to_string(path).unwrap_or_default();
        let fence = fence_for(&body);
        let shown = path.strip_prefix(root).unwrap_or(path);
        let _ = write!(
            text,
            "### {}\n\n{fence}text\n{}\n{fence}\n\n",
            shown.display(),
            body.trim_end()
        );
    }
}

/// A crate as cargo-about's JSON names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Crate {
    name: String,
    version: String,
    /// Its folder (where `NOTICE` files are looked for).
    dir: PathBuf,
    /// Whether it comes from a registry, not this workspace.
    third_party: bool,
}

impl Crate {
    fn of(package: &Value) -> Result<Self, String> {
        let field = |key: &str| {
            package[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("a crate without `{key}` in cargo-about's JSON"))
        };
        let manifest = PathBuf::from(field("manifest_path")?);
        Ok(Self {
            name: field("name")?,
            version: field("version")?,
            dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
            third_party: !package["source"].is_null(),
        })
    }

    fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

/// The notices' text, and a line saying what is in it.
struct Notices {
    text: String,
    summary: String,
}

/// The Markdown of the notices from cargo-about's JSON (`crates`, and `licenses` with each
/// text and the crates using it).
fn render(about: &Value) -> Result<Notices, String> {
    let mut crates = Vec::new();
    for entry in about["crates"]
        .as_array()
        .ok_or("no `crates` in cargo-about's JSON")?
    {
        let licence = entry["license"].as_str().unwrap_or_default().to_owned();
        crates.push((Crate::of(&entry["package"])?, licence));
    }
    crates.sort();
    let binary_version = crates
        .iter()
        .find(|(krate, _)| krate.name == "avatars-cli")
        .map_or("?", |(krate, _)| krate.version.as_str());
    let third_party: Vec<&(Crate, String)> = crates
        .iter()
        .filter(|(krate, _)| krate.third_party)
        .collect();

    let mut text = String::new();
    let _ = write!(
        text,
        "# Third-party notices for `avatars`\n\n\
         The `avatars` binary (crate `avatars-cli` {binary_version}, default features) is \
         built from this project's own crates (MIT OR Apache-2.0; the font they bundle has its \
         own licence, at the end) and, of the {} crates below \
         (those of every platform together), the ones its platform needs. Ship this file with \
         the binary. Written by `cargo xtask notices` (cargo-about {CARGO_ABOUT}) from \
         `Cargo.lock`; each licence text is the one the crate itself carries.\n\n",
        third_party.len()
    );
    if third_party
        .iter()
        .any(|(_, licence)| mentions(licence, "IJG"))
    {
        text.push_str(
            "This software is based in part on the work of the Independent JPEG Group.\n\n",
        );
    }
    let copyleft: Vec<&&(Crate, String)> = third_party
        .iter()
        .filter(|(_, licence)| mentions(licence, "MPL-2.0"))
        .collect();
    if !copyleft.is_empty() {
        text.push_str(
            "## Where the source of the MPL-2.0 crates is\n\n\
             These crates are under the Mozilla Public License 2.0 and are built in unchanged; \
             their source is at:\n\n",
        );
        for (krate, _) in copyleft {
            let _ = writeln!(
                text,
                "- {}: <https://crates.io/crates/{}/{}>",
                krate.label(),
                krate.name,
                krate.version
            );
        }
        text.push('\n');
    }

    let licence_count = licence_texts(about, &mut text)?;

    let notice_count = notice_section(&third_party, &mut text);
    let summary = format!(
        "{} crates, {} licence texts, {notice_count} NOTICE file(s)",
        third_party.len(),
        licence_count
    );
    Ok(Notices { text, summary })
}

/// Appends each licence text with the third-party crates it came from, after a table of how
/// many crates carry each licence; returns how many texts there are.
fn licence_texts(about: &Value, text: &mut String) -> Result<usize, String> {
    let mut texts = Vec::new();
    let mut by_licence: BTreeMap<String, usize> = BTreeMap::new();
    for licence in about["licenses"]
        .as_array()
        .ok_or("no `licenses` in cargo-about's JSON")?
    {
        let mut users = Vec::new();
        for user in licence["used_by"].as_array().into_iter().flatten() {
            let krate = Crate::of(&user["crate"])?;
            if krate.third_party {
                users.push(krate.label());
            }
        }
        if users.is_empty() {
            continue;
        }
        users.sort();
        users.dedup();
        let name = licence["name"].as_str().unwrap_or("?");
        let id = licence["id"].as_str().unwrap_or("?");
        *by_licence.entry(format!("{name} ({id})")).or_default() += users.len();
        texts.push((name, id, users, licence["text"].as_str().unwrap_or("")));
    }
    text.push_str("## Licences\n\n| licence | crates carrying a text of it |\n|---|---|\n");
    for (licence, count) in &by_licence {
        let _ = writeln!(text, "| {licence} | {count} |");
    }
    text.push('\n');
    for (name, id, users, body) in &texts {
        let fence = fence_for(body);
        let _ = write!(
            text,
            "## {name} ({id})\n\nUsed by {}.\n\n{fence}text\n{}\n{fence}\n\n",
            users.join(", "),
            body.trim_end()
        );
    }
    Ok(texts.len())
}

/// Appends the `NOTICE` files of `crates`, which Apache 2.0 asks to pass on and cargo-about
/// leaves out; returns how many there are.
fn notice_section(crates: &[&(Crate, String)], text: &mut String) -> usize {
    let mut count = 0;
    let mut seen = std::collections::BTreeSet::new();
    for (krate, _) in crates {
        if !seen.insert(&krate.dir) {
            continue;
        }
        for (file, body) in notice_files(&krate.dir) {
            if count == 0 {
                text.push_str("## NOTICE files of the crates\n\n");
            }
            count += 1;
            let fence = fence_for(&body);
            let _ = write!(
                text,
                "### {}: {file}\n\n{fence}text\n{}\n{fence}\n\n",
                krate.label(),
                body.trim_end()
            );
        }
    }
    count
}

/// Whether the SPDX `expression` names `licence` (as a whole word, so `MIT` is not `MIT-0`).
fn mentions(expression: &str, licence: &str) -> bool {
    expression
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '/')
        .any(|word| word == licence)
}

/// The files named `NOTICE...` in `dir` (any case), with their text, by name.
fn notice_files(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let notice = name.to_ascii_uppercase().starts_with("NOTICE")
                && entry.file_type().is_ok_and(|kind| kind.is_file());
            notice.then(|| {
                let body = std::fs::read(entry.path()).unwrap_or_default();
                (name, String::from_utf8_lossy(&body).into_owned())
            })
        })
        .collect();
    found.sort();
    found
}

/// A Markdown code fence longer than any run of `~` in `body`, so no text can close it early.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '~').map(str::len).max().unwrap_or(0);
    "~".repeat(longest.max(3) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, version: &str, dir: &Path, third_party: bool) -> Value {
        serde_json::json!({
            "name": name,
            "version": version,
            "manifest_path": dir.join("Cargo.toml"),
            "source": if third_party { Value::from("registry+https://github.com/rust-lang/crates.io-index") } else { Value::Null },
        })
    }

    #[test]
    fn the_notices_say_what_each_licence_asks_and_pass_on_notice_files() {
        let dir = std::env::temp_dir().join(format!("xtask-notices-{}", std::process::id()));
        let (cache, jpeg, xmpp, own) = (
            dir.join("cache"),
            dir.join("jpeg"),
            dir.join("xmpp"),
            dir.join("own"),
        );
        for folder in [&cache, &jpeg, &xmpp, &own] {
            std::fs::create_dir_all(folder).unwrap();
        }
        std::fs::write(
            cache.join("NOTICE"),
            "Parts ported from Caffeine ~~~~ (Apache-2.0 only).\n",
        )
        .unwrap();
        std::fs::write(own.join("NOTICE.md"), "our own, not a third party's\n").unwrap();
        let about = serde_json::json!({
            "crates": [
                { "package": package("avatars-cli", "0.1.0", &own, false), "license": "MIT OR Apache-2.0" },
                { "package": package("cache", "1.2.0", &cache, true), "license": "(MIT OR Apache-2.0) AND Apache-2.0" },
                { "package": package("jpeg", "0.3.0", &jpeg, true), "license": "(MIT OR Apache-2.0) AND IJG" },
                { "package": package("xmpp", "6.0.0", &xmpp, true), "license": "MPL-2.0" },
            ],
            "licenses": [
                { "name": "Apache License 2.0", "id": "Apache-2.0", "text": "APACHE TEXT",
                  "used_by": [ { "crate": package("cache", "1.2.0", &cache, true) } ] },
                { "name": "MIT License", "id": "MIT", "text": "MIT TEXT (jpeg)",
                  "used_by": [ { "crate": package("jpeg", "0.3.0", &jpeg, true) },
                               { "crate": package("avatars-cli", "0.1.0", &own, false) } ] },
                { "name": "MIT License", "id": "MIT", "text": "MIT TEXT (ours alone)",
                  "used_by": [ { "crate": package("avatars-cli", "0.1.0", &own, false) } ] },
                { "name": "Mozilla Public License 2.0", "id": "MPL-2.0", "text": "MPL TEXT",
                  "used_by": [ { "crate": package("xmpp", "6.0.0", &xmpp, true) } ] },
            ],
        });
        let notices = render(&about).unwrap();
        let text = &notices.text;
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.contains("`avatars-cli` 0.1.0"), "{text}");
        assert!(text.contains("of the 3 crates below"), "{text}");
        assert!(
            text.contains("based in part on the work of the Independent JPEG Group"),
            "{text}"
        );
        assert!(
            text.contains("- xmpp 6.0.0: <https://crates.io/crates/xmpp/6.0.0>"),
            "{text}"
        );
        assert!(
            text.contains("## MIT License (MIT)\n\nUsed by jpeg 0.3.0.\n\n"),
            "{text}"
        );
        assert!(
            !text.contains("ours alone"),
            "a text only our crates carry: {text}"
        );
        assert!(!text.contains("our own, not"), "our own NOTICE: {text}");
        assert!(
            text.contains("### cache 1.2.0: NOTICE\n\n~~~~~text\nParts ported from Caffeine ~~~~ (Apache-2.0 only).\n~~~~~\n"),
            "{text}"
        );
        assert_eq!(
            notices.summary,
            "3 crates, 3 licence texts, 1 NOTICE file(s)"
        );
    }

    #[test]
    fn licences_are_matched_as_whole_words() {
        assert!(mentions("(MIT OR Apache-2.0) AND IJG", "IJG"));
        assert!(mentions("MIT/Apache-2.0", "MIT"));
        assert!(!mentions("MIT-0", "MIT"));
        assert!(!mentions("MPL-2.0-no-copyleft-exception", "MPL-2.0"));
    }
}
