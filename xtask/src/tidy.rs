//! The house rules, checked as tests (rust-analyzer's `tidy` shape): they run with every
//! `cargo test`, so a rule broken anywhere fails CI with the file and line that broke it.
//!
//! - every Rust module opens with a `//!` comment saying what it is;
//! - every dependency of a workspace member comes from `[workspace.dependencies]`, so one
//!   version of each crate is chosen in one place;
//! - every repository path a README or doc names in backticks exists;
//! - no stale references (the old `src/bench.rs`, the spec outside the repository, Cargo
//!   descriptions promising "later releases");
//! - a published crate's `src/` includes no file from outside its folder (`cargo package`
//!   copies the folder alone);
//! - every dependency's licence is one read for shipping the binary (the README's Licence);
//! - every shell script the project runs passes ShellCheck.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{walk, workspace_root};

/// The folders holding the project's own code.
const CODE_ROOTS: &[&str] = &["crates", "conformance", "xtask", "fuzz"];

/// Every file under `dir` for which `keep` holds, build output, fuzzing state and hidden
/// folders skipped.
fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    walk::files(
        dir,
        &|name| name.starts_with('.') || matches!(name, "target" | "corpus" | "artifacts"),
        keep,
    )
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn rust_files() -> Vec<PathBuf> {
    let root = workspace_root();
    CODE_ROOTS
        .iter()
        .flat_map(|dir| {
            files(&root.join(dir), &|path| {
                path.extension().is_some_and(|ext| ext == "rs")
            })
        })
        .collect()
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let mut missing = Vec::new();
    for path in rust_files() {
        let text = fs::read_to_string(&path).unwrap();
        let first = text
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("");
        if !first.starts_with("//!") {
            missing.push(relative(&path));
        }
    }
    assert!(
        missing.is_empty(),
        "these modules do not open with a //! comment saying what they are:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_dependency_comes_from_the_workspace() {
    let root = workspace_root();
    let workspace: toml::Table = fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let declared = workspace["workspace"]["dependencies"].as_table().unwrap();
    let manifests = files(&root, &|path| {
        path.file_name().is_some_and(|name| name == "Cargo.toml")
    });
    let mut wrong = Vec::new();
    for manifest in manifests {
        let name = relative(&manifest);
        // The fuzz crate sits outside the workspace (it needs the fuzzing toolchain's flags).
        if name == "Cargo.toml" || name.starts_with("fuzz/") {
            continue;
        }
        let table: toml::Table = fs::read_to_string(&manifest).unwrap().parse().unwrap();
        let mut sections: Vec<(String, &toml::Table)> = Vec::new();
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            if let Some(deps) = table.get(kind).and_then(toml::Value::as_table) {
                sections.push((kind.to_owned(), deps));
            }
        }
        if let Some(targets) = table.get("target").and_then(toml::Value::as_table) {
            for (cfg, target) in targets {
                for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
                    if let Some(deps) = target.get(kind).and_then(toml::Value::as_table) {
                        sections.push((format!("target.{cfg}.{kind}"), deps));
                    }
                }
            }
        }
        let package = table
            .get("package")
            .and_then(|package| package.get("name"))
            .and_then(toml::Value::as_str);
        for (kind, deps) in sections {
            for (dep, spec) in deps {
                if is_itself_with_features(package, &kind, dep, spec) {
                    continue;
                }
                let inherited = spec
                    .as_table()
                    .and_then(|spec| spec.get("workspace"))
                    .and_then(toml::Value::as_bool)
                    == Some(true);
                if !inherited {
                    wrong.push(format!("{name} [{kind}] {dep}: not `workspace = true`"));
                } else if !declared.contains_key(dep) {
                    wrong.push(format!(
                        "{name} [{kind}] {dep}: not in [workspace.dependencies]"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "every dependency is declared once, in the root Cargo.toml's [workspace.dependencies]:\n  {}",
        wrong.join("\n  ")
    );
}

/// A crate's dev-dependency on itself by `path = "."` alone (to turn on a feature for its own
/// tests): `cargo package` drops a dev-dependency without a version, where one inherited from
/// the workspace, with its version, would be looked for on crates.io and fail the package.
fn is_itself_with_features(
    package: Option<&str>,
    kind: &str,
    dep: &str,
    spec: &toml::Value,
) -> bool {
    let spec = spec.as_table();
    package == Some(dep)
        && kind == "dev-dependencies"
        && spec
            .and_then(|spec| spec.get("path"))
            .and_then(toml::Value::as_str)
            == Some(".")
        && spec.is_some_and(|spec| !spec.contains_key("version"))
}

/// The paths a document names in backticks: tokens that start with a top-level folder of the
/// repository, with a crate's folder (`avatar-service/src/...`), or with `src/` or `tests/`
/// (read from the document's own folder).
fn named_paths(text: &str) -> Vec<String> {
    const STARTS: &[&str] = &[
        "crates/",
        "conformance/",
        "xtask/",
        "fuzz/",
        "docs/",
        "scripts/",
        ".ci/",
        "avatar-",
        "avatars-cli/",
        "test-support/",
        "src/",
        "tests/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|token| STARTS.iter().any(|start| token.starts_with(start)) && token.contains('/'))
        .filter(|token| !token.contains(['*', '{', ' ', '<', '=']))
        .map(|token| token.trim_end_matches(['.', ',', ':']).to_owned())
        .collect()
}

#[test]
fn every_path_a_document_names_exists() {
    let root = workspace_root();
    let documents = files(&root, &|path| {
        path.extension().is_some_and(|ext| ext == "md")
    });
    let mut broken = Vec::new();
    for document in documents {
        let text = fs::read_to_string(&document).unwrap();
        let here = document.parent().unwrap_or(&root);
        for line in text.lines() {
            let paths = named_paths(line);
            // In a table row such as `crates/avatar-service` | `src/respond/`, a path under
            // `src/` or `tests/` belongs to the row's first path.
            let base = paths
                .iter()
                .find(|path| !path.starts_with("src/") && !path.starts_with("tests/"))
                .map(|path| root.join(path));
            for path in &paths {
                let mut candidates = vec![
                    root.join(path),
                    root.join("crates").join(path),
                    here.join(path),
                ];
                candidates.extend(base.iter().map(|base| base.join(path)));
                if !candidates.iter().any(|candidate| candidate.exists()) {
                    broken.push(format!("{}: `{path}`", relative(&document)));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "these documents name paths that do not exist:\n  {}",
        broken.join("\n  ")
    );
}

/// The workspace's members that `cargo package` makes a crate of (not `publish = false`).
fn published_crates() -> Vec<PathBuf> {
    let root = workspace_root();
    files(&root, &|path| {
        path.file_name().is_some_and(|name| name == "Cargo.toml")
    })
    .into_iter()
    .filter(|manifest| {
        manifest.parent() != Some(root.as_path()) && !relative(manifest).starts_with("fuzz/")
    })
    .filter(|manifest| {
        let table: toml::Table = fs::read_to_string(manifest).unwrap().parse().unwrap();
        table["package"]
            .get("publish")
            .and_then(toml::Value::as_bool)
            != Some(false)
    })
    .map(|manifest| manifest.parent().unwrap().to_path_buf())
    .collect()
}

/// The file paths a Rust source names in `include_str!`, `include_bytes!` or `#[path]`, with
/// their line numbers.
fn included_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        for opening in ["include_str!(\"", "include_bytes!(\"", "#[path = \""] {
            for (at, _) in line.match_indices(opening) {
                let rest = &line[at + opening.len()..];
                if let Some(end) = rest.find('"') {
                    found.push((number + 1, rest[..end].to_owned()));
                }
            }
        }
    }
    found
}

/// `path` with its `.` and `..` taken away by their names alone, symbolic links not followed:
/// what `cargo package` copies is decided by where a path is in the package, not where it
/// points.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

#[test]
fn a_published_crate_builds_from_its_own_files() {
    // `cargo package` copies a crate's own folder only: a file that `src/` includes from
    // elsewhere in the repository builds here and fails for everyone who depends on the crate
    // from crates.io (avatar-proto included `docs/protocol.md` until 2026-12-07). A symbolic
    // link inside the crate is copied as the file it points to. `cargo package` itself runs in
    // CI without building (building each crate again took 5.5 minutes).
    let mut outside = Vec::new();
    for krate in published_crates() {
        let sources = files(&krate.join("src"), &|path| {
            path.extension().is_some_and(|ext| ext == "rs")
        });
        for source in sources {
            let text = fs::read_to_string(&source).unwrap();
            for (line, named) in included_paths(&text) {
                let path = lexically_normal(&source.parent().unwrap().join(&named));
                if !path.starts_with(&krate) || !path.exists() {
                    outside.push(format!("{}:{line}: {named}", relative(&source)));
                }
            }
        }
    }
    assert!(
        outside.is_empty(),
        "these files are not inside the crate that includes them (link them into its folder):\n  {}",
        outside.join("\n  ")
    );
}

#[test]
fn included_paths_are_read_from_the_three_forms() {
    let text = "static F: &[u8] = include_bytes!(\"../assets/f.ttf\");\n\
                #![doc = include_str!(\"../../../docs/protocol.md\")]\n\
                #[path = \"../../examples/axum.rs\"]\n\
                let s = \"include_str!\";";
    assert_eq!(
        included_paths(text),
        [
            (1, "../assets/f.ttf".to_owned()),
            (2, "../../../docs/protocol.md".to_owned()),
            (3, "../../examples/axum.rs".to_owned()),
        ]
    );
    assert_eq!(
        lexically_normal(Path::new("/w/crates/p/src/./../../../docs/p.md")),
        Path::new("/w/docs/p.md")
    );
}

/// The licences a dependency may carry: `accepted` in `about.toml`, which cargo-about reads
/// for `cargo xtask notices` too. A dependency whose expression none of these satisfies fails
/// `every_dependency_s_licence_was_reviewed`.
fn reviewed_licences() -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("about.toml")).unwrap();
    let settings: toml::Table = text.parse().unwrap();
    settings["accepted"]
        .as_array()
        .expect("about.toml's `accepted` is a list")
        .iter()
        .map(|id| id.as_str().expect("licence ids are text").to_owned())
        .collect()
}

/// Whether `expression` (as Cargo.toml writes it, `/` for OR included) is satisfied by
/// `reviewed`.
fn licence_reviewed(expression: &str, reviewed: &[String]) -> Result<bool, String> {
    let parsed = spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX)
        .map_err(|err| format!("not an SPDX expression: {err}"))?;
    Ok(parsed.evaluate(|requirement| {
        requirement
            .license
            .id()
            .is_some_and(|id| reviewed.iter().any(|name| name == id.name))
    }))
}

#[test]
fn every_dependency_s_licence_was_reviewed() {
    // Every package of the lock file, for every platform: a new dependency under a licence
    // nobody read (a GPL, say, in a binary the README calls MIT OR Apache-2.0) fails here.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let reviewed = reviewed_licences();
    let mut unreviewed = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let field = |key: &str| package[key].as_str().unwrap_or("?").to_owned();
        let name = format!("{} {}", field("name"), field("version"));
        let verdict = match package["license"].as_str() {
            Some(expression) => match licence_reviewed(expression, &reviewed) {
                Ok(true) => None,
                Ok(false) => Some(expression.to_owned()),
                Err(err) => Some(format!("{expression}: {err}")),
            },
            None => Some("no `license` expression (a licence file only)".to_owned()),
        };
        if let Some(why) = verdict {
            unreviewed.push(format!("{name}: {why}"));
        }
    }
    assert!(
        unreviewed.is_empty(),
        "these dependencies carry licences not yet reviewed; read what each asks of whoever \
         ships the binary, say so in the README's Licence section, then add it to \
         `accepted` in about.toml:\n  {}",
        unreviewed.join("\n  ")
    );
}

#[test]
fn a_licence_is_reviewed_when_one_alternative_is() {
    let reviewed = reviewed_licences();
    let licence_reviewed = |expression| licence_reviewed(expression, &reviewed);
    assert_eq!(licence_reviewed("MIT OR Apache-2.0"), Ok(true));
    assert_eq!(licence_reviewed("MIT/Apache-2.0"), Ok(true));
    assert_eq!(licence_reviewed("(MIT OR Apache-2.0) AND IJG"), Ok(true));
    assert_eq!(
        licence_reviewed("Apache-2.0 WITH LLVM-exception OR MIT"),
        Ok(true)
    );
    assert_eq!(licence_reviewed("MIT OR LGPL-2.1-or-later"), Ok(true));
    assert_eq!(licence_reviewed("GPL-3.0-only"), Ok(false));
    assert_eq!(licence_reviewed("MIT AND GPL-2.0-only"), Ok(false));
    assert!(licence_reviewed("MIT OR NOPE").is_err());
}

/// `.ci/run`, the scripts under `scripts/` and the deploy hook pass ShellCheck at every
/// severity, each read with what it sources. Says so and passes where shellcheck is not
/// installed (`scripts/ensure-unit-tools.sh` installs it, and CI runs that first).
#[test]
fn every_shell_script_passes_shellcheck() {
    let root = workspace_root();
    let mut scripts = vec![
        root.join(".ci/run"),
        root.join("deploy/certbot-deploy-hook"),
    ];
    scripts.extend(files(&root.join("scripts"), &|path| {
        path.extension().is_some_and(|extension| extension == "sh")
    }));
    let output = std::process::Command::new("shellcheck")
        .current_dir(&root)
        .args(["--source-path=SCRIPTDIR", "--external-sources"])
        .args(&scripts)
        .output();
    match output {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "shellcheck is not installed: run scripts/ensure-unit-tools.sh; the scripts are NOT CHECKED"
            );
        }
        Err(err) => panic!("cannot run shellcheck: {err}"),
        Ok(output) => assert!(
            output.status.success(),
            "shellcheck on {} scripts:\n{}{}",
            scripts.len(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[test]
fn no_stale_references() {
    let root = workspace_root();
    let stale: &[(&str, &str)] = &[
        ("src/bench.rs", "the bench lives in xtask/src/bench/"),
        (
            concat!("shared", "/spec"),
            "the protocol document is docs/protocol.md",
        ),
        ("in later releases", "say what is there now"),
        ("tests/common", "fixtures live in crates/test-support"),
    ];
    let texts = files(&root, &|path| {
        path.extension()
            .is_some_and(|ext| ext == "rs" || ext == "md" || ext == "toml")
    });
    let mut found = Vec::new();
    for path in texts {
        if path.ends_with("xtask/src/tidy.rs") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            for (needle, instead) in stale {
                if line.contains(needle) {
                    found.push(format!(
                        "{}:{}: {needle:?} ({instead})",
                        relative(&path),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "stale references:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn one_integration_test_binary_per_crate() {
    let root = workspace_root();
    let mut extra = Vec::new();
    for dir in ["crates", "conformance"] {
        let tests = files(&root.join(dir), &|path| {
            path.parent()
                .is_some_and(|parent| parent.ends_with("tests"))
                && path.extension().is_some_and(|ext| ext == "rs")
        });
        extra.extend(tests.iter().map(|path| relative(path)));
    }
    assert!(
        extra.is_empty(),
        "integration tests are modules of tests/it/main.rs, one binary per crate; found:\n  {}",
        extra.join("\n  ")
    );
}

#[test]
fn named_paths_are_found_in_backticks_only() {
    let text = "see `crates/avatar-proto/src/lib.rs`, `docs/protocol.md`, `avatar-image/src/decode.rs`. \
                Not crates/x, `cargo test`, `crates/*/tests`, `avatar-proto`";
    assert_eq!(
        named_paths(text),
        [
            "crates/avatar-proto/src/lib.rs",
            "docs/protocol.md",
            "avatar-image/src/decode.rs"
        ]
    );
}
