#!/bin/sh
# The test command: install dependencies, configure with warnings as errors,
# build, and run every test; then the whole suite again under ASan+UBSan and
# the vCPU/reactor hand-off tests under TSan. libvfio-user's sample servers
# and QEMU's vfio-user server are built first (from Debian's qemu source
# package, cached) for test/interop.
#
# Usage: tools/test.sh [BUILD_DIR]
#   VIGIL_TEST_SANITIZERS=0   skip the sanitizer passes
#   VIGIL_TEST_FUZZ=0         skip the short libFuzzer pass (test/fuzz/run.sh)
#   VIGIL_FUZZ_SECONDS=N      seconds per fuzz target (default 20: about 4 minutes for the 11 targets)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
jobs=$(nproc)

"$top/tools/setup.sh"
# libvfio-user's sample servers for the interoperability tests (cached).
"$top/tools/interop/libvfio-user.sh" build > /dev/null
# QEMU serving its device models over vfio-user (a few minutes, once).
"$top/tools/interop/qemu-server.sh" build > /dev/null

echo "== build and test: $build"
cmake -S "$top" -B "$build" -DVIGIL_WERROR=ON
cmake --build "$build" -j"$jobs"
(cd "$build" && ctest --output-on-failure -j"$jobs" --timeout 600)

if [ "${VIGIL_TEST_FUZZ:-1}" != 0 ]; then
	fuzz_rc=0
	"$top/test/fuzz/run.sh" -t "${VIGIL_FUZZ_SECONDS:-20}" -b "$build-fuzz" || fuzz_rc=$?
	if [ "$fuzz_rc" -ne 0 ] && [ "$fuzz_rc" -ne 77 ]; then
		exit "$fuzz_rc"
	fi
fi

if [ "${VIGIL_TEST_SANITIZERS:-1}" = 0 ]; then
	exit 0
fi

export LSAN_OPTIONS="suppressions=$top/test/sanitizers/lsan.supp"
# A 32 MiB quarantine (default 256) still catches use-after-free, and keeps
# memory-bound tests meaningful when vigild handles millions of events.
export ASAN_OPTIONS="quarantine_size_mb=32"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:suppressions=$top/test/sanitizers/tsan.supp"

echo "== ASan+UBSan: $build-asan"
cmake -S "$top" -B "$build-asan" -DVIGIL_WERROR=ON -DVIGIL_SANITIZE=ON
cmake --build "$build-asan" -j"$jobs"
(cd "$build-asan" && ctest --output-on-failure -j"$jobs" --timeout 900)

echo "== TSan (vCPU/reactor hand-off): $build-tsan"
cmake -S "$top" -B "$build-tsan" -DVIGIL_WERROR=ON -DVIGIL_TSAN=ON
cmake --build "$build-tsan" -j"$jobs" --target core_handoff_stress
(cd "$build-tsan" && ctest --output-on-failure --timeout 900 -R core_handoff_stress)
