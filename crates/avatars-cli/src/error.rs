//! The one error type of the CLI, and the exit status each error gets.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use avatar_store::StoreError;

/// Everything that makes an `avatars` command fail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The identity, a size, a URL: something the user typed (exit status 2).
    #[error(transparent)]
    Input(#[from] avatar_proto::Error),

    /// An image to import was refused (exit status 2).
    #[error("{}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        source: avatar_image::ImageError,
    },

    /// A manifest for `avatars import --manifest` is not what it should be (exit status 2).
    #[error("{}: {problem}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong, and what is accepted.
        problem: String,
    },

    /// A file named on the command line cannot be read (exit status 2).
    #[error("cannot read {}: {source}{}", path.display(), read_hint(path, source))]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// The proxy's keys or settings are refused (exit status 2).
    #[error(transparent)]
    Proxy(#[from] avatar_proxy::ProxyError),

    /// The discovery resolver cannot be set up (exit status 2).
    #[error(transparent)]
    Discovery(#[from] avatar_discovery::DiscoveryError),

    /// A settings file (`serve --config`) is unreadable or wrong (exit status 2).
    #[error("{}: {problem}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what is accepted.
        problem: String,
    },

    /// Root was to write in a folder another user owns (exit status 2): see [`crate::owner`].
    #[error(
        "{} belongs to the user of uid {uid}, not root: what root wrote there, that user (the server's) could never replace or remove; run this as that user: runuser -u \"$(stat -c %U {})\" -- avatars ... (to import a picture only root may read, give it on standard input: avatars import ADDRESS - < PICTURE)",
        dir.display(),
        dir.display()
    )]
    NotTheOwner {
        /// The folder (the nearest one that exists).
        dir: PathBuf,
        /// Its owner.
        uid: u32,
    },

    /// A file that must not be overwritten exists (exit status 2).
    #[error("{} exists; not overwriting it (remove it first, or choose another file)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },

    /// A file cannot be written (exit status 1).
    #[error("cannot write {}: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// `avatars export` found no picture for the identity (exit status 1).
    #[error("nothing stored for {identity}: nothing exported (`avatars list` shows who is stored)")]
    NotStored {
        /// The identity, normalised.
        identity: String,
    },

    /// `avatars import ADDRESS -` with standard input a terminal (exit status 2).
    #[error(
        "not reading a picture from the terminal: give a file, or pipe the picture in (`avatars import ADDRESS - < FILE`)"
    )]
    PictureFromTerminal,

    /// A picture read from a stream (standard input, a pipe, `/dev/stdin`) past the size limit
    /// (exit status 2); the rest is not read, since a stream need not end.
    #[error(
        "{}: more than {limit} bytes came in; at most {limit} bytes are accepted (the rest was not read)",
        path.display()
    )]
    StreamTooLarge {
        /// The file, or `standard input`.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },

    /// `avatars export -` with standard output a terminal (exit status 2).
    #[error(
        "not writing a picture to the terminal: give a file, or redirect standard output (`avatars export ADDRESS - > FILE`)"
    )]
    PictureToTerminal,

    /// The XMPP component's settings are refused (exit status 2).
    #[error(transparent)]
    Component(#[from] avatar_xmpp::ConfigError),

    /// The XMPP server's address does not resolve (exit status 2).
    #[error(
        "cannot resolve the XMPP server address {server}: {reason}; expected HOST:PORT of its component port"
    )]
    Unresolvable {
        /// The address as given.
        server: String,
        /// What the resolver said.
        reason: String,
    },

    /// The store failed (exit status 1), or the data directory is not a store or holds none
    /// (exit status 2).
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The directory an option names holds no store, or something that is not one (exit
    /// status 2): the store's words, then what to give that option.
    #[error("{source}; {}", store_hint(source, flag))]
    StoreAt {
        /// `--data-dir`, `--store`, `--from` or `--to`.
        flag: &'static str,
        /// [`StoreError::NoStore`] or [`StoreError::NotAStore`].
        source: StoreError,
    },

    /// The service's settings are refused (exit status 2).
    #[error(transparent)]
    Service(#[from] avatar_service::ServiceError),

    /// `avatars migrate` was given the same store twice (exit status 2).
    #[error("--from and --to are both {store}: give two different stores")]
    SameStore {
        /// The store.
        store: String,
    },

    /// Two listeners were given one port (exit status 2).
    #[error(
        "{first} and {second} both ask for port {port}: each listener needs a port of its own \
         (0 picks a free one)"
    )]
    SameAddress {
        /// The first listener's option.
        first: &'static str,
        /// The second's.
        second: &'static str,
        /// The port both ask for.
        port: u16,
    },

    /// An option that this combination of options needs is missing (exit status 2).
    #[error("{why}: give {option}")]
    MissingOption {
        /// The option, as typed.
        option: &'static str,
        /// Why it is needed.
        why: &'static str,
    },

    /// `--render-ahead` cannot be used as given (exit status 2).
    #[error("--render-ahead: {0}")]
    RenderAhead(#[source] avatar_image::ImageError),

    /// The TLS certificate or key is unusable (exit status 2).
    #[error("{}: {problem}", path.display())]
    Tls {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong, and what is accepted.
        problem: String,
    },

    /// The address cannot be listened on (exit status 1).
    #[error("cannot listen on {addr} ({flag}): {source}{}", bind_hint(.source, flag))]
    Bind {
        /// The option that gave the address (`--addr`, `--tls-addr`, `--admin-addr`).
        flag: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },

    /// The rendition files' directory cannot be made (exit status 1).
    #[error(
        "cannot keep rendition files in {}: {source} (give another --render-files-dir, or --render-files-bytes 0 to keep none)",
        path.display()
    )]
    RenditionFiles {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },

    /// `render-ahead` rendered pictures whose files it could not write (exit status 1).
    #[error(
        "{count} rendition file(s) could not be written in {}: {reason}; make room there, or lower --render-files-bytes, then run render-ahead again to finish",
        dir.display()
    )]
    RenditionsNotKept {
        /// The rendition files' directory.
        dir: PathBuf,
        /// Files that could not be written.
        count: u64,
        /// What the system said of the latest.
        reason: String,
    },

    /// Writing the result, or running the server, failed (exit status 1).
    #[error("{0}")]
    Output(#[from] io::Error),
}

impl CliError {
    /// 2 for anything the user can fix by changing the command line or its files, 1 for the rest.
    pub(crate) const fn exit_code(&self) -> u8 {
        match self {
            Self::Input(_)
            | Self::Image { .. }
            | Self::ReadFile { .. }
            | Self::Manifest { .. }
            | Self::Component(_)
            | Self::Unresolvable { .. }
            | Self::Service(_)
            | Self::Proxy(_)
            | Self::Discovery(_)
            | Self::Exists { .. }
            | Self::PictureToTerminal
            | Self::PictureFromTerminal
            | Self::StreamTooLarge { .. }
            | Self::NotTheOwner { .. }
            | Self::Config { .. }
            | Self::Tls { .. }
            | Self::SameStore { .. }
            | Self::SameAddress { .. }
            | Self::MissingOption { .. }
            | Self::RenderAhead(_)
            | Self::StoreAt { .. }
            | Self::Store(
                StoreError::NotAStore { .. }
                | StoreError::NoStore { .. }
                | StoreError::WrongVersion { .. }
                | StoreError::InvalidUrl { .. },
            ) => 2,
            Self::Store(_)
            | Self::Bind { .. }
            | Self::RenditionFiles { .. }
            | Self::RenditionsNotKept { .. }
            | Self::WriteFile { .. }
            | Self::NotStored { .. }
            | Self::Output(_) => 1,
        }
    }
}

/// What to do about the commonest reasons a port cannot be listened on, given with `flag`.
fn bind_hint(err: &io::Error, flag: &str) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => format!(
            "; another program holds that port: give another with {flag} (port 0 picks a free one)"
        ),
        io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need root or CAP_NET_BIND_SERVICE (see deploy/avatars.service)"
                .to_owned()
        }
        io::ErrorKind::AddrNotAvailable => {
            "; no network interface of this machine has that address".to_owned()
        }
        _ => String::new(),
    }
}

/// A file name that is a web address: commands read files, they download nothing.
fn read_hint(path: &std::path::Path, source: &std::io::Error) -> String {
    let text = path.to_string_lossy().to_ascii_lowercase();
    if text.starts_with("http://") || text.starts_with("https://") {
        return "; that is a web address, and a file on this machine is expected: download it first"
            .to_owned();
    }
    #[cfg(unix)]
    {
        let user = rustix::process::geteuid();
        if source.kind() == std::io::ErrorKind::PermissionDenied && !user.is_root() {
            // Typically `runuser -u avatars -- avatars import ... /root/photo.jpg`.
            let picture = path.extension().is_some_and(|extension| {
                avatar_proto::ImageFormat::from_extension(extension.as_encoded_bytes()).is_some()
            });
            return format!(
                "; this user (uid {}) may not read it or a folder above it (ls -ld shows whose they are){}",
                user.as_raw(),
                if picture {
                    "; a picture can also go in on standard input, read by whoever runs the command: avatars import ADDRESS - < PICTURE"
                } else {
                    ""
                }
            );
        }
    }
    let _ = source;
    String::new()
}

/// What to give `flag` when the directory it named holds no store, or something else.
fn store_hint(err: &StoreError, flag: &str) -> String {
    match (err, flag) {
        (StoreError::NoStore { .. }, "--from") => "give --from the store to copy from".to_owned(),
        (StoreError::NoStore { .. }, _) => format!(
            "`avatars import` or `avatars serve` makes one there, or give {flag} the directory \
             of one"
        ),
        _ => format!("give {flag} a store, or a new or empty directory to make one in"),
    }
}
