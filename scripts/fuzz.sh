#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, AddressSanitizer, UndefinedBehaviorSanitizer),
# replays every target's seed corpus through ctest, then fuzzes each target in turn.
#
#   scripts/fuzz.sh [SECONDS]
#
# SECONDS (default 60) is the fuzzing time of the whole run, split evenly among the targets
# (at least one second each). Each target starts from a copy of its seed corpus
# (tests/fuzz/corpus/<target>/) in a temporary directory, so runs never modify the
# repository; a crashing input is kept in build/fuzz/artifacts/<target>/. Prints one line per
# target and exits non-zero if any target crashed, leaked, hit undefined behaviour or an
# invariant, or timed out. Reproduce a crash with: build/fuzz/tests/fuzz/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."

total=${1:-60}
if ! [[ "$total" =~ ^[0-9]+$ ]] || [ "$total" -eq 0 ]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

scripts/build.sh fuzz
ctest --preset fuzz >/dev/null || { ctest --preset fuzz --rerun-failed; exit 1; }

bin=build/fuzz/tests/fuzz
targets=()
for corpus in tests/fuzz/corpus/*/; do
  targets+=("$(basename "$corpus")")
done
seconds=$((total / ${#targets[@]}))
[ "$seconds" -ge 1 ] || seconds=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The value of the last "name: value" libFuzzer printed in its status lines, or "?".
last_stat() {
  grep -oE "$1: [0-9]+" "$2" | tail -n 1 | grep -oE '[0-9]+$' || echo '?'
}
final_stat() {
  sed -n "s/^stat::$1: *//p" "$2" | tail -n 1 | grep . || echo '?'
}

failed=()
for target in "${targets[@]}"; do
  cp -R "tests/fuzz/corpus/$target" "$work/$target"
  artifacts=build/fuzz/artifacts/$target
  mkdir -p "$artifacts"
  options=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "tests/fuzz/dict/$target.dict" ] && options+=(-dict="tests/fuzz/dict/$target.dict")
  log=$work/$target.log
  if "$bin/$target" "${options[@]}" "$work/$target" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    failed+=("$target")
  fi
  printf 'fuzz: %-20s %-6s %10s runs in %3ss (%s/s), cov %s, ft %s, corpus %s\n' "$target" "$result" \
    "$(final_stat number_of_executed_units "$log")" "$seconds" \
    "$(final_stat average_exec_per_sec "$log")" "$(last_stat cov "$log")" \
    "$(last_stat ft "$log")" "$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$' || echo '?')"
  if [ "$result" = FAILED ]; then
    echo "--- $target: last lines of the libFuzzer log" >&2
    tail -n 40 "$log" >&2
    echo "--- kept in $artifacts/: $(ls "$artifacts")" >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
