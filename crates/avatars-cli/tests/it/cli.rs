//! The `avatars` binary as a user runs it: output, exit status, and one-line errors.

use crate::{avatars, stderr, stdout};

#[test]
fn hash_prints_md5_and_sha256_for_an_email() {
    let output = avatars(&["hash", "George@example.com"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "md5 40f8d096a3777232204cb3f796c577b7\n\
         sha256 47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066\n"
    );
}

#[test]
fn hash_prints_only_sha256_for_an_openid_in_any_case() {
    for identity in [
        "HTTP://UserName:Password@EXAMPLE.COM/ID/Bob",
        "hTtP://UserName:Password@example.com/ID/Bob",
    ] {
        let output = avatars(&["hash", identity]);
        assert!(output.status.success());
        assert_eq!(
            stdout(&output),
            "sha256 b9a30942701c1937b4cdb5bd95adad4aaf208a81ecb490023b3e5d5daca7f469\n"
        );
    }
}

#[test]
fn hash_json_is_one_parsable_object() {
    let output = avatars(&["hash", "--json", " Whatever@Wherever.whichever   "]);
    assert!(output.status.success());
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["identity"], "whatever@wherever.whichever");
    assert_eq!(value["kind"], "email");
    assert_eq!(value["md5"], "a60fc0828e808b9a6a9d50f1792240c8");
    assert_eq!(stdout(&output).lines().count(), 1);
}

#[test]
fn url_without_discovery_uses_the_central_servers() {
    let output = avatars(&["url", "--no-discovery", "George@example.com"]);
    assert_eq!(
        stdout(&output),
        "http://cdn.libravatar.org/avatar/40f8d096a3777232204cb3f796c577b7\n"
    );

    let output = avatars(&[
        "url",
        "--no-discovery",
        "--https",
        "--sha256",
        "--size",
        "0",
        "--default",
        "retro",
        "--force-default",
        "George@example.com",
    ]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        "https://seccdn.libravatar.org/avatar/47508cb4512f7b46aaeb34b4a514c63d63ec240bf28cbc4410addd4867c10066?s=1&d=retro&f=y\n"
    );
}

/// `--srcset 1,2,3` prints an HTML srcset value, sizes clamped to `--max-size`.
#[test]
fn url_srcset_prints_one_url_per_density() {
    let base = "http://cdn.libravatar.org/avatar/40f8d096a3777232204cb3f796c577b7";
    let output = avatars(&[
        "url",
        "--no-discovery",
        "--size",
        "200",
        "--srcset",
        "1,2,3",
        "george@example.com",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("{base}?s=200 1x, {base}?s=400 2x, {base}?s=512 3x\n")
    );
    let output = avatars(&[
        "url",
        "--no-discovery",
        "--size",
        "200",
        "--max-size",
        "2048",
        "--srcset",
        "1,2,3",
        "george@example.com",
    ]);
    assert_eq!(
        stdout(&output),
        format!("{base}?s=200 1x, {base}?s=400 2x, {base}?s=600 3x\n")
    );
    let output = avatars(&[
        "url",
        "--no-discovery",
        "--srcset",
        "1,x",
        "george@example.com",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

/// `--size` takes any integer, as the URL builder does, and clamps it to 1..=512.
#[test]
fn url_sizes_follow_the_builders_rule_for_every_integer() {
    for (size, sent) in [
        ("-4", "s=1"),
        ("0", "s=1"),
        ("64", "s=64"),
        ("99999999999999999999", "s=512"),
    ] {
        let output = avatars(&[
            "url",
            "--no-discovery",
            "--size",
            size,
            "george@example.com",
        ]);
        assert!(output.status.success(), "{size}: {}", stderr(&output));
        assert!(
            stdout(&output).trim_end().ends_with(&format!("?{sent}")),
            "{size}: {}",
            stdout(&output)
        );
    }
    let output = avatars(&[
        "url",
        "--no-discovery",
        "--size",
        "big",
        "george@example.com",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not an integer"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let cases: [(&[&str], &str); 6] = [
        (&["hash", "nobody.example.org"], "no @"),
        (&["hash", ""], "empty"),
        (&["hash", "   "], "empty"),
        (&["hash", "https://"], "no host"),
        (&["url", "--no-discovery", "@example.org"], "before the @"),
        (
            &["url", "--no-discovery", "http://exa mple.org/"],
            "white space",
        ),
    ];
    for (args, reason) in cases {
        let output = avatars(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("avatars: ") && err.contains(reason),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["url", "--size", "big", "a@b.c"][..],
        &["url", "--size", "1.5", "a@b.c"],
        &["frobnicate"],
        &[],
    ] {
        assert_eq!(avatars(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn xmpp_refuses_a_bad_domain_server_or_secret_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let cases = [
        (
            "127.0.0.1:5347",
            "alice@example.org",
            "s3cret",
            "owns a whole domain",
        ),
        (
            "127.0.0.1:5347",
            "avatars..example.org",
            "s3cret",
            "invalid component domain",
        ),
        (
            "127.0.0.1",
            "avatars.example.org",
            "s3cret",
            "expected HOST:PORT",
        ),
        (
            "127.0.0.1:5347",
            "avatars.example.org",
            "",
            "secret is empty",
        ),
    ];
    for (server, domain, secret, reason) in cases {
        let output = avatars(&[
            "xmpp",
            "--server",
            server,
            "--domain",
            domain,
            "--secret",
            secret,
            "--data-dir",
            data,
        ]);
        assert_eq!(output.status.code(), Some(2), "{domain} {server}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("avatars: ") && err.contains(reason),
            "{err}"
        );
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn xmpp_reads_its_secret_from_a_file_or_the_environment_and_refuses_an_unresolvable_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let base = [
        "xmpp",
        "--domain",
        "avatars.example.org",
        "--data-dir",
        data,
    ];
    let run = |extra: &[&str], env: Option<&str>| {
        let mut command = std::process::Command::new(crate::AVATARS);
        command
            .args(base)
            .args(extra)
            .env_remove("AVATARS_XMPP_SECRET");
        if let Some(secret) = env {
            command.env("AVATARS_XMPP_SECRET", secret);
        }
        command.output().unwrap()
    };
    let empty = dir.path().join("empty-secret");
    std::fs::write(&empty, "\n").unwrap();
    let good = dir.path().join("secret");
    std::fs::write(&good, "s3cret\n").unwrap();
    let cases: [(&[&str], Option<&str>, &str); 5] = [
        (
            &["--server", "127.0.0.1:5347"],
            None,
            "<--secret <SECRET>|--secret-file <FILE>>",
        ),
        (
            &[
                "--server",
                "127.0.0.1:5347",
                "--secret-file",
                "no-such-file",
            ],
            None,
            "cannot read no-such-file",
        ),
        (
            &[
                "--server",
                "127.0.0.1:5347",
                "--secret-file",
                empty.to_str().unwrap(),
            ],
            None,
            "secret is empty",
        ),
        (&["--server", "127.0.0.1:5347"], Some(""), "secret is empty"),
        (
            &[
                "--server",
                "no-such-host.invalid:5347",
                "--secret-file",
                good.to_str().unwrap(),
            ],
            None,
            "cannot resolve the XMPP server address no-such-host.invalid:5347",
        ),
    ];
    for (extra, env, reason) in cases {
        let output = run(extra, env);
        assert_eq!(output.status.code(), Some(2), "{extra:?} {env:?}");
        let err = stderr(&output);
        assert!(err.contains(reason), "{extra:?} {env:?}: {err}");
    }
    // A secret from the environment is never shown, even in the help.
    let help = run(&["--help"], Some("top-secret"));
    assert!(!stdout(&help).contains("top-secret"));
}

#[test]
fn xmpp_refuses_mirroring_and_subscription_settings_that_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let damaged = dir.path().join("subscriptions");
    std::fs::write(
        &damaged,
        "# avatars xmpp subscriptions 1\nsubscription alice@avatars.example.org\n",
    )
    .unwrap();
    let base = [
        "xmpp",
        "--server",
        "127.0.0.1:5347",
        "--domain",
        "avatars.example.org",
        "--secret",
        "s3cret",
    ];
    let data = data.to_str().unwrap();
    let damaged = damaged.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--data-dir", data, "--mirror-subscribers"],
            "--mirror-subscribers mirrors only users of the domains you list: give --identity-domain D",
        ),
        (
            &["--data-dir", data, "--mirror-overwrites"],
            "--mirror-subscribers",
        ),
        (
            &["--data-dir", data, "--subscriptions-file", damaged],
            "are damaged at line 2: expected `subscription CONTACT SUBSCRIBER`",
        ),
    ];
    for (extra, reason) in cases {
        let output = avatars(&[&base[..], extra].concat());
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
        let err = stderr(&output);
        assert!(err.contains(reason), "{extra:?}: {err}");
    }
    assert!(!std::path::Path::new(data).exists(), "nothing was created");
}

#[test]
fn a_mistyped_default_keyword_is_warned_about_but_still_sent() {
    let output = avatars(&[
        "url",
        "--no-discovery",
        "--default",
        "idnticon",
        "george@example.com",
    ]);
    assert!(output.status.success());
    assert!(
        stdout(&output).trim_end().ends_with("d=idnticon"),
        "{}",
        stdout(&output)
    );
    let err = stderr(&output);
    assert!(
        err.contains("warning") && err.contains("did you mean identicon?"),
        "{err}"
    );
    let quiet = avatars(&[
        "url",
        "--no-discovery",
        "--default",
        "identicon",
        "george@example.com",
    ]);
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
}

/// `serve --help` groups its four dozen flags under headings a reader can scan, and every
/// flag is under one (nothing but `--config` and help left loose).
#[test]
fn serve_help_groups_its_flags_under_headings() {
    let help = stdout(&avatars(&["serve", "--help"]));
    let headings: Vec<&str> = help
        .lines()
        .filter(|line| line.ends_with(':') && !line.starts_with(' '))
        .collect();
    assert_eq!(
        headings,
        [
            "Options:",
            "Listening:",
            "Connections:",
            "Storage:",
            "Answers:",
            "Renditions and caches:",
            "The avatar proxy (/proxy/TOKEN):",
            "Logging:",
        ],
        "{help}"
    );
    // Each flag line under the heading above it (whatever clap's layout of descriptions).
    let mut heading = "";
    let mut loose = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            heading = line;
        } else if heading == "Options:"
            && let Some(flag) = line.trim_start().split([' ', ',']).next()
            && flag.starts_with('-')
            && !["-h", "-V"].contains(&flag)
        {
            loose.push(flag);
        }
    }
    assert_eq!(loose, ["--config"], "{help}");
}

/// A SIGHUP (a log rotation's `pkill -HUP avatars`, which reaches every `avatars` process)
/// never ends the XMPP component: it says there is nothing to read again and goes on; SIGTERM
/// still stops it, cleanly.
#[test]
fn a_sighup_leaves_the_xmpp_component_running() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let server = test_support::silent::SilentServer::start();
    let log = dir.path().join("component.log");
    let mut component = Command::new(crate::AVATARS)
        .args(["xmpp", "--server", &server.addr().to_string()])
        .args(["--domain", "avatars.example.org", "--secret", "s3cret"])
        .args(["--data-dir", &dir.path().join("data").display().to_string()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = component.id().to_string();
    let signal = |name: &str| {
        let sent = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(sent.success());
    };
    // Stopped whatever the checks find: a failed assertion must not leave it running.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut connecting = String::new();
        std::io::BufReader::new(component.stdout.take().unwrap())
            .read_line(&mut connecting)
            .unwrap();
        assert!(connecting.starts_with("component avatars.example.org connecting"));
        for _ in 0..2 {
            signal("-HUP");
            std::thread::sleep(Duration::from_millis(200));
            assert!(component.try_wait().unwrap().is_none(), "ended by SIGHUP");
        }
        signal("-TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = component.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "SIGTERM ignored"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }));
    let _ = component.kill();
    let _ = component.wait();
    let status = outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {said}");
    assert_eq!(
        said.matches("SIGHUP: nothing to read again").count(),
        2,
        "{said}"
    );
    assert!(said.contains("shut down"), "{said}");
}

/// `--metrics-addr`: while the component cannot join, /healthz answers 503 with why, and
/// /metrics counts the failed attempts; the address is printed after the connecting line.
/// With `--log-format json` the log says the same as JSON objects.
#[test]
fn the_component_s_health_says_why_it_is_not_joined() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let nowhere = test_support::silent::closed_address();
    let mut component = Command::new(crate::AVATARS)
        .args(["xmpp", "--server", &nowhere.to_string()])
        .args(["--domain", "avatars.example.org", "--secret", "s3cret"])
        .args(["--data-dir", &dir.path().join("data").display().to_string()])
        .args(["--metrics-addr", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut lines = std::io::BufReader::new(component.stdout.take().unwrap()).lines();
        // With the JSON log, stdout's lines are JSON objects too.
        let mut next = || {
            let line = lines.next().unwrap().unwrap();
            assert!(line.starts_with('{'), "{line}");
            test_support::server::announced(&line)
        };
        let connecting = next();
        assert!(connecting.starts_with("component avatars.example.org connecting"));
        let said = next();
        let monitor = said
            .strip_prefix("metrics on http://")
            .unwrap_or_else(|| panic!("{said}"))
            .to_owned();
        let started = Instant::now();
        let (status, body) = loop {
            let health = test_support::raw_http::get(&monitor, "/healthz");
            let body = String::from_utf8_lossy(&health.body).into_owned();
            if body.contains("nothing listens there") || started.elapsed() > Duration::from_secs(10)
            {
                break (health.status, body);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status, 503, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], "not joined");
        let metrics =
            String::from_utf8(test_support::raw_http::get(&monitor, "/metrics").body).unwrap();
        assert!(metrics.contains("\navatars_xmpp_joined 0\n"), "{metrics}");
        assert!(
            metrics.contains("\navatars_xmpp_failed_joins_total "),
            "{metrics}"
        );
        assert!(
            !metrics.contains("avatars_xmpp_failed_joins_total 0\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("\n# TYPE avatars_xmpp_failed_joins_total counter\n"),
            "{metrics}"
        );
    }));
    let _ = component.kill();
    let _ = component.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let failures: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .filter(|event: &serde_json::Value| event["level"] == "WARN")
        .collect();
    assert!(
        failures.iter().any(|event| event["error"]
            .as_str()
            .is_some_and(|error| error.contains("nothing listens there"))),
        "{log}"
    );
}

/// What bash offers after `words` (the last one being completed), with the script
/// `avatars completions bash` prints loaded as a user would.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = stdout(&avatars(&["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("avatars.bash");
    std::fs::write(&file, script).unwrap();
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _avatars avatars '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Tab completion in bash knows the subcommands, each one's flags and a flag's values, as
/// `--help` does; an unknown shell is a usage error naming those there are.
#[test]
fn completions_complete_subcommands_flags_and_values_in_bash() {
    assert_eq!(bash_completes(&["avatars", "ser"]), ["serve"]);
    assert!(bash_completes(&["avatars", "serve", "--log-c"]).contains(&"--log-clients".to_owned()));
    assert_eq!(
        bash_completes(&["avatars", "serve", "--log-clients", ""]),
        ["full", "network", "off"]
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&avatars(&["completions", shell]));
        assert!(script.contains("render-ahead"), "{shell}");
    }
    let unknown = avatars(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("possible values: bash"),
        "{}",
        stderr(&unknown)
    );
}

/// `avatars man-pages DIR` writes a page for the command and each subcommand; each renders in
/// `man` with no warning from groff, and holds its subcommand's flags.
#[test]
fn man_pages_are_written_for_every_subcommand_and_render_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let written = avatars(&["man-pages", pages.to_str().unwrap()]);
    assert!(written.status.success(), "{}", stderr(&written));
    assert!(
        stdout(&written).starts_with("wrote 17 manual pages in "),
        "{}",
        stdout(&written)
    );
    for page in [
        "avatars.1",
        "avatars-serve.1",
        "avatars-config-check.1",
        "avatars-import.1",
    ] {
        assert!(pages.join(page).is_file(), "{page}");
    }
    let serve = std::fs::read_to_string(pages.join("avatars-serve.1")).unwrap();
    assert!(serve.contains("log\\-clients"), "the flags are in the page");
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("*** man is not installed: the pages were not rendered ***");
        return;
    }
    for entry in std::fs::read_dir(&pages).unwrap() {
        let path = entry.unwrap().path();
        let rendered = std::process::Command::new("man")
            .env("MANWIDTH", "80")
            .args(["--warnings", "-l"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            rendered.status.success(),
            "{}: {}",
            path.display(),
            stderr(&rendered)
        );
        assert!(
            stderr(&rendered).trim().is_empty(),
            "{}: {}",
            path.display(),
            stderr(&rendered)
        );
        assert!(stdout(&rendered).contains("NAME"), "{}", path.display());
    }
}

/// The names people try before reading `--help` point to the option meant, not to the one
/// spelt most alike: clap alone answered `--port` with `--formats`, `--listen` with `--store`,
/// `--verbose` with `--version`, and `import --bind` with "pass it as a value".
#[test]
fn an_option_by_another_name_points_to_the_one_meant() {
    let says = |args: &[&str], tip: &str, usage: &str| {
        let output = avatars(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(err.contains(tip), "{args:?}: {err}");
        assert!(err.contains(usage), "{args:?}: {err}");
        for wrong in ["'--formats'", "'--store'", "'--version'", "as a value"] {
            assert!(tip == wrong || !err.contains(wrong), "{args:?}: {err}");
        }
    };
    let serve_usage = "Usage: avatars serve [OPTIONS]";
    says(&["serve", "--port", "8080"], "'--addr'", serve_usage);
    says(&["serve", "--listen=127.0.0.1:80"], "'--addr'", serve_usage);
    says(
        &["serve", "--database", "postgres://x"],
        "'--store'",
        serve_usage,
    );
    says(&["serve", "--verbose"], "RUST_LOG=debug", serve_usage);
    // Misspelt, and in another case: still the one meant.
    says(&["serve", "--verbos"], "RUST_LOG=debug", serve_usage);
    says(
        &["serve", "--lisen", "127.0.0.1:80"],
        "'--addr'",
        serve_usage,
    );
    says(&["serve", "--DATA-DIR", "x"], "'--data-dir'", serve_usage);
    says(
        &["xmpp", "--host", "localhost"],
        "'--server'",
        "Usage: avatars xmpp",
    );
    // A name that means nothing for the command gets no tip rather than a wrong one.
    says(
        &["import", "--bind", "127.0.0.1:80", "a@example.org", "-"],
        "Usage: avatars import [OPTIONS]",
        "Usage: avatars import [OPTIONS]",
    );
    says(
        &["url", "--tls", "a@example.org"],
        "'--https'",
        "Usage: avatars url",
    );
    says(
        &["list", "--verbose"],
        "Usage: avatars list [OPTIONS]",
        "Usage: avatars list [OPTIONS]",
    );
    // A misspelling the table does not know still gets clap's nearest spelling.
    let output = avatars(&["serve", "--adress", "127.0.0.1:0"]);
    assert!(stderr(&output).contains("'--addr'"), "{}", stderr(&output));
}
