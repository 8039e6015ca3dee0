#!/usr/bin/env bash
# Installs what the `libjpeg-turbo` feature links against: Debian's libturbojpeg0-dev (the
# library and its headers) and pkg-config, which finds it. CI checks and tests the feature;
# `cargo xtask bench` builds `avatars` with it. Idempotent: does nothing when pkg-config already
# finds libturbojpeg. Fails loudly when it is missing and cannot be installed.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

found() { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libturbojpeg; }
if found; then
    exit 0
fi
status=0
apt_install ensure-libjpeg-turbo libturbojpeg0-dev pkg-config || status=$?
case $status in
    0) found || { echo "ensure-libjpeg-turbo: installed, but pkg-config does not find libturbojpeg" >&2; exit 1; } ;;
    10) echo "ensure-libjpeg-turbo: libturbojpeg0-dev missing and apt-get is not available; install libjpeg-turbo's TurboJPEG library and headers by hand" >&2; exit 1 ;;
    11) echo "ensure-libjpeg-turbo: libturbojpeg0-dev missing; not root and no sudo" >&2; exit 1 ;;
    *) exit "$status" ;;
esac
