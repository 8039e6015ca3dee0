#!/usr/bin/env bash
# Installs what the operator-server checks need, when missing. Idempotent.
# - curl and openssl (Debian's): the HTTPS tests check the TLS listener with curl (HTTP/1.1 and
#   HTTP/2) and make an RSA key with openssl; without them those tests fail, saying so.
# - schemathesis (PyPI, pinned) in a virtual environment at $AVATARS_VENV (by default
#   ~/.cache/avatars-venv), for `cargo xtask schemathesis`, which checks the admin API against
#   docs/admin-openapi.yaml. Kept between runs so a CI run installs it once.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

SCHEMATHESIS_VERSION=4.32.5
venv=${AVATARS_VENV:-$HOME/.cache/avatars-venv}

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    status=0
    apt_install ensure-api-tools "${missing[@]}" ca-certificates || status=$?
    if [ "$status" != 0 ]; then
        echo "ensure-api-tools: cannot install ${missing[*]} (status $status)" >&2
        exit 1
    fi
fi

if [ "$("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" = "$SCHEMATHESIS_VERSION" ]; then
    exit 0
fi
echo "ensure-api-tools: installing schemathesis $SCHEMATHESIS_VERSION in $venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
"$venv/bin/schemathesis" --version >/dev/null
