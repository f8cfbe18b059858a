#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest: unit and integration
# tests on the release build, then the unit and integration tests again under AddressSanitizer
# and UndefinedBehaviorSanitizer (all but those labelled slow: soak, leak and long-fault
# tests, which the release stage runs), then the unit tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh release
ctest --preset release

scripts/build.sh asan
ctest --preset asan

scripts/build.sh tsan
ctest --preset tsan

scripts/fuzz.sh  # about a minute of libFuzzer on the parsers of server input (tests/fuzz)
