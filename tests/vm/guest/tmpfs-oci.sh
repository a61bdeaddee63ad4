# crab-can's runc command line on OCI bundles (README, "With containerd, Kubernetes, podman and
# Docker" and its "OCI command reference"; "OCI.md N" below is a section of the project's OCI design
# notes) on a pure cgroup v2 host, checked against what the kernel says: the state a command leaves,
# the cgroup files it writes, the processes that run or are gone.
# Every container's cgroupsPath is /oci-test/<id>, so its cgroup is /sys/fs/cgroup/oci-test/<id>.
. /tests/lib.sh

P=oci-test # the parent of every container's cgroup
OCI_MOUNT_CGROUP='{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}'

# bundle ID [KEY=VALUE...]: oci_bundle with cgroupsPath /oci-test/ID.
bundle() {
	local id=$1
	shift
	oci_bundle "$id" cgroups="/$P/$id" "$@"
}

# state_pid ID: the "pid" of `crab-can state ID`.
state_pid() {
	"$CRAB" state "$1" 2> /dev/null < /dev/null | tr -d '\n' | sed -n 's/.*"pid"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p'
}

# section TITLE: a line in the console log with the time since boot, to see where time goes.
section() {
	local t
	read -r t _ < /proc/uptime
	echo "vmtest: tmpfs-oci at ${t}s: $1"
}

# cg_empty DIR: the cgroup holds no process (or is gone).
cg_empty() { ! has_procs "$1"; }

# ---- create → created → start → running → stopped → delete ----------------------------------------
section "create → created → start → running → stopped → delete"
# OCI.md 2.2-2.6: create leaves the init waiting at the start gate, in its final cgroup; start lets the
# command run; the status is derived from the init and the cgroup; delete removes cgroup and state.
id=life
cg=$CG/$P/$id
b=$(bundle $id args='["sleep", "1001"]')
if oci_create create $id "$b"; then
	expect_oci_status state-created $id created
	pid=$(cat "$b/init.pid" 2> /dev/null)
	# 2.3: "Decimal host pid, no newline".
	expect_match pid-file-digits '^[0-9]+$' "$pid"
	expect_eq pid-file-no-newline "${#pid}" "$(wc -c < "$b/init.pid" | tr -d ' ')"
	expect_eq state-pid-is-pid-file "$pid" "$(state_pid $id)"
	# "The init must be in its final leaf when create returns."
	expect_eq init-cgroup "0::/$P/$id" "$(cat "/proc/$pid/cgroup" 2> /dev/null)"
	expect_match init-in-cgroup-procs "^$pid\$" "$(cat "$cg/cgroup.procs" 2> /dev/null)"
	expect_eq created-command-not-started 0 "$(procs_matching 'sleep 1001')"
	expect_status start 0 "$CRAB" start $id
	expect_oci_status state-running $id running
	wait_for 10 procs_matching_are 1 'sleep 1001'
	expect_eq started-command-runs 1 "$(procs_matching 'sleep 1001')"
	expect_eq state-pid-while-running "$pid" "$(state_pid $id)"
	# The command runs in the same cgroup as the init.
	expect_eq command-in-cgroup 2 "$(wc -l < "$cg/cgroup.procs" | tr -d ' ')"
	# 2.2: "start of a stopped one ..."; start twice is an error.
	expect_status start-twice-fails 1 "$CRAB" start $id
	# 2.6: a running container needs --force.
	expect_status delete-running-refused 1 "$CRAB" delete $id
	expect_contains delete-running-message "not stopped" "$RUN_ERR"
	expect_status kill-term 0 "$CRAB" kill $id TERM
	expect_oci_status state-stopped $id stopped
	expect_eq state-pid-0-when-stopped 0 "$(state_pid $id)"
	expect_eq stopped-command-gone 0 "$(procs_matching 'sleep 1001')"
	expect_status delete 0 "$CRAB" delete $id
	expect_absent delete-removes-cgroup "$cg"
	expect_no_state delete-removes-state $id
	expect_status state-after-delete-1 1 "$CRAB" state $id
	expect_contains state-after-delete-message "does not exist" "$RUN_ERR"
fi

# ---- run -b: the command's exit status ---------------------------------------------------------------
section "run -b: the command's exit status"
b=$(bundle exit3 args="$(oci_sh 'echo out; echo err >&2; exit 3')")
expect_status run-exit-3 3 "$CRAB" run -b "$b" exit3
expect_eq run-stdout out "$RUN_OUT"
expect_contains run-stderr err "$RUN_ERR"
expect_absent run-removes-cgroup "$CG/$P/exit3"
expect_no_state run-removes-state exit3
# 128 + N when the command is killed by signal N.
b=$(bundle sig args="$(oci_sh 'kill -KILL $$')")
expect_status run-killed-137 137 "$CRAB" run -b "$b" sig

# ---- resources as cgroup v2 files ----------------------------------------------------------------
section "resources as cgroup v2 files"
# OCI.md 3: memory limit → memory.max, reservation → memory.low, swap (memory + swap) →
# memory.swap.max = swap - limit; quota/period → cpu.max; shares → cpu.weight by runc's quadratic
# formula, ceil(10^((l² + 125 l) / 612 - 7/34)) with l = log2(shares): 1024 → 100, 512 → 59;
# pids limit → pids.max; cpus → cpuset.cpus.
id=res
cg=$CG/$P/$id
b=$(bundle $id args='["sleep", "1002"]' resources='"memory": {"limit": 67108864, "reservation": 33554432, "swap": 100663296}, "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"}, "pids": {"limit": 30}')
if oci_create create-res $id "$b"; then
	expect_file res-memory.max "$cg/memory.max" 67108864
	expect_file res-memory.low "$cg/memory.low" 33554432
	expect_file res-memory.swap.max "$cg/memory.swap.max" 33554432
	expect_file res-cpu.max "$cg/cpu.max" "50000 100000"
	expect_file res-cpu.weight-1024 "$cg/cpu.weight" 100
	expect_file res-pids.max "$cg/pids.max" 30
	expect_file res-cpuset.cpus "$cg/cpuset.cpus" 0
	# 2.6: a created container is killed and removed by a plain delete.
	expect_status delete-created 0 "$CRAB" delete $id
	expect_absent delete-created-removes-cgroup "$cg"
fi
id=w512
b=$(bundle $id args='["sleep", "1003"]' resources='"cpu": {"shares": 512}')
if oci_create create-w512 $id "$b"; then
	expect_file res-cpu.weight-512 "$CG/$P/$id/cpu.weight" 59
	expect_status delete-w512 0 "$CRAB" delete $id
fi

# ---- the OOM killer --------------------------------------------------------------------------------
section "the OOM killer"
# A hog doubling a string up to 128 MiB under a 32 MiB limit (no swap in the VM): the kernel kills
# it, and the init exits 137 (run -b's status).
hog='["awk", "BEGIN { s = \"0123456789abcdef\"; while (length(s) < 134217728) s = s s }"]'
b=$(bundle oom args="$hog" resources='"memory": {"limit": 33554432}')
expect_status oom-run-exit-137 137 "$CRAB" run -b "$b" oom
# The same created and started: the kernel counts the kill in the container's memory.events.
id=oom2
cg=$CG/$P/$id
b=$(bundle $id args="$hog" resources='"memory": {"limit": 33554432}')
if oci_create create-oom $id "$b"; then
	expect_status start-oom 0 "$CRAB" start $id
	expect_oci_status oom-stopped $id stopped
	expect_range oom-kill-counted 1 1000 "$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events" 2> /dev/null)"
	expect_status delete-oom 0 "$CRAB" delete $id
	expect_absent delete-oom-removes-cgroup "$cg"
fi

# ---- the eBPF device program ---------------------------------------------------------------------
section "the eBPF device program"
# OCI.md 3, devices: deny rwm plus crab-can's defaults (mknod of anything; null, zero, full, random,
# urandom, tty, pts, ptmx). Root with CAP_MKNOD can make a block node but not open it; /dev/null and
# /dev/zero work. /tmp is a tmpfs without nodev: only the device program stands in the way.
devs='mknod /tmp/blk b 7 0 || exit 10
head -c1 /tmp/blk; echo "blk=$?"
echo "zero=$(head -c4 /dev/zero | wc -c)"
echo x > /dev/null && echo null-ok'
b=$(bundle dev args="$(oci_sh "$devs")" devices='{"allow": false, "access": "rwm"}')
expect_status dev-run 0 "$CRAB" run -b "$b" dev
expect_contains dev-blk-read-refused "blk=1" "$RUN_OUT"
expect_contains dev-blk-eperm "Operation not permitted" "$RUN_ERR"
expect_contains dev-zero-works "zero=4" "$RUN_OUT"
expect_contains dev-null-works null-ok "$RUN_OUT"
# The control: a rule allowing block 7:0 lets the same open through (the refusal above was the
# device program's, not the file system's).
b=$(bundle dev2 args="$(oci_sh "$devs")" devices='{"allow": false, "access": "rwm"}, {"allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm"}')
expect_status dev-allowed-run 0 "$CRAB" run -b "$b" dev2
expect_not_contains dev-allowed-blk-not-eperm "Operation not permitted" "$RUN_ERR"

# ---- kill --all, kill ID KILL ----------------------------------------------------------------------
section "kill --all, kill ID KILL"
# OCI.md 2.5: --all signals every process of the cgroup (SIGKILL on v2 is cgroup.kill); SIGKILL
# ends the whole cgroup. The shell leaves two sleeps in the background besides the one it waits for.
family='sleep 1011 & sleep 1012 & sleep 1013'
for how in all init nopidns; do
	id=kill-$how
	cg=$CG/$P/$id
	case $how in
	nopidns) b=$(bundle $id args="$(oci_sh "$family")" namespaces='{"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}') ;;
	*) b=$(bundle $id args="$(oci_sh "$family")") ;;
	esac
	oci_create create-$id $id "$b" || continue
	expect_status start-$id 0 "$CRAB" start $id
	wait_for 10 procs_matching_are 3 'sleep 101[123]'
	expect_eq $id-family-running 3 "$(procs_matching 'sleep 101[123]')"
	case $how in
	all) expect_status kill-all 0 "$CRAB" kill --all $id KILL ;;
	*) expect_status $id 0 "$CRAB" kill $id KILL ;;
	esac
	wait_for 10 cg_empty "$cg"
	expect_eq $id-cgroup-empty "" "$(cat "$cg/cgroup.procs" 2> /dev/null)"
	wait_for 5 procs_matching_are 0 'sleep 101[123]'
	expect_eq $id-every-process-gone 0 "$(procs_matching 'sleep 101[123]')"
	expect_oci_status $id-stopped $id stopped
	expect_status delete-$id 0 "$CRAB" delete $id
	expect_absent delete-$id-removes-cgroup "$cg"
done

# ---- pause and resume ------------------------------------------------------------------------------
section "pause and resume"
# OCI.md 2.11: v2 cgroup.freeze, until cgroup.events says frozen 1; the status is then "paused".
id=frz
cg=$CG/$P/$id
b=$(bundle $id args='["sleep", "1021"]')
if oci_create create-frz $id "$b"; then
	expect_status start-frz 0 "$CRAB" start $id
	expect_oci_status frz-running $id running
	# runc's argv as podman sends it: no global option before the command. Should that fail, the
	# same with --root first, so that the freezer itself is still checked.
	expect_status pause 0 "$CRAB" pause $id ||
		check pause-with-global-root "$CRAB" --root "$OCI_ROOT" pause $id
	expect_file pause-cgroup.freeze "$cg/cgroup.freeze" 1
	expect_match pause-cgroup.events-frozen '^frozen 1$' "$(cat "$cg/cgroup.events" 2> /dev/null)"
	expect_oci_status state-paused $id paused
	# A paused container is not stopped: delete without --force refuses it.
	expect_status delete-paused-refused 1 "$CRAB" delete $id
	expect_status resume 0 "$CRAB" resume $id ||
		check resume-with-global-root "$CRAB" --root "$OCI_ROOT" resume $id
	expect_file resume-cgroup.freeze "$cg/cgroup.freeze" 0
	expect_match resume-cgroup.events-thawed '^frozen 0$' "$(cat "$cg/cgroup.events" 2> /dev/null)"
	expect_oci_status state-resumed-running $id running
	expect_eq resumed-command-runs 1 "$(procs_matching 'sleep 1021')"
	# Paused again, then delete --force: SIGKILL, thaw, destroy.
	expect_status pause-again 0 "$CRAB" --root "$OCI_ROOT" pause $id
	expect_oci_status state-paused-again $id paused
	expect_status delete-force-paused 0 "$CRAB" delete --force $id
	expect_absent delete-force-removes-cgroup "$cg"
	expect_no_state delete-force-removes-state $id
	wait_for 5 procs_matching_are 0 'sleep 1021'
	expect_eq delete-force-ends-command 0 "$(procs_matching 'sleep 1021')"
fi

# ---- update and events --stats ---------------------------------------------------------------------
section "update and events --stats"
# OCI.md 2.11: update changes the limits given (and only those) of a created, running or paused
# container, as cgroup v2 files; containerd's shim sends `update --resources -` with the
# LinuxResources JSON on stdin. events --stats prints runc's stats event once: memory.current and
# pids.current of a running container are not 0.
id=upd
cg=$CG/$P/$id
b=$(bundle $id args='["sleep", "1022"]' resources='"memory": {"limit": 67108864}, "pids": {"limit": 30}')
if oci_create create-upd $id "$b"; then
	expect_status update-created 0 "$CRAB" update --pids-limit 25 $id
	expect_file update-created-pids.max "$cg/pids.max" 25
	expect_status start-upd 0 "$CRAB" start $id
	expect_status update-memory 0 "$CRAB" update --memory 48m $id
	expect_file update-memory.max "$cg/memory.max" 50331648
	expect_file update-keeps-pids.max "$cg/pids.max" 25
	expect_status update-stdin 0 sh -c 'printf %s "$1" | "$0" update --resources - "$2"' "$CRAB" \
		'{"pids": {"limit": 20}, "memory": {"limit": 41943040}, "cpu": {"quota": 20000}}' $id
	expect_file update-stdin-pids.max "$cg/pids.max" 20
	expect_file update-stdin-memory.max "$cg/memory.max" 41943040
	expect_file update-stdin-cpu.max "$cg/cpu.max" "20000 100000"
	# runc: the period alone keeps the quota.
	expect_status update-period 0 "$CRAB" update --cpu-period=50000 $id
	expect_file update-period-keeps-quota "$cg/cpu.max" "20000 50000"
	expect_status events-stats 0 "$CRAB" events --stats $id
	expect_match events-stats-type '^\{"type":"stats","id":"upd","data":\{"cpu":\{"usage":\{"total":' "$RUN_OUT"
	expect_match events-stats-memory '"memory":.*"usage":\{"limit":41943040,"usage":[1-9][0-9]*,' "$RUN_OUT"
	expect_match events-stats-pids '"pids":\{"current":[1-9][0-9]*,"limit":20\}' "$RUN_OUT"
	expect_status update-unlimited 0 "$CRAB" update --memory -1 --pids-limit -1 $id
	expect_file update-memory.max-max "$cg/memory.max" max
	expect_file update-pids.max-max "$cg/pids.max" max
	expect_status pause-upd 0 "$CRAB" pause $id
	expect_status update-paused 0 "$CRAB" update --pids-limit 15 $id
	expect_file update-paused-pids.max "$cg/pids.max" 15
	expect_oci_status update-still-paused $id paused
	expect_status kill-upd 0 "$CRAB" kill $id KILL
	expect_oci_status upd-stopped $id stopped
	expect_status update-stopped 1 "$CRAB" update --pids-limit 15 $id
	expect_contains update-stopped-message "container not running" "$RUN_ERR"
	expect_status events-stopped 1 "$CRAB" events --stats $id
	expect_contains events-stopped-message "is not running" "$RUN_ERR"
	expect_status delete-upd 0 "$CRAB" delete $id
	expect_absent delete-upd-removes-cgroup "$cg"
	expect_status update-unknown 1 "$CRAB" update --pids-limit 15 $id
	expect_contains update-unknown-message "does not exist" "$RUN_ERR"
fi

# ---- a cgroup mount inside ---------------------------------------------------------------------------
section "a cgroup mount inside"
# OCI.md 3: a mount of type "cgroup" at /sys/fs/cgroup is cgroup2 on v2; with a cgroup namespace
# its root is the container's own cgroup: memory.max there is the container's limit.
inside='cat /sys/fs/cgroup/memory.max
awk '\''$5 == "/sys/fs/cgroup" { print "root=" $4; for (i = 7; i <= NF; i++) if ($i == "-") print "type=" $(i + 1) }'\'' /proc/self/mountinfo
cat /proc/self/cgroup
[ -e /sys/fs/cgroup/'$P' ] && echo HOST-TREE-VISIBLE
echo end'
b=$(bundle cgmnt args="$(oci_sh "$inside")" resources='"memory": {"limit": 67108864}' mounts="$OCI_MOUNT_CGROUP")
expect_status cgroup-mount-run 0 "$CRAB" run -b "$b" cgmnt
expect_eq cgroup-mount-memory.max 67108864 "$(printf '%s\n' "$RUN_OUT" | head -n 1)"
expect_contains cgroup-mount-cgroup2 "type=cgroup2" "$RUN_OUT"
expect_contains cgroup-mount-root "root=/
" "$RUN_OUT
"
expect_contains cgroup-ns-root "0::/
" "$RUN_OUT
"
expect_not_contains cgroup-mount-host-tree-hidden HOST-TREE-VISIBLE "$RUN_OUT"
# Without a cgroup namespace (runc's default spec has none) the mount is a bind of the container's
# own cgroup: the same files, its mountinfo root the container's path, nothing above it, read-only.
inside='cat /sys/fs/cgroup/memory.max
awk '\''$5 == "/sys/fs/cgroup" { print "root=" $4; print "opts=" $6 }'\'' /proc/self/mountinfo
[ -e /sys/fs/cgroup/'$P' ] && echo HOST-TREE-VISIBLE
echo end'
b=$(bundle cgbind args="$(oci_sh "$inside")" resources='"memory": {"limit": 67108864}' mounts="$OCI_MOUNT_CGROUP" \
	namespaces='{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}')
expect_status cgroup-bind-run 0 "$CRAB" run -b "$b" cgbind
expect_eq cgroup-bind-memory.max 67108864 "$(printf '%s\n' "$RUN_OUT" | head -n 1)"
expect_contains cgroup-bind-root "root=/$P/cgbind
" "$RUN_OUT
"
expect_not_contains cgroup-bind-host-tree-hidden HOST-TREE-VISIBLE "$RUN_OUT"
expect_contains cgroup-bind-read-only "opts=ro," "$RUN_OUT"

# ---- nothing left behind -----------------------------------------------------------------------------
section "nothing left behind"
expect_no_container_cgroups no-cgroup-left "$P"
expect_eq no-state-left "" "$(ls -A "$OCI_ROOT" 2> /dev/null)"
expect_eq no-process-left 0 "$(procs_matching 'sleep 10[0-2][0-9]')"
rmdir "$CG/$P" 2> /dev/null
