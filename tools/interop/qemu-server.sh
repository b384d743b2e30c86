#!/bin/bash
# Builds a QEMU that serves its own device models over vfio-user (the
# x-remote machine with -object x-vfio-user-server), an independent
# vfio-user server for the interoperability tests (test/interop).
#
#   tools/interop/qemu-server.sh [build]   build unless cached; print the bin dir
#   tools/interop/qemu-server.sh path      print the bin dir (exit 1 if not built)
#
# The source is Debian's qemu source package (apt-get source, with Debian's
# patches; QEMU 7.2 in bookworm), configured as small as the server allows:
# x86_64-softmmu, no default features or devices, KVM (the multiprocess code
# requires it; TCG is left out), multiprocess + vfio-user-server (QEMU's copy
# of libvfio-user, whose meson build wants cmocka), the boards' minimum
# (target/i386 links against the PC's APIC, PIC and RTC: the i440fx board,
# without the devices it implies; microvm alone does not link in 7.2) and the
# device models the tests use: e1000, e1000e, nvme, lsi53c895a,
# virtio-net/blk-pci, pci-testdev, edu. Build time on an empty cache: about
# 4-5 minutes with -j2 on a 2-core machine.
#
# The result is cached in
# ${VIGIL_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-interop}/qemu-server,
# keyed by a hash of the recipe (configure options, devices, $recipe); the
# qemu version is in its stamp file. The tests find
# it there (or through VIGIL_QEMU_SERVER=BIN_DIR). Run it with e.g.
#   qemu-system-x86_64 -machine x-remote,vfio-user=on -accel kvm -nodefaults \
#     -nographic -monitor none -device edu,id=d0 \
#     -object x-vfio-user-server,id=s0,type=unix,path=/tmp/edu.sock,device=d0
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/debsrc.sh
. "$here/../lib/debsrc.sh"
cache=${VIGIL_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-interop}
jobs=${VIGIL_INTEROP_JOBS:-2}
recipe=1	# bump when the build steps below change what they produce

BUILD_PACKAGES="build-essential pkg-config ninja-build meson python3
libglib2.0-dev libpixman-1-dev zlib1g-dev libjson-c-dev libcmocka-dev
dpkg-dev xz-utils"
QEMU_CONFIGURE="--target-list=x86_64-softmmu --without-default-features
--without-default-devices --with-devices-x86_64=vigil-vfio-user
--enable-kvm --disable-tcg --enable-multiprocess --enable-vfio-user-server
--disable-docs --disable-tools --disable-werror --disable-debug-info"
# configs/devices/x86_64-softmmu/vigil-vfio-user.mak
DEVICES="PCI PCI_EXPRESS MSI_NONBROKEN MULTIPROCESS VFIO_USER_SERVER I440FX
E1000_PCI E1000E_PCI_EXPRESS NVME_PCI LSI_SCSI_PCI VIRTIO_PCI VIRTIO_NET
VIRTIO_BLK PCI_TESTDEV EDU"

log() { echo "qemu-server: $*" >&2; }
fail() { log "error: $*"; exit 1; }

if [ "${1:-build}" = path ]; then
	[ -x "$cache/qemu-server/bin/qemu-system-x86_64" ] || exit 1
	echo "$cache/qemu-server/bin"
	exit 0
fi
[ "${1:-build}" = build ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 64; }

install_missing() {
	local missing="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	log "installing$missing"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >&2
}

mkdir -p "$cache"
exec 9> "$cache/.lock"
flock 9
out=$cache/qemu-server-$(echo "$recipe $QEMU_CONFIGURE $DEVICES" | sha256sum | cut -c1-12)
if [ -x "$out/bin/qemu-system-x86_64" ]; then
	ln -sfn "$(basename "$out")" "$cache/qemu-server"
	echo "$cache/qemu-server/bin"
	exit 0
fi

work=$cache/qemu-work.$$
trap 'rm -rf "$work"' EXIT
rm -rf "$cache"/qemu-work.* && mkdir -p "$work"
start=$(date +%s)
# shellcheck disable=SC2086
install_missing $BUILD_PACKAGES
log "building QEMU's vfio-user server from Debian's qemu source (a few minutes with -j$jobs)"
debsrc_setup "$cache/apt" || fail "apt-get update for Debian's source lists failed"
debsrc_fetch "$cache/apt" qemu "$work" || fail "apt-get source qemu failed"
version=$(basename "$work"/qemu_*.dsc .dsc); version=${version#qemu_}
dpkg-source -x "$work"/qemu_*.dsc "$work/qemu" > /dev/null || fail "dpkg-source -x failed"
[ -f "$work/qemu/hw/remote/vfio-user-obj.c" ] || fail "qemu $version has no vfio-user server"
for d in $DEVICES; do echo "CONFIG_$d=y"; done \
	> "$work/qemu/configs/devices/x86_64-softmmu/vigil-vfio-user.mak"
mkdir -p "$work/build"
# Debian's python3 and meson, not whatever comes first in the caller's PATH.
# shellcheck disable=SC2086
(cd "$work/build" &&
 PATH=/usr/sbin:/usr/bin:/sbin:/bin ../qemu/configure --meson=/usr/bin/meson \
	$QEMU_CONFIGURE > configure.log 2>&1 &&
 PATH=/usr/sbin:/usr/bin:/sbin:/bin ninja -j"$jobs" qemu-system-x86_64 > make.log 2>&1) || {
	tail -n 30 "$work/build/configure.log" "$work/build/make.log" >&2 || true
	fail "QEMU build failed"
}
rm -rf "$out.tmp" && mkdir -p "$out.tmp/bin"
cp "$work/build/qemu-system-x86_64" "$out.tmp/bin/"
# QEMU links its libvfio-user as a shared library found through
# RUNPATH $ORIGIN/subprojects/libvfio-user/lib: keep that layout.
lib=$(readlink -f "$work/build/subprojects/libvfio-user/lib/libvfio-user.so.0") ||
	fail "no libvfio-user.so.0 in the build"
mkdir -p "$out.tmp/bin/subprojects/libvfio-user/lib"
cp "$lib" "$out.tmp/bin/subprojects/libvfio-user/lib/libvfio-user.so.0"
cp "$work/qemu/COPYING" "$out.tmp/"
echo "qemu $version (Debian source) with x-vfio-user-server, built in $(($(date +%s) - start)) s" \
	> "$out.tmp/stamp"
rm -rf "$out" && mv "$out.tmp" "$out"
for old in "$cache"/qemu-server-*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
ln -sfn "$(basename "$out")" "$cache/qemu-server"
log "$(cat "$out/stamp")"
echo "$cache/qemu-server/bin"
