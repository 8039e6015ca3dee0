//! The command line, as clap derives it.

use clap::{Args, Parser, Subcommand};

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
    /// Print the avatar hashes of an email address (md5 and sha256) or an OpenID URL (sha256).
    Hash(HashArgs),
    /// Print the avatar URL of an email address or OpenID URL.
    Url(UrlArgs),
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
    #[arg(long)]
    pub(crate) no_discovery: bool,

    /// Build an https URL (for pages served over https).
    #[arg(long)]
    pub(crate) https: bool,

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
