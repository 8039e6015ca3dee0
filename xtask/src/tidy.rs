//! The house rules, checked as tests (rust-analyzer's `tidy` shape): they run with every
//! `cargo test`, so a rule broken anywhere fails CI with the file and line that broke it.
//!
//! - every Rust module opens with a `//!` comment saying what it is;
//! - every dependency of a workspace member comes from `[workspace.dependencies]`, so one
//!   version of each crate is chosen in one place;
//! - every repository path a README or doc names in backticks exists;
//! - no stale references (the old `src/bench.rs`, the spec outside the repository, Cargo
//!   descriptions promising "later releases").

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
        for (kind, deps) in sections {
            for (dep, spec) in deps {
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
