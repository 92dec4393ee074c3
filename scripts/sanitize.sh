#!/usr/bin/env bash
# Builds with a sanitizer (address = ASan+UBSan, thread = TSan) and runs the unit tests and the
# functional integration tests under it (not the harness tests: they run no code of ours). Tests that measure rates skip themselves there
# (LT_SANITIZED), since a sanitized binary is several times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh address|thread}
scripts/install-deps.sh
dir=build-$kind
scripts/build.sh "$dir" -DLT_SANITIZE="$kind" -DLT_BUILD_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
export LT_SANITIZED=1
export LT_SANITIZER=$kind  # some tests cannot run under one of them (test_kafka.py says why)
cd "$dir"
# The harness tests (test_*_harness.py) check the Python harnesses against the real servers and
# run no code of ours: they run once, in the normal build's suite, not again per sanitizer.
ctest --output-on-failure --timeout 900 -E '_harness$'

