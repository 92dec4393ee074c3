#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (unit + integration).
# Extra arguments go to ctest (e.g. -L unit, -R Schedule).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
cd build
ctest --output-on-failure --timeout 900 "$@"
