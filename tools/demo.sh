#!/bin/sh
# The main command: install dependencies, build, then boot the bundled demo
# guest (tools/demo/) under vigild with an introspection socket and attach
# vigil to it: `vigil info` while the guest waits for a tool, then
# `vigil policy` with the demo policy plus tracing of CR3 and MSR writes.
# Ends with a short summary; exit 0 when everything the demo shows happened.
# Usage: tools/demo.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
start=$(date +%s.%N)

"$top/tools/setup.sh"
cmake -S "$top" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target vigild vigil demo_guest >/dev/null

vigild="$build/server/vigild"
vigil="$build/tools/vigil/vigil"
guest="$build/tools/demo/demo_guest.elf"
policy="$top/tools/demo/demo-policy.json"
work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
sock="$work/introspect.sock"
console="$work/console.txt"
events="$work/events.txt"
timeline="$build/demo-timeline.json"
vpid=""
cleanup() {
	[ -n "$vpid" ] && kill "$vpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "demo: starting vigild with the demo guest and an introspection socket"
"$vigild" run --guest "$guest" --mem 64M --console "$console" --introspect "$sock" \
	>/dev/null 2>"$work/vigild.log" &
vpid=$!

# The guest kernel sets itself up, then waits a few seconds for a tool.
i=0
until grep -q "waiting for a vigil tool" "$console" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 1000 ] || ! kill -0 "$vpid" 2>/dev/null; then
		echo "demo: the guest did not come up; vigild said:" >&2
		cat "$work/vigild.log" >&2
		exit 1
	fi
	sleep 0.02
done

echo
echo "\$ vigil info $sock   (first lines)"
"$vigil" info "$sock" | sed -n '1,16p'
echo
echo "\$ vigil policy --cr 3 --msr all --timeline demo-timeline.json $sock demo-policy.json"
timeout 40 "$vigil" policy --cr 3 --msr all --timeline "$timeline" "$sock" "$policy" |
	tee "$events"
# vigil ends when the VM stops; give vigild a moment to exit, never hang.
i=0
while kill -0 "$vpid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -9 "$vpid" 2>/dev/null && echo "demo: vigild did not stop by itself" >&2
status=0
wait "$vpid" || status=$?
vpid=""

echo
echo "guest console:"
sed 's/^/  | /' "$console"

cr3=$(awk '$3 == "cr3"' "$events" | wc -l)
spaces=$(awk '$3 == "cr3" {print $NF}' "$events" | sort -u | wc -l)
msrs=$(awk '$3 == "msr" {printf "%s ", $5}' "$events")
fail=0
check() {  # check DESCRIPTION COMMAND...
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "  ok    $what"
	else
		echo "  FAIL  $what"
		fail=1
	fi
}
end=$(date +%s.%N)
echo
echo "summary:"
echo "  CR3 writes seen: $cr3 (between $spaces address spaces: 4 processes and the kernel)"
echo "  MSR writes seen: $msrs"
check "rootkit's write to the system-call table denied (guest: table intact)" \
	sh -c "grep -q \"VIOLATION of 'syscall-table' (deny)\" '$events' &&
	       grep -q 'system-call table intact' '$console'"
check "rootkit's code in a data page caught (guest: stopped by a page fault)" \
	sh -c "grep -q \"VIOLATION of 'rootkit-data-page' (deny)\" '$events' &&
	       grep -q 'code in a data page was stopped' '$console'"
check "CR3 switches and MSR writes traced" test "$cr3" -ge 4 -a -n "$msrs"
check "vigild exited with status 0" test "$status" -eq 0
echo "  timeline for https://ui.perfetto.dev: $timeline"
printf '  took %.1f s\n' "$(echo "$end - $start" | bc 2>/dev/null || echo 0)"
exit $fail
