//! The command line, as clap derives it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Where avatars are kept unless `--data-dir` says otherwise: a folder the user can see.
pub(crate) const DEFAULT_DATA_DIR: &str = "avatars-data";

/// Federated avatars: Libravatar hashes and avatar URLs.
#[derive(Debug, Parser)]
#[command(name = "avatars", version, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the Libravatar HTTP API from a data directory.
    Serve(ServeArgs),
    /// Store (or replace) the avatar of an email address or OpenID URL.
    Import(ImportArgs),
    /// Remove the avatar of an email address or OpenID URL.
    Remove(RemoveArgs),
    /// List the stored avatars.
    List(ListArgs),
    /// Run the XMPP component (XEP-0114) answering XEP-0008/0153 avatar requests.
    Xmpp(XmppArgs),
    /// Print the avatar hashes of an email address (md5 and sha256) or an OpenID URL (sha256).
    Hash(HashArgs),
    /// Print the avatar URL of an email address or OpenID URL.
    Url(UrlArgs),
}

/// The data directory option shared by the commands that use the store.
#[derive(Debug, Args)]
pub(crate) struct DataDir {
    /// Where avatars are stored (created on first use).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
}

/// `avatars serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,

    #[command(flatten)]
    pub(crate) data: DataDir,

    /// Import an avatar before serving, as ADDRESS=FILE (repeatable).
    #[arg(long = "email", value_name = "ADDR=FILE", value_parser = parse_email_file)]
    pub(crate) emails: Vec<(String, PathBuf)>,
}

/// `avatars import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,

    /// An email address, or an OpenID URL starting with http:// or https://.
    pub(crate) identity: String,

    /// A PNG, JPEG, GIF or WebP file.
    pub(crate) file: PathBuf,
}

/// `avatars remove`.
#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,

    /// An email address, or an OpenID URL starting with http:// or https://.
    pub(crate) identity: String,
}

/// `avatars xmpp`.
#[derive(Debug, Args)]
pub(crate) struct XmppArgs {
    /// The XMPP server's component port, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) server: String,

    /// The component's domain, such as avatars.example.org.
    #[arg(long)]
    pub(crate) domain: String,

    /// The component secret shared with the server.
    #[arg(long)]
    pub(crate) secret: String,

    #[command(flatten)]
    pub(crate) data: DataDir,

    /// Plain JID nodes name addresses on this domain (alice@DOMAIN is alice@D); escaped
    /// addresses (alice\40example.org@DOMAIN) always work.
    #[arg(long, value_name = "D")]
    pub(crate) identity_domain: Option<String>,

    /// Answer "unknown JID" exactly like "no avatar" (XEP-0054 anti-harvesting).
    #[arg(long)]
    pub(crate) anti_harvesting: bool,
}

/// `avatars list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,
}

fn parse_email_file(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once('=') {
        Some((identity, file)) if !identity.is_empty() && !file.is_empty() => {
            Ok((identity.to_owned(), PathBuf::from(file)))
        }
        _ => Err(format!(
            "expected ADDRESS=FILE, like alice@example.org=alice.png; got {value:?}"
        )),
    }
}

/// `avatars hash`.
#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    /// Print one JSON object instead of `ALGORITHM HEX` lines.
    #[arg(long)]
    pub(crate) json: bool,

    /// An email address, or an OpenID URL starting with http:// or https://.
    pub(crate) identity: String,
}

/// `avatars url`.
#[derive(Debug, Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "command-line flags are booleans"
)]
pub(crate) struct UrlArgs {
    /// Use the central server instead of looking up the domain's avatar server in DNS.
    #[arg(long, conflicts_with_all = ["nameservers", "timeout_ms"])]
    pub(crate) no_discovery: bool,

    /// Ask this DNS server (IP:PORT, UDP then TCP) instead of the system's; repeatable.
    #[arg(long = "nameserver", value_name = "IP:PORT")]
    pub(crate) nameservers: Vec<SocketAddr>,

    /// Give up on DNS after this many milliseconds and use the central server.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub(crate) timeout_ms: u64,

    /// Also say on stderr where the base URL came from (the SRV target, or why the central server).
    #[arg(long, short)]
    pub(crate) verbose: bool,

    /// Build an https URL (for pages served over https).
    #[arg(long)]
    pub(crate) https: bool,

    /// The scheme of the page, http or https (`--scheme https` is `--https`); for tools that
    /// pass the scheme as a word, such as the conformance suite's --client-cmd.
    #[arg(long, value_name = "SCHEME", value_parser = ["http", "https"], conflicts_with = "https")]
    pub(crate) scheme: Option<String>,

    /// Size in pixels (clamped to 1..=512).
    #[arg(long, value_name = "N")]
    pub(crate) size: Option<u32>,

    /// Default image when there is no avatar: a keyword (404, mp, identicon, monsterid, wavatar,
    /// retro, robohash, pagan, blank) or a URL, unencoded.
    #[arg(long, value_name = "D")]
    pub(crate) default: Option<String>,

    /// Always show the default image (sends f=y).
    #[arg(long)]
    pub(crate) force_default: bool,

    /// Hash email addresses with SHA-256 instead of MD5 (OpenID URLs always use SHA-256).
    #[arg(long)]
    pub(crate) sha256: bool,

    /// An email address, or an OpenID URL starting with http:// or https://.
    pub(crate) identity: String,
}
