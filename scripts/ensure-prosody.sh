#!/usr/bin/env bash
# Installs Debian's prosody for the XMPP end-to-end test when it is missing. Idempotent.
# Exits 0 without prosody only when there is neither prosody nor apt-get (the test then skips,
# saying so); a failing apt-get fails this script, so a broken install is never a silent skip.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

if command -v prosody >/dev/null 2>&1; then
    exit 0
fi
status=0
SERVICE_TO_STOP=prosody apt_install ensure-prosody prosody || status=$?
case $status in
    0) command -v prosody >/dev/null ;;
    10) echo "ensure-prosody: prosody is not installed and apt-get is not available: THE PROSODY TEST WILL BE SKIPPED" >&2 ;;
    11) echo "ensure-prosody: not root and no sudo: THE PROSODY TEST WILL BE SKIPPED" >&2 ;;
    *) exit "$status" ;;
esac
