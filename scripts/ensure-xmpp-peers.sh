#!/usr/bin/env bash
# Installs the XMPP peers of the end-to-end tests when missing. Idempotent.
# - Prosody and ejabberd (Debian's): the component is tested against both servers. Their
#   system-wide instances are stopped; the tests start private ones on loopback.
# - slixmpp (PyPI, pinned) in a virtual environment at $AVATARS_VENV (by default
#   ~/.cache/avatars-venv, shared with ensure-api-tools.sh): a real client library as the user.
# Without apt-get the server tests skip, saying so; a failing install fails this script.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

SLIXMPP_VERSION=1.8.6
venv=${AVATARS_VENV:-$HOME/.cache/avatars-venv}

missing=()
command -v prosody >/dev/null 2>&1 || missing+=(prosody)
[ -x /usr/sbin/ejabberdctl ] || missing+=(ejabberd)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    status=0
    apt_install ensure-xmpp-peers "${missing[@]}" || status=$?
    case $status in
        0) ;;
        10 | 11) echo "ensure-xmpp-peers: cannot install ${missing[*]} here (no apt-get, or not root): THE XMPP SERVER TESTS WILL BE SKIPPED" >&2 ;;
        *) exit "$status" ;;
    esac
    # Debian starts both daemons on install; the tests run their own.
    service prosody stop >/dev/null 2>&1 || true
    service ejabberd stop >/dev/null 2>&1 || true
    pkill -u ejabberd -f beam >/dev/null 2>&1 || true
    pkill -u ejabberd epmd >/dev/null 2>&1 || true
fi

if [ "$("$venv/bin/python" -c 'import slixmpp; print(slixmpp.__version__)' 2>/dev/null)" = "$SLIXMPP_VERSION" ]; then
    exit 0
fi
echo "ensure-xmpp-peers: installing slixmpp $SLIXMPP_VERSION in $venv" >&2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "slixmpp==$SLIXMPP_VERSION"
"$venv/bin/python" -c 'import slixmpp' 
