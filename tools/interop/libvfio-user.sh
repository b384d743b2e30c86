#!/bin/bash
# Builds libvfio-user's sample device servers, an independent vfio-user
# implementation (Nutanix), for the interoperability tests (test/interop).
#
#   tools/interop/libvfio-user.sh [build]   build unless cached; print the bin dir
#   tools/interop/libvfio-user.sh path      print the bin dir (exit 1 if not built)
#
# The source is the copy Debian ships inside its qemu source package
# (subprojects/libvfio-user of qemu 7.2: libvfio-user with protocol 0.1),
# fetched with apt-get source; nothing is taken from outside Debian's archive.
# The library and the samples server, gpio-pci-idio-16 and null are compiled
# with gcc (their meson build wants cmocka for its own tests). The result is
# cached in ${VIGIL_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-interop},
# keyed by the qemu source version; the tests find it there (or through
# VIGIL_LIBVFIO_USER=BIN_DIR).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/debsrc.sh
. "$here/../lib/debsrc.sh"
cache=${VIGIL_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-interop}
SAMPLES="server gpio-pci-idio-16 null"

log() { echo "libvfio-user: $*" >&2; }
fail() { log "error: $*"; exit 1; }

if [ "${1:-build}" = path ]; then
	[ -x "$cache/libvfio-user/bin/server" ] || exit 1
	echo "$cache/libvfio-user/bin"
	exit 0
fi
[ "${1:-build}" = build ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 64; }

mkdir -p "$cache"
exec 9> "$cache/.lock"
flock 9
if [ -x "$cache/libvfio-user/bin/server" ]; then
	echo "$cache/libvfio-user/bin"
	exit 0
fi

for p in gcc pkg-config xz-utils dpkg-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		fail "package $p is missing (tools/setup.sh installs it)"
done
pkg-config --exists json-c || fail "json-c development files are missing (libjson-c-dev)"

work=$cache/work.$$
trap 'rm -rf "$work"' EXIT
rm -rf "$cache"/work.* && mkdir -p "$work"
debsrc_setup "$cache/apt" || fail "apt-get update for Debian's source lists failed"
debsrc_fetch "$cache/apt" qemu "$work" || fail "apt-get source qemu failed"
orig=$(ls "$work"/qemu_*.orig.tar.*) || fail "no qemu orig tarball was fetched"
version=$(basename "$work"/qemu_*.dsc .dsc); version=${version#qemu_}
log "extracting subprojects/libvfio-user from qemu $version"
tar -xf "$orig" -C "$work" --wildcards '*/subprojects/libvfio-user/*' ||
	fail "qemu $version has no subprojects/libvfio-user"
src=$(echo "$work"/*/subprojects/libvfio-user)
[ -f "$src/include/libvfio-user.h" ] || fail "libvfio-user source incomplete in qemu $version"

out=$cache/libvfio-user-$version
rm -rf "$out" && mkdir -p "$out/bin"
lib=()
for f in "$src"/lib/*.c; do
	[ "$(basename "$f")" = tran_pipe.c ] || lib+=("$f")
done
for s in $SAMPLES; do
	# shellcheck disable=SC2046
	gcc -std=gnu99 -D_GNU_SOURCE -O1 -g -I"$src/include" -I"$src/lib" \
		"${lib[@]}" "$src/samples/$s.c" -o "$out/bin/$s" \
		$(pkg-config --cflags --libs json-c) -lpthread -ldl ||
		fail "building sample $s failed"
done
cp "$src/LICENSE" "$out/LICENSE"
echo "libvfio-user from Debian's qemu $version (subprojects/libvfio-user)" > "$out/stamp"
ln -sfn "$(basename "$out")" "$cache/libvfio-user"
log "$(cat "$out/stamp"): $SAMPLES"
echo "$cache/libvfio-user/bin"
