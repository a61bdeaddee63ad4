#!/usr/bin/env bash
# Throughput loop: start N containers of TOOL running /bin/true, either one after another
# (seq) or all at once (par: started in the background, then waited for), and print
#   ELAPSED_SECONDS FAILURES
# Run by bench/run.sh under /usr/bin/time (which adds the CPU time of the whole loop).
#   CRAB=... IMG=... BUNDLE=... bench/loop.sh TOOL seq|par N
# Needs no fork for the clock ($EPOCHREALTIME): the loop's only forks are the containers'.
set -uo pipefail
export LC_ALL=C
tool=$1 mode=$2 n=$3
: "${CRAB:?}" "${IMG:?}" "${BUNDLE:?}"
errlog=${ERRLOG:-/dev/null}

one() { # $1: index, part of the runc/crun container id
  case $tool in
    crab-can)      "$CRAB" run "$IMG" /bin/true ;;
    crab-can-host) "$CRAB" run --net host "$IMG" /bin/true ;;
    crab-can-cg)   "$CRAB" run --memory 64M --pids 64 "$IMG" /bin/true ;;
    unshare)       unshare --fork --pid --mount --uts --ipc --net --root "$IMG" /bin/true ;;
    bwrap)         bwrap --unshare-all --die-with-parent --bind "$IMG" / --proc /proc --dev /dev /bin/true ;;
    runc)          runc run --bundle "$BUNDLE" "crabbench-$mode-$1-$$" ;;
    crun)          crun run --bundle "$BUNDLE" "crabbench-$mode-$1-$$" ;;
    *) echo "loop.sh: unknown tool $tool" >&2; return 2 ;;
  esac </dev/null >/dev/null 2>>"$errlog"
}

fails=0
t0=${EPOCHREALTIME/./}
if [ "$mode" = seq ]; then
  for ((i = 0; i < n; i++)); do one "$i" || fails=$((fails + 1)); done
else
  pids=()
  for ((i = 0; i < n; i++)); do one "$i" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
fi
t1=${EPOCHREALTIME/./}
us=$((t1 - t0))
printf '%d.%06d %d\n' $((us / 1000000)) $((us % 1000000)) "$fails"
