//! What Docker's default profile (moby `profiles/seccomp/default.json`) refuses, family by
//! family, by system-call name: the table to diff against default.json. The numbers are
//! each architecture's business (`arch.rs`); a name an architecture lacks (aarch64 has no
//! `iopl`, `uselib`, ...) simply does not apply there.

/// The system calls the profile names, spelled as the kernel spells them (`__NR_<name>`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sys {
    init_module,
    finit_module,
    delete_module,
    kexec_load,
    kexec_file_load,
    reboot,
    swapon,
    swapoff,
    mount,
    umount2,
    pivot_root,
    open_tree,
    move_mount,
    fsopen,
    fsconfig,
    fsmount,
    fspick,
    mount_setattr,
    unshare,
    setns,
    clone,
    clone3,
    sethostname,
    setdomainname,
    quotactl,
    quotactl_fd,
    fanotify_init,
    lookup_dcookie,
    lsm_get_self_attr,
    lsm_set_self_attr,
    lsm_list_modules,
    syslog,
    bpf,
    perf_event_open,
    add_key,
    request_key,
    keyctl,
    userfaultfd,
    io_uring_setup,
    io_uring_enter,
    io_uring_register,
    open_by_handle_at,
    name_to_handle_at,
    kcmp,
    pidfd_getfd,
    process_madvise,
    settimeofday,
    clock_settime,
    iopl,
    ioperm,
    acct,
    vhangup,
    chroot,
    mbind,
    set_mempolicy,
    get_mempolicy,
    set_mempolicy_home_node,
    migrate_pages,
    move_pages,
    socket,
    personality,
    uselib,
    ustat,
    sysfs,
    _sysctl,
    nfsservctl,
    create_module,
    get_kernel_syms,
    query_module,
    getpmsg,
    putpmsg,
    afs_syscall,
    tuxcall,
    security,
    vserver,
}

// Capability numbers (linux/capability.h).
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SYS_MODULE: u32 = 16;
pub const CAP_SYS_RAWIO: u32 = 17;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SYS_PACCT: u32 = 20;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_BOOT: u32 = 22;
pub const CAP_SYS_NICE: u32 = 23;
pub const CAP_SYS_TIME: u32 = 25;
pub const CAP_SYS_TTY_CONFIG: u32 = 26;
pub const CAP_SYSLOG: u32 = 34;
pub const CAP_PERFMON: u32 = 38;
pub const CAP_BPF: u32 = 39;

pub const fn cap(c: u32) -> u64 {
    1 << c
}
/// No capability lifts the rule.
pub const NOBODY: u64 = 0;

/// What a rule does with a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Act {
    Eperm,
    Enosys,
    /// EPERM when the flags ask for a new namespace (any bit of [`CLONE_NEW_ANY`]).
    CloneFlags,
    /// EPERM for the AF_ALG and AF_VSOCK domains.
    SocketDomain,
    /// EPERM but for the [`PERSONALITIES`] Docker allows.
    PersonalityArg,
}

/// A family of calls that get `act`, unless the container holds a capability of `unless`.
pub struct Rule {
    pub calls: &'static [Sys],
    pub act: Act,
    pub unless: u64,
}

const fn rule(calls: &'static [Sys], act: Act, unless: u64) -> Rule {
    Rule { calls, act, unless }
}

use Act::{CloneFlags, Enosys, Eperm, PersonalityArg, SocketDomain};
use Sys::*;

/// What Docker's default profile refuses, family by family. Every other known call is
/// allowed (ptrace, process_vm_readv/writev, adjtimex, clock_adjtime included, as in
/// Docker on kernels >= 4.8). Stricter than Docker: name_to_handle_at is refused with
/// open_by_handle_at, as the hardening issue asks.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // Kernel modules.
    rule(&[init_module, finit_module, delete_module], Eperm, cap(CAP_SYS_MODULE)),
    // Booting another kernel.
    rule(&[kexec_load, kexec_file_load], Eperm, NOBODY),
    // Rebooting the machine.
    rule(&[reboot], Eperm, cap(CAP_SYS_BOOT)),
    // Swap devices.
    rule(&[swapon, swapoff], Eperm, NOBODY),
    // Mounts: the classic calls and the new mount API; pivot_root.
    rule(
        &[mount, umount2, pivot_root, open_tree, move_mount, fsopen, fsconfig, fsmount, fspick,
          mount_setattr],
        Eperm,
        cap(CAP_SYS_ADMIN),
    ),
    // Namespaces: entering or making them.
    rule(&[unshare, setns], Eperm, cap(CAP_SYS_ADMIN)),
    rule(&[clone], CloneFlags, cap(CAP_SYS_ADMIN)),
    // clone3's flags are in memory, out of BPF's reach: ENOSYS makes libcs use clone.
    rule(&[clone3], Enosys, cap(CAP_SYS_ADMIN)),
    // Host and domain name (the UTS namespace is set up before the filter).
    rule(&[sethostname, setdomainname], Eperm, cap(CAP_SYS_ADMIN)),
    // Other administration: quotas, fanotify, dcookies, LSM attributes.
    rule(
        &[quotactl, quotactl_fd, fanotify_init, lookup_dcookie, lsm_get_self_attr,
          lsm_set_self_attr, lsm_list_modules],
        Eperm,
        cap(CAP_SYS_ADMIN),
    ),
    // The kernel log.
    rule(&[syslog], Eperm, cap(CAP_SYS_ADMIN) | cap(CAP_SYSLOG)),
    // eBPF programs and performance counters.
    rule(&[bpf], Eperm, cap(CAP_SYS_ADMIN) | cap(CAP_BPF)),
    rule(&[perf_event_open], Eperm, cap(CAP_SYS_ADMIN) | cap(CAP_PERFMON)),
    // Kernel keyrings (not namespaced).
    rule(&[add_key, request_key, keyctl], Eperm, NOBODY),
    // userfaultfd: a classic exploit helper.
    rule(&[userfaultfd], Eperm, NOBODY),
    // io_uring: runs calls the filter never sees.
    rule(&[io_uring_setup, io_uring_enter, io_uring_register], Eperm, NOBODY),
    // Opening files by handle bypasses the mount tree (the shocker escape).
    rule(&[open_by_handle_at, name_to_handle_at], Eperm, cap(CAP_DAC_READ_SEARCH)),
    // Peeking at other processes beyond ptrace.
    rule(&[kcmp, pidfd_getfd, process_madvise], Eperm, cap(CAP_SYS_PTRACE)),
    // Setting the system clock (adjtimex and clock_adjtime stay: the kernel checks writes).
    rule(&[settimeofday, clock_settime], Eperm, cap(CAP_SYS_TIME)),
    // Raw I/O ports (x86 only).
    rule(&[iopl, ioperm], Eperm, cap(CAP_SYS_RAWIO)),
    // Process accounting.
    rule(&[acct], Eperm, cap(CAP_SYS_PACCT)),
    // Hanging up the terminal.
    rule(&[vhangup], Eperm, cap(CAP_SYS_TTY_CONFIG)),
    // chroot (CAP_SYS_CHROOT is in the default set, so it is allowed by default).
    rule(&[chroot], Eperm, cap(CAP_SYS_CHROOT)),
    // NUMA memory policy, and moving pages between nodes.
    rule(&[mbind, set_mempolicy, get_mempolicy, set_mempolicy_home_node], Eperm, cap(CAP_SYS_NICE)),
    rule(&[migrate_pages, move_pages], Eperm, NOBODY),
    // Sockets of the kernel crypto API (AF_ALG) and to the hypervisor (AF_VSOCK).
    rule(&[socket], SocketDomain, NOBODY),
    // Execution domains other than Linux's.
    rule(&[personality], PersonalityArg, NOBODY),
    // Obsolete or never implemented.
    rule(
        &[uselib, ustat, sysfs, _sysctl, nfsservctl, create_module, get_kernel_syms, query_module,
          getpmsg, putpmsg, afs_syscall, tuxcall, security, vserver],
        Eperm,
        NOBODY,
    ),
];

/// clone flags Docker refuses: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
pub const CLONE_NEW_ANY: u32 = 0x7E02_0000;
pub const AF_ALG: u32 = 38;
pub const AF_VSOCK: u32 = 40;
/// PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and the query 0xffffffff.
pub const PERSONALITIES: [u32; 5] = [0, 8, 0x2_0000, 0x2_0008, 0xffff_ffff];
