//! Filesystem faults under the real binary, on real filesystems: the data directory turns
//! read-only while `avatars serve` runs, the disk fills up during an import, and the rendition
//! files' disk is full. Nothing stored is lost, reads go on, and the failing command says what
//! happened, once.
//!
//! Each needs a mount (a read-only bind mount, a small tmpfs: `test_support::mount`), so root:
//! CI runs as root. Anywhere `mount` is refused the tests say so on stderr and pass without
//! checking anything.

use std::path::Path;
use std::process::Output;

use test_support::images;
use test_support::mount::{Mounted, fill_leaving};
use test_support::{raw_http, tree};

use crate::admin::count;
use crate::{avatars, folder_with_george, serve};

const GEORGE_MD5: &str = "40f8d096a3777232204cb3f796c577b7";

/// A PNG of noise (so it does not compress): about `side * side * 3` bytes.
fn write_noise_png(path: &Path, side: u32) {
    images::noise(side, side, 0x2545_f491_4f6c_dd1d)
        .save(path)
        .unwrap();
}

fn import(data: &Path, identity: &str, file: &Path) -> Output {
    avatars(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        identity,
        file.to_str().unwrap(),
    ])
}

#[test]
fn a_data_directory_turning_read_only_keeps_serving_and_refuses_imports_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Bind the directory onto itself, so it can be made read-only in place.
    let Some(mount) = Mounted::new(&["--bind", data.to_str().unwrap()], &data) else {
        return;
    };
    write_noise_png(&dir.path().join("george.png"), 40);
    write_noise_png(&dir.path().join("new.png"), 50);
    assert!(
        import(&data, "george@example.com", &dir.path().join("george.png"))
            .status
            .success()
    );

    let server = serve(dir.path(), &["--data-dir", data.to_str().unwrap()], false);
    let before = server.get(&format!("/avatar/{GEORGE_MD5}?s=64"));
    assert_eq!(before.status, 200);

    mount.remount_read_only();
    let refused = import(&data, "george@example.com", &dir.path().join("new.png"));
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("Read-only file system"), "{message}");

    // Served as before: from the cache, and from the disk for sizes not yet rendered.
    let again = server.get(&format!("/avatar/{GEORGE_MD5}?s=64"));
    assert_eq!((again.status, again.body), (200, before.body));
    assert_eq!(
        server.get(&format!("/avatar/{GEORGE_MD5}?s=48")).status,
        200
    );
    let unknown = format!("/avatar/{}?d=404", "0".repeat(32));
    assert_eq!(server.get(&unknown).status, 404);
    drop(server);
    drop(mount);

    // Writable again: the refused import left nothing behind and can be done now.
    assert_eq!(std::fs::read_dir(data.join("tmp")).unwrap().count(), 0);
    assert!(
        import(&data, "george@example.com", &dir.path().join("new.png"))
            .status
            .success()
    );
}

#[test]
fn a_full_disk_fails_the_import_clearly_and_keeps_the_old_avatar() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // A 256 KiB filesystem: room for a small avatar, not for a 300 KB one.
    let Some(_mount) = Mounted::tmpfs("256k", &data) else {
        return;
    };
    write_noise_png(&dir.path().join("small.png"), 40);
    write_noise_png(&dir.path().join("large.png"), 320);
    assert!(
        import(&data, "george@example.com", &dir.path().join("small.png"))
            .status
            .success()
    );
    let stored = std::fs::read_dir(data.join("identities"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("image");
    let before = std::fs::read(&stored).unwrap();

    let refused = import(&data, "george@example.com", &dir.path().join("large.png"));
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("No space left on device"), "{message}");

    assert_eq!(
        std::fs::read(&stored).unwrap(),
        before,
        "the old avatar changed"
    );
    assert_eq!(
        std::fs::read_dir(data.join("tmp")).unwrap().count(),
        0,
        "a partial temporary file was left on the full disk"
    );
    // Uploaded through the management API: 507, which retrying will not mend, not 503.
    let server = crate::admin::start(dir.path(), &["--data-dir", data.to_str().unwrap()]);
    let large = std::fs::read(dir.path().join("large.png")).unwrap();
    let put = crate::admin_request(
        &server,
        "PUT",
        "/v1/avatars/george@example.com",
        &crate::admin::bearer(crate::admin::TOKEN),
        &large,
    );
    assert_eq!(put.status, 507, "{}", String::from_utf8_lossy(&put.body));
    assert!(put.header("retry-after").is_none());
    let said = crate::admin::error_of(&put);
    assert!(
        said.starts_with("the store has no room left: ")
            && said.contains("No space left on device"),
        "{said}"
    );
    assert_eq!(std::fs::read(&stored).unwrap(), before);
    let response = server.get(&format!("/avatar/{GEORGE_MD5}?s=40"));
    assert_eq!(response.status, 200);
    assert_eq!(image::load_from_memory(&response.body).unwrap().width(), 40);
}

/// Files under `dir` but its `filler`, in its folders too.
fn files_but_the_filler(dir: &Path) -> usize {
    tree::snapshot(dir)
        .iter()
        .filter(|(path, _)| !path.ends_with('/') && !path.ends_with("/filler"))
        .count()
}

#[test]
fn a_nearly_full_rendition_files_disk_is_left_alone_answering_all_and_saying_so_once() {
    let dir = folder_with_george();
    let files = dir.path().join("renditions");
    std::fs::create_dir(&files).unwrap();
    // 1 MiB, of which the files leave 5 % (52 KiB) free for others: 24 KiB free is under it.
    let Some(_mount) = Mounted::tmpfs("1m", &files) else {
        return;
    };
    fill_leaving(&files, 24 << 10);

    let mut server = serve(
        dir.path(),
        &[
            "--email",
            "george@example.com=george.png",
            "--render-files-dir",
            files.to_str().unwrap(),
            "--admin-addr",
            "127.0.0.1:0",
        ],
        true,
    );
    // George is 120 x 90 px, so no rung: one file a render, each a few KiB.
    let sizes: Vec<u32> = (20..50).collect();
    for &size in &sizes {
        let response = server.get(&format!("/avatar/{GEORGE_MD5}?s={size}"));
        assert_eq!(response.status, 200, "at {size} px");
        let picture = image::load_from_memory(&response.body).unwrap();
        assert_eq!((picture.width(), picture.height()), (size, size));
    }
    let metrics =
        String::from_utf8(raw_http::get(server.admin_addr.as_ref().unwrap(), "/metrics").body)
            .unwrap();
    let failures = count(&metrics, "avatars_rendition_file_write_failures_total", &[]);
    assert_eq!(failures, sizes.len() as u64, "{metrics}");
    assert_eq!(count(&metrics, "avatars_rendition_files", &[]), 0);
    // Nothing written into the last free kilobytes, not even a temporary file.
    assert_eq!(files_but_the_filler(&files), 0);

    let log = server.stop_gracefully();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("cannot keep rendition files"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning for {failures} failures:\n{log}"
    );
    assert!(
        warnings[0].contains("left free for the rest of the machine")
            && warnings[0].contains("failures=1"),
        "{}",
        warnings[0]
    );
}

#[test]
fn a_full_rendition_files_disk_keeps_answering() {
    let dir = folder_with_george();
    let files = dir.path().join("renditions");
    std::fs::create_dir(&files).unwrap();
    let Some(_mount) = Mounted::tmpfs("64k", &files) else {
        return;
    };
    let server = serve(
        dir.path(),
        &[
            "--email",
            "george@example.com=george.png",
            "--render-files-dir",
            files.to_str().unwrap(),
        ],
        false,
    );
    // One rendition kept while there is room; then the disk fills. Within the second the
    // server's last look at its free space holds, writes fail as they go (ENOSPC); after it,
    // they are not tried: either way each is answered and nothing half-written is left.
    assert_eq!(
        server.get(&format!("/avatar/{GEORGE_MD5}?s=20")).status,
        200
    );
    fill_leaving(&files, 0);
    for size in 21..30 {
        let response = server.get(&format!("/avatar/{GEORGE_MD5}?s={size}"));
        assert_eq!(response.status, 200, "at {size} px");
    }
    assert_eq!(files_but_the_filler(&files), 1, "a temporary file was left");
}

#[test]
fn import_and_render_ahead_onto_a_full_disk_say_how_many_files_were_not_kept() {
    let dir = folder_with_george();
    let (data, files) = (dir.path().join("data"), dir.path().join("renditions"));
    std::fs::create_dir(&files).unwrap();
    let Some(_mount) = Mounted::tmpfs("64k", &files) else {
        return;
    };
    fill_leaving(&files, 0);
    // Stored all the same, with a warning for the rendition made ahead that was not kept.
    let imported = avatars(&[
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        "--render-files-dir",
        files.to_str().unwrap(),
        "--render-ahead",
        "40",
        "george@example.com",
        dir.path().join("george.png").to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{imported:?}");
    let warning = String::from_utf8_lossy(&imported.stderr);
    assert!(
        warning.starts_with("warning: 2 rendition file(s) could not be written in")
            && warning.contains("left free for the rest of the machine")
            && warning.contains("made when asked for"),
        "{warning}"
    );
    // Two sizes, each in George's PNG and in WebP (the default --formats): four files.
    let output = avatars(&[
        "render-ahead",
        "--data-dir",
        data.to_str().unwrap(),
        "--render-files-dir",
        files.to_str().unwrap(),
        "--render-ahead",
        "40,80",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let totals = String::from_utf8_lossy(&output.stdout);
    assert!(
        totals.contains("0 rendition(s) made")
            && totals.contains("4 rendition file(s) that could not be written"),
        "{totals}"
    );
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains("4 rendition file(s) could not be written in")
            && log.contains("left free for the rest of the machine")
            && log.contains("run render-ahead again"),
        "{log}"
    );
}
