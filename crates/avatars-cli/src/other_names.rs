//! What people type for the options `avatars` names otherwise, and what they meant.
//!
//! Someone starting a server tries `--port`, `--listen` or `--bind` before reading `--help`.
//! clap then suggests the flag spelt most alike, which is rarely the one meant: `--port` got
//! `--formats`, `--listen` got `--store`, `--verbose` got `--version`; and for a command taking
//! arguments it said to pass `--bind` as a value. A settings file's unknown key had the same
//! suggestions. This table says what such a name means for each command, or that it means
//! nothing there (`import --port`: no tip, rather than `--formats`); where it is silent, the
//! nearest spelling is still suggested. (clap's aliases would accept these names, but then `--port 80`
//! would have to mean an address, and a file could set one option under two names.)

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory as _, Parser as _};

use crate::cli::Cli;

/// What an option name the command does not have most likely meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meant {
    /// One of the command's own options (its long name, without dashes).
    Option(&'static str),
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

/// What `name` (an option a command does not have, without dashes) most likely meant, given
/// which options the command has.
pub(crate) fn meant(name: &str, has: impl Fn(&str) -> bool) -> Option<Meant> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    let option = meanings(&name).find(|option| has(option));
    if let Some(option) = option {
        return Some(Meant::Option(option));
    }
    if LOGGING_NAMES.contains(&name.as_str()) && has("log-format") {
        return Some(Meant::Elsewhere(LOGGING));
    }
    // A name the table knows, for a command with nothing like it (`import --port`,
    // `list --verbose`): clap's nearest spelling (`--formats`, `--version`) would mislead.
    let known = LOGGING_NAMES.contains(&name.as_str()) || meanings(&name).next().is_some();
    known.then_some(Meant::Nothing)
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
    let has = |long: &str| {
        command
            .get_arguments()
            .any(|arg| arg.get_long() == Some(long))
    };
    let Some(meant) = meant(&name, has) else {
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

    /// Which options `command` has.
    fn options_of(command: &str) -> impl Fn(&str) -> bool {
        let command = Cli::command()
            .find_subcommand(command)
            .expect("a subcommand")
            .clone();
        move |long| {
            command
                .get_arguments()
                .any(|arg| arg.get_long() == Some(long))
        }
    }

    #[test]
    fn what_a_server_option_was_meant_to_be() {
        let serve = options_of("serve");
        for name in ["port", "listen", "bind", "host", "LISTEN_ADDR"] {
            assert_eq!(meant(name, &serve), Some(Meant::Option("addr")), "{name}");
        }
        assert_eq!(meant("tls", &serve), Some(Meant::Option("tls-addr")));
        assert_eq!(meant("cert", &serve), Some(Meant::Option("tls-cert")));
        assert_eq!(meant("dir", &serve), Some(Meant::Option("data-dir")));
        assert_eq!(meant("database", &serve), Some(Meant::Option("store")));
        assert_eq!(
            meant("metrics-addr", &serve),
            Some(Meant::Option("admin-addr"))
        );
        assert_eq!(meant("verbose", &serve), Some(Meant::Elsewhere(LOGGING)));
        assert_eq!(meant("formatz", &serve), None, "left to clap's spelling");
    }

    #[test]
    fn each_command_gets_an_option_it_has() {
        let xmpp = options_of("xmpp");
        assert_eq!(meant("host", &xmpp), Some(Meant::Option("server")));
        assert_eq!(meant("metrics", &xmpp), Some(Meant::Option("metrics-addr")));
        assert_eq!(meant("password", &xmpp), Some(Meant::Option("secret")));
        assert_eq!(
            meant("key", options_of("proxy-url")),
            Some(Meant::Option("key-file"))
        );
        assert_eq!(
            meant("debug", options_of("url")),
            Some(Meant::Option("verbose"))
        );
        // What the name means elsewhere is nothing here: no option of that kind, no log to
        // set; and clap's nearest spelling is not said either.
        let import = options_of("import");
        assert_eq!(meant("port", &import), Some(Meant::Nothing));
        assert_eq!(meant("verbose", &import), Some(Meant::Nothing));
        assert_eq!(meant("key", options_of("hash")), Some(Meant::Nothing));
        // `url`'s own flags for the same words.
        let url = options_of("url");
        assert_eq!(meant("http", &url), Some(Meant::Option("scheme")));
        assert_eq!(meant("tls", &url), Some(Meant::Option("https")));
        assert_eq!(
            meant("http", options_of("serve")),
            Some(Meant::Option("addr"))
        );
        assert_eq!(meant("db", &import), Some(Meant::Option("store")));
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
