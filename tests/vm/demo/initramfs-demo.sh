#!/bin/sh
# `make vm-demo`: crab-can at boot, straight from an initramfs (no switch_root, so
# pivot_root is refused and crab-can roots the container its other way), with the guest's
# cgroup2 mounted. The container prints what proves its isolation; the checks say PASS.
. /tests/lib.sh

show() { printf '%s\n' "$1" | awk '{ print "VMTEST-LOG demo| " $0 }'; }

out=$(crab-can run --name demo --hostname demo-box --memory 32M /images/busybox /bin/sh -c '
  echo "inside: pid $$, hostname $(hostname), user $(id -un)"
  echo "processes:"; ps -o pid,comm
  echo "mounts:"; cut -d" " -f2,3 /proc/mounts | head -12
  echo "cgroup (a namespace of its own):"; cat /proc/self/cgroup
  ls /INITRAMFS_MARKER 2>&1 || true
  ' 2>&1)
show "$out"
expect_contains pid-is-2 "pid 2," "$out"
expect_contains hostname "hostname demo-box" "$out"
expect_contains initramfs-unreachable "No such file" "$out"
# The limit is enforced: a 64 MiB allocation dies at 32 MiB.
expect_status oom-at-limit 137 crab-can run -m 32M /images/busybox sh -c 'head -c 64m /dev/zero | tail > /dev/null'
show "guest mount table after the runs (no container mount left):"
show "$(cut -d' ' -f2,3 /proc/self/mounts)"
