//! config.json → container features (../shared/design/OCI.md section 3), each checked
//! from inside the container (what the kernel says: /proc/self/status, /proc/self/limits,
//! /proc/self/mountinfo, stat, the errors of denied calls) or on the host (cgroup files,
//! owners of files written through the bind-mounted /tmp).
//!
//! Every test runs against runc (the reference) and crab-can, each in a fresh `Lab`
//! (tests/common/bundle.rs), and checks that nothing is left behind. `Who::CrabCanOnly`
//! marks what runc 1.1.5 cannot do here (said at each test).
//!
//!   CRAB_CAN=$PWD/crab-can cargo test --release --test oci_config -- --test-threads=2
mod common;

use common::bundle::*;
use common::{Run, show};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[track_caller]
fn assert_ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}", show(r));
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
}

/// `cfg` as JSON with the values at dotted paths replaced by JSON texts
/// (`("linux.sysctl", "{...}")`).
fn patched(cfg: &Config, sets: &[(&str, &str)]) -> String {
    let mut j = Json::parse(&cfg.json()).unwrap();
    for (path, v) in sets {
        let keys: Vec<&str> = path.split('.').collect();
        let v = Json::parse(v).unwrap_or_else(|e| panic!("test bug: {path}: {e}: {v}"));
        j.set(&keys, v);
    }
    j.dump()
}

/// `run --bundle B ID` in the foreground with `text` as config.json: the container's
/// stdout and stderr come back in the Run.
fn run_fg(lab: &Lab, id: &str, text: &str) -> Run {
    let b = lab.bundle_text(id, text);
    lab.run_files(&["run", "--bundle", b.to_str().unwrap(), id])
}

/// Run `text` in the foreground, check it exited 0 and left nothing; its stdout.
#[track_caller]
fn run_ok(lab: &Lab, id: &str, text: &str) -> String {
    let r = run_fg(lab, id, text);
    assert_ok(&r, &format!("{} run {id}", lab.rt.kind.name()));
    lab.assert_gone(id);
    r.stdout
}

/// `create` of `text` must fail with exit 1, name `needle` (when given), and leave nothing.
#[track_caller]
fn create_refused(lab: &Lab, id: &str, text: &str, needle: Option<&str>, what: &str) {
    let b = lab.bundle_text(id, text);
    let r = lab.create(id, &b);
    assert_eq!(r.code, 1, "{what}: want exit 1; {}", show(&r));
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    if let Some(n) = needle {
        assert!(
            r.stderr.contains(n),
            "{what}: stderr should say {n:?}; {}",
            show(&r)
        );
    }
    assert!(!b.join("init.pid").exists(), "{what}: a pid file");
    lab.assert_gone(id);
}

/// The value of the `Key:` line of a /proc status text (trimmed).
fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// The capability mask of these names (CAP_CHOWN → bit 0, ...), for the few used here.
fn cap_mask(names: &[&str]) -> u64 {
    let bit = |n: &str| match n {
        "CAP_CHOWN" => 0,
        "CAP_DAC_OVERRIDE" => 1,
        "CAP_FOWNER" => 3,
        "CAP_KILL" => 5,
        "CAP_SETGID" => 6,
        "CAP_SETUID" => 7,
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_RAW" => 13,
        "CAP_MKNOD" => 27,
        "CAP_AUDIT_WRITE" => 29,
        _ => panic!("test bug: cap {n}"),
    };
    names.iter().fold(0, |m, n| m | 1u64 << bit(n))
}

/// The mounts of a mountinfo text by mount point: (per-mount options, optional fields,
/// super options).
fn mountinfo(text: &str) -> BTreeMap<String, (String, String, String)> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let Some((a, b)) = l.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = a.split(' ').collect();
        if f.len() < 6 {
            continue;
        }
        let sup = b.split(' ').nth(2).unwrap_or("").to_string();
        m.insert(f[4].to_string(), (f[5].to_string(), f[6..].join(" "), sup));
    }
    m
}

/// The interface names of a /proc/net/dev text.
fn ifaces(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

/// The file `file` of container `id`'s cgroup in the hierarchy of controller `ctrl`
/// (/sys/fs/cgroup/<ctrl>/<cgroupsPath>, or the v2 tree), trimmed.
fn cg_file(lab: &Lab, id: &str, ctrl: &str, file: &str) -> Option<String> {
    let rel = lab.cgroups_path(id);
    let rel = rel.trim_start_matches('/');
    let mut dirs = vec![Path::new(common::CG).join(ctrl).join(rel)];
    dirs.push(Path::new(common::CG).join(rel));
    dirs.iter()
        .find_map(|d| fs::read_to_string(d.join(file)).ok())
        .map(|s| s.trim().to_string())
}

// ---- process (OCI.md 3: process) ---------------------------------------------------------

#[test]
fn user_groups_umask_rlimits_oom_score() {
    each("proc-user", Who::All, |lab| {
        let id = lab.id("u");
        let cfg = lab.config(
            &id,
            "id -u; id -g; grep '^Groups:' /proc/self/status; umask; \
             grep 'Max open files' /proc/self/limits; cat /proc/self/oom_score_adj; \
             echo HOME=$HOME",
        );
        let text = patched(
            &cfg,
            &[
                (
                    "process.user",
                    // umask 0o027; groups: exactly these two.
                    "{\"uid\": 1000, \"gid\": 1000, \"umask\": 23, \"additionalGids\": [50, 5]}",
                ),
                (
                    "process.rlimits",
                    "[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 512, \"hard\": 2048}]",
                ),
                ("process.oomScoreAdj", "123"),
            ],
        );
        let out = run_ok(lab, &id, &text);
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l.len(), 7, "output: {out:?}");
        assert_eq!(l[0], "1000", "uid; {out:?}");
        assert_eq!(l[1], "1000", "gid; {out:?}");
        let groups: Vec<&str> = status_field(l[2], "Groups")
            .unwrap_or("?")
            .split_whitespace()
            .collect();
        assert_eq!(
            set_of(&groups),
            set_of(&["5", "50"]),
            "additionalGids; {out:?}"
        );
        assert_eq!(l[3], "0027", "umask; {out:?}");
        let lim: Vec<&str> = l[4].split_whitespace().collect();
        assert_eq!(
            &lim[3..5],
            ["512", "2048"],
            "RLIMIT_NOFILE soft/hard: {:?}",
            l[4]
        );
        assert_eq!(l[5], "123", "oomScoreAdj");
        // HOME from the image's /etc/passwd for uid 1000.
        assert_eq!(l[6], "HOME=/home/user", "HOME added for the user");
    });
}

#[test]
fn capability_sets_and_no_new_privileges() {
    let bnd = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_AUDIT_WRITE",
    ];
    let prm = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_NET_BIND_SERVICE",
    ];
    let eff = ["CAP_CHOWN", "CAP_KILL"];
    let inh = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let amb = ["CAP_NET_BIND_SERVICE"];
    let caps = format!(
        "{{\"bounding\": {}, \"permitted\": {}, \"effective\": {}, \"inheritable\": {}, \"ambient\": {}}}",
        js_list(&bnd),
        js_list(&prm),
        js_list(&eff),
        js_list(&inh),
        js_list(&amb)
    );
    let (b, p, i, a) = (
        cap_mask(&bnd),
        cap_mask(&prm),
        cap_mask(&inh),
        cap_mask(&amb),
    );
    each("proc-caps", Who::All, |lab| {
        // What the kernel makes of the sets at the payload's execve (capabilities(7)):
        // - root with no_new_privs: P' = (I | B | A) & P (NNP forbids gaining) = P, E' = P'.
        // - uid 1000 (no file caps, no setuid bit), no NNP: P' = E' = A.
        // Bounding, inheritable and ambient are kept as given in both.
        let cases = [(0u32, true, p, p, "1"), (1000u32, false, a, a, "0")];
        for (uid, nnp, want_prm, want_eff, want_nnp) in cases {
            let id = lab.id("c");
            let cfg = lab.config(&id, "grep -E '^(Cap|NoNewPrivs)' /proc/$$/status");
            let user = format!("{{\"uid\": {uid}, \"gid\": {uid}}}");
            let text = patched(
                &cfg,
                &[
                    ("process.capabilities", &caps),
                    ("process.user", &user),
                    (
                        "process.noNewPrivileges",
                        if nnp { "true" } else { "false" },
                    ),
                ],
            );
            let out = run_ok(lab, &id, &text);
            let what = format!("uid {uid}, noNewPrivileges {nnp}: {out}");
            let hex = common::cap_hex;
            assert_eq!(
                status_field(&out, "CapBnd"),
                Some(hex(b).as_str()),
                "{what}"
            );
            assert_eq!(
                status_field(&out, "CapInh"),
                Some(hex(i).as_str()),
                "{what}"
            );
            assert_eq!(
                status_field(&out, "CapAmb"),
                Some(hex(a).as_str()),
                "{what}"
            );
            assert_eq!(
                status_field(&out, "CapPrm"),
                Some(hex(want_prm).as_str()),
                "{what}"
            );
            assert_eq!(
                status_field(&out, "CapEff"),
                Some(hex(want_eff).as_str()),
                "{what}"
            );
            assert_eq!(status_field(&out, "NoNewPrivs"), Some(want_nnp), "{what}");
        }
    });
}

#[test]
fn env_verbatim_home_cwd_and_stdio() {
    each("proc-env", Who::All, |lab| {
        let id = lab.id("e");
        let mut cfg = lab.config(
            &id,
            // Not the script's last command: busybox sh would exec tr itself, and the
            // environ it opened would be of the old image.
            "pwd; grep '^Groups:' /proc/self/status; \
             tr '\\0' '\\n' < /proc/$$/environ; echo to-stderr >&2",
        );
        let env = [
            "PATH=/bin:/usr/bin",
            "FOO=bar  baz",
            "EMPTY=",
            "WITH=eq=sign",
            "TERM=dumb",
        ];
        cfg.env = env.iter().map(|s| s.to_string()).collect();
        // Missing everywhere: made by the runtime (in the rw /tmp of the read-only root).
        cfg.cwd = "/tmp/made/here".into();
        let r = run_fg(lab, &id, &cfg.json());
        assert_ok(&r, "run");
        lab.assert_gone(&id);
        let mut l = r.stdout.lines();
        assert_eq!(l.next(), Some("/tmp/made/here"), "cwd: {}", show(&r));
        // Root with no additionalGids: no supplementary groups at all.
        assert_eq!(
            l.next().and_then(|g| status_field(g, "Groups")),
            Some(""),
            "groups: {}",
            show(&r)
        );
        let got: BTreeSet<String> = l.map(str::to_string).collect();
        let mut want = set_of(&env);
        want.insert("HOME=/root".into());
        assert_eq!(
            got,
            want,
            "the environment, verbatim plus HOME: {}",
            show(&r)
        );
        assert!(
            r.stderr.contains("to-stderr\n"),
            "stderr passes through: {}",
            show(&r)
        );
        // HOME given: kept as is.
        let id = lab.id("h");
        let mut cfg = lab.config(&id, "echo \"$HOME\"");
        cfg.env.push("HOME=/somewhere/else".into());
        assert_eq!(run_ok(lab, &id, &cfg.json()), "/somewhere/else\n");
    });
}

// ---- seccomp (OCI.md 3: seccomp) -----------------------------------------------------------

/// Syscalls enough for busybox sh and its applets, the runtimes' last steps before
/// execve, plus a name no kernel has (to be skipped).
const ALLOWED: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "openat2",
    "close",
    "close_range",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "poll",
    "ppoll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "sigaltstack",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "faccessat",
    "faccessat2",
    "pipe",
    "pipe2",
    "select",
    "pselect6",
    "sched_yield",
    "sched_getaffinity",
    "mremap",
    "madvise",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getgroups",
    "getresuid",
    "getresgid",
    "setuid",
    "setgid",
    "setgroups",
    "setresuid",
    "setresgid",
    "setreuid",
    "setregid",
    "setfsuid",
    "setfsgid",
    "capget",
    "capset",
    "prctl",
    "arch_prctl",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "kill",
    "tgkill",
    "tkill",
    "uname",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "readlink",
    "readlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "umask",
    "getrlimit",
    "setrlimit",
    "prlimit64",
    "getrusage",
    "sysinfo",
    "times",
    "getpgrp",
    "getpgid",
    "setpgid",
    "setsid",
    "getsid",
    "futex",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "getdents",
    "getdents64",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "signalfd4",
    "getrandom",
    "membarrier",
    "mlock",
    "munlock",
    "socket",
    "connect",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "utimensat",
    "truncate",
    "ftruncate",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "getpriority",
    "setpriority",
    "sched_getparam",
    "sched_getscheduler",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "pidfd_open",
    "pidfd_send_signal",
    "crab_no_such_syscall",
];

#[test]
fn seccomp_errno_rules_with_args() {
    each("seccomp-rules", Who::All, |lab| {
        let id = lab.id("s");
        let cfg = lab.config(
            &id,
            "mkdir /tmp/denied 2>&1; echo mkdir=$?; \
             sleep 100 & p=$!; kill -USR1 $p 2>&1; echo usr1=$?; \
             kill -TERM $p 2>&1; echo term=$?; wait $p; echo waited=$?; \
             touch /tmp/allowed && echo touch=ok",
        );
        let seccomp = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \
            \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"], \
            \"syscalls\": [\
              {\"names\": [\"crab_no_such_syscall\", \"mkdir\", \"mkdirat\"], \
               \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}, \
              {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1, \
               \"args\": [{\"index\": 1, \"value\": 10, \"op\": \"SCMP_CMP_EQ\"}]}]}";
        let out = run_ok(lab, &id, &patched(&cfg, &[("linux.seccomp", seccomp)]));
        let l: Vec<&str> = out.lines().collect();
        let has = |s: &str| l.contains(&s);
        assert!(
            l.iter()
                .any(|x| x.contains("mkdir") && x.contains("Operation not permitted")),
            "mkdir denied with EPERM: {out}"
        );
        assert!(has("mkdir=1"), "{out}");
        assert!(
            l.iter()
                .any(|x| x.contains("kill") && x.contains("Operation not permitted")),
            "kill(_, SIGUSR1) denied with EPERM: {out}"
        );
        assert!(has("usr1=1"), "{out}");
        assert!(has("term=0"), "kill(_, SIGTERM) is allowed: {out}");
        assert!(has("waited=143"), "the sleep died of SIGTERM: {out}");
        assert!(has("touch=ok"), "{out}");
        assert!(!lab.io(&id).join("denied").exists());
        assert!(lab.io(&id).join("allowed").exists());
    });
}

#[test]
fn seccomp_default_errno_with_allow_list() {
    each("seccomp-default", Who::All, |lab| {
        let id = lab.id("d");
        let cfg = lab.config(
            &id,
            "echo start; mkdir /tmp/denied 2>&1; echo mkdir=$?; \
             touch /tmp/allowed && echo touch=ok",
        );
        // Default ERRNO with errno 13 (EACCES); everything busybox needs allowed.
        let seccomp = format!(
            "{{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 13, \
             \"architectures\": [\"SCMP_ARCH_X86_64\"], \
             \"syscalls\": [{{\"names\": {}, \"action\": \"SCMP_ACT_ALLOW\"}}]}}",
            js_list(ALLOWED)
        );
        let out = run_ok(lab, &id, &patched(&cfg, &[("linux.seccomp", &seccomp)]));
        assert!(out.starts_with("start\n"), "{out}");
        assert!(
            out.contains("Permission denied"),
            "mkdir, not in the list, fails with defaultErrnoRet: {out}"
        );
        assert!(out.contains("mkdir=1\n"), "{out}");
        assert!(out.contains("touch=ok\n"), "{out}");
        assert!(!lab.io(&id).join("denied").exists());
    });
}

// ---- devices (OCI.md 3: devices, linux.devices) --------------------------------------------

/// major:minor of the host's root filesystem's device (a real disk if it has one).
fn root_disk() -> (u32, u32) {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dev = mi
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(' ').nth(2))
        .and_then(|d| d.split_once(':'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .filter(|(a, _)| *a != 0);
    if let Some(d) = dev {
        return d;
    }
    // A root on overlay or tmpfs: any block device of the host.
    fs::read_dir("/sys/dev/block")
        .unwrap()
        .flatten()
        .find_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let (a, b) = n.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .expect("a block device on the host")
}

#[test]
fn devices_cgroup_and_linux_devices() {
    each("devices", Who::All, |lab| {
        let (maj, min) = root_disk();
        let id = lab.id("v");
        let mut cfg = lab.config(
            &id,
            &format!(
                "probe mknod-read /dev/crabdisk {maj} {min}; \
                 echo x > /dev/null && echo null=ok; head -c 3 /dev/zero | wc -c; \
                 head -c 5 /dev/urandom | wc -c; \
                 if true < /dev/fuse; then echo fuse=open; fi; \
                 stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/crabfifo"
            ),
        );
        cfg.caps.push("CAP_MKNOD".into());
        // containerd's rule: deny everything; the runtime adds the default devices. Plus
        // an allow for the one device of linux.devices that is used.
        cfg.resources = Some(
            "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}, \
              {\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rwm\"}]}"
                .into(),
        );
        // Modes 0660 and 0620: a runtime applying its umask (022) would lose the g+w.
        let devices = "[{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229, \
              \"fileMode\": 432, \"uid\": 1000, \"gid\": 50}, \
             {\"path\": \"/dev/crabfifo\", \"type\": \"p\", \"fileMode\": 400, \"uid\": 0, \"gid\": 5}]";
        let out = run_ok(lab, &id, &patched(&cfg, &[("linux.devices", devices)]));
        let l: Vec<&str> = out.lines().collect();
        // The node can be made or not (runc allows mknod of any node), but never opened.
        assert_eq!(
            l.first().copied(),
            Some("mknod-read: EPERM (Operation not permitted)"),
            "the host's disk {maj}:{min} must not open: {out}"
        );
        assert!(l.contains(&"null=ok"), "/dev/null: {out}");
        assert_eq!(
            l.iter().filter(|x| **x == "3" || **x == "5").count(),
            2,
            "/dev/zero, /dev/urandom: {out}"
        );
        assert!(l.contains(&"fuse=open"), "/dev/fuse allowed: {out}");
        assert!(
            l.contains(&"/dev/fuse character special file a:e5 660 1000:50"),
            "/dev/fuse as linux.devices says: {out}"
        );
        assert!(
            l.contains(&"/dev/crabfifo fifo 0:0 620 0:5"),
            "the fifo as linux.devices says: {out}"
        );
    });
}

// ---- namespaces (OCI.md 3: linux.namespaces, uidMappings, sysctl) -------------------------

#[test]
fn uts_hostname_and_domainname() {
    each("ns-uts", Who::All, |lab| {
        let id = lab.id("h");
        let mut cfg = lab.config(&id, "hostname; cat /proc/sys/kernel/domainname");
        cfg.hostname = Some("crabhost".into());
        let out = run_ok(
            lab,
            &id,
            &patched(&cfg, &[("domainname", "\"crab.example\"")]),
        );
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l.first(), Some(&"crabhost"), "hostname: {out}");
        // runc 1.1.5 ignores domainname (runc 1.2 sets it): checked for crab-can.
        if lab.strict() {
            assert_eq!(l.get(1), Some(&"crab.example"), "domainname: {out}");
        }
    });
}

fn uptime() -> f64 {
    fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn time_namespace_offsets() {
    // runc 1.1.5 has no time namespace (runc 1.2 added it): crab-can only.
    each("ns-time", Who::CrabCanOnly, |lab| {
        let id = lab.id("t");
        let mut cfg = lab.config(&id, "cat /proc/self/timens_offsets; cat /proc/uptime");
        cfg.namespaces.push(Ns {
            kind: "time".into(),
            path: None,
        });
        // /proc/uptime counts CLOCK_BOOTTIME, so boottime moves too.
        let offs = "{\"monotonic\": {\"secs\": 86400, \"nanosecs\": 0}, \
                    \"boottime\": {\"secs\": 86400, \"nanosecs\": 0}}";
        let before = uptime();
        let out = run_ok(lab, &id, &patched(&cfg, &[("linux.timeOffsets", offs)]));
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l.len(), 3, "{out}");
        let offsets: BTreeSet<Vec<&str>> = l[..2]
            .iter()
            .map(|x| x.split_whitespace().collect())
            .collect();
        assert_eq!(
            offsets,
            [
                vec!["monotonic", "86400", "0"],
                vec!["boottime", "86400", "0"]
            ]
            .into_iter()
            .collect(),
            "timens_offsets: {out}"
        );
        let inside: f64 = l[2].split_whitespace().next().unwrap().parse().unwrap();
        assert!(
            inside >= before + 86400.0 && inside < uptime() + 86400.0 + 1.0,
            "uptime inside {inside}, outside {before}"
        );
    });
}

/// Fails with crab-can at the time of writing ("cannot mount proc on /proc: Operation not
/// permitted"): src/rootfs.rs `enter_image` pivots and detaches the host's root before the
/// mounts, so when proc is mounted the namespace holds no fully visible proc, which the
/// kernel requires in a user namespace (fs/namespace.c mount_too_revealing). runc mounts
/// before pivot_root.
#[test]
fn user_namespace_mappings() {
    each("ns-user", Who::All, |lab| {
        let id = lab.id("u");
        let io = lab.io(&id);
        fs::set_permissions(&io, fs::Permissions::from_mode(0o777)).unwrap();
        let mut cfg = lab.config(
            &id,
            "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/owned",
        );
        cfg.namespaces.push(Ns {
            kind: "user".into(),
            path: None,
        });
        let map = "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]";
        let out = run_ok(
            lab,
            &id,
            &patched(
                &cfg,
                &[("linux.uidMappings", map), ("linux.gidMappings", map)],
            ),
        );
        let l: Vec<Vec<&str>> = out
            .lines()
            .map(|x| x.split_whitespace().collect())
            .collect();
        assert_eq!(l.len(), 4, "{out}");
        assert_eq!(l[0], ["0"], "uid inside: {out}");
        assert_eq!(l[1], ["0"], "gid inside: {out}");
        assert_eq!(l[2], ["0", "100000", "65536"], "uid_map: {out}");
        assert_eq!(l[3], ["0", "100000", "65536"], "gid_map: {out}");
        let md = fs::metadata(io.join("owned")).expect("the file made inside");
        assert_eq!((md.uid(), md.gid()), (100000, 100000), "owner on the host");
    });
}

#[test]
fn no_network_namespace_sees_host_interfaces() {
    each("ns-nonet", Who::All, |lab| {
        let id = lab.id("n");
        let cfg = lab.config(&id, "cat /proc/net/dev").without_ns("network");
        let out = run_ok(lab, &id, &cfg.json());
        let host = ifaces(&fs::read_to_string("/proc/net/dev").unwrap());
        assert!(host.len() > 1, "the host has only {host:?}");
        assert_eq!(ifaces(&out), host, "interfaces inside: {out}");
        // And with one: only lo.
        let id = lab.id("w");
        let cfg = lab.config(&id, "cat /proc/net/dev");
        assert_eq!(ifaces(&run_ok(lab, &id, &cfg.json())), set_of(&["lo"]));
    });
}

#[test]
fn sysctl_namespaced_applied_and_host_one_refused() {
    each("sysctl", Who::All, |lab| {
        let host = |k: &str| fs::read_to_string(format!("/proc/sys/{k}")).unwrap();
        let (port0, shm0, swp0) = (
            host("net/ipv4/ip_unprivileged_port_start"),
            host("kernel/shmmax"),
            host("vm/swappiness"),
        );
        let id = lab.id("s");
        let cfg = lab.config(
            &id,
            "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmax",
        );
        let sysctl = "{\"net.ipv4.ip_unprivileged_port_start\": \"1000\", \
                      \"kernel.shmmax\": \"123456789\"}";
        let out = run_ok(lab, &id, &patched(&cfg, &[("linux.sysctl", sysctl)]));
        assert_eq!(out, "1000\n123456789\n");
        // Not namespaced: refused at create, nothing left, the host untouched.
        let id = lab.id("v");
        let swp = if swp0.trim() == "37" { "38" } else { "37" };
        let text = patched(
            &lab.config(&id, Lab::SLEEPER),
            &[("linux.sysctl", &format!("{{\"vm.swappiness\": \"{swp}\"}}"))],
        );
        create_refused(lab, &id, &text, Some("vm.swappiness"), "vm.swappiness");
        assert_eq!(host("net/ipv4/ip_unprivileged_port_start"), port0);
        assert_eq!(host("kernel/shmmax"), shm0);
        assert_eq!(host("vm/swappiness"), swp0);
    });
}

// ---- mounts (OCI.md 3: mounts, root.readonly, maskedPaths, readonlyPaths) -----------------

#[test]
fn mounts_bind_flags_tmpfs_cgroup_masks() {
    each("mounts", Who::All, |lab| {
        let id = lab.id("m");
        let src_ro = lab.dir.join("src-ro");
        let src_fl = lab.dir.join("src-flags");
        for d in [&src_ro, &src_fl] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(src_ro.join("f"), "kept\n").unwrap();
        let mut cfg = lab.config(
            &id,
            "(echo x > /tmp/ro/f) 2>&1; echo ro=$?; cat /tmp/ro/f; \
             touch /rootfile 2>&1; echo rootfs=$?; \
             (echo 1 > /proc/sys/vm/overcommit_memory) 2>&1; echo procsys=$?; \
             echo timer_list=$(cat /proc/timer_list | wc -c); echo firmware=$(ls -A /sys/firmware 2>&1); \
             stat -c 'tfs=%a' /tmp/tfs; \
             echo limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); \
             cat /proc/self/mountinfo",
        );
        let s = |p: &PathBuf| p.to_str().unwrap().to_string();
        let m = |dest: &str, typ: &str, src: &str, o: &[&str]| Mount::new(dest, typ, src, o);
        cfg.mounts.extend([
            m("/tmp/ro", "bind", &s(&src_ro), &["bind", "ro"]),
            m("/tmp/rb", "bind", "/dev", &["rbind", "nosuid"]),
            m("/tmp/b", "bind", "/dev", &["bind", "nosuid"]),
            m(
                "/tmp/flags",
                "bind",
                &s(&src_fl),
                &["bind", "nosuid", "nodev", "noexec"],
            ),
            m("/tmp/prop1", "bind", &s(&src_fl), &["rbind", "rslave"]),
            m("/tmp/prop2", "bind", &s(&src_fl), &["bind", "rprivate"]),
            m(
                "/tmp/tfs",
                "tmpfs",
                "tmpfs",
                &["nosuid", "size=1m", "mode=1750"],
            ),
            m(
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                &["nosuid", "noexec", "nodev", "relatime", "ro"],
            ),
        ]);
        cfg.readonly_paths.push("/proc/crab-can-no-such-ro".into());
        cfg.resources = Some("{\"memory\": {\"limit\": 67108864}}".into());
        assert!(cfg.readonly, "the default config has a read-only root");
        let out = run_ok(lab, &id, &cfg.json());
        let l: Vec<&str> = out.lines().collect();
        let has = |s: &str| l.contains(&s);
        assert!(
            l.iter()
                .any(|x| x.contains("/tmp/ro/f") && x.contains("Read-only file system")),
            "ro bind: {out}"
        );
        assert!(has("ro=1") && has("kept"), "{out}");
        assert!(
            l.iter()
                .any(|x| x.contains("/rootfile") && x.contains("Read-only file system")),
            "root.readonly: {out}"
        );
        assert!(has("rootfs=1"), "{out}");
        assert!(
            l.iter()
                .any(|x| x.contains("Read-only file system") && x.contains("overcommit")),
            "readonlyPaths /proc/sys: {out}"
        );
        assert!(has("procsys=1"), "{out}");
        assert!(
            fs::metadata("/proc/timer_list").is_ok(),
            "test bug: the host has no /proc/timer_list to mask"
        );
        assert!(
            has("timer_list=0"),
            "masked /proc/timer_list reads empty: {out}"
        );
        assert!(has("firmware="), "masked /sys/firmware is empty: {out}");
        assert!(has("tfs=1750"), "tmpfs mode=: {out}");
        assert!(
            has("limit=67108864"),
            "the cgroup mount shows the container's own memory cgroup: {out}"
        );
        let mi = mountinfo(&out);
        let get = |p: &str| {
            mi.get(p)
                .cloned()
                .unwrap_or_else(|| panic!("no mount at {p} inside: {out}"))
        };
        let opts = |p: &str| {
            get(p)
                .0
                .split(',')
                .map(str::to_string)
                .collect::<BTreeSet<_>>()
        };
        assert!(opts("/tmp/ro").contains("ro"), "{:?}", get("/tmp/ro"));
        for f in ["nosuid", "nodev", "noexec"] {
            assert!(
                opts("/tmp/flags").contains(f),
                "{f} on /tmp/flags: {:?}",
                get("/tmp/flags")
            );
        }
        assert!(opts("/tmp/flags").contains("rw"), "{:?}", get("/tmp/flags"));
        assert!(opts("/tmp/b").contains("nosuid"), "{:?}", get("/tmp/b"));
        // rbind takes /dev's submounts along, bind does not.
        assert!(mi.contains_key("/tmp/rb/pts"), "rbind: {out}");
        assert!(!mi.keys().any(|k| k.starts_with("/tmp/b/")), "bind: {out}");
        let _ = (get("/tmp/prop1"), get("/tmp/prop2"));
        let tfs = get("/tmp/tfs");
        assert!(
            tfs.2.split(',').any(|o| o == "size=1024k") && tfs.2.contains("mode=1750"),
            "tmpfs size= and mode=: {tfs:?}"
        );
        assert!(opts("/tmp/tfs").contains("nosuid"), "{tfs:?}");
        assert!(opts("/").contains("ro"), "root: {:?}", get("/"));
        assert!(
            opts("/sys/fs/cgroup").contains("ro") || opts("/sys/fs/cgroup/memory").contains("ro"),
            "the cgroup mount is read-only: {out}"
        );
        assert_eq!(fs::read_to_string(src_ro.join("f")).unwrap(), "kept\n");
    });
}

// ---- resources and cgroupsPath (OCI.md 3: resources, cgroupsPath) -------------------------

#[test]
fn resources_memory_cpu_cpuset_pids() {
    each("resources", Who::All, |lab| {
        let id = lab.id("r");
        let mut cfg = lab.config(
            &id,
            "grep Cpus_allowed_list /proc/self/status > /tmp/cpus; touch /tmp/ready; \
             trap 'exit 0' TERM; while :; do sleep 1 & wait; done",
        );
        let memsw = Path::new(common::CG).join("memory/memory.memsw.limit_in_bytes");
        let swap = memsw.exists();
        cfg.resources = Some(format!(
            "{{\"memory\": {{\"limit\": 67108864{}}}, \
              \"cpu\": {{\"shares\": 512, \"quota\": 50000, \"period\": 100000, \
                        \"cpus\": \"0\", \"mems\": \"0\"}}, \
              \"pids\": {{\"limit\": 50}}}}",
            if swap { ", \"swap\": 67108864" } else { "" }
        ));
        let b = lab.create_ok(&id, &cfg);
        assert!(lab.run(&["start", &id]).code == 0, "start");
        lab.wait_ready(&id);
        let v = |ctrl: &str, f: &str| {
            cg_file(lab, &id, ctrl, f).unwrap_or_else(|| format!("<no {ctrl}/{f}>"))
        };
        assert_eq!(v("memory", "memory.limit_in_bytes"), "67108864");
        if swap {
            assert_eq!(v("memory", "memory.memsw.limit_in_bytes"), "67108864");
        } else {
            common::skip(
                "resources_memory_cpu_cpuset_pids",
                "no memory.memsw.* (swap accounting off): swap not checked",
            );
        }
        assert_eq!(v("cpu", "cpu.shares"), "512");
        assert_eq!(v("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(v("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(v("cpuset", "cpuset.cpus"), "0");
        assert_eq!(v("cpuset", "cpuset.mems"), "0");
        assert_eq!(v("pids", "pids.max"), "50");
        assert_eq!(
            fs::read_to_string(lab.io(&id).join("cpus"))
                .unwrap()
                .split_whitespace()
                .last(),
            Some("0"),
            "the kernel's cpu list inside"
        );
        let _ = b;
        assert_ok(&lab.run(&["kill", &id, "TERM"]), "kill");
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

/// Removes the cgroup directories it holds (killing what is in them) when dropped: for the
/// cgroups outside the lab's parent.
struct CgGuard(Vec<PathBuf>);

impl Drop for CgGuard {
    fn drop(&mut self) {
        for d in &self.0 {
            if let Ok(p) = fs::read_to_string(d.join("cgroup.procs")) {
                for pid in p.split_whitespace().filter_map(|x| x.parse().ok()) {
                    common::kill(pid, libc::SIGKILL);
                }
            }
            for _ in 0..50 {
                if !d.exists() || fs::remove_dir(d).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn systemd_cgroups_path() {
    // runc 1.1.5 with --systemd-cgroup needs a running systemd (D-Bus), which this host
    // lacks: crab-can only (it makes the cgroupfs path systemd would, OCI.md 3).
    each("systemd-cg", Who::CrabCanOnly, |lab| {
        let id = lab.id("y");
        let cg = Path::new(common::CG);
        let scope = format!("machine.slice/crabtest-{id}.scope");
        // The scope in every hierarchy, and the slice where it was not there before (a
        // parent the runtime makes and, like runc's cgroupfs parents, keeps).
        let mut guard = CgGuard(Vec::new());
        for h in hierarchies() {
            guard.0.push(h.join(&scope));
            if !h.join("machine.slice").exists() {
                guard.0.push(h.join("machine.slice"));
            }
        }
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.cgroups_path = Some(format!("machine.slice:crabtest:{id}"));
        cfg.resources = Some("{\"pids\": {\"limit\": 40}}".into());
        let b = lab.bundle(&id, &cfg);
        lab.own(&id);
        let pf = b.join("init.pid");
        let r = lab.run_files(&[
            "--systemd-cgroup",
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
        ]);
        assert_ok(&r, "create --systemd-cgroup");
        let pid = lab.pid_file(&b);
        let procs = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        // Every hierarchy the init is in apart from ours (the pids one at least: it has a
        // limit) holds it at the scope's path.
        let ours = fs::read_to_string("/proc/self/cgroup").unwrap();
        let want = format!("/{scope}");
        let mut moved = Vec::new();
        for l in procs.lines() {
            let (hid, path) = l.split_once(':').unwrap_or((l, ""));
            let (ctrl, path) = path.split_once(':').unwrap_or((path, ""));
            let same = ours.lines().any(|o| {
                o.starts_with(&format!("{hid}:{ctrl}:")) && o.ends_with(&format!(":{path}"))
            });
            if !same {
                assert_eq!(path, want, "/proc/{pid}/cgroup: {procs}");
                moved.push(ctrl.to_string());
            }
        }
        assert!(
            moved.iter().any(|c| c.split(',').any(|x| x == "pids"))
                || (moved.iter().any(|c| c.is_empty())
                    && common::cgroup_layout() == common::CgroupLayout::V2),
            "not in the pids hierarchy at {want}: {procs}"
        );
        let pd = cg.join("pids").join(&scope);
        let inside = fs::read_to_string(pd.join("cgroup.procs")).unwrap_or_default();
        assert!(
            inside.split_whitespace().any(|x| x == pid.to_string()),
            "{pid} in {}: {inside:?}",
            pd.display()
        );
        assert_eq!(
            fs::read_to_string(cg.join("pids").join(&scope).join("pids.max"))
                .unwrap()
                .trim(),
            "40"
        );
        assert_ok(
            &lab.run(&["--systemd-cgroup", "delete", "--force", &id]),
            "delete --force",
        );
        lab.assert_gone(&id);
        for h in hierarchies() {
            assert!(!h.join(&scope).exists(), "{}: {scope} stayed", h.display());
        }
        drop(guard);

        // Not slice:prefix:name.
        let id = lab.id("z");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.cgroups_path = Some("/crabtest/bad".into());
        let b = lab.bundle(&id, &cfg);
        let r = lab.run_files(&[
            "--systemd-cgroup",
            "create",
            "--bundle",
            b.to_str().unwrap(),
            &id,
        ]);
        assert_eq!(r.code, 1, "{}", show(&r));
        assert!(
            r.stderr.contains(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups"
            ),
            "{}",
            show(&r)
        );
        lab.assert_gone(&id);
        for h in hierarchies() {
            assert!(
                !h.join("crabtest").exists(),
                "{}/crabtest made",
                h.display()
            );
        }
    });
}

#[test]
fn unsupported_resource_is_refused() {
    // runc 1.1.5 applies it (blkio.bfq.weight on this host); crab-can refuses it, as
    // OCI.md 3 allows ("apply, or refuse"): crab-can only.
    each("blkio", Who::CrabCanOnly, |lab| {
        let id = lab.id("b");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.resources = Some("{\"blockIO\": {\"weight\": 500}}".into());
        let needle = lab
            .strict()
            .then_some("linux.resources.blockIO.weight is not supported");
        create_refused(lab, &id, &cfg.json(), needle, "blockIO.weight");
    });
}
