# The VM itself works, and crab-can starts in it.
. /tests/lib.sh

# The harness: a tmpfs root (not the kernel's rootfs) with a pure cgroup v2 hierarchy, as on a
# modern distribution.
expect_eq root-is-tmpfs tmpfs "$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)"
expect_eq cgroup2-mounted cgroup2 "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)"
expect_absent no-cgroup-v1 /sys/fs/cgroup/memory/tasks
for c in memory pids cpu; do
	expect_match "controller-$c-enabled" "(^| )$c( |\$)" "$(cat "$CG/cgroup.subtree_control")"
done

# The harness: pivot_root works on this root, as on a normal host (a throwaway mount namespace).
expect_eq pivot-root-works PIVOTED "$(unshare -m sh -c '
	set -e
	mount --make-rprivate /
	mkdir -p /tmp/pr
	mount -t tmpfs tmpfs /tmp/pr
	mkdir /tmp/pr/old
	cd /tmp/pr
	pivot_root . old && echo PIVOTED' 2>&1)"

# Contract: "crab-can --version | -V".
check version "$CRAB" --version
expect_match version-prints '[0-9]+\.[0-9]+' "$RUN_OUT$RUN_ERR"

# Contract: "crab-can run [OPTIONS] IMAGE [COMMAND [ARG...]]"; exit status: "the command's own".
expect_status run-true 0 "$CRAB" run "$IMG" /bin/true
expect_status run-exit-status 3 "$CRAB" run "$IMG" /bin/sh -c 'exit 3'
expect_status run-echo 0 "$CRAB" run "$IMG" echo hello from the container
expect_eq run-echo-output "hello from the container" "$RUN_OUT"
