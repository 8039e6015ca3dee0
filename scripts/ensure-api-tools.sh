#!/usr/bin/env bash
# Installs what the operator-server checks need, when missing. Idempotent.
# - curl and openssl (Debian's): the HTTPS tests check the TLS listener with curl (HTTP/1.1 and
#   HTTP/2) and make an RSA key with openssl; without them those tests fail, saying so.
# - schemathesis (PyPI, pinned) in a virtual environment at $AVATARS_VENV (by default
#   ~/.cache/avatars-venv), for `cargo xtask openapi`, which checks the admin API against
#   docs/admin-openapi.yaml. Kept between runs so a CI run installs it once.
# - Two more judges of that document, in $AVATARS_OPENAPI (by default ~/.cache/avatars-openapi),
#   pinned: Redocly CLI (npm), whose recommended rules `cargo xtask openapi` lints it with, and
#   openapi-python-client (PyPI, a virtual environment of its own), which generates the Python
#   client the same command then drives against a live server.
# - REDbot (PyPI, by RFC 9111's editor), pinned with httplint, the library of its checks, in a
#   virtual environment at $AVATARS_REDBOT (by default ~/.cache/avatars-redbot): the tests run it
#   on what `avatars serve` answers (crates/avatars-cli/tests/it/http_lint.rs).
# - sslyze (PyPI), pinned with nassl, its OpenSSL, in a virtual environment at $AVATARS_SSLYZE
#   (by default ~/.cache/avatars-sslyze): the tests scan the HTTPS listener against Mozilla's
#   intermediate TLS configuration (crates/avatars-cli/tests/it/tls.rs).
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"
. "$(dirname "$0")/lib/npm.sh"

SCHEMATHESIS_VERSION=4.32.5
REDOCLY_VERSION=2.77.0
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
REDBOT_REQUIREMENTS="redbot==2.7.1 httplint==2026.10.4"
venv=${AVATARS_VENV:-$HOME/.cache/avatars-venv}
openapi=${AVATARS_OPENAPI:-$HOME/.cache/avatars-openapi}
redbot=${AVATARS_REDBOT:-$HOME/.cache/avatars-redbot}
SSLYZE_REQUIREMENTS="sslyze==6.3.1 nassl==5.4.0"
sslyze=${AVATARS_SSLYZE:-$HOME/.cache/avatars-sslyze}

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    status=0
    apt_install ensure-api-tools "${missing[@]}" ca-certificates || status=$?
    if [ "$status" != 0 ]; then
        echo "ensure-api-tools: cannot install ${missing[*]} (status $status)" >&2
        exit 1
    fi
fi

if [ "$("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
    echo "ensure-api-tools: installing schemathesis $SCHEMATHESIS_VERSION in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    "$venv/bin/schemathesis" --version >/dev/null
fi

npm_ensure ensure-api-tools "$openapi" @redocly/cli "$REDOCLY_VERSION"
test -x "$openapi/node_modules/.bin/redocly"

generator=$openapi/python
if [ "$("$generator/bin/openapi-python-client" --version 2>/dev/null | awk '{print $NF}')" != "$OPENAPI_PYTHON_CLIENT_VERSION" ]; then
    echo "ensure-api-tools: installing openapi-python-client $OPENAPI_PYTHON_CLIENT_VERSION in $generator" >&2
    python3 -m venv "$generator"
    "$generator/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION"
    "$generator/bin/openapi-python-client" --version >/dev/null
fi

# python_tool VENV PROGRAM REQUIREMENTS: the pinned REQUIREMENTS (words, as pip freeze spells
# them) in VENV, with what they need, unless they are there already; PROGRAM must then run.
python_tool() {
    local venv=$1 program=$2 requirements=$3 names installed
    names=$(tr ' ' '\n' <<<"$requirements" | sed 's/==.*//' | paste -sd '|')
    installed=$("$venv/bin/pip" freeze --disable-pip-version-check 2>/dev/null \
        | grep -E "^($names)==" | sort | tr '\n' ' ' || true)
    if [ "$installed" = "$(tr ' ' '\n' <<<"$requirements" | sort | tr '\n' ' ')" ]; then
        return
    fi
    echo "ensure-api-tools: installing $requirements in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # the requirements are words
    "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
    "$venv/bin/$program" --help >/dev/null || { rm -rf "$venv"; exit 1; }
}

python_tool "$redbot" redbot "$REDBOT_REQUIREMENTS"
python_tool "$sslyze" sslyze "$SSLYZE_REQUIREMENTS"
