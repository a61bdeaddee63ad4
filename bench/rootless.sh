#!/usr/bin/env bash
# The rootless rows of the bench: as an unprivileged user, `crab-can run IMG /bin/true`
# against one peer, in alternating pairs (bench/pairs.py):
#   bwrap:        bwrap --unshare-all --die-with-parent --bind IMG / --proc /proc --dev /dev /bin/true
#   unshare:      unshare -r --fork --pid --mount --uts --ipc --net --root IMG /bin/true (the floor)
#   unshare-auto: the same with --map-auto: the user's subordinate ranges mapped too, through
#                 the same newuidmap/newgidmap (the floor for a mapped range)
# MAPPING is what crab-can maps: `range` (PATH has newuidmap/newgidmap, and the user has a
# subordinate range: crab-can maps it, as it does for a real user) or `one` (PATH without
# them: the one id, as bwrap and `unshare -r` map). Both sides run with the same PATH and
# every program by its absolute path.
# The user is `crabbench`, made with `useradd -m` when missing (and kept: useradd also gives
# it a subordinate range, as a real user has). Everything runs from a temporary directory
# the user owns (a copy of the image, of the binary and of pairs.py: the repository may sit
# under a directory other users cannot enter), removed at the end.
#
# usage: bench/rootless.sh CRAB IMG MAPPING PEER PAIRS OUT.json   (as root)
# OUT.json is pairs.py's (A = crab-can, B = the peer), or {"ok": false, "error": ...} when a
# side cannot run here.
set -euo pipefail
B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# = 6 ] || { echo "usage: $0 CRAB IMG range|one bwrap|unshare|unshare-auto PAIRS OUT.json" >&2; exit 2; }
CRAB=$1 IMG=$2 MAPPING=$3 PEER=$4 PAIRS=$5 OUTJ=$6
U=crabbench

fail_json() {
  python3 -c 'import json, sys; json.dump({"ok": False, "error": sys.argv[2]}, open(sys.argv[1], "w"))' "$OUTJ" "$1"
  echo "  rootless ($MAPPING) $PEER: FAILED: $1" >&2
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
mkdir "$RL/nopath"
chown -R "$U:" "$RL"
case $MAPPING in
  range) USER_PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin ;;
  one) USER_PATH=$RL/nopath ;;
  *) echo "$0: unknown mapping $MAPPING" >&2; exit 2 ;;
esac

# The user's own environment only (none of root's).
as_user() {
  runuser -u "$U" -- /usr/bin/env -i PATH="$USER_PATH" \
    HOME="$HOMEDIR" USER="$U" LOGNAME="$U" "$@"
}

A=("$RL/crab-can" run "$RL/img" /bin/true)
UNSHARE=(/usr/bin/unshare -r --fork --pid --mount --uts --ipc --net --root "$RL/img" /bin/true)
case $PEER in
  bwrap) P=(/usr/bin/bwrap --unshare-all --die-with-parent --bind "$RL/img" / --proc /proc --dev /dev /bin/true) ;;
  unshare) P=("${UNSHARE[@]}") ;;
  unshare-auto) P=(/usr/bin/unshare --map-auto "${UNSHARE[@]:1}") ;;
  *) echo "$0: unknown peer $PEER" >&2; exit 2 ;;
esac
# crab-can maps what MAPPING says, or the row would claim what it did not measure.
want=$([ "$MAPPING" = range ] && echo 2 || echo 1)
got=$(cd / && as_user "$RL/crab-can" run "$RL/img" /bin/cat /proc/self/uid_map </dev/null 2>&1 | grep -c .) || true
[ "$got" = "$want" ] || fail_json "crab-can mapped $got uid_map lines, not $want ($MAPPING)"
# One plain run of each side first: a side that cannot run here is a result.
for side in A P; do
  declare -n cmd=$side
  if ! err=$(cd / && as_user "${cmd[@]}" </dev/null 2>&1 >/dev/null); then
    fail_json "${cmd[*]}: $(printf '%s\n' "$err" | grep -v '^\s*$' | tail -1)"
  fi
done
cd / && as_user /usr/bin/python3 "$RL/pairs.py" "$PAIRS" "$RL/out.json" -- "${A[@]}" -- "${P[@]}" >&2 || rc=$?
cp "$RL/out.json" "$OUTJ"
exit "${rc:-0}"
