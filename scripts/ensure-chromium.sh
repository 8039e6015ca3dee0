#!/usr/bin/env bash
# Installs Debian's chromium for the browser test of the conformance HTML report when it is
# missing. Idempotent. Exits 0 without chromium only when there is neither chromium nor apt-get
# (the test then skips, saying so); a failing apt-get fails this script, so a broken install is
# never a silent skip.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
status=0
apt_install ensure-chromium chromium fonts-dejavu-core || status=$?
case $status in
    0) command -v chromium >/dev/null ;;
    10) echo "ensure-chromium: chromium is not installed and apt-get is not available: THE BROWSER TEST WILL BE SKIPPED" >&2 ;;
    11) echo "ensure-chromium: not root and no sudo: THE BROWSER TEST WILL BE SKIPPED" >&2 ;;
    *) exit "$status" ;;
esac
