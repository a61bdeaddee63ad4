//! The container's system-call filter: a classic-BPF seccomp program that refuses
//! what Docker's default profile (moby `profiles/seccomp/default.json`) refuses on
//! x86_64, built in the parent and loaded in the child as the last step before exec.
//!
//! What the program does, in order:
//! 1. a foreign architecture (i386 through `int 0x80`) or the x32 ABI kills the process;
//! 2. the number is looked up in a chain of sorted ranges made from [`RULES`]: a
//!    refused call gets EPERM, `clone3` gets ENOSYS (so libcs fall back to `clone`), and
//!    `clone`, `socket` and `personality` jump to a short check of their first argument;
//! 3. a number this filter does not know (a hole in the table, or above [`MAX_NR`])
//!    gets ENOSYS, so a newer kernel's new calls fail cleanly instead of being allowed;
//! 4. everything else is allowed.
//!
//! Docker lets a container use some refused families when it holds a capability
//! (`mount` with CAP_SYS_ADMIN, `reboot` with CAP_SYS_BOOT, ...): those rules are
//! left out of the program when the container's capability mask has that capability.

use libc::sock_filter;
use rustix::io::Errno;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("seccomp.rs is written for the x86_64 system-call table only");

/// x86_64 system-call numbers: libc's, plus those libc does not name.
#[allow(non_upper_case_globals)]
mod nr {
    pub use libc::*;
    pub const SYS_create_module: c_long = 174;
    pub const SYS_get_kernel_syms: c_long = 177;
    pub const SYS_query_module: c_long = 178;
    pub const SYS_lsm_get_self_attr: c_long = 459;
    pub const SYS_lsm_set_self_attr: c_long = 460;
    pub const SYS_lsm_list_modules: c_long = 461;
}

/// The highest number this filter knows: `removexattrat` (Linux 6.13), the newest
/// system call Docker's profile names. Anything above gets ENOSYS.
const MAX_NR: u32 = 466;
/// Numbers between `uretprobe` (335) and `pidfd_send_signal` (424) are no x86_64 call.
const HOLE: (u32, u32) = (336, 423);

// Capability numbers (linux/capability.h).
const CAP_DAC_READ_SEARCH: u32 = 2;
const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_CHROOT: u32 = 18;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_PACCT: u32 = 20;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_BOOT: u32 = 22;
const CAP_SYS_NICE: u32 = 23;
const CAP_SYS_TIME: u32 = 25;
const CAP_SYS_TTY_CONFIG: u32 = 26;
const CAP_SYSLOG: u32 = 34;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

const fn cap(c: u32) -> u64 {
    1 << c
}
/// No capability lifts the rule.
const NOBODY: u64 = 0;

/// What a rule does with a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    Eperm,
    Enosys,
    /// EPERM when the flags ask for a new namespace (any CLONE_NEW* bit).
    CloneFlags,
    /// EPERM for the AF_ALG and AF_VSOCK domains.
    SocketDomain,
    /// EPERM but for the personalities Docker allows.
    PersonalityArg,
}

/// A family of calls that get `act`, unless the container holds a capability of `unless`.
struct Rule {
    nrs: &'static [libc::c_long],
    act: Act,
    unless: u64,
}

const fn rule(nrs: &'static [libc::c_long], act: Act, unless: u64) -> Rule {
    Rule { nrs, act, unless }
}

use Act::{CloneFlags, Enosys, Eperm, PersonalityArg, SocketDomain};

/// What Docker's default profile refuses on x86_64, family by family. Every other
/// known call is allowed (ptrace, process_vm_readv/writev, adjtimex, clock_adjtime,
/// included, as in Docker on kernels >= 4.8). Stricter than Docker: name_to_handle_at is
/// refused with open_by_handle_at, as the hardening issue asks.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    // Kernel modules.
    rule(&[nr::SYS_init_module, nr::SYS_finit_module, nr::SYS_delete_module], Eperm, cap(CAP_SYS_MODULE)),
    // Booting another kernel.
    rule(&[nr::SYS_kexec_load, nr::SYS_kexec_file_load], Eperm, NOBODY),
    // Rebooting the machine.
    rule(&[nr::SYS_reboot], Eperm, cap(CAP_SYS_BOOT)),
    // Swap devices.
    rule(&[nr::SYS_swapon, nr::SYS_swapoff], Eperm, NOBODY),
    // Mounts: the classic calls and the new mount API; pivot_root.
    rule(
        &[
            nr::SYS_mount,
            nr::SYS_umount2,
            nr::SYS_pivot_root,
            nr::SYS_open_tree,
            nr::SYS_move_mount,
            nr::SYS_fsopen,
            nr::SYS_fsconfig,
            nr::SYS_fsmount,
            nr::SYS_fspick,
            nr::SYS_mount_setattr,
        ],
        Eperm,
        cap(CAP_SYS_ADMIN),
    ),
    // Namespaces: entering or making them.
    rule(&[nr::SYS_unshare, nr::SYS_setns], Eperm, cap(CAP_SYS_ADMIN)),
    rule(&[nr::SYS_clone], CloneFlags, cap(CAP_SYS_ADMIN)),
    // clone3's flags are in memory, out of BPF's reach: ENOSYS makes libcs use clone.
    rule(&[nr::SYS_clone3], Enosys, cap(CAP_SYS_ADMIN)),
    // Host and domain name (the UTS namespace is set up before the filter).
    rule(&[nr::SYS_sethostname, nr::SYS_setdomainname], Eperm, cap(CAP_SYS_ADMIN)),
    // Other administration: quotas, fanotify, dcookies, LSM attributes.
    rule(
        &[
            nr::SYS_quotactl,
            nr::SYS_quotactl_fd,
            nr::SYS_fanotify_init,
            nr::SYS_lookup_dcookie,
            nr::SYS_lsm_get_self_attr,
            nr::SYS_lsm_set_self_attr,
            nr::SYS_lsm_list_modules,
        ],
        Eperm,
        cap(CAP_SYS_ADMIN),
    ),
    // The kernel log.
    rule(&[nr::SYS_syslog], Eperm, cap(CAP_SYS_ADMIN) | cap(CAP_SYSLOG)),
    // eBPF programs and performance counters.
    rule(&[nr::SYS_bpf], Eperm, cap(CAP_SYS_ADMIN) | cap(CAP_BPF)),
    rule(&[nr::SYS_perf_event_open], Eperm, cap(CAP_SYS_ADMIN) | cap(CAP_PERFMON)),
    // Kernel keyrings (not namespaced).
    rule(&[nr::SYS_add_key, nr::SYS_request_key, nr::SYS_keyctl], Eperm, NOBODY),
    // userfaultfd: a classic exploit helper.
    rule(&[nr::SYS_userfaultfd], Eperm, NOBODY),
    // io_uring: runs calls the filter never sees.
    rule(&[nr::SYS_io_uring_setup, nr::SYS_io_uring_enter, nr::SYS_io_uring_register], Eperm, NOBODY),
    // Opening files by handle bypasses the mount tree (the shocker escape).
    rule(&[nr::SYS_open_by_handle_at, nr::SYS_name_to_handle_at], Eperm, cap(CAP_DAC_READ_SEARCH)),
    // Peeking at other processes beyond ptrace.
    rule(&[nr::SYS_kcmp, nr::SYS_pidfd_getfd, nr::SYS_process_madvise], Eperm, cap(CAP_SYS_PTRACE)),
    // Setting the system clock (adjtimex and clock_adjtime stay: the kernel checks writes).
    rule(&[nr::SYS_settimeofday, nr::SYS_clock_settime], Eperm, cap(CAP_SYS_TIME)),
    // Raw I/O ports.
    rule(&[nr::SYS_iopl, nr::SYS_ioperm], Eperm, cap(CAP_SYS_RAWIO)),
    // Process accounting.
    rule(&[nr::SYS_acct], Eperm, cap(CAP_SYS_PACCT)),
    // Hanging up the terminal.
    rule(&[nr::SYS_vhangup], Eperm, cap(CAP_SYS_TTY_CONFIG)),
    // chroot (CAP_SYS_CHROOT is in the default set, so it is allowed by default).
    rule(&[nr::SYS_chroot], Eperm, cap(CAP_SYS_CHROOT)),
    // NUMA memory policy, and moving pages between nodes.
    rule(
        &[nr::SYS_mbind, nr::SYS_set_mempolicy, nr::SYS_get_mempolicy, nr::SYS_set_mempolicy_home_node],
        Eperm,
        cap(CAP_SYS_NICE),
    ),
    rule(&[nr::SYS_migrate_pages, nr::SYS_move_pages], Eperm, NOBODY),
    // Sockets of the kernel crypto API (AF_ALG) and to the hypervisor (AF_VSOCK).
    rule(&[nr::SYS_socket], SocketDomain, NOBODY),
    // Execution domains other than Linux's.
    rule(&[nr::SYS_personality], PersonalityArg, NOBODY),
    // Obsolete or never implemented.
    rule(
        &[
            nr::SYS_uselib,
            nr::SYS_ustat,
            nr::SYS_sysfs,
            nr::SYS__sysctl,
            nr::SYS_nfsservctl,
            nr::SYS_create_module,
            nr::SYS_get_kernel_syms,
            nr::SYS_query_module,
            nr::SYS_getpmsg,
            nr::SYS_putpmsg,
            nr::SYS_afs_syscall,
            nr::SYS_tuxcall,
            nr::SYS_security,
            nr::SYS_vserver,
        ],
        Eperm,
        NOBODY,
    ),
];

// Classic BPF opcodes (linux/bpf_common.h): load a word of seccomp_data, compare the
// accumulator with a constant, return a constant.
const LD: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET: u16 = 0x06; // BPF_RET | BPF_K

// Offsets in struct seccomp_data: nr, arch, then args[] (64-bit, little-endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_BIT: u32 = 0x4000_0000;
/// clone flags Docker refuses: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
const CLONE_NEW_ANY: u32 = 0x7E02_0000;
const AF_ALG: u32 = 38;
const AF_VSOCK: u32 = 40;
/// PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and the query 0xffffffff.
const PERSONALITIES: [u32; 5] = [0, 8, 0x2_0000, 0x2_0008, 0xffff_ffff];

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const fn ret_errno(e: i32) -> u32 {
    0x0005_0000 | (e as u32 & 0xffff)
}

/// Jump targets: fall through, skip one instruction, or a labelled place.
#[derive(Clone, Copy, PartialEq)]
enum To {
    Next,
    Over,
    Allow,
    Eperm,
    Enosys,
    Kill,
    Clone,
    Socket,
    Personality,
}
const LABELS: usize = To::Personality as usize + 1;

/// Longest program: header, two instructions per range (at most one range per number
/// in RULES, plus the hole and the numbers above MAX_NR), the argument checks and the
/// returns. Every jump is
/// forward and shorter than the program, so it fits the 8-bit jt/jf fields.
const MAX_LEN: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < RULES.len() {
        n += RULES[i].nrs.len();
        i += 1;
    }
    5 + 2 * (n + 2) + 2 + 4 + (1 + PERSONALITIES.len()) + 4
};
const _: () = assert!(MAX_LEN <= 256);

/// Instructions whose jumps name targets, resolved into offsets by `finish`.
struct Asm {
    code: Vec<(u16, u32, To, To)>,
    at: [usize; LABELS],
}

impl Asm {
    fn op(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, k, jt, jf));
    }
    fn label(&mut self, l: To) {
        self.at[l as usize] = self.code.len();
    }
    fn finish(self) -> Vec<sock_filter> {
        let at = self.at;
        let off = |pc: usize, to: To| -> u8 {
            let target = match to {
                To::Next => pc + 1,
                To::Over => pc + 2,
                l => at[l as usize],
            };
            // Forward by construction and shorter than MAX_LEN (checked above).
            target.saturating_sub(pc + 1) as u8
        };
        let code = self.code.iter().enumerate();
        code.map(|(pc, &(code, k, jt, jf))| sock_filter {
            code,
            jt: off(pc, jt),
            jf: off(pc, jf),
            k,
        })
        .collect()
    }
}

/// A ready-to-load seccomp program, built in the parent before clone.
pub struct Filter {
    prog: Vec<sock_filter>,
}

impl Filter {
    /// Docker-like default profile for a container holding `caps` (bit N = capability N).
    pub fn default_profile(caps: u64) -> Filter {
        // What each known number gets; None: allowed.
        let mut acts = [None; MAX_NR as usize + 1];
        if let Some(hole) = acts.get_mut(HOLE.0 as usize..=HOLE.1 as usize) {
            hole.fill(Some(Enosys));
        }
        for r in RULES.iter().filter(|r| caps & r.unless == 0) {
            for &n in r.nrs {
                if let Some(a) = acts.get_mut(n as usize) {
                    *a = Some(r.act);
                }
            }
        }
        // The numbers not allowed, as ascending ranges of one action (an argument check
        // covers a single number), then all numbers above MAX_NR.
        let mut runs: Vec<(u32, u32, Act)> = Vec::new();
        for (n, act) in (0..).zip(acts) {
            let Some(act) = act else { continue };
            match runs.last_mut() {
                Some(run) if run.1 + 1 == n && run.2 == act && matches!(act, Eperm | Enosys) => {
                    run.1 = n
                }
                _ => runs.push((n, n, act)),
            }
        }
        runs.push((MAX_NR + 1, X32_BIT - 1, Enosys));

        let mut a = Asm {
            code: Vec::with_capacity(MAX_LEN),
            at: [0; LABELS],
        };
        // Only x86_64 calls; x32 calls (and any number with the bit) kill. Number -1,
        // "no call" for tracers, is not x32: it gets ENOSYS as the kernel would give.
        a.op(LD, ARCH, To::Next, To::Next);
        a.op(JEQ, AUDIT_ARCH_X86_64, To::Next, To::Kill);
        a.op(LD, NR, To::Next, To::Next);
        a.op(JGE, X32_BIT, To::Next, To::Over);
        a.op(JEQ, u32::MAX, To::Enosys, To::Kill);
        // Ascending ranges: past `hi`, go on; else from `lo` on it is this range's.
        let last = runs.len().saturating_sub(1);
        for (i, &(lo, hi, act)) in runs.iter().enumerate() {
            let past = if i == last { To::Allow } else { To::Over };
            a.op(JGT, hi, past, To::Next);
            let to = match act {
                Eperm => To::Eperm,
                Enosys => To::Enosys,
                CloneFlags => To::Clone,
                SocketDomain => To::Socket,
                PersonalityArg => To::Personality,
            };
            a.op(JGE, lo, to, To::Allow);
        }
        // Argument checks: the low 32 bits are all the kernel reads of these arguments.
        a.label(To::Clone);
        a.op(LD, ARG0_LOW, To::Next, To::Next);
        a.op(JSET, CLONE_NEW_ANY, To::Eperm, To::Allow);
        a.label(To::Socket);
        a.op(LD, ARG0_LOW, To::Next, To::Next);
        a.op(JEQ, AF_ALG, To::Eperm, To::Next);
        a.op(JEQ, AF_VSOCK, To::Eperm, To::Allow);
        a.label(To::Personality);
        a.op(LD, ARG0_LOW, To::Next, To::Next);
        for (i, p) in PERSONALITIES.iter().enumerate() {
            let no = if i + 1 == PERSONALITIES.len() {
                To::Eperm
            } else {
                To::Next
            };
            a.op(JEQ, *p, To::Allow, no);
        }
        for (l, k) in [
            (To::Allow, RET_ALLOW),
            (To::Eperm, ret_errno(libc::EPERM)),
            (To::Enosys, ret_errno(libc::ENOSYS)),
            (To::Kill, RET_KILL_PROCESS),
        ] {
            a.label(l);
            a.op(RET, k, To::Next, To::Next);
        }
        Filter { prog: a.finish() }
    }

    /// Number of BPF instructions (at most 256).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// Load it into the calling thread (no_new_privs must already be set). Only the raw
    /// syscall, no allocation: this runs in the container's child after fork.
    pub fn install(&self) -> Result<(), Errno> {
        crate::sys::seccomp_set_mode_filter(&self.prog)
    }
}

#[cfg(test)]
#[allow(unsafe_code)] // the tests fork and make raw calls to watch the filter work
mod tests {
    use super::*;

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

    const EPERM: u32 = ret_errno(libc::EPERM);
    const ENOSYS: u32 = ret_errno(libc::ENOSYS);
    const ALLOW: u32 = RET_ALLOW;
    const KILL: u32 = RET_KILL_PROCESS;
    const I386: u32 = 0x4000_0003;

    /// A classic-BPF interpreter for the instructions `Filter` emits, with the
    /// kernel's checks: forward jumps in range, aligned loads inside seccomp_data.
    fn run_arch(f: &Filter, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        data[8..16].copy_from_slice(&0x4000_1000u64.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let p = &f.prog;
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
                JSET => jump(acc & i.k != 0),
                RET => return i.k,
                c => panic!("unknown opcode {c:#x} at {pc}"),
            };
            assert!(pc < p.len(), "jump out of the program");
        }
    }
    fn run(f: &Filter, nr: libc::c_long, args: [u64; 6]) -> u32 {
        run_arch(f, AUDIT_ARCH_X86_64, nr as u32, args)
    }
    fn call(f: &Filter, nr: libc::c_long) -> u32 {
        run(f, nr, [0; 6])
    }
    fn call1(f: &Filter, nr: libc::c_long, a0: u64) -> u32 {
        run(f, nr, [a0, 0, 0, 0, 0, 0])
    }

    #[test]
    fn program_is_well_formed() {
        for caps in [0, DOCKER_CAPS, u64::MAX, cap(CAP_SYS_ADMIN)] {
            let f = Filter::default_profile(caps);
            assert!(
                f.len() <= MAX_LEN && f.len() < 256,
                "{} instructions",
                f.len()
            );
            assert_eq!(f.prog.last().map(|i| i.code), Some(RET));
            for (pc, i) in f.prog.iter().enumerate() {
                if i.code & 0x07 == 0x05 {
                    assert!(
                        pc + 1 + usize::from(i.jt.max(i.jf)) < f.len(),
                        "jump out at {pc}"
                    );
                }
            }
        }
        // Each number is in at most one rule.
        let mut all: Vec<_> = RULES.iter().flat_map(|r| r.nrs.iter()).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a number is in two rules");
    }

    #[test]
    fn mount_needs_sys_admin() {
        assert_eq!(
            call(&Filter::default_profile(DOCKER_CAPS), nr::SYS_mount),
            EPERM
        );
        assert_eq!(
            call(
                &Filter::default_profile(DOCKER_CAPS | cap(CAP_SYS_ADMIN)),
                nr::SYS_mount
            ),
            ALLOW
        );
    }

    #[test]
    fn clone_namespaces() {
        let f = Filter::default_profile(DOCKER_CAPS);
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
        assert_eq!(call1(&f, nr::SYS_clone, thread), ALLOW);
        assert_eq!(call1(&f, nr::SYS_clone, fork), ALLOW);
        assert_eq!(call1(&f, nr::SYS_clone, libc::SIGCHLD as u64), ALLOW);
        for ns in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWCGROUP,
        ] {
            assert_eq!(call1(&f, nr::SYS_clone, fork | ns as u64), EPERM, "{ns:#x}");
        }
        assert_eq!(call(&f, nr::SYS_clone3), ENOSYS);
        let admin = Filter::default_profile(DOCKER_CAPS | cap(CAP_SYS_ADMIN));
        assert_eq!(
            call1(&admin, nr::SYS_clone, fork | libc::CLONE_NEWUSER as u64),
            ALLOW
        );
        assert_eq!(call(&admin, nr::SYS_clone3), ALLOW);
    }

    #[test]
    fn socket_domains() {
        let f = Filter::default_profile(DOCKER_CAPS);
        assert_eq!(call1(&f, nr::SYS_socket, 38), EPERM); // AF_ALG
        assert_eq!(call1(&f, nr::SYS_socket, 40), EPERM); // AF_VSOCK
        assert_eq!(call1(&f, nr::SYS_socket, (1 << 32) | 38), EPERM); // the kernel reads an int
        for ok in [
            libc::AF_UNIX,
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_NETLINK,
            libc::AF_PACKET,
            39,
            41,
        ] {
            assert_eq!(call1(&f, nr::SYS_socket, ok as u64), ALLOW, "{ok}");
        }
        // Not even CAP_SYS_ADMIN opens them, as in Docker.
        assert_eq!(
            call1(&Filter::default_profile(u64::MAX), nr::SYS_socket, 38),
            EPERM
        );
    }

    #[test]
    fn personality_values() {
        let f = Filter::default_profile(DOCKER_CAPS);
        for ok in PERSONALITIES {
            assert_eq!(call1(&f, nr::SYS_personality, ok.into()), ALLOW, "{ok:#x}");
        }
        for bad in [0x0040000u64, 0x0400000, 1, 0x0010_0000] {
            assert_eq!(call1(&f, nr::SYS_personality, bad), EPERM, "{bad:#x}");
        }
    }

    #[test]
    fn unknown_numbers_get_enosys() {
        let f = Filter::default_profile(DOCKER_CAPS);
        for n in [
            MAX_NR + 1,
            467,
            469,
            999,
            0x3fff_ffff,
            HOLE.0,
            400,
            HOLE.1,
            u32::MAX,
        ] {
            assert_eq!(run_arch(&f, AUDIT_ARCH_X86_64, n, [0; 6]), ENOSYS, "{n}");
        }
        // The neighbours of the hole and the top are real calls.
        for n in [335, 424, 466, MAX_NR] {
            assert_eq!(run_arch(&f, AUDIT_ARCH_X86_64, n, [0; 6]), ALLOW, "{n}");
        }
    }

    #[test]
    fn foreign_abis_are_killed() {
        let f = Filter::default_profile(DOCKER_CAPS);
        assert_eq!(run_arch(&f, AUDIT_ARCH_X86_64, X32_BIT | 39, [0; 6]), KILL); // x32 getpid
        assert_eq!(run_arch(&f, AUDIT_ARCH_X86_64, X32_BIT, [0; 6]), KILL);
        assert_eq!(run_arch(&f, AUDIT_ARCH_X86_64, 0x8000_0000, [0; 6]), KILL);
        assert_eq!(run_arch(&f, I386, 20, [0; 6]), KILL); // i386 getpid
        assert_eq!(run_arch(&f, I386, 0, [0; 6]), KILL);
        assert_eq!(
            run_arch(&Filter::default_profile(u64::MAX), I386, 1, [0; 6]),
            KILL
        );
    }

    #[test]
    fn everyday_calls_are_allowed() {
        let f = Filter::default_profile(DOCKER_CAPS);
        for n in [
            nr::SYS_read,
            nr::SYS_write,
            nr::SYS_execve,
            nr::SYS_exit_group,
            nr::SYS_openat,
            nr::SYS_mmap,
            nr::SYS_wait4,
            nr::SYS_getpid,
            nr::SYS_chroot, // CAP_SYS_CHROOT is a default capability
            nr::SYS_ptrace,
            nr::SYS_process_vm_readv,
            nr::SYS_process_vm_writev,
            nr::SYS_adjtimex,
            nr::SYS_clock_adjtime,
            nr::SYS_arch_prctl,
            nr::SYS_modify_ldt,
            nr::SYS_seccomp,
            nr::SYS_prctl,
            nr::SYS_setuid,
            nr::SYS_fchmodat2,
            nr::SYS_mseal,
        ] {
            assert_eq!(call(&f, n), ALLOW, "{n}");
        }
    }

    /// Every rule, one number at a time: refused without caps, allowed with the caps
    /// that lift it (the argument checks are covered above).
    #[test]
    fn every_family_refused_and_lifted() {
        let none = Filter::default_profile(0);
        for r in RULES {
            let lifted = Filter::default_profile(r.unless);
            for &n in r.nrs {
                let want = match r.act {
                    Eperm => EPERM,
                    Enosys => ENOSYS,
                    CloneFlags => {
                        assert_eq!(call1(&none, n, libc::CLONE_NEWNET as u64), EPERM);
                        continue;
                    }
                    SocketDomain => {
                        assert_eq!(call1(&none, n, AF_VSOCK.into()), EPERM);
                        continue;
                    }
                    PersonalityArg => {
                        assert_eq!(call1(&none, n, 0x0040000), EPERM);
                        continue;
                    }
                };
                assert_eq!(call(&none, n), want, "nr {n}");
                if r.unless != NOBODY {
                    assert_eq!(call(&lifted, n), ALLOW, "nr {n} with caps {:#x}", r.unless);
                    // Each capability of `unless` lifts it on its own.
                    for c in 0..64 {
                        if r.unless & cap(c) != 0 {
                            assert_eq!(
                                call(&Filter::default_profile(cap(c)), n),
                                ALLOW,
                                "nr {n} cap {c}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Which families the named capabilities lift, spelled out.
    #[test]
    fn capabilities_lift_their_families() {
        #[rustfmt::skip]
        let cases: &[(u32, &[libc::c_long])] = &[
            (CAP_SYS_ADMIN, &[nr::SYS_umount2, nr::SYS_unshare, nr::SYS_setns, nr::SYS_pivot_root,
                              nr::SYS_fsopen, nr::SYS_syslog, nr::SYS_bpf, nr::SYS_perf_event_open,
                              nr::SYS_sethostname, nr::SYS_quotactl, nr::SYS_fanotify_init]),
            (CAP_SYS_MODULE, &[nr::SYS_init_module, nr::SYS_finit_module, nr::SYS_delete_module]),
            (CAP_SYS_BOOT, &[nr::SYS_reboot]),
            (CAP_SYS_TIME, &[nr::SYS_settimeofday, nr::SYS_clock_settime]),
            (CAP_SYS_PACCT, &[nr::SYS_acct]),
            (CAP_SYS_RAWIO, &[nr::SYS_iopl, nr::SYS_ioperm]),
            (CAP_SYS_NICE, &[nr::SYS_mbind, nr::SYS_set_mempolicy, nr::SYS_get_mempolicy]),
            (CAP_SYSLOG, &[nr::SYS_syslog]),
            (CAP_BPF, &[nr::SYS_bpf]),
            (CAP_PERFMON, &[nr::SYS_perf_event_open]),
            (CAP_SYS_PTRACE, &[nr::SYS_kcmp, nr::SYS_pidfd_getfd]),
            (CAP_DAC_READ_SEARCH, &[nr::SYS_open_by_handle_at, nr::SYS_name_to_handle_at]),
            (CAP_SYS_TTY_CONFIG, &[nr::SYS_vhangup]),
        ];
        let base = Filter::default_profile(DOCKER_CAPS);
        for &(c, nrs) in cases {
            let f = Filter::default_profile(DOCKER_CAPS | cap(c));
            for &n in nrs {
                assert_eq!(call(&base, n), EPERM, "nr {n}");
                assert_eq!(call(&f, n), ALLOW, "nr {n} with cap {c}");
            }
        }
        // Not lifted by any capability.
        let all = Filter::default_profile(u64::MAX);
        for n in [
            nr::SYS_kexec_load,
            nr::SYS_kexec_file_load,
            nr::SYS_swapon,
            nr::SYS_swapoff,
            nr::SYS_add_key,
            nr::SYS_request_key,
            nr::SYS_keyctl,
            nr::SYS_userfaultfd,
            nr::SYS_io_uring_setup,
            nr::SYS_io_uring_enter,
            nr::SYS_io_uring_register,
            nr::SYS_migrate_pages,
            nr::SYS_move_pages,
            nr::SYS_uselib,
            nr::SYS_ustat,
            nr::SYS_sysfs,
            nr::SYS__sysctl,
            nr::SYS_nfsservctl,
            nr::SYS_create_module,
        ] {
            assert_eq!(call(&all, n), EPERM, "nr {n}");
        }
        // Without CAP_SYS_CHROOT, chroot is refused too.
        assert_eq!(
            call(
                &Filter::default_profile(DOCKER_CAPS & !cap(CAP_SYS_CHROOT)),
                nr::SYS_chroot
            ),
            EPERM
        );
    }

    /// The whole x86_64 table against the numbers Docker's profile refuses (taken from
    /// moby's default.json and the x86_64 table; no capability held, plain arguments).
    #[test]
    fn whole_table_matches_docker() {
        const REFUSED: &[u32] = &[
            103, 134, 136, 139, 153, 155, 156, 161, 163, 164, 165, 166, 167, 168, 169, 170, 171,
            172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 212, 227, 236,
            237, 238, 239, 246, 248, 249, 250, 256, 272, 279, 298, 300, 303, 304, 308, 312, 313,
            320, 321, 323, 425, 426, 427, 428, 429, 430, 431, 432, 433, 438, 440, 442, 443, 450,
            459, 460, 461,
        ];
        let f = Filter::default_profile(0);
        for n in 0..=MAX_NR {
            let want = if n == 435 || (HOLE.0..=HOLE.1).contains(&n) {
                ENOSYS
            } else if REFUSED.contains(&n) {
                EPERM
            } else {
                ALLOW
            };
            assert_eq!(run_arch(&f, AUDIT_ARCH_X86_64, n, [0; 6]), want, "nr {n}");
        }
    }

    /// Loads the filter for real in a forked child and checks what the kernel answers.
    /// Returns the child's wait status.
    fn in_child(f: &Filter, body: fn() -> i32) -> i32 {
        // SAFETY: the child only makes raw system calls and leaves with _exit.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                let no_core = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(90);
                }
                if f.install().is_err() {
                    libc::_exit(91);
                }
                libc::_exit(body());
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            status
        }
    }
    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }
    fn require_root() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() == 0 };
        assert!(
            root,
            "this test loads the filter for real and needs root (make test runs as root)"
        );
    }

    #[test]
    fn real_filter_in_a_child() {
        require_root();
        let f = Filter::default_profile(DOCKER_CAPS);
        let status = in_child(&f, || {
            // SAFETY: plain system calls with valid arguments.
            unsafe {
                if libc::unshare(libc::CLONE_NEWUTS) != -1 || errno() != libc::EPERM {
                    return 1;
                }
                if libc::syscall(999) != -1 || errno() != libc::ENOSYS {
                    return 2;
                }
                if libc::syscall(libc::SYS_clone3, 0, 0) != -1 || errno() != libc::ENOSYS {
                    return 3;
                }
                if libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) != -1
                    || errno() != libc::EPERM
                {
                    return 4;
                }
                if libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT,
                    std::ptr::null(),
                ) != -1
                    || errno() != libc::EPERM
                {
                    return 5;
                }
                if libc::getpid() <= 0 {
                    return 6;
                }
                if libc::personality(0xffff_ffff) == -1 {
                    return 7;
                }
            }
            0
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
            // SAFETY: plain system call; the new UTS namespace dies with the child.
            if unsafe { libc::unshare(libc::CLONE_NEWUTS) } == 0 {
                0
            } else {
                1
            }
        });
        assert_eq!(
            (libc::WIFEXITED(status), libc::WEXITSTATUS(status)),
            (true, 0)
        );
    }

    #[test]
    fn real_x32_and_i386_calls_are_killed() {
        require_root();
        let f = Filter::default_profile(DOCKER_CAPS);
        let status = in_child(&f, || {
            // SAFETY: a raw system call; the filter kills the process before it runs.
            unsafe { libc::syscall(X32_BIT as libc::c_long | nr::SYS_getpid) };
            0
        });
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
            "x32: {status:#x}"
        );
        let status = in_child(&f, || {
            // SAFETY: i386 getpid through int 0x80; it touches no memory.
            unsafe {
                std::arch::asm!("int 0x80", inlateout("eax") 20 => _, out("r8") _, out("r9") _,
                    out("r10") _, out("r11") _, options(nostack));
            }
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
}
