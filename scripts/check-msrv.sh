#!/usr/bin/env bash
# Checks that the workspace builds with the oldest Rust it declares (`rust-version` in the
# root Cargo.toml), dependencies included as Cargo.lock pins them: `cargo check` of every
# target with that toolchain, in target/msrv. The toolchain is installed with rustup
# (`--profile minimal`) when missing. Without rustup (a distribution's Rust), says it cannot
# check and succeeds: nothing else of `cargo xtask ci` needs rustup.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ -z "$version" ]; then
    echo "check-msrv: no rust-version in Cargo.toml" >&2
    exit 1
fi
if ! command -v rustup >/dev/null 2>&1; then
    echo "check-msrv: *** SKIPPED: no rustup to install Rust $version with; the declared minimum is not checked ***" >&2
    exit 0
fi
if ! rustup run "$version" rustc --version >/dev/null 2>&1; then
    echo "check-msrv: installing Rust $version (rustup, minimal profile)" >&2
    rustup toolchain install "$version" --profile minimal >/dev/null
fi
cargo "+$version" check --workspace --all-targets --locked --target-dir target/msrv
