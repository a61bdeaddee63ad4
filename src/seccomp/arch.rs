//! The facts of each architecture the filter is built for, one [`Arch`] value each: what
//! `seccomp_data.arch` says for its native calls, how calls of its other ABIs are told
//! apart, its number of every system call the default profile names (as [`Sys`]), and
//! every call's name (for OCI profiles, which name calls by string). Both tables are compiled
//! on every host (the unit tests check the aarch64 program on x86_64); [`NATIVE`] is the
//! one place that looks at the build target.

use super::profile::Sys::{self, *};

/// An architecture, as the filter sees it.
pub struct Arch {
    /// Rust's name for it (`std::env::consts::ARCH`).
    pub name: &'static str,
    /// `seccomp_data.arch` for its native calls (AUDIT_ARCH_*). Any other value is a call
    /// through another ABI of the same CPU and kills the process.
    pub audit: u32,
    /// Those other ABIs, by name and AUDIT_ARCH_* (what the tests feed the program).
    #[cfg_attr(not(test), allow(dead_code))]
    pub compat: &'static [(&'static str, u32)],
    /// Where another ABI hides under the same `audit` in the number itself: numbers from
    /// this on kill the process, but -1 ("no call", set by tracers), which gets ENOSYS.
    pub abi_from: Option<u32>,
    /// The highest number the filter knows: anything above gets ENOSYS.
    pub max_nr: u32,
    /// Ranges at or below `max_nr` that are no call here: they get ENOSYS too.
    pub holes: &'static [(u32, u32)],
    /// Its number of each call the profile names; None where it has no such call.
    pub nr: fn(Sys) -> Option<u32>,
    /// Every call's name, for OCI profiles: runs of consecutive numbers, each the first
    /// number and the names in order, one per number, space-separated. The gaps between
    /// runs are `holes`; the last name is numbered `max_nr`.
    pub names: &'static [(u32, &'static str)],
    /// The kernel headers (Debian's paths) the tests check `nr`, `holes` and `max_nr`
    /// against: alternatives, each the files to read in order.
    #[cfg_attr(not(test), allow(dead_code))]
    pub headers: &'static [&'static [&'static str]],
}

impl Arch {
    /// The number of the call named `name` (the kernel's spelling), if this architecture
    /// has such a call.
    pub fn number(&self, name: &str) -> Option<u32> {
        self.names.iter().find_map(|&(first, names)| {
            (first..)
                .zip(names.split(' '))
                .find_map(|(n, s)| (s == name).then_some(n))
        })
    }

    /// Whether `n` is no call here: in a hole, or above the highest number.
    pub fn unknown(&self, n: u32) -> bool {
        n > self.max_nr || self.holes.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))
    }
}

// linux/audit.h: AUDIT_ARCH_* is the ELF machine (linux/elf-em.h) with these two bits.
const AUDIT_64BIT: u32 = 0x8000_0000;
const AUDIT_LE: u32 = 0x4000_0000;

/// The architecture crab-can is built for.
pub const NATIVE: &Arch = if cfg!(target_arch = "x86_64") {
    &X86_64
} else if cfg!(target_arch = "aarch64") {
    &AARCH64
} else {
    panic!("the seccomp filter knows the x86_64 and aarch64 system-call tables only")
};

/// x86_64: i386 calls (`int 0x80`) come as AUDIT_ARCH_I386; x32 calls as x86_64 with bit
/// 30 of the number set. Numbers from `arch/x86/entry/syscalls/syscall_64.tbl`.
pub const X86_64: Arch = Arch {
    name: "x86_64",
    audit: 62 | AUDIT_64BIT | AUDIT_LE, // AUDIT_ARCH_X86_64 (EM_X86_64)
    compat: &[("i386", 3 | AUDIT_LE)],  // AUDIT_ARCH_I386 (EM_386)
    abi_from: Some(0x4000_0000),        // __X32_SYSCALL_BIT
    // removexattrat (Linux 6.13), the newest call Docker's profile names.
    max_nr: 466,
    // Between uretprobe (335) and pidfd_send_signal (424).
    holes: &[(336, 423)],
    nr: x86_64,
    names: &[(0, X86_64_NAMES), (424, UNIFIED_NAMES)],
    headers: &[
        &["/usr/include/x86_64-linux-gnu/asm/unistd_64.h"],
        &["/usr/x86_64-linux-gnu/include/asm/unistd_64.h"],
    ],
};

/// x86_64's calls 0 to 335.
const X86_64_NAMES: &str = "read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction \
    rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select \
    sched_yield mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep \
    getitimer alarm setitimer getpid sendfile socket connect accept sendto recvfrom sendmsg \
    recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt \
    clone fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd \
    msgrcv msgctl fcntl flock fsync fdatasync truncate ftruncate getdents getcwd chdir \
    fchdir rename mkdir rmdir creat link unlink symlink readlink chmod fchmod chown fchown \
    lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace getuid syslog getgid \
    setuid setgid geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups \
    setgroups setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid \
    capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack \
    utime mknod uselib personality ustat statfs fstatfs sysfs getpriority setpriority \
    sched_setparam sched_getparam sched_setscheduler sched_getscheduler \
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock \
    mlockall munlockall vhangup modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex \
    setrlimit chroot sync acct settimeofday mount umount2 swapon swapoff reboot sethostname \
    setdomainname iopl ioperm create_module init_module delete_module get_kernel_syms \
    query_module quotactl nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid \
    readahead setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr \
    flistxattr removexattr lremovexattr fremovexattr tkill time futex sched_setaffinity \
    sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit io_cancel \
    get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old \
    remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 \
    timer_create timer_settime timer_gettime timer_getoverrun timer_delete clock_settime \
    clock_gettime clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes \
    vserver mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive \
    mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set \
    ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat \
    mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat \
    fchmodat faccessat pselect6 ppoll unshare set_robust_list get_robust_list splice tee \
    sync_file_range vmsplice move_pages utimensat epoll_pwait signalfd timerfd_create \
    eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 \
    epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open \
    recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at open_by_handle_at \
    clock_adjtime syncfs sendmmsg setns getcpu process_vm_readv process_vm_writev kcmp \
    finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create \
    kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 \
    pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq uretprobe";

#[rustfmt::skip]
fn x86_64(s: Sys) -> Option<u32> {
    Some(match s {
        socket => 41,
        clone => 56,
        syslog => 103,
        uselib => 134,
        personality => 135,
        ustat => 136,
        sysfs => 139,
        vhangup => 153,
        pivot_root => 155,
        _sysctl => 156,
        chroot => 161,
        acct => 163,
        settimeofday => 164,
        mount => 165,
        umount2 => 166,
        swapon => 167,
        swapoff => 168,
        reboot => 169,
        sethostname => 170,
        setdomainname => 171,
        iopl => 172,
        ioperm => 173,
        create_module => 174,
        init_module => 175,
        delete_module => 176,
        get_kernel_syms => 177,
        query_module => 178,
        quotactl => 179,
        nfsservctl => 180,
        getpmsg => 181,
        putpmsg => 182,
        afs_syscall => 183,
        tuxcall => 184,
        security => 185,
        lookup_dcookie => 212,
        clock_settime => 227,
        vserver => 236,
        mbind => 237,
        set_mempolicy => 238,
        get_mempolicy => 239,
        kexec_load => 246,
        add_key => 248,
        request_key => 249,
        keyctl => 250,
        migrate_pages => 256,
        unshare => 272,
        move_pages => 279,
        perf_event_open => 298,
        fanotify_init => 300,
        name_to_handle_at => 303,
        open_by_handle_at => 304,
        setns => 308,
        kcmp => 312,
        finit_module => 313,
        kexec_file_load => 320,
        bpf => 321,
        userfaultfd => 323,
        // Numbered alike on every architecture since Linux 5.1.
        io_uring_setup | io_uring_enter | io_uring_register | open_tree | move_mount | fsopen
        | fsconfig | fsmount | fspick | clone3 | pidfd_getfd | process_madvise
        | mount_setattr | quotactl_fd | set_mempolicy_home_node | lsm_get_self_attr
        | lsm_set_self_attr | lsm_list_modules => return unified(s),
    })
}

/// aarch64 (64-bit Arm): calls of 32-bit Arm programs (the compat ABI) come as
/// AUDIT_ARCH_ARM. Its numbers are asm-generic's (`include/uapi/asm-generic/unistd.h`,
/// `scripts/syscall.tbl` since Linux 6.11), which has none of the legacy calls (open, fork,
/// stat, ...) and none of the x86 ones.
pub const AARCH64: Arch = Arch {
    name: "aarch64",
    audit: 183 | AUDIT_64BIT | AUDIT_LE, // AUDIT_ARCH_AARCH64 (EM_AARCH64)
    compat: &[("arm", 40 | AUDIT_LE)],   // AUDIT_ARCH_ARM (EM_ARM)
    abi_from: None,
    // removexattrat (Linux 6.13), as on x86_64.
    max_nr: 466,
    // 244-259 are other architectures' own calls; 295-402 are unassigned and 403-423 are
    // the time64 calls of 32-bit architectures.
    holes: &[(244, 259), (295, 423)],
    nr: aarch64,
    names: &[
        (0, AARCH64_NAMES),
        (260, AARCH64_NAMES_260),
        (424, UNIFIED_NAMES),
    ],
    headers: &[
        // Linux 6.11 on: generated from scripts/syscall.tbl.
        &["/usr/aarch64-linux-gnu/include/asm/unistd_64.h"],
        // Before: asm-generic's, with arm64's choices.
        &[
            "/usr/aarch64-linux-gnu/include/asm/unistd.h",
            "/usr/aarch64-linux-gnu/include/asm-generic/unistd.h",
        ],
        // The same on an aarch64 host.
        &["/usr/include/aarch64-linux-gnu/asm/unistd_64.h"],
        &[
            "/usr/include/aarch64-linux-gnu/asm/unistd.h",
            "/usr/include/asm-generic/unistd.h",
        ],
    ],
};

/// aarch64's calls 0 to 243 (then 244-259 are other architectures' own calls).
const AARCH64_NAMES: &str = "io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr fsetxattr \
    getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr \
    fremovexattr getcwd lookup_dcookie eventfd2 epoll_create1 epoll_ctl epoll_pwait dup dup3 \
    fcntl inotify_init1 inotify_add_watch inotify_rm_watch ioctl ioprio_set ioprio_get flock \
    mknodat mkdirat unlinkat symlinkat linkat renameat umount2 mount pivot_root nfsservctl \
    statfs fstatfs truncate ftruncate fallocate faccessat chdir fchdir chroot fchmod \
    fchmodat fchownat fchown openat close vhangup pipe2 quotactl getdents64 lseek read write \
    readv writev pread64 pwrite64 preadv pwritev sendfile pselect6 ppoll signalfd4 vmsplice \
    splice tee readlinkat newfstatat fstat sync fsync fdatasync sync_file_range \
    timerfd_create timerfd_settime timerfd_gettime utimensat acct capget capset personality \
    exit exit_group waitid set_tid_address unshare futex set_robust_list get_robust_list \
    nanosleep getitimer setitimer kexec_load init_module delete_module timer_create \
    timer_gettime timer_getoverrun timer_settime timer_delete clock_settime clock_gettime \
    clock_getres clock_nanosleep syslog ptrace sched_setparam sched_setscheduler \
    sched_getscheduler sched_getparam sched_setaffinity sched_getaffinity sched_yield \
    sched_get_priority_max sched_get_priority_min sched_rr_get_interval restart_syscall kill \
    tkill tgkill sigaltstack rt_sigsuspend rt_sigaction rt_sigprocmask rt_sigpending \
    rt_sigtimedwait rt_sigqueueinfo rt_sigreturn setpriority getpriority reboot setregid \
    setgid setreuid setuid setresuid getresuid setresgid getresgid setfsuid setfsgid times \
    setpgid getpgid getsid setsid getgroups setgroups uname sethostname setdomainname \
    getrlimit setrlimit getrusage umask prctl getcpu gettimeofday settimeofday adjtimex \
    getpid getppid getuid geteuid getgid getegid gettid sysinfo mq_open mq_unlink \
    mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgctl msgrcv msgsnd semget \
    semctl semtimedop semop shmget shmctl shmat shmdt socket socketpair bind listen accept \
    connect getsockname getpeername sendto recvfrom setsockopt getsockopt shutdown sendmsg \
    recvmsg readahead brk munmap mremap add_key request_key keyctl clone execve mmap \
    fadvise64 swapon swapoff mprotect msync mlock munlock mlockall munlockall mincore \
    madvise remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages \
    rt_tgsigqueueinfo perf_event_open accept4 recvmmsg";

/// aarch64's calls 260 to 294.
const AARCH64_NAMES_260: &str = "wait4 prlimit64 fanotify_init fanotify_mark name_to_handle_at open_by_handle_at \
    clock_adjtime syncfs setns sendmmsg process_vm_readv process_vm_writev kcmp finit_module \
    sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create bpf execveat \
    userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc \
    pkey_free statx io_pgetevents rseq kexec_file_load";

#[rustfmt::skip]
fn aarch64(s: Sys) -> Option<u32> {
    Some(match s {
        lookup_dcookie => 18,
        umount2 => 39,
        mount => 40,
        pivot_root => 41,
        nfsservctl => 42,
        chroot => 51,
        vhangup => 58,
        quotactl => 60,
        acct => 89,
        personality => 92,
        unshare => 97,
        kexec_load => 104,
        init_module => 105,
        delete_module => 106,
        clock_settime => 112,
        syslog => 116,
        reboot => 142,
        sethostname => 161,
        setdomainname => 162,
        settimeofday => 170,
        socket => 198,
        add_key => 217,
        request_key => 218,
        keyctl => 219,
        clone => 220,
        swapon => 224,
        swapoff => 225,
        mbind => 235,
        get_mempolicy => 236,
        set_mempolicy => 237,
        migrate_pages => 238,
        move_pages => 239,
        perf_event_open => 241,
        fanotify_init => 262,
        name_to_handle_at => 264,
        open_by_handle_at => 265,
        setns => 268,
        kcmp => 272,
        finit_module => 273,
        bpf => 280,
        userfaultfd => 282,
        kexec_file_load => 294,
        // Numbered alike on every architecture since Linux 5.1.
        io_uring_setup | io_uring_enter | io_uring_register | open_tree | move_mount | fsopen
        | fsconfig | fsmount | fspick | clone3 | pidfd_getfd | process_madvise
        | mount_setattr | quotactl_fd | set_mempolicy_home_node | lsm_get_self_attr
        | lsm_set_self_attr | lsm_list_modules => return unified(s),
        // x86 only, or gone before asm-generic was made.
        iopl | ioperm | uselib | ustat | sysfs | _sysctl | create_module | get_kernel_syms
        | query_module | getpmsg | putpmsg | afs_syscall | tuxcall | security | vserver => {
            return None;
        }
    })
}

/// The names of the calls numbered alike on every architecture, 424 to 466.
const UNIFIED_NAMES: &str = "pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount \
    fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd \
    faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd \
    landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret \
    process_mrelease futex_waitv set_mempolicy_home_node cachestat fchmodat2 \
    map_shadow_stack futex_wake futex_wait futex_requeue statmount listmount \
    lsm_get_self_attr lsm_set_self_attr lsm_list_modules mseal setxattrat getxattrat \
    listxattrat removexattrat";

/// The calls numbered alike on every architecture (424 and up, since Linux 5.1), once.
#[rustfmt::skip]
fn unified(s: Sys) -> Option<u32> {
    Some(match s {
        io_uring_setup => 425,
        io_uring_enter => 426,
        io_uring_register => 427,
        open_tree => 428,
        move_mount => 429,
        fsopen => 430,
        fsconfig => 431,
        fsmount => 432,
        fspick => 433,
        clone3 => 435,
        pidfd_getfd => 438,
        process_madvise => 440,
        mount_setattr => 442,
        quotactl_fd => 443,
        set_mempolicy_home_node => 450,
        lsm_get_self_attr => 459,
        lsm_set_self_attr => 460,
        lsm_list_modules => 461,
        _ => return None,
    })
}
