//! Escape and hardening tests: from inside a container, as root with the default
//! capabilities and system-call filter, every way out is tried and must fail in the
//! expected way, leaving the host untouched. The attempts are made by the static `probe`
//! helper (tests/helper/probe.c), which keeps each of them harmless should it succeed.
//!
//! Contract lines checked (../shared/design/CONTRACT.md, "What the command sees" and the
//! options table):
//! - "`/` is IMAGE; the host's root is not reachable by any path, and no mount of the
//!   container shows up on the host."
//! - "`/proc` is a fresh procfs ... with the kernel's sensitive files masked and `/proc/sys`,
//!   `/proc/sysrq-trigger`, `/proc/irq`, `/proc/bus`, `/proc/fs` read-only; `/sys` is
//!   read-only; ... device nodes that IMAGE brings elsewhere cannot be opened."
//! - "Privileges: root inside holds only Docker's default capabilities ..., a non-root user
//!   none; `no_new_privs` is set; the default system-call filter refuses what Docker's
//!   default profile refuses ... with EPERM, and system-call numbers it does not know with
//!   ENOSYS."
//! - the `--user`, `--volume`, `--read-only`, `--cap-add/--cap-drop` and `--seccomp` rows of
//!   the options table.

mod common;

use common::*;
use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---- helpers ------------------------------------------------------------------------------

/// `crab-can run OPTS... <shared image> /bin/probe ARGS...`.
fn probe_in(opts: &[&str], args: &[&str]) -> Run {
    let mut cmd = vec!["/bin/probe"];
    cmd.extend_from_slice(args);
    run_in(image(), opts, &cmd)
}

/// The probe made its attempt and it failed with one of `errnos` (exit 1, line 1
/// `SUB: ERRNO (...)`).
#[track_caller]
fn assert_refused(r: &Run, sub: &str, errnos: &[&str]) {
    let l = line1(r);
    assert_eq!(
        r.code,
        1,
        "probe {sub} should fail with {errnos:?}; {}",
        show(r)
    );
    assert!(
        errnos
            .iter()
            .any(|e| l.starts_with(&format!("{sub}: {e} ("))),
        "probe {sub} should fail with one of {errnos:?}, got line {l:?}; {}",
        show(r)
    );
}

/// The probe was killed by the filter (SIGSYS: 128 + 31) or, on a kernel without this
/// system-call ABI, reported ENOSYS. Either way the call did not succeed.
#[track_caller]
fn assert_killed_or_enosys(r: &Run, sub: &str) {
    assert!(
        !line1(r).ends_with(": ok"),
        "probe {sub} succeeded; {}",
        show(r)
    );
    let killed = r.code == 128 + libc::SIGSYS && r.stdout.is_empty();
    let enosys = r.code == 1 && line1(r).starts_with(&format!("{sub}: ENOSYS ("));
    assert!(
        killed || enosys,
        "probe {sub}: want exit 159 (SIGSYS) or ENOSYS; {}",
        show(r)
    );
}

/// `Key:\tvalue` lines of /proc/self/status-like output.
fn fields(out: &str) -> HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The five capability sets of the command started with `opts`.
fn caps(opts: &[&str]) -> HashMap<String, String> {
    let r = probe_in(opts, &["caps"]);
    assert_eq!(r.code, 0, "probe caps with {opts:?}: {}", show(&r));
    assert_eq!(line1(&r), "caps: ok", "{}", show(&r));
    let f = fields(&r.stdout);
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(f.contains_key(k), "no {k} in {}", show(&r));
    }
    f
}

#[track_caller]
fn assert_caps(opts: &[&str], want: &[(&str, &str)]) {
    let got = caps(opts);
    for (k, v) in want {
        assert_eq!(got[*k], *v, "{k} with {opts:?}; all: {got:?}");
    }
}

const NO_CAPS: &str = "0000000000000000";

/// A directory on the host that is removed again when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d =
            std::env::temp_dir().join(format!("crab-can-hardening-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A host path that must not exist; removed (if a bug created it) when dropped.
struct MustNotExist(PathBuf);

impl Drop for MustNotExist {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// major:minor of the block device holding the host's root filesystem: the source device
/// of the `/` mount in the host's mountinfo (or st_dev of `/`).
fn host_root_device() -> (u64, u64) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = info.lines().rfind(|l| l.split(' ').nth(4) == Some("/"));
    if let Some(line) = root {
        if let Some((_, post)) = line.split_once(" - ") {
            if let Some(src) = post.split(' ').nth(1) {
                if let Ok(md) = std::fs::metadata(src) {
                    if md.file_type().is_block_device() {
                        return (major(md.rdev()), minor(md.rdev()));
                    }
                }
            }
        }
    }
    let dev = std::fs::metadata("/").unwrap().dev();
    (major(dev), minor(dev))
}

/// Host pid of the container's init once the command (`sleep`) runs under it.
fn init_pid_when_running(bg: &Bg) -> Option<i32> {
    let mut found = None;
    wait_for(10, || {
        for init in children(bg.pid()) {
            if children(init).iter().any(|&c| comm(c) == "sleep") {
                found = Some(init);
                return true;
            }
        }
        false
    });
    found
}

// ---- mounts, roots, namespaces ------------------------------------------------------------

/// "the default system-call filter refuses ... mount and namespace calls ... with EPERM"
#[test]
fn mount_is_refused() {
    let before = host_mounts_with(img());
    assert_refused(&probe_in(&[], &["mount"]), "mount", &["EPERM"]);
    assert_eq!(host_mounts_with(img()), before, "host mounts changed");
}

/// "/proc ... with the kernel's sensitive files masked": a masked path cannot be unmasked.
#[test]
fn umount_of_masked_paths_is_refused() {
    for p in [
        "/proc/keys",
        "/proc/kcore",
        "/proc/acpi",
        "/sys/firmware",
        "/proc/sys",
    ] {
        if !Path::new(p).exists() {
            continue; // the host kernel has no such path: nothing masks it
        }
        let r = sh(
            &[],
            &format!("probe umount {p}; probe read {p} >/dev/null 2>&1; mount | grep -c ' {p} '"),
        );
        let l = line1(&r);
        assert!(
            l.starts_with("umount: EPERM ("),
            "umount {p} should be EPERM; {}",
            show(&r)
        );
        // The mask is still in place after the attempt.
        assert_eq!(
            r.stdout.lines().last(),
            Some("1"),
            "mask on {p} gone after umount; {}",
            show(&r)
        );
    }
}

/// "the default system-call filter refuses ... mount and namespace calls": pivot_root.
#[test]
fn pivot_root_is_refused() {
    assert_refused(&probe_in(&[], &["pivot_root"]), "pivot_root", &["EPERM"]);
}

/// "... namespace calls" are refused with EPERM: unshare of every namespace type.
#[test]
fn unshare_of_every_namespace_is_refused() {
    for ns in ["user", "mnt", "pid", "net", "uts", "ipc", "cgroup", "time"] {
        let r = probe_in(&[], &["unshare", ns]);
        assert_refused(&r, "unshare", &["EPERM"]);
    }
}

/// "... namespace calls" are refused: setns into the init's namespaces (which the command
/// cannot even open: the init is non-dumpable) and into its own (filter: EPERM).
#[test]
fn setns_is_refused() {
    for ns in ["mnt", "pid", "net", "uts", "ipc", "user", "cgroup", "time"] {
        let r = probe_in(&[], &["setns", &format!("/proc/1/ns/{ns}")]);
        assert_refused(&r, "setns", &["EACCES", "EPERM"]);
        let own = format!("/proc/self/ns/{ns}");
        if Path::new(&own).exists() {
            assert_refused(&probe_in(&[], &["setns", &own]), "setns", &["EPERM"]);
        }
    }
}

/// "clone3 → ENOSYS (so libcs fall back to clone)" and clone with a namespace flag → EPERM.
#[test]
fn clone3_enosys_and_clone_with_namespace_flags_eperm() {
    assert_refused(&probe_in(&[], &["clone3"]), "clone3", &["ENOSYS"]);
    assert_refused(&probe_in(&[], &["clone-ns"]), "clone-ns", &["EPERM"]);
}

/// "the host's root is not reachable by any path": the chroot + `cd ..` escape ends in the
/// container's root, never the host's.
#[test]
fn chroot_escape_does_not_reach_the_host() {
    let img = fresh_image("chroot-escape");
    let marker = format!("/crab-can-escape-marker-{}", std::process::id());
    assert!(!img.join(&marker[1..]).exists());
    std::fs::write(&marker, "host only\n").unwrap();
    let _guard = MustNotExist(PathBuf::from(&marker));
    assert!(Path::new(&marker).exists());

    let r = run_in(&img, &[], &["/bin/probe", "chroot-escape", &marker]);
    assert_eq!(
        line1(&r),
        "chroot-escape: absent",
        "escaped to the host root; {}",
        show(&r)
    );
    assert_eq!(r.code, 1, "{}", show(&r));
    // Control: the walk works, and where it ends is the container's own root.
    let r = run_in(&img, &[], &["/bin/probe", "chroot-escape", "/bin/probe"]);
    assert_eq!(line1(&r), "chroot-escape: found", "{}", show(&r));
    // The host's marker is untouched.
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "host only\n");
}

/// "the default system-call filter refuses ... open_by_handle_at" (EPERM).
#[test]
fn open_by_handle_at_is_refused() {
    assert_refused(
        &probe_in(&[], &["open-by-handle"]),
        "open-by-handle",
        &["EPERM"],
    );
}

// ---- kernel-wide operations ---------------------------------------------------------------

/// "refuses ... module loading, kexec, reboot ... with EPERM".
#[test]
fn module_load_kexec_and_reboot_are_refused() {
    assert_refused(&probe_in(&[], &["init-module"]), "init-module", &["EPERM"]);
    assert_refused(&probe_in(&[], &["kexec"]), "kexec", &["EPERM"]);
    assert_refused(&probe_in(&[], &["reboot"]), "reboot", &["EPERM"]);
}

/// "root inside holds only Docker's default capabilities" (no SYS_ADMIN): sethostname is
/// EPERM and the host's hostname is unchanged.
#[test]
fn sethostname_is_refused() {
    let before = host_hostname();
    assert_refused(
        &probe_in(&[], &["sethostname", "crab-can-pwned"]),
        "sethostname",
        &["EPERM"],
    );
    assert_eq!(host_hostname(), before);
}

/// "`/proc/sys`, `/proc/sysrq-trigger` ... read-only; `/sys` is read-only": writes fail with
/// EROFS or EPERM and the host's values stay. (Empty writes: harmless should one succeed.)
#[test]
fn writes_to_proc_sys_sysrq_and_sys_are_refused() {
    let host_name = host_hostname();
    let r = probe_in(
        &[],
        &["write", "/proc/sys/kernel/hostname", "crab-can-pwned"],
    );
    assert_refused(&r, "write", &["EROFS", "EPERM"]);
    assert_eq!(host_hostname(), host_name);

    let swappiness = std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    assert_refused(
        &probe_in(&[], &["write", "/proc/sys/vm/swappiness", ""]),
        "write",
        &["EROFS", "EPERM"],
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap(),
        swappiness
    );

    let r = probe_in(&[], &["write", "/proc/sysrq-trigger", ""]);
    if Path::new("/proc/sysrq-trigger").exists() {
        assert_refused(&r, "write", &["EROFS", "EPERM"]);
    } else {
        assert_eq!(
            r.code,
            1,
            "the host kernel has no sysrq-trigger; {}",
            show(&r)
        );
    }

    let sys = [
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/sys/kernel/profiling",
        "/sys/power/state",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("no writable-by-root /sys file on the host to try");
    let before = std::fs::read_to_string(sys).unwrap_or_default();
    assert_refused(
        &probe_in(&[], &["write", sys, ""]),
        "write",
        &["EROFS", "EPERM"],
    );
    assert_eq!(std::fs::read_to_string(sys).unwrap_or_default(), before);
    // Creating a file under /sys is refused too.
    assert_refused(
        &probe_in(&[], &["write", "/sys/crab-can-x", "x"]),
        "write",
        &["EROFS", "EPERM", "EACCES"],
    );
}

/// "with the kernel's sensitive files masked": /proc/kcore and /proc/keys read as 0 bytes
/// (or fail), and a mask really sits on each that the host kernel has.
#[test]
fn kcore_and_keys_are_masked() {
    for p in ["/proc/kcore", "/proc/keys"] {
        let r = probe_in(&[], &["read", p]);
        if r.code == 0 {
            assert_eq!(
                r.stdout.lines().nth(1),
                Some("bytes: 0"),
                "{p} not empty; {}",
                show(&r)
            );
        } else {
            assert_eq!(r.code, 1, "{p}: {}", show(&r));
        }
        if Path::new(p).exists() {
            let m = sh(&[], "cat /proc/self/mountinfo");
            assert!(
                m.stdout.lines().any(|l| l.split(' ').nth(4) == Some(p)),
                "nothing mounted over {p}: {}",
                m.stdout
            );
        }
    }
    assert!(
        Path::new("/proc/keys").exists(),
        "the host kernel was expected to have /proc/keys"
    );
}

/// "/proc ... sensitive files masked; /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus,
/// /proc/fs read-only; /sys is read-only": /proc/acpi and /sys/firmware are empty read-only
/// directories; the read-only paths are read-only mounts.
#[test]
fn masked_directories_are_empty_and_read_only() {
    for d in ["/proc/acpi", "/sys/firmware"] {
        if !Path::new(d).is_dir() {
            skip(
                test_name!(),
                &format!("the host has no {d}: no masked directory to look into"),
            );
            continue;
        }
        let r = sh(
            &[],
            &format!("ls -A {d} | wc -l; probe write {d}/crab-can-x x"),
        );
        let mut lines = r.stdout.lines();
        assert_eq!(
            lines.next().map(str::trim),
            Some("0"),
            "{d} is not empty inside; {}",
            show(&r)
        );
        let w = lines.next().unwrap_or("");
        assert!(
            w.starts_with("write: EROFS (") || w.starts_with("write: EPERM ("),
            "write in {d}: {}",
            show(&r)
        );
    }
    let m = sh(&[], "cat /proc/self/mountinfo").stdout;
    for p in [
        "/proc/sys",
        "/proc/sysrq-trigger",
        "/proc/irq",
        "/proc/bus",
        "/proc/fs",
        "/sys",
    ] {
        if !Path::new(p).exists() {
            continue;
        }
        let line = m.lines().rfind(|l| l.split(' ').nth(4) == Some(p));
        let line = line.unwrap_or_else(|| panic!("no mount on {p} inside:\n{m}"));
        let opts = line.split(' ').nth(5).unwrap();
        assert!(
            opts.split(',').any(|o| o == "ro"),
            "{p} is not read-only: {line}"
        );
    }
}

/// "/sys is read-only ... device nodes that IMAGE brings elsewhere cannot be opened" and
/// "the host's root is not reachable": a node for the host's root disk, made with the
/// default MKNOD capability anywhere the command can write, cannot be read.
#[test]
fn mknod_of_the_host_root_disk_cannot_be_read() {
    let img = fresh_image("mknod-disk");
    let (maj, min) = host_root_device();
    let (maj, min) = (maj.to_string(), min.to_string());
    for dir in ["/tmp", "/", "/dev", "/dev/shm", "/dev/mqueue", "/dev/pts"] {
        let node = format!("{}/crab-can-disk", dir.trim_end_matches('/'));
        let r = run_in(&img, &[], &["/bin/probe", "mknod-read", &node, &maj, &min]);
        assert_refused(&r, "mknod-read", &["EACCES", "EPERM"]);
    }
}

/// "device nodes that IMAGE brings elsewhere cannot be opened" / "/dev holds only null zero
/// full random urandom tty ...": host devices re-created by the command with mknod (default
/// MKNOD capability) in /dev, /dev/shm, /dev/mqueue, /tmp or / cannot be opened. Only
/// harmless devices the host has are tried: tun, fuse, kvm (an open for writing and a
/// close, nothing written) and loop0 (a read of an unattached loop device).
#[test]
fn mknod_of_host_devices_cannot_be_opened() {
    let img = fresh_image("mknod-devs");
    let mut devs = Vec::new();
    for p in ["/dev/net/tun", "/dev/fuse", "/dev/kvm", "/dev/loop0"] {
        match std::fs::metadata(p) {
            Ok(md) if md.file_type().is_char_device() || md.file_type().is_block_device() => {
                let block = md.file_type().is_block_device();
                devs.push((p, block, major(md.rdev()), minor(md.rdev())));
            }
            _ => skip(
                test_name!(),
                &format!("the host has no device node {p}: that device is not tried"),
            ),
        }
    }
    if devs.is_empty() {
        return; // none of tun/fuse/kvm/loop0 on the host: nothing to try (each said SKIP)
    }
    let mut opened = Vec::new();
    for dir in ["/dev", "/dev/shm", "/dev/mqueue", "/tmp", "/"] {
        for &(host, block, maj, min) in &devs {
            let node = format!("{}/crab-can-node", dir.trim_end_matches('/'));
            let what = format!(
                "{node} ({} {maj}:{min}, as the host's {host})",
                if block { "b" } else { "c" }
            );
            let r = if block {
                // mknod, open read-only, read 512 bytes, unlink: all in the probe.
                let (maj, min) = (maj.to_string(), min.to_string());
                run_in(&img, &[], &["/bin/probe", "mknod-read", &node, &maj, &min])
            } else {
                let script = format!(
                    "mknod {node} c {maj} {min} 2>/dev/null || {{ echo mknod-refused; exit 3; }}; \
                     probe open-write {node}; rc=$?; rm -f {node}; exit $rc"
                );
                sh_in(&img, &[], &script)
            };
            if r.code == 3 && line1(&r) == "mknod-refused" {
                continue;
            }
            if r.code == 0 || line1(&r).ends_with(": ok") {
                opened.push(what);
                continue;
            }
            let sub = if block { "mknod-read" } else { "open-write" };
            assert_refused(&r, sub, &["EACCES", "EPERM"]);
        }
    }
    assert!(
        opened.is_empty(),
        "host devices opened from inside the container: {opened:#?}"
    );
}

/// "device nodes that IMAGE brings elsewhere cannot be opened" while /dev/null works.
#[test]
fn image_device_nodes_cannot_be_opened() {
    let img = fresh_image("image-nodes");
    let st = Command::new("mknod")
        .arg(img.join("dev-null-copy"))
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success());
    let r = run_in(&img, &[], &["/bin/probe", "read", "/dev-null-copy"]);
    assert_refused(&r, "read", &["EACCES", "EPERM"]);
    let r = sh_in(&img, &[], "cat /dev-null-copy");
    assert_ne!(r.code, 0, "cat of IMAGE's device node worked; {}", show(&r));
    let r = run_in(&img, &[], &["/bin/probe", "read", "/dev/null"]);
    assert_eq!(line1(&r), "read: ok", "{}", show(&r));
    assert_eq!(r.code, 0);
}

// ---- the init -----------------------------------------------------------------------------

/// The init is non-dumpable: its exe cannot be opened for writing (no overwriting the
/// runtime binary on the host, CVE-2019-5736).
#[test]
fn init_exe_cannot_be_opened_for_writing() {
    let r = probe_in(&[], &["open-write", "/proc/1/exe"]);
    assert_refused(&r, "open-write", &["EACCES", "EPERM", "ETXTBSY"]);
}

/// The init is non-dumpable: it cannot be ptraced (default caps lack SYS_PTRACE).
#[test]
fn init_cannot_be_ptraced() {
    assert_refused(
        &probe_in(&[], &["ptrace", "1"]),
        "ptrace",
        &["EPERM", "EACCES"],
    );
}

/// The init is non-dumpable: /proc/1/exe, /proc/1/mem, /proc/1/environ, /proc/1/root,
/// /proc/1/cwd and every /proc/1/fd/N cannot be read or followed by the command; a non-root
/// command cannot even list /proc/1/fd. (Root, holding DAC_OVERRIDE, may list the fd
/// numbers: procfs checks only the directory's mode for that; following them needs ptrace
/// access, which a non-dumpable task refuses.)
#[test]
fn init_is_not_readable_from_the_command() {
    let script = r#"
        readlink /proc/1/exe && echo LEAK exe
        readlink /proc/1/cwd && echo LEAK cwd
        readlink /proc/1/root && echo LEAK root
        ls /proc/1/root/ >/dev/null 2>&1 && echo LEAK root-dir
        ls /proc/1/cwd/ >/dev/null 2>&1 && echo LEAK cwd-dir
        probe read /proc/1/mem >/dev/null && echo LEAK mem
        probe read /proc/1/environ >/dev/null && echo LEAK environ
        for n in 0 1 2 3 4 5 6 7 8 9; do
            f=/proc/1/fd/$n
            readlink "$f" && echo LEAK "$f"
            probe read "$f" >/dev/null 2>&1 && echo LEAK open "$f"
        done
        echo done
    "#;
    let r = sh(&[], script);
    assert!(r.stdout.lines().any(|l| l == "done"), "{}", show(&r));
    assert!(
        !r.stdout.contains("LEAK"),
        "the init is readable: {}",
        show(&r)
    );

    let r = sh(
        &["--user", "1000"],
        "ls /proc/1/fd; echo rc=$?; readlink /proc/1/exe; echo rc=$?",
    );
    assert!(
        r.stdout.contains("rc=1\nrc=1"),
        "user 1000 reads the init's fds or exe: {}",
        show(&r)
    );
}

/// The init's working directory is `/` of the container (checked from the host: the init's
/// cwd and root are the same directory), never a host directory.
#[test]
fn init_cwd_is_the_container_root() {
    for opts in [&[][..], &["-w", "/tmp"][..]] {
        let bg = Bg::run(opts, &["/bin/sleep", "5"]);
        let init = init_pid_when_running(&bg);
        let stats = init.map(|p| {
            (
                std::fs::metadata(format!("/proc/{p}/cwd")),
                std::fs::metadata(format!("/proc/{p}/root")),
            )
        });
        // SIGTERM is passed on to the command: the container ends normally (within 20 s,
        // else it is killed).
        bg.signal(libc::SIGTERM);
        let r = bg.wait_bounded(20);
        let init = init.unwrap_or_else(|| panic!("no init running sleep; {}", show(&r)));
        let (cwd, root) = stats.unwrap();
        let (cwd, root) = (cwd.unwrap(), root.unwrap());
        assert_eq!(
            (cwd.dev(), cwd.ino()),
            (root.dev(), root.ino()),
            "init (host pid {init}) with {opts:?}: cwd is not its root"
        );
        let host_root = std::fs::metadata("/").unwrap();
        assert_ne!(
            (cwd.dev(), cwd.ino()),
            (host_root.dev(), host_root.ino()),
            "init cwd is the host root"
        );
    }
}

// ---- system calls the filter refuses ----------------------------------------------------------

/// "the default system-call filter refuses ... keyrings, bpf, perf ..." with EPERM, and the
/// other calls Docker's profile refuses: io_uring, userfaultfd, AF_VSOCK sockets.
#[test]
fn filtered_kernel_interfaces_are_eperm() {
    for sub in [
        "keyctl",
        "bpf",
        "perf-event-open",
        "io-uring-setup",
        "userfaultfd",
        "af-vsock",
    ] {
        assert_refused(&probe_in(&[], &[sub]), sub, &["EPERM"]);
    }
}

/// Docker's profile allows personality 0 but not READ_IMPLIES_EXEC (0x400000): EPERM.
#[test]
fn personality_read_implies_exec_is_eperm() {
    assert_refused(
        &probe_in(&[], &["personality", "0x400000"]),
        "personality",
        &["EPERM"],
    );
    let r = probe_in(&[], &["personality", "0"]);
    assert_eq!(line1(&r), "personality: ok", "{}", show(&r));
}

/// The filter admits only the x86_64 ABI: an x32 and an i386 (`int 0x80`) system call kill
/// the process (SIGSYS, 159) or meet a kernel without that ABI (ENOSYS).
#[test]
fn other_syscall_abis_are_killed() {
    assert_killed_or_enosys(&probe_in(&[], &["x32"]), "x32");
    assert_killed_or_enosys(&probe_in(&[], &["i386"]), "i386");
}

/// "... and system-call numbers it does not know with ENOSYS".
#[test]
fn unknown_syscall_number_is_enosys() {
    assert_refused(&probe_in(&[], &["syscall", "999"]), "syscall", &["ENOSYS"]);
}

// ---- capabilities, no_new_privs, seccomp ------------------------------------------------------

/// "root inside holds only Docker's default capabilities": bounding = effective = permitted
/// = the default set; inheritable and ambient empty.
#[test]
fn root_has_exactly_the_default_capabilities() {
    let default = cap_hex(DEFAULT_CAPS);
    assert_caps(
        &[],
        &[
            ("CapBnd", &default),
            ("CapEff", &default),
            ("CapPrm", &default),
            ("CapInh", NO_CAPS),
            ("CapAmb", NO_CAPS),
        ],
    );
}

/// "... a non-root user none" (the bounding set stays the default one).
#[test]
fn non_root_user_has_no_capabilities() {
    assert_caps(
        &["--user", "1000"],
        &[
            ("CapEff", NO_CAPS),
            ("CapPrm", NO_CAPS),
            ("CapInh", NO_CAPS),
            ("CapAmb", NO_CAPS),
            ("CapBnd", &cap_hex(DEFAULT_CAPS)),
        ],
    );
}

/// "`--cap-add CAP`, `--cap-drop CAP` ... Drops apply first, then adds".
#[test]
fn cap_add_and_drop_change_the_sets() {
    // NET_ADMIN is bit 12: 00000000a80435fb.
    let net_admin = cap_hex(DEFAULT_CAPS | 1 << 12);
    assert_caps(
        &["--cap-add", "NET_ADMIN"],
        &[
            ("CapBnd", &net_admin),
            ("CapEff", &net_admin),
            ("CapPrm", &net_admin),
            ("CapInh", NO_CAPS),
            ("CapAmb", NO_CAPS),
        ],
    );
    // Only NET_RAW (bit 13) is left, whatever the order.
    for opts in [
        &["--cap-drop", "ALL", "--cap-add", "NET_RAW"][..],
        &["--cap-add", "NET_RAW", "--cap-drop", "ALL"][..],
    ] {
        let only = "0000000000002000";
        assert_caps(
            opts,
            &[
                ("CapBnd", only),
                ("CapEff", only),
                ("CapPrm", only),
                ("CapInh", NO_CAPS),
                ("CapAmb", NO_CAPS),
            ],
        );
    }
    // CHOWN is bit 0 (00000000a80425fa); lower case works.
    let no_chown = cap_hex(DEFAULT_CAPS & !1);
    assert_caps(
        &["--cap-drop", "chown"],
        &[
            ("CapBnd", &no_chown),
            ("CapEff", &no_chown),
            ("CapPrm", &no_chown),
        ],
    );
}

/// "Every failure ... prints one line to stderr, `crab-can: ` ..." and exits 125: an
/// unknown capability name, named in the line.
#[test]
fn unknown_capability_is_an_error() {
    for opt in ["--cap-add", "--cap-drop"] {
        let r = probe_in(&[opt, "CRAB_NOPE"], &["caps"]);
        assert_error(&r, 125, "CRAB_NOPE");
        assert!(r.stdout.is_empty(), "the command ran: {}", show(&r));
    }
}

/// "`no_new_privs` is set; the default system-call filter ...": NoNewPrivs 1 and Seccomp 2
/// (filter) by default; `--seccomp unconfined` gives Seccomp 0.
#[test]
fn no_new_privs_and_seccomp_mode() {
    for opts in [&[][..], &["--user", "1000"][..]] {
        let r = run_in(image(), opts, &["/bin/cat", "/proc/self/status"]);
        let f = fields(&r.ok().stdout);
        assert_eq!(f["NoNewPrivs"], "1", "{opts:?}");
        assert_eq!(f["Seccomp"], "2", "{opts:?}");
    }
    let r = run_in(
        image(),
        &["--seccomp", "unconfined"],
        &["/bin/cat", "/proc/self/status"],
    );
    let f = fields(&r.ok().stdout);
    assert_eq!(f["Seccomp"], "0");
    assert_eq!(
        f["NoNewPrivs"], "1",
        "no_new_privs is set with --seccomp unconfined too"
    );
}

// ---- --user ------------------------------------------------------------------------------------

/// `-u USER[:GROUP]`: "a number, or a name from IMAGE's /etc/passwd (group: a number or a
/// name from IMAGE's /etc/group; default the user's primary group, else the uid).
/// Supplementary groups are cleared"; HOME from passwd, else "/" for a non-root uid.
#[test]
fn user_option_sets_ids_groups_and_home() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // --user, uid, gid, HOME
        ("1000", "1000", "1000", "/home/user"),
        ("user", "1000", "1000", "/home/user"),
        ("user:staff", "1000", "50", "/home/user"),
        ("1000:50", "1000", "50", "/home/user"),
        ("4242", "4242", "4242", "/"),
    ];
    let script = "id -u; id -g; id -G; echo \"$HOME\"; grep '^Groups:' /proc/self/status";
    for (user, uid, gid, home) in cases {
        let r = sh(&["--user", user], script);
        r.ok();
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.len(), 5, "--user {user}: {}", show(&r));
        assert_eq!(l[0], *uid, "uid with --user {user}");
        assert_eq!(l[1], *gid, "gid with --user {user}");
        // 'user' is a member of 'staff' in /etc/group: still no supplementary group.
        assert_eq!(
            l[2], *gid,
            "supplementary groups with --user {user} (id -G)"
        );
        assert_eq!(l[3], *home, "HOME with --user {user}");
        assert_eq!(
            l[4].trim_end(),
            "Groups:",
            "supplementary groups with --user {user}"
        );
    }
    // root by default: groups cleared too, HOME=/root.
    let r = sh(&[], script);
    let l: Vec<&str> = r.ok().stdout.lines().collect();
    assert_eq!(l.len(), 5, "{}", show(&r));
    assert_eq!(l[..4], ["0", "0", "0", "/root"], "{}", show(&r));
    assert_eq!(l[4].trim_end(), "Groups:", "{}", show(&r));
}

/// Unknown user (or group) names are errors: exit 125, one `crab-can: ` line naming them.
#[test]
fn unknown_user_is_an_error() {
    let r = probe_in(&["--user", "nosuchuser"], &["caps"]);
    assert_error(&r, 125, "nosuchuser");
    assert!(r.stdout.is_empty());
    let r = probe_in(&["--user", "user:nosuchgroup"], &["caps"]);
    assert_error(&r, 125, "nosuchgroup");
}

// ---- volumes ----------------------------------------------------------------------------------

/// `-v SRC:DST`: "bind-mount host path SRC at DST inside" read-write: a file written inside
/// appears on the host; "no mount of the container shows up on the host" while it runs.
#[test]
fn volume_is_read_write_and_invisible_on_the_host() {
    let h = TempDir::new("vol-rw");
    std::fs::write(h.path().join("from-host"), "hello\n").unwrap();
    let vol = format!("{}:/data", h.s());
    let bg = Bg::run(
        &["-v", &vol],
        &[
            "/bin/sh",
            "-c",
            "cat /data/from-host > /data/from-container && sleep 1",
        ],
    );
    let wrote = wait_for(10, || h.path().join("from-container").exists());
    let during = (host_mounts_with(h.s()), host_mounts_with(img()));
    // Bounded: it ends by itself within 20 s, or is killed (and fails below).
    let r = bg.wait_bounded(20);
    assert!(wrote, "nothing written through the volume; {}", show(&r));
    assert_eq!(
        during,
        (vec![], vec![]),
        "container mounts visible on the host"
    );
    assert_eq!(r.code, 0, "stderr {:?}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(h.path().join("from-container")).unwrap(),
        "hello\n"
    );
}

/// `-v SRC:DST:ro`: "`:ro` makes it read-only": writes fail with EROFS; the host file is
/// unchanged.
#[test]
fn read_only_volume_refuses_writes() {
    let h = TempDir::new("vol-ro");
    std::fs::write(h.path().join("f"), "original\n").unwrap();
    let vol = format!("{}:/data:ro", h.s());
    let r = sh(
        &["-v", &vol],
        "cat /data/f; probe write /data/f changed; probe write /data/new x",
    );
    assert_eq!(
        r.stdout.lines().next(),
        Some("original"),
        "volume not mounted; {}",
        show(&r)
    );
    let l: Vec<&str> = r.stdout.lines().collect();
    assert!(
        l.len() == 3 && l[1].starts_with("write: EROFS (") && l[2].starts_with("write: EROFS ("),
        "{}",
        show(&r)
    );
    assert_eq!(
        std::fs::read_to_string(h.path().join("f")).unwrap(),
        "original\n"
    );
    assert!(!h.path().join("new").exists());
}

/// A missing destination is created (with its parents) inside IMAGE.
#[test]
fn volume_destination_is_created() {
    let img = fresh_image("vol-mkdir");
    let h = TempDir::new("vol-mkdir");
    std::fs::write(h.path().join("f"), "here\n").unwrap();
    assert!(!img.join("new").exists());
    let vol = format!("{}:/new/deep/dir", h.s());
    let r = sh_in(&img, &["-v", &vol], "cat /new/deep/dir/f");
    assert_eq!(r.code, 0, "{}", show(&r));
    assert_eq!(r.stdout, "here\n");
    assert!(
        img.join("new/deep/dir").is_dir(),
        "destination not created in IMAGE"
    );
    assert!(
        !Path::new("/new/deep/dir").exists(),
        "destination created on the host"
    );
}

/// "Every failure ... one line ... 125": a missing volume source is named.
#[test]
fn missing_volume_source_is_an_error() {
    let missing = format!("/crab-can-no-such-dir-{}", std::process::id());
    let r = probe_in(&["-v", &format!("{missing}:/data")], &["caps"]);
    assert_error(&r, 125, &missing);
    assert!(r.stdout.is_empty());
}

/// Malformed volume specs are errors (125, one line), never half-mounted.
#[test]
fn malformed_volume_spec_is_an_error() {
    let h = TempDir::new("vol-bad");
    let s = h.s();
    for spec in [
        s.to_string(),
        format!("{s}:"),
        ":/data".to_string(),
        format!("{s}:/data:bogus"),
        format!("{s}:/data:ro:x"),
        format!("{s}:data"),
    ] {
        let r = probe_in(&["-v", &spec], &["caps"]);
        assert_error(&r, 125, "crab-can: ");
        assert!(r.stdout.is_empty(), "command ran with -v {spec:?}");
    }
    assert!(host_mounts_with(s).is_empty());
}

/// "`/` is IMAGE; the host's root is not reachable by any path": a volume destination that
/// goes through a symlink to an absolute path (or `..`) inside IMAGE lands inside IMAGE or is
/// refused, never on the host's /etc.
#[test]
fn volume_destination_symlink_stays_inside_image() {
    let img = fresh_image("vol-symlink");
    let h = TempDir::new("vol-symlink");
    std::fs::write(h.path().join("payload"), "payload\n").unwrap();
    std::os::unix::fs::symlink("/etc", img.join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc", img.join("evil2")).unwrap();
    for link in ["evil", "evil2"] {
        let leaf = format!("crab-can-vol-{}-{link}", std::process::id());
        let host_target = PathBuf::from("/etc").join(&leaf);
        assert!(!host_target.exists());
        let _guard = MustNotExist(host_target.clone());
        let vol = format!("{}:/{link}/{leaf}", h.s());
        let r = sh_in(&img, &["-v", &vol], &format!("cat /{link}/{leaf}/payload"));
        assert!(
            !host_target.exists(),
            "the volume went onto the host's {}; {}",
            host_target.display(),
            show(&r)
        );
        assert!(
            host_mounts_with(&leaf).is_empty() && host_mounts_with(h.s()).is_empty(),
            "mounted on the host"
        );
        if r.code == 0 {
            assert_eq!(r.stdout, "payload\n");
            assert!(
                img.join("etc").join(&leaf).is_dir(),
                "{link}: destination not inside IMAGE/etc"
            );
        } else {
            assert_error(&r, 125, "volume");
        }
    }
}

// ---- --read-only ------------------------------------------------------------------------------

/// "`--read-only`: mount the container's root read-only": writes to `/` fail with EROFS,
/// /dev/shm stays writable.
#[test]
fn read_only_root_refuses_writes_but_dev_shm_works() {
    let r = sh(
        &["--read-only"],
        "probe write /crab-can-x y; probe write /etc/passwd y; probe write /dev/shm/x y",
    );
    let l: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(l.len(), 3, "{}", show(&r));
    assert!(l[0].starts_with("write: EROFS ("), "{}", show(&r));
    assert!(l[1].starts_with("write: EROFS ("), "{}", show(&r));
    assert_eq!(l[2], "write: ok", "{}", show(&r));
    assert!(!image().join("crab-can-x").exists());
}

/// "`--read-only`": volumes (one of them on /tmp) stay writable.
#[test]
fn read_only_root_keeps_volumes_writable() {
    let t = TempDir::new("ro-tmp");
    let d = TempDir::new("ro-data");
    let vt = format!("{}:/tmp", t.s());
    let vd = format!("{}:/data", d.s());
    let r = sh(
        &["--read-only", "-v", &vt, "-v", &vd],
        "probe write /tmp/x y; probe write /data/x y; probe write /x y",
    );
    assert_eq!(
        r.stdout.lines().collect::<Vec<_>>().first(),
        Some(&"write: ok"),
        "/tmp volume; {}",
        show(&r)
    );
    assert_eq!(
        r.stdout.lines().nth(1),
        Some("write: ok"),
        "/data volume; {}",
        show(&r)
    );
    assert!(
        r.stdout
            .lines()
            .nth(2)
            .unwrap_or("")
            .starts_with("write: EROFS ("),
        "{}",
        show(&r)
    );
    assert_eq!(std::fs::read_to_string(t.path().join("x")).unwrap(), "y");
    assert_eq!(std::fs::read_to_string(d.path().join("x")).unwrap(), "y");
}

// ---- IMAGE shape -----------------------------------------------------------------------------

/// An IMAGE whose /proc or /sys is a symbolic link is refused (125, one line naming it):
/// mounting over it would follow the link.
#[test]
fn image_with_symlinked_proc_or_sys_is_refused() {
    for dir in ["proc", "sys"] {
        let img = fresh_image(&format!("symlink-{dir}"));
        let victim = TempDir::new(&format!("victim-{dir}"));
        std::fs::remove_dir(img.join(dir)).unwrap();
        std::os::unix::fs::symlink(victim.path(), img.join(dir)).unwrap();
        let r = run_in(&img, &[], &["/bin/true"]);
        assert_error(&r, 125, &format!("/{dir}"));
        assert_eq!(
            std::fs::read_dir(victim.path()).unwrap().count(),
            0,
            "something was put in the link's target"
        );
        assert!(host_mounts_with(victim.s()).is_empty());
    }
}
