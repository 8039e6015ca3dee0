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
