//! Root in another user's folder: what `avatars` run as root writes in a store or cache folder
//! that belongs to the server's user (`sudo avatars import ...`) would belong to root, and that
//! user could then neither replace nor remove it: an avatar imported that way could never be
//! changed through the server again. Every command that writes in a folder refuses it, saying
//! how to run as the folder's owner instead. And what `avatars` writes is no one else's to
//! read, whatever the umask it was started with: [`keep_what_is_written_private`].

use std::path::Path;

use crate::error::CliError;

/// Refuses to write in `dir` (or, where `dir` is not made yet, in the nearest folder above it,
/// where it would be made) as root when another user owns it.
///
/// # Errors
/// [`CliError::NotTheOwner`] naming the folder and its owner's uid.
pub(crate) fn check_root_writes_its_own(dir: &Path) -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if !rustix::process::geteuid().is_root() {
            return Ok(());
        }
        let existing = nearest_existing(dir);
        let Ok(metadata) = std::fs::metadata(existing) else {
            return Ok(());
        };
        if metadata.uid() != 0 {
            return Err(CliError::NotTheOwner {
                dir: existing.to_owned(),
                uid: metadata.uid(),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `dir` if it exists, or else the nearest folder above it that does (where `dir` would be
/// made), the current one for a relative path none of whose folders exist.
pub(crate) fn nearest_existing(dir: &Path) -> &Path {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => return Path::new("."),
        }
    }
    existing
}

/// Adds 027 to the process's umask: what any command writes (renditions, the render cache, an
/// export) can be read by its group at most, and changed by no one else, as `deploy/`'s units
/// ask with `UMask=0027`. A root shell's usual 022 otherwise made the files of `runuser -u
/// avatars -- avatars import` readable by every user of the machine. A stricter umask stays.
pub(crate) fn keep_what_is_written_private() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        let private = Mode::from_raw_mode(0o027);
        let was = rustix::process::umask(private);
        rustix::process::umask(was | private);
    }
}
