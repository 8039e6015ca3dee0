//! `avatars`: federated avatars from the command line.
//!
//! ```text
//! avatars serve [--addr 127.0.0.1:8080] [--data-dir DIR] [--email ADDR=FILE]...
//! avatars import [--data-dir DIR] IDENTITY FILE|-
//! avatars export [--data-dir DIR] IDENTITY FILE|-
//! avatars remove [--data-dir DIR] IDENTITY
//! avatars list [--json] [--data-dir DIR | --store postgres://USER@HOST/DB[?sslmode=verify-full]]
//! avatars migrate --from DIR|URL --to DIR|URL
//! avatars render-ahead --render-ahead PX,... [--data-dir DIR | --store URL --render-files-dir DIR]
//! avatars xmpp --server HOST:PORT --domain DOMAIN --secret SECRET [--data-dir DIR] [--identity-domain D]...
//!              [--mirror-subscribers [--mirror-overwrites]] [--subscriptions-file FILE]
//!              [--metrics-addr 127.0.0.1:9091] [--log-format json]
//! avatars hash [--json] IDENTITY
//! avatars url --no-discovery [--https] [--size N] [--default D] [--force-default] [--sha256] IDENTITY
//! avatars serve --tls-addr 0.0.0.0:443 --tls-cert FILE --tls-key FILE   (HTTPS; SIGHUP reloads)
//! avatars serve --trusted-proxy 127.0.0.1 [--forwarded-header forwarded]   (behind nginx, HAProxy)
//! avatars serve --admin-addr 127.0.0.1:9090 --admin-token-file FILE   (metrics, health, management API)
//! avatars serve --config FILE          (every serve flag, in TOML; flags override the file)
//! avatars config check [--values-only] FILE   (values, then the files they name, as serve reads them)
//! ```
//!
//! Bad input exits with status 2 and one line on stderr.

// A closed stderr (a log reader gone, `2>&-`) made `eprintln!` panic: in a request's task, the
// access log's write dropped every connection unanswered. `stderr_line!` instead.
#![deny(
    clippy::print_stderr,
    reason = "stderr_line! writes to stderr without panicking when it cannot"
)]

/// `eprintln!` for what a command tells its operator, without its panic when stderr cannot be
/// written (closed, or a pipe whose reader went away): the line is lost, and a server goes on
/// answering its requests.
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// What a running server tells its operator (it listens, a reload, a warning, it stopped):
/// a line on stderr, or with `--log-format json` an event of the log, so that every line of a
/// JSON log is JSON. A line starting `avatars: warning: ` or `warning: ` is a warning, one
/// starting `avatars: ` an error, any other information.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::commands::say(&format!($($arg)*))
    };
}

mod cli;
mod commands;
mod config_file;
mod error;
mod other_names;
mod owner;
mod renditions;
mod server;
mod store;

use std::io::{self, Write as _};
use std::process::ExitCode;

use crate::cli::{Command, ConfigCommand};
use crate::error::CliError;

fn main() -> ExitCode {
    owner::keep_what_is_written_private();
    let args = match config_file::expand(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(err) => {
            stderr_line!("avatars: {err}");
            return ExitCode::from(err.exit_code());
        }
    };
    let cli = other_names::parse_or_exit(&args);
    let mut stdout = UntilTheReaderGoes::new(io::stdout().lock());
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(&args, &mut stdout),
        Command::Import(args) => commands::import::run(&args, &mut stdout),
        Command::Remove(args) => commands::remove::run(&args, &mut stdout),
        Command::Export(args) => commands::export::run(&args, &mut stdout),
        Command::List(args) => commands::list::run(&args, &mut stdout),
        Command::Migrate(args) => commands::migrate::run(&args, &mut stdout),
        Command::RenderAhead(args) => commands::render_ahead::run(&args, &mut stdout),
        Command::Xmpp(args) => commands::xmpp::run_component(&args, &mut stdout),
        Command::Hash(args) => commands::hash::run(&args, &mut stdout),
        Command::Url(args) => commands::url::run(&args, &mut stdout),
        Command::ProxyKey(args) => commands::proxy::key(&args, &mut stdout),
        Command::ProxyUrl(args) => commands::proxy::url(&args, &mut stdout),
        Command::Completions { shell } => commands::manual::completions(shell, &mut stdout),
        Command::ManPages { dir } => commands::manual::man_pages(&dir, &mut stdout),
        Command::Config(ConfigCommand::Check { file, values_only }) => {
            config_file::check(&file, values_only, &mut stdout)
        }
    };
    let result = result.and_then(|()| stdout.flush().map_err(CliError::Output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            stderr_line!("avatars: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Standard output for the commands: once its reader has gone (`avatars list | head -1`, a
/// picture piped to a program that has seen enough), what is written to it is dropped and the
/// command carries on to its own end and exit status. Without it the broken pipe stopped a
/// command half-way with an error: an import between two pictures, a server at its next line.
/// (No crate does this small thing; `std` reports the pipe, `eprintln!`-style macros panic.)
struct UntilTheReaderGoes<W> {
    inner: W,
    reader_gone: bool,
}

impl<W: io::Write> UntilTheReaderGoes<W> {
    const fn new(inner: W) -> Self {
        Self {
            inner,
            reader_gone: false,
        }
    }

    /// `done` unless the reader has gone, which is then remembered.
    fn unless_gone<T>(&mut self, done: io::Result<T>, dropped: T) -> io::Result<T> {
        match done {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                self.reader_gone = true;
                Ok(dropped)
            }
            other => other,
        }
    }
}

impl<W: io::Write> io::Write for UntilTheReaderGoes<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.reader_gone {
            return Ok(buf.len());
        }
        let written = self.inner.write(buf);
        self.unless_gone(written, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.reader_gone {
            return Ok(());
        }
        let flushed = self.inner.flush();
        self.unless_gone(flushed, ())
    }
}
