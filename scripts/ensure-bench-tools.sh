#!/usr/bin/env bash
# Installs what `cargo xtask bench` compares against: Debian's nginx-light (the static-file
# baseline) and wrk (the load generator); the tests run nginx as a reverse proxy too
# (test_support::nginx), and Debian's Caddy as the other one self-hosters put in front
# (test_support::caddy, deploy/Caddyfile), so `cargo xtask ci` runs this. Idempotent: does
# nothing when all are present. The system-wide nginx and Caddy the packages start are stopped.
# Fails loudly when they are missing and cannot be installed; the bench never runs half.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
    status=0
    SERVICE_TO_STOP=nginx apt_install ensure-bench-tools "${missing[@]}" || status=$?
    case $status in
        0) command -v wrk >/dev/null && [ -x /usr/sbin/nginx ] ;;
        10) echo "ensure-bench-tools: ${missing[*]} missing and apt-get is not available; install them by hand" >&2; exit 1 ;;
        11) echo "ensure-bench-tools: ${missing[*]} missing; not root and no sudo" >&2; exit 1 ;;
        *) exit "$status" ;;
    esac
fi

if ! command -v caddy >/dev/null 2>&1; then
    status=0
    SERVICE_TO_STOP=caddy apt_install ensure-bench-tools caddy || status=$?
    if [ "$status" != 0 ] || ! command -v caddy >/dev/null 2>&1; then
        echo "ensure-bench-tools: cannot install Debian's caddy (status $status)" >&2
        exit 1
    fi
fi
