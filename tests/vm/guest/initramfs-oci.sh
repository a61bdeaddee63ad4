# crab-can's runc command line on OCI bundles straight from an initramfs, where pivot_root fails
# with EINVAL and crab-can moves the root over the namespace's root mount and chroots instead
# (README, "How it works"): the basic lifecycle works, and the container sees its image as /, never
# the initramfs (/init wrote /INITRAMFS_MARKER there).
. /tests/lib.sh

P=oci-test

# The harness: this really is the kernel's rootfs.
expect_eq root-is-rootfs rootfs "$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)"

# ---- run -b in the foreground: the command's exit status -------------------------------------------
b=$(oci_bundle exit3 args="$(oci_sh 'echo out; exit 3')")
expect_status run-exit-3 3 "$CRAB" run -b "$b" exit3
expect_eq run-stdout out "$RUN_OUT"
expect_no_state run-removes-state exit3

# ---- the image is / --------------------------------------------------------------------------------
# The image's /etc/passwd has user 1000; the initramfs's has root only. Neither by path nor through
# /proc nor by climbing .. is the initramfs reachable.
probe='[ -e /INITRAMFS_MARKER ] && echo ESCAPED-by-path
for p in /proc/1/root /proc/1/root/.. /proc/self/root/../.. /proc/1/cwd/..; do
	[ -e "$p/INITRAMFS_MARKER" ] && echo "ESCAPED via $p"
done
cd -P / && i=0 && while [ $i -lt 32 ]; do cd -P ..; i=$((i + 1)); done
[ -e INITRAMFS_MARKER ] && echo ESCAPED-by-climbing
grep -q "^user:x:1000:" /etc/passwd && echo IMAGE-PASSWD
[ -x /bin/busybox ] && echo IMAGE-BUSYBOX
echo end'
b=$(oci_bundle root args="$(oci_sh "$probe")")
expect_status image-root-run 0 "$CRAB" run -b "$b" root
expect_contains image-is-root IMAGE-PASSWD "$RUN_OUT"
expect_contains image-busybox IMAGE-BUSYBOX "$RUN_OUT"
expect_not_contains initramfs-unreachable ESCAPED "$RUN_OUT"

# ---- create → start → stopped → delete --------------------------------------------------------------
id=life
cg=$CG/$P/$id
b=$(oci_bundle $id args='["sleep", "1031"]' cgroups="/$P/$id" resources='"memory": {"limit": 67108864}')
if oci_create create $id "$b"; then
	expect_oci_status state-created $id created
	pid=$(cat "$b/init.pid" 2> /dev/null)
	expect_match pid-file-digits '^[0-9]+$' "$pid"
	expect_eq init-cgroup "0::/$P/$id" "$(cat "/proc/$pid/cgroup" 2> /dev/null)"
	expect_file memory.max "$cg/memory.max" 67108864
	# The init's root is the image (its /etc/passwd), not the initramfs.
	expect_match init-root-is-image '^user:x:1000:' "$(cat "/proc/$pid/root/etc/passwd" 2> /dev/null)"
	expect_absent init-root-no-marker "/proc/$pid/root/INITRAMFS_MARKER"
	expect_status start 0 "$CRAB" start $id
	expect_oci_status state-running $id running
	wait_for 10 procs_matching_are 1 'sleep 1031'
	expect_eq command-runs 1 "$(procs_matching 'sleep 1031')"
	expect_status kill-term 0 "$CRAB" kill $id TERM
	expect_oci_status state-stopped $id stopped
	expect_eq command-gone 0 "$(procs_matching 'sleep 1031')"
	expect_status delete 0 "$CRAB" delete $id
	expect_absent delete-removes-cgroup "$cg"
	expect_no_state delete-removes-state $id
fi

# A created container is removed by a plain delete.
id=created
b=$(oci_bundle $id args='["sleep", "1032"]')
if oci_create create-then-delete $id "$b"; then
	expect_oci_status created-state $id created
	expect_status delete-created 0 "$CRAB" delete $id
	expect_no_state delete-created-removes-state $id
	expect_status state-after-delete-1 1 "$CRAB" state $id
fi

expect_no_container_cgroups no-cgroup-left "$P"
expect_eq no-state-left "" "$(ls -A "$OCI_ROOT" 2> /dev/null)"
expect_eq no-process-left 0 "$(procs_matching 'sleep 103[12]')"
rmdir "$CG/$P" 2> /dev/null
