//! The filter run by a BPF interpreter against every number of each architecture (no root
//! needed, and the aarch64 program is checked on any host), the number tables checked
//! against the kernel's headers, and the native filter loaded for real in a forked child.

use super::Filter;
use super::arch::{AARCH64, Arch, NATIVE, X86_64};
use super::bpf::{AND, JA, JEQ, JGE, JGT, LD, RET, RET_ALLOW, RET_KILL_PROCESS, ret_errno};
use super::profile::Act::{CloneFlags, Enosys, Eperm, PersonalityArg, SocketDomain};
use super::profile::Sys::{self, *};
use super::profile::*;
use std::collections::BTreeMap;

/// Docker's default capability set.
const DOCKER_CAPS: u64 = (1 << 0) // CHOWN
    | (1 << 1) // DAC_OVERRIDE
    | (1 << 3) // FOWNER
    | (1 << 4) // FSETID
    | (1 << 5) // KILL
    | (1 << 6) // SETGID
    | (1 << 7) // SETUID
    | (1 << 8) // SETPCAP
    | (1 << 10) // NET_BIND_SERVICE
    | (1 << 13) // NET_RAW
    | (1 << 18) // SYS_CHROOT
    | (1 << 27) // MKNOD
    | (1 << 29) // AUDIT_WRITE
    | (1 << 31); // SETFCAP

pub(super) const EPERM: u32 = ret_errno(libc::EPERM);
pub(super) const ENOSYS: u32 = ret_errno(libc::ENOSYS);
pub(super) const ALLOW: u32 = RET_ALLOW;
pub(super) const KILL: u32 = RET_KILL_PROCESS;

pub(super) const ARCHES: [&Arch; 2] = [&X86_64, &AARCH64];

/// A classic-BPF interpreter for the instructions `Filter` emits, with the
/// kernel's checks: forward jumps in range, aligned loads inside seccomp_data, at most
/// 4096 instructions.
pub(super) fn run_arch(f: &Filter, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    data[8..16].copy_from_slice(&0x4000_1000u64.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let p = &f.prog;
    assert!(p.len() <= 4096, "{} instructions", p.len());
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = p[pc];
        let jump = |cond: bool| pc + 1 + usize::from(if cond { i.jt } else { i.jf });
        pc = match i.code {
            LD => {
                let k = i.k as usize;
                assert!(k & 3 == 0 && k + 4 <= 64, "bad load at {pc}");
                acc = u32::from_le_bytes([data[k], data[k + 1], data[k + 2], data[k + 3]]);
                pc + 1
            }
            JEQ => jump(acc == i.k),
            JGT => jump(acc > i.k),
            JGE => jump(acc >= i.k),
            JA => pc + 1 + i.k as usize,
            AND => {
                acc &= i.k;
                pc + 1
            }
            RET => return i.k,
            c => panic!("unknown opcode {c:#x} at {pc}"),
        };
        assert!(pc < p.len(), "jump out of the program");
    }
}

/// The program for one architecture, fed that architecture's native calls.
struct Prog {
    arch: &'static Arch,
    f: Filter,
}

fn prog(arch: &'static Arch, caps: u64) -> Prog {
    Prog {
        arch,
        f: Filter::for_arch(arch, caps),
    }
}

impl Prog {
    fn raw(&self, nr: u32, args: [u64; 6]) -> u32 {
        run_arch(&self.f, self.arch.audit, nr, args)
    }
    fn nr(&self, s: Sys) -> u32 {
        (self.arch.nr)(s).unwrap_or_else(|| panic!("{} has no {s:?}", self.arch.name))
    }
    fn call(&self, s: Sys) -> u32 {
        self.raw(self.nr(s), [0; 6])
    }
    fn call1(&self, s: Sys, a0: u64) -> u32 {
        self.raw(self.nr(s), [a0, 0, 0, 0, 0, 0])
    }
}

fn has(arch: &Arch, s: Sys) -> bool {
    (arch.nr)(s).is_some()
}

/// Every name the profile uses.
fn names() -> impl Iterator<Item = Sys> {
    RULES.iter().flat_map(|r| r.calls.iter().copied())
}

fn in_hole(arch: &Arch, n: u32) -> bool {
    arch.holes.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))
}

/// Calls every program must allow, with each architecture's numbers (checked against the
/// kernel's headers by `tables_match_kernel_headers`).
pub(super) fn everyday(arch: &Arch) -> &'static [(&'static str, u32)] {
    match arch.name {
        "x86_64" => &[
            ("read", 0),
            ("write", 1),
            ("execve", 59),
            ("exit_group", 231),
            ("openat", 257),
            ("mmap", 9),
            ("wait4", 61),
            ("getpid", 39),
            ("chroot", 161), // CAP_SYS_CHROOT is a default capability
            ("ptrace", 101),
            ("process_vm_readv", 310),
            ("process_vm_writev", 311),
            ("adjtimex", 159),
            ("clock_adjtime", 305),
            ("arch_prctl", 158),
            ("modify_ldt", 154),
            ("seccomp", 317),
            ("prctl", 157),
            ("setuid", 105),
            ("fchmodat2", 452),
            ("mseal", 462),
        ],
        "aarch64" => &[
            ("read", 63),
            ("write", 64),
            ("execve", 221),
            ("exit_group", 94),
            ("openat", 56),
            ("mmap", 222),
            ("wait4", 260),
            ("getpid", 172),
            ("chroot", 51), // CAP_SYS_CHROOT is a default capability
            ("ptrace", 117),
            ("process_vm_readv", 270),
            ("process_vm_writev", 271),
            ("adjtimex", 171),
            ("clock_adjtime", 266),
            ("seccomp", 277),
            ("prctl", 167),
            ("setuid", 146),
            ("renameat", 38),
            ("newfstatat", 79),
            ("fstat", 80),
            ("getrlimit", 163),
            ("rseq", 293),
            ("pidfd_send_signal", 424),
            ("close_range", 436),
            ("memfd_secret", 447),
            ("fchmodat2", 452),
            ("mseal", 462),
        ],
        other => panic!("no everyday calls for {other}"),
    }
}

#[test]
fn native_is_the_build_target() {
    assert_eq!(NATIVE.name, std::env::consts::ARCH);
}

#[test]
fn program_is_well_formed() {
    for arch in ARCHES {
        for caps in [0, DOCKER_CAPS, u64::MAX, cap(CAP_SYS_ADMIN)] {
            let f = Filter::for_arch(arch, caps);
            assert!(f.len() < 256, "{}: {} instructions", arch.name, f.len());
            assert_eq!(f.prog.last().map(|i| i.code), Some(RET));
            for (pc, i) in f.prog.iter().enumerate() {
                if i.code & 0x07 == 0x05 {
                    let far = if i.code == JA { i.k as usize } else { 0 };
                    assert!(
                        pc + 1 + usize::from(i.jt.max(i.jf)) + far < f.len(),
                        "{}: jump out at {pc}",
                        arch.name
                    );
                }
            }
        }
    }
    // Each name is in at most one rule.
    let mut all: Vec<_> = names().map(|s| s as usize).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "a name is in two rules");
    // Each architecture: a number names one call, below the highest, in no hole, below the
    // other ABI's numbers; its holes are ascending and apart.
    for arch in ARCHES {
        let mut nrs: Vec<u32> = names().filter_map(arch.nr).collect();
        for &n in &nrs {
            assert!(n <= arch.max_nr && !in_hole(arch, n), "{}: {n}", arch.name);
        }
        let n = nrs.len();
        nrs.sort();
        nrs.dedup();
        assert_eq!(nrs.len(), n, "{}: two names with one number", arch.name);
        for w in arch.holes.windows(2) {
            assert!(w[0].1 + 1 < w[1].0, "{}: holes {w:?}", arch.name);
        }
        for &(lo, hi) in arch.holes {
            assert!(
                lo <= hi && hi < arch.max_nr,
                "{}: hole {lo}-{hi}",
                arch.name
            );
        }
        assert!(arch.abi_from.is_none_or(|from| arch.max_nr < from));
        assert!(!arch.compat.iter().any(|&(_, a)| a == arch.audit));
    }
}

#[test]
fn mount_needs_sys_admin() {
    for arch in ARCHES {
        assert_eq!(prog(arch, DOCKER_CAPS).call(mount), EPERM);
        assert_eq!(
            prog(arch, DOCKER_CAPS | cap(CAP_SYS_ADMIN)).call(mount),
            ALLOW
        );
    }
}

#[test]
fn clone_namespaces() {
    for arch in ARCHES {
        let f = prog(arch, DOCKER_CAPS);
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        let fork = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u64;
        assert_eq!(f.call1(clone, thread), ALLOW);
        assert_eq!(f.call1(clone, fork), ALLOW);
        assert_eq!(f.call1(clone, libc::SIGCHLD as u64), ALLOW);
        for ns in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWCGROUP,
        ] {
            assert_eq!(f.call1(clone, fork | ns as u64), EPERM, "{ns:#x}");
        }
        assert_eq!(f.call(clone3), ENOSYS);
        let admin = prog(arch, DOCKER_CAPS | cap(CAP_SYS_ADMIN));
        assert_eq!(admin.call1(clone, fork | libc::CLONE_NEWUSER as u64), ALLOW);
        assert_eq!(admin.call(clone3), ALLOW);
    }
}

#[test]
fn socket_domains() {
    for arch in ARCHES {
        let f = prog(arch, DOCKER_CAPS);
        assert_eq!(f.call1(socket, 38), EPERM); // AF_ALG
        assert_eq!(f.call1(socket, 40), EPERM); // AF_VSOCK
        assert_eq!(f.call1(socket, (1 << 32) | 38), EPERM); // the kernel reads an int
        for ok in [
            libc::AF_UNIX,
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_NETLINK,
            libc::AF_PACKET,
            39,
            41,
        ] {
            assert_eq!(f.call1(socket, ok as u64), ALLOW, "{ok}");
        }
        // Not even CAP_SYS_ADMIN opens them, as in Docker.
        assert_eq!(prog(arch, u64::MAX).call1(socket, 38), EPERM);
    }
}

#[test]
fn personality_values() {
    for arch in ARCHES {
        let f = prog(arch, DOCKER_CAPS);
        for ok in PERSONALITIES {
            assert_eq!(f.call1(personality, ok.into()), ALLOW, "{ok:#x}");
        }
        for bad in [0x0040000u64, 0x0400000, 1, 0x0010_0000] {
            assert_eq!(f.call1(personality, bad), EPERM, "{bad:#x}");
        }
    }
}

#[test]
fn unknown_numbers_get_enosys() {
    let f = prog(&X86_64, DOCKER_CAPS);
    let (max, hole) = (X86_64.max_nr, X86_64.holes[0]);
    for n in [
        max + 1,
        467,
        469,
        999,
        0x3fff_ffff,
        hole.0,
        400,
        hole.1,
        u32::MAX,
    ] {
        assert_eq!(f.raw(n, [0; 6]), ENOSYS, "{n}");
    }
    // The neighbours of the hole and the top are real calls.
    for n in [335, 424, 466, max] {
        assert_eq!(f.raw(n, [0; 6]), ALLOW, "{n}");
    }
}

#[test]
fn unknown_numbers_get_enosys_aarch64() {
    let f = prog(&AARCH64, DOCKER_CAPS);
    // Above the top, the other architectures' own calls, the unassigned and 32-bit-only
    // numbers; and with no x32-like ABI, numbers with high bits are just unknown.
    for n in [
        467,
        469,
        999,
        244,
        250,
        259,
        295,
        402,
        403,
        423,
        0x3fff_ffff,
        0x4000_0000 | 172,
        0x8000_0000,
        u32::MAX,
    ] {
        assert_eq!(f.raw(n, [0; 6]), ENOSYS, "{n}");
    }
    // The neighbours of the holes and the top are real calls.
    for n in [243, 260, 293, 424, 466, AARCH64.max_nr] {
        assert_eq!(f.raw(n, [0; 6]), ALLOW, "{n}");
    }
}

#[test]
fn foreign_abis_are_killed() {
    let f = Filter::for_arch(&X86_64, DOCKER_CAPS);
    let x32 = X86_64.abi_from.unwrap_or_default();
    let i386 = X86_64.compat[0].1;
    assert_eq!(
        (X86_64.audit, x32, i386),
        (0xC000_003E, 0x4000_0000, 0x4000_0003)
    );
    let x86_64 = X86_64.audit;
    assert_eq!(run_arch(&f, x86_64, x32 | 39, [0; 6]), KILL); // x32 getpid
    assert_eq!(run_arch(&f, x86_64, x32, [0; 6]), KILL);
    assert_eq!(run_arch(&f, x86_64, 0x8000_0000, [0; 6]), KILL);
    assert_eq!(run_arch(&f, i386, 20, [0; 6]), KILL); // i386 getpid
    assert_eq!(run_arch(&f, i386, 0, [0; 6]), KILL);
    assert_eq!(
        run_arch(&Filter::for_arch(&X86_64, u64::MAX), i386, 1, [0; 6]),
        KILL
    );
}

#[test]
fn foreign_abis_are_killed_aarch64() {
    let arm = AARCH64.compat[0].1;
    assert_eq!(AARCH64.audit, 0xC000_00B7);
    assert_eq!(AARCH64.compat, [("arm", 0x4000_0028)]);
    for caps in [DOCKER_CAPS, u64::MAX] {
        let f = Filter::for_arch(&AARCH64, caps);
        // arm getpid, restart_syscall, exit, ARM_set_tls (a private call), -1.
        for n in [20, 0, 1, 0x0f_0005, u32::MAX] {
            assert_eq!(run_arch(&f, arm, n, [0; 6]), KILL, "{n:#x}");
        }
    }
}

/// Every number a program does not know the architecture of kills: its other ABIs', and
/// the other architecture's.
#[test]
fn every_foreign_number_is_killed() {
    for arch in ARCHES {
        let f = Filter::for_arch(arch, u64::MAX);
        let others = ARCHES.iter().filter(|a| a.audit != arch.audit);
        let foreign: Vec<u32> = arch
            .compat
            .iter()
            .map(|&(_, a)| a)
            .chain(others.map(|a| a.audit))
            .collect();
        for audit in foreign {
            for n in (0..=arch.max_nr + 1).chain([u32::MAX]) {
                assert_eq!(
                    run_arch(&f, audit, n, [0; 6]),
                    KILL,
                    "{}: {audit:#x} {n}",
                    arch.name
                );
            }
        }
    }
}

#[test]
fn everyday_calls_are_allowed() {
    for arch in ARCHES {
        let f = prog(arch, DOCKER_CAPS);
        for &(name, n) in everyday(arch) {
            assert_eq!(f.raw(n, [0; 6]), ALLOW, "{}: {name} ({n})", arch.name);
        }
    }
}

/// Every rule, one number at a time: refused without caps, allowed with the caps that lift
/// it (the argument checks are covered above). A name the architecture lacks is skipped.
#[test]
fn every_family_refused_and_lifted() {
    for arch in ARCHES {
        let none = prog(arch, 0);
        for r in RULES {
            let lifted = prog(arch, r.unless);
            for &s in r.calls.iter().filter(|&&s| has(arch, s)) {
                let want = match r.act {
                    Eperm => EPERM,
                    Enosys => ENOSYS,
                    CloneFlags => {
                        assert_eq!(none.call1(s, libc::CLONE_NEWNET as u64), EPERM);
                        continue;
                    }
                    SocketDomain => {
                        assert_eq!(none.call1(s, AF_VSOCK.into()), EPERM);
                        continue;
                    }
                    PersonalityArg => {
                        assert_eq!(none.call1(s, 0x0040000), EPERM);
                        continue;
                    }
                };
                assert_eq!(none.call(s), want, "{}: {s:?}", arch.name);
                if r.unless != NOBODY {
                    assert_eq!(
                        lifted.call(s),
                        ALLOW,
                        "{}: {s:?} with caps {:#x}",
                        arch.name,
                        r.unless
                    );
                    // Each capability of `unless` lifts it on its own.
                    for c in 0..64 {
                        if r.unless & cap(c) != 0 {
                            assert_eq!(
                                prog(arch, cap(c)).call(s),
                                ALLOW,
                                "{}: {s:?} cap {c}",
                                arch.name
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Which families the named capabilities lift, spelled out (names an architecture lacks
/// are skipped there).
#[test]
fn capabilities_lift_their_families() {
    #[rustfmt::skip]
    let cases: &[(u32, &[Sys])] = &[
        (CAP_SYS_ADMIN, &[umount2, unshare, setns, pivot_root, fsopen, syslog, bpf,
                          perf_event_open, sethostname, quotactl, fanotify_init]),
        (CAP_SYS_MODULE, &[init_module, finit_module, delete_module]),
        (CAP_SYS_BOOT, &[reboot]),
        (CAP_SYS_TIME, &[settimeofday, clock_settime]),
        (CAP_SYS_PACCT, &[acct]),
        (CAP_SYS_RAWIO, &[iopl, ioperm]),
        (CAP_SYS_NICE, &[mbind, set_mempolicy, get_mempolicy]),
        (CAP_SYSLOG, &[syslog]),
        (CAP_BPF, &[bpf]),
        (CAP_PERFMON, &[perf_event_open]),
        (CAP_SYS_PTRACE, &[kcmp, pidfd_getfd]),
        (CAP_DAC_READ_SEARCH, &[open_by_handle_at, name_to_handle_at]),
        (CAP_SYS_TTY_CONFIG, &[vhangup]),
    ];
    for arch in ARCHES {
        let base = prog(arch, DOCKER_CAPS);
        for &(c, calls) in cases {
            let f = prog(arch, DOCKER_CAPS | cap(c));
            for &s in calls.iter().filter(|&&s| has(arch, s)) {
                assert_eq!(base.call(s), EPERM, "{}: {s:?}", arch.name);
                assert_eq!(f.call(s), ALLOW, "{}: {s:?} with cap {c}", arch.name);
            }
        }
        // Not lifted by any capability.
        let all = prog(arch, u64::MAX);
        for s in [
            kexec_load,
            kexec_file_load,
            swapon,
            swapoff,
            add_key,
            request_key,
            keyctl,
            userfaultfd,
            io_uring_setup,
            io_uring_enter,
            io_uring_register,
            migrate_pages,
            move_pages,
            uselib,
            ustat,
            sysfs,
            _sysctl,
            nfsservctl,
            create_module,
        ] {
            if has(arch, s) {
                assert_eq!(all.call(s), EPERM, "{}: {s:?}", arch.name);
            }
        }
        // Without CAP_SYS_CHROOT, chroot is refused too.
        assert_eq!(
            prog(arch, DOCKER_CAPS & !cap(CAP_SYS_CHROOT)).call(chroot),
            EPERM
        );
    }
}

/// One architecture's whole table, 0 to its highest number, against the numbers Docker's
/// profile refuses (no capability held, plain arguments) and those that get ENOSYS.
fn whole_table(arch: &'static Arch, refused: &[u32], enosys: &[u32]) {
    let f = prog(arch, 0);
    for n in 0..=arch.max_nr {
        let want = if enosys.contains(&n) || in_hole(arch, n) {
            ENOSYS
        } else if refused.contains(&n) {
            EPERM
        } else {
            ALLOW
        };
        assert_eq!(f.raw(n, [0; 6]), want, "{}: nr {n}", arch.name);
    }
}

/// The whole x86_64 table against the numbers Docker's profile refuses (taken from moby's
/// default.json and the x86_64 table).
#[test]
fn whole_table_matches_docker() {
    const REFUSED: &[u32] = &[
        103, 134, 136, 139, 153, 155, 156, 161, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172,
        173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 212, 227, 236, 237, 238,
        239, 246, 248, 249, 250, 256, 272, 279, 298, 300, 303, 304, 308, 312, 313, 320, 321, 323,
        425, 426, 427, 428, 429, 430, 431, 432, 433, 438, 440, 442, 443, 450, 459, 460, 461,
    ];
    assert_eq!(X86_64.holes, [(336, 423)]);
    whole_table(&X86_64, REFUSED, &[435]);
}

/// The same for aarch64 (from moby's default.json and asm-generic/unistd.h).
#[test]
fn whole_table_matches_docker_aarch64() {
    const REFUSED: &[u32] = &[
        18, 39, 40, 41, 42, 51, 58, 60, 89, 97, 104, 105, 106, 112, 116, 142, 161, 162, 170, 217,
        218, 219, 224, 225, 235, 236, 237, 238, 239, 241, 262, 264, 265, 268, 272, 273, 280, 282,
        294, 425, 426, 427, 428, 429, 430, 431, 432, 433, 438, 440, 442, 443, 450, 459, 460, 461,
    ];
    assert_eq!(AARCH64.holes, [(244, 259), (295, 423)]);
    whole_table(&AARCH64, REFUSED, &[435]);
}

/// A test this host cannot run: one visible `SKIP:` line on stderr (past the harness's
/// capture), or with `CRAB_CAN_STRICT=1` (CI) a failure.
pub(super) fn skip(test: &str, why: &str) {
    if std::env::var_os("CRAB_CAN_STRICT").is_some_and(|v| v == "1") {
        panic!("{test} cannot run on this host and CRAB_CAN_STRICT=1 forbids skipping: {why}");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIP: {test}: {why}");
}

/// The `__NR_<name>` numbers the first of `arch.headers` present defines for a 64-bit
/// build, following its `#if`s (only the forms the headers use: `defined(X)`, `!`, `==`,
/// `!=`, `&&`, `||`; anything else fails the test), and which files they came from.
fn header_numbers(arch: &Arch) -> Option<(String, BTreeMap<String, u32>)> {
    let exists = |f: &&str| std::path::Path::new(f).exists();
    let files = arch.headers.iter().find(|files| files.iter().all(exists))?;
    let mut defs = BTreeMap::from([("__BITS_PER_LONG".to_string(), "64".to_string())]);
    fn value(defs: &BTreeMap<String, String>, tok: &str) -> Option<u64> {
        let mut t = tok.trim();
        for _ in 0..8 {
            if let Ok(n) = t.parse() {
                return Some(n);
            }
            t = defs.get(t)?.trim();
        }
        None
    }
    fn holds(defs: &BTreeMap<String, String>, expr: &str) -> bool {
        let atom = |a: &str| {
            let (not, a) = a.strip_prefix('!').map_or((false, a), |a| (true, a.trim()));
            let yes = if let Some(m) = a.strip_prefix("defined(").and_then(|m| m.strip_suffix(')'))
            {
                defs.contains_key(m.trim())
            } else if let Some((l, r)) = a.split_once("==") {
                value(defs, l) == value(defs, r)
            } else if let Some((l, r)) = a.split_once("!=") {
                value(defs, l) != value(defs, r)
            } else {
                panic!("a header condition this test cannot read: {a}")
            };
            yes != not
        };
        expr.split("||")
            .any(|e| e.split("&&").map(str::trim).all(atom))
    }
    // Per open #if: the region around it is read, one of its branches was taken, the
    // current branch is read.
    let mut ifs: Vec<(bool, bool, bool)> = Vec::new();
    for f in files.iter() {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}"));
        for line in text.lines() {
            let Some(d) = line.trim_start().strip_prefix('#') else {
                continue;
            };
            let d = d.split("/*").next().unwrap_or_default().trim();
            let (word, rest) = d
                .split_once(char::is_whitespace)
                .map_or((d, ""), |(w, r)| (w, r.trim()));
            let read = ifs.last().is_none_or(|i| i.2);
            match word {
                "if" | "ifdef" | "ifndef" => {
                    let yes = read
                        && match word {
                            "ifdef" => defs.contains_key(rest),
                            "ifndef" => !defs.contains_key(rest),
                            _ => holds(&defs, rest),
                        };
                    ifs.push((read, yes, yes));
                }
                "elif" => {
                    let i = ifs
                        .last_mut()
                        .unwrap_or_else(|| panic!("{f}: #elif without #if"));
                    let yes = i.0 && !i.1 && holds(&defs, rest);
                    (i.1, i.2) = (i.1 || yes, yes);
                }
                "else" => {
                    let i = ifs
                        .last_mut()
                        .unwrap_or_else(|| panic!("{f}: #else without #if"));
                    (i.1, i.2) = (true, i.0 && !i.1);
                }
                "endif" => {
                    ifs.pop()
                        .unwrap_or_else(|| panic!("{f}: #endif without #if"));
                }
                "define" if read => {
                    let (name, v) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    let name = name.split('(').next().unwrap_or(name);
                    defs.insert(name.to_string(), v.trim().to_string());
                }
                "undef" if read => {
                    defs.remove(rest);
                }
                _ => {} // #include, #error, and whatever is not read
            }
        }
    }
    assert!(ifs.is_empty(), "{files:?}: #if without #endif");
    let numbers = defs
        .keys()
        .filter_map(|k| k.strip_prefix("__NR_").map(|name| (k, name)))
        // Not calls: the table's length and the first of the architectures' own numbers.
        .filter(|(_, name)| !["syscalls", "arch_specific_syscall"].contains(name))
        .map(|(k, name)| {
            let n = value(&defs, k).unwrap_or_else(|| panic!("{k}: no number"));
            (name.to_string(), u32::try_from(n).unwrap_or(u32::MAX))
        })
        .collect();
    Some((files.join(" + "), numbers))
}

/// Each architecture's numbers against the kernel's own header (Debian: linux-libc-dev
/// for x86_64, linux-libc-dev-arm64-cross for aarch64): every name in the table and in
/// `everyday` has the header's number, or is newer than the header; a name the table says
/// the architecture lacks is not in the header; no call of the header is in a hole.
#[test]
fn tables_match_kernel_headers() {
    for arch in ARCHES {
        let Some((path, header)) = header_numbers(arch) else {
            let paths: Vec<_> = arch.headers.iter().map(|f| f.join(" + ")).collect();
            skip(
                "tables_match_kernel_headers",
                &format!(
                    "{}: none of {paths:?} (tests/deps.sh installs them)",
                    arch.name
                ),
            );
            continue;
        };
        assert!(
            header.len() > 300,
            "{path}: only {} calls read",
            header.len()
        );
        let top = header.values().copied().max().unwrap_or_default();
        let (mut checked, mut newer) = (0, Vec::new());
        let table = names().map(|s| (format!("{s:?}"), (arch.nr)(s)));
        let everyday = everyday(arch)
            .iter()
            .map(|&(name, n)| (name.to_string(), Some(n)));
        for (name, n) in table.chain(everyday) {
            match (n, header.get(&name)) {
                (Some(n), Some(&h)) => {
                    assert_eq!(n, h, "{}: {name} is {h} in {path}", arch.name);
                    checked += 1;
                }
                (Some(n), None) => {
                    assert!(n > top, "{}: {name} ({n}) is not in {path}", arch.name);
                    newer.push(name);
                }
                (None, Some(&h)) => panic!("{}: {path} has {name} ({h})", arch.name),
                (None, None) => {}
            }
        }
        // A call in a hole would get ENOSYS; calls above the highest number are newer than
        // the filter and get ENOSYS by design.
        let mut above = Vec::new();
        for (name, &n) in &header {
            assert!(
                !in_hole(arch, n),
                "{}: {name} ({n}) of {path} is in a hole",
                arch.name
            );
            if n > arch.max_nr {
                above.push(format!("{name} ({n})"));
            }
        }
        eprintln!(
            "{}: {checked} numbers match {path} ({} calls, up to {top}); newer than it: \
             {newer:?}; newer than the filter: {above:?}",
            arch.name,
            header.len()
        );
    }
}

/// Loads the filter for real in a forked child and checks what the kernel answers.
/// Returns the child's wait status.
pub(super) fn in_child(f: &Filter, body: fn() -> i32) -> i32 {
    use rustix::process::{Resource, Rlimit, WaitOptions};
    let pid = crate::sys::fork().expect("fork");
    if pid == 0 {
        // The child makes system calls only, and leaves with _exit.
        let no_core = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        let _ = rustix::process::setrlimit(Resource::Core, no_core);
        if rustix::thread::set_no_new_privs(true).is_err() {
            crate::sys::exit(90);
        }
        if f.install().is_err() {
            crate::sys::exit(91);
        }
        crate::sys::exit(body());
    }
    let pid = rustix::process::Pid::from_raw(pid).expect("a pid");
    let (_, st) = rustix::process::waitpid(Some(pid), WaitOptions::empty())
        .expect("waitpid")
        .expect("a status");
    st.as_raw()
}

/// Whether system call `nr` with `args` failed with `errno`.
pub(super) fn fails(nr: libc::c_long, args: &[usize], errno: i32) -> bool {
    crate::sys::testing::syscall(nr, args) == Err(errno)
}

pub(super) fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test loads the filter for real and needs root (make test runs as root)"
    );
}

#[test]
fn real_filter_in_a_child() {
    require_root();
    let f = Filter::default_profile(DOCKER_CAPS);
    let status = in_child(&f, || {
        let checks = [
            fails(
                libc::SYS_unshare,
                &[libc::CLONE_NEWUTS as usize],
                libc::EPERM,
            ),
            fails(999, &[], libc::ENOSYS),
            fails(libc::SYS_clone3, &[0, 0], libc::ENOSYS),
            fails(
                libc::SYS_socket,
                &[libc::AF_VSOCK as usize, libc::SOCK_STREAM as usize, 0],
                libc::EPERM,
            ),
            fails(
                libc::SYS_mount,
                &[
                    c"none".as_ptr() as usize,
                    c"/".as_ptr() as usize,
                    0,
                    libc::MS_REMOUNT as usize,
                    0,
                ],
                libc::EPERM,
            ),
            rustix::process::getpid().as_raw_nonzero().get() > 0,
            crate::sys::testing::syscall(libc::SYS_personality, &[0xffff_ffff]).is_ok(),
        ];
        match checks.iter().position(|ok| !ok) {
            Some(i) => i as i32 + 1,
            None => 0,
        }
    });
    assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "check number {} failed",
        libc::WEXITSTATUS(status)
    );

    // With CAP_SYS_ADMIN in the mask, unshare gets through to the kernel (root has it).
    let admin = Filter::default_profile(DOCKER_CAPS | cap(CAP_SYS_ADMIN));
    let status = in_child(&admin, || {
        // The new UTS namespace dies with the child.
        match crate::sys::testing::syscall(libc::SYS_unshare, &[libc::CLONE_NEWUTS as usize]) {
            Ok(_) => 0,
            Err(_) => 1,
        }
    });
    assert_eq!(
        (libc::WIFEXITED(status), libc::WEXITSTATUS(status)),
        (true, 0)
    );
}

/// x86_64 only: its other ABIs are reachable from a 64-bit process (an aarch64 process
/// cannot make a 32-bit Arm call; the interpreter tests cover that program).
#[cfg(target_arch = "x86_64")]
#[test]
fn real_x32_and_i386_calls_are_killed() {
    require_root();
    let f = Filter::default_profile(DOCKER_CAPS);
    let status = in_child(&f, || {
        let x32 = X86_64.abi_from.unwrap_or_default() as libc::c_long;
        // The filter kills the process before the call runs.
        let _ = crate::sys::testing::syscall(x32 | libc::SYS_getpid, &[]);
        0
    });
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
        "x32: {status:#x}"
    );
    let status = in_child(&f, || {
        crate::sys::testing::int80_getpid();
        0
    });
    // A kernel without IA-32 emulation answers int 0x80 with SIGSEGV before any filter
    // runs; either way the call did not run. (The interpreter tests check the filter's
    // own answer for AUDIT_ARCH_I386.)
    let sig = if libc::WIFSIGNALED(status) {
        libc::WTERMSIG(status)
    } else {
        0
    };
    assert!(
        sig == libc::SIGSYS || sig == libc::SIGSEGV,
        "i386: {status:#x}"
    );
}

/// Each architecture's name table: runs ascending and apart, the gaps between them its
/// holes, the last number its highest, the default profile's numbers (`nr`) the same, and
/// (where the header is installed) every name of the header at the header's number.
#[test]
fn name_tables_match() {
    for arch in ARCHES {
        let mut all: Vec<(u32, &str)> = Vec::new();
        for &(first, names) in arch.names {
            all.extend((first..).zip(names.split(' ')));
        }
        for w in all.windows(2) {
            let ((a, _), (b, name)) = (w[0], w[1]);
            assert!(a < b, "{}: {name}", arch.name);
            for n in a + 1..b {
                assert!(arch.unknown(n) && in_hole(arch, n), "{}: {n}", arch.name);
            }
        }
        assert_eq!(all.last().map(|l| l.0), Some(arch.max_nr), "{}", arch.name);
        for &(n, name) in &all {
            assert!(!name.is_empty() && !arch.unknown(n), "{}: {n}", arch.name);
            assert_eq!(arch.number(name), Some(n), "{}: {name}", arch.name);
        }
        let mut names: Vec<&str> = all.iter().map(|a| a.1).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "{}: a name twice", arch.name);
        for s in super::profile::RULES.iter().flat_map(|r| r.calls) {
            assert_eq!(
                arch.number(&format!("{s:?}")),
                (arch.nr)(*s),
                "{}",
                arch.name
            );
        }
        for &(name, n) in everyday(arch) {
            assert_eq!(arch.number(name), Some(n), "{}: {name}", arch.name);
        }
        for bad in [
            "",
            "read ",
            " read",
            "nosuchcall",
            "READ",
            "fstat64",
            "socketcall",
        ] {
            assert_eq!(arch.number(bad), None, "{}: {bad:?}", arch.name);
        }
        let Some((path, header)) = header_numbers(arch) else {
            skip("name_tables_match", &format!("{}: no header", arch.name));
            continue;
        };
        for (name, &h) in &header {
            assert_eq!(
                arch.number(name),
                Some(h),
                "{}: {name} of {path}",
                arch.name
            );
        }
        // The table's names the header lacks are newer than the header: their numbers are
        // free in it.
        for &(n, name) in &all {
            let free = !header.values().any(|&h| h == n);
            assert!(header.contains_key(name) || free, "{}: {name}", arch.name);
        }
    }
}
