//! The connection string read into the pool's and the listening connection's configurations
//! (`listen_host`, `listen_port`), and written back for people with its password hidden.

use avatar_store::StoreError;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::TlsSettings;

/// Whether `url` is a PostgreSQL connection string [`PgStore::connect`](crate::PgStore::connect)
/// accepts, checked without connecting: for a command line or settings file to refuse a
/// malformed one at once.
///
/// # Errors
/// [`StoreError::InvalidUrl`] saying what is wrong, with any password removed.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    connection_config(url).map(drop)
}

/// `url` parsed as tokio-postgres parses it, with the TLS connector its `sslmode` and
/// `sslrootcert` ask for ([`TlsSettings`]).
pub(crate) fn connection_config(url: &str) -> Result<Connections, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: display_url(url),
        reason,
    };
    let (listen_at, url_rest) = crate::tls::take_parameters(url, &["listen_host", "listen_port"]);
    let (tls, rest) = TlsSettings::split(&url_rest).map_err(invalid)?;
    let mut config = rest.parse::<tokio_postgres::Config>().map_err(|err| {
        // "invalid connection string" alone; what is wrong is its source ("invalid port").
        let why =
            std::error::Error::source(&err).map_or_else(String::new, |why| format!(": {why}"));
        invalid(format!(
            "{err}{why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        ))
    })?;
    config.ssl_mode(tls.mode);
    let connector = tls.connector().map_err(invalid)?;
    let listen = listen_config(&config, &listen_at).map_err(invalid)?;
    Ok(Connections {
        pool: config,
        listen,
        tls: connector,
    })
}

/// Where a store's connections go: its pool's, and its listening one's (the same unless the
/// URL has `listen_host` or `listen_port`).
pub(crate) struct Connections {
    pub(crate) pool: tokio_postgres::Config,
    pub(crate) listen: Option<tokio_postgres::Config>,
    pub(crate) tls: MakeRustlsConnect,
}

/// The listening connection's settings when `listen_at` (the URL's `listen_host` and
/// `listen_port`) moves it: `pool`'s, at that host or port. For a URL that names a pooler in
/// transaction mode (PgBouncer's, a managed database's pool), where `LISTEN` cannot work: a
/// server connection goes back to the pool after each statement, and what is notified to it
/// then reaches no one.
pub(crate) fn listen_config(
    pool: &tokio_postgres::Config,
    listen_at: &[(String, String)],
) -> Result<Option<tokio_postgres::Config>, String> {
    let (host, port) = (
        crate::tls::last_value(listen_at, "listen_host"),
        crate::tls::last_value(listen_at, "listen_port"),
    );
    if host.is_none() && port.is_none() {
        return Ok(None);
    }
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|&port| port > 0)
                .ok_or_else(|| format!("listen_port={port} is no port: expected 1 to 65535"))
        })
        .transpose()?;
    let mut listen = tokio_postgres::Config::new();
    match host {
        Some(host) => {
            listen.host(host);
        }
        None => {
            for host in pool.get_hosts() {
                match host {
                    tokio_postgres::config::Host::Tcp(name) => listen.host(name),
                    tokio_postgres::config::Host::Unix(path) => listen.host_path(path),
                };
            }
        }
    }
    match port {
        Some(port) => {
            listen.port(port);
        }
        None => {
            for &port in pool.get_ports() {
                listen.port(port);
            }
        }
    }
    if let Some(user) = pool.get_user() {
        listen.user(user);
    }
    if let Some(password) = pool.get_password() {
        listen.password(password);
    }
    if let Some(dbname) = pool.get_dbname() {
        listen.dbname(dbname);
    }
    if let Some(options) = pool.get_options() {
        listen.options(options);
    }
    listen.ssl_mode(pool.get_ssl_mode());
    Ok(Some(listen))
}

/// Where a connection made with `config` goes, for messages: `HOST:PORT` (the first of each).
pub(crate) fn describe_listen(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// A connection string for messages and logs, with every password taken out:
/// `postgres://user:secret@host/db` as `postgres://user@host/db`, a `password` query parameter
/// and a `password=` of a key=value string (`host=db password=secret`) as `***`.
#[must_use]
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return hide_key_value_password(url);
    };
    let (authority, path) = rest
        .find(['/', '?'])
        .map_or((rest, ""), |end| rest.split_at(end));
    // The last '@' ends the credentials: a password may hold an unencoded '@'.
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => path.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

/// `host=db password='a b' user=x` as `host=db password=*** user=x`: libpq's key=value form,
/// where a value may be single-quoted with `\'` and `\\` escapes.
pub(crate) fn hide_key_value_password(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            out.push(c);
            chars.next();
            continue;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        out.push_str(&key);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            out.push(chars.next().unwrap_or(' '));
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        out.push('=');
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            out.push(chars.next().unwrap_or(' '));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            value.push('\'');
            chars.next();
            while let Some(c) = chars.next() {
                value.push(c);
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    _ => {}
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_host_and_port_move_only_the_listening_connection() {
        let url =
            "postgres://avatars:pw@pool.internal:6432/avatars?listen_port=5432&sslmode=disable";
        let connections = connection_config(url).unwrap();
        assert_eq!(connections.pool.get_ports(), &[6432]);
        let listen = connections.listen.unwrap();
        assert_eq!(listen.get_ports(), &[5432]);
        assert_eq!(
            listen.get_hosts(),
            &[tokio_postgres::config::Host::Tcp(
                "pool.internal".to_owned()
            )]
        );
        assert_eq!(listen.get_user(), Some("avatars"));
        assert_eq!(listen.get_password(), Some(&b"pw"[..]));
        assert_eq!(listen.get_dbname(), Some("avatars"));
        let moved = connection_config("postgres://a@pool/db?listen_host=db.internal").unwrap();
        let listen = moved.listen.unwrap();
        assert_eq!(
            listen.get_hosts(),
            &[tokio_postgres::config::Host::Tcp("db.internal".to_owned())]
        );
        assert!(
            connection_config("postgres://a@db/db")
                .unwrap()
                .listen
                .is_none()
        );
        for bad in ["0", "65536", "x"] {
            let err = check_url(&format!("postgres://a@db/db?listen_port={bad}")).unwrap_err();
            assert!(err.to_string().contains("expected 1 to 65535"), "{err}");
        }
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            display_url("postgres://avatars:s3cret@db:5432/avatars"),
            "postgres://avatars@db:5432/avatars"
        );
        assert_eq!(
            display_url("postgres://db/avatars"),
            "postgres://db/avatars"
        );
        assert_eq!(display_url("host=db user=x"), "host=db user=x");
        let hidden = [
            (
                "postgres://avatars:p@ss@db/avatars",
                "postgres://avatars@db/avatars",
            ),
            (
                "postgresql://db/avatars?user=x&password=s3cret&sslmode=disable",
                "postgresql://db/avatars?user=x&password=***&sslmode=disable",
            ),
            (
                "postgres://a:b@db?password=s3cret",
                "postgres://a@db?password=***",
            ),
            (
                "host=db password=s3cret user=x",
                "host=db password=*** user=x",
            ),
            (
                "host=db password = 's3 \\'cret' user=x",
                "host=db password = *** user=x",
            ),
            ("password=s3cret", "password=***"),
            ("host=db password=", "host=db password=***"),
        ];
        for (given, shown) in hidden {
            assert_eq!(display_url(given), shown, "{given}");
            assert!(!display_url(given).contains("s3"), "{given}");
        }
    }

    proptest::proptest! {
        /// Whatever the password and the form, it never shows; and nothing panics on any text.
        #[test]
        fn no_password_shows_in_any_form(
            password in "[A-Za-z0-9@:%!#$^&*()_+=-]{6,20}",
            junk in "\\PC{0,60}",
        ) {
            let _ = display_url(&junk);
            let marked = format!("Q{password}Z");
            for given in [
                format!("postgres://avatars:{marked}@db:5432/avatars"),
                format!("postgres://db/avatars?password={}", marked.replace('&', "%26")),
                format!("host=db password={marked} user=x"),
                format!("host=db password='{}' user=x", marked.replace('\'', "\\'")),
            ] {
                let shown = display_url(&given);
                proptest::prop_assert!(!shown.contains(&marked), "{} shows {}", given, shown);
            }
        }
    }
}
