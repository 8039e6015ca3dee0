#!/usr/bin/env bash
# Installs what the browser tests need, when missing. Idempotent.
# - Debian's chromium, for the tests that load pages (the conformance HTML report, the proxy's
#   page, a cross-origin isolated page, the home page). Exits 0 without chromium only when there
#   is neither chromium nor apt-get (the tests then skip, saying so); a failing apt-get fails this
#   script, so a broken install is never a silent skip.
# - axe-core (npm, pinned) at $AVATARS_AXE (by default ~/.cache/avatars-axe), the accessibility
#   checker the tests run on every HTML page the project writes; with Debian's nodejs and npm
#   when there is no npm. Kept between runs so a CI run installs it once.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"
. "$(dirname "$0")/lib/npm.sh"

AXE_VERSION=4.14.1
axe=${AVATARS_AXE:-$HOME/.cache/avatars-axe}

if ! command -v chromium >/dev/null 2>&1; then
    status=0
    apt_install ensure-chromium chromium fonts-dejavu-core || status=$?
    case $status in
        0) command -v chromium >/dev/null ;;
        10) echo "ensure-chromium: chromium is not installed and apt-get is not available: THE BROWSER TESTS WILL BE SKIPPED" >&2; exit 0 ;;
        11) echo "ensure-chromium: not root and no sudo: THE BROWSER TESTS WILL BE SKIPPED" >&2; exit 0 ;;
        *) exit "$status" ;;
    esac
fi

if [ "$(npm_version "$axe" axe-core)" = "$AXE_VERSION" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    apt_install ensure-chromium nodejs npm
fi
npm_ensure ensure-chromium "$axe" axe-core "$AXE_VERSION"
test -f "$axe/node_modules/axe-core/axe.min.js"
