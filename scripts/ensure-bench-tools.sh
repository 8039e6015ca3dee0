#!/usr/bin/env bash
# Installs what `cargo xtask bench` compares against: Debian's nginx-light (the static-file
# baseline) and wrk (the load generator); the tests run nginx as a reverse proxy too
# (test_support::nginx), so `cargo xtask ci` runs this. Idempotent: does nothing when both are
# present.
# Fails loudly when they are missing and cannot be installed; the bench never runs half.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
status=0
SERVICE_TO_STOP=nginx apt_install ensure-bench-tools "${missing[@]}" || status=$?
case $status in
    0) command -v wrk >/dev/null && [ -x /usr/sbin/nginx ] ;;
    10) echo "ensure-bench-tools: ${missing[*]} missing and apt-get is not available; install them by hand" >&2; exit 1 ;;
    11) echo "ensure-bench-tools: ${missing[*]} missing; not root and no sudo" >&2; exit 1 ;;
    *) exit "$status" ;;
esac
