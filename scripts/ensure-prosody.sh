#!/usr/bin/env bash
# Installs Debian's prosody for the XMPP end-to-end test when it is missing. Idempotent.
# Exits 0 without prosody only when there is neither prosody nor apt-get (the test then skips,
# saying so); a failing apt-get fails this script, so a broken install is never a silent skip.
set -euo pipefail

if command -v prosody >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-prosody: prosody is not installed and apt-get is not available: THE PROSODY TEST WILL BE SKIPPED" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo -n"
    else
        echo "ensure-prosody: not root and no sudo: THE PROSODY TEST WILL BE SKIPPED" >&2
        exit 0
    fi
fi
echo "ensure-prosody: installing Debian's prosody for the XMPP end-to-end test" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prosody >/dev/null
# The package may start a system-wide instance; the test runs its own on other ports.
$sudo service prosody stop >/dev/null 2>&1 || true
command -v prosody >/dev/null
