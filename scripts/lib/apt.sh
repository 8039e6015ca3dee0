# shellcheck shell=bash
# Sourced by the ensure-*.sh scripts: installs Debian packages the project's tests or benches
# need. `apt_install TAG PACKAGE...` returns 0 once they are installed, 10 when there is no
# apt-get, 11 when not root and no sudo, and apt-get's own status when it fails (callers use
# `apt_install ... || status=$?`, where `set -e` does not apply inside the function).

apt_install() {
    local tag=$1
    shift
    if ! command -v apt-get >/dev/null 2>&1; then
        return 10
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo -n"
        else
            return 11
        fi
    fi
    echo "$tag: installing Debian's $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || return $?
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null || return $?
    # Packages with a daemon start a system-wide instance; tests and benches run their own.
    $sudo service "${SERVICE_TO_STOP:-none}" stop >/dev/null 2>&1 || true
}
