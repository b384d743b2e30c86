#!/bin/sh
# Install the Debian packages vigil needs to build and test. Idempotent and
# non-interactive: packages already present are not touched, apt runs only if
# something is missing.
set -eu

PACKAGES="build-essential cmake pkg-config
libevent-dev libprotobuf-c-dev protobuf-c-compiler libcap-ng-dev
libcriterion-dev libzydis-dev libjson-c-dev
clang libclang-rt-14-dev valgrind
xz-utils dpkg-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "setup: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
