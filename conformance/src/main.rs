//! `avatar-conformance`: run the suite against this project or any other implementation.

// print! and eprintln! panic when their stream cannot be written (a reader gone, a full disk):
// print_out and to_stderr say so or lose the text instead.
#![deny(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "print_out and to_stderr write without panicking when they cannot"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use avatar_conformance::check;
use avatar_conformance::discovery::Parameters;
use avatar_conformance::fixtures::write_fixtures;
use avatar_conformance::{
    Case, ConformanceError, DiscoveryClient, Group, HttpTarget, Level, Progress, Targets,
    XmppTarget, all_cases, cases_named, report, run,
};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Conformance suite for Libravatar servers and clients and XMPP avatar services.
///
/// Without options every group runs against this project's own implementation, in process.
/// Each option below swaps one group's target for another implementation.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a domain's own avatar server: its SRV records as clients read them (with TTLs and
    /// what the sanitiser refuses), whether each target answers on its scheme (the https
    /// certificate included), and the server cases that need no fixtures. Exits 1 when no
    /// server answers or a MUST case fails.
    Check(CheckArgs),
    /// Write the fixture images and manifest.json (identity -> file) for another implementation
    /// to load before a run.
    Fixtures {
        /// Where to write them (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// List the cases: id, group, level, title.
    List {
        /// Only these (as --case takes them: an id, or the start of some ids followed by `*`).
        #[arg(value_name = "ID")]
        cases: Vec<String>,
    },
    /// Print the avatar URL this project's client builds, as a reference (and the shape a
    /// --client-cmd program must have): IDENTITY NAMESERVER SCHEME.
    Client {
        /// An email address or OpenID URL.
        identity: String,
        /// The DNS server to ask, IP:PORT.
        nameserver: std::net::SocketAddr,
        /// The scheme of the page: http or https.
        #[arg(value_parser = ["http", "https"])]
        scheme: String,
        /// More identities to look up in the same process (one URL per line), so the client's
        /// own cache is used (the `{again}` placeholder of --client-cmd).
        again: Vec<String>,
        /// The size to ask for (the `{size}` placeholder of --client-cmd).
        #[arg(long)]
        size: Option<u32>,
        /// The default image, unencoded (the `{default}` placeholder of --client-cmd).
        #[arg(long)]
        default: Option<String>,
    },
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The email domain, such as example.org.
    domain: String,
    /// An address of the domain that has an avatar: its hit cases run too.
    #[arg(long, value_name = "EMAIL")]
    identity: Option<String>,
    /// Ask this DNS server (IP or IP:PORT) instead of the system's resolver, for the SRV records
    /// and for the addresses of the servers they name.
    #[arg(long, value_name = "ADDR", value_parser = parse_nameserver)]
    nameserver: Option<std::net::SocketAddr>,
    /// Write the findings as JSON to FILE (- for standard output; the summary then goes to
    /// standard error).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the findings as an HTML page to FILE (- for standard output).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
}

/// A nameserver: an IP address (port 53) or IP:PORT.
fn parse_nameserver(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
        .map_err(|_| format!("{text:?}: expected an IP address or IP:PORT, such as 192.0.2.53"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOn {
    /// Only MUST failures fail the run.
    Must,
    /// MUST and SHOULD failures fail the run.
    Should,
    /// Any failure fails the run.
    Compat,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Test the Libravatar server at this URL (http://HOST:PORT[/PREFIX]) instead of the
    /// in-process one. Load the fixtures into it first (see `fixtures`). (`--url` is taken
    /// for it too.)
    #[arg(long, value_name = "URL", alias = "url")]
    target_url: Option<String>,
    /// How long one request to --target-url may take before it counts as failed, in seconds.
    /// The run asks the server once first, and stops at once if it does not answer.
    #[arg(long, value_name = "N", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout_secs: u64,
    /// Test this discovery client instead of the in-process one: a command template using
    /// {identity}, {nameserver} (IP:PORT) and {scheme} (http/https); it must print the avatar URL.
    #[arg(long, value_name = "TEMPLATE")]
    client_cmd: Option<String>,
    /// How many runs of --client-cmd a case that draws many URLs (up to 200) makes at once;
    /// one per CPU by default. 1 runs them one after another, for a client that cannot run
    /// beside itself (one writing a fixed file, or limited by a service it asks).
    #[arg(long, value_name = "N", requires = "client_cmd")]
    client_jobs: Option<std::num::NonZeroUsize>,
    /// Test an XEP-0114 component: listen here (HOST:PORT, port 0 for any) as its server.
    #[arg(long, value_name = "ADDR", requires = "secret", conflicts_with = "c2s")]
    component_listen: Option<String>,
    /// The component secret.
    #[arg(long)]
    secret: Option<String>,
    /// How long to wait for the component to connect, in seconds.
    #[arg(long, default_value_t = 30, value_name = "N")]
    component_wait: u64,
    /// How long the XMPP service (--component-listen or --c2s) may take to answer a stanza
    /// that must be answered, in seconds; a case whose answer has not come by then fails.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    answer_timeout_secs: u64,
    /// Test through a real XMPP server: log in at HOST:PORT (plain c2s) and query JIDs of
    /// --subject-domain.
    #[arg(long, value_name = "HOST:PORT", requires_all = ["jid", "password", "subject_domain"])]
    c2s: Option<String>,
    /// The account to log in with (--c2s).
    #[arg(long, value_name = "USER@DOMAIN")]
    jid: Option<String>,
    /// Its password (--c2s).
    #[arg(long)]
    password: Option<String>,
    /// The domain of the avatar component behind the server (--c2s).
    #[arg(long, value_name = "DOMAIN")]
    subject_domain: Option<String>,
    /// Run only these groups (repeatable): libravatar-server, libravatar-discovery, xep-0008,
    /// xep-0153, xep-0084.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Run only these cases (repeatable): an id as `list` shows it, or the start of some ids
    /// followed by `*` (`--case 'discovery-trailing-dot*'`). Without --group, only the groups
    /// of these cases run, so only their targets are needed.
    #[arg(long = "case", value_name = "ID")]
    cases: Vec<String>,
    /// Write the report as JSON to FILE (- for standard output; the summary then goes to
    /// standard error).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the report as JUnit XML to FILE (- for standard output).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the report as an HTML page with the returned images to FILE (- for standard
    /// output).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// The least binding level whose failures make the run fail.
    #[arg(long, value_enum, default_value_t = FailOn::Must)]
    fail_on: FailOn,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            to_stderr(format_args!(
                "avatar-conformance: cannot start the runtime: {err}\n"
            ));
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Some(Command::Fixtures { out }) => write_fixtures(&out).and_then(|manifest| {
            print_out(&format!(
                "wrote {} images and manifest.json to {}\n",
                manifest.avatars.len(),
                out.display()
            ))?;
            Ok(ExitCode::SUCCESS)
        }),
        Some(Command::List { cases }) => (if cases.is_empty() {
            Ok(all_cases())
        } else {
            cases_named(all_cases(), &cases)
        })
        .and_then(|cases| {
            use std::fmt::Write as _;
            let mut listed = String::new();
            for case in cases {
                let _ = writeln!(
                    listed,
                    "{:<40} {:<21} {:<6} {}",
                    case.id, case.group, case.level, case.title
                );
            }
            print_out(&listed)?;
            Ok(ExitCode::SUCCESS)
        }),
        Some(Command::Check(args)) => runtime.block_on(check(args)),
        Some(Command::Client {
            identity,
            nameserver,
            scheme,
            again,
            size,
            default,
        }) => {
            let parameters = Parameters {
                size,
                default: default.as_deref(),
                again: false,
            };
            let identities: Vec<&str> = std::iter::once(identity.as_str())
                .chain(again.iter().map(String::as_str))
                .collect();
            runtime.block_on(reference_client(
                &identities,
                nameserver,
                &scheme,
                &parameters,
            ))
        }
        None => runtime.block_on(run_suite(cli.run)),
    };
    outcome.unwrap_or_else(|err| {
        to_stderr(format_args!(
            "avatar-conformance: {}\n",
            avatar_proto::report::with_causes(&err)
        ));
        ExitCode::from(2)
    })
}

/// The cases and groups to run: those `--case` names (all without it), in the groups `--group`
/// names (all without it), each group kept only where one of those cases is in it.
fn selection(args: &RunArgs) -> Result<(Vec<Case>, Vec<Group>), ConformanceError> {
    let cases = if args.cases.is_empty() {
        all_cases()
    } else {
        cases_named(all_cases(), &args.cases)?
    };
    let mut groups = if args.groups.is_empty() {
        Group::ALL.to_vec()
    } else {
        args.groups
            .iter()
            .map(|name| {
                Group::from_name(name).ok_or_else(|| {
                    let known: Vec<&str> = Group::ALL.iter().map(|group| group.name()).collect();
                    ConformanceError::Usage(format!(
                        "--group {name:?}: expected one of {}",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<Group>, _>>()?
    };
    // A case named exactly must run; a pattern takes what --group leaves of it.
    let left_out = |case: &&Case| !groups.contains(&case.group);
    if let Some(case) = cases
        .iter()
        .filter(left_out)
        .find(|case| args.cases.iter().any(|pattern| pattern == case.id))
    {
        return Err(ConformanceError::Usage(format!(
            "--case {}: it is in the group {}, which --group leaves out",
            case.id, case.group
        )));
    }
    if !args.cases.is_empty() && cases.iter().all(|case| left_out(&case)) {
        return Err(ConformanceError::Usage(format!(
            "--case {}: none of its cases is in the groups --group names",
            args.cases.join(" --case ")
        )));
    }
    // A group none of the named cases is in needs no target.
    groups.retain(|group| cases.iter().any(|case| case.group == *group));
    Ok((cases, groups))
}

async fn run_suite(args: RunArgs) -> Result<ExitCode, ConformanceError> {
    let (cases, groups) = selection(&args)?;
    let report_on_stdout = on_standard_output(&[
        ("--json", &args.json),
        ("--junit", &args.junit),
        ("--html", &args.html),
    ])?;
    let wants = |check: fn(&Group) -> bool| groups.iter().any(check);
    let mut targets = Targets::default();
    if wants(|group| *group == Group::LibravatarServer) {
        targets.http = Some(if let Some(url) = &args.target_url {
            targets
                .described
                .push(("libravatar-server".to_owned(), url.clone()));
            HttpTarget::url(url)?
                .request_timeout(std::time::Duration::from_secs(args.request_timeout_secs))
        } else {
            targets.described.push((
                "libravatar-server".to_owned(),
                "in-process AvatarService".to_owned(),
            ));
            HttpTarget::in_process().await?
        });
    }
    if wants(|group| *group == Group::LibravatarDiscovery) {
        targets.discovery = Some(if let Some(template) = &args.client_cmd {
            targets
                .described
                .push(("libravatar-discovery".to_owned(), template.clone()));
            let client = DiscoveryClient::command(template)?;
            match args.client_jobs {
                Some(jobs) => client.with_jobs(jobs),
                None => client,
            }
        } else {
            targets.described.push((
                "libravatar-discovery".to_owned(),
                "in-process Discovery".to_owned(),
            ));
            DiscoveryClient::InProcess
        });
    }
    if wants(|group| group.is_xmpp()) {
        targets.xmpp = Some(xmpp_target(&args, &mut targets.described).await?);
    }
    let progress = if args.quiet {
        Progress::Quiet
    } else {
        Progress::Stderr
    };
    let report = run(&cases, &mut targets, &groups, progress).await?;
    if report_on_stdout {
        to_stderr(format_args!("{}", report::summary(&report)));
    } else {
        print_out(&report::summary(&report))?;
    }
    let write = write_output;
    if let Some(path) = &args.json {
        write(path, report::json(&report))?;
    }
    if let Some(path) = &args.junit {
        write(path, report::junit(&report))?;
    }
    if let Some(path) = &args.html {
        write(path, report::html(&report))?;
    }
    let level = match args.fail_on {
        FailOn::Must => Level::Must,
        FailOn::Should => Level::Should,
        FailOn::Compat => Level::Compat,
    };
    let failed = report.failures_at_least(level).count();
    if failed > 0 {
        to_stderr(format_args!(
            "avatar-conformance: {failed} failure(s) at {level} level or stricter\n"
        ));
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

async fn check(args: CheckArgs) -> Result<ExitCode, ConformanceError> {
    let findings_on_stdout = on_standard_output(&[("--json", &args.json), ("--html", &args.html)])?;
    let identity = args
        .identity
        .as_deref()
        .map(avatar_proto::Identity::parse)
        .transpose()
        .map_err(|err| ConformanceError::Usage(format!("--identity: {err}")))?;
    let options = check::CheckOptions {
        domain: args.domain.clone(),
        identity,
        nameserver: args.nameserver,
        extra_roots: Vec::new(),
    };
    let progress = if args.quiet {
        Progress::Quiet
    } else {
        Progress::Stderr
    };
    let found = check::check_domain(&options, progress).await?;
    if findings_on_stdout {
        to_stderr(format_args!("{}", check::summary(&found)));
    } else {
        print_out(&check::summary(&found))?;
    }
    if let Some(path) = &args.json {
        write_output(path, check::json(&found))?;
    }
    if let Some(path) = &args.html {
        write_output(path, check::html(&found))?;
    }
    let answered = found.servers.iter().any(|server| server.answered);
    let must_failures = found
        .cases
        .as_ref()
        .map_or(0, |cases| cases.failures_at_least(Level::Must).count());
    Ok(if answered && must_failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Whether one of the report `outputs` (option, path) goes to standard output (`-`): the
/// summary then goes to standard error, so that standard output holds the report alone. Two
/// reports cannot share it.
fn on_standard_output(outputs: &[(&str, &Option<PathBuf>)]) -> Result<bool, ConformanceError> {
    let dashes: Vec<&str> = outputs
        .iter()
        .filter(|(_, path)| path.as_ref().is_some_and(|path| path.as_os_str() == "-"))
        .map(|(option, _)| *option)
        .collect();
    match dashes[..] {
        [] => Ok(false),
        [_] => Ok(true),
        _ => Err(ConformanceError::Usage(format!(
            "{} ask for standard output (-) together: one report at most can go there, give the others a file",
            dashes.join(" and ")
        ))),
    }
}

/// Writes `text` to standard error; what cannot be written there (`2>&1 | head` once `head`
/// has gone) is lost, where `eprintln!` would panic before the run's exit status.
fn to_stderr(text: std::fmt::Arguments<'_>) {
    Progress::Stderr.say(text);
}

/// Writes `text` to standard output. A reader that has gone (`avatar-conformance list | head`)
/// is no error: what is left is dropped, and a run keeps the exit status of its verdicts.
fn print_out(text: &str) -> Result<(), ConformanceError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(ConformanceError::Output(err))
        }
        _ => Ok(()),
    }
}

/// Writes a report to `path`, or to standard output for `-`.
fn write_output(path: &PathBuf, text: String) -> Result<(), ConformanceError> {
    if path.as_os_str() == "-" {
        print_out(&format!("{text}\n"))
    } else {
        std::fs::write(path, text).map_err(|source| ConformanceError::File {
            path: path.clone(),
            source,
        })
    }
}

async fn reference_client(
    identities: &[&str],
    nameserver: std::net::SocketAddr,
    scheme: &str,
    parameters: &Parameters<'_>,
) -> Result<ExitCode, ConformanceError> {
    let scheme = if scheme == "https" {
        avatar_proto::Scheme::Https
    } else {
        avatar_proto::Scheme::Http
    };
    let session = DiscoveryClient::InProcess.session(nameserver)?;
    for identity in identities {
        let url = session.avatar_url(identity, scheme, parameters).await?;
        print_out(&format!("{url}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn xmpp_target(
    args: &RunArgs,
    described: &mut Vec<(String, String)>,
) -> Result<XmppTarget, ConformanceError> {
    let answer_timeout = Duration::from_secs(args.answer_timeout_secs);
    if let Some(addr) = &args.component_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| ConformanceError::Usage(format!("--component-listen {addr}: {err}")))?;
        let bound = listener
            .local_addr()
            .map_err(|source| ConformanceError::Network {
                action: format!("listening on {addr}"),
                source,
            })?;
        to_stderr(format_args!(
            "avatar-conformance: waiting for a component on {bound}\n"
        ));
        let secret = args.secret.as_deref().unwrap_or_default();
        let target =
            XmppTarget::component(&listener, secret, Duration::from_secs(args.component_wait))
                .await?
                .answer_timeout(answer_timeout);
        described.push((
            "xmpp".to_owned(),
            format!("component {} connected to {bound}", target.domain()),
        ));
        return Ok(target);
    }
    if let (Some(server), Some(jid), Some(password), Some(domain)) =
        (&args.c2s, &args.jid, &args.password, &args.subject_domain)
    {
        described.push((
            "xmpp".to_owned(),
            format!("{domain} through {server} as {jid}"),
        ));
        return XmppTarget::client(server, jid, password, domain)
            .await
            .map(|target| target.answer_timeout(answer_timeout));
    }
    described.push((
        "xmpp".to_owned(),
        "in-process component session (IqService, mirroring example.net)".to_owned(),
    ));
    XmppTarget::in_process().await
}
