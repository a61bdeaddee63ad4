# crab-can booted straight from an initramfs: no switch_root, / is the kernel's rootfs and
# pivot_root is refused there (CONTRACT.md, "Where it runs": "straight from an initramfs (where
# pivot_root is refused: crab-can then roots the container another way that the chroot trick cannot
# escape either)"). /init wrote /INITRAMFS_MARKER into the rootfs: no container may reach it.
. /tests/lib.sh

mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $5, $(i + 1); break } }' /proc/self/mountinfo | sort
}
mounts_before=$(mounts)

# The harness: this really is the kernel's rootfs, where pivot_root fails with EINVAL.
expect_eq root-is-rootfs rootfs "$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)"
run unshare -m sh -c '
	mount --make-rprivate /
	mkdir -p /tmp/pr
	mount -t tmpfs tmpfs /tmp/pr
	mkdir /tmp/pr/old
	cd /tmp/pr
	pivot_root . old && echo PIVOTED'
expect_contains pivot-root-einval "Invalid argument" "$RUN_OUT$RUN_ERR"

# Contract: "Any Linux 5.10 or newer ... straight from an initramfs".
expect_status run-true 0 "$CRAB" run "$IMG" /bin/true
expect_status run-echo 0 "$CRAB" run "$IMG" echo hello from the initramfs
expect_eq run-echo-output "hello from the initramfs" "$RUN_OUT"

# Contract: "It runs as PID 1's child in a new PID namespace: ps inside shows only the container's
# processes; PID 1 is crab-can's tiny init."
sleep 4242 &
sleeper=$!
expect_status ps-runs 0 "$CRAB" run "$IMG" ps
expect_not_contains ps-hides-vm-processes "sleep 4242" "$RUN_OUT"
expect_eq ps-only-init-and-command "1 2" "$(printf '%s\n' "$RUN_OUT" | awk 'NR > 1 { printf "%s%s", s, $1; s = " " }')"
kill "$sleeper"

# Contract: "/ is IMAGE; the host's root is not reachable by any path".
marker_probe='if [ -e /INITRAMFS_MARKER ]; then echo ESCAPED; else echo CONTAINED; fi'
expect_status marker-path-runs 0 "$CRAB" run "$IMG" sh -c "$marker_probe"
expect_eq marker-unreachable-by-path CONTAINED "$RUN_OUT"

# ... nor through /proc: the init's root, and ".." above it, is IMAGE.
expect_status marker-proc-root-runs 0 "$CRAB" run "$IMG" sh -c '
	for p in /proc/1/root /proc/1/root/.. /proc/self/root/../.. /proc/1/cwd/..; do
		[ -e "$p/INITRAMFS_MARKER" ] && { echo "ESCAPED via $p"; exit 0; }
	done
	for p in /proc/1/root /proc/self/root; do
		cd -P "$p" 2> /dev/null || continue # access to the init may be refused: no way out either
		i=0; while [ $i -lt 32 ]; do cd -P ..; i=$((i + 1)); done
		[ -e INITRAMFS_MARKER ] && { echo "ESCAPED via cd .. from $p"; exit 0; }
	done
	echo CONTAINED'
expect_eq marker-unreachable-by-proc CONTAINED "$RUN_OUT"

# ... nor by the chroot trick. Root inside holds SYS_CHROOT, so a shell can chroot into a jail
# below the container's root, stand in a nested directory of it, and have its parent move that
# directory out of the jail: its working directory is then outside its root, and "cd .." climbs
# as far as the kernel lets it. Above the container's root must be nothing.
cat > "$IMG/tmp/jailed.sh" << 'EOF'
cd -P /a/b/c || { echo "STUCK: cannot enter /a/b/c"; exit 1; }
: > /ready
i=0; while [ ! -e /moved ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /moved ] || { echo "STUCK: the directory was never moved"; exit 1; }
i=0; while [ $i -lt 64 ]; do cd -P ..; i=$((i + 1)); done
if [ -e INITRAMFS_MARKER ]; then
	echo ESCAPED
	ls
elif [ -e bin/busybox ] && [ -e etc/passwd ] && [ ! -e jailed.sh ]; then
	echo CONTAINED
else
	echo "STUCK: the climb ended in a directory that is neither the jail nor the image root"
	ls
fi
EOF
cat > "$IMG/tmp/escape.sh" << 'EOF'
j=/tmp/jail
rm -rf "$j" /tmp/moved
mkdir -p "$j/bin" "$j/a/b/c" || exit 1
cp /bin/busybox "$j/bin/busybox" || exit 1
for a in sh sleep ls; do ln -s busybox "$j/bin/$a"; done
cp /tmp/jailed.sh "$j/jailed.sh"
chroot "$j" /bin/sh /jailed.sh &
pid=$!
i=0; while [ ! -e "$j/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mv "$j/a" /tmp/moved
: > "$j/moved"
wait $pid
EOF
expect_status chroot-trick-runs 0 "$CRAB" run "$IMG" sh /tmp/escape.sh
expect_eq marker-unreachable-by-chroot-trick CONTAINED "$(printf '%s\n' "$RUN_OUT" | head -n 1)"
rm -rf "$IMG/tmp/jail" "$IMG/tmp/moved" "$IMG/tmp/jailed.sh" "$IMG/tmp/escape.sh"

# ... nor by the classic chroot escape in C (chroot into a subdirectory with the working directory
# left outside, chdir("..") 64 times, chroot(".")), when the test helper build/probe was built.
if [ -x "$IMG/bin/probe" ]; then
	run "$CRAB" run "$IMG" /bin/probe chroot-escape /INITRAMFS_MARKER
	expect_eq marker-unreachable-by-probe-chroot-escape "chroot-escape: absent" "$(printf '%s\n' "$RUN_OUT" | head -n 1)"
else
	echo "vmtest: no build/probe: the chroot escape in C is not tried"
fi

# ... nor by mounting a fresh procfs: root inside may not mount ("the default system-call filter
# refuses ... mount and namespace calls").
expect_status proc-mount-runs 0 "$CRAB" run "$IMG" sh -c '
	mkdir -p /tmp/newproc
	if mount -t proc proc /tmp/newproc 2> /dev/null; then echo MOUNTED; umount /tmp/newproc; else echo REFUSED; fi
	rmdir /tmp/newproc'
expect_eq proc-mount-refused REFUSED "$RUN_OUT"

# Contract: "no mount of the container shows up on the host": neither while it runs nor after.
container_bg --name mnt "$IMG" sleep 65
if wait_for 20 procs_running_are 1 'sleep 65'; then
	expect_eq no-container-mounts-while-running "$mounts_before" "$(mounts)"
else
	fail no-container-mounts-while-running "the container never started" "$(cat "$BG_OUT" "$BG_ERR")"
fi
kill -TERM "$BG_PID"
bg_wait "$BG_PID"
expect_eq no-container-mounts-after "$mounts_before" "$(mounts)"

# ---- limits with cgroup2 mounted ---------------------------------------------------------------
# Contract: "When the kernel's OOM killer ends the container, crab-can says so ... and exits 137."
check_oom oom --name oom
# Contract: "--memory", "--cpus N: quota = N x period, period 100 ms", "--pids N".
lim=$(cg_dir lim)
container_bg --memory 64M --cpus 0.5 --pids 30 --name lim "$IMG" sleep 300
if container_started lim-started "$lim"; then
	expect_limits_written "$lim"
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID"
	expect_eq lim-sigterm-exit-143 143 "$BG_STATUS"
fi
# Contract: "When the command exits, ... the container's cgroup is removed."
expect_no_container_cgroups no-cgroup-left

# ---- no cgroup file system ---------------------------------------------------------------------
# Contract: "Without limit options, crab-can still runs where it cannot create a cgroup (... an
# initramfs without cgroupfs)"; "A limit that cannot be applied is an error (exit 125), never
# silently ignored."
if umount /sys/fs/cgroup; then
	expect_status no-cgroupfs-run-without-limits 0 "$CRAB" run "$IMG" /bin/true
	expect_status no-cgroupfs-memory-limit-125 125 "$CRAB" run --memory 32M "$IMG" /bin/true
	expect_match no-cgroupfs-memory-limit-message '^crab-can: .*cgroup' "$RUN_ERR"
	check cgroupfs-remounted mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
else
	fail no-cgroupfs "cannot unmount /sys/fs/cgroup" "$(cat /proc/self/mountinfo)"
fi

# ---- no /proc and no devtmpfs on the host ------------------------------------------------------
# Issue "Embedding", 2: "Works without cgroupfs, devtmpfs or a mounted /proc on the host". In a
# mount namespace of its own (so the guest keeps its mounts), /proc and /dev are unmounted
# before crab-can runs: it makes the container's /proc and /dev itself.
expect_status no-proc-no-devtmpfs-run 0 unshare -m /bin/sh -c \
	"umount -l /proc && umount -l /dev && [ ! -e /proc/self ] && [ ! -e /dev/null ] &&
	 $CRAB run --hostname bare $IMG /bin/sh -c 'hostname; ls /dev/null /proc/self/status'"
expect_contains no-proc-no-devtmpfs-output "bare" "$RUN_OUT"
expect_contains no-proc-no-devtmpfs-proc "/proc/self/status" "$RUN_OUT"
