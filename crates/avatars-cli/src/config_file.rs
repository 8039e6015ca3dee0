//! `avatars serve --config FILE` and `avatars config check FILE`: a TOML file holding any flag
//! `serve` takes, under the flag's own name (`max-size = 2048`, `trusted-url = ["..."]`).
//!
//! The file becomes command-line arguments placed before the ones typed, and clap parses the
//! lot: values are checked exactly as flags are, and a flag typed on the command line overrides
//! the file (a repeatable flag, such as `--email`, adds to the file's list). A key that is not a
//! flag of `serve` is an error naming it and the accepted ones. `docs/serve.example.toml` is a
//! commented example, checked by the tests.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;

use crate::cli::{Cli, Command, ServeArgs};
use crate::commands::serve::check_start;
use crate::error::CliError;
use crate::other_names::{self, Meant};

/// Flags that make no sense in a file.
const NOT_IN_A_FILE: [&str; 3] = ["config", "help", "version"];

/// The command line with the file of `serve --config FILE` spliced in after `serve`; unchanged
/// for every other command, or without `--config`.
///
/// # Errors
/// [`CliError::Config`] for a file that cannot be read or is not a valid settings file.
pub(crate) fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, CliError> {
    // The subcommand comes first: `avatars serve ...`.
    let serve = 1;
    if args.get(serve).is_none_or(|arg| arg != "serve") {
        return Ok(args);
    }
    let Some(path) = config_path(&args[serve + 1..]) else {
        return Ok(args);
    };
    let from_file = file_args(&path)?;
    // The file's values alone first, so a bad one is reported against the file.
    parse_serve(&path, &from_file)?;
    let mut expanded = args[..=serve].to_vec();
    expanded.extend(from_file);
    expanded.extend_from_slice(&args[serve + 1..]);
    Ok(expanded)
}

/// The value of `--config FILE` or `--config=FILE`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// The long names of `serve`'s flags that a file may hold.
fn accepted() -> Vec<String> {
    let command = Cli::command();
    let Some(serve) = command.find_subcommand("serve") else {
        return Vec::new();
    };
    serve
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_owned))
        .filter(|long| !NOT_IN_A_FILE.contains(&long.as_str()))
        .collect()
}

/// What is wrong with a file that is not TOML, and where: the line and column, and the line
/// itself (the parser's message alone, "invalid boolean", does not say that `rate-limit =
/// fifty` is the line at fault).
fn not_toml(text: &str, err: &toml::de::Error) -> String {
    let Some(at) = err.span().map(|span| span.start.min(text.len())) else {
        return format!("not valid TOML: {}", err.message());
    };
    let before = text.get(..at).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    let the_line = text
        .get(line_start..)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end();
    // A bare word where a value goes that starts as `true` or `false` would (`fifty`): the
    // parser reads it as a misspelt one, and says so rather than that it needs quotes.
    let rest = text.get(at..).unwrap_or_default();
    let hint = if rest.starts_with(char::is_alphabetic) && !err.message().contains("quoted") {
        "; text values go in double quotes (`log-format = \"json\"`), numbers and true or false without"
    } else {
        ""
    };
    format!(
        "not valid TOML at line {line}, column {column} (`{the_line}`): {}{hint}",
        err.message()
    )
}

/// The file's settings as `--flag value` arguments.
///
/// # Errors
/// [`CliError::Config`] naming what is wrong and what is accepted.
pub(crate) fn file_args(path: &Path) -> Result<Vec<OsString>, CliError> {
    settings_args(path, &read_settings(path)?)
}

/// The file's settings as TOML, unchecked but for the syntax.
///
/// # Errors
/// [`CliError::Config`] for a file that cannot be read or is not TOML, saying where.
pub(crate) fn read_settings(path: &Path) -> Result<toml::Table, CliError> {
    let problem = |problem: String| CliError::Config {
        path: path.to_owned(),
        problem,
    };
    let text =
        std::fs::read_to_string(path).map_err(|err| problem(format!("cannot read it: {err}")))?;
    text.parse()
        .map_err(|err: toml::de::Error| problem(not_toml(&text, &err)))
}

/// What a reload (SIGHUP) says of the settings file `serve` started with, which it does not
/// apply: `None` while the file holds the same settings (comments and layout aside);
/// otherwise which settings changed, that they apply at a restart, and whether a restart would
/// start with them. Operators edit the file, `systemctl reload`, and take the change for made.
pub(crate) fn changed_since(path: &Path, started_with: &toml::Table) -> Option<String> {
    let now = match read_settings(path) {
        Ok(now) if now == *started_with => return None,
        Ok(now) => now,
        Err(err) => {
            return Some(format!(
                "{err}; the server goes on with the settings it started with, and a restart would fail"
            ));
        }
    };
    let mut changed: Vec<&str> = started_with
        .keys()
        .chain(now.keys())
        .filter(|key| started_with.get(*key) != now.get(*key))
        .map(String::as_str)
        .collect();
    changed.sort_unstable();
    changed.dedup();
    let restart = match settings_args(path, &now).and_then(|args| parse_serve(path, &args)) {
        Ok(_) => format!(
            "they apply at a restart (check the files they name first: avatars config check {})",
            path.display()
        ),
        Err(err) => format!("a restart would fail: {err}"),
    };
    Some(format!(
        "{} changed since the server started ({}), and a reload reads again only the TLS certificate and key, the admin tokens and the proxy keys: {restart}",
        path.display(),
        changed.join(", ")
    ))
}

/// `table`'s settings as `--flag value` arguments.
fn settings_args(path: &Path, table: &toml::Table) -> Result<Vec<OsString>, CliError> {
    let problem = |problem: String| CliError::Config {
        path: path.to_owned(),
        problem,
    };
    let accepted = accepted();
    let mut args = Vec::new();
    for (key, value) in table {
        if value.is_table() {
            return Err(problem(format!(
                "[{key}] is a section, and settings go at the top of the file, in no section: `addr = \"127.0.0.1:8080\"` as its own line, as in docs/serve.example.toml"
            )));
        }
        if !accepted.contains(key) {
            // What the name means for `serve` (`port`: `addr`), or else, as clap suggests a
            // flag for a misspelt one (`adress`: `addr`), the closest by Jaro similarity over 0.7.
            let hint = match other_names::meant(key, &accepted) {
                Some(Meant::Option(name)) => format!(" (did you mean {name:?}?)"),
                Some(Meant::Elsewhere(how)) => format!(" ({how})"),
                Some(Meant::Nothing) => String::new(),
                None => accepted
                    .iter()
                    .filter(|name| strsim::jaro(name, key) > 0.7)
                    .max_by(|a, b| strsim::jaro(a, key).total_cmp(&strsim::jaro(b, key)))
                    .map_or_else(String::new, |name| format!(" (did you mean {name:?}?)")),
            };
            return Err(problem(format!(
                "unknown setting {key:?}{hint}; accepted: {}",
                accepted.join(", ")
            )));
        }
        let flag = format!("--{key}");
        let mut push = |value: &toml::Value| -> Result<(), CliError> {
            match value {
                toml::Value::Boolean(true) => args.push(OsString::from(&flag)),
                toml::Value::Boolean(false) => {}
                toml::Value::String(text) => {
                    args.push(OsString::from(&flag));
                    args.push(OsString::from(text));
                }
                toml::Value::Integer(number) => {
                    args.push(OsString::from(&flag));
                    args.push(OsString::from(number.to_string()));
                }
                toml::Value::Float(number) => {
                    args.push(OsString::from(&flag));
                    args.push(OsString::from(number.to_string()));
                }
                _ => {
                    return Err(problem(format!(
                        "{key}: expected a string, number, boolean or a list of them"
                    )));
                }
            }
            Ok(())
        };
        match value {
            toml::Value::Array(items) => items.iter().try_for_each(&mut push)?,
            single => push(single)?,
        }
    }
    Ok(args)
}

/// Parses `avatars serve SETTINGS` as clap would, so every value is checked as its flag is.
fn parse_serve(path: &Path, settings: &[OsString]) -> Result<ServeArgs, CliError> {
    use clap::Parser as _;

    let mut args: Vec<OsString> = vec!["avatars".into(), "serve".into()];
    args.extend(settings.iter().cloned());
    let problem = |problem: String| CliError::Config {
        path: path.to_owned(),
        problem,
    };
    let cli = Cli::try_parse_from(args).map_err(|err| {
        problem(
            err.to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_owned(),
        )
    })?;
    match cli.command {
        Command::Serve(args) => Ok(args),
        // `avatars serve ...` parses as nothing else.
        _ => Err(problem("not settings of avatars serve".to_owned())),
    }
}

/// `avatars config check FILE`: whether `serve --config FILE` would start with these
/// settings: every value checked as the flag would be, then (unless `values_only`) every file
/// they name read as `serve` reads it at start, a PostgreSQL store connected to and
/// inspected, and the service and proxy built with them ([`check_start`]); one line either way.
///
/// # Errors
/// [`CliError::Config`] naming the first problem with a value, or the error `serve` would
/// stop with for the first file it cannot use.
pub(crate) fn check(
    path: &Path,
    values_only: bool,
    out: &mut impl std::io::Write,
) -> Result<(), CliError> {
    let settings = file_args(path)?;
    let args = parse_serve(path, &settings)?;
    let checked = check_start(&args, values_only)?;
    // A list is one setting however many times its flag is given.
    let flags = settings
        .iter()
        .filter(|arg| arg.to_string_lossy().starts_with("--"))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let read = checked
        .read
        .map_or_else(String::new, |read| format!("; read: {read}"));
    let database = checked
        .database
        .map_or_else(String::new, |found| format!("; {found}"));
    writeln!(
        out,
        "{}: ok, {flags} setting(s) for avatars serve{read}{database}",
        path.display()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Whatever a settings file holds (any text, TOML-looking or not, multi-byte
        /// characters included), reading it gives settings or an error naming where, never a
        /// panic.
        #[test]
        fn any_file_is_settings_or_an_error(text in r#"(\PC|\n|=|\[|\]|"|'|#){0,80}"#) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("serve.toml");
            std::fs::write(&path, &text).unwrap();
            if let Err(err) = super::file_args(&path) {
                prop_assert!(err.to_string().contains("serve.toml"));
            }
        }
    }
}
