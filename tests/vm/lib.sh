# lib.sh: assertion helpers for the guest scripts of crab-can's test VM (POSIX sh + `local`, as in
# busybox ash). A guest script starts with `. /tests/lib.sh`.
#
# Every assertion prints exactly one line on stdout,
#     VMTEST PASS <script>/<name>       or       VMTEST FAIL <script>/<name>: <reason>
# (or, for a check this guest cannot make, `skip`'s VMTEST SKIP <script>/<name>: <reason>)
# (a failure is preceded by up to 20 "VMTEST-LOG <script>/<name>| ..." lines of the output that
# explains it), records it in $VMTEST_RESULTS for /init, and returns 0 on a pass, 1 on a failure.
# A helper called the wrong way (missing arguments, an empty needle) reports a failure: it never
# passes by accident. A NAME keeps A-Z a-z 0-9 and ._+=,/- ; any other character becomes "-".

CRAB=${CRAB:-/bin/crab-can}       # the runtime under test
IMG=${IMG:-/images/busybox}       # the demo image: busybox, /etc/passwd with root and user 1000
CG=${CG:-/sys/fs/cgroup}          # the cgroup v2 root
VMTEST_CMD_TIMEOUT=${VMTEST_CMD_TIMEOUT:-15}   # the time bound of one command run by `run`
VMTEST_SCRIPT=${VMTEST_SCRIPT:-$(basename "$0" .sh)}
VMTEST_RESULTS=${VMTEST_RESULTS:-/dev/null}
VMTEST_TMP=$(mktemp -d /tmp/vmtest.XXXXXX)
_vt_bg=0

_vt_name() {
	printf '%s/%s' "$VMTEST_SCRIPT" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9._+=,/-' '-')"
}

# pass NAME
pass() {
	if [ $# -ne 1 ] || [ -z "$1" ]; then
		fail "${1:-unnamed}" "pass takes exactly one NAME (got $# arguments)"
		return 1
	fi
	local n
	n=$(_vt_name "$1")
	echo "VMTEST PASS $n"
	echo "PASS $n" >> "$VMTEST_RESULTS"
}

# fail NAME REASON [OUTPUT]: REASON becomes one line; OUTPUT (several lines) is shown before it.
fail() {
	local n r
	n=$(_vt_name "${1:-unnamed}")
	r=$(printf '%s' "${2:-no reason given}" | tr '\n\t' '  ' | cut -c1-400)
	if [ -n "${3:-}" ]; then
		printf '%s\n' "$3" | head -n 20 | awk -v p="VMTEST-LOG $n| " '{ print p $0 }'
	fi
	echo "VMTEST FAIL $n: $r"
	echo "FAIL $n: $r" >> "$VMTEST_RESULTS"
	return 1
}

# skip NAME REASON: what NAME checks cannot be checked here (this kernel lacks it, say): one
# visible "VMTEST SKIP <script>/<name>: <reason>" line, neither a pass nor a failure.
skip() {
	local n
	n=$(_vt_name "${1:-unnamed}")
	echo "VMTEST SKIP $n: ${2:-no reason given}"
	echo "SKIP $n: ${2:-no reason given}" >> "$VMTEST_RESULTS"
}

# run CMD...: run it, stdin from /dev/null, at most $VMTEST_CMD_TIMEOUT seconds (a program is
# killed then, and RUN_STATUS is 124); set RUN_STATUS, RUN_OUT (stdout) and RUN_ERR (stderr);
# return RUN_STATUS.
run() {
	RUN_OUT='' RUN_ERR='' RUN_STATUS=127
	[ $# -gt 0 ] || { RUN_ERR="run: no command given"; return 127; }
	local t0 t1 bound=
	case $(type "$1" 2> /dev/null) in
	*function*) ;; # timeout cannot run a shell function
	*) bound="timeout -s KILL $VMTEST_CMD_TIMEOUT" ;;
	esac
	read -r t0 _ < /proc/uptime
	$bound "$@" > "$VMTEST_TMP/out" 2> "$VMTEST_TMP/err" < /dev/null
	RUN_STATUS=$?
	read -r t1 _ < /proc/uptime
	RUN_OUT=$(cat "$VMTEST_TMP/out")
	RUN_ERR=$(cat "$VMTEST_TMP/err")
	if [ -n "$bound" ] && [ "$RUN_STATUS" -eq 137 ] &&
		awk -v a="$t0" -v b="$t1" -v t="$VMTEST_CMD_TIMEOUT" 'BEGIN { exit !(b - a + 0.5 >= t) }'; then
		RUN_STATUS=124
		RUN_ERR="$RUN_ERR
vmtest: killed at the ${VMTEST_CMD_TIMEOUT}s time bound of one command"
	fi
	return "$RUN_STATUS"
}

# The output of the last `run`, for a failure report.
_vt_output() {
	printf 'exit status %s\n--- stdout:\n%s\n--- stderr:\n%s\n' "$RUN_STATUS" "$RUN_OUT" "$RUN_ERR"
}

# check NAME CMD...: pass if CMD exits 0.
check() {
	if [ $# -lt 2 ]; then
		fail "${1:-unnamed}" "check takes NAME and a command"
		return 1
	fi
	local name="$1"
	shift
	if run "$@"; then
		pass "$name"
	else
		fail "$name" "exit status $RUN_STATUS from: $*" "$(_vt_output)"
	fi
}

# expect_status NAME STATUS CMD...: pass if CMD exits with STATUS. RUN_OUT and RUN_ERR stay set
# for further checks of the same run.
expect_status() {
	if [ $# -lt 3 ] || ! _vt_is_uint "$2"; then
		fail "${1:-unnamed}" "expect_status takes NAME, a numeric STATUS and a command"
		return 1
	fi
	local name="$1" want="$2"
	shift 2
	run "$@"
	if [ "$RUN_STATUS" -eq "$want" ]; then
		pass "$name"
	else
		fail "$name" "expected exit status $want, got $RUN_STATUS from: $*" "$(_vt_output)"
	fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ $# -ne 3 ]; then
		fail "${1:-unnamed}" "expect_eq takes NAME EXPECTED ACTUAL (got $# arguments)"
		return 1
	fi
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected '$2', got '$3'" "$3"
	fi
}

# expect_contains NAME NEEDLE HAYSTACK / expect_not_contains NAME NEEDLE HAYSTACK (fixed strings)
expect_contains() {
	if [ $# -ne 3 ] || [ -z "$2" ]; then
		fail "${1:-unnamed}" "expect_contains takes NAME, a non-empty NEEDLE and HAYSTACK"
		return 1
	fi
	case $3 in
	*"$2"*) pass "$1" ;;
	*) fail "$1" "'$2' not found" "$3" ;;
	esac
}
expect_not_contains() {
	if [ $# -ne 3 ] || [ -z "$2" ]; then
		fail "${1:-unnamed}" "expect_not_contains takes NAME, a non-empty NEEDLE and HAYSTACK"
		return 1
	fi
	case $3 in
	*"$2"*) fail "$1" "'$2' found" "$3" ;;
	*) pass "$1" ;;
	esac
}

# expect_match NAME ERE TEXT: pass if a line of TEXT matches the extended regular expression.
expect_match() {
	if [ $# -ne 3 ] || [ -z "$2" ]; then
		fail "${1:-unnamed}" "expect_match takes NAME, a non-empty ERE and TEXT"
		return 1
	fi
	printf '%s\n' "$3" | grep -Eq -e "$2"
	case $? in
	0) pass "$1" ;;
	1) fail "$1" "no line matches /$2/" "$3" ;;
	*) fail "$1" "bad regular expression /$2/" ;;
	esac
}

# expect_range NAME LOW HIGH VALUE: pass if LOW <= VALUE <= HIGH (decimal numbers).
expect_range() {
	if [ $# -ne 4 ] || ! _vt_is_num "$2" || ! _vt_is_num "$3"; then
		fail "${1:-unnamed}" "expect_range takes NAME, numeric LOW and HIGH, and VALUE"
		return 1
	fi
	if _vt_is_num "$4" && awk -v l="$2" -v h="$3" -v v="$4" 'BEGIN { exit !(v >= l && v <= h) }'; then
		pass "$1"
	else
		fail "$1" "'$4' is not within [$2, $3]"
	fi
}

# expect_file NAME PATH EXPECTED: the file holds EXPECTED (trailing newline ignored).
expect_file() {
	if [ $# -ne 3 ]; then
		fail "${1:-unnamed}" "expect_file takes NAME PATH EXPECTED"
		return 1
	fi
	if [ ! -r "$2" ]; then
		fail "$1" "cannot read $2"
		return 1
	fi
	expect_eq "$1" "$3" "$(cat "$2")"
}

# expect_absent NAME PATH
# expect_no_state NAME ID: nothing of OCI container ID under $OCI_ROOT (its claim file ID, its
# files ID:NAME, their .ID:NAME.crab-can while written).
expect_no_state() {
	_left=$(ls -A "$OCI_ROOT" 2> /dev/null | while IFS= read -r _n; do
		case $_n in "$2" | "$2":* | ."$2":*) printf '%s ' "$_n" ;; esac
	done)
	expect_eq "$1" "" "$_left"
}

expect_absent() {
	if [ $# -ne 2 ] || [ -z "$2" ]; then
		fail "${1:-unnamed}" "expect_absent takes NAME PATH"
		return 1
	fi
	if [ -e "$2" ] || [ -L "$2" ]; then
		fail "$1" "$2 exists" "$(ls -lad "$2" 2>&1)"
	else
		pass "$1"
	fi
}

_vt_is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
_vt_is_num() { printf '%s' "$1" | grep -Eq '^-?[0-9]+(\.[0-9]+)?$'; }

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds; return 1 after SECONDS.
wait_for() {
	_vt_is_uint "$1" || { echo "wait_for: SECONDS must be a whole number" >&2; return 2; }
	local now end
	read -r now _ < /proc/uptime
	end=$((${now%.*} + $1))
	shift
	until "$@" > /dev/null 2>&1; do
		read -r now _ < /proc/uptime
		[ "${now%.*}" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# expect_limits_written DIR: the cgroup of `--memory 64M --cpus 0.5 --pids 30` holds exactly
# those values (contract: "--memory", "--cpus N: quota = N x period, period 100 ms", "--pids N",
# "No swap beyond the limit").
expect_limits_written() {
	expect_file lim-memory.max "$1/memory.max" 67108864
	expect_file lim-memory.swap.max "$1/memory.swap.max" 0
	expect_file lim-cpu.max "$1/cpu.max" "50000 100000"
	expect_file lim-pids.max "$1/pids.max" 30
}

# ---- crab-can probes -----------------------------------------------------------------------------

# cg_dir NAME [PARENT]: the container's cgroup directory.
cg_dir() { echo "$CG/${2:-crab-can}/$1"; }

# is_gone PID: the process has exited (it may still be a zombie waiting for `wait`).
is_gone() {
	[ ! -e "/proc/$1" ] || [ "$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2> /dev/null)" = Z ]
}

# procs_running CMDLINE: how many processes have exactly this command line (arguments joined by
# spaces), such as "sleep 61".
procs_running() {
	local p n=0
	for p in /proc/[0-9]*; do
		[ "$(tr '\0' ' ' < "$p/cmdline" 2> /dev/null)" = "$1 " ] && n=$((n + 1))
	done
	echo "$n"
}

# procs_running_are N CMDLINE: exactly N processes have this command line (for wait_for).
procs_running_are() { [ "$(procs_running "$2")" -eq "$1" ]; }

# has_procs CGROUP_DIR: the cgroup holds a process (cgroup files always have size 0: no test -s).
has_procs() { [ -n "$(cat "$1/cgroup.procs" 2> /dev/null)" ]; }

# container_bg ARGS...: start `crab-can run ARGS...` in the background, stdin from /dev/null.
# Sets BG_PID (crab-can's pid), BG_OUT and BG_ERR (files with its stdout and stderr).
container_bg() {
	_vt_bg=$((_vt_bg + 1))
	BG_OUT=$VMTEST_TMP/bg$_vt_bg.out
	BG_ERR=$VMTEST_TMP/bg$_vt_bg.err
	"$CRAB" run "$@" > "$BG_OUT" 2> "$BG_ERR" < /dev/null &
	BG_PID=$!
}

# container_started NAME CGROUP_DIR: wait up to 15 s until the container's cgroup holds a process;
# report a failure named NAME when it does not (with crab-can's output).
container_started() {
	if wait_for 15 has_procs "$2"; then
		return 0
	fi
	fail "$1" "the container never appeared in $2/cgroup.procs" \
		"$(cat "$BG_OUT" "$BG_ERR" 2> /dev/null; ls "$CG" "$(dirname "$2")" 2>&1)"
}

# bg_wait PID [SECONDS]: wait at most SECONDS (default 15) for background PID to end; set
# BG_STATUS to its exit status. A process still alive then is killed, BG_STATUS=255, return 1.
bg_wait() {
	if ! wait_for "${2:-15}" is_gone "$1"; then
		kill -9 "$1" 2> /dev/null
		wait "$1" 2> /dev/null
		BG_STATUS=255
		return 1
	fi
	wait "$1"
	BG_STATUS=$?
}

# container_init_of PID: the host pid of the container init (pid 1 in its own PID namespace)
# that descends from crab-can's PID; empty when there is none.
container_init_of() {
	local p nspid ancestor depth
	for p in /proc/[0-9]*; do
		nspid=$(awk '/^NSpid:/ { if (NF > 2 && $NF == 1) print $2 }' "$p/status" 2> /dev/null)
		[ -n "$nspid" ] || continue
		ancestor=$nspid depth=0
		while [ "$depth" -lt 4 ]; do
			ancestor=$(awk '/^PPid:/ { print $2 }' "/proc/$ancestor/status" 2> /dev/null)
			[ -n "$ancestor" ] || break
			[ "$ancestor" = "$1" ] && { echo "$nspid"; return 0; }
			depth=$((depth + 1))
		done
	done
}

# expect_no_container_cgroups NAME [PARENT]: no container cgroup is left under PARENT (default
# crab-can); the parent directory itself may stay.
expect_no_container_cgroups() {
	local left
	left=$(find "$CG/${2:-crab-can}" -mindepth 1 -type d 2> /dev/null)
	if [ -z "$left" ]; then
		pass "$1"
	else
		fail "$1" "cgroups left behind: $(echo "$left" | tr "\n" " ")" "$left"
	fi
}

# check_oom PREFIX [ARGS...]: an allocation past --memory 32M ends in the OOM killer: crab-can exits
# 137 and says so in a "crab-can: " line naming memory and the limit. The hog is busybox awk
# doubling a string up to 128 MiB (anonymous memory that cannot be reclaimed: there is no swap);
# without a working limit it ends normally, with status 0.
check_oom() {
	local prefix="$1"
	shift
	# Contract: "When the kernel's OOM killer ends the container, crab-can ... exits 137."
	expect_status "$prefix-exit-137" 137 "$CRAB" run --memory 32M "$@" "$IMG" \
		awk 'BEGIN { s = "0123456789abcdef"; while (length(s) < 134217728) s = s s }'
	# Contract: "... says so on stderr in a `crab-can: ` line that contains the word `memory` and
	# the limit's value".
	expect_match "$prefix-reported" '^crab-can: .*(memory.*32 MiB|32 MiB.*memory)' "$RUN_ERR"
}

# ---- OCI bundles (crab-can's runc command line) -------------------------------------------------
# The guest has no python or jq: config.json is written by a shell function and state is read with
# sed. OCI_ROOT is crab-can's --root default.

OCI_ROOT=${OCI_ROOT:-/run/crab-can-oci}

# oci_json_str TEXT: TEXT as a JSON string (backslashes, double quotes, tabs and newlines escaped).
oci_json_str() {
	printf '%s\n' "$1" | awk '{
		gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t")
		s = s (NR > 1 ? "\\n" : "") $0
	} END { printf "\"%s\"", s }'
}

# oci_sh SCRIPT: the JSON array ["sh", "-c", SCRIPT], for oci_config args=.
oci_sh() { printf '["sh", "-c", %s]' "$(oci_json_str "$1")"; }

# oci_config [KEY=VALUE...]: print a config.json. Keys (each VALUE is JSON text, "" leaves it out):
#   args=      process.args (default ["sh"])
#   root=      root.path as a plain path (default $IMG; read-only)
#   resources= members of linux.resources other than devices, e.g. "memory": {"limit": 1}
#   devices=   the elements of linux.resources.devices (default none: crab-can's defaults only)
#   mounts=    extra elements of mounts, after proc, /dev, devpts, /dev/shm, mqueue, sysfs, /tmp
#   namespaces= the elements of linux.namespaces (default pid network ipc uts mount cgroup)
#   cgroups=   linux.cgroupsPath as a plain path (default none)
# The process runs as root with Docker's capabilities (CAP_MKNOD among them), noNewPrivileges.
oci_config() {
	local args='["sh"]' root=$IMG resources='' devices='' mounts='' cgroups='' kv
	local namespaces='{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}'
	for kv; do
		case $kv in
		args=*) args=${kv#*=} ;;
		root=*) root=${kv#*=} ;;
		resources=*) resources=${kv#*=} ;;
		devices=*) devices=${kv#*=} ;;
		mounts=*) mounts=${kv#*=} ;;
		namespaces=*) namespaces=${kv#*=} ;;
		cgroups=*) cgroups=${kv#*=} ;;
		*) echo "oci_config: unknown key in '$kv'" >&2; return 2 ;;
		esac
	done
	local caps='"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"'
	cat << EOF_CONFIG
{
	"ociVersion": "1.2.0",
	"process": {
		"terminal": false,
		"user": {"uid": 0, "gid": 0},
		"args": $args,
		"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		"cwd": "/",
		"capabilities": {"bounding": [$caps], "effective": [$caps], "permitted": [$caps]},
		"noNewPrivileges": true
	},
	"root": {"path": $(oci_json_str "$root"), "readonly": true},
	"hostname": "oci-vm",
	"mounts": [
		{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
		{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
		{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
		{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
		{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
		{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}${mounts:+,
		$mounts}
	],
	"linux": {${cgroups:+
		\"cgroupsPath\": $(oci_json_str "$cgroups"),}
		"resources": {${resources:+$resources, }"devices": [$devices]},
		"namespaces": [$namespaces],
		"maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
		"readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
	}
}
EOF_CONFIG
}

# oci_bundle ID [KEY=VALUE...]: write the bundle $VMTEST_TMP/bundles/ID (config.json from
# oci_config KEY=VALUE...) and print its path.
oci_bundle() {
	local b=$VMTEST_TMP/bundles/$1
	shift
	mkdir -p "$b" && oci_config "$@" > "$b/config.json" && echo "$b"
}

# oci_create NAME ID BUNDLE: `crab-can create --bundle BUNDLE --pid-file BUNDLE/init.pid ID`, its
# output in BUNDLE/create.out and .err (the container's init inherits them: never the files of
# `run`); pass NAME if it exits 0. RUN_OUT, RUN_ERR are the files' text.
oci_create() {
	if [ $# -ne 3 ]; then
		fail "${1:-unnamed}" "oci_create takes NAME ID BUNDLE"
		return 1
	fi
	run sh -c 'exec "$0" create --bundle "$1" --pid-file "$1/init.pid" "$2" > "$1/create.out" 2> "$1/create.err"' \
		"$CRAB" "$3" "$2"
	RUN_OUT=$(cat "$3/create.out" 2> /dev/null)
	RUN_ERR=$(cat "$3/create.err" 2> /dev/null)
	if [ "$RUN_STATUS" -eq 0 ]; then
		pass "$1"
	else
		fail "$1" "exit status $RUN_STATUS from: crab-can create $2" "$(_vt_output)"
	fi
}

# oci_status ID: the "status" of `crab-can state ID` (empty when state fails).
oci_status() {
	"$CRAB" state "$1" 2> /dev/null < /dev/null | tr -d '\n' | sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p'
}

# oci_status_is ID STATUS: for wait_for.
oci_status_is() { [ "$(oci_status "$1")" = "$2" ]; }

# expect_oci_status NAME ID STATUS: the state of ID says STATUS, within 10 s.
expect_oci_status() {
	wait_for 10 oci_status_is "$2" "$3"
	expect_eq "$1" "$3" "$(oci_status "$2")"
}

# procs_matching ERE: how many processes have a command line (arguments joined by spaces) that the
# whole of ERE matches. One `ps` instead of a `tr` per process: procs_running costs seconds under
# TCG on a busy host.
procs_matching() { ps -o args 2> /dev/null | grep -cxE -e "$1"; }

# procs_matching_are N ERE: exactly N processes match (for wait_for).
procs_matching_are() { [ "$(procs_matching "$2")" -eq "$1" ]; }
