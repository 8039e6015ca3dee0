//! What people type for the options `avatars` names otherwise, and what they meant.
//!
//! Someone starting a server tries `--port`, `--listen` or `--bind` before reading `--help`.
//! clap then suggests the flag spelt most alike, which is rarely the one meant: `--port` got
//! `--formats`, `--listen` got `--store`, `--verbose` got `--version`; and for a command taking
//! arguments it said to pass `--bind` as a value. A settings file's unknown key had the same
//! suggestions. This table says what such a name (or a misspelling of it) means for each
//! command, or that it means nothing there (`import --port`: no tip, rather than `--formats`);
//! where it is silent, the nearest spelling is still suggested. (clap's aliases would accept
//! these names, but then `--port 80` would have to mean an address, and a file could set one
//! option under two names.)

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory as _, Parser as _};

use crate::cli::Cli;

/// What an option name the command does not have most likely meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Meant {
    /// One of the command's own options (its long name, without dashes).
    Option(String),
    /// Nothing an option of this command sets: how it is done instead.
    Elsewhere(&'static str),
    /// Nothing the command has or does: clap's nearest spelling (`--verbose`: `--version`)
    /// is not said.
    Nothing,
}

/// Names people use, and the options they mean, the first one a command has winning: `--host`
/// is `serve --addr` but `xmpp --server`.
const OTHER_NAMES: &[(&[&str], &[&str])] = &[
    (
        &[
            "listen",
            "listen-addr",
            "listen-address",
            "bind",
            "bind-addr",
            "port",
            "host",
            "address",
        ],
        &["addr", "server"],
    ),
    // `serve --http ADDR` is its address; `url --http`, the scheme.
    (&["http", "http-addr", "http-port"], &["addr", "scheme"]),
    (
        &[
            "tls",
            "tls-port",
            "tls-listen",
            "https",
            "https-addr",
            "https-port",
            "ssl",
        ],
        &["tls-addr", "https"],
    ),
    (
        &[
            "cert",
            "certificate",
            "tls-certificate",
            "ssl-cert",
            "tls-cert-file",
        ],
        &["tls-cert"],
    ),
    (
        &[
            "key",
            "private-key",
            "tls-private-key",
            "ssl-key",
            "tls-key-file",
        ],
        &["tls-key", "key-file", "secret"],
    ),
    (
        &[
            "dir",
            "data",
            "datadir",
            "data-directory",
            "root",
            "path",
            "storage",
            "storage-dir",
        ],
        &["data-dir"],
    ),
    (
        &[
            "db",
            "database",
            "database-url",
            "postgres",
            "postgresql",
            "dsn",
            "pg",
        ],
        &["store"],
    ),
    (
        &["metrics", "metrics-port", "metrics-address", "prometheus"],
        &["metrics-addr", "admin-addr"],
    ),
    (&["metrics-addr"], &["admin-addr"]),
    (
        &["token", "admin-token", "api-token"],
        &["admin-token-file"],
    ),
    (
        &["password", "component-secret", "shared-secret"],
        &["secret"],
    ),
    (&["debug"], &["verbose"]),
];

/// Names for how much is logged, which the environment sets for the commands that log.
const LOGGING_NAMES: &[&str] = &[
    "verbose",
    "debug",
    "trace",
    "quiet",
    "silent",
    "log-level",
    "loglevel",
    "log",
];

/// How logging is set, for a command that logs (one with `--log-format`).
const LOGGING: &str = "how much is logged is set by the environment: RUST_LOG=debug for more, \
                       RUST_LOG=warn for less, which also silences the access log";

/// How near (Jaro similarity) a name must be to one of the table's to count as a misspelling
/// of it (`lisen`: `listen`, 0.94; `por`: `port`, 0.92), when no option of the command is
/// nearer.
const NEAR: f64 = 0.85;

/// What `given` (an option the command does not have, without dashes) most likely meant,
/// given the command's `options`: the option itself in another case or with `_`
/// (`--DATA_DIR`); else what the table says of the name it holds nearest to this one, when
/// that is nearer than any option (`--verbos` is `verbose`, not `--version`). `None` leaves
/// the nearest option's spelling to the caller (`--adr`: `--addr`).
pub(crate) fn meant(given: &str, options: &[impl AsRef<str>]) -> Option<Meant> {
    let name = given.to_ascii_lowercase().replace('_', "-");
    let has = |wanted: &str| options.iter().any(|option| option.as_ref() == wanted);
    if has(&name) {
        return Some(Meant::Option(name));
    }
    let nearest_option = options
        .iter()
        .map(|option| strsim::jaro(option.as_ref(), &name))
        .fold(0.0, f64::max);
    let (known, nearness) = OTHER_NAMES
        .iter()
        .flat_map(|(names, _)| names.iter())
        .chain(LOGGING_NAMES)
        .map(|known| (*known, strsim::jaro(known, &name)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if nearness < NEAR || nearness <= nearest_option {
        return None;
    }
    if let Some(option) = meanings(known).find(|option| has(option)) {
        return Some(Meant::Option(option.to_owned()));
    }
    if LOGGING_NAMES.contains(&known) && has("log-format") {
        return Some(Meant::Elsewhere(LOGGING));
    }
    // A name the table knows, for a command with nothing like it (`import --port`,
    // `list --verbose`): clap's nearest spelling (`--formats`, `--version`) would mislead.
    Some(Meant::Nothing)
}

/// The options `name` (lowercase, `-` between words) may mean, the likeliest first.
fn meanings(name: &str) -> impl Iterator<Item = &'static str> {
    OTHER_NAMES
        .iter()
        .filter(move |(names, _)| names.contains(&name))
        .flat_map(|(_, options)| options.iter().copied())
}

/// The command line parsed, or its error printed (with what an unknown option meant, where
/// [`meant`] knows) and the process ended, as `Cli::parse_from` does.
pub(crate) fn parse_or_exit(args: &[OsString]) -> Cli {
    match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => explained(err, args).exit(),
    }
}

/// `err` with clap's suggestion replaced by what the unknown option meant, when it is known.
fn explained(mut err: clap::Error, args: &[OsString]) -> clap::Error {
    if err.kind() != ErrorKind::UnknownArgument {
        return err;
    }
    let Some(ContextValue::String(given)) = err.get(ContextKind::InvalidArg) else {
        return err;
    };
    let Some(name) = given.strip_prefix("--").or_else(|| given.strip_prefix('-')) else {
        return err;
    };
    let name = name
        .split_once('=')
        .map_or(name, |(name, _)| name)
        .to_owned();
    let mut root = Cli::command();
    root.build();
    let Some(command) = subcommand_of(&mut root, args) else {
        return err;
    };
    let options: Vec<&str> = command
        .get_arguments()
        .filter_map(clap::Arg::get_long)
        .collect();
    let Some(meant) = meant(&name, &options) else {
        return err;
    };
    let usage = command.render_usage();
    // clap's own tips (the flag spelt most alike, or "to pass it as a value, use `--`") are
    // replaced, and so is the usage line, which showed the flag clap suggested.
    err.remove(ContextKind::SuggestedArg);
    err.remove(ContextKind::Suggested);
    match meant {
        Meant::Option(long) => {
            err.insert(
                ContextKind::SuggestedArg,
                ContextValue::String(format!("--{long}")),
            );
        }
        Meant::Elsewhere(how) => {
            err.insert(
                ContextKind::Suggested,
                ContextValue::StyledStrs(vec![how.into()]),
            );
        }
        Meant::Nothing => {}
    }
    err.insert(ContextKind::Usage, ContextValue::StyledStr(usage));
    err
}

/// The (sub)command `args` run: `avatars config check` is `check`. `None` for the top level,
/// which has no options to mean.
fn subcommand_of<'a>(
    command: &'a mut clap::Command,
    args: &[OsString],
) -> Option<&'a mut clap::Command> {
    let mut current = command;
    let mut depth = 0;
    for arg in args.iter().skip(1).filter_map(|arg| arg.to_str()) {
        if arg.starts_with('-') {
            continue;
        }
        if current.find_subcommand(arg).is_none() {
            break;
        }
        current = current.find_subcommand_mut(arg)?;
        depth += 1;
    }
    (depth > 0).then_some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options `command` has.
    fn options_of(command: &str) -> Vec<String> {
        Cli::command()
            .find_subcommand(command)
            .expect("a subcommand")
            .get_arguments()
            .filter_map(clap::Arg::get_long)
            .map(str::to_owned)
            .collect()
    }

    /// What a name means, by command: an option (`--NAME`), the logging tip (`RUST_LOG`), no
    /// tip (`-`), or clap's nearest spelling left as it is (`clap`).
    const MEANINGS: &[(&str, &str, &str)] = &[
        ("serve", "port", "--addr"),
        ("serve", "listen", "--addr"),
        ("serve", "bind", "--addr"),
        ("serve", "host", "--addr"),
        ("serve", "LISTEN_ADDR", "--addr"),
        ("serve", "http", "--addr"),
        ("serve", "tls", "--tls-addr"),
        ("serve", "cert", "--tls-cert"),
        ("serve", "dir", "--data-dir"),
        ("serve", "database", "--store"),
        ("serve", "metrics-addr", "--admin-addr"),
        ("serve", "verbose", "RUST_LOG"),
        ("serve", "formatz", "clap"),
        // Misspellings: of an option, in another case, or of one of the table's names, which
        // wins only when no option is nearer (`adr` is `addr`'s).
        ("serve", "DATA_DIR", "--data-dir"),
        ("serve", "lisen", "--addr"),
        ("serve", "por", "--addr"),
        ("serve", "verbos", "RUST_LOG"),
        ("serve", "adr", "clap"),
        // Each command gets an option it has.
        ("xmpp", "host", "--server"),
        ("xmpp", "metrics", "--metrics-addr"),
        ("xmpp", "password", "--secret"),
        ("proxy-url", "key", "--key-file"),
        ("url", "debug", "--verbose"),
        ("url", "http", "--scheme"),
        ("url", "tls", "--https"),
        ("import", "db", "--store"),
        // What the name means elsewhere is nothing here: no option of that kind, no log to
        // set; and clap's nearest spelling is not said either.
        ("import", "port", "-"),
        ("import", "verbose", "-"),
        ("hash", "key", "-"),
    ];

    #[test]
    fn what_each_name_means_for_each_command() {
        for &(command, name, expected) in MEANINGS {
            let got = match meant(name, &options_of(command)) {
                Some(Meant::Option(option)) => format!("--{option}"),
                Some(Meant::Elsewhere(how)) => {
                    assert_eq!(how, LOGGING);
                    "RUST_LOG".to_owned()
                }
                Some(Meant::Nothing) => "-".to_owned(),
                None => "clap".to_owned(),
            };
            assert_eq!(got, expected, "{command} --{name}");
        }
    }

    #[test]
    fn every_option_named_is_one_a_command_has() {
        let command = Cli::command();
        let all: Vec<&str> = command
            .get_subcommands()
            .flat_map(clap::Command::get_arguments)
            .filter_map(clap::Arg::get_long)
            .collect();
        for (_, options) in OTHER_NAMES {
            for option in *options {
                assert!(
                    all.contains(option),
                    "--{option} is no option of any command"
                );
            }
        }
    }
}
