#!/bin/sh
# Build and run a tiny program against one installed client library using
# nothing but pkg-config. The tree was installed with DESTDIR=STAGE, so the
# .pc files name the final paths and PKG_CONFIG_SYSROOT_DIR maps them into
# the stage, as for any staged package build.
# Usage: pkgconfig_test.sh STAGE PCNAME SOURCE.c   (exit 77 = skipped)
set -eu
stage=$1 pc=$2 src=$3
cc=${CC:-cc}

pcfile=$(find "$stage" -path "*/pkgconfig/$pc.pc" 2>/dev/null | head -n 1)
if [ -z "$pcfile" ]; then
	echo "SKIP: $pc.pc is not installed: its library is not part of this build yet"
	exit 77
fi
export PKG_CONFIG_SYSROOT_DIR="$stage"
export PKG_CONFIG_PATH="$(dirname "$pcfile")"
cflags=$(pkg-config --cflags "$pc")
libs=$(pkg-config --libs "$pc")
libdir=$(pkg-config --libs-only-L "$pc" | tr ' ' '\n' | sed -n 's/^-L//p' | head -n 1)
echo "$pc: cflags '$cflags' libs '$libs'"
case "$libdir" in
"$stage"/*) ;;
*) echo "FAIL: library directory '$libdir' is not inside the stage"; exit 1 ;;
esac

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck disable=SC2086
$cc -std=c11 -Wall -Wextra -Werror ${EXTRA_CFLAGS:-} $cflags "$src" -o "$out/prog" $libs -Wl,-rpath,"$libdir"
"$out/prog"
# The program must have loaded the installed library, not another copy.
if ! ldd "$out/prog" | grep -q "$libdir/"; then
	echo "FAIL: the program does not use the library in $libdir:"
	ldd "$out/prog"
	exit 1
fi
echo "PASS: built and ran $(basename "$src") with pkg-config $pc only"
