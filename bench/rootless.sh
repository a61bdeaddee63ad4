#!/usr/bin/env bash
# The rootless rows of the bench: as an unprivileged user, `crab-can run IMG /bin/true`
# (rootless: a user namespace of its own, the user's subordinate range mapped through
# newuidmap/newgidmap) against one peer, in alternating pairs (bench/pairs.py):
#   bwrap:   bwrap --unshare-all --die-with-parent --bind IMG / --proc /proc --dev /dev /bin/true
#   unshare: unshare -r --fork --pid --mount --uts --ipc --net --root IMG /bin/true (the floor)
# The user is `crabbench`, made with `useradd -m` when missing (and kept: useradd also gives
# it a subordinate range, as a real user has). Everything runs from a temporary directory
# the user owns (a copy of the image, of the binary and of pairs.py: the repository may sit
# under a directory other users cannot enter), removed at the end.
#
# usage: bench/rootless.sh CRAB IMG PEER PAIRS OUT.json     (as root; PEER: bwrap | unshare)
# OUT.json is pairs.py's (A = crab-can, B = the peer), or {"ok": false, "error": ...} when a
# side cannot run here.
set -euo pipefail
B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# = 5 ] || { echo "usage: $0 CRAB IMG bwrap|unshare PAIRS OUT.json" >&2; exit 2; }
CRAB=$1 IMG=$2 PEER=$3 PAIRS=$4 OUTJ=$5
U=crabbench

fail_json() {
  python3 -c 'import json, sys; json.dump({"ok": False, "error": sys.argv[2]}, open(sys.argv[1], "w"))' "$OUTJ" "$1"
  echo "  rootless $PEER: FAILED: $1" >&2
  exit 1
}

id -u "$U" >/dev/null 2>&1 || useradd -m "$U" || fail_json "useradd -m $U failed"
HOMEDIR=$(getent passwd "$U" | cut -d: -f6)
RL=$(mktemp -d /tmp/crabbench-rootless.XXXXXX)
trap 'rm -rf "$RL"' EXIT
chmod 755 "$RL"
cp -a "$IMG" "$RL/img"
cp "$CRAB" "$RL/crab-can"
cp "$B/pairs.py" "$RL/pairs.py"
chown -R "$U:" "$RL"

# The user's own environment only (none of root's).
as_user() {
  runuser -u "$U" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    HOME="$HOMEDIR" USER="$U" LOGNAME="$U" "$@"
}

A=("$RL/crab-can" run "$RL/img" /bin/true)
case $PEER in
  bwrap) P=(bwrap --unshare-all --die-with-parent --bind "$RL/img" / --proc /proc --dev /dev /bin/true) ;;
  unshare) P=(unshare -r --fork --pid --mount --uts --ipc --net --root "$RL/img" /bin/true) ;;
  *) echo "$0: unknown peer $PEER" >&2; exit 2 ;;
esac
# One plain run of each side first: a side that cannot run here is a result.
for side in A P; do
  declare -n cmd=$side
  if ! err=$(cd / && as_user "${cmd[@]}" </dev/null 2>&1 >/dev/null); then
    fail_json "${cmd[*]}: $(printf '%s\n' "$err" | grep -v '^\s*$' | tail -1)"
  fi
done
cd / && as_user python3 "$RL/pairs.py" "$PAIRS" "$RL/out.json" -- "${A[@]}" -- "${P[@]}" >&2 || rc=$?
cp "$RL/out.json" "$OUTJ"
exit "${rc:-0}"
