//! Real file systems for fault tests: a mount undone when dropped (a small tmpfs, a read-only
//! bind), and a file system filled to its last kilobytes.
//!
//! Mounting needs root (CI runs as root); where `mount` is refused, [`Mounted::new`] says so on
//! stderr and returns `None`, and the test passes without checking anything.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A mount that is undone when dropped, even when the test fails.
#[derive(Debug)]
pub struct Mounted(PathBuf);

impl Mounted {
    /// Runs `mount ARGS... TARGET`; `None` (after saying why) if mounting is not allowed here.
    #[must_use]
    pub fn new(args: &[&str], target: &Path) -> Option<Self> {
        let output = Command::new("mount").args(args).arg(target).output().ok()?;
        if output.status.success() {
            Some(Self(target.to_owned()))
        } else {
            eprintln!(
                "SKIPPED: cannot mount here ({}); this test needs root",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            None
        }
    }

    /// A tmpfs of `size` (`mount -o size=` syntax: `64k`, `1m`) on `target`.
    #[must_use]
    pub fn tmpfs(size: &str, target: &Path) -> Option<Self> {
        Self::new(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            target,
        )
    }

    /// Makes a bind mount read-only in place.
    ///
    /// # Panics
    /// If remounting fails.
    pub fn remount_read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&self.0)
            .status()
            .expect("mount runs");
        assert!(status.success(), "remounting read-only failed");
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Still in use (a server under test not stopped yet, a panic's unwinding order), it is
        // detached, and goes once the last file on it is closed: never left mounted.
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !unmounted {
            let _ = Command::new("umount").arg("--lazy").arg(&self.0).status();
        }
    }
}

/// Fills the file system `dir` is on, with `dir/filler`, until `left` bytes are free.
///
/// # Panics
/// If the filler cannot be created or cut back.
pub fn fill_leaving(dir: &Path, left: u64) {
    let mut filler = std::fs::File::create(dir.join("filler")).expect("a filler file");
    while filler.write_all(&[0x5a; 4096]).is_ok() {}
    let length = filler.metadata().expect("the filler's length").len();
    filler
        .set_len(length.saturating_sub(left))
        .expect("cutting the filler back");
}
