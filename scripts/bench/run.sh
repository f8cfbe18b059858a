#!/usr/bin/env bash
# Installs what the benchmark needs, builds the release preset, and runs bench.py with the
# given options (see bench.py --help). Examples:
#
#   scripts/bench/run.sh --quick --profiles loopback          # smoke run, about a minute
#   scripts/bench/run.sh --out bench.json                     # everything (tens of minutes)
#   scripts/bench/run.sh --tools rangefs,memfs --rangefs-args "--block-size 1M"
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

# The project's own dependencies (compiler, libfuse, nginx, unzip, ...).
"$root/scripts/setup.sh"

# The peers and download tools measured next to rangefs; apt lists are refreshed only when
# something is missing.
packages=(aria2 httpdirfs httpfs2 rclone curl unzip)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "bench: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi

"$root/scripts/build.sh" release >&2

# Until the top-level CMakeLists.txt builds scripts/bench, build it on its own; bench.py looks
# in build/release first, then build/bench.
if [ ! -x "$root/build/release/scripts/bench/rangefs_memfs" ]; then
  cmake -S "$root/scripts/bench" -B "$root/build/bench" >/dev/null
  cmake --build "$root/build/bench" -j 2 >&2
fi

exec python3 "$root/scripts/bench/bench.py" "$@"
