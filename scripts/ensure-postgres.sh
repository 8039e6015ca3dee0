#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the PostgreSQL store's tests when they are
# missing. Idempotent. The tests never use the system's cluster: each starts a private one in
# a temporary directory on a free loopback port (crates/test-support/src/postgres.rs), so the
# service the package starts is stopped again.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
status=0
SERVICE_TO_STOP=postgresql apt_install ensure-postgres postgresql || status=$?
if [ "$status" != 0 ]; then
    echo "ensure-postgres: cannot install postgresql (status $status); the PostgreSQL tests need it" >&2
    exit 1
fi
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
