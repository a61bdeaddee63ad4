#!/usr/bin/env bash
# crab-can benchmark: start-to-exit latency, throughput, binary size and peak memory of
# crab-can next to the kernel floor (unshare, chroot) and its peers (bubblewrap, runc,
# crun), all on the same busybox image; crab-can's OCI command line (run, and
# create+start+delete) against runc and crun on one bundle; and podman and containerd (ctr)
# end to end with crab-can against runc as their runtime. Public tools only: hyperfine, /usr/bin/time,
# /proc/<pid>/status, strace. Rootless rows as an unprivileged user (crabbench, made with
# useradd -m if missing). Run as root:  make bench   (or bench/run.sh)
#
# Knobs (environment): CRAB_CAN (binary, default ./crab-can), BENCH_RUNS (200),
# BENCH_WARMUP (20), BENCH_SEQ (100), BENCH_PAR (20), BENCH_TP_REPS (3), BENCH_MEM_REPS (3),
# BENCH_STRACE_RUNS (5), BENCH_OCI_PAIRS (100), BENCH_E2E_PAIRS (30).
# Output: bench/out/ — results.md (the table, also printed), latency.svg, hyperfine JSON,
# strace logs. See bench/README.md.
set -euo pipefail
export LC_ALL=C

B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$B")
OUT=$B/out
IMG=$OUT/img
BUNDLE=$OUT/bundle-true
BUNDLE_SLEEP=$OUT/bundle-sleep
CRAB=${CRAB_CAN:-$ROOT/crab-can}
RUNS=${BENCH_RUNS:-200}
WARMUP=${BENCH_WARMUP:-20}
SEQ=${BENCH_SEQ:-100}
PAR=${BENCH_PAR:-20}
TP_REPS=${BENCH_TP_REPS:-3}
MEM_REPS=${BENCH_MEM_REPS:-3}
OCI_PAIRS=${BENCH_OCI_PAIRS:-100}
E2E_PAIRS=${BENCH_E2E_PAIRS:-30}
OCIROOT=$OUT/oci-root   # private --root of each runtime for the OCI rows
E2E=$OUT/e2e            # private podman storage and containerd state

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (namespaces, mounts, cgroups)"
case $ROOT in *[[:space:]]*) die "the repository path must not contain spaces: $ROOT" ;; esac
[ -x "$CRAB" ] || die "no crab-can binary at $CRAB (make build)"

# ---------------------------------------------------------------- packages
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
for p in hyperfine bubblewrap runc crun strace time busybox-static file util-linux \
         podman conmon containerd uidmap; do
  have "$p" || need+=("$p")
done
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  say "bench: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || die "cannot install ${need[*]}"
fi
for c in hyperfine bwrap runc crun strace unshare chroot python3 /usr/bin/time; do
  command -v "$c" >/dev/null || die "missing $c"
done

# ---------------------------------------------------------------- cleanup (always)
mkdir -p "$OUT"
rm -f "$OUT"/lat-*.json "$OUT"/*.tsv "$OUT"/mem-*.jsonl "$OUT"/strace-* "$OUT"/errors.log \
      "$OUT"/probe.md "$OUT"/hyperfine.log "$OUT"/leftovers.txt "$OUT"/results.md "$OUT"/latency.svg "$OUT"/summary.json \
      "$OUT"/pairs-*.json "$OUT"/e2e.md
CG_BEFORE=$OUT/.cgroups-before
crab_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path '*/crab-can/*' 2>/dev/null | sort; }
crab_cgroups >"$CG_BEFORE"
# global directories the runtimes and engines make outside bench/out: removed at the end if
# they did not exist before and are empty then
GLOBALS=(/run/containerd/fifo /run/containerd/s /run/containerd /run/crab-can-oci /run/libpod /run/crun)
GLOBALS_NEW=()
for d in "${GLOBALS[@]}"; do [ -e "$d" ] || GLOBALS_NEW+=("$d"); done

sweep() { # remove (and record) anything the runs left behind
  local id d rt
  for rt in runc crun; do
    for id in $("$rt" list -q 2>/dev/null | grep '^crabbench-'); do
      "$rt" delete -f "$id" >/dev/null 2>&1 && echo "removed leftover $rt container $id" >>"$OUT/leftovers.txt"
    done
  done
  # the OCI rows' private roots: every runtime, every container of the bench's
  for rt in crab-can runc crun; do
    for d in "$OCIROOT/$rt"/crabbench-*; do
      [ -e "$d" ] || continue
      id=${d##*/}
      case $rt in crab-can) "$CRAB" --root "$OCIROOT/$rt" delete --force "$id" ;;
                  *) "$rt" --root "$OCIROOT/$rt" delete --force "$id" ;; esac >/dev/null 2>&1
      rm -rf "$d"
      echo "removed leftover $rt container $id (root $OCIROOT/$rt)" >>"$OUT/leftovers.txt"
    done
  done
  # runc/crun cgroups are named after the container id
  for d in $(find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -name 'crabbench-*' 2>/dev/null | sort -r); do
    [ -s "$d/cgroup.procs" ] || { rmdir "$d" 2>/dev/null && echo "removed leftover cgroup $d" >>"$OUT/leftovers.txt"; }
  done
  # crab-can's cgroups that appeared during the run and are still there (empty ones only:
  # a non-empty one belongs to a container someone else is running right now)
  for d in $(comm -13 "$CG_BEFORE" <(crab_cgroups) | sort -r); do
    [ -d "$d" ] && ! [ -s "$d/cgroup.procs" ] && rmdir "$d" 2>/dev/null \
      && echo "removed leftover crab-can cgroup $d" >>"$OUT/leftovers.txt"
  done
  # mounts under the bench's own directory (none are expected: every tool uses a mount namespace)
  for d in $(findmnt -rn -o TARGET 2>/dev/null | grep -F "$OUT/" | sort -r); do
    umount -l "$d" && echo "unmounted leftover $d" >>"$OUT/leftovers.txt"
  done
  return 0
}
# The end-to-end engines: podman's containers and images, the private containerd and its
# tasks, then whatever is left of theirs (shims, conmon: their command lines name $E2E),
# mounts under $E2E, the engines' cgroups (/crabbench-e2e-*), $E2E, and the global
# directories this run made. Safe to call more than once.
CTRD_PID=
POD=(podman --root "$E2E/podman/root" --runroot "$E2E/podman/run" --tmpdir "$E2E/podman/tmp"
  --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
CTRD_NS=crabbench-e2e-ctr   # containerd namespace: the containers' cgroups are /$CTRD_NS/<id>
CTR=(ctr -a "$E2E/containerd/c.sock" -n "$CTRD_NS")
e2e_stop() {
  local - id p i d pids
  set +e   # best effort throughout (`local -` restores -e on return)
  if [ -d "$E2E/podman/root" ]; then
    for id in $(timeout 60 "${POD[@]}" ps -aq 2>/dev/null); do
      echo "removed leftover podman container $id" >>"$OUT/leftovers.txt"
    done
    for p in "$CRAB" runc; do timeout 60 "${POD[@]}" --runtime "$p" rm -a -f -t 0 >/dev/null 2>&1; done
    timeout 60 "${POD[@]}" rmi -a -f >/dev/null 2>&1
  fi
  if [ -n "$CTRD_PID" ]; then
    for id in $(timeout 20 "${CTR[@]}" task ls -q 2>/dev/null); do
      timeout 20 "${CTR[@]}" task kill -s SIGKILL "$id" >/dev/null 2>&1
      timeout 20 "${CTR[@]}" task rm -f "$id" >/dev/null 2>&1
      echo "removed leftover containerd task $id" >>"$OUT/leftovers.txt"
    done
    for id in $(timeout 20 "${CTR[@]}" containers ls -q 2>/dev/null); do
      timeout 20 "${CTR[@]}" containers rm "$id" >/dev/null 2>&1
      echo "removed leftover containerd container $id" >>"$OUT/leftovers.txt"
    done
    kill -TERM "$CTRD_PID" 2>/dev/null
    for ((i = 0; i < 200; i++)); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$CTRD_PID" 2>/dev/null && { kill -KILL "$CTRD_PID"; echo "containerd: SIGKILL after 20 s" >>"$OUT/leftovers.txt"; }
    wait "$CTRD_PID" 2>/dev/null
    CTRD_PID=
  fi
  # processes started for the engines (shims, conmon) that outlived them
  for ((i = 0; i < 3; i++)); do
    pids=$(pgrep -f -- "$E2E/" | grep -vx "$$" || true)
    [ -n "$pids" ] || break
    for p in $pids; do
      kill -KILL "$p" 2>/dev/null && echo "killed leftover process $p ($(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-80))" >>"$OUT/leftovers.txt"
    done
    sleep 0.5
  done
  for d in $(findmnt -rn -o TARGET 2>/dev/null | grep -F "$E2E/" | sort -r); do
    umount -l "$d" 2>/dev/null
  done
  for d in $(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -depth -type d -path '*/crabbench-e2e-*' 2>/dev/null); do
    for ((i = 0; i < 50; i++)); do rmdir "$d" 2>/dev/null && break; [ -d "$d" ] || break; sleep 0.1; done
    [ -d "$d" ] && echo "cannot remove cgroup $d" >>"$OUT/leftovers.txt"
  done
  [ -d "$E2E" ] && rm -rf --one-file-system "$E2E"
  for d in "${GLOBALS_NEW[@]}"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  return 0
}
# Long steps run through fgrun: in the background, waited for. Bash acts on a Ctrl-C only
# once a foreground child has *died of it*, and hyperfine survives it; a trapped signal does
# interrupt `wait` at once. The ( exec ) form keeps SIGINT at its default in the child.
CHILD=
fgrun() {
  local rc=0
  ( exec "$@" ) &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}
cleanup() {
  local rc=$? n
  set +e
  if [ -n "$CHILD" ]; then   # interrupted: stop our step, let in-flight containers finish
    kill -TERM "$CHILD" 2>/dev/null
    wait "$CHILD" 2>/dev/null
    sleep 1.5
  fi
  e2e_stop
  exec_stop 2>/dev/null
  sweep
  rm -f "$CG_BEFORE" "$OUT/.time" "$OUT/.res" "$OUT/.err"
  n=$(cat "$OUT/leftovers.txt" 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] && say "bench: cleaned up $n leftovers (see $OUT/leftovers.txt)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- machine
cgroup_layout() {
  local top uni
  top=$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo "?")
  if [ "$top" = cgroup2fs ]; then echo "unified (cgroup v2 only at /sys/fs/cgroup)"; return; fi
  uni=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
  local v1; v1=$(findmnt -rn -t cgroup -o TARGET | xargs -rn1 basename | paste -sd, -)
  if [ -n "$uni" ]; then echo "hybrid: v1 controllers {$v1}, v2 at $uni"
  else echo "legacy v1: {$v1}"; fi
}
{
  echo "## Machine"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- kernel: $(uname -srm)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores online"
  echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- cgroups: $(cgroup_layout); this shell's memory cgroup: $(grep -m1 ':memory:' /proc/self/cgroup | cut -d: -f3 || echo -)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  b0=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat); sleep 1
  b1=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)
  busy=$(( (b1 - b0) * 100 / $(getconf CLK_TCK) / $(nproc) ))
  echo "- CPU busy in the second before the run: ${busy}% of the machine"
  [ "$busy" -le 15 ] || echo "- **warning: the machine is busy: other work skews every number below; rerun on a quiet machine**"
  echo "- crab-can: $("$CRAB" --version 2>&1 | head -1) ($CRAB)"
  echo "- hyperfine $(hyperfine --version | awk '{print $2}'), runc $(runc --version | awk 'NR==1{print $3}'), crun $(crun --version | awk 'NR==1{print $3}'), bubblewrap $(bwrap --version | awk '{print $2}'), $(unshare --version | sed 's/unshare from //'), strace $(strace -V | awk 'NR==1{print $4}')"
  echo "- method: hyperfine -N (no shell) --warmup $WARMUP --runs $RUNS; same image ($IMG, busybox-static) for every row"
} >"$OUT/machine.md"
cat "$OUT/machine.md"
echo
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
read -r cpu_start < <(busy_ticks)
T0=${EPOCHREALTIME/./}

# ---------------------------------------------------------------- image and bundles
say "bench: building the image and OCI bundles"
"$ROOT/tests/mkimage.sh" "$IMG" >/dev/null
mkbundle() { # DIR ARGS-JSON
  rm -rf "$1"; mkdir -p "$1"
  (cd "$1" && runc spec)
  python3 - "$1/config.json" "$IMG" "$2" <<'PY'
import json, sys
path, rootfs, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = json.load(open(path))
c["process"]["args"] = args
c["process"]["terminal"] = False
# runc's default spec lists ambient capabilities without inheritable ones: the kernel refuses
# to raise them (EPERM); runc ignores that, crab-can (like crun) fails. Without the ambient
# list the container ends up with the same capabilities under every runtime.
c["process"].get("capabilities", {}).pop("ambient", None)
c["root"] = {"path": rootfs, "readonly": False}   # the same image directory, in place
json.dump(c, open(path, "w"), indent=2)
PY
}
mkbundle "$BUNDLE" '["/bin/true"]'
mkbundle "$BUNDLE_SLEEP" '["/bin/sleep", "1"]'
rm -rf "$OCIROOT"; mkdir -p "$OCIROOT/crab-can" "$OCIROOT/runc" "$OCIROOT/crun"

# ---------------------------------------------------------------- latency
# key | label | command (hyperfine -N splits it like a shell would; no shell runs)
ROWS=(
  "crab-can|crab-can run (default: all namespaces, new net ns)|$CRAB run $IMG /bin/true"
  "crab-can-host|crab-can run --net host|$CRAB run --net host $IMG /bin/true"
  "crab-can-cg|crab-can run --memory 64M --pids 64|$CRAB run --memory 64M --pids 64 $IMG /bin/true"
  "unshare-net|floor: unshare --fork --pid --mount --uts --ipc --net --root|unshare --fork --pid --mount --uts --ipc --net --root $IMG /bin/true"
  "unshare|floor: unshare ... without --net|unshare --fork --pid --mount --uts --ipc --root $IMG /bin/true"
  "chroot|floor: chroot IMG /bin/true|chroot $IMG /bin/true"
  "bwrap|peer: bwrap --unshare-all|bwrap --unshare-all --die-with-parent --bind $IMG / --proc /proc --dev /dev /bin/true"
  "runc|peer: runc run (via wrapper, +1 sh)|$B/wrap-runc.sh $BUNDLE"
  "crun|peer: crun run (via wrapper, +1 sh)|$B/wrap-crun.sh $BUNDLE"
  "oci-crab-can|OCI: crab-can --root R run -b BUNDLE (via wrapper, +1 sh)|$B/wrap-oci.sh run $CRAB $OCIROOT/crab-can $BUNDLE"
  "oci-runc|OCI: runc --root R run -b BUNDLE (via wrapper, +1 sh)|$B/wrap-oci.sh run runc $OCIROOT/runc $BUNDLE"
  "oci-crun|OCI: crun --root R run -b BUNDLE (via wrapper, +1 sh)|$B/wrap-oci.sh run crun $OCIROOT/crun $BUNDLE"
  "life-crab-can|OCI: crab-can create, start, state until stopped, delete (via wrapper)|$B/wrap-oci.sh life $CRAB $OCIROOT/crab-can $BUNDLE"
  "life-runc|OCI: runc create, start, state until stopped, delete (via wrapper)|$B/wrap-oci.sh life runc $OCIROOT/runc $BUNDLE"
  "life-crun|OCI: crun create, start, state until stopped, delete (via wrapper)|$B/wrap-oci.sh life crun $OCIROOT/crun $BUNDLE"
  "wrap-noop|reference: the wrapper alone (sh + exec /bin/true)|$B/wrap-noop.sh $BUNDLE"
  "true|reference: /bin/true on the host (fork+exec)|/bin/true"
)
printf 'key\tlabel\tcommand\tstatus\terror\n' >"$OUT/latency.tsv"
declare -A OK ERR
say "bench: latency, $RUNS runs each (+$WARMUP warmup)"
for row in "${ROWS[@]}"; do
  IFS='|' read -r key label cmd <<<"$row"
  status=ok err=""
  # one plain run first: a peer that cannot run here is a result, not a failure of the bench
  if ! fgrun timeout 30 $cmd </dev/null >/dev/null 2>"$OUT/.err"; then
    status=failed
    err=$(grep -v '^\s*$' "$OUT/.err" | tail -1 || true)
    [ -n "$err" ] || err="exit status non-zero, no message"
  elif ! fgrun hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$OUT/lat-$key.json" --command-name "$label" "$cmd" \
        >>"$OUT/hyperfine.log" 2>&1; then
    status=failed
    err="hyperfine: $(grep -v '^\s*$' "$OUT/hyperfine.log" | tail -1)"
  fi
  [ "$status" = ok ] && OK[$key]=1
  ERR[$key]=$err
  printf '%s\t%s\t%s\t%s\t%s\n' "$key" "$label" "$cmd" "$status" "${err//$'\t'/ }" >>"$OUT/latency.tsv"
  if [ "$status" = ok ]; then
    say "  $(printf '%-14s' "$key") median $(python3 -c 'import json,sys; print("%.3f ms" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1e3))' "$OUT/lat-$key.json")"
  else
    say "  $(printf '%-14s' "$key") FAILED: $err"
  fi
  sleep 1   # let the kernel tear down the namespaces of the last row (netns cleanup is deferred)
done

# Before each set of pairs: wait (at most 10 s) for a half second in which the machine is
# under 10 % busy, so that no set starts while the kernel still tears down what the rows
# before it made (network namespaces, cgroups: deferred work that would slow whichever
# side comes first). Both sides of a pair get the same machine.
settle() {
  local t a b
  for t in $(seq 20); do
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat); sleep 0.5
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
    if python3 -c 'import sys; b0,i0,b1,i1=map(int,sys.argv[1:]); d=(b1-b0)+(i1-i0); sys.exit(0 if d and (b1-b0)/d<0.10 else 1)' $a $b; then
      return 0
    fi
  done
  say "  (the machine stayed busy for 10 s; measuring anyway)"
}

# ---------------------------------------------------------------- the floor, in pairs
# The rows above run one after another, so drift (other work, the deferred cleanup of the
# previous row's network namespaces) can favour either side. The same comparison in
# alternating pairs, ratio per pair:
if [ -n "${OK[crab-can]:-}" ] && [ -n "${OK[unshare-net]:-}" ]; then
  say "bench: crab-can against the unshare --net floor in $RUNS alternating pairs"
  settle
  fgrun python3 "$B/pairs.py" "$RUNS" "$OUT/pairs-floor.json" -- $CRAB run $IMG /bin/true \
    -- unshare --fork --pid --mount --uts --ipc --net --root $IMG /bin/true >&2 || say "  pairs FAILED"
fi

fail_json() { # FILE MESSAGE: a pairs result that could not be measured
  python3 -c 'import json, sys; json.dump({"ok": False, "error": sys.argv[2]}, open(sys.argv[1], "w"))' "$1" "$2"
}

# ---------------------------------------------------------------- rootless, in pairs
# As an unprivileged user (crabbench, made with useradd -m if missing), rootless
# `crab-can run IMG /bin/true` against bwrap and against the `unshare -r` floor, each in
# alternating pairs (bench/rootless.sh: the image, binary and pairs.py copied to a
# directory the user owns).
# Twice: crab-can mapping the one id (as bwrap and `unshare -r` do: the like-for-like rows),
# and mapping the user's subordinate range through newuidmap/newgidmap (what a user with a
# range gets), also against `unshare --map-auto`, which maps the same through the same helpers.
say "bench: rootless (user crabbench): crab-can against bwrap and unshare, $RUNS alternating pairs each"
for row in one:bwrap one:unshare range:bwrap range:unshare range:unshare-auto; do
  settle
  fgrun "$B/rootless.sh" "$CRAB" "$IMG" "${row%%:*}" "${row#*:}" "$RUNS" \
    "$OUT/pairs-rootless-${row%%:*}-${row#*:}.json" || say "  rootless $row pairs FAILED"
done

# ---------------------------------------------------------------- OCI mode, in pairs
# crab-can's runc-compatible command line against runc (and crun) on the same bundle, each
# with a private --root, in alternating pairs without any wrapper: pairs.py gives every run
# its own container id ({id}). `life` is what containerd's shim and conmon do: create (with
# a pid file), start, wait for the container's first process (pairs.py is a subreaper, as
# they are), delete.
say "bench: OCI mode against runc and crun on $BUNDLE, $OCI_PAIRS alternating pairs each"
oci_run() { echo "$1" --root "$OCIROOT/$2" run -b "$BUNDLE" "{id}"; }
oci_life() {
  local r="$1 --root $OCIROOT/$2" pf="$OCIROOT/$2.pid"
  echo "$r create -b $BUNDLE --pid-file $pf {id} ::: $r start {id} ::: @wait $pf ::: $r delete {id}"
}
for peer in runc crun; do
  if [ -z "${OK[oci-$peer]:-}" ]; then
    say "  $peer refuses to run on this host, not paired: ${ERR[oci-$peer]:-its single run failed}"
    for m in run life; do fail_json "$OUT/pairs-oci-$m-$peer.json" "${ERR[oci-$peer]:-failed}"; done
    continue
  fi
  for m in run life; do
    say "  crab-can $m against $peer"
    settle
    fgrun python3 "$B/pairs.py" "$OCI_PAIRS" "$OUT/pairs-oci-$m-$peer.json" -- $(oci_$m "$CRAB" crab-can) \
      -- $(oci_$m "$peer" "$peer") >&2 || say "  pairs FAILED"
  done
done

# ---------------------------------------------------------------- exec, in pairs
# `crab-can exec NAME true` into a running docker-like container, against `nsenter --all -t
# PID true` into that very container (PID: its command) and against `runc exec ID true` into
# a runc container of the same image (runc enters only its own), in alternating pairs.
# Both containers are stopped right after (and by the EXIT trap: exec_stop).
EXNAME=crabbench-exec-$$
exec_stop() {
  "$CRAB" kill -s KILL "$EXNAME" >/dev/null 2>&1
  runc --root "$OCIROOT/runc-exec" delete -f "$EXNAME" >/dev/null 2>&1
  rm -rf "$OCIROOT/runc-exec"
}
say "bench: exec against nsenter and runc exec, $OCI_PAIRS alternating pairs each"
mkbundle "$OUT/bundle-long" '["/bin/sleep", "1000"]'
setsid "$CRAB" run --name "$EXNAME" "$IMG" /bin/sleep 1000 </dev/null >/dev/null 2>&1 &
runc --root "$OCIROOT/runc-exec" run -d -b "$OUT/bundle-long" "$EXNAME" </dev/null >/dev/null 2>&1
expid=
for _ in $(seq 50); do
  init=$("$CRAB" ps --format json | python3 -c 'import json, sys
print(next((c["pid"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]), ""))' "$EXNAME")
  [ -n "$init" ] && expid=$(pgrep -P "$init" | head -n 1)
  [ -n "$expid" ] && break
  sleep 0.1
done
if [ -z "$expid" ]; then
  fail_json "$OUT/pairs-exec-nsenter.json" "crab-can run --name $EXNAME did not start"
  fail_json "$OUT/pairs-exec-runc.json" "crab-can run --name $EXNAME did not start"
else
  settle
  fgrun python3 "$B/pairs.py" "$OCI_PAIRS" "$OUT/pairs-exec-nsenter.json" -- "$CRAB" exec "$EXNAME" /bin/true \
    -- nsenter --all -t "$expid" /bin/true >&2 || say "  pairs FAILED"
  settle
  fgrun python3 "$B/pairs.py" "$OCI_PAIRS" "$OUT/pairs-exec-runc.json" -- "$CRAB" exec "$EXNAME" /bin/true \
    -- runc --root "$OCIROOT/runc-exec" exec "$EXNAME" /bin/true >&2 || say "  pairs FAILED"
fi
exec_stop

# ---------------------------------------------------------------- end to end: podman, containerd
# podman (through conmon) and containerd (ctr run, through containerd-shim-runc-v2) with
# crab-can and with runc as the OCI runtime, `true` in a busybox image imported offline, in
# alternating pairs. Private state under $E2E; e2e_stop (also run by the EXIT trap) removes
# everything.
say "bench: end to end: podman and ctr with crab-can against runc, $E2E_PAIRS alternating pairs each"
e2e_stop
mkdir -p "$E2E/podman/tmp" "$E2E/containerd/tmp"
RUNC=$(command -v runc)
tar -C "$IMG" --numeric-owner --sort=name -cf "$E2E/bb.tar" .
if fgrun timeout 120 "${POD[@]}" import "$E2E/bb.tar" localhost/crabbench-bb:1 >/dev/null 2>"$OUT/.err"; then
  PRUN=(run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
        --cgroup-parent=/crabbench-e2e-podman localhost/crabbench-bb:1 true)
  say "  podman --runtime crab-can|runc run --rm IMAGE true"
  settle
  fgrun python3 "$B/pairs.py" --warmup 3 "$E2E_PAIRS" "$OUT/pairs-podman.json" \
    -- "${POD[@]}" --runtime "$CRAB" "${PRUN[@]}" -- "${POD[@]}" --runtime "$RUNC" "${PRUN[@]}" >&2 \
    || say "  podman pairs FAILED"
else
  fail_json "$OUT/pairs-podman.json" "podman import: $(grep -v '^\s*$' "$OUT/.err" | tail -1)"
  say "  podman import FAILED"
fi
cat >"$E2E/containerd/config.toml" <<CONFIG
version = 2
root = "$E2E/containerd/root"
state = "$E2E/containerd/state"
temp = "$E2E/containerd/tmp"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "$E2E/containerd/c.sock"
[ttrpc]
  address = "$E2E/containerd/c.sock.ttrpc"
CONFIG
containerd --config "$E2E/containerd/config.toml" </dev/null >"$E2E/containerd/containerd.log" 2>&1 &
CTRD_PID=$!
ctrd_up=
for ((i = 0; i < 200; i++)); do
  "${CTR[@]}" version >/dev/null 2>&1 && { ctrd_up=1; break; }
  kill -0 "$CTRD_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ctrd_up" ]; then
  fail_json "$OUT/pairs-ctr.json" "containerd did not start: $(tail -1 "$E2E/containerd/containerd.log")"
  say "  containerd did not start"
elif ! { "$ROOT/tests/mkoci.sh" "$IMG" "$E2E/bb-oci.tar" 1 &&
         fgrun timeout 120 "${CTR[@]}" image import --base-name localhost/crabbench-bb "$E2E/bb-oci.tar"; } \
       >/dev/null 2>"$OUT/.err"; then
  fail_json "$OUT/pairs-ctr.json" "ctr image import: $(grep -v '^\s*$' "$OUT/.err" | tail -1)"
  say "  ctr image import FAILED"
else
  ctr_run() { echo "${CTR[@]}" run --rm --runc-binary "$1" --runc-root "$E2E/containerd/rt-$2" \
    --fifo-dir "$E2E/containerd/fifo" localhost/crabbench-bb:1 "{id}" true; }
  say "  ctr run --rm --runc-binary crab-can|runc IMAGE ID true"
  settle
  fgrun python3 "$B/pairs.py" --warmup 3 "$E2E_PAIRS" "$OUT/pairs-ctr.json" \
    -- $(ctr_run "$CRAB" crab-can) -- $(ctr_run "$RUNC" runc) >&2 || say "  ctr pairs FAILED"
fi
e2e_stop

# ---------------------------------------------------------------- throughput
say "bench: throughput, $SEQ one after another and $PAR at once, median of $TP_REPS runs each"
printf 'key\tmode\tn\trep\telapsed_s\tfails\tcpu_user_s\tcpu_sys_s\n' >"$OUT/throughput.tsv"
for key in crab-can crab-can-host crab-can-cg unshare-net bwrap runc crun; do
  [ -n "${OK[$key]:-}" ] || continue
  tool=$key; [ "$key" = unshare-net ] && tool=unshare
  for mode in seq par; do
    n=$SEQ; [ $mode = par ] && n=$PAR
    for ((rep = 1; rep <= TP_REPS; rep++)); do
      fgrun env CRAB="$CRAB" IMG="$IMG" BUNDLE="$BUNDLE" ERRLOG="$OUT/errors.log" \
        /usr/bin/time -f '%U %S' -o "$OUT/.time" bash "$B/loop.sh" "$tool" "$mode" "$n" >"$OUT/.res"
      read -r el fails <"$OUT/.res"
      read -r us ss <"$OUT/.time"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$mode" "$n" "$rep" "$el" "$fails" "$us" "$ss" >>"$OUT/throughput.tsv"
      sleep 0.5
    done
  done
  say "  $(printf '%-14s' "$key") done"
done
rm -f "$OUT/.time" "$OUT/.res" "$OUT/.err"

# ---------------------------------------------------------------- size
say "bench: binary sizes"
printf 'key\tpath\tlinkage\tbin_bytes\tnlibs\tlibs_bytes\tlibs\n' >"$OUT/size.tsv"
size_row() { # KEY PATH
  local p=$1 key=$2 link libs=() lb=0 l
  p=$(readlink -f "$p")
  if file -L "$p" | grep -q 'statically linked'; then link=static
  elif file -L "$p" | grep -q 'static-pie linked'; then link=static-pie
  else
    link=dynamic
    while read -r l; do [ -n "$l" ] && libs+=("$(readlink -f "$l")"); done < <(
      ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
    for l in "${libs[@]}"; do lb=$((lb + $(stat -c %s "$l"))); done
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$p" "$link" "$(stat -c %s "$p")" "${#libs[@]}" "$lb" \
    "$(printf '%s\n' "${libs[@]}" | xargs -rn1 basename | paste -sd' ' -)" >>"$OUT/size.tsv"
}
size_row "$CRAB" crab-can
size_row "$(command -v runc)" runc
size_row "$(command -v crun)" crun
size_row "$(command -v bwrap)" bwrap

# ---------------------------------------------------------------- peak memory
say "bench: peak memory (VmHWM while 'sleep 1' runs in the container), $MEM_REPS runs each"
for key in crab-can bwrap runc crun; do
  for ((rep = 1; rep <= MEM_REPS; rep++)); do
    case $key in
      crab-can) cmd=("$CRAB" run "$IMG" /bin/sleep 1) ;;
      bwrap) cmd=(bwrap --unshare-all --die-with-parent --bind "$IMG" / --proc /proc --dev /dev /bin/sleep 1) ;;
      runc) cmd=(runc run --bundle "$BUNDLE_SLEEP" "crabbench-mem-$rep-$$") ;;
      crun) cmd=(crun run --bundle "$BUNDLE_SLEEP" "crabbench-mem-$rep-$$") ;;
    esac
    fgrun python3 "$B/peakmem.py" "$key" "${cmd[@]}" >>"$OUT/mem-$key.jsonl"
  done
done

# ---------------------------------------------------------------- where crab-can's time goes
STRACE_RUNS=${BENCH_STRACE_RUNS:-5}
say "bench: strace of crab-can run IMG /bin/true ($STRACE_RUNS traced runs, one counted)"
for ((i = 1; i <= STRACE_RUNS; i++)); do
  fgrun strace -f -T -tt -o "$OUT/strace-T.$i.txt" "$CRAB" run "$IMG" /bin/true </dev/null >/dev/null 2>&1 || true
done
fgrun strace -c -f -o "$OUT/strace-c.txt" "$CRAB" run "$IMG" /bin/true </dev/null >/dev/null 2>&1 || true
# plain -c counts system CPU time, which this kernel accounts in ticks (mostly zeros for a
# 4 ms run); -w sums each syscall's wall-clock latency instead
fgrun strace -c -w -f -o "$OUT/strace-cw.txt" "$CRAB" run "$IMG" /bin/true </dev/null >/dev/null 2>&1 || true
python3 "$B/strace_top.py" 15 "$OUT"/strace-T.*.txt >"$OUT/strace-summary.md"
# two host costs of every run, without strace: the state file and an empty cgroup
cgv2=""
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then cgv2=/sys/fs/cgroup
elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then cgv2=/sys/fs/cgroup/unified; fi
python3 "$B/probe.py" /run/crab-can "${cgv2:-/nonexistent}" 200 >"$OUT/probe.md" || echo "- probe failed" >"$OUT/probe.md"

# ---------------------------------------------------------------- report
( set +e; sweep )
touch "$OUT/leftovers.txt"
# CPU time the machine spent outside this bench while it ran: all busy CPU time (/proc/stat)
# minus this script's and its children's (bash `times`). Kernel threads doing the bench's
# own cleanup (network namespaces) count as "other" too, so a few percent is normal.
read -r cpu_end < <(busy_ticks)
times >"$OUT/.times"   # not `times | ...`: a pipeline's subshell has no children of its own
other=$(awk -v b="$cpu_start" -v e="$cpu_end" -v t0="$T0" -v t1="${EPOCHREALTIME/./}" \
  -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" '
  function s(x) { split(x, a, /[ms]/); return a[1] * 60 + a[2] }
  { self += s($1) + s($2) }
  END { wall = (t1 - t0) / 1e6; o = (e - b) / hz - self; if (o < 0) o = 0
        printf "%.0f", 100 * o / (wall * n) }' "$OUT/.times")
rm -f "$OUT/.times"
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.md"
echo "- CPU used by other work during the run: ${other}% of the machine (busy CPU time in /proc/stat minus the bench's own)" >>"$OUT/machine.md"
if [ "$other" -gt 15 ]; then
  echo "- **warning: other work used ${other}% of the CPUs during the run: the numbers are skewed; rerun on a quiet machine**" >>"$OUT/machine.md"
fi
python3 "$B/report.py" "$OUT"
python3 "$B/chart.py" "$OUT/summary.json" "$OUT/latency.svg"
echo
say "bench: wrote $OUT/results.md and $OUT/latency.svg"
