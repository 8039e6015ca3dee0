# shellcheck shell=bash
# Sourced by the ensure-*.sh scripts that keep an npm package at a pinned version in a folder
# of their own (axe-core, Redocly CLI, the npm libravatar), kept between runs.
# `npm_version DIR PACKAGE` prints the version installed under DIR/node_modules (nothing when
# none is); `npm_ensure TAG DIR PACKAGE VERSION` installs exactly VERSION there when another
# (or none) is, and fails when the install does not leave it there. npm must be on PATH.

npm_version() {
    sed -n 's/^ *"version": "\([^"]*\)".*/\1/p' "$1/node_modules/$2/package.json" 2>/dev/null | head -n 1 || true
}

npm_ensure() {
    local tag=$1 dir=$2 package=$3 version=$4
    if [ "$(npm_version "$dir" "$package")" = "$version" ]; then
        return 0
    fi
    echo "$tag: installing $package $version (npm) in $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --silent --no-audit --no-fund --no-save "$package@$version" >/dev/null
    [ "$(npm_version "$dir" "$package")" = "$version" ]
}
