//! Renditions kept as files: read back as written, bounded in bytes on disk, damaged files
//! dropped rather than served, and found again by the next server on the same directory.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use avatar_image::rendition_files::CHECK_BYTES;
use avatar_image::{ImageFormat, RenderKey, Rendered, RenditionFiles, render_square};
use avatar_proto::{AvatarHash, DefaultKeyword};
use proptest::prelude::*;
use test_support::images::{encode, photo_like};

fn key(content: u8, size: u32) -> RenderKey {
    RenderKey::Stored {
        content: [content; 32],
        size,
        format: ImageFormat::Jpeg,
    }
}

/// A real JPEG rendition of `side` px, different for every `seed`.
fn jpeg(seed: u32, side: u32) -> Rendered {
    let photo = encode(&photo_like(64 + seed % 50, 64), image::ImageFormat::Jpeg);
    render_square(&photo, side, &avatar_image::Limits::default()).unwrap()
}

/// The files in `dir`'s folders and the bytes they take in 4 KiB blocks.
fn on_disk(dir: &Path) -> (usize, u64) {
    let (mut files, mut blocks) = (0, 0);
    for folder in fs::read_dir(dir).unwrap().flatten() {
        if folder.path().is_dir() {
            for file in fs::read_dir(folder.path()).unwrap().flatten() {
                files += 1;
                blocks += file.metadata().unwrap().len().div_ceil(4096).max(1) * 4096;
            }
        }
    }
    (files, blocks)
}

/// Waits (5 s at most) for the background reading of the directory to index `files` files.
fn indexed(files: &RenditionFiles, wanted: usize) {
    let started = Instant::now();
    while files.len() < wanted {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "indexed {} of {wanted} files",
            files.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_rendition_is_read_back_as_written_and_only_stored_avatars_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    let rendered = jpeg(1, 80);
    assert_eq!(files.get(&key(1, 80)), None);
    files.put(&key(1, 80), &rendered).unwrap();
    assert_eq!(files.get(&key(1, 80)), Some(rendered.clone()));
    assert_eq!(files.get(&key(1, 81)), None, "another size is another file");
    assert_eq!(
        files.get(&key(2, 80)),
        None,
        "another picture is another file"
    );

    let drawn = RenderKey::Default {
        keyword: DefaultKeyword::Retro,
        hash: AvatarHash::Md5([3; 16]),
        size: 80,
        palette: 0,
        format: ImageFormat::Jpeg,
    };
    files.put(&drawn, &rendered).unwrap();
    assert_eq!(
        files.get(&drawn),
        None,
        "drawn defaults are cheaper drawn again"
    );
    assert_eq!(on_disk(dir.path()).0, 1);
}

#[test]
fn the_files_stay_within_the_budget_counted_in_disk_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 64 * 1024;
    let files = RenditionFiles::open(dir.path(), budget).unwrap();
    for seed in 0..60 {
        files
            .put(&key(0, 64 + seed), &jpeg(seed, 64 + seed))
            .unwrap();
        assert!(files.used_bytes() <= budget, "{files:?}");
    }
    let (count, bytes) = on_disk(dir.path());
    assert!(bytes <= budget, "{count} files take {bytes} bytes on disk");
    assert_eq!(count, files.len(), "every file evicted was deleted");
    assert!(count >= 8, "the budget is used: {count} files");
    let kept = (0..60)
        .filter(|&seed| files.get(&key(0, 64 + seed)).is_some())
        .count();
    assert_eq!(kept, count);
}

#[test]
fn a_damaged_or_truncated_file_is_deleted_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    let fingerprint = |key: &RenderKey| {
        let name = avatar_proto::hex::encode_lower(&key.fingerprint());
        dir.path().join(&name[..2]).join(name)
    };
    for (content, damage) in [(1u8, "flipped"), (2, "truncated"), (3, "check only")] {
        let key = key(content, 64);
        files.put(&key, &jpeg(u32::from(content), 64)).unwrap();
        let path = fingerprint(&key);
        let mut bytes = fs::read(&path).unwrap();
        match damage {
            "flipped" => bytes[100] ^= 0x10,
            "truncated" => bytes.truncate(bytes.len() / 2),
            _ => bytes.truncate(CHECK_BYTES),
        }
        fs::write(&path, &bytes).unwrap();
        assert_eq!(files.get(&key), None, "{damage}");
        assert!(!path.exists(), "{damage}: the file is deleted");
        let again = jpeg(u32::from(content), 64);
        files.put(&key, &again).unwrap();
        assert_eq!(
            files.get(&key),
            Some(again),
            "{damage}: made again, kept again"
        );
    }
}

#[test]
fn a_file_already_under_the_name_is_replaced_and_no_temporary_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    let key = key(4, 48);
    let name = avatar_proto::hex::encode_lower(&key.fingerprint());
    let folder = dir.path().join(&name[..2]);
    // Torn by a crash, or written by another process, after this one read the folder (which
    // takes microseconds when it is empty).
    std::thread::sleep(Duration::from_millis(200));
    fs::create_dir_all(&folder).unwrap();
    fs::write(folder.join(&name), b"torn").unwrap();

    let rendered = jpeg(4, 48);
    files.put(&key, &rendered).unwrap();
    assert_eq!(files.get(&key), Some(rendered));
    let names: Vec<_> = fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from(name)]);
}

#[test]
fn a_file_deleted_behind_its_back_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    files.put(&key(5, 40), &jpeg(5, 40)).unwrap();
    fs::remove_dir_all(dir.path()).unwrap();
    assert_eq!(files.get(&key(5, 40)), None);
    assert!(files.is_empty(), "forgotten: {files:?}");
    files.put(&key(5, 40), &jpeg(5, 40)).unwrap();
    assert!(
        files.get(&key(5, 40)).is_some(),
        "the folders are made again"
    );
}

/// A file whose bytes are in the page cache is read where the caller is; one whose bytes are
/// on disk only is left to a blocking read (which brings it into memory). Damaged and deleted
/// files are treated as by `get`. In the target directory, not `/tmp`: tmpfs has no
/// `RWF_NOWAIT`, and there every read is `WouldWait` (by design, checked at the end).
#[cfg(target_os = "linux")]
#[test]
fn a_file_in_the_page_cache_is_read_without_waiting_and_one_on_disk_only_is_not() {
    use avatar_image::FileRead;
    use rustix::fs::{Advice, fadvise};

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    let path = |key: &RenderKey| {
        let name = avatar_proto::hex::encode_lower(&key.fingerprint());
        dir.path().join(&name[..2]).join(name)
    };
    assert_eq!(files.get_if_cached(&key(1, 80)), FileRead::Absent);
    let rendered = jpeg(1, 80);
    files.put(&key(1, 80), &rendered).unwrap();
    assert_eq!(
        files.get_if_cached(&key(1, 80)),
        FileRead::Found(rendered.clone()),
        "just written, so in memory"
    );

    // Out of the page cache: written back, then dropped. The kernel may keep a page it cannot
    // drop at once (busy elsewhere under a parallel test run), so ask again for a while.
    let file = fs::File::open(path(&key(1, 80))).unwrap();
    let started = Instant::now();
    let read = loop {
        file.sync_all().unwrap();
        fadvise(&file, 0, None, Advice::DontNeed).unwrap();
        let read = files.get_if_cached(&key(1, 80));
        if read == FileRead::WouldWait || started.elapsed() > Duration::from_secs(10) {
            break read;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        read,
        FileRead::WouldWait,
        "the file's pages stayed cached for 10 s"
    );
    assert_eq!(files.get(&key(1, 80)), Some(rendered.clone()));
    assert_eq!(
        files.get_if_cached(&key(1, 80)),
        FileRead::Found(rendered),
        "the blocking read brought it back"
    );

    files.put(&key(2, 80), &jpeg(2, 80)).unwrap();
    let mut bytes = fs::read(path(&key(2, 80))).unwrap();
    bytes[100] ^= 0x10;
    fs::write(path(&key(2, 80)), &bytes).unwrap();
    assert_eq!(files.get_if_cached(&key(2, 80)), FileRead::Absent);
    assert!(!path(&key(2, 80)).exists(), "the damaged file is deleted");

    fs::remove_file(path(&key(1, 80))).unwrap();
    assert_eq!(files.get_if_cached(&key(1, 80)), FileRead::Absent);
    assert!(files.is_empty(), "the deleted file is forgotten: {files:?}");

    // Where reads cannot avoid waiting, every one is left to `get`.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let in_memory = tempfile::tempdir_in(shm).unwrap();
        let files = RenditionFiles::open(in_memory.path(), 1 << 20).unwrap();
        files.put(&key(3, 80), &jpeg(3, 80)).unwrap();
        let read = files.get_if_cached(&key(3, 80));
        assert!(
            matches!(read, FileRead::Found(_) | FileRead::WouldWait),
            "{read:?}"
        );
        assert!(files.get(&key(3, 80)).is_some());
    }
}

#[test]
fn the_next_server_finds_the_files_and_crashed_writes_are_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<_> = (0..20)
        .map(|seed| (key(9, 32 + seed), jpeg(seed, 32 + seed)))
        .collect();
    {
        let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
        for (key, rendered) in &made {
            files.put(key, rendered).unwrap();
        }
    }
    let temporary = |path: &Path, age: Duration| {
        fs::write(path, b"half a rendition").unwrap();
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    };
    // Temporary names are beside the files, in their folder; servers before that wrote them in
    // the top folder.
    let folder = fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let crashed = folder.join(".tmp-1-1");
    temporary(&crashed, Duration::from_secs(3600));
    let crashed_before = dir.path().join(".tmp-1-2");
    temporary(&crashed_before, Duration::from_secs(3600));
    let writing = folder.join(".tmp-2-1");
    temporary(&writing, Duration::ZERO);

    let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
    // At once: while the directory is being read, a file not indexed yet is looked for.
    for (key, rendered) in &made {
        assert_eq!(files.get(key).as_ref(), Some(rendered));
    }
    indexed(&files, made.len());
    let started = Instant::now();
    while crashed.exists() || crashed_before.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "an hour-old temporary file is a crashed write"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        writing.exists(),
        "a fresh one may be another server's write"
    );
    fs::remove_file(&writing).unwrap();

    let smaller = RenditionFiles::open(dir.path(), 4 * 4096).unwrap();
    indexed(&smaller, 4);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        on_disk(dir.path()).1 <= 4 * 4096,
        "a smaller budget deletes the excess"
    );

    let none = RenditionFiles::open(dir.path(), 0).unwrap();
    let started = Instant::now();
    while on_disk(dir.path()).0 > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a budget of 0 keeps no file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    none.put(&made[0].0, &made[0].1).unwrap();
    assert_eq!(none.get(&made[0].0), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever is put, in whatever order and budget: every file read is what was put under
    /// its key, and the disk use never passes the budget.
    #[test]
    fn reads_are_what_was_written_within_the_budget(
        puts in proptest::collection::vec((0u8..6, 0u32..6, 3usize..9_000), 1..40),
        budget_blocks in 1u64..12,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let budget = budget_blocks * 4096;
        let files = RenditionFiles::open(dir.path(), budget).unwrap();
        let mut written = std::collections::HashMap::new();
        for (content, size, length) in puts {
            // A renderer is deterministic: a key always stands for the same bytes.
            let key = key(content, 32 + size);
            let _ = length;
            let length = 100 + usize::from(content) * 1700 + size as usize * 300;
            let mut bytes = vec![content ^ u8::try_from(size).unwrap(); length];
            bytes[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
            let rendered = Rendered { bytes: bytes.into(), format: ImageFormat::Jpeg, size: 32 + size };
            files.put(&key, &rendered).unwrap();
            written.entry(key).or_insert(rendered);
            prop_assert!(on_disk(dir.path()).1 <= budget);
        }
        for (key, rendered) in &written {
            if let Some(read) = files.get(key) {
                prop_assert_eq!(&read, rendered);
            }
        }
    }
}
