//! What a directory holds, for before-and-after comparisons: a command that must not write
//! anywhere is checked by comparing snapshots.

use std::path::Path;

/// Every file and folder under `dir` (folders with a trailing `/` and no bytes), with the
/// files' bytes, sorted by path.
///
/// # Panics
/// If `dir` or anything under it cannot be read.
#[must_use]
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).expect("a readable folder") {
            let entry = entry.expect("a readable entry").path();
            if entry.is_dir() {
                found.push((format!("{}/", entry.display()), Vec::new()));
                pending.push(entry);
            } else {
                let bytes = std::fs::read(&entry).expect("a readable file");
                found.push((entry.display().to_string(), bytes));
            }
        }
    }
    found.sort();
    found
}

/// `dir` and everything under it that others than its owner and group may read, or its group
/// change (`mode & 0o027` not zero), with the mode in octal: empty where all is private.
///
/// # Panics
/// If `dir` or anything under it cannot be read.
#[cfg(unix)]
#[must_use]
pub fn not_private(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let mode = std::fs::symlink_metadata(&path)
            .expect("a readable entry")
            .permissions()
            .mode();
        if mode & 0o027 != 0 {
            found.push(format!("{} {:o}", path.display(), mode & 0o7777));
        }
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a readable folder") {
                pending.push(entry.expect("a readable entry").path());
            }
        }
    }
    found
}
