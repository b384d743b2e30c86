#!/bin/sh
# Configure, build and run test/discovery/consumer against the CMake package
# installed with --prefix PREFIX: find_package(vigil) and vigil:: targets only.
# Usage: cmake_package_test.sh PREFIX CONSUMER_SOURCE_DIR   (exit 77 = skipped)
set -eu
prefix=$1 src=$2
if [ ! -f "$prefix"/lib*/cmake/vigil/vigilConfig.cmake ] &&
   ! ls "$prefix"/lib*/*/cmake/vigil/vigilConfig.cmake >/dev/null 2>&1; then
	echo "FAIL: no vigilConfig.cmake under $prefix"
	exit 1
fi
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cmake -S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_FLAGS="${EXTRA_CFLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${EXTRA_CFLAGS:-}" >"$build/configure.log" 2>&1 ||
	{ cat "$build/configure.log"; exit 1; }
grep "vigil " "$build/configure.log" || true
cmake --build "$build" >"$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
ran=0
for prog in "$build"/use_*; do
	[ -x "$prog" ] || continue
	"$prog"
	ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
	echo "SKIP: the installed package exports no client library yet"
	exit 77
fi
echo "PASS: $ran program(s) built with find_package(vigil)"
