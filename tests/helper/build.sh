#!/bin/sh
# Build the static test helper `probe` (test code only, never part of crab-can).
#   tests/helper/build.sh [OUT]      default OUT: build/probe (relative to the repo root)
# Installs gcc and libc6-dev with apt-get only when they are missing.  Rebuilds
# only when probe.c or this script is newer than OUT.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="$HERE/probe.c"
OUT=${1:-"$ROOT/build/probe"}

die() { echo "tests/helper/build.sh: error: $*" >&2; exit 1; }

[ -f "$SRC" ] || die "source $SRC not found"

# Up to date?  (the binary must also still be a working executable)
if [ -x "$OUT" ] && [ "$OUT" -nt "$SRC" ] && [ "$OUT" -nt "$0" ]; then
    exit 0
fi

# Toolchain: gcc plus the static glibc (libc.a comes with libc6-dev).
libc_a_present() {
    command -v gcc >/dev/null 2>&1 && [ -n "$(gcc -print-file-name=libc.a 2>/dev/null | grep /)" ] \
        && [ -f "$(gcc -print-file-name=libc.a)" ]
}
if ! libc_a_present; then
    command -v apt-get >/dev/null 2>&1 || die "gcc/libc6-dev missing and apt-get not available; install a C compiler with a static libc"
    echo "tests/helper/build.sh: installing gcc libc6-dev" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q gcc libc6-dev >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q gcc libc6-dev >&2; } \
        || die "apt-get install gcc libc6-dev failed"
    libc_a_present || die "gcc or the static libc (libc.a) is still missing after apt-get"
fi

mkdir -p "$(dirname "$OUT")" || die "cannot create $(dirname "$OUT")"
TMP="$OUT.tmp.$$"
trap 'rm -f "$TMP"' EXIT
gcc -static -O2 -Wall -Wextra -o "$TMP" "$SRC" || die "gcc failed to build $SRC"
# Must be a static executable: it runs inside a bare busybox image.
if command -v file >/dev/null 2>&1; then
    file -L "$TMP" | grep -q 'statically linked' || die "$TMP is not statically linked: $(file -L "$TMP")"
fi
"$TMP" caps >/dev/null 2>&1 || [ $? -eq 1 ] || die "built probe does not run"
mv -f "$TMP" "$OUT" || die "cannot move the binary to $OUT"
trap - EXIT
echo "tests/helper/build.sh: built $OUT" >&2
