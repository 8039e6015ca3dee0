#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries and PgBouncer for the PostgreSQL store's tests
# when they are missing. Idempotent. The tests never use the system's cluster or pooler: each
# starts a private one in a temporary directory on a free loopback port
# (crates/test-support/src/postgres.rs and pgbouncer.rs), so the services the packages start
# are stopped again.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

# ensure PACKAGE SERVICE CHECK...: installs PACKAGE (stopping SERVICE) unless CHECK succeeds.
ensure() {
    local package=$1 service=$2 status=0
    shift 2
    if "$@" >/dev/null 2>&1; then
        return
    fi
    SERVICE_TO_STOP=$service apt_install ensure-postgres "$package" || status=$?
    if [ "$status" != 0 ]; then
        echo "ensure-postgres: cannot install $package (status $status); the PostgreSQL tests need it" >&2
        exit 1
    fi
    "$@" >/dev/null
}

ensure postgresql postgresql compgen -G '/usr/lib/postgresql/*/bin/initdb'
ensure pgbouncer pgbouncer test -x /usr/sbin/pgbouncer
