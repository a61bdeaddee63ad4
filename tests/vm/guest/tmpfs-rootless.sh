# Rootless runs (design ROOTLESS-AND-EXEC.md 1.4, 1.6, 1.7) on a pure cgroup v2 host: crab-can
# started as uid 1000 (`probe as`: the guest has no setpriv), with an image copy of its own.
. /tests/lib.sh

UID_=1000
UIMG=/tmp/rootless-image
rm -rf "$UIMG"
cp -a "$IMG" "$UIMG" && chown -R "$UID_:$UID_" "$UIMG"

# as_user CMD...: CMD as uid and gid 1000, no supplementary groups.
as_user() { probe as "$UID_" "$UID_" "$@"; }

# IN_CG: a script for `sh -c IN_CG - DIR ARGS...`: move (as root) into the cgroup DIR, then become
# uid 1000 and exec `crab-can run ARGS...`: crab-can is that very process.
IN_CG='d=$1; shift; echo $$ > "$d/cgroup.procs" && exec probe as '"$UID_ $UID_ $CRAB"' run "$@"'

# user_run DIR ARGS...: `crab-can run ARGS...` as uid 1000 from the cgroup $CG/DIR (through `run`).
user_run() {
	local d=$1
	shift
	run sh -c "$IN_CG" - "$CG/$d" "$@"
}

# ---- a plain rootless run ----------------------------------------------------------------------
expect_status plain-run 0 probe as "$UID_" "$UID_" "$CRAB" run "$UIMG" sh -c 'id -u; cat /proc/self/uid_map'
expect_eq plain-root-inside-mapped-to-1000 "0 0 1000 1" "$(echo $RUN_OUT)"

# ---- delegation --------------------------------------------------------------------------------
# As root: a cgroup u of the user's (as systemd's Delegate=yes makes one), the root already enabling
# memory, pids and cpu for its children.
U=$CG/u
mkdir "$U" && chown "$UID_:$UID_" "$U" "$U/cgroup.procs" "$U/cgroup.subtree_control" "$U/cgroup.threads"
expect_eq root-enables-memory-pids-cpu "cpu memory pids" \
	"$(tr ' ' '\n' < "$CG/cgroup.subtree_control" | grep -xE 'cpu|memory|pids' | sort | tr '\n' ' ' | sed 's/ $//')"

# u_state: what u holds (one line), to compare with its state before a run.
u_state() {
	echo "procs=[$(cat "$U/cgroup.procs" | tr '\n' ' ')] control=[$(cat "$U/cgroup.subtree_control")]" \
		"dirs=[$(find "$U" -mindepth 1 -type d | sort | tr '\n' ' ')]"
}
U_BEFORE=$(u_state)
expect_eq u-empty-at-start "procs=[] control=[] dirs=[]" "$U_BEFORE"

# The OOM killer ends the container: 137 and the OOM line, as for root.
user_run u --name hog --memory 16m "$UIMG" \
	awk 'BEGIN { s = "0123456789abcdef"; while (length(s) < 134217728) s = s s }'
expect_eq oom-exit-137 137 "$RUN_STATUS"
expect_match oom-reported '^crab-can: .*(memory.*16 MiB|16 MiB.*memory)' "$RUN_ERR"
expect_eq oom-u-as-before "$U_BEFORE" "$(u_state)"

# --pids 5 holds a fork loop: the fork that would make task 6 fails.
user_run u --name forks --pids 5 "$UIMG" sh -c \
	'n=0; while [ $n -lt 20 ]; do sleep 61 & n=$((n + 1)); echo $n; done; echo ALL'
last=$(printf '%s\n' "$RUN_OUT" | grep -E '^[0-9]+$' | tail -n 1)
expect_range pids-limit-holds 1 4 "${last:-0}"
expect_not_contains pids-fork-loop-stopped ALL "$RUN_OUT"
wait_for 5 procs_running_are 0 'sleep 61'
expect_eq pids-sleepers-killed 0 "$(procs_running 'sleep 61')"
expect_eq pids-u-as-before "$U_BEFORE" "$(u_state)"

# --cpus 0.5: cpu.max; while it runs crab-can is in its own leaf and the init in the container's.
out=$VMTEST_TMP/cpu.out err=$VMTEST_TMP/cpu.err
sh -c "$IN_CG" - "$U" --name cpu --cpus 0.5 "$UIMG" sleep 300 > "$out" 2> "$err" < /dev/null &
BG_PID=$! BG_OUT=$out BG_ERR=$err
if container_started cpu-started "$U/crab-can-cpu"; then
	expect_file cpu-max "$U/crab-can-cpu/cpu.max" "50000 100000"
	expect_eq crab-can-in-its-leaf "$BG_PID" "$(cat "$U/crab-can-cpu@supervisor/cgroup.procs")"
	expect_eq nothing-left-in-u "" "$(cat "$U/cgroup.procs")"
	expect_contains cpu-enabled-in-u cpu "$(cat "$U/cgroup.subtree_control")"
	init=$(container_init_of "$BG_PID")
	expect_eq init-in-container-cgroup "0::/u/crab-can-cpu" "$(cat "/proc/${init:-0}/cgroup" 2>&1)"
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID"
	expect_eq cpu-sigterm-exit-143 143 "$BG_STATUS"
fi
expect_eq cpu-u-as-before "$U_BEFORE" "$(u_state)"

# u holds another process: crab-can does not move it, says so, and changes nothing.
sleep 62 &
other=$!
echo "$other" > "$U/cgroup.procs"
user_run u --name crowd --memory 16m "$UIMG" true
expect_eq crowded-125 125 "$RUN_STATUS"
expect_match crowded-message '^crab-can: cgroup /u holds other processes than crab-can: start crab-can in a cgroup of its own, e\.g\. systemd-run --user --scope' "$RUN_ERR"
kill "$other"
wait "$other" 2> /dev/null
expect_eq crowded-u-as-before "$U_BEFORE" "$(u_state)"

k9_empty() { ! has_procs "$U/crab-can-k9"; }
# crab-can killed with SIGKILL (documented in the README): the container dies with it; its two
# leaves stay, empty, with memory still on in u (no process can join u until its owner turns it off).
# The next run of the name removes the leaves.
out=$VMTEST_TMP/k9.out err=$VMTEST_TMP/k9.err
sh -c "$IN_CG" - "$U" --name k9 --memory 32m "$UIMG" sleep 63 > "$out" 2> "$err" < /dev/null &
BG_PID=$! BG_OUT=$out BG_ERR=$err
if container_started k9-started "$U/crab-can-k9"; then
	kill -KILL "$BG_PID"
	bg_wait "$BG_PID"
	wait_for 10 procs_running_are 0 'sleep 63'
	expect_eq k9-container-dies-with-crab-can 0 "$(procs_running 'sleep 63')"
	wait_for 5 k9_empty
	expect_eq k9-leaves-left "procs=[] control=[memory] dirs=[$U/crab-can-k9 $U/crab-can-k9@supervisor ]" "$(u_state)"
	as_user sh -c "echo -memory > $U/cgroup.subtree_control"
	expect_status k9-next-run 0 sh -c "$IN_CG" - "$U" --name k9 --memory 32m "$UIMG" true
	expect_eq k9-u-as-before-after-next-run "$U_BEFORE" "$(u_state)"
fi

# ---- not delegated -----------------------------------------------------------------------------
# A cgroup root owns.
mkdir "$CG/rootowned"
user_run rootowned --name nd --memory 16m "$UIMG" true
expect_eq not-delegated-125 125 "$RUN_STATUS"
expect_eq not-delegated-message "crab-can: cgroup /rootowned is not delegated to you (missing: ownership): start crab-can in a delegated scope, e.g. systemd-run --user --scope -p Delegate=yes crab-can run ..." "$RUN_ERR"
expect_eq not-delegated-nothing-made "" "$(find "$CG/rootowned" -mindepth 1 -type d)"
rmdir "$CG/rootowned"
# The user's directory, but root's cgroup.procs and cgroup.subtree_control in it.
mkdir "$CG/half" && chown "$UID_:$UID_" "$CG/half"
user_run half --name half --pids 5 "$UIMG" true
expect_eq half-owned-125 125 "$RUN_STATUS"
expect_match half-owned-message '^crab-can: cgroup /half is not delegated to you \(missing: ownership\)' "$RUN_ERR"
expect_eq half-owned-nothing-made "" "$(find "$CG/half" -mindepth 1 -type d)"
rmdir "$CG/half"
# The user's own, but the root does not enable cpu for it.
echo -cpu > "$CG/cgroup.subtree_control"
user_run u --name nocpu --cpus 0.5 --memory 16m "$UIMG" true
expect_eq no-cpu-125 125 "$RUN_STATUS"
expect_eq no-cpu-message "crab-can: cgroup /u is not delegated to you (missing: cpu): start crab-can in a delegated scope, e.g. systemd-run --user --scope -p Delegate=yes crab-can run ..." "$RUN_ERR"
echo +cpu > "$CG/cgroup.subtree_control"
expect_eq no-cpu-u-as-before "$U_BEFORE" "$(u_state)"
rmdir "$U"

# --cgroup-parent stays root's.
expect_status cgroup-parent-125 125 probe as "$UID_" "$UID_" "$CRAB" run --cgroup-parent x "$UIMG" true
expect_match cgroup-parent-message '^crab-can: --cgroup-parent is not supported when not root' "$RUN_ERR"

# ---- user namespaces blocked (design 1.6) ------------------------------------------------------
max=/proc/sys/user/max_user_namespaces
old=$(cat "$max")
echo 0 > "$max"
expect_status max-userns-0-125 125 probe as "$UID_" "$UID_" "$CRAB" run "$UIMG" true
expect_match max-userns-0-message '^crab-can: cannot create a user namespace: .*user\.max_user_namespaces = 0' "$RUN_ERR"
echo "$old" > "$max"

# The network namespace is made by a helper beside the root (README "How it works"): when the
# kernel refuses it, one line says so, as root and not, and `--net host` needs none.
max=/proc/sys/user/max_net_namespaces
old=$(cat "$max")
echo 0 > "$max"
expect_status max-netns-0-125 125 probe as "$UID_" "$UID_" "$CRAB" run "$UIMG" true
expect_match max-netns-0-message '^crab-can: cannot create the network namespace: No space left on device' "$RUN_ERR"
expect_status max-netns-0-root-125 125 "$CRAB" run "$UIMG" true
expect_match max-netns-0-root-message '^crab-can: cannot create the network namespace: No space left on device' "$RUN_ERR"
expect_status max-netns-0-host 0 probe as "$UID_" "$UID_" "$CRAB" run --net host "$UIMG" true
echo "$old" > "$max"

clone=/proc/sys/kernel/unprivileged_userns_clone
if [ -e "$clone" ]; then
	old=$(cat "$clone")
	echo 0 > "$clone"
	expect_status userns-clone-0-125 125 probe as "$UID_" "$UID_" "$CRAB" run "$UIMG" true
	expect_match userns-clone-0-message '^crab-can: cannot create a user namespace: this kernel forbids it for unprivileged users \(kernel\.unprivileged_userns_clone = 0\)' "$RUN_ERR"
	echo "$old" > "$clone"
else
	skip userns-clone-0 "this kernel has no kernel.unprivileged_userns_clone (not Debian's patch)"
fi
expect_status userns-back 0 probe as "$UID_" "$UID_" "$CRAB" run "$UIMG" true

rm -rf "$UIMG"
