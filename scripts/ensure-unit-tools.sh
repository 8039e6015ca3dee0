#!/usr/bin/env bash
# Installs what the deploy units' test needs, when missing. Idempotent.
# - systemd-analyze (Debian's systemd): reads deploy/*.service as systemd would and scores
#   their sandboxing; systemd need not be running.
# - strace: the test runs `avatars serve` under it to check that every system call it makes
#   is one the units' SystemCallFilter allows.
# - what test-support's private systemd needs to boot and what the units' install steps run:
#   unshare, nsenter and setpriv (util-linux), ip (iproute2), curl, openssl; systemd itself is
#   the package above.
# - promtool (Debian's prometheus): checks deploy/prometheus-alerts.yml and runs its tests,
#   and lints /metrics as scrapers other than Prometheus read it; the package's Prometheus
#   server scrapes the servers under test (test-support starts private ones). The system
#   instance the package starts is stopped, as tests start nothing system-wide.
# - shellcheck: xtask's tidy tests check every shell script the project runs with it.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ ${#missing[@]} -gt 0 ]; then
    status=0
    SERVICE_TO_STOP=prometheus apt_install ensure-unit-tools "${missing[@]}" || status=$?
    if [ "$status" != 0 ]; then
        echo "ensure-unit-tools: cannot install ${missing[*]} (status $status)" >&2
        exit 1
    fi
fi
