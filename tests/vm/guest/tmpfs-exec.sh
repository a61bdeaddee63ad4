# exec, ps and kill into running containers on a pure cgroup v2 host (CONTRACT.md, "Running
# containers"; ROOTLESS-AND-EXEC.md part 2): here the exec'd process is born in the container's
# cgroup by clone3(CLONE_INTO_CGROUP), which the hybrid development host never exercises.
. /tests/lib.sh

# pid_of CMDLINE: the pid of the (first) process whose whole command line is CMDLINE.
pid_of() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(tr '\0' ' ' < "$p/cmdline" 2> /dev/null)" = "$1 " ] && echo "${p#/proc/}" && return
	done
}

# ---- docker-like: exec, ps, kill -----------------------------------------------------------------
ex=$(cg_dir ex)
container_bg --memory 64M --pids 8 --name ex "$IMG" sleep 300
if container_started exec-container-started "$ex"; then
	init=$(container_init_of "$BG_PID")
	cmd=$(cat "/proc/$init/task/$init/children" 2> /dev/null | awk '{ print $1 }')

	# The exec'd process is in the container's cgroup from birth (moby #10046), and sees that
	# cgroup as its root (the container's cgroup namespace).
	expect_status exec-cgroupns 0 "$CRAB" exec ex cat /proc/self/cgroup
	expect_eq exec-cgroupns-root "0::/" "$RUN_OUT"
	expect_status exec-detached 0 "$CRAB" exec -d ex sleep 302
	slept=$(pid_of 'sleep 302')
	expect_match exec-born-in-cgroup "^${slept:-none}\$" "$(cat "$ex/cgroup.procs")"

	# The same privileges as the container's command (LXD #1370, firejail #2296).
	want=$(grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$cmd/status" | tr -s '\t ' ' ')
	expect_status exec-status 0 "$CRAB" exec ex grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
	expect_eq exec-same-privileges "$want" "$(printf '%s\n' "$RUN_OUT" | tr -s '\t ' ' ')"

	# In the container's namespaces: its pid namespace (a small pid; youki #185), its net.
	expect_status exec-pid-ns 0 "$CRAB" exec ex sh -c 'echo $$'
	expect_range exec-small-pid 2 20 "$RUN_OUT"
	expect_status exec-net-ns 0 "$CRAB" exec ex readlink /proc/self/ns/net
	expect_eq exec-same-net-ns "$(readlink "/proc/$cmd/ns/net")" "$RUN_OUT"

	# ps lists it with its init's pid and its limits.
	expect_status ps-lists 0 "$CRAB" ps
	expect_match ps-line "^ex	$init	[0-9]+s	$IMG	sleep 300	memory=64MiB pids=8\$" "$RUN_OUT"

	# A full --pids: one clear line, 125 (the fork fails with EAGAIN in clone3).
	# (A detached exec needs one slot more for a moment: its short-lived starter.)
	n=0
	while [ $n -lt 10 ] && run "$CRAB" exec -d ex sleep 303; do n=$((n + 1)); done
	expect_range exec-pids-some-fit 3 5 "$n"
	expect_eq exec-pids-full 125 "$RUN_STATUS"
	expect_contains exec-pids-message "--pids limit (8) is reached" "$RUN_ERR"

	# kill: TERM by default, passed on to the command as a signal to `run` is (143).
	expect_range exec-processes-were-there 1 10 "$(($(procs_running 'sleep 302') + $(procs_running 'sleep 303')))"
	expect_status kill-by-name 0 "$CRAB" kill ex
	bg_wait "$BG_PID"
	expect_eq kill-run-143 143 "$BG_STATUS"
	wait_for 5 procs_running_are 0 'sleep 303'
	expect_eq exec-processes-gone 0 "$(($(procs_running 'sleep 302') + $(procs_running 'sleep 303')))"
	expect_no_container_cgroups cgroup-removed-after-kill
fi
expect_status exec-unknown 125 "$CRAB" exec nosuch true
expect_contains exec-unknown-message "no container named nosuch" "$RUN_ERR"

# ---- OCI: exec into a created-then-started container -----------------------------------------------
P=oci-exec
b=$(oci_bundle oe cgroups="/$P/oe" args='["sleep", "1001"]' resources='"pids": {"limit": 16}')
if oci_create oci-exec-create oe "$b"; then
	expect_status oci-exec-start 0 "$CRAB" start oe
	expect_status oci-exec-detach 0 "$CRAB" exec --detach --pid-file "$b/e1.pid" oe sleep 1002
	e1=$(cat "$b/e1.pid" 2> /dev/null)
	expect_match oci-exec-pid-in-cgroup "^${e1:-none}\$" "$(cat "$CG/$P/oe/cgroup.procs")"
	expect_status oci-exec-foreground 7 "$CRAB" exec oe sh -c 'exit 7'
	expect_status oci-exec-missing 255 "$CRAB" exec --pid-file "$b/e2.pid" -d oe nosuch
	expect_contains oci-exec-missing-words 'executable file not found in $PATH' "$RUN_ERR"
	expect_absent oci-exec-no-pid-file "$b/e2.pid"
	expect_status oci-pause 0 "$CRAB" pause oe
	# runc's form (a global option first: what engines send) exits 255; the docker-like
	# form of the same command finds the container by name and exits 125.
	expect_status oci-exec-paused 255 "$CRAB" --root "$OCI_ROOT" exec oe true
	expect_contains oci-exec-paused-words "cannot exec in a paused container" "$RUN_ERR"
	expect_status oci-exec-paused-docker-form 125 "$CRAB" exec oe true
	expect_status oci-resume 0 "$CRAB" resume oe
	expect_status oci-kill 0 "$CRAB" kill oe KILL
	wait_for 5 is_gone "$(cat "$b/init.pid")"
	expect_status oci-delete 0 "$CRAB" delete oe
	expect_eq oci-exec-gone 0 "$(procs_running 'sleep 1002')"
	expect_absent oci-exec-cgroup-gone "$CG/$P/oe"
fi
rmdir "$CG/$P" 2> /dev/null
