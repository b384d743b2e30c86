#!/bin/sh
# The test command: install dependencies, configure with warnings as errors,
# build, and run every test. Usage: tools/test.sh [BUILD_DIR] [extra cmake args]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
[ $# -gt 0 ] && shift

"$top/tools/setup.sh"
cmake -S "$top" -B "$build" -DVIGIL_WERROR=ON "$@"
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600
