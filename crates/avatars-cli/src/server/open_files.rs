//! The open-file limit (`ulimit -n`) against the connections the listeners may hold: each
//! connection is a file descriptor, and a shell's soft limit (1024 on Debian) is far below the
//! 4096 `--max-connections` allows by default. Past the limit `accept` fails with `EMFILE` and
//! new visitors wait however few requests are in flight. As Go's runtime does at start (and
//! nginx with `worker_rlimit_nofile`), the soft limit is raised, up to the hard one, to what
//! the listeners may hold plus a reserve; when the hard limit is lower, the server starts and
//! says how many connections it can take. The systemd unit sets `LimitNOFILE=65536`.

/// Descriptors kept besides connections: listeners, event loops, store and rendition files
/// being read or written, the proxy's DNS and upstream sockets, a database pool, the log.
pub(crate) const RESERVED: u64 = 256;

/// The soft limit to ask for, if it is to be raised, and the limit it leaves: enough for
/// `connections` and [`RESERVED`], at most `hard`. `None` stands for unlimited.
#[must_use]
pub(crate) fn plan(soft: Option<u64>, hard: Option<u64>, connections: u64) -> Plan {
    let needed = connections.saturating_add(RESERVED);
    let soft = soft.unwrap_or(u64::MAX);
    if soft >= needed {
        return Plan {
            raise_to: None,
            limit: soft,
            needed,
        };
    }
    let target = needed.min(hard.unwrap_or(u64::MAX));
    Plan {
        raise_to: (target > soft).then_some(target),
        limit: target.max(soft),
        needed,
    }
}

/// What [`plan`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The new soft limit, when the current one is too low.
    pub(crate) raise_to: Option<u64>,
    /// The limit once raised.
    pub(crate) limit: u64,
    /// Connections and [`RESERVED`].
    pub(crate) needed: u64,
}

impl Plan {
    /// What to tell the operator when the limit stays below the need of `listeners` listeners
    /// of `per_listener` connections each.
    #[must_use]
    pub(crate) fn shortfall(&self, listeners: u64, per_listener: u64) -> Option<String> {
        if self.limit >= self.needed {
            return None;
        }
        let room = self.limit.saturating_sub(RESERVED);
        let each = if listeners > 1 {
            format!(" on each of the {listeners} listeners")
        } else {
            String::new()
        };
        Some(format!(
            "the open-file limit is {limit} and cannot be raised further (`ulimit -Hn`): about \
             {room} connection(s) can be open at once, fewer than the {per_listener} \
             --max-connections allows{each}; past that, new connections wait. Raise the limit \
             (LimitNOFILE= in a systemd unit, `ulimit -n` in the shell that starts the server) \
             or lower --max-connections",
            limit = self.limit,
        ))
    }
}

/// Raises this process's soft open-file limit as [`plan`] says, for `listeners` listeners of
/// `per_listener` connections each; a warning when it stays too low.
#[cfg(unix)]
pub(crate) fn make_room(listeners: u64, per_listener: u64) -> Option<String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let mut planned = plan(
        now.current,
        now.maximum,
        listeners.saturating_mul(per_listener),
    );
    if let Some(target) = planned.raise_to {
        let raised = Rlimit {
            current: Some(target),
            maximum: now.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            // Above the kernel's `fs.nr_open`, say: the limit stays as it was.
            tracing::debug!(error = %err, target, "cannot raise the open-file limit");
            planned.limit = now.current.unwrap_or(u64::MAX);
        }
    }
    planned.shortfall(listeners, per_listener)
}

/// Elsewhere there is no such limit to raise.
#[cfg(not(unix))]
pub(crate) fn make_room(_listeners: u64, _per_listener: u64) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_high_enough_is_left_alone() {
        let plan = plan(Some(65_536), Some(65_536), 4096);
        assert_eq!(plan.raise_to, None);
        assert_eq!(plan.shortfall(1, 4096), None);
        assert_eq!(
            super::plan(None, None, u64::MAX).raise_to,
            None,
            "unlimited"
        );
    }

    #[test]
    fn a_shells_soft_limit_is_raised_to_the_need() {
        let plan = plan(Some(1024), Some(524_288), 4096);
        assert_eq!(plan.raise_to, Some(4096 + RESERVED));
        assert_eq!(plan.shortfall(1, 4096), None);
        // Unlimited hard limit.
        assert_eq!(
            super::plan(Some(1024), None, 8192).raise_to,
            Some(8192 + RESERVED)
        );
    }

    #[test]
    fn a_low_hard_limit_is_reached_and_told() {
        let plan = plan(Some(1024), Some(2048), 2 * 4096);
        assert_eq!(plan.raise_to, Some(2048));
        let told = plan.shortfall(2, 4096).unwrap();
        assert!(
            told.starts_with(
                "the open-file limit is 2048 and cannot be raised further (`ulimit -Hn`): \
                 about 1792 connection(s) can be open at once, fewer than the 4096 \
                 --max-connections allows on each of the 2 listeners;"
            ),
            "{told}"
        );
        // Already at the hard limit: nothing to raise, still told.
        let at_hard = super::plan(Some(100), Some(100), 4096);
        assert_eq!(at_hard.raise_to, None);
        assert!(
            at_hard
                .shortfall(1, 4096)
                .unwrap()
                .contains("about 0 connection(s)")
        );
    }
}
