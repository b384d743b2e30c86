#!/bin/sh
# The main command: install dependencies, build, boot the bundled demo guest
# under vigild and show its console. Usage: tools/demo.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

"$top/tools/setup.sh"
cmake -S "$top" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target vigild demo_guest >/dev/null
echo "demo: starting vigild with the demo guest (2 vCPUs, 64 MiB)"
exec "$build/server/vigild" run --guest "$build/tools/demo/demo_guest.elf" --vcpus 2 --mem 64M
