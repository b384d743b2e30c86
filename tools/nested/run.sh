#!/bin/bash
# The nested test platform: Debian's kvm_amd running inside QEMU's software
# CPU (TCG) with emulated SVM, so that programs using /dev/kvm can be tested
# against an ordinary hardware-style KVM on a machine that has none.
#
#   tools/nested/run.sh [options] PROGRAM...       run programs, in one boot
#   tools/nested/run.sh [options] --cmd 'CMD'...   run shell commands (--file)
#   tools/nested/run.sh [options] ctest BUILD [ctest selection options]
#                                   run the tests ctest selects (-R, -L, ...)
#   tools/nested/run.sh [options] probe            build and run the probe
#   tools/nested/run.sh [options] ci BUILD         the probe and the KVM
#                                   integration tests of BUILD, in one boot
#   tools/nested/run.sh prepare                    only build the cache
#
# Everything comes from Debian's packages: QEMU is built from Debian's
# source (apt-get source qemu) with our patches in tools/nested/patches/,
# the kernel and its kvm modules from linux-image-amd64 (apt-get download,
# dpkg -x), the initramfs from busybox-static. What is built is cached in
# ${VIGIL_NESTED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-nested}, keyed by
# the package versions and a hash of the patches and this recipe, so only
# the first run on a machine (or after an update) builds anything.
#
# Programs run inside L1 one after another, in one boot, with their files at
# the same absolute paths as on the host (with the shared libraries they
# need; in ctest mode every ELF file of the build tree) and the environment
# variable VIGIL_KVM_PLATFORM=nested-kvm_amd. Their output is printed here
# as it was, each program framed by lines naming it and the platform,
# followed by one line per program and "nested: N passed, N failed".
#
# Exit status: with one program, its exit status; with several, 0 if all
# exited 0 and 1 otherwise; 124 if the boot timed out, 125 if the platform
# could not be prepared or did not boot.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${VIGIL_NESTED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-nested}
# shellcheck source=../lib/debsrc.sh
. "$top/tools/lib/debsrc.sh"
recipe=1	# bump when the build steps below change what they produce

BUILD_PACKAGES="build-essential pkg-config ninja-build meson python3
libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev dpkg-dev xz-utils patch"
QEMU_CONFIGURE="--target-list=x86_64-softmmu --without-default-features
--enable-tcg --disable-kvm --disable-docs --disable-tools --disable-werror
--disable-debug-info"
KERNEL_MODULES="irqbypass ccp kvm kvm-amd"
# The KVM integration tests (ci mode): those labelled "kvm" if any are,
# else these.
CI_TESTS='^(core_integ_|plugin$|kvmi_|vfio_guest)'

boot_timeout=900
cmd_timeout=600
memory=2048
patched=1
verbose=0
payload_files=()
build_trees=()
commands=()

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	cat <<-EOF
	Options:
	  --cmd 'CMD'        run CMD with sh -c inside L1 (repeatable)
	  --file PATH        copy PATH into L1 at the same path (repeatable;
	                     a directory is copied whole)
	  --timeout SEC      limit for the whole boot (default $boot_timeout)
	  --cmd-timeout SEC  limit for each program (default $cmd_timeout)
	  --memory MIB       L1 memory (default $memory)
	  --unpatched        use QEMU without our patches (to compare)
	  -v, --verbose      print the L1 kernel console too
	EOF
}

log() { echo "nested: $*" >&2; }
fail() { log "error: $*"; exit 125; }

# ------------------------------------------------------------ host setup

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	# shellcheck disable=SC2086
	as_root apt-get install -y -qq --no-install-recommends $missing >&2
}

# Prints field $2 of the candidate of binary package $1 from apt's lists.
pkg_field() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n "s/^$2: //p" | head -n 1
}

ensure_apt_lists() {
	[ -n "$(pkg_field linux-image-amd64 Version)" ] && return 0
	log "apt lists are empty: apt-get update"
	as_root apt-get update -qq
}

apt_quiet_opts() {
	[ "$(id -u)" -eq 0 ] && echo "-o APT::Sandbox::User=root"
	echo "-q"
}

# Downloads binary package $1 (exact name=version) into $2.
download_deb() {
	# shellcheck disable=SC2046
	(cd "$2" && apt-get $(apt_quiet_opts) download "$1" >&2)
}

# ------------------------------------------------------------ versions

resolve_versions() {
	local src
	ensure_apt_lists
	src=$(pkg_field qemu-system-x86 Source)
	case "$src" in
	*"("*) qemu_version=${src#*(}; qemu_version=${qemu_version%)} ;;
	*) qemu_version=$(pkg_field qemu-system-x86 Version) ;;
	esac
	kernel_pkg=$(pkg_field linux-image-amd64 Depends | sed 's/ .*//; s/,.*//')
	kernel_version=$(pkg_field "$kernel_pkg" Version)
	busybox_version=$(pkg_field busybox-static Version)
	seabios_version=$(pkg_field seabios Version)
	[ -n "$qemu_version" ] && [ -n "$kernel_version" ] &&
		[ -n "$busybox_version" ] && [ -n "$seabios_version" ] ||
		fail "cannot find qemu, linux-image-amd64, busybox-static or seabios in apt's lists"
}

short_hash() { sha256sum | cut -c1-16; }

patches() {
	[ "$patched" -eq 1 ] || return 0
	find "$here/patches" -name '*.patch' | LC_ALL=C sort
}

qemu_key() {
	{
		echo "recipe=$recipe qemu=$qemu_version seabios=$seabios_version"
		echo "$QEMU_CONFIGURE"
		patches | while read -r p; do sha256sum < "$p"; done
	} | short_hash
}

# ------------------------------------------------------------ QEMU

fetch_qemu_source() {
	local dir=$1
	# deb-src entries in a private apt state (tools/lib/debsrc.sh), so the
	# system's apt configuration is left alone.
	debsrc_setup "$cache/apt" || fail "apt-get update for Debian's source lists failed"
	debsrc_fetch "$cache/apt" "qemu=$qemu_version" "$dir" ||
		fail "apt-get source qemu=$qemu_version failed"
	dpkg-source -x "$dir"/qemu_*.dsc "$dir/qemu" >&2 ||
		fail "dpkg-source -x failed"
}

build_qemu() {
	local out=$1 work=$cache/build-qemu.$$ p start
	start=$(date +%s)
	log "building QEMU $qemu_version ($([ "$patched" -eq 1 ] && echo patched || echo unpatched)); this takes a few minutes"
	install_missing $BUILD_PACKAGES
	rm -rf "$cache"/build-qemu.* && mkdir -p "$work"
	fetch_qemu_source "$work"
	for p in $(patches); do
		log "applying $(basename "$p")"
		patch -d "$work/qemu" -p1 --forward --no-backup-if-mismatch < "$p" >&2 ||
			fail "patch $(basename "$p") does not apply to qemu $qemu_version"
	done
	mkdir -p "$work/build"
	# Debian's python3 and meson (the source has no bundled meson), not
	# whatever python3 comes first in the caller's PATH.
	# shellcheck disable=SC2086
	(cd "$work/build" &&
	 PATH=/usr/sbin:/usr/bin:/sbin:/bin ../qemu/configure --meson=/usr/bin/meson \
		$QEMU_CONFIGURE > configure.log 2>&1 &&
	 PATH=/usr/sbin:/usr/bin:/sbin:/bin ninja -j2 qemu-system-x86_64 > make.log 2>&1 &&
	 mkdir -p optionrom &&
	 PATH=/usr/sbin:/usr/bin:/sbin:/bin make -f "$work/qemu/debian/optionrom.mak" \
		-C optionrom SRC_PATH="$work/qemu" pvh.bin linuxboot_dma.bin kvmvapic.bin >> make.log 2>&1) || {
		tail -n 30 "$work/build/configure.log" "$work/build/make.log" >&2 || true
		fail "QEMU build failed (tree kept in $work)"
	}
	rm -rf "$out.tmp" && mkdir -p "$out.tmp/firmware"
	cp "$work/build/qemu-system-x86_64" "$out.tmp/"
	# The option ROM that starts a PVH kernel, built with Debian's recipe
	# (QEMU's own wants a cross compiler), and SeaBIOS from its package.
	cp "$work/build/optionrom/pvh.bin" \
		"$work/build/optionrom/linuxboot_dma.bin" \
		"$work/build/optionrom/kvmvapic.bin" "$out.tmp/firmware/"
	download_deb "seabios=$seabios_version" "$work"
	dpkg -x "$work"/seabios_*.deb "$work/seabios"
	cp "$work/seabios/usr/share/seabios/bios-256k.bin" "$out.tmp/firmware/"
	patches | xargs -r -n1 basename > "$out.tmp/patches"
	echo "qemu $qemu_version, seabios $seabios_version, built in $(($(date +%s) - start)) s" \
		> "$out.tmp/stamp"
	mv "$out.tmp" "$out"
	rm -rf "$work"
	log "$(cat "$out/stamp")"
}

# ------------------------------------------------------------ kernel, initramfs

prepare_kernel() {
	local out=$1 work=$cache/kernel.$$ off m ko
	log "fetching $kernel_pkg $kernel_version"
	rm -rf "$work" && mkdir -p "$work"
	download_deb "$kernel_pkg=$kernel_version" "$work"
	dpkg -x "$work"/linux-image-*.deb "$work/x"
	rm -rf "$out.tmp" && mkdir -p "$out.tmp/modules"
	# The bzImage holds an XZ-compressed ELF vmlinux with a PVH entry
	# point; QEMU boots that ELF directly, which saves the decompression.
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$work"/x/boot/vmlinuz-* | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || fail "no XZ stream in $kernel_pkg's vmlinuz"
	tail -c +$((off + 1)) "$work"/x/boot/vmlinuz-* | xz -dcq > "$out.tmp/vmlinux" 2>/dev/null || true
	[ "$(head -c 4 "$out.tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		fail "could not extract vmlinux from $kernel_pkg"
	for m in $KERNEL_MODULES; do
		ko=$(find "$work/x/lib/modules" -name "$m.ko*" | head -n 1)
		[ -n "$ko" ] || fail "$kernel_pkg has no $m.ko"
		case "$ko" in
		*.ko.xz) xz -dc "$ko" > "$out.tmp/modules/$m.ko" ;;
		*.ko.zst) zstd -dqc "$ko" > "$out.tmp/modules/$m.ko" ;;
		*) cp "$ko" "$out.tmp/modules/$m.ko" ;;
		esac
	done
	echo "$kernel_pkg $kernel_version" > "$out.tmp/stamp"
	mv "$out.tmp" "$out"
	rm -rf "$work"
}

prepare_busybox() {
	local out=$1 work=$cache/busybox.$$
	rm -rf "$work" && mkdir -p "$work"
	download_deb "busybox-static=$busybox_version" "$work"
	dpkg -x "$work"/busybox-static_*.deb "$work/x"
	mkdir -p "$(dirname "$out")"
	cp "$work/x/bin/busybox" "$out.tmp" && mv "$out.tmp" "$out"
	rm -rf "$work"
}

# A newc cpio.gz of directory $1 into file $2, made with busybox's cpio.
make_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		"$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$2"
}

prepare_base_initramfs() {
	local out=$1 root=$cache/initramfs.$$
	rm -rf "$root" && mkdir -p "$root/bin" "$root/lib/modules"
	cp "$busybox" "$root/bin/busybox"
	cp "$here/init" "$root/init" && chmod 755 "$root/init"
	cp "$kernel_dir"/modules/*.ko "$root/lib/modules/"
	make_cpio "$root" "$out.tmp" && mv "$out.tmp" "$out"
	rm -rf "$root"
}

remove_stale() {	# $1: glob prefix, $2: the entry to keep
	local e
	for e in "$cache/$1"*; do
		[ -e "$e" ] && [ "$e" != "$2" ] && rm -rf "$e"
	done
	return 0
}

prepare() {
	local key
	mkdir -p "$cache"
	exec 9> "$cache/.lock"
	flock 9
	resolve_versions
	key=$(qemu_key)
	if [ "$patched" -eq 1 ]; then
		qemu_dir=$cache/qemu-$key
	else
		qemu_dir=$cache/qemu-unpatched-$key
	fi
	[ -x "$qemu_dir/qemu-system-x86_64" ] || build_qemu "$qemu_dir"
	kernel_dir=$cache/kernel-$(echo "$kernel_version" | short_hash)
	[ -f "$kernel_dir/vmlinux" ] || prepare_kernel "$kernel_dir"
	busybox=$cache/busybox-$(echo "$busybox_version" | short_hash)
	[ -x "$busybox" ] || prepare_busybox "$busybox"
	base_initramfs=$cache/base-$(cat "$here/init" "$kernel_dir/stamp" - <<< "$busybox_version" | short_hash).cpio.gz
	[ -f "$base_initramfs" ] || prepare_base_initramfs "$base_initramfs"
	if [ "$patched" -eq 1 ]; then
		remove_stale "qemu-" "$qemu_dir"
	fi
	remove_stale "kernel-" "$kernel_dir"
	remove_stale "busybox-" "$busybox"
	remove_stale "base-" "$base_initramfs"
	flock -u 9
}

# ------------------------------------------------------------ payload

# Copies $1 into the payload at path $2 (default: $1), following symlinks.
copy_in() {
	local dst=$payload/${2:-$1}
	[ -e "$dst" ] && return 0
	mkdir -p "$(dirname "$dst")"
	cp -L "$1" "$dst"
}

# The shared libraries and the loader a dynamically linked $1 needs, at the
# paths the loader will look for them (as ldd names them, not resolved).
add_libs() {
	local lib
	{ ldd "$1" 2>/dev/null || true; } |
		awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }' |
		while read -r lib; do
			copy_in "$lib"
			echo "${lib%/*}" >> "$payload/payload/libdirs"
		done
	return 0
}

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

# Copies file or directory $1 into the payload at its absolute path, with
# the libraries of every dynamically linked program in it.
add_file() {
	local abs f
	abs=$(realpath "$1") || fail "no such file: $1"
	if [ -d "$abs" ]; then
		find "$abs" -type f | while read -r f; do add_file "$f"; done
		return 0
	fi
	copy_in "$abs"
	if is_elf "$abs"; then
		# Debug info is only weight here.
		objcopy --strip-debug "$payload/$abs" 2>/dev/null || true
		[ -x "$abs" ] && add_libs "$abs"
	fi
	return 0
}

# Every ELF file CMake built under build directory $1: test programs,
# vigild, shared libraries, guest images.
add_build_tree() {
	local f
	find "$(realpath "$1")" -path '*/CMakeFiles' -prune -o -type f \
		! -name '*.o' ! -name '*.a' -print |
		while read -r f; do if is_elf "$f"; then add_file "$f"; fi; done
	return 0
}

make_payload() {
	local c libpath
	mkdir -p "$payload/payload"
	: > "$payload/payload/libdirs"
	for c in "${build_trees[@]}"; do add_build_tree "$c"; done
	for c in "${payload_files[@]}"; do add_file "$c"; done
	for c in "${commands[@]}"; do printf '%s\n' "$c"; done > "$payload/payload/commands"
	libpath=$(sort -u "$payload/payload/libdirs" | paste -sd:)
	cat > "$payload/payload/env" <<-EOF2
	VIGIL_NESTED_CMD_TIMEOUT=$cmd_timeout
	export VIGIL_KVM_PLATFORM=nested-kvm_amd
	export LD_LIBRARY_PATH=$libpath
	export CRITERION_VERBOSITY_LEVEL=1
	EOF2
	make_cpio "$payload" "$rundir/payload.cpio.gz"
}

# ------------------------------------------------------------ boot, report

boot() {
	# no_timer_check: a loaded host starves TCG, and the kernel's check
	# that the timer interrupt arrives then panics ("IO-APIC + timer
	# doesn't work"); KVM guests skip it for the same reason.
	local append="console=ttyS0 panic=-1 loglevel=4 mitigations=off"
	append="$append tsc=unstable nowatchdog random.trust_cpu=on no_timer_check"
	cat "$base_initramfs" "$rundir/payload.cpio.gz" > "$rundir/initrd"
	: > "$rundir/results"
	set +e
	timeout --foreground -k 10 "$boot_timeout" \
		"$qemu_dir/qemu-system-x86_64" \
		-accel tcg,thread=single -machine pc -smp 1 -m "$memory" \
		-cpu EPYC,+svm,+npt \
		-nodefaults -no-user-config -display none -no-reboot \
		-L "$qemu_dir/firmware" \
		-kernel "$kernel_dir/vmlinux" -initrd "$rundir/initrd" \
		-append "$append" \
		-serial "file:$rundir/console" -serial "file:$rundir/results" \
		> "$rundir/qemu.log" 2>&1 < /dev/null
	qemu_status=$?
	set -e
}

# Prints the programs' output as they wrote it, framed by lines naming the
# program and the platform, then one line per program and a total; sets
# the exit status.
report() {
	local line rest name st ready=0 done=0 ran=0 failed=0 last=0 platform=""
	local -a summary=()
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case "$line" in
		"@@VIGIL-NESTED READY "*)
			ready=1
			rest=${line#@@VIGIL-NESTED READY }
			platform="kvm_amd (nested in QEMU TCG, L1 Linux ${rest% *}, ${rest##* })" ;;
		"@@VIGIL-NESTED BEGIN "*)
			rest=${line#@@VIGIL-NESTED BEGIN }
			echo "=== nested: ${rest%% *} on $platform"
			echo "=== nested: ${rest#* }" ;;
		"@@VIGIL-NESTED END "*)
			rest=${line#@@VIGIL-NESTED END }
			name=${rest%% *}; st=${rest##* }
			ran=$((ran + 1)); last=$st
			if [ "$st" = 0 ]; then
				summary+=("nested: $name: passed")
			else
				failed=$((failed + 1))
				summary+=("nested: $name: FAILED (exit status $st)")
			fi
			echo "=== nested: $name: exit status $st" ;;
		"@@VIGIL-NESTED DONE") done=1 ;;
		"@@VIGIL-NESTED "*) log "${line#@@VIGIL-NESTED }" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done < "$rundir/results"

	if [ "$verbose" -eq 1 ] || [ "$ready" -eq 0 ] || [ "$done" -eq 0 ]; then
		log "L1 console:"
		tr -d '\r' < "$rundir/console" >&2 || true
		cat "$rundir/qemu.log" >&2 || true
	fi
	[ "${#summary[@]}" -gt 0 ] && printf '%s\n' "${summary[@]}"
	if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
		log "timed out after $boot_timeout s ($ran of ${#commands[@]} programs finished)"
		return 124
	fi
	[ "$ready" -eq 1 ] || { log "L1 did not boot (QEMU status $qemu_status)"; return 125; }
	if [ "$done" -ne 1 ]; then
		log "L1 stopped early ($ran of ${#commands[@]} programs finished)"
		return 125
	fi
	[ "${#commands[@]}" -eq 1 ] && return "$last"
	echo "nested: $((ran - failed)) passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# ------------------------------------------------------------ main

# Adds the tests ctest selects in build directory $1 (ctest options follow).
add_ctest() {
	local build=$1 lines
	shift
	[ -f "$build/CTestTestfile.cmake" ] || fail "$build is not a CMake build directory with tests"
	build_trees+=("$build")
	lines=$(cd "$build" && ctest --show-only=json-v1 "$@" | /usr/bin/python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin)["tests"]:
    if "command" not in t:
        sys.exit("ctest test %s has no command (not built?)" % t["name"])
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    cmd = " ".join(shlex.quote(a) for a in t["command"])
    env = " ".join(shlex.quote(e) for e in props.get("ENVIRONMENT", []))
    wd = props.get("WORKING_DIRECTORY")
    if env:
        cmd = "env " + env + " " + cmd
    if wd:
        cmd = "cd " + shlex.quote(wd) + " && " + cmd
    print(t["name"].replace(" ", "_") + " " + cmd)
') || fail "ctest could not list the tests"
	[ -n "$lines" ] || fail "ctest selected no test"
	mapfile -t -O "${#commands[@]}" commands <<< "$lines"
}

parse_args() {
	local a n=0
	while [ $# -gt 0 ]; do
		a=$1; shift
		case "$a" in
		--cmd) n=$((n + 1)); commands+=("cmd$n $1"); shift ;;
		--file) payload_files+=("$1"); shift ;;
		--timeout) boot_timeout=$1; shift ;;
		--cmd-timeout) cmd_timeout=$1; shift ;;
		--memory) memory=$1; shift ;;
		--unpatched) patched=0 ;;
		-v|--verbose) verbose=1 ;;
		-h|--help) usage; exit 0 ;;
		--) break ;;
		-*) usage >&2; exit 2 ;;
		*) set -- "$a" "$@"; break ;;
		esac
	done
	case "${1:-}" in
	ctest) shift; [ $# -gt 0 ] || { usage >&2; exit 2; }; add_ctest "$@"; return ;;
	ci) [ $# -eq 2 ] || { usage >&2; exit 2; }; add_ci "$2"; return ;;
	esac
	for a in "$@"; do
		payload_files+=("$a")
		commands+=("$(basename "$a") $(printf '%q' "$(realpath "$a")")")
	done
}

# ci mode: the probe, then the KVM integration tests of build directory $1.
add_ci() {
	build_probe
	payload_files+=("$cache/probe")
	commands+=("probe $(printf '%q' "$cache/probe")")
	if (cd "$1" && ctest -N -L '^kvm$' | grep -q 'Test *#'); then
		add_ctest "$1" -L '^kvm$'
	else
		add_ctest "$1" -R "$CI_TESTS"
	fi
}

build_probe() {
	local out=$cache/probe
	mkdir -p "$cache"
	cc -static -O2 -Wall -Wextra -Werror -o "$out.tmp" "$here/probe/probe.c" ||
		fail "cannot build the probe (needs a static libc: libc6-dev)"
	mv "$out.tmp" "$out"
}

main() {
	local t0 t1 st=0
	case "${1:-}" in
	prepare) shift; parse_args "$@"; prepare
		 log "QEMU: $qemu_dir"; log "kernel: $kernel_dir"
		 log "initramfs: $base_initramfs"; exit 0 ;;
	probe) shift; build_probe; set -- "$@" "$cache/probe" ;;
	esac
	parse_args "$@"
	[ "${#commands[@]}" -gt 0 ] || { usage >&2; exit 2; }
	prepare
	rundir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-nested.XXXXXX")
	payload=$rundir/root
	trap 'rm -rf "$rundir"' EXIT
	make_payload
	t0=$(date +%s.%N)
	boot
	t1=$(date +%s.%N)
	report || st=$?
	log "boot and run: $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
	exit "$st"
}

# Sourcing this file (for its functions) does not run anything.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
