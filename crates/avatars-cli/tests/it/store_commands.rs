//! `avatars serve`, `import`, `remove` and `list` as a user runs them, over real files and TCP.

use std::path::Path;

use test_support::hostile::png_claiming;
use test_support::images;
use test_support::raw_http::RawResponse;
use test_support::tree::snapshot;

use crate::{avatars_in as avatars, serve, stderr};

const GEORGE_MD5: &str = "40f8d096a3777232204cb3f796c577b7";

fn write_png(path: &Path, width: u32, height: u32) {
    images::solid(width, height, [10, 150, 90])
        .save(path)
        .unwrap();
}

#[test]
fn serve_imports_binds_answers_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("george.png"), 120, 90);
    let mut server = serve(
        dir.path(),
        &["--email", "George@example.com=george.png"],
        true,
    );
    let addr = server.addr.clone();
    assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");

    let RawResponse {
        status,
        headers,
        body,
    } = server.get(&format!("/avatar/{GEORGE_MD5}?s=64"));
    assert_eq!(status, 200);
    assert!(headers.contains("content-type: image/png"), "{headers}");
    let decoded = image::load_from_memory(&body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 64));
    // The data dir defaulted to ./avatars-data and was created.
    assert!(dir.path().join("avatars-data/VERSION").is_file());

    let status = server.stop("INT");
    assert!(status.success(), "{status}");
    let log = server.log();
    assert!(
        log.contains("imported george@example.com: PNG 120 x 90"),
        "{log}"
    );
    assert!(log.trim_end().ends_with("shut down"), "{log}");
}

/// (A busy port: `serve::a_port_already_taken_stops_serve_before_anything_is_stored`.)
#[test]
fn serve_refuses_a_bad_email_pair() {
    let dir = tempfile::tempdir().unwrap();
    let output = avatars(dir.path(), &["serve", "--email", "no-equals-sign"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("expected ADDRESS=FILE"));
}

/// Root may not write in a store (or the folder it would be made in) that another user owns:
/// what it wrote, that user, the server's, could never replace or remove. Every writing
/// command refuses, with nothing written, and says how to run as the owner; reading is
/// allowed; the owner itself imports as usual.
#[test]
fn root_does_not_write_in_another_user_s_store() {
    if !test_support::is_root() {
        eprintln!("SKIPPED root_does_not_write_in_another_user_s_store: needs root");
        return;
    }
    let dir = crate::folder_with_george();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let owned = dir.path().join("owned");
    std::fs::create_dir(&owned).unwrap();
    let chown = |path: &std::path::Path| {
        let status = std::process::Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    };
    chown(&owned);
    // The server's user made the store and imported Bob.
    let (_bin, nobody_s) = crate::avatars_nobody_can_run();
    std::fs::copy(dir.path().join("george.png"), owned.join("bob.png")).unwrap();
    chown(&owned.join("bob.png"));
    let as_nobody =
        |args: &[&str]| crate::as_nobody(&nobody_s, &owned, args, std::process::Stdio::null());
    let imported = as_nobody(&["import", "--data-dir", "data", "bob@example.org", "bob.png"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let before = snapshot(&owned);

    std::fs::write(dir.path().join("serve.toml"), "data-dir = \"owned/data\"\n").unwrap();
    let new_store = "owned/new"; // not made yet: it would be made in owned/, nobody's
    for args in [
        &[
            "import",
            "--data-dir",
            "owned/data",
            "alice@example.org",
            "george.png",
        ][..],
        &[
            "import",
            "--data-dir",
            new_store,
            "alice@example.org",
            "george.png",
        ],
        &["remove", "--data-dir", "owned/data", "bob@example.org"],
        &[
            "render-ahead",
            "--data-dir",
            "owned/data",
            "--render-ahead",
            "40",
        ],
        &["migrate", "--from", "owned/data", "--to", new_store],
        &["serve", "--data-dir", "owned/data", "--addr", "127.0.0.1:0"],
        &["config", "check", "serve.toml"],
    ] {
        let output = avatars(dir.path(), args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("belongs to the user of uid 65534, not root")
                && stderr(&output).contains("runuser -u \"$(stat -c %U ")
                && stderr(&output).contains("avatars import ADDRESS - < PICTURE"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(snapshot(&owned), before, "nothing written");

    let listed = avatars(dir.path(), &["list", "--data-dir", "owned/data"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("bob@example.org"));
}

/// What the commands write (the store, its renditions, an export) is no one else's to read,
/// whatever the umask they run under: the tests' is the usual 022, a root shell's.
#[cfg(unix)]
#[test]
fn what_the_commands_write_is_no_one_else_s_to_read() {
    let dir = crate::folder_with_george();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    for args in [
        &[
            "import",
            "--data-dir",
            data,
            "alice@example.org",
            "george.png",
        ][..],
        &[
            "render-ahead",
            "--data-dir",
            data,
            "--render-ahead",
            "40,80",
        ],
        &[
            "export",
            "--data-dir",
            data,
            "alice@example.org",
            "exported.png",
        ],
    ] {
        let output = avatars(dir.path(), args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    assert!(dir.path().join("exported.png").exists());
    let mut open = test_support::tree::not_private(Path::new(data));
    open.extend(test_support::tree::not_private(
        &dir.path().join("exported.png"),
    ));
    assert_eq!(open, Vec::<String>::new());
}

/// The store's owner, running `import` as root is told to, with a picture only root may
/// read (in root's home, say): told it may not read it, and how to hand it over, which works.
#[test]
fn the_owner_is_told_how_to_import_a_picture_only_root_may_read() {
    if !test_support::is_root() {
        eprintln!("SKIPPED the_owner_is_told_how_...: needs root");
        return;
    }
    let dir = crate::folder_with_george();
    let owned = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(owned.path())
        .status()
        .unwrap();
    assert!(status.success());
    let private = dir.path().join("george.png");
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (_bin, nobody_s) = crate::avatars_nobody_can_run();
    let import = |picture: &str, stdin: std::process::Stdio| {
        let args = ["import", "--data-dir", "data", "carol@example.org", picture];
        crate::as_nobody(&nobody_s, owned.path(), &args, stdin)
    };
    let unreadable = import(&private.display().to_string(), std::process::Stdio::null());
    assert_eq!(unreadable.status.code(), Some(2), "{}", stderr(&unreadable));
    assert!(
        stderr(&unreadable).contains("Permission denied")
            && stderr(&unreadable).contains("(uid 65534) may not read it")
            && stderr(&unreadable).contains("avatars import ADDRESS - < PICTURE"),
        "{}",
        stderr(&unreadable)
    );
    let handed = import("-", std::fs::File::open(&private).unwrap().into());
    assert!(handed.status.success(), "{}", stderr(&handed));
}

/// A picture in, listed, removed, and then neither listed nor exported.
#[test]
fn import_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 30, 30);
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let output = avatars(
        dir.path(),
        &["import", "--data-dir", data, "Alice@Example.org", "a.png"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "imported alice@example.org: PNG 30 x 30\n"
    );

    let listed = avatars(dir.path(), &["list", "--data-dir", data]);
    assert!(String::from_utf8_lossy(&listed.stdout).ends_with(" alice@example.org\n"));
    // For scripts: one object a line, with the hashes `hash --json` gives.
    let openid = "https://example.org/~bob";
    let bob = avatars(dir.path(), &["import", "--data-dir", data, openid, "a.png"]);
    assert!(bob.status.success(), "{}", stderr(&bob));
    let plain = String::from_utf8_lossy(&avatars(dir.path(), &["list", "--data-dir", data]).stdout)
        .into_owned();
    let bytes_of = |identity: &str| -> u64 {
        plain
            .lines()
            .find_map(|line| {
                line.trim_start()
                    .strip_suffix(identity)?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("{identity}: {plain}"))
    };
    let listed = avatars(dir.path(), &["list", "--data-dir", data, "--json"]);
    let mut objects: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    objects.sort_by_key(|object| object["identity"].to_string());
    let hashed = |identity: &str| -> serde_json::Value {
        let output = avatars(dir.path(), &["hash", "--json", identity]);
        serde_json::from_slice(&output.stdout).unwrap()
    };
    for (object, identity) in objects.iter().zip(["alice@example.org", openid]) {
        let mut expected = hashed(identity);
        expected["bytes"] = bytes_of(identity).into();
        assert_eq!(object, &expected);
    }
    assert_eq!(objects.len(), 2);
    let removed = avatars(dir.path(), &["remove", "--data-dir", data, openid]);
    assert!(removed.status.success());

    let removed = avatars(
        dir.path(),
        &["remove", "--data-dir", data, "alice@example.org"],
    );
    assert_eq!(
        String::from_utf8_lossy(&removed.stdout),
        "removed alice@example.org\n"
    );
    let again = avatars(
        dir.path(),
        &["remove", "--data-dir", data, "alice@example.org"],
    );
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "nothing stored for alice@example.org\n"
    );
    assert!(
        avatars(dir.path(), &["list", "--data-dir", data])
            .stdout
            .is_empty()
    );
    let gone = avatars(
        dir.path(),
        &[
            "export",
            "--data-dir",
            data,
            "alice@example.org",
            "gone.png",
        ],
    );
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("nothing stored for alice@example.org: nothing exported"));
    assert!(!dir.path().join("gone.png").exists());
}

/// A reader of standard output that stops early (`avatars list | head -1`, a picture piped to
/// a program that has seen enough) is no error: each command carries on to its own end and
/// exit status, quietly. An import goes on storing every picture of its manifest, and a
/// command that fails still says why. The pipe's reading end is closed before the command
/// starts, so its first write finds the reader gone.
#[test]
fn a_reader_that_stops_early_stops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = Vec::new();
    for name in ["a", "b", "c"] {
        write_png(&dir.path().join(format!("{name}.png")), 30, 30);
        manifest.push(serde_json::json!({"identity": format!("{name}@example.org"), "file": format!("{name}.png")}));
    }
    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::json!({ "avatars": manifest }).to_string(),
    )
    .unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let with_the_reader_gone = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        std::process::Command::new(env!("CARGO_BIN_EXE_avatars"))
            .current_dir(dir.path())
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap()
    };
    let imported =
        with_the_reader_gone(&["import", "--data-dir", data, "--manifest", "manifest.json"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let listed = avatars(dir.path(), &["list", "--data-dir", data]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        3,
        "every picture of the manifest stored"
    );
    for args in [
        &["list", "--data-dir", data][..],
        &["list", "--data-dir", data, "--json"],
        &["hash", "a@example.org"],
        &["url", "a@example.org"],
        &["completions", "bash"],
    ] {
        let output = with_the_reader_gone(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(stderr(&output), "", "{args:?}");
    }
    let exported = with_the_reader_gone(&["export", "--data-dir", data, "a@example.org", "-"]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let missing = with_the_reader_gone(&["export", "--data-dir", data, "z@example.org", "-"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("nothing stored for z@example.org"),
        "{}",
        stderr(&missing)
    );
}

/// `export` writes the picture stored, byte for byte, to a new file only, or to standard
/// output but never a terminal.
#[test]
fn export_writes_the_stored_picture_to_a_new_file_only() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 30, 30);
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let imported = avatars(
        dir.path(),
        &["import", "--data-dir", data, "alice@example.org", "a.png"],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));

    let exported = avatars(
        dir.path(),
        &["export", "--data-dir", data, "ALICE@example.org", "out.png"],
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let stored = std::fs::read(dir.path().join("out.png")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&exported.stdout),
        format!(
            "exported alice@example.org: PNG 30 x 30, {} bytes, to out.png\n",
            stored.len()
        )
    );
    assert_eq!(
        image::load_from_memory(&stored).unwrap().to_rgb8(),
        image::open(dir.path().join("a.png")).unwrap().to_rgb8(),
        "the picture imported"
    );
    let piped = avatars(
        dir.path(),
        &["export", "--data-dir", data, "alice@example.org", "-"],
    );
    assert_eq!(piped.stdout, stored, "the same bytes on standard output");
    assert!(stderr(&piped).starts_with("exported alice@example.org: PNG 30 x 30"));
    // An existing file is left as it was; a name of another format is written, and warned of.
    std::fs::write(dir.path().join("kept.png"), "mine").unwrap();
    let again = avatars(
        dir.path(),
        &[
            "export",
            "--data-dir",
            data,
            "alice@example.org",
            "kept.png",
        ],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("kept.png exists; not overwriting it"));
    assert_eq!(std::fs::read(dir.path().join("kept.png")).unwrap(), b"mine");
    let misnamed = avatars(
        dir.path(),
        &["export", "--data-dir", data, "alice@example.org", "out.jpg"],
    );
    assert!(misnamed.status.success());
    assert!(
        stderr(&misnamed).contains("out.jpg holds a PNG picture, as it was stored"),
        "{}",
        stderr(&misnamed)
    );
    // Standard output a terminal: refused before the store is read. (`script` gives the
    // command a terminal.)
    if std::path::Path::new("/usr/bin/script").exists() {
        let command = format!(
            "{} export --data-dir {data} alice@example.org -; echo \"exit $?\"",
            crate::AVATARS
        );
        let typed = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&typed.stdout);
        assert!(
            shown.contains("not writing a picture to the terminal") && shown.contains("exit 2"),
            "{shown}"
        );
    }
}

/// `import ADDRESS -` reads the picture from standard input, into a new store too (whose first
/// picture is read twice, to check it and to store it), so `export` and `import` pipe into each
/// other; what is piped in is refused as a file is, named as standard input, and a stream
/// past the size limit is refused without being read to its end.
#[test]
fn import_reads_standard_input_and_export_pipes_into_it() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 30, 30);
    let piped = |args: &[&str], input: &[u8]| {
        let mut child = Command::new(crate::AVATARS)
            .current_dir(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A refused picture may be refused before all of it is read.
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    };
    let png = std::fs::read(dir.path().join("a.png")).unwrap();
    let first = piped(
        &["import", "--data-dir", "new", "alice@example.org", "-"],
        &png,
    );
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "imported alice@example.org: PNG 30 x 30\n"
    );
    let exported = avatars(
        dir.path(),
        &["export", "--data-dir", "new", "alice@example.org", "-"],
    );
    let copied = piped(
        &["import", "--data-dir", "copy", "bob@example.org", "-"],
        &exported.stdout,
    );
    assert!(copied.status.success(), "{}", stderr(&copied));
    let again = avatars(
        dir.path(),
        &["export", "--data-dir", "copy", "bob@example.org", "-"],
    );
    assert_eq!(
        again.stdout, exported.stdout,
        "the same picture, byte for byte"
    );

    let refused = piped(
        &["import", "--data-dir", "none", "carol@example.org", "-"],
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).starts_with("avatars: standard input: this is an SVG"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !dir.path().join("none").exists(),
        "no store for a refused first picture"
    );

    // A stream that never ends (`cat /dev/zero |`), as `-` or as a file: refused once past the
    // limit, not read on.
    for (file, named) in [("-", "standard input"), ("/dev/stdin", "/dev/stdin")] {
        let mut endless = Command::new(crate::AVATARS)
            .current_dir(dir.path())
            .args(["import", "--data-dir", "none", "carol@example.org", file])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = endless.stdin.take().unwrap();
        let feeding = std::thread::spawn(move || {
            let zeros = vec![0u8; 1 << 16];
            // Until the reader has gone.
            while input.write_all(&zeros).is_ok() {}
        });
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = endless.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > std::time::Duration::from_secs(30) {
                let _ = endless.kill();
                panic!("{file}: still reading an endless stream after 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        feeding.join().unwrap();
        let mut said = String::new();
        std::io::Read::read_to_string(&mut endless.stderr.take().unwrap(), &mut said).unwrap();
        assert_eq!(status.code(), Some(2), "{file}: {said}");
        assert_eq!(
            said,
            format!(
                "avatars: {named}: more than 8388608 bytes came in; at most 8388608 bytes are \
                 accepted (the rest was not read)\n"
            )
        );
    }
}

/// A phone photo stored on its side, imported for two addresses of one person: reported upright,
/// stored once, listed under both.
#[test]
fn import_stores_one_picture_for_several_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let sideways = images::encode(&images::photo_like(40, 30), image::ImageFormat::Jpeg);
    std::fs::write(
        dir.path().join("phone.jpg"),
        test_support::exif::with_orientation(&sideways, 6),
    )
    .unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let output = avatars(
        dir.path(),
        &[
            "import",
            "--data-dir",
            data,
            "alice@example.org",
            "phone.jpg",
            "--also",
            "Alice@Work.example",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "imported alice@example.org: JPEG 30 x 40\nimported alice@work.example: JPEG 30 x 40\n"
    );
    let listed = avatars(dir.path(), &["list", "--data-dir", data]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(" alice@example.org\n") && listed.contains(" alice@work.example\n"),
        "{listed}"
    );

    let refused = avatars(
        dir.path(),
        &[
            "import",
            "--data-dir",
            data,
            "bob@example.org",
            "phone.jpg",
            "--also",
            "not an address",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let listed = avatars(dir.path(), &["list", "--data-dir", data]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("bob"),
        "nothing stored for bob"
    );
}

/// `--manifest` loads what a manifest lists (the conformance suite's shape, extra fields and
/// all); a manifest naming a missing file, or one that is no picture, stores nothing.
#[test]
fn import_loads_a_manifest_and_refuses_a_bad_one_whole() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 30, 30);
    write_png(&dir.path().join("b.png"), 20, 10);
    let manifest = r#"{"version": 1, "avatars": [
        {"identity": "Alice@Example.org", "file": "a.png", "md5": "ignored", "description": "x"},
        {"identity": "https://example.com/id/Bob", "file": "b.png"}
    ], "absent": ["nobody@example.com"]}"#;
    std::fs::write(dir.path().join("manifest.json"), manifest).unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let output = avatars(
        dir.path(),
        &["import", "--data-dir", data, "--manifest", "manifest.json"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "imported alice@example.org: PNG 30 x 30\nimported https://example.com/id/Bob: PNG 20 x 10\n"
    );

    let other = tempfile::tempdir().unwrap();
    let bad = r#"{"avatars": [{"identity": "carol@example.org", "file": "a.png"},
                              {"identity": "dave@example.org", "file": "missing.png"}]}"#;
    std::fs::write(dir.path().join("bad.json"), bad).unwrap();
    let other_data = other.path().join("data");
    let output = avatars(
        dir.path(),
        &[
            "import",
            "--data-dir",
            other_data.to_str().unwrap(),
            "--manifest",
            "bad.json",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing.png (for dave@example.org) is not a file"),
        "{}",
        stderr(&output)
    );
    assert!(!other_data.exists(), "nothing was stored, not even a store");

    // A file that is no picture, anywhere in the list, is found before anything is stored.
    std::fs::write(dir.path().join("notes.png"), "a text saved as .png\n").unwrap();
    let not_a_picture = r#"{"avatars": [{"identity": "carol@example.org", "file": "a.png"},
                                       {"identity": "dave@example.org", "file": "notes.png"},
                                       {"identity": "erin@example.org", "file": "b.png"}]}"#;
    std::fs::write(dir.path().join("text.json"), not_a_picture).unwrap();
    let output = avatars(
        dir.path(),
        &["import", "--data-dir", data, "--manifest", "text.json"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("notes.png: not a PNG, JPEG, GIF or WebP image"),
        "{}",
        stderr(&output)
    );
    let listed = avatars(dir.path(), &["list", "--data-dir", data]);
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("carol"),
        "nothing stored for carol, listed before the bad file"
    );

    std::fs::write(dir.path().join("wrong.json"), r#"{"files": []}"#).unwrap();
    let output = avatars(
        dir.path(),
        &["import", "--data-dir", data, "--manifest", "wrong.json"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("expected {\"avatars\""),
        "{}",
        stderr(&output)
    );
}

/// Every refused import exits 2 with one clear line and leaves the stored avatar untouched.
#[test]
fn refused_imports_leave_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_png(&dir.path().join("good.png"), 40, 40);
    let ok = avatars(
        dir.path(),
        &[
            "import",
            "--data-dir",
            data.to_str().unwrap(),
            "george@example.com",
            "good.png",
        ],
    );
    assert!(ok.status.success());
    let image_path = data.join("identities");
    let stored_before = snapshot(&image_path);

    std::fs::write(dir.path().join("text.png"), "this is not an image").unwrap();
    let mut truncated = std::fs::read(dir.path().join("good.png")).unwrap();
    truncated.truncate(truncated.len() / 2);
    std::fs::write(dir.path().join("truncated.png"), truncated).unwrap();
    // A 50 MB "upload": refused from its size, before it is read.
    std::fs::write(dir.path().join("big.png"), vec![0u8; 50 << 20]).unwrap();
    std::fs::write(dir.path().join("bomb.png"), png_claiming(100_000, 100_000)).unwrap();

    let cases = [
        ("text.png", "not a PNG, JPEG, GIF or WebP image"),
        ("truncated.png", "corrupt or truncated PNG image"),
        ("big.png", "at most 8388608 bytes are accepted"),
        ("bomb.png", "each side must be from 1 to 8192 pixels"),
        ("missing.png", "cannot read missing.png"),
        (
            "https://example.org/me.png",
            "that is a web address, and a file on this machine is expected",
        ),
    ];
    for (file, reason) in cases {
        let output = avatars(
            dir.path(),
            &[
                "import",
                "--data-dir",
                data.to_str().unwrap(),
                "george@example.com",
                file,
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{file}");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{file}: {message}");
        assert!(
            message.starts_with("avatars: ") && message.contains(reason),
            "{file}: {message}"
        );
        assert_eq!(
            snapshot(&image_path),
            stored_before,
            "{file} changed the store"
        );
        assert_eq!(
            std::fs::read_dir(data.join("tmp")).unwrap().count(),
            0,
            "{file} left a temporary file"
        );
    }
}

/// A first import that is refused (by `import`, or by `serve --email`) leaves no store
/// behind: no new folder, and nothing in an empty one, so the next try starts from a clean
/// slate.
#[test]
fn a_refused_first_import_creates_no_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("text.png"), "this is not an image").unwrap();
    std::fs::write(dir.path().join("bomb.png"), png_claiming(100_000, 100_000)).unwrap();
    std::fs::write(
        dir.path().join("manifest.json"),
        r#"{"avatars": [{"identity": "a@example.org", "file": "text.png"}]}"#,
    )
    .unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for data in ["new", "empty"] {
        let mut runs: Vec<Vec<String>> = Vec::new();
        for file in ["text.png", "bomb.png", "missing.png"] {
            runs.push(
                ["import", "--data-dir", data, "a@example.org", file]
                    .map(String::from)
                    .to_vec(),
            );
            // `serve --email` imports before it serves, into the same store.
            let email = format!("a@example.org={file}");
            let serve = [
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--data-dir",
                data,
                "--email",
            ];
            runs.push(
                serve
                    .iter()
                    .map(|arg| (*arg).to_owned())
                    .chain([email])
                    .collect(),
            );
        }
        runs.push(
            ["import", "--data-dir", data, "--manifest", "manifest.json"]
                .map(String::from)
                .to_vec(),
        );
        for args in &runs {
            let output = avatars(
                dir.path(),
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            assert_eq!(output.status.code(), Some(2), "{args:?}");
            assert!(
                stderr(&output).starts_with("avatars: "),
                "{args:?}: {}",
                stderr(&output)
            );
        }
    }
    assert!(!dir.path().join("new").exists(), "a new folder was created");
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "the empty folder was filled"
    );

    // Once a picture is taken the folder is a store, and what follows is as before.
    write_png(&dir.path().join("good.png"), 40, 40);
    let ok = avatars(
        dir.path(),
        &["import", "--data-dir", "new", "a@example.org", "good.png"],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(dir.path().join("new/identities").is_dir());
}

#[test]
fn read_only_commands_never_create_a_store_and_no_command_writes_into_a_foreign_folder() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["list"][..],
        &["remove", "a@example.org"],
        &["export", "a@example.org", "a.png"],
    ] {
        let output = avatars(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.contains("there is no avatars store at avatars-data")
                && err.contains("give --data-dir the directory of one"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !dir.path().join("avatars-data").exists(),
        "nothing was created"
    );

    let foreign = dir.path().join("documents");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("letter.txt"), "dear reader").unwrap();
    write_png(&dir.path().join("a.png"), 30, 30);
    let before = snapshot(&foreign);
    let data = foreign.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["list", "--data-dir", data],
        &["remove", "--data-dir", data, "a@example.org"],
        &["import", "--data-dir", data, "a@example.org", "a.png"],
        &["serve", "--addr", "127.0.0.1:0", "--data-dir", data],
        &[
            "xmpp",
            "--server",
            "127.0.0.1:1",
            "--domain",
            "avatars.example.org",
            "--secret",
            "s",
            "--data-dir",
            data,
        ],
    ];
    for args in commands {
        let output = avatars(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.contains("is not an avatars store") && err.contains("no VERSION file"),
            "{args:?}: {err}"
        );
        assert!(err.contains("give --data-dir a store"), "{args:?}: {err}");
    }
    // migrate names its own options, not --data-dir, which it does not have.
    let into = avatars(
        dir.path(),
        &["migrate", "--from", "nothing-here", "--to", data],
    );
    assert_eq!(into.status.code(), Some(2));
    assert!(
        stderr(&into).contains("give --from the store to copy from")
            && !stderr(&into).contains("--data-dir"),
        "{}",
        stderr(&into)
    );
    assert_eq!(snapshot(&foreign), before, "the folder is as it was");
}

/// An upload larger than `--master-side` is stored as its centred square, and the import's
/// line says so (a phone photo's top and bottom are not kept); a smaller one's line does not.
#[test]
fn import_says_when_a_large_picture_is_stored_as_its_square() {
    let dir = tempfile::tempdir().unwrap();
    images::photo_like(1500, 1000)
        .save(dir.path().join("large.png"))
        .unwrap();
    let imported = avatars(dir.path(), &["import", "a@example.org", "large.png"]);
    assert_eq!(
        String::from_utf8(imported.stdout).unwrap(),
        "imported a@example.org: PNG 1500 x 1000, stored as its centred 512 x 512 square\n"
    );
    let args = [
        "import",
        "--master-side",
        "2048",
        "b@example.org",
        "large.png",
    ];
    let imported = avatars(dir.path(), &args);
    assert_eq!(
        String::from_utf8(imported.stdout).unwrap(),
        "imported b@example.org: PNG 1500 x 1000\n"
    );
}

/// `import --crop X,Y,SIDE` stores the square chosen, and says so; a crop outside the picture
/// or not written so is refused saying what is expected, and stores nothing.
#[test]
fn import_stores_the_square_asked_for_with_crop() {
    let dir = tempfile::tempdir().unwrap();
    images::photo_like(1500, 1000)
        .save(dir.path().join("large.png"))
        .unwrap();
    let args = [
        "import",
        "--crop",
        "900,100,300",
        "a@example.org",
        "large.png",
    ];
    let imported = avatars(dir.path(), &args);
    assert_eq!(
        String::from_utf8(imported.stdout).unwrap(),
        "imported a@example.org: PNG 1500 x 1000, stored as the square 900,100,300 (X,Y,SIDE) at 300 x 300\n"
    );
    let exported = avatars(dir.path(), &["export", "a@example.org", "-"]);
    let stored = image::load_from_memory(&exported.stdout).unwrap().to_rgb8();
    let chosen =
        image::imageops::crop_imm(&images::photo_like(1500, 1000), 900, 100, 300, 300).to_image();
    assert_eq!(stored, chosen, "exactly the square chosen, at its own side");

    for (crop, says) in [
        ("1300,100,300", "does not fit in the 1500 x 1000 picture"),
        ("900,100", "expected X,Y,SIDE"),
    ] {
        let args = ["import", "--crop", crop, "b@example.org", "large.png"];
        let refused = crate::avatars_in(dir.path(), &args);
        assert!(!refused.status.success(), "{crop}");
        assert!(
            crate::stderr(&refused).contains(says),
            "{crop}: {}",
            crate::stderr(&refused)
        );
    }
    let listed = avatars(dir.path(), &["list"]);
    assert!(
        !String::from_utf8(listed.stdout)
            .unwrap()
            .contains("b@example.org")
    );
}

/// `migrate --normalise` in place: a store written before masters existed (here, imported with
/// a master side above the picture's) keeps its large original until it runs; then the avatar
/// is its 512 px master, serves the same picture, and a second run changes nothing.
#[test]
fn migrate_normalise_turns_old_large_originals_into_masters_in_place() {
    let dir = tempfile::tempdir().unwrap();
    images::photo_like(1500, 1000)
        .save(dir.path().join("large.png"))
        .unwrap();
    write_png(&dir.path().join("small.png"), 64, 64);
    let imported = avatars(
        dir.path(),
        &[
            "import",
            "--master-side",
            "4096",
            "large@example.org",
            "large.png",
        ],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let imported = avatars(dir.path(), &["import", "small@example.org", "small.png"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let size_of = |address: &str| -> u64 {
        let listed = String::from_utf8(avatars(dir.path(), &["list"]).stdout).unwrap();
        // `  BYTES IDENTITY` lines.
        let line = listed
            .lines()
            .find(|line| line.split_whitespace().nth(1) == Some(address))
            .unwrap_or_else(|| panic!("{address} in {listed}"));
        line.split_whitespace()
            .find_map(|word| word.parse().ok())
            .unwrap_or_else(|| panic!("a size in {line}"))
    };
    let (large_before, small_before) = (size_of("large@example.org"), size_of("small@example.org"));
    let server = serve(dir.path(), &[], false);
    let md5 = avatar_proto::Identity::parse("large@example.org")
        .unwrap()
        .hash(avatar_proto::HashAlgorithm::Md5);
    let before = server.get(&format!("/avatar/{md5}?s=128")).body;
    drop(server);

    let args = [
        "migrate",
        "--from",
        "avatars-data",
        "--to",
        "avatars-data",
        "--normalise",
    ];
    let migrated = avatars(dir.path(), &args);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let said = String::from_utf8(migrated.stdout).unwrap();
    assert!(
        said.contains("1 copied, 1 already there, 1 stored as their master"),
        "{said}"
    );
    assert!(
        size_of("large@example.org") < large_before / 2,
        "the master is smaller"
    );
    assert_eq!(
        size_of("small@example.org"),
        small_before,
        "small avatars are left alone"
    );
    let server = serve(dir.path(), &[], false);
    let after = server.get(&format!("/avatar/{md5}?s=128")).body;
    let difference = images::mean_difference(&before, &after);
    assert!(difference < 3.0, "the same picture: {difference}");

    let again = avatars(dir.path(), &args);
    let said = String::from_utf8(again.stdout).unwrap();
    assert!(
        said.contains("0 copied, 2 already there, 0 stored as their master"),
        "{said}"
    );
    // Without --normalise, one store is still refused as both ends.
    let same = avatars(
        dir.path(),
        &["migrate", "--from", "avatars-data", "--to", "avatars-data"],
    );
    assert_eq!(same.status.code(), Some(2));
}

/// The README's online backup: `avatars migrate` into a fresh folder while another process
/// imports and removes. Every avatar in the copy is whole and is the picture its address
/// was given, and every avatar that was stored throughout is in it.
#[test]
fn a_backup_by_migrate_while_imports_run_holds_each_avatar_whole() {
    use avatar_proto::{HashAlgorithm, Identity};
    use avatar_store::{FsStore, Store as _};

    let dir = tempfile::tempdir().unwrap();
    let address = |n: u32| format!("user{n}@example.org");
    let picture = |n: u32| {
        let [low, high, ..] = n.to_le_bytes();
        bytes::Bytes::from(images::png(&images::solid(8, 8, [low, high, 7])))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = FsStore::open(dir.path().join("data")).unwrap();
    runtime.block_on(async {
        for n in 0..300 {
            let identity = Identity::parse(&address(n)).unwrap();
            store.put(&identity, picture(n)).await.unwrap();
        }
    });

    // Another process's writes, while the copy runs: new avatars, replaced ones, removed ones.
    let (started, writing) = std::sync::mpsc::channel();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                for n in 300..900 {
                    let identity = Identity::parse(&address(n)).unwrap();
                    store.put(&identity, picture(n)).await.unwrap();
                    let old = Identity::parse(&address(n % 100)).unwrap();
                    if n % 2 == 0 {
                        store.remove(&old).await.unwrap();
                    } else {
                        store.put(&old, picture(n % 100)).await.unwrap();
                    }
                    if n == 310 {
                        started.send(()).unwrap();
                    }
                }
            });
        })
    };
    writing.recv().unwrap();
    let migrated = avatars(dir.path(), &["migrate", "--from", "data", "--to", "backup"]);
    writer.join().unwrap();
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    let backup = FsStore::open_existing(dir.path().join("backup")).unwrap();
    runtime.block_on(async {
        let listed = backup.list().await.unwrap();
        for entry in &listed {
            let n: u32 = entry
                .identity
                .trim_start_matches("user")
                .trim_end_matches("@example.org")
                .parse()
                .unwrap();
            let identity = Identity::parse(&entry.identity).unwrap();
            for algorithm in [HashAlgorithm::Md5, HashAlgorithm::Sha256] {
                let held = backup.get(&identity.hash(algorithm)).await.unwrap();
                assert_eq!(
                    held.map(|held| held.bytes),
                    Some(picture(n)),
                    "{} by {algorithm:?}",
                    entry.identity
                );
            }
        }
        for n in 100..300 {
            assert!(
                listed.iter().any(|entry| entry.identity == address(n)),
                "{} was stored throughout",
                address(n)
            );
        }
    });
}
