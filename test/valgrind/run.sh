#!/bin/sh
# vigild under valgrind memcheck on real integration scenarios: a 4-vCPU
# guest, a triple fault, a plugin-driven VM, a vfio-user device, and an
# introspection tool attaching, reading and detaching. Any memcheck error,
# leak or fd left open (besides inherited ones) fails the test.
# Usage: run.sh BUILD_DIR
set -u
build=$1
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=yes"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0

check() {   # NAME EXPECTED_STATUS LOG STATUS
	if [ "$4" -ne "$2" ]; then
		echo "FAIL $1: status $4, expected $2"; sed 's/^/  | /' "$3" | tail -40; fail=1
		return
	fi
	# --track-fds: only the standard streams and inherited fds may remain.
	if grep -A1 'Open file descriptor' "$3" | grep -v 'inherited from parent\|Open file descriptor\|^--' | grep -q .; then
		echo "FAIL $1: vigild left file descriptors open"; grep -A3 'Open file descriptor' "$3"; fail=1
		return
	fi
	echo "ok   $1"
}

$vg "$build/server/vigild" run --guest "$build/test/core/core_guest_hello.elf" --vcpus 4 \
	>"$tmp/out" 2>"$tmp/hello.log"
check "4-vCPU guest" 0 "$tmp/hello.log" $?

$vg "$build/server/vigild" run --guest "$build/test/core/core_guest_triple_fault.elf" \
	>"$tmp/out" 2>"$tmp/tf.log"
check "triple fault" 80 "$tmp/tf.log" $?

$vg "$build/server/vigild" run --plugin "$build/test/plugin/p_basic" \
	--plugin-arg "$build/test/plugin/g_plugin.elf" --plugin-arg adder --vcpus 1 \
	>"$tmp/out" 2>"$tmp/plugin.log"
check "plugin adder" 0 "$tmp/plugin.log" $?

"$build/test/vfio/vu-dma" --socket-path="$tmp/dma.sock" >/dev/null 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S "$tmp/dma.sock" ] && break; sleep 0.2; done
$vg "$build/server/vigild" run --guest "$build/test/vfio/vfio_guest_dma.elf" \
	--device "vfio-user,socket=$tmp/dma.sock" >"$tmp/out" 2>"$tmp/vfio.log"
check "vfio-user device" 0 "$tmp/vfio.log" $?

$vg "$build/server/vigild" run --guest "$build/test/core/core_guest_busy.elf" --vcpus 2 \
	--introspect "$tmp/vm.sock" >"$tmp/out" 2>"$tmp/kvmi.log" &
pid=$!
for i in $(seq 1 100); do [ -S "$tmp/vm.sock" ] && break; sleep 0.2; done
"$build/tools/vigil/vigil" info "$tmp/vm.sock" >"$tmp/info" 2>&1 || { echo "FAIL vigil info"; cat "$tmp/info"; fail=1; }
"$build/tools/vigil/vigil" info "$tmp/vm.sock" >"$tmp/info" 2>&1 || { echo "FAIL vigil info (reattach)"; cat "$tmp/info"; fail=1; }
kill -TERM $pid
wait $pid
check "introspection attach/detach, SIGTERM" 143 "$tmp/kvmi.log" $?

exit $fail
