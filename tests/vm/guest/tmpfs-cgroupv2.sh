# Resource limits on a pure cgroup v2 host (CONTRACT.md, "Resource limits" and the option table).
# The container's cgroup is /sys/fs/cgroup/<cgroup-parent, default crab-can>/<name>.
. /tests/lib.sh

# ---- the OOM killer --------------------------------------------------------------------------------
# Contract: "-m, --memory SIZE ... No swap beyond the limit"; "When the kernel's OOM killer ends the
# container, crab-can says so on stderr in a `crab-can: ` line that contains the word `memory` and
# the limit's value, and exits 137."
check_oom oom --name oom
# Contract: "When the command exits, ... the container's cgroup is removed."
expect_no_container_cgroups cgroup-removed-after-oom

# ---- --pids ------------------------------------------------------------------------------------
# Contract: "--pids N: most tasks (processes and threads) alive at once inside". The shell starts
# 40 sleeps; the fork that would make task 21 fails, so fewer than 20 sleeps ever start.
run "$CRAB" run --pids 20 --name forks "$IMG" sh -c \
	'n=0; while [ $n -lt 40 ]; do sleep 61 & n=$((n + 1)); echo $n; done; echo ALL'
last=$(printf '%s\n' "$RUN_OUT" | grep -E '^[0-9]+$' | tail -n 1)
expect_range pids-limit-holds 5 19 "${last:-0}"
expect_not_contains pids-fork-loop-stopped ALL "$RUN_OUT"
# Contract: "When the command exits, every other process of the container is killed".
wait_for 5 procs_running_are 0 'sleep 61'
expect_eq pids-sleepers-killed 0 "$(procs_running 'sleep 61')"

# ---- the limits as written ---------------------------------------------------------------------
# Contract: "--memory", "--cpus N: quota = N x period, period 100 ms", "--pids N", "No swap beyond
# the limit"; "the container's cgroup is PARENT/NAME".
lim=$(cg_dir lim)
container_bg --memory 64M --cpus 0.5 --pids 30 --name lim "$IMG" sleep 300
if container_started lim-started "$lim"; then
	expect_limits_written "$lim"

	# Contract: "the container's cgroup is created with its limits written before the first
	# instruction of the container runs (the child is born inside it)": the container's PID 1 is
	# in the cgroup, crab-can (its parent) is not.
	init=$(container_init_of "$BG_PID")
	if [ -z "$init" ]; then
		fail init-in-cgroup "no process with pid 1 in its own PID namespace descends from crab-can ($BG_PID)" "$(ps)"
	else
		expect_match init-in-cgroup "^$init\$" "$(cat "$lim/cgroup.procs")"
		expect_eq init-cgroup-path "0::/crab-can/lim" "$(cat "/proc/$init/cgroup")"
		parent=$(awk '/^PPid:/ { print $2 }' "/proc/$init/status")
		expect_not_contains init-parent-outside-cgroup "/crab-can/lim" "$(cat "/proc/$parent/cgroup")"
	fi

	# Contract: "SIGINT, SIGTERM, ... sent to crab-can are passed on to the command"; "128 + N
	# [when] it was killed by signal N".
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID"
	expect_eq sigterm-exit-143 143 "$BG_STATUS"
	# Contract: "When the command exits, ... the container's cgroup is removed."
	expect_no_container_cgroups cgroup-removed-after-sigterm
fi

# Contract: "New ... cgroup namespaces": inside, the command and the init see their cgroup as the
# root of the hierarchy.
expect_status cgroupns 0 "$CRAB" run --memory 64M "$IMG" cat /proc/self/cgroup /proc/1/cgroup
expect_eq cgroupns-root "0::/ 0::/" "$(echo $RUN_OUT)"
expect_status cgroupns-nolimits 0 "$CRAB" run "$IMG" cat /proc/self/cgroup /proc/1/cgroup
expect_eq cgroupns-root-nolimits "0::/ 0::/" "$(echo $RUN_OUT)"
# Contract: "When the command exits, ... the container's cgroup is removed."
expect_no_container_cgroups cgroup-removed-after-exit

# ---- --cpus ------------------------------------------------------------------------------------
# Contract: "--cpus N: CPU limit as a decimal number of CPUs (0.5, 2): quota = N x period": a busy
# loop gets half a CPU (usage_usec over wall time, sampled while it runs).
cpu=$(cg_dir cpu)
container_bg --cpus 0.5 --name cpu "$IMG" sh -c 'while :; do :; done'
if container_started cpu-started "$cpu"; then
	sleep 1
	u0=$(awk '$1 == "usage_usec" { print $2 }' "$cpu/cpu.stat")
	read -r w0 _ < /proc/uptime
	sleep 4
	u1=$(awk '$1 == "usage_usec" { print $2 }' "$cpu/cpu.stat")
	read -r w1 _ < /proc/uptime
	share=$(awk -v u0="$u0" -v u1="$u1" -v w0="$w0" -v w1="$w1" \
		'BEGIN { if (w1 > w0 && u1 != "") printf "%.3f", (u1 - u0) / 1e6 / (w1 - w0) }')
	echo "vmtest: --cpus 0.5 measured $share of a CPU"
	expect_range cpus-half-a-cpu 0.35 0.65 "$share"
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID"
	expect_eq cpu-sigterm-exit-143 143 "$BG_STATUS"
fi

# ---- crab-can killed ---------------------------------------------------------------------------
# Contract: "If crab-can itself is killed, the container dies with it; what it could not clean up
# (its empty cgroup) is removed by the next run"; "the name of one whose crab-can was killed is free
# again at the next run".
k9=$(cg_dir k9)
container_bg --memory 64M --name k9 "$IMG" sleep 63
if container_started k9-started "$k9"; then
	kill -KILL "$BG_PID"
	bg_wait "$BG_PID"
	wait_for 10 procs_running_are 0 'sleep 63'
	expect_eq container-dies-with-crab-can 0 "$(procs_running 'sleep 63')"
	expect_status next-run-after-kill9 0 "$CRAB" run --memory 64M --name other "$IMG" true
	expect_absent leftover-cgroup-removed-by-next-run "$k9"
	expect_status same-name-after-kill9 0 "$CRAB" run --memory 64M --name k9 "$IMG" true
	expect_no_container_cgroups cgroup-removed-after-kill9
fi

# ---- one name, one container --------------------------------------------------------------------
# Contract: "Two running containers cannot share a name"; exit 125 when "crab-can itself failed".
dup=$(cg_dir dup)
container_bg --memory 64M --name dup "$IMG" sleep 64
if container_started dup-started "$dup"; then
	expect_status dup-name-125 125 "$CRAB" run --memory 64M --name dup "$IMG" true
	expect_match dup-name-already-running '^crab-can: .*already running' "$RUN_ERR"
	# The refused second run must not have touched the first one.
	expect_eq dup-first-still-running 1 "$(procs_running 'sleep 64')"
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID"
fi

# ---- --cgroup-parent ---------------------------------------------------------------------------
# Contract: "--cgroup-parent PATH: where the container's cgroup goes, relative to the cgroup root";
# a path that climbs out of it or is absolute is a bad option: 125 and a "crab-can: " line.
expect_status cgroup-parent-dotdot-125 125 "$CRAB" run --cgroup-parent ../x --memory 64M "$IMG" true
expect_match cgroup-parent-dotdot-message '^crab-can: ' "$RUN_ERR"
expect_absent cgroup-parent-dotdot-nothing-made /sys/fs/x
expect_status cgroup-parent-absolute-125 125 "$CRAB" run --cgroup-parent /abs --memory 64M "$IMG" true
expect_match cgroup-parent-absolute-message '^crab-can: ' "$RUN_ERR"
expect_absent cgroup-parent-absolute-nothing-made "$CG/abs"

expect_no_container_cgroups no-cgroup-left-at-end
