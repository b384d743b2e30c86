#!/bin/sh
# Build the libFuzzer targets (clang, -DVIGIL_FUZZ=ON) and fuzz each one.
#
# Usage: test/fuzz/run.sh [-t SECONDS] [-b BUILD_DIR] [TARGET...]
#   -t SECONDS   per target (default 20: the short pass tools/test.sh runs)
#   -b DIR       build directory (default build-fuzz-clang next to the tree)
#   TARGET       fuzz_elf fuzz_descriptor fuzz_plugin_main fuzz_plugin_vcpu fuzz_plugin_io
#                fuzz_kvmi fuzz_policy fuzz_vfio_client fuzz_vfio_caps fuzz_vfio_msg
#                fuzz_vfio_attach
#                (default: all)
#
# New inputs go to DIR/fuzz-corpus/TARGET (kept between runs, so long runs
# build on earlier ones; the seeds in test/fuzz/corpus are read, never
# written). A crash, leak, timeout or failed check leaves its input in
# DIR/fuzz-artifacts/ and makes the script fail. Copy such an input into
# test/fuzz/corpus/TARGET/ as a regression input once it is fixed.
#
# Long run, e.g. an hour per target:  test/fuzz/run.sh -t 3600
# Exit status 0: no finding; 1: a finding; 77: no libFuzzer on this machine.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=20
build=$top/build-fuzz-clang
while getopts t:b: opt; do
	case $opt in
	t) secs=$OPTARG ;;
	b) build=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] [-b BUILD_DIR] [TARGET...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=${*:-fuzz_elf fuzz_descriptor fuzz_plugin_main fuzz_plugin_vcpu fuzz_plugin_io fuzz_kvmi fuzz_policy
	fuzz_vfio_client fuzz_vfio_caps fuzz_vfio_msg fuzz_vfio_attach}

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; return (int)n * 0; }' \
	> "$probe/p.c"
if ! command -v clang >/dev/null ||
   ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
	echo "fuzz: clang with libFuzzer (libclang-rt-dev) is not available: skipped"
	exit 77
fi

echo "== fuzz: build $build"
CC=clang cmake -S "$top" -B "$build" -DVIGIL_FUZZ=ON >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" -j2 --target $targets >/dev/null

mkdir -p "$build/fuzz-artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in $targets; do
	work=$build/fuzz-corpus/$t
	mkdir -p "$work"
	log=$build/fuzz-artifacts/$t.log
	echo "== fuzz: $t for ${secs}s"
	if "$build/test/fuzz/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" \
		"$work" "$top/test/fuzz/corpus/$t" >"$log" 2>&1; then
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" |
			sed "s/^/   $t /"
	else
		status=1
		echo "   $t: FINDING (log: $log)"
		grep -E 'ERROR|SUMMARY|check failed|artifact_prefix|Test unit written' "$log" | head -8
	fi
done
exit $status
