//! What `avatars serve` and `avatars xmpp` tell the service manager that started them:
//! systemd's `Type=notify` protocol (`sd_notify(3)`, through `$NOTIFY_SOCKET`), which
//! `deploy/`'s units use.
//!
//! - ready, once the server listens (or the component has its settings and store and starts
//!   connecting): `systemctl start` waits for it, and fails, saying so, when the start does.
//!   Under `Type=exec` it returned at once, and a settings file that did not parse was only
//!   seen in the journal, the unit restarting over and over;
//! - reloading, then ready again, around each SIGHUP (`systemctl reload`);
//! - stopping, once a SIGTERM or Ctrl-C has been received;
//! - a status line, which `systemctl status` shows.
//!
//! Without `$NOTIFY_SOCKET` (started by hand, or by another supervisor) each is nothing.

use sd_notify::NotifyState;

/// Whether a service manager listens (`$NOTIFY_SOCKET` is set): a status kept up to date is
/// worth its work only then.
pub(crate) fn is_watching() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// The server is ready: it listens and answers. `status` is the line `systemctl status` shows.
pub(crate) fn ready(status: &str) {
    tell(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A new status line for `systemctl status`.
pub(crate) fn status(status: &str) {
    tell(&[NotifyState::Status(status)]);
}

/// A SIGHUP is being answered; [`reloaded`] follows. With the time, which systemd 253's
/// `Type=notify-reload` asks for (the deploy units target 252, Debian 12's, whose
/// `ExecReload` sends the signal).
pub(crate) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => tell(&[NotifyState::Reloading, now]),
        Err(_) => tell(&[NotifyState::Reloading]),
    }
}

/// The SIGHUP has been answered (whether every file could be read again or not: the server
/// goes on either way).
pub(crate) fn reloaded() {
    tell(&[NotifyState::Ready]);
}

/// A stop was asked for; requests in flight are finishing.
pub(crate) fn stopping() {
    tell(&[NotifyState::Stopping]);
}

fn tell(states: &[NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(states) {
        // Only when $NOTIFY_SOCKET is set and cannot be written to; the server goes on.
        tracing::warn!(
            target: "avatars",
            "cannot tell the service manager ($NOTIFY_SOCKET) the server's state: {err}"
        );
    }
}
