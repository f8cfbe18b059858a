#!/usr/bin/env bash
# Installs what the benchmark needs, builds the release preset, and runs one suite with the
# given options: bench.py (the default; see bench.py --help) or, with `--suite multirange`,
# bench_multirange.py (multi-range requests and open prefetch). Examples:
#
#   scripts/bench/run.sh --quick --profiles loopback          # smoke run, about a minute
#   scripts/bench/run.sh --out bench.json                     # everything (tens of minutes)
#   scripts/bench/run.sh --tools rangefs,memfs --rangefs-args "--block-size 1M"
#   scripts/bench/run.sh --suite multirange --quick           # a few minutes
#   scripts/bench/run.sh --suite tree --quick                 # directory trees, a few minutes
#   scripts/bench/run.sh --suite disk-cache --quick           # the disk cache, a few minutes
#   scripts/bench/run.sh --suite tiers --quick                # cache tier and mirrors, minutes
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

# --suite NAME (anywhere in the arguments) picks the driver; the rest goes to it.
suite=main
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite=${2:?--suite needs a name: main, multirange, tree, disk-cache or tiers}; shift 2 ;;
    --suite=*) suite=${1#--suite=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
case "$suite" in
  main) driver=bench.py ;;
  multirange) driver=bench_multirange.py ;;
  tree) driver=bench_tree.py ;;
  disk-cache) driver=bench_disk_cache.py ;;
  tiers) driver=bench_tiers.py ;;
  *) echo "run.sh: unknown suite $suite (main, multirange, tree, disk-cache, tiers)" >&2; exit 2 ;;
esac

# The project's own dependencies (compiler, libfuse, nginx, unzip, ...).
"$root/scripts/setup.sh"

# The peers and download tools measured next to rangefs, and the programs the multirange
# suite runs on the mount (ffprobe from ffmpeg, sqlite3); apt lists are refreshed only when
# something is missing.
packages=(aria2 httpdirfs httpfs2 rclone curl unzip ffmpeg sqlite3)
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
  # To stderr: stdout is the report.
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
fi

"$root/scripts/build.sh" release >&2

# Until the top-level CMakeLists.txt builds scripts/bench, build it on its own; bench.py looks
# in build/release first, then build/bench.
if [ ! -x "$root/build/release/scripts/bench/rangefs_memfs" ]; then
  cmake -S "$root/scripts/bench" -B "$root/build/bench" >/dev/null
  cmake --build "$root/build/bench" -j 2 >&2
fi

exec python3 "$root/scripts/bench/$driver" ${args[@]+"${args[@]}"}
