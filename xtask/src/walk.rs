//! Walking a directory tree: the one walker of the tasks (criterion's results, the tidy checks).

use std::fs;
use std::path::{Path, PathBuf};

/// Every file under `dir` for which `keep` holds, sorted; folders whose name `skip` holds are
/// not entered. Unreadable folders are passed over.
pub(crate) fn files(
    dir: &Path,
    skip: &dyn Fn(&str) -> bool,
    keep: &dyn Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !skip(&entry.file_name().to_string_lossy()) {
                    pending.push(path);
                }
            } else if keep(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_kept_files_and_skips_folders() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = files(root, &|name| name == "bench", &|path| {
            path.extension().is_some_and(|ext| ext == "rs")
        });
        assert!(sources.iter().any(|path| path.ends_with("src/walk.rs")));
        assert!(!sources.iter().any(|path| path.ends_with("bench/mod.rs")));
        assert!(sources.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
