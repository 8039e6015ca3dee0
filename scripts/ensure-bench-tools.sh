#!/usr/bin/env bash
# Installs what `cargo xtask bench` compares against: Debian's nginx-light (the static-file
# baseline) and wrk (the load generator). Idempotent: does nothing when both are present.
# Fails loudly when they are missing and cannot be installed; the bench never runs half.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-bench-tools: ${missing[*]} missing and apt-get is not available; install them by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo -n"
    else
        echo "ensure-bench-tools: ${missing[*]} missing; not root and no sudo" >&2
        exit 1
    fi
fi
echo "ensure-bench-tools: installing Debian's ${missing[*]} for the nginx comparison" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system-wide nginx on port 80; the bench runs its own on an ephemeral port.
$sudo service nginx stop >/dev/null 2>&1 || true
command -v wrk >/dev/null
[ -x /usr/sbin/nginx ]
