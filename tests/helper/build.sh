#!/bin/sh
# Build the static test helper `probe` (test code only, never part of crab-can).
#   tests/helper/build.sh [OUT [ARCH]]   default OUT: build/probe (relative to the repo root)
#                                        ARCH: x86_64 (default: gcc) or aarch64 (cross-built with
#                                        aarch64-linux-gnu-gcc, for the aarch64 test VM)
# Installs the compiler and its static libc with apt-get only when they are missing (gcc
# libc6-dev; for aarch64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross).  Rebuilds only when
# probe.c or this script is newer than OUT, or OUT is not an executable of ARCH.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="$HERE/probe.c"
OUT=${1:-"$ROOT/build/probe"}
ARCH=${2:-x86_64}

die() { echo "tests/helper/build.sh: error: $*" >&2; exit 1; }

case $ARCH in
x86_64) CC=gcc PACKAGES="gcc libc6-dev" MACHINE=62 ;;
aarch64) CC=aarch64-linux-gnu-gcc PACKAGES="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" MACHINE=183 ;;
*) die "ARCH must be x86_64 or aarch64, not '$ARCH'" ;;
esac

[ -f "$SRC" ] || die "source $SRC not found"

# elf_machine FILE: the e_machine field of a 64-bit little-endian ELF file (62 x86-64, 183 AArch64).
elf_machine() {
    [ "$(od -An -tx1 -N6 "$1" | tr -d ' \n')" = 7f454c460201 ] || return 0
    od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}

# Up to date?  (the binary must also still be a working executable of ARCH)
if [ -x "$OUT" ] && [ "$OUT" -nt "$SRC" ] && [ "$OUT" -nt "$0" ] && [ "$(elf_machine "$OUT")" = "$MACHINE" ]; then
    exit 0
fi

# Toolchain: the compiler plus the static glibc (libc.a comes with libc6-dev).
libc_a_present() {
    command -v "$CC" >/dev/null 2>&1 && [ -n "$("$CC" -print-file-name=libc.a 2>/dev/null | grep /)" ] \
        && [ -f "$("$CC" -print-file-name=libc.a)" ]
}
if ! libc_a_present; then
    command -v apt-get >/dev/null 2>&1 || die "$CC or its static libc missing and apt-get not available; install $PACKAGES"
    echo "tests/helper/build.sh: installing $PACKAGES" >&2
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # a list of package names
    apt-get install -y -q $PACKAGES >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q $PACKAGES >&2; } \
        || die "apt-get install $PACKAGES failed"
    libc_a_present || die "$CC or the static libc (libc.a) is still missing after apt-get"
fi

mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"
TMP="$OUT.tmp.$$"
trap 'rm -f "$TMP"' EXIT
"$CC" -static -O2 -Wall -Wextra -o "$TMP" "$SRC" || die "$CC failed to build $SRC"
# Must be a static executable: it runs inside a bare busybox image.
if command -v file >/dev/null 2>&1; then
    file -L "$TMP" | grep -q 'statically linked' || die "$TMP is not statically linked: $(file -L "$TMP")"
fi
[ "$(elf_machine "$TMP")" = "$MACHINE" ] || die "$TMP is not an $ARCH executable (ELF machine $(elf_machine "$TMP"), not $MACHINE)"
# A probe of this machine's architecture must run here; another one cannot be tried.
if [ "$(uname -m)" = "$ARCH" ]; then
    "$TMP" caps >/dev/null 2>&1 || [ $? -eq 1 ] || die "built probe does not run"
fi
mv -f "$TMP" "$OUT" || die "cannot move the binary to $OUT"
trap - EXIT
echo "tests/helper/build.sh: built $OUT" >&2
