#!/usr/bin/env bash
# Where a request's CPU goes: a flame graph of the release `avatars serve` answering one URL
# under `wrk -t2 -c32`, sampled with `perf record --call-graph dwarf` (Rust binaries carry
# .eh_frame, so no debug build is needed) and drawn with inferno.
#
#   scripts/profile-http.sh 's=512' OUT.svg          # the 512 px hit of the bench's photo
#   scripts/profile-http.sh 'd=404' OUT.svg --miss   # a known miss
#
# Needs root (perf), wrk and nginx-light's tools (scripts/ensure-bench-tools.sh), linux-perf;
# installs inferno with cargo when missing. Everything runs on loopback in a temporary directory.
set -euo pipefail
query=${1:?usage: profile-http.sh QUERY OUT.svg [--miss]}
out=${2:?usage: profile-http.sh QUERY OUT.svg [--miss]}
miss=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v perf >/dev/null || apt-get install -y -q linux-perf
command -v inferno-flamegraph >/dev/null || cargo install --locked inferno
bash "$root/scripts/ensure-bench-tools.sh"
cargo build --quiet --release --locked -p avatars-cli --manifest-path "$root/Cargo.toml"
avatars="$root/target/release/avatars"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$avatars" import --data-dir "$work/data" eileen@bench.test "$root/xtask/assets/astronaut-512.jpg" >/dev/null
hash=$("$avatars" hash eileen@bench.test | awk '/^md5/ {print $2}')
[ -n "$miss" ] && hash=00000000000000000000000000000000
RUST_LOG=warn "$avatars" serve --data-dir "$work/data" --addr 127.0.0.1:0 >"$work/out" 2>/dev/null &
server=$!
until grep -q '^listening on' "$work/out" 2>/dev/null; do sleep 0.1; done
url="$(awk '/^listening on/ {print $3; exit}' "$work/out")/avatar/$hash?$query"
echo "profiling $url" >&2
wrk -t2 -c32 -d14s "$url" >"$work/wrk" &
wrk_pid=$!
sleep 3
perf record -q -F 499 --call-graph dwarf,16384 -p "$server" -o "$work/perf.data" -- sleep 8
wait "$wrk_pid"
grep -E 'Requests/sec|Non-2xx' "$work/wrk" >&2 || true
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf >"$work/folded"
inferno-flamegraph --width 1200 \
  --title "avatars serve, $query, wrk -t2 -c32 on loopback: where the CPU goes" \
  <"$work/folded" >"$out"
echo "wrote $out" >&2
