//! The command line, as clap derives it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use avatar_proto::DefaultKeyword;
use clap::{Args, Parser, Subcommand};

use crate::server::observe::{ForwardedHeader, LogClients, LogFormat};

/// Where avatars are kept unless `--data-dir` says otherwise: a folder the user can see.
pub(crate) const DEFAULT_DATA_DIR: &str = "avatars-data";

/// Federated avatars: a Libravatar server and its store, an XMPP avatar component, hashes and
/// avatar URLs.
#[derive(Debug, Parser)]
#[command(
    name = "avatars",
    version,
    propagate_version = true,
    args_override_self = true
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per process")]
pub(crate) enum Command {
    /// Serve the Libravatar HTTP API from a data directory.
    Serve(ServeArgs),
    /// Store (or replace) the avatar of an email address or OpenID URL.
    Import(ImportArgs),
    /// Remove the avatar of an email address or OpenID URL.
    Remove(RemoveArgs),
    /// Write the picture stored for an email address or OpenID URL to a file, as it was
    /// stored.
    Export(ExportArgs),
    /// List the stored avatars, one a line: the stored picture's size in bytes, then the email
    /// address or OpenID URL.
    List(ListArgs),
    /// Copy every avatar from one store to another (a directory to PostgreSQL, or back).
    Migrate(MigrateArgs),
    /// Make the renditions --render-ahead asks for of every avatar already stored, as `serve`
    /// and `import` make them for new ones (for a site turning --render-ahead on); without
    /// --render-ahead, each picture's 128 px rung only (for a store imported before there were
    /// rungs).
    RenderAhead(RenderAheadArgs),
    /// Run the XMPP component (XEP-0114) answering XEP-0008/0153 avatar requests.
    Xmpp(XmppArgs),
    /// Print the avatar hashes of an email address (md5 and sha256) or an OpenID URL (sha256).
    Hash(HashArgs),
    /// Print the avatar URL of an email address or OpenID URL.
    Url(UrlArgs),
    /// Write a new random key for the avatar proxy (`serve --proxy-key-file`).
    ProxyKey(ProxyKeyArgs),
    /// Print the proxied avatar URL of an email address or OpenID URL.
    ProxyUrl(ProxyUrlArgs),
    /// Print the tab completion script for a shell: `source <(avatars completions bash)`, or
    /// write it where the shell loads completions from.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (avatars.1 and one per subcommand) into a folder.
    ManPages {
        /// The folder (made when missing; pages already there are replaced).
        dir: PathBuf,
    },
    /// Settings files: `avatars config check FILE`.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `avatars config ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a settings file for `avatars serve --config FILE` without starting anything: every
    /// value as its flag is checked, then the files it names, read as `serve` reads them at
    /// start (the TLS certificate and key, the admin tokens, the proxy keys, the `email`
    /// pictures), the folders it writes in (the store's, the rendition files', the proxy's
    /// cache, the render cache file's), by making and removing a file there, and a PostgreSQL
    /// store's database, connected to and inspected without changing anything (the schema's
    /// version, the role's privileges, whether other servers' changes would reach it). Run it
    /// as the user the server runs as.
    Check {
        /// The TOML file.
        file: PathBuf,
        /// Check the values only, not the files, folders and database they name: for a file
        /// written here for another machine.
        #[arg(long)]
        values_only: bool,
    },
}

/// `avatars proxy-key`.
#[derive(Debug, Args)]
pub(crate) struct ProxyKeyArgs {
    /// Where to write the key (created, never overwritten; readable by its owner only).
    #[arg(value_name = "FILE", required_unless_present = "out")]
    file: Option<PathBuf>,

    /// The same as FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    out: Option<PathBuf>,
}

impl ProxyKeyArgs {
    /// Where to write the key: FILE, or `--out FILE`.
    pub(crate) fn path(&self) -> &Path {
        self.file
            .as_deref()
            .or(self.out.as_deref())
            .expect("clap requires FILE or --out")
    }
}

/// `avatars proxy-url`.
#[derive(Debug, Args)]
pub(crate) struct ProxyUrlArgs {
    /// The proxy's key file (`avatars proxy-key` writes one); also `--proxy-key-file`, as
    /// `serve` names it.
    #[arg(long, value_name = "FILE", visible_alias = "proxy-key-file")]
    pub(crate) key_file: PathBuf,

    /// The site the proxy is served from.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) base: String,

    /// Width and height in pixels.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) size: u32,

    /// What a missing avatar gets: a default keyword (mp, 404, identicon, retro, monsterid,
    /// wavatar, robohash, pagan, color, initials, blank).
    #[arg(long, value_name = "KEYWORD", value_parser = parse_default_keyword)]
    pub(crate) default: Option<DefaultKeyword>,

    /// An email address, or an OpenID URL starting with http:// or https://.
    pub(crate) identity: String,
}

/// Where the avatars are: the options shared by the commands that use the store.
#[derive(Debug, Args)]
pub(crate) struct DataDir {
    /// Where avatars are stored, as a directory (made by the first `import`, `serve` or
    /// `xmpp` there).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,

    /// Where avatars are stored: `postgres://USER@HOST/DATABASE` for a PostgreSQL database that
    /// several servers share (its tables are created on first use), or a directory (the same
    /// as --data-dir).
    #[arg(long, value_name = "URL|DIR", conflicts_with = "data_dir")]
    pub(crate) store: Option<String>,
}

/// Which renditions are made and where they are kept: the options `serve` and `import` share,
/// so both make the same files in the same place.
#[derive(Debug, Args)]
pub(crate) struct RenditionArgs {
    /// Formats a client's Accept may get instead of the stored one: webp (the default), avif
    /// (only in a build with the avif feature), both, or none (always the stored format; an
    /// extension such as HASH.png still chooses).
    #[arg(long, value_name = "webp,avif|none", value_delimiter = ',', default_value = "webp", value_parser = ["webp", "avif", "none"])]
    pub(crate) formats: Vec<String>,

    /// Keep renditions as files in DIR too, read back when the render cache has let them go,
    /// and each stored picture's 128 px rung, made when it is stored, that its smaller sizes
    /// are rendered from (by default the folder renditions in the store's directory; with a
    /// database, none unless given). A cache: deleting it loses nothing. Give each server its
    /// own.
    #[arg(long, value_name = "DIR")]
    pub(crate) render_files_dir: Option<PathBuf>,

    /// The most bytes the rendition files take on disk (2 GiB by default, about 250,000
    /// small renditions; 0 keeps none and deletes those there). Whatever it is, no more are
    /// written while their disk has under 5 % of it free (at most 1 GiB).
    #[arg(long, value_name = "BYTES", default_value_t = avatar_image::rendition_files::DEFAULT_FILES_BYTES)]
    pub(crate) render_files_bytes: u64,

    /// Make each stored picture's renditions at these sizes when it is stored (imported or
    /// uploaded), as files in --render-files-dir, instead of on the first request: the sizes
    /// your pages show, such as 40,80. In the stored format and in each of --formats. Costs
    /// disk (about 6 KiB a rendition: keep --render-files-bytes above what they take, or the
    /// least used are deleted and made again when asked for) and time when storing; see the
    /// README's "At scale".
    #[arg(long, value_name = "PX,...", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) render_ahead: Vec<u32>,
}

/// `avatars serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML file holding any of these flags by name (max-size = 2048); flags given here
    /// override it. `docs/serve.example.toml` is an example; `avatars config check FILE`
    /// checks one.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Address to listen on: IP:PORT, localhost:PORT, or a bare PORT (on 127.0.0.1); port 0
    /// picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listen_addr)]
    #[arg(help_heading = "Listening")]
    pub(crate) addr: SocketAddr,

    /// Also serve HTTPS here (HTTP/1.1 and HTTP/2), with --tls-cert and --tls-key; --addr
    /// stays plain HTTP beside it (bind it to 127.0.0.1 to keep it private).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr, requires_all = ["tls_cert", "tls_key"])]
    #[arg(help_heading = "Listening")]
    pub(crate) tls_addr: Option<SocketAddr>,

    /// The certificate chain for --tls-addr, PEM, the server's own certificate first. Read
    /// again with the key on SIGHUP; a bad pair is refused and the old one kept.
    #[arg(long, value_name = "FILE", requires = "tls_addr")]
    #[arg(help_heading = "Listening")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM (RSA, ECDSA or Ed25519; PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_addr")]
    #[arg(help_heading = "Listening")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Send `Strict-Transport-Security: max-age=SECONDS` on every answer of --tls-addr (never
    /// over plain HTTP), so browsers that have visited ask over HTTPS only, for that long
    /// (31536000 is a year); 0, the default, sends none. Keep HTTPS up for as long once sent.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0,
        requires = "tls_addr"
    )]
    #[arg(help_heading = "Listening")]
    pub(crate) hsts_max_age_secs: u64,

    /// Serve /metrics (Prometheus), /healthz and the management API (/v1/avatars) on this
    /// address; off unless given. Keep it private: firewall it, or bind it to 127.0.0.1.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    #[arg(help_heading = "Listening")]
    pub(crate) admin_addr: Option<SocketAddr>,

    /// The management API's bearer tokens, one per line (blank lines and # comments
    /// ignored), read again on SIGHUP to rotate them; without it every /v1 request is refused.
    #[arg(long, value_name = "FILE", requires = "admin_addr")]
    #[arg(help_heading = "Listening")]
    pub(crate) admin_token_file: Option<PathBuf>,

    /// Close a connection whose request headers have not all arrived after this many seconds
    /// (and a TLS handshake that takes longer): slow clients cannot hold connections open.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    #[arg(help_heading = "Connections")]
    pub(crate) header_timeout_secs: u64,

    /// Close a connection after this many seconds without a byte either way: an idle
    /// HTTP/2 connection, or a kept-alive HTTP/1.1 one, gives its slot back.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    #[arg(help_heading = "Connections")]
    pub(crate) idle_timeout_secs: u64,

    /// The most connections open at once on each listener; more wait to be accepted. The
    /// soft open-file limit (`ulimit -n`) is raised at start to make room for them all, up to
    /// the hard one (a warning says how many fit when that is lower).
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    #[arg(help_heading = "Connections")]
    pub(crate) max_connections: u64,

    /// Threads accepting and answering on the public listeners (default: one per CPU), each
    /// a single-threaded event loop serving the connections it accepted, as nginx's workers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    #[arg(help_heading = "Connections")]
    pub(crate) event_loops: Option<u16>,

    /// Requests per second each client address (an IPv6 client: its /64 network) may make on
    /// average (off by default); more get 429 Too Many Requests with Retry-After.
    #[arg(long, value_name = "PER_SECOND", value_parser = clap::value_parser!(u32).range(1..))]
    #[arg(help_heading = "Connections")]
    pub(crate) rate_limit: Option<u32>,

    /// How many requests a client may make at once above --rate-limit before being slowed
    /// (a page of 50 avatars is one burst).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    #[arg(help_heading = "Connections")]
    pub(crate) rate_burst: u32,

    /// A reverse proxy in front of the server (repeatable, as an address or a network such as
    /// 127.0.0.1/32): for requests from it, the client is the last address of X-Forwarded-For
    /// (or --forwarded-header) that is not itself such a proxy, for --rate-limit and the access
    /// log. Without it the header is ignored (anyone can send it), and behind nginx every
    /// client would be 127.0.0.1.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_net)]
    #[arg(help_heading = "Connections")]
    pub(crate) trusted_proxies: Vec<ipnet::IpNet>,

    /// The header the --trusted-proxy proxies name the client in. Only that one is read: a
    /// proxy passes the other on as the client wrote it.
    #[arg(long, value_name = "HEADER", value_enum, default_value_t = ForwardedHeader::XForwardedFor)]
    #[arg(requires = "trusted_proxies", help_heading = "Connections")]
    pub(crate) forwarded_header: ForwardedHeader,

    /// On Ctrl-C or SIGTERM, stop accepting and give requests in flight this many seconds to
    /// finish before closing their connections.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    #[arg(help_heading = "Connections")]
    pub(crate) shutdown_timeout_secs: u64,

    #[command(flatten, next_help_heading = "Storage")]
    pub(crate) data: DataDir,

    /// Import an avatar before serving, as ADDRESS=FILE (repeatable).
    #[arg(long = "email", value_name = "ADDR=FILE", value_parser = parse_email_file)]
    #[arg(help_heading = "Storage")]
    pub(crate) emails: Vec<(String, PathBuf)>,

    /// Serve PREFIX/avatar/HASH instead of /avatar/HASH (such as /avatars).
    #[arg(long, value_name = "PREFIX", default_value = "")]
    #[arg(help_heading = "Answers")]
    pub(crate) prefix: String,

    /// The largest size served; larger requests are clamped (the API's 512 by default, at
    /// most 4096).
    #[arg(long, value_name = "PX", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=4096))]
    #[arg(help_heading = "Answers")]
    pub(crate) max_size: u32,

    /// What a miss without d= answers: a default keyword (mp, 404, identicon, retro,
    /// monsterid, wavatar, robohash, pagan, color, initials, blank); initials takes its letters
    /// from the request's name= or initials=.
    #[arg(long, value_name = "KEYWORD", default_value = "mp", value_parser = parse_default_keyword)]
    #[arg(help_heading = "Answers")]
    pub(crate) default: DefaultKeyword,

    #[command(flatten, next_help_heading = "Renditions and caches")]
    pub(crate) renditions: RenditionArgs,

    /// A URL pattern d= may redirect to, such as https://*.example.org/avatars/ (repeatable;
    /// replaces the built-in list of gravatar.com, ui-avatars.com and api.dicebear.com;
    /// relative paths stay allowed).
    #[arg(long = "trusted-url", value_name = "PATTERN")]
    #[arg(help_heading = "Answers")]
    pub(crate) trusted_urls: Vec<String>,

    /// On a miss, before the default: nothing (the default), a redirect to the upstream, or a
    /// fetch through it.
    #[arg(long, value_name = "off|redirect|proxy", default_value = "off", value_parser = ["off", "redirect", "proxy"])]
    #[arg(help_heading = "Answers")]
    pub(crate) upstream: String,

    /// The upstream's avatar base URL (Gravatar's by default).
    #[arg(long, value_name = "URL", requires = "upstream")]
    #[arg(help_heading = "Answers")]
    pub(crate) upstream_url: Option<String>,

    /// The render cache's budget in bytes (64 MiB by default; 0 turns caching off).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    #[arg(help_heading = "Renditions and caches")]
    pub(crate) cache_bytes: u64,

    /// Keep the render cache in FILE across restarts: its renditions of stored avatars are
    /// written there when the server stops and read back when it starts, so a restarted
    /// server answers from memory at once instead of rendering everything again. At most
    /// --cache-bytes of renditions; a missing or damaged file starts an empty cache.
    #[arg(long, value_name = "FILE")]
    #[arg(help_heading = "Renditions and caches")]
    pub(crate) render_cache_file: Option<PathBuf>,

    /// With --render-cache-file: also save it every N seconds while serving (300 by default;
    /// 0 saves only when the server stops), so a crash loses at most that much.
    #[arg(long, value_name = "N", default_value_t = 300)]
    #[arg(help_heading = "Renditions and caches")]
    pub(crate) render_cache_save_secs: u64,

    /// How many renders may run at once (one more than the number of CPUs by default).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    #[arg(help_heading = "Renditions and caches")]
    pub(crate) render_threads: Option<u64>,

    /// Cache-Control max-age of stored avatars, in seconds (one day by default).
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    #[arg(help_heading = "Answers")]
    pub(crate) hit_max_age: u64,

    /// Cache-Control max-age of defaults, 404s and redirects, in seconds (five minutes by
    /// default).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    #[arg(help_heading = "Answers")]
    pub(crate) default_max_age: u64,

    /// Serve the avatar proxy at /proxy/TOKEN with the keys in FILE (one key of 128 hex digits
    /// per line; the first mints, all open; read again on SIGHUP, to rotate them; `avatars
    /// proxy-key FILE` writes one): other
    /// people's avatars found by DNS SRV, fetched, re-encoded and cached here, so visitors'
    /// browsers talk to no third party; those stored here are answered from the store.
    #[arg(long, value_name = "FILE")]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) proxy_key_file: Option<PathBuf>,

    /// The proxy's nameserver, for SRV records and for the addresses of the servers they name
    /// (repeatable; the system's resolver by default).
    #[arg(long = "nameserver", value_name = "IP[:PORT]", value_parser = parse_nameserver, requires = "proxy_key_file")]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) nameservers: Vec<SocketAddr>,

    /// How long the proxy waits for one SRV lookup, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) dns_timeout_ms: u64,

    /// The central server the proxy asks for domains without their own avatar server.
    #[arg(long, value_name = "URL", default_value = avatar_proxy::config::DEFAULT_CENTRAL)]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) proxy_central: String,

    /// Whether the proxy asks Gravatar last, after the identity's own server and the central
    /// one have no avatar: off (the default), sha256, or md5 (tells Gravatar whose avatar a
    /// page shows: most MD5s of real addresses have been cracked).
    #[arg(long, value_name = "off|sha256|md5", default_value = "off", value_parser = ["off", "sha256", "md5"])]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) proxy_gravatar: String,

    /// Keep the proxy's fetched originals in DIR too, so a restart does not refetch them.
    #[arg(long, value_name = "DIR", requires = "proxy_key_file")]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) proxy_cache_dir: Option<PathBuf>,

    /// The most bytes --proxy-cache-dir holds (the oldest files go first); none is written
    /// while its disk has under 5 % free (at most 1 GiB).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) proxy_cache_bytes: u64,

    /// A network the proxy may fetch from although it is internal, such as 10.0.0.0/8
    /// (repeatable; loopback, private and link-local addresses are refused otherwise).
    #[arg(long = "proxy-allow-net", value_name = "CIDR")]
    #[arg(help_heading = "The avatar proxy (/proxy/TOKEN)")]
    pub(crate) proxy_allow_nets: Vec<ipnet::IpNet>,

    /// The access log's form: one line per request on stderr (`RUST_LOG=warn` silences it).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    #[arg(help_heading = "Logging")]
    pub(crate) log_format: LogFormat,

    /// What the access log keeps of each client's address. A line's path names whose avatar
    /// was asked for, so with the whole address it says who looked at whom.
    #[arg(long, value_name = "KEPT", value_enum, default_value_t = LogClients::Full)]
    #[arg(help_heading = "Logging")]
    pub(crate) log_clients: LogClients,

    /// The colours d=color picks from, as hex RGB (such as 1e6fc8,2e7d32,c62828): a site's own
    /// theme (sixteen colours that keep white text readable by default).
    #[arg(long, value_name = "HEX,...", value_delimiter = ',', value_parser = parse_hex_colour)]
    #[arg(help_heading = "Answers")]
    pub(crate) palette: Vec<[u8; 3]>,
}

/// `--default`: a keyword, exactly as `d=` takes it.
fn parse_default_keyword(text: &str) -> Result<DefaultKeyword, String> {
    DefaultKeyword::parse(text, None).ok_or_else(|| {
        format!(
            "{text:?} is not a default keyword; expected one of {}",
            DefaultKeyword::ACCEPTED.join(", ")
        )
    })
}

/// `--addr`: `IP:PORT`, `localhost:PORT` (127.0.0.1) or a bare `PORT` (127.0.0.1).
fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let port = text
        .strip_prefix("localhost:")
        .unwrap_or(text)
        .parse::<u16>()
        .map_err(|_| format!("{text:?}: expected IP:PORT, localhost:PORT or a port number"))?;
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// `--nameserver`: `IP:PORT`, or an IP alone for port 53 (`[::1]:53` or `::1` for IPv6).
fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!("{text:?}: expected IP or IP:PORT, such as 127.0.0.1 or 127.0.0.1:5353")
        })
}

/// `avatars import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,

    /// An email address, or an OpenID URL starting with http:// or https://.
    #[arg(required_unless_present = "manifest")]
    pub(crate) identity: Option<String>,

    /// A PNG, JPEG, GIF or WebP file, or - for standard input (`curl ... | avatars import
    /// ADDRESS -`).
    #[arg(required_unless_present = "manifest")]
    pub(crate) file: Option<PathBuf>,

    /// Another address of the same person to store the picture for (repeatable). The file is
    /// stored once and found by every address's hashes.
    #[arg(long, value_name = "IDENTITY")]
    pub(crate) also: Vec<String>,

    /// Import every avatar a manifest lists instead: a JSON file such as the conformance
    /// suite's `manifest.json` (`{"avatars": [{"identity": ..., "file": ...}]}`, files relative
    /// to the manifest). Every identity, and every file's header (a picture of an accepted
    /// format, within the limits), is checked before anything is stored; a picture damaged
    /// past its header stops the import where it is found, those before it stored and said.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["identity", "file", "also"])]
    pub(crate) manifest: Option<PathBuf>,

    /// Store this square of the picture instead of its centred one: X,Y,SIDE in pixels of the
    /// picture as shown (EXIF orientation applied), its left edge, top edge and side, as a
    /// cropping tool gives them. Stored at SIDE or --master-side, whichever is smaller.
    #[arg(long, value_name = "X,Y,SIDE", conflicts_with = "manifest")]
    pub(crate) crop: Option<avatar_image::Crop>,

    /// A picture whose longest side is over this many pixels is stored as its centred square
    /// at this side, so serving it never decodes more; keep it at least the largest size
    /// served (`serve --max-size`).
    #[arg(long, value_name = "PIXELS", default_value_t = avatar_image::Limits::DEFAULT.master_side,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) master_side: u32,

    #[command(flatten)]
    pub(crate) renditions: RenditionArgs,
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
// One of the two (or the environment variable) is required, and a missing one names both.
#[command(group(clap::ArgGroup::new("secret_source").required(true).args(["secret", "secret_file"])))]
pub(crate) struct XmppArgs {
    /// The XMPP server's component port, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) server: String,

    /// The component's domain, such as avatars.example.org.
    #[arg(long)]
    pub(crate) domain: String,

    /// The component secret shared with the server. Prefer --secret-file or the
    /// `AVATARS_XMPP_SECRET` environment variable: a flag shows in the process list.
    #[arg(long, env = "AVATARS_XMPP_SECRET", hide_env_values = true)]
    pub(crate) secret: Option<String>,

    /// A file holding the component secret (one line; a trailing newline is ignored), read
    /// again on SIGHUP and proved from the next connection on.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) data: DataDir,

    /// Plain JID nodes name addresses on this domain (alice@DOMAIN is alice@D); escaped
    /// addresses (alice\40example.org@DOMAIN) always work. Repeatable: plain nodes use the
    /// first, and users of every listed domain may have their avatars mirrored.
    #[arg(long, value_name = "D")]
    pub(crate) identity_domain: Vec<String>,

    /// Copy the avatar (XEP-0084 PEP, or the vCard photo) of each user who subscribes to the
    /// component's own JID into the store under their bare JID, follow its changes, and remove
    /// it when they unsubscribe. Only users of an --identity-domain.
    #[arg(long)]
    pub(crate) mirror_subscribers: bool,

    /// With --mirror-subscribers: let a mirrored avatar replace (and an unsubscribe remove) one
    /// stored another way; by default those are left alone.
    #[arg(long, requires = "mirror_subscribers")]
    pub(crate) mirror_overwrites: bool,

    /// Answer "unknown JID" exactly like "no avatar" (XEP-0054 anti-harvesting).
    #[arg(long)]
    pub(crate) anti_harvesting: bool,

    /// Where subscriptions to the component's JIDs are kept, so subscribers keep hearing of
    /// changes after a restart. Default: `xmpp-subscriptions` in the data directory, or in the
    /// database (table `avatar_documents`) with a database store.
    #[arg(long, value_name = "FILE")]
    pub(crate) subscriptions_file: Option<PathBuf>,

    /// Subscriptions kept in all; past it, new ones are refused (anyone on the network may
    /// subscribe, so the list is bounded).
    #[arg(long, value_name = "N", default_value_t = avatar_xmpp::DEFAULT_TOTAL)]
    pub(crate) max_subscriptions: usize,

    /// Subscriptions one JID may hold; past it, its new ones are refused.
    #[arg(long, value_name = "N", default_value_t = avatar_xmpp::DEFAULT_PER_SUBSCRIBER)]
    pub(crate) max_subscriptions_per_jid: usize,

    /// Serve /metrics (Prometheus: joined or not, joins, failed joins, stanzas in and out) and
    /// /healthz (200 while joined to the XMPP server, 503 saying why not) on this address;
    /// off unless given. Neither asks who is asking: bind it to 127.0.0.1, or firewall it.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    pub(crate) metrics_addr: Option<SocketAddr>,

    /// The log's form on stderr: one line per event, as text or JSON objects (`timestamp`,
    /// `level`, `target` and the event's fields), as `serve --log-format` writes them.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// `avatars migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The store to copy from: a directory, or `postgres://USER@HOST/DATABASE`.
    #[arg(long, value_name = "DIR|URL")]
    pub(crate) from: String,

    /// The store to copy to (created when it does not exist): a directory, or
    /// `postgres://USER@HOST/DATABASE`. Avatars it already holds unchanged are left alone, so
    /// running it again finishes an interrupted copy.
    #[arg(long, value_name = "DIR|URL")]
    pub(crate) to: String,

    /// Store each avatar larger than --master-side as its master, as uploads are stored now,
    /// so rendering it never decodes more: for stores written before masters existed. With
    /// the same store as --from and --to, in place.
    #[arg(long)]
    pub(crate) normalise: bool,

    /// With --normalise: the master's side (512 by default); keep it at least the largest
    /// size served (`serve --max-size`).
    #[arg(long, value_name = "PIXELS", requires = "normalise",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) master_side: Option<u32>,
}

/// `avatars render-ahead`.
#[derive(Debug, Args)]
pub(crate) struct RenderAheadArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,

    /// The same --render-ahead sizes, --formats and rendition files as `serve`'s.
    #[command(flatten)]
    pub(crate) renditions: RenditionArgs,
}

/// `avatars export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,

    /// An email address, or an OpenID URL starting with http:// or https://.
    pub(crate) identity: String,

    /// The file to write, which must not exist yet (its name's extension is yours to choose;
    /// the picture keeps the format it was stored in), or - for standard output.
    pub(crate) file: PathBuf,
}

/// `avatars list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) data: DataDir,

    /// One JSON object a line instead: `identity`, `kind`, `md5` (emails only), `sha256` and
    /// `bytes`, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
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

    /// Ask this DNS server (IP, or IP:PORT; UDP then TCP) instead of the system's; repeatable.
    #[arg(long = "nameserver", value_name = "IP[:PORT]", value_parser = parse_nameserver)]
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

    /// Size in pixels: any integer, clamped to 1..=512 as the URL builder does (0 and negative
    /// sizes give 1, larger ones 512).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_url_size)]
    pub(crate) size: Option<u32>,

    /// Default image when there is no avatar: a keyword (404, mp, identicon, monsterid, wavatar,
    /// retro, robohash, pagan, color, initials, blank) or a URL, unencoded.
    #[arg(long, value_name = "D")]
    pub(crate) default: Option<String>,

    /// Always show the default image (sends f=y).
    #[arg(long)]
    pub(crate) force_default: bool,

    /// Print an HTML srcset value instead of one URL: a URL per pixel density (such as 1,2,3),
    /// at --size (80 by default) times the density, clamped to --max-size.
    #[arg(long, value_name = "DENSITIES", value_delimiter = ',')]
    pub(crate) srcset: Vec<u32>,

    /// The largest size the server answers (512, the API's, unless it is configured otherwise):
    /// sizes in the URLs are clamped to it.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) max_size: u32,

    /// Hash email addresses with SHA-256 instead of MD5 (OpenID URLs always use SHA-256).
    #[arg(long)]
    pub(crate) sha256: bool,

    /// Email addresses, or OpenID URLs starting with http:// or https://. One URL is printed
    /// per identity, in order, and DNS answers are reused between them.
    #[arg(required = true, value_name = "IDENTITY")]
    pub(crate) identity: Vec<String>,
}

/// A colour as six hex digits (`1e6fc8`, with or without `#`).
fn parse_hex_colour(text: &str) -> Result<[u8; 3], String> {
    let digits = text.trim().trim_start_matches('#');
    let refused = || format!("{text:?} is not a colour: expected six hex digits such as 1e6fc8");
    if digits.len() != 6 || !digits.is_ascii() {
        return Err(refused());
    }
    let channel = |at: usize| u8::from_str_radix(&digits[at..at + 2], 16).map_err(|_| refused());
    Ok([channel(0)?, channel(2)?, channel(4)?])
}

/// `--size` of `avatars url`: any integer, however long, saturated into a `u32` (negative: 0)
/// for the URL builder, which clamps it to 1..=512; anything else is refused with what is
/// accepted.
fn parse_url_size(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not an integer: give a size in pixels, such as 80 (it is clamped to 1..=512)"
        ));
    }
    if text.starts_with('-') {
        return Ok(0);
    }
    Ok(digits.parse::<u32>().unwrap_or(u32::MAX))
}

/// A network in CIDR notation, or a single address (its own /32 or /128 network).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            format!("{text:?}: expected an IP address or a network such as 10.0.0.0/8 or fd00::/8")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_sizes_are_any_integer_for_the_builder_to_clamp() {
        for (text, size) in [
            ("80", 80),
            ("0", 0),
            ("-4", 0),
            ("-99999999999999999999999", 0),
            ("513", 513),
            ("000064", 64),
            ("99999999999999999999999", u32::MAX),
        ] {
            assert_eq!(parse_url_size(text), Ok(size), "{text}");
        }
        for text in ["", "-", "big", "1.5", "+3", " 8"] {
            let err = parse_url_size(text).unwrap_err();
            assert!(err.contains("clamped to 1..=512"), "{text}: {err}");
        }
    }

    #[test]
    fn listen_addresses_take_an_ip_localhost_or_a_bare_port() {
        assert_eq!(
            parse_listen_addr("0.0.0.0:8080").unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(
            parse_listen_addr("[::1]:81").unwrap(),
            "[::1]:81".parse().unwrap()
        );
        assert_eq!(
            parse_listen_addr("localhost:9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            parse_listen_addr("8081").unwrap(),
            "127.0.0.1:8081".parse().unwrap()
        );
        for bad in ["example.org:80", "localhost", "99999", "", "localhost:x"] {
            let err = parse_listen_addr(bad).unwrap_err();
            assert!(err.contains("localhost:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn nameservers_default_to_port_53() {
        assert_eq!(
            parse_nameserver("192.0.2.1").unwrap(),
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("192.0.2.1:5353").unwrap(),
            "192.0.2.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("::1").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[::1]").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[::1]:54").unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert!(
            parse_nameserver("dns.example.org")
                .unwrap_err()
                .contains("IP or IP:PORT")
        );
    }

    /// Every `--default` help names every keyword the server draws: `url`'s once missed
    /// Gravatar's newer `color` and `initials`.
    #[test]
    fn every_default_help_names_every_keyword() {
        use clap::CommandFactory as _;

        let command = Cli::command();
        for sub in command.get_subcommands() {
            let Some(default) = sub
                .get_arguments()
                .find(|arg| arg.get_long() == Some("default"))
            else {
                continue;
            };
            let help = default
                .get_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            for keyword in DefaultKeyword::ALL {
                assert!(
                    help.contains(keyword.name()),
                    "{} --default does not name {keyword}: {help}",
                    sub.get_name()
                );
            }
        }
    }
}
