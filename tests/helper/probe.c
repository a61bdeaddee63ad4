/*
 * probe: a tiny static test helper for crab-can's integration tests.
 *
 * TEST CODE ONLY - never part of the runtime.  The tests copy the static
 * binary into a busybox image and run it *inside* a container to try the
 * system calls that busybox has no applet for.
 *
 * Usage: probe SUBCOMMAND [ARGS]
 *
 * Output contract (stdout):
 *   line 1 is always exactly one of
 *       SUBCOMMAND: ok
 *       SUBCOMMAND: ERRNO_NAME (strerror text)      e.g. "mount: EPERM (Operation not permitted)"
 *   except chroot-escape, whose line 1 is "chroot-escape: found" or
 *   "chroot-escape: absent" (or an errno line if a step failed).
 *   A few subcommands print more lines after line 1 (read, caps, fds, ...);
 *   see the table below.  Which preparatory step failed (for multi-step
 *   subcommands) is reported on stderr, never on stdout.
 *
 * Exit status: 0 the attempt succeeded, 1 it failed (with an errno), 2 usage
 * error.  A process killed by seccomp simply dies (the caller reads the
 * signal from the wait status).
 *
 * Every attempt is kept harmless if it unexpectedly succeeds: mounts are
 * undone, namespaces die with the process, keys are unlinked, fds closed,
 * reboot uses CAD_OFF, kexec passes too many segments, settime re-sets the
 * current time, acct/swapon/init-module point at files the kernel refuses.
 *
 * Build: gcc -static -O2 -Wall -Wextra -o probe probe.c   (see build.sh)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/quota.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif
#ifndef SYS_finit_module
#define SYS_finit_module 313
#endif
#ifndef SYS_kexec_load
#define SYS_kexec_load 246
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif
#define KEXEC_SEGMENT_MAX 16
#define X32_SYSCALL_BIT 0x40000000UL
#define KEY_SPEC_SESSION_KEYRING (-3)
#define KEYCTL_UNLINK 9

static const char *cmd = "probe";

/* ---- output helpers ------------------------------------------------------ */

static const char *errno_name(int e)
{
	const char *n = strerrorname_np(e); /* glibc >= 2.32 */
	static char buf[32];
	if (n)
		return n;
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

/* Print the errno line for `e` and return exit status 1. */
static int fail_errno(int e)
{
	printf("%s: %s (%s)\n", cmd, errno_name(e), strerror(e));
	fflush(stdout);
	return 1;
}

/* A preparatory step failed: name it on stderr, errno line on stdout. */
static int fail_step(const char *step, int e)
{
	fprintf(stderr, "%s: %s failed: %s\n", cmd, step, strerror(e));
	return fail_errno(e);
}

static int ok(void)
{
	printf("%s: ok\n", cmd);
	fflush(stdout);
	return 0;
}

static int usage_of(const char *args)
{
	fprintf(stderr, "usage: probe %s %s\n", cmd, args);
	return 2;
}

/* Parse a whole number (decimal, 0x hex or 0 octal); -1 if it is not one. */
static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	*out = strtoul(s, &end, 0);
	if (errno || *end)
		return -1;
	return 0;
}

/* ---- mounts, roots, namespaces ------------------------------------------- */

static int do_mount(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	if (mount("tmpfs", "/mnt", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0)
		return fail_errno(errno);
	umount2("/mnt", MNT_DETACH); /* undo: stay harmless */
	return ok();
}

static int do_umount(int argc, char **argv)
{
	if (argc != 1)
		return usage_of("PATH");
	if (umount2(argv[0], MNT_DETACH) != 0)
		return fail_errno(errno);
	return ok();
}

/* pivot_root [NEW_ROOT PUT_OLD]; default "/" "/".  With the default the
 * kernel checks CAP_SYS_ADMIN first (EPERM) and, if we had it, refuses the
 * no-op pivot with EBUSY/EINVAL, so nothing ever changes. */
static int do_pivot_root(int argc, char **argv)
{
	const char *new_root = "/", *put_old = "/";
	if (argc == 2) {
		new_root = argv[0];
		put_old = argv[1];
	} else if (argc != 0) {
		return usage_of("[NEW_ROOT PUT_OLD]");
	}
	if (syscall(SYS_pivot_root, new_root, put_old) != 0)
		return fail_errno(errno);
	return ok();
}

static const struct {
	const char *name;
	int flag;
} ns_flags[] = {
	{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},	   {"pid", CLONE_NEWPID},
	{"net", CLONE_NEWNET},	 {"uts", CLONE_NEWUTS},	   {"ipc", CLONE_NEWIPC},
	{"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

static int do_unshare(int argc, char **argv)
{
	if (argc != 1)
		return usage_of("user|mnt|pid|net|uts|ipc|cgroup|time");
	for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
		if (strcmp(argv[0], ns_flags[i].name) == 0) {
			if (unshare(ns_flags[i].flag) != 0)
				return fail_errno(errno);
			return ok(); /* the namespace dies with this process */
		}
	}
	fprintf(stderr, "probe unshare: unknown namespace '%s'\n", argv[0]);
	return usage_of("user|mnt|pid|net|uts|ipc|cgroup|time");
}

/* setns PATH: PATH is a namespace file; a bare name X means /proc/1/ns/X. */
static int do_setns(int argc, char **argv)
{
	char path[PATH_MAX];
	if (argc != 1)
		return usage_of("PATH|NSNAME");
	if (strchr(argv[0], '/'))
		snprintf(path, sizeof path, "%s", argv[0]);
	else
		snprintf(path, sizeof path, "/proc/1/ns/%s", argv[0]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_step("open", errno);
	if (setns(fd, 0) != 0)
		return fail_errno(errno);
	close(fd);
	return ok();
}

/* Wait for a child that must exit at once; report ok or a step failure. */
static int reap_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, __WALL) < 0) {
		if (errno != EINTR)
			return fail_step("waitpid", errno);
	}
	return ok();
}

static int do_clone_ns(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	fflush(NULL);
	/* raw clone: flags, stack (0 = share a copy like fork), ptid, ctid, tls */
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
	if (pid < 0)
		return fail_errno(errno);
	if (pid == 0)
		syscall(SYS_exit_group, 0); /* child: leave at once, no stdio */
	return reap_child((pid_t)pid);
}

struct probe_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static int do_clone3(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	struct probe_clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	fflush(NULL);
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid < 0)
		return fail_errno(errno);
	if (pid == 0)
		syscall(SYS_exit_group, 0);
	return reap_child((pid_t)pid);
}

/* chroot-escape TARGET: the classic escape.  mkdir D; chroot(D) while the
 * cwd stays outside it; chdir("..") 64 times; chroot("."); stat(TARGET).
 * Prints "found" (exit 0: the escape reached TARGET) or "absent" (exit 1). */
static int do_chroot_escape(int argc, char **argv)
{
	static const char *const bases[] = {"/tmp", "/dev/shm", "/", "."};
	char name[64], path[PATH_MAX];
	int basefd = -1, e = 0;
	if (argc != 1)
		return usage_of("PATH_TO_LOOK_FOR");
	snprintf(name, sizeof name, ".probe-chroot-%ld", (long)getpid());
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		int fd = open(bases[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (mkdirat(fd, name, 0700) == 0 || errno == EEXIST) {
			basefd = fd;
			snprintf(path, sizeof path, "%s/%s", bases[i], name);
			break;
		}
		e = errno;
		close(fd);
	}
	if (basefd < 0)
		return fail_step("mkdir", e);
	int rc;
	if (chroot(path) != 0) {
		rc = fail_step("chroot(dir)", errno);
	} else {
		for (int i = 0; i < 64; i++)
			if (chdir("..") != 0)
				break;
		if (chroot(".") != 0) {
			rc = fail_step("chroot(.)", errno);
		} else {
			struct stat st;
			if (stat(argv[0], &st) == 0) {
				printf("%s: found\n", cmd);
				rc = 0;
			} else {
				printf("%s: absent\n", cmd);
				rc = 1;
			}
			fflush(stdout);
		}
	}
	unlinkat(basefd, name, AT_REMOVEDIR); /* by fd: works from any root */
	close(basefd);
	return rc;
}

static int do_open_by_handle(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	int mount_id;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0) != 0)
		return fail_step("name_to_handle_at", errno);
	int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return fail_step("open /", errno);
	int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno);
	close(fd);
	close(mfd);
	return ok();
}

/* ---- kernel-wide operations ---------------------------------------------- */

static int do_init_module(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_step("open /dev/null", errno);
	/* /dev/null is not a module: even with CAP_SYS_MODULE the load fails. */
	if (syscall(SYS_finit_module, fd, "", 0) != 0)
		return fail_errno(errno);
	close(fd);
	return ok();
}

static int do_kexec(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	/* No image, and one segment more than the kernel accepts: EPERM without
	 * CAP_SYS_BOOT, EINVAL with it (nr_segments == 0 would *unload*). */
	if (syscall(SYS_kexec_load, 0UL, (unsigned long)KEXEC_SEGMENT_MAX + 1, NULL, 0UL) != 0)
		return fail_errno(errno);
	return ok();
}

static int do_reboot(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	if (syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL) != 0)
		return fail_errno(errno);
	return ok();
}

static int do_sethostname(int argc, char **argv)
{
	if (argc != 1)
		return usage_of("NAME");
	if (sethostname(argv[0], strlen(argv[0])) != 0)
		return fail_errno(errno);
	return ok();
}

static int do_acct(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	/* "/" is a directory: with CAP_SYS_PACCT the kernel says EISDIR. */
	if (acct("/") != 0)
		return fail_errno(errno);
	acct(NULL);
	return ok();
}

static int do_swapon(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	/* a character device is never a swap area: EINVAL with CAP_SYS_ADMIN */
	if (syscall(SYS_swapon, "/dev/null", 0) != 0)
		return fail_errno(errno);
	syscall(SYS_swapoff, "/dev/null");
	return ok();
}

static int do_settime(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return fail_step("clock_gettime", errno);
	if (clock_settime(CLOCK_REALTIME, &now) != 0)
		return fail_errno(errno);
	return ok();
}

/* iopl exists on x86 only: elsewhere the answer is ENOSYS. */
static int do_iopl(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
#if defined(__x86_64__)
	if (syscall(SYS_iopl, 3) != 0)
		return fail_errno(errno);
	syscall(SYS_iopl, 0);
	return ok();
#else
	return fail_errno(ENOSYS);
#endif
}

static int do_quotactl(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	/* Q_SYNC with no device: just flushes quota files; needs no capability,
	 * so without a filter it succeeds, with Docker's filter it is EPERM. */
	if (quotactl(QCMD(Q_SYNC, USRQUOTA), NULL, 0, NULL) != 0)
		return fail_errno(errno);
	return ok();
}

/* ---- files and devices ---------------------------------------------------- */

static int do_write(int argc, char **argv)
{
	if (argc != 2)
		return usage_of("PATH DATA");
	int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail_errno(errno);
	const char *p = argv[1];
	size_t left = strlen(p);
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno(errno);
		}
		if (n == 0)
			return fail_errno(EIO);
		p += n;
		left -= (size_t)n;
	}
	if (close(fd) != 0)
		return fail_errno(errno);
	return ok();
}

/* read PATH: line 1 "read: ok", line 2 "bytes: N", then the N bytes as read. */
static int do_read(int argc, char **argv)
{
	static char buf[4096];
	if (argc != 1)
		return usage_of("PATH");
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno);
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail_errno(errno);
	close(fd);
	ok();
	printf("bytes: %zd\n", n);
	fflush(stdout);
	for (ssize_t off = 0, w; off < n; off += w) {
		w = write(1, buf + off, (size_t)(n - off));
		if (w <= 0)
			break; /* stdout gone: nothing more to say */
	}
	return 0;
}

static int do_open_write(int argc, char **argv)
{
	if (argc != 1)
		return usage_of("PATH");
	int fd = open(argv[0], O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno);
	close(fd);
	return ok();
}

/* mknod-read PATH MAJ MIN: mknod a block device at PATH (which must not
 * exist: EEXIST otherwise), open it read-only, read 512 bytes, remove the
 * node again.  On success line 2 is "bytes: N".  To open a node the image
 * already has, use "read PATH". */
static int do_mknod_read(int argc, char **argv)
{
	unsigned long maj, min;
	static char buf[512];
	if (argc != 3 || parse_ulong(argv[1], &maj) || parse_ulong(argv[2], &min))
		return usage_of("PATH MAJOR MINOR");
	int rc;
	if (mknod(argv[0], S_IFBLK | 0600, makedev(maj, min)) != 0)
		return fail_step("mknod", errno);
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = fail_step("open", errno);
	} else {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			rc = fail_step("read", errno);
		} else {
			rc = ok();
			printf("bytes: %zd\n", n);
			fflush(stdout);
		}
		close(fd);
	}
	unlink(argv[0]); /* the node was ours: remove it again */
	return rc;
}

static int do_tiocsti(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	char c = 'x';
	if (ioctl(0, TIOCSTI, &c) != 0)
		return fail_errno(errno);
	return ok();
}

/* ---- processes ------------------------------------------------------------- */

static int do_ptrace(int argc, char **argv)
{
	unsigned long pid;
	if (argc != 1 || parse_ulong(argv[0], &pid) || pid == 0 || pid > INT_MAX)
		return usage_of("PID");
	if (ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL) != 0)
		return fail_errno(errno);
	int st;
	waitpid((pid_t)pid, &st, __WALL); /* the attach SIGSTOP */
	ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
	return ok();
}

static int do_personality(int argc, char **argv)
{
	unsigned long v;
	if (argc != 1 || parse_ulong(argv[0], &v) || v > 0xffffffffUL)
		return usage_of("VALUE (e.g. 0, 0x8, 0xffffffff)");
	errno = 0;
	int prev = personality(v);
	if (prev == -1 && errno)
		return fail_errno(errno);
	ok();
	printf("previous: 0x%x\n", (unsigned)prev);
	return 0;
}

/* ---- kernel interfaces ----------------------------------------------------- */

static int do_keyctl(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	long key = syscall(SYS_add_key, "user", "crab-can-probe", "x", 1UL, KEY_SPEC_SESSION_KEYRING);
	if (key < 0)
		return fail_errno(errno);
	syscall(SYS_keyctl, KEYCTL_UNLINK, key, KEY_SPEC_SESSION_KEYRING);
	return ok();
}

static int do_bpf(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	/* r0 = 0; exit: a socket filter that accepts nothing */
	struct bpf_insn insns[2];
	memset(insns, 0, sizeof insns);
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[0].dst_reg = BPF_REG_0;
	insns[1].code = BPF_JMP | BPF_EXIT;
	static const char license[] = "GPL";
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insn_cnt = 2;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.license = (uint64_t)(uintptr_t)license;
	long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
	if (fd < 0)
		return fail_errno(errno);
	close((int)fd);
	return ok();
}

static int do_perf_event_open(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	struct perf_event_attr pa;
	memset(&pa, 0, sizeof pa);
	pa.type = PERF_TYPE_SOFTWARE;
	pa.size = sizeof pa;
	pa.config = PERF_COUNT_SW_CPU_CLOCK;
	pa.disabled = 1;
	pa.exclude_kernel = 1;
	pa.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &pa, 0 /* self */, -1 /* any cpu */, -1, 0UL);
	if (fd < 0)
		return fail_errno(errno);
	close((int)fd);
	return ok();
}

static int do_io_uring_setup(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	long fd = syscall(SYS_io_uring_setup, 1U, &p);
	if (fd < 0)
		return fail_errno(errno);
	close((int)fd);
	return ok();
}

static int do_userfaultfd(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno);
	close((int)fd);
	return ok();
}

static int do_socket(int argc, int family, int type)
{
	if (argc != 0)
		return usage_of("");
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno(errno);
	close(fd);
	return ok();
}

/* ---- other system-call ABIs ----------------------------------------------- */
/* These are x86_64's other ABIs: built for another architecture, x32 and i386 report ENOSYS. */

/* getpid through the x32 ABI (syscall number | 0x40000000); line 2 is the pid. */
static int do_x32(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
#if !defined(__x86_64__)
	return fail_errno(ENOSYS);
#else
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)(39UL | X32_SYSCALL_BIT))
			 : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096)
		return fail_errno((int)-ret);
	ok();
	printf("pid: %ld\n", ret);
	return 0;
#endif
}

#if defined(__x86_64__)
/* getpid through the i386 ABI (int $0x80, eax = 20); line 2 is the pid.  A
 * kernel without 32-bit emulation answers int $0x80 with SIGSEGV: that is
 * reported as ENOSYS, since the ABI is simply absent. */
static sigjmp_buf i386_jmp;
static void i386_segv(int sig)
{
	(void)sig;
	siglongjmp(i386_jmp, 1);
}

#endif

static int do_i386(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
#if !defined(__x86_64__)
	return fail_errno(ENOSYS);
#else
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = i386_segv;
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(i386_jmp, 1)) {
		sigaction(SIGSEGV, &old, NULL);
		printf("%s: ENOSYS (int $0x80 raised SIGSEGV: no 32-bit system-call entry)\n", cmd);
		fflush(stdout);
		return 1;
	}
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "0"(20L)
			 : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
	sigaction(SIGSEGV, &old, NULL);
	int iret = (int)ret; /* a 32-bit return value */
	if (iret < 0 && iret > -4096)
		return fail_errno(-iret);
	ok();
	printf("pid: %d\n", iret);
	return 0;
#endif
}

/* syscall NR: the raw system call with six zero arguments; line 2 is its
 * return value on success. */
static int do_syscall(int argc, char **argv)
{
	unsigned long nr;
	if (argc != 1 || parse_ulong(argv[0], &nr) || nr > INT_MAX)
		return usage_of("NR");
	errno = 0;
	long r = syscall((long)nr, 0L, 0L, 0L, 0L, 0L, 0L);
	if (r == -1 && errno)
		return fail_errno(errno);
	ok();
	printf("return: %ld\n", r);
	return 0;
}

/* ---- introspection -------------------------------------------------------- */

/* caps: line 1 "caps: ok", then CapInh/CapPrm/CapEff/CapBnd/CapAmb as in
 * /proc/self/status. */
static int do_caps(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return fail_step("open /proc/self/status", errno);
	char line[512], out[5][512];
	int n = 0;
	while (n < 5 && fgets(line, sizeof line, f))
		if (strncmp(line, "Cap", 3) == 0)
			snprintf(out[n++], sizeof out[0], "%s", line);
	fclose(f);
	if (n != 5)
		return fail_step("find 5 Cap lines in /proc/self/status", ENOENT);
	ok();
	for (int i = 0; i < n; i++)
		fputs(out[i], stdout);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* fds: line 1 "fds: ok", line 2 the open fd numbers, ascending, space
 * separated (read from /proc/self/fd, or probed with fcntl when /proc is
 * absent).  The fd used to list the directory is left out. */
static int do_fds(int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return usage_of("");
	static int fds[65536];
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		int self = dirfd(d);
		struct dirent *de;
		while ((de = readdir(d)) && n < (int)(sizeof fds / sizeof fds[0])) {
			unsigned long v;
			if (de->d_name[0] == '.' || parse_ulong(de->d_name, &v) || (int)v == self)
				continue;
			fds[n++] = (int)v;
		}
		closedir(d);
	} else {
		struct rlimit rl;
		rlim_t max = 1024;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			max = rl.rlim_cur;
		if (max > sizeof fds / sizeof fds[0])
			max = sizeof fds / sizeof fds[0];
		for (int fd = 0; fd < (int)max; fd++)
			if (fcntl(fd, F_GETFD) != -1)
				fds[n++] = fd;
	}
	qsort(fds, (size_t)n, sizeof fds[0], cmp_int);
	ok();
	for (int i = 0; i < n; i++)
		printf(i ? " %d" : "%d", fds[i]);
	printf("\n");
	return 0;
}

/* ---- dispatch --------------------------------------------------------------- */

static int do_af_alg(int argc, char **argv)
{
	(void)argv;
	return do_socket(argc, AF_ALG, SOCK_SEQPACKET);
}

/* deny WHAT[,WHAT...] CMD [ARG...]: run CMD under a seccomp filter that refuses some
 * calls, as an outer container's profile may: "clone3" (ENOSYS, as Docker's profile),
 * "close_range" (ENOSYS, as on an old kernel), "pdeathsig" (prctl(PR_SET_PDEATHSIG) gets
 * EPERM). Not an attempt: it execs. */
static int do_deny(int argc, char **argv)
{
	if (argc < 2)
		return usage_of("clone3|close_range|pdeathsig[,...] CMD [ARG...]");
	struct sock_filter f[32];
	int n = 0;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	char *list = strdup(argv[0]);
	for (char *w = strtok(list, ","); w && n < 24; w = strtok(NULL, ",")) {
		if (strcmp(w, "clone3") == 0 || strcmp(w, "close_range") == 0) {
			unsigned nr = strcmp(w, "clone3") == 0 ? 435 : 436;
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
		} else if (strcmp(w, "pdeathsig") == 0) {
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 4);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_PDEATHSIG, 0, 1);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
			f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		} else {
			fprintf(stderr, "probe deny: unknown call '%s'\n", w);
			return 2;
		}
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return fail_errno(errno);
	execvp(argv[1], argv + 1);
	return fail_errno(errno);
}

/* no-clone3 CMD [ARG...]: deny clone3 (kept for the fallback tests). */
static int do_no_clone3(int argc, char **argv)
{
	if (argc < 1)
		return usage_of("CMD [ARG...]");
	char *args[argc + 2];
	args[0] = "clone3";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	args[argc + 1] = NULL;
	return do_deny(argc + 1, args);
}

/* drop-cap N CMD [ARG...]: drop capability N from the bounding set and exec CMD, which
 * (as root, with a plain binary) then holds every capability but N. */
static int do_drop_cap(int argc, char **argv)
{
	unsigned long cap;
	if (argc < 2 || parse_ulong(argv[0], &cap))
		return usage_of("CAP_NUMBER CMD [ARG...]");
	if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
		return fail_errno(errno);
	execvp(argv[1], argv + 1);
	return fail_errno(errno);
}

/* as UID GID CMD [ARG...]: drop every supplementary group, become GID and UID (real,
 * effective and saved) and exec CMD: an unprivileged caller where there is no setpriv (the
 * test VM). */
static int do_as(int argc, char **argv)
{
	unsigned long uid, gid;
	if (argc < 3 || parse_ulong(argv[0], &uid) || parse_ulong(argv[1], &gid))
		return usage_of("UID GID CMD [ARG...]");
	if (setgroups(0, NULL))
		return fail_step("setgroups", errno);
	if (setresgid(gid, gid, gid))
		return fail_step("setresgid", errno);
	if (setresuid(uid, uid, uid))
		return fail_step("setresuid", errno);
	execvp(argv[2], argv + 2);
	return fail_step("execvp", errno);
}

/* swap-loop A B SECONDS: exchange the directory entries A and B (renameat2
 * RENAME_EXCHANGE) over and over for SECONDS, then print "swap-loop: ok" and the count.
 * The IMAGE swap race of crab-can's attack tests. */
static int do_swap_loop(int argc, char **argv)
{
	unsigned long secs;
	if (argc != 3 || parse_ulong(argv[2], &secs))
		return usage_of("A B SECONDS");
	time_t end = time(NULL) + (time_t)secs;
	unsigned long n = 0;
	while (time(NULL) < end) {
		if (syscall(SYS_renameat2, AT_FDCWD, argv[0], AT_FDCWD, argv[1], 2 /* RENAME_EXCHANGE */))
			return fail_errno(errno);
		n++;
	}
	/* Leave A as it was at the start. */
	if (n % 2 && syscall(SYS_renameat2, AT_FDCWD, argv[0], AT_FDCWD, argv[1], 2))
		return fail_errno(errno);
	ok();
	printf("%lu\n", n);
	return 0;
}

static int do_af_vsock(int argc, char **argv)
{
	(void)argv;
	return do_socket(argc, AF_VSOCK, SOCK_STREAM);
}

/* probe ask NAME: connect to the abstract SEQPACKET socket @crab-can/NAME as `exec`, `ps`
 * and `kill` do, and print what came back: "ask: bytes=N fds=M" (0 and 0 when the holder
 * closed the connection without a word). */
static int do_ask(int argc, char **argv)
{
	if (argc != 1)
		return usage_of("NAME");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "crab-can/%s", argv[0]);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail_step("socket", errno);
	if (connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) < 0)
		return fail_errno(errno);
	static char buf[65536];
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
	ssize_t n = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return fail_errno(errno);
	int fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			fds += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	printf("ask: bytes=%zd fds=%d\n", n, fds);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
} cmds[] = {
	{"mount", do_mount, ""},
	{"no-clone3", do_no_clone3, "CMD [ARG...]"},
	{"deny", do_deny, "clone3|close_range|pdeathsig[,...] CMD [ARG...]"},
	{"drop-cap", do_drop_cap, "CAP_NUMBER CMD [ARG...]"},
	{"as", do_as, "UID GID CMD [ARG...]"},
	{"swap-loop", do_swap_loop, "A B SECONDS"},
	{"umount", do_umount, "PATH"},
	{"pivot_root", do_pivot_root, "[NEW_ROOT PUT_OLD]"},
	{"unshare", do_unshare, "user|mnt|pid|net|uts|ipc|cgroup|time"},
	{"setns", do_setns, "PATH|NSNAME"},
	{"clone-ns", do_clone_ns, ""},
	{"clone3", do_clone3, ""},
	{"chroot-escape", do_chroot_escape, "PATH_TO_LOOK_FOR"},
	{"open-by-handle", do_open_by_handle, ""},
	{"init-module", do_init_module, ""},
	{"kexec", do_kexec, ""},
	{"reboot", do_reboot, ""},
	{"sethostname", do_sethostname, "NAME"},
	{"write", do_write, "PATH DATA"},
	{"read", do_read, "PATH"},
	{"open-write", do_open_write, "PATH"},
	{"mknod-read", do_mknod_read, "PATH MAJOR MINOR"},
	{"ptrace", do_ptrace, "PID"},
	{"keyctl", do_keyctl, ""},
	{"bpf", do_bpf, ""},
	{"perf-event-open", do_perf_event_open, ""},
	{"io-uring-setup", do_io_uring_setup, ""},
	{"userfaultfd", do_userfaultfd, ""},
	{"x32", do_x32, ""},
	{"i386", do_i386, ""},
	{"af-alg", do_af_alg, ""},
	{"af-vsock", do_af_vsock, ""},
	{"personality", do_personality, "VALUE"},
	{"tiocsti", do_tiocsti, ""},
	{"caps", do_caps, ""},
	{"fds", do_fds, ""},
	{"syscall", do_syscall, "NR"},
	{"acct", do_acct, ""},
	{"swapon", do_swapon, ""},
	{"settime", do_settime, ""},
	{"iopl", do_iopl, ""},
	{"quotactl", do_quotactl, ""},
	{"ask", do_ask, "NAME"},
};

static void usage(void)
{
	fprintf(stderr, "usage: probe SUBCOMMAND [ARGS]\nsubcommands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(stderr, "  %s %s\n", cmds[i].name, cmds[i].args);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			cmd = cmds[i].name;
			int rc = cmds[i].fn(argc - 2, argv + 2);
			fflush(stdout);
			return rc;
		}
	}
	fprintf(stderr, "probe: unknown subcommand '%s'\n", argv[1]);
	usage();
	return 2;
}
