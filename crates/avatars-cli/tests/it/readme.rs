//! The README's transcripts are real output: every `$ avatars ...` line of them is run, in
//! order, each transcript in a folder of its own, and prints what the README shows.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{AVATARS, avatars_in};

/// One `$ ...` line of a README transcript and the lines shown after it.
pub(crate) struct Example {
    /// The command's words, as a shell would split them (double quotes only).
    pub(crate) words: Vec<String>,
    /// The line as the README shows it, for messages.
    pub(crate) line: String,
    /// What the README shows it printing, stderr and stdout as a terminal interleaves them.
    pub(crate) printed: Vec<String>,
}

/// The README's transcripts (its `text` blocks with a `$ ` line), each a list of examples.
pub(crate) fn transcripts() -> Vec<Vec<Example>> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    readme
        .split("```text\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```"))
        .map(|(block, _)| examples_of(block))
        .filter(|examples| !examples.is_empty())
        .collect()
}

/// The `$ ...` lines of a transcript, a trailing `&` or `# comment` left out, and the lines
/// after each.
fn examples_of(block: &str) -> Vec<Example> {
    let lines: Vec<&str> = block.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(index, line)| {
            let command = line.strip_prefix("$ ")?;
            let command = command
                .split_once("  #")
                .map_or(command, |(command, _)| command);
            let command = command.trim_end().trim_end_matches('&');
            let printed = lines[index + 1..]
                .iter()
                .take_while(|line| !line.is_empty() && !line.starts_with("$ "))
                .map(|line| (*line).to_owned())
                .collect();
            Some(Example {
                words: words(command),
                line: (*line).to_owned(),
                printed,
            })
        })
        .collect()
}

/// `command` split into words at spaces, a double-quoted word kept whole.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = command.trim();
    while !rest.is_empty() {
        let (word, tail) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("a closing quote");
            (&quoted[..end], &quoted[end + 1..])
        } else {
            rest.split_at(rest.find(' ').unwrap_or(rest.len()))
        };
        words.push(word.to_owned());
        rest = tail.trim_start();
    }
    words
}

/// Every example is run but `url` (checked against a DNS server by `url_discovery`), `xmpp`
/// (which needs an XMPP server: `xmpp_servers` runs it against Prosody and ejabberd) and those
/// naming a `postgres://` store (`postgres` runs them against a real database). Each prints
/// what the README shows, where `…` in a line stands for any text (a proxy token, an ETag),
/// and `avatars list`'s lines may come in any order (the store's, which for a folder is the
/// file system's). `serve` runs, in the background, until the transcript ends; the `curl -sI`
/// after it must be answered with the headers shown, a `…` line standing for those not shown.
#[test]
fn the_readme_transcripts_are_real_output() {
    let mut run = 0;
    for transcript in transcripts() {
        let dir = tempfile::tempdir().unwrap();
        test_support::images::bands(120, 90)
            .save(dir.path().join("george.png"))
            .unwrap();
        let alice = test_support::images::photo_like(640, 480);
        let alice = test_support::images::encode(&alice, image::ImageFormat::Jpeg);
        std::fs::write(dir.path().join("alice.jpg"), alice).unwrap();
        let mut server = None;
        for example in &transcript {
            let args: Vec<&str> = example.words[1..].iter().map(String::as_str).collect();
            let skipped = matches!(args.first(), Some(&("url" | "xmpp")))
                || args.iter().any(|arg| arg.starts_with("postgres://"));
            match example.words[0].as_str() {
                "avatars" if skipped => continue,
                "avatars" if args[0] == "serve" => {
                    server = Some(Served::start(dir.path(), &args, example));
                }
                "avatars" => {
                    let output = avatars_in(dir.path(), &args);
                    assert!(
                        output.status.success(),
                        "{}: {}",
                        example.line,
                        String::from_utf8_lossy(&output.stderr)
                    );
                    let printed = format!(
                        "{}{}",
                        String::from_utf8_lossy(&output.stderr),
                        String::from_utf8_lossy(&output.stdout)
                    );
                    let mut printed: Vec<&str> = printed.lines().collect();
                    let mut shown: Vec<&str> = example.printed.iter().map(String::as_str).collect();
                    if args == ["list"] {
                        printed.sort_unstable();
                        shown.sort_unstable();
                    }
                    assert_shown(&shown, &printed, example);
                }
                "curl" => check_head(server.as_ref().expect("curl follows serve"), example),
                _ => panic!(
                    "the transcript runs only avatars and curl: {}",
                    example.line
                ),
            }
            run += 1;
        }
    }
    assert!(run >= 9, "only {run} of the README's examples were run");
}

/// Whether each line `printed` is the line `shown` (`…` standing for any text), as many as
/// shown.
fn assert_shown(shown: &[&str], printed: &[&str], example: &Example) {
    assert!(
        shown.len() == printed.len()
            && shown
                .iter()
                .zip(printed)
                .all(|(shown, printed)| elided_match(shown, printed)),
        "{}\nthe README shows:\n{}\nit printed:\n{}",
        example.line,
        shown.join("\n"),
        printed.join("\n")
    );
}

/// An `avatars serve` of a transcript, killed when dropped.
struct Served {
    child: std::process::Child,
    /// The port it listens on.
    port: String,
    /// The port the README shows it listening on.
    shown_port: String,
}

impl Served {
    /// Starts `avatars serve ARGS` in `dir` (on a free port when the README shows it on a
    /// fixed one) with stderr and stdout on one pipe, as a terminal shows them, and checks
    /// what it prints up to its `serving` line and as many lines as the README shows.
    fn start(dir: &Path, args: &[&str], example: &Example) -> Self {
        let shown_port = example
            .printed
            .iter()
            .find_map(|line| line.strip_prefix("listening on http://"))
            .and_then(|addr| addr.rsplit_once(':'))
            .expect("the README shows the listening line")
            .1
            .to_owned();
        let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        match args.iter().position(|arg| arg == "--addr") {
            Some(at) => "127.0.0.1:0".clone_into(&mut args[at + 1]),
            None => args.extend(["--addr".to_owned(), "127.0.0.1:0".to_owned()]),
        }
        let child = Command::new("sh")
            .current_dir(dir)
            .args(["-c", "exec \"$0\" \"$@\" 2>&1", AVATARS])
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Made at once, so that a failed check below still stops the server.
        let mut served = Self {
            child,
            port: String::new(),
            shown_port,
        };
        let mut output = BufReader::new(served.child.stdout.take().unwrap());
        let mut printed = Vec::new();
        let mut port = None;
        let mut serving = false;
        while !serving || printed.len() < example.printed.len() {
            let mut line = String::new();
            if output.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            if let Some(addr) = line.strip_prefix("listening on http://") {
                port = Some(addr.rsplit_once(':').unwrap().1.to_owned());
            }
            serving |= line.starts_with("serving ");
            printed.push(line);
        }
        served.port = port.unwrap_or_else(|| panic!("no listening line: {printed:?}"));
        let (port, shown_port) = (&served.port, &served.shown_port);
        let printed: Vec<String> = printed
            .iter()
            .map(|line| line.replace(&format!(":{port}"), &format!(":{shown_port}")))
            .collect();
        let printed: Vec<&str> = printed.iter().map(String::as_str).collect();
        let shown: Vec<&str> = example.printed.iter().map(String::as_str).collect();
        assert_shown(&shown, &printed, example);
        served
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the `curl -sI 'URL'` of `example` as a `HEAD` to `server`, and checks its status line
/// and the headers shown.
fn check_head(server: &Served, example: &Example) {
    let url = example.words.last().unwrap().trim_matches('\'').replace(
        &format!(":{}/", server.shown_port),
        &format!(":{}/", server.port),
    );
    let (addr, path) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .expect("an http URL");
    let response = test_support::raw_http::request(
        addr,
        format!("HEAD /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let (status_line, headers) = example.printed.split_first().expect("a status line");
    assert_eq!(
        status_line,
        &format!("HTTP/1.1 {} OK", response.status),
        "{}",
        example.line
    );
    for shown in headers.iter().filter(|line| *line != "…") {
        let found = response
            .headers
            .lines()
            .any(|line| elided_match(shown, line));
        assert!(
            found,
            "{}: {shown:?} is not among\n{}",
            example.line, response.headers
        );
    }
}

/// Whether `line` is `shown`, where each `…` of `shown` stands for any text.
fn elided_match(shown: &str, line: &str) -> bool {
    let parts: Vec<&str> = shown.split('…').collect();
    let (first, after_first) = parts.split_first().expect("split gives a part");
    let Some((last, middle)) = after_first.split_last() else {
        return line == shown;
    };
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        let Some(at) = rest.find(part) else {
            return false;
        };
        rest = &rest[at + part.len()..];
    }
    rest.ends_with(last)
}
