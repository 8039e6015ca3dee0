//! What a failed database call means for the store: [`StoreError`]s that say what was
//! reached, what was waited for and what a TLS failure means for the connection string.

use std::time::Duration;

use avatar_store::StoreError;

/// A driver error: [`StoreError::Unavailable`] when the connection is gone or the server is
/// shutting down or starting (SQLSTATE classes 08 and 57), [`StoreError::OutOfSpace`] when its
/// disk is full (53100), otherwise [`StoreError::Backend`]; with the server's own message.
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(database_error)`"
)]
pub(crate) fn database_error(err: tokio_postgres::Error) -> StoreError {
    match err.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let message = format!("{} (SQLSTATE {code})", db.message());
            if code.starts_with("08") || code.starts_with("57") {
                StoreError::Unavailable(message)
            } else if code == "53100" {
                StoreError::OutOfSpace(message)
            } else {
                StoreError::Backend(message)
            }
        }
        None => StoreError::Unavailable(err.to_string()),
    }
}

/// A connected server that did not answer within `timeout`.
pub(crate) fn no_answer_in_time(url: &str, timeout: Duration) -> StoreError {
    StoreError::Unavailable(format!("{url} did not answer within {timeout:?}"))
}

/// No connection within `timeout`: every pooled one stayed `busy`, or else the server did not
/// answer.
pub(crate) fn no_connection_in_time(url: &str, timeout: Duration, busy: bool) -> StoreError {
    StoreError::Unavailable(if busy {
        format!(
            "no connection to {url} free within {timeout:?}: every pooled connection stayed \
             busy (the database is slow, or the pool too small for the load)"
        )
    } else {
        format!(
            "no connection to {url} within {timeout:?}: the server did not answer in time \
             (is it running, and reachable from here?)"
        )
    })
}

/// No connection to `url` (as [`display_url`](crate::display_url) shows it) could be had:
/// `err` with its causes, where the pool's own message alone ("error connecting to server")
/// hid why (a refused connection, a name that does not resolve, a password refused), and the
/// time waited where the pool's says only that a timeout occurred.
pub(crate) fn unavailable(
    url: &str,
    timeout: Duration,
    err: &deadpool_postgres::PoolError,
) -> StoreError {
    use deadpool_postgres::{PoolError, TimeoutType};
    match err {
        PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle) => {
            return no_connection_in_time(url, timeout, false);
        }
        PoolError::Timeout(TimeoutType::Wait) => return no_connection_in_time(url, timeout, true),
        _ => {}
    }
    let message = avatar_proto::report::with_causes(err);
    let hint = tls_hint(&message);
    StoreError::Unavailable(format!("no connection to {url}: {message}{hint}"))
}

/// What a TLS failure means for the connection string's `sslmode` and `sslrootcert`.
pub(crate) fn tls_hint(message: &str) -> &'static str {
    if message.contains("invalid peer certificate") {
        " (sslmode=verify-ca checks the server's certificate against the authorities in \
         sslrootcert, or the web's without it, and verify-full its host name too: give the \
         database's authority, or connect by a name its certificate holds)"
    } else if message.contains("server does not support TLS") {
        " (sslmode=require, verify-ca and verify-full need a server with ssl = on)"
    } else {
        ""
    }
}
