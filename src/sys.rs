//! The raw system calls rustix does not wrap, or wraps only as `unsafe`: `clone3` (and its
//! `clone` fallback), a plain fork for the init, `signalfd`, `sigprocmask` and signal
//! dispositions, `close_range` (and its fallback), `unshare`, `seccomp`, SIOCSIFFLAGS,
//! `execve`, `kill(-1)`, `_exit`; and the small file helpers over rustix the rest shares
//! ([`read_small`], [`read_text`], [`write_all`]).
//!
//! # Safety
//! This is the only module allowed `unsafe` (the crate root denies it everywhere else).
//! Each block says why it is sound; the functions it exports are safe to call.

use rustix::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::io::Errno;
use std::ffi::{CStr, c_char};

/// `CLONE_INTO_CGROUP` is bit 33: the libc crate's constant is truncated to 32 bits on
/// some versions, so spell out the 64-bit value.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::from_raw_os_error(errno()))
    } else {
        Ok(ret)
    }
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of a clone we are on.
pub enum Forked {
    Child,
    Parent {
        pid: i32,
        pidfd: OwnedFd,
        /// True when the kernel put the child into `cgroup` (clone3 with CLONE_INTO_CGROUP).
        in_cgroup: bool,
    },
}

/// Create the container's first process with `flags` (CLONE_NEW*), a pidfd, and, when
/// `cgroup` is given, born inside that cgroup. When `clone3` is refused (ENOSYS or EPERM,
/// as under Docker's seccomp profile) fall back to `clone`; the caller must then move the
/// child into its cgroup itself (`in_cgroup` is false).
///
/// The child returns with a copy of the parent's memory, like fork: it must stay
/// single-threaded, avoid the allocator where it can and leave with [`exit`].
pub fn clone_container(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, Errno> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        use rustix::fd::AsRawFd;
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: args is a valid clone_args of the size we pass; no CLONE_VM, so the child
    // gets its own copy of the address space and returns here like fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let (ret, in_cgroup) = match check(ret) {
        Ok(r) => (r, cgroup.is_some()),
        Err(Errno::NOSYS) | Err(Errno::PERM) => {
            let cflags = (flags & 0xffff_ffff) | libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64;
            // SAFETY: clone without CLONE_VM and with a null stack behaves like fork; with
            // CLONE_PIDFD the kernel writes the pidfd into the parent_tid pointer we pass.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    cflags,
                    0usize,
                    &mut pidfd as *mut RawFd,
                    0usize,
                    0usize,
                )
            };
            (check(r)?, false)
        }
        Err(e) => return Err(e),
    };
    if ret == 0 {
        return Ok(Forked::Child);
    }
    // SAFETY: the kernel returned a new pidfd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Forked::Parent {
        pid: ret as i32,
        pidfd,
        in_cgroup,
    })
}

/// `mount_setattr(path, AT_RECURSIVE, MOUNT_ATTR_RDONLY)`: the mount at `path` and every
/// mount below it read-only.
pub fn read_only_tree(path: &CStr) -> Result<(), Errno> {
    // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }.
    let attr: [u64; 4] = [libc::MOUNT_ATTR_RDONLY, 0, 0, 0];
    // SAFETY: path is a valid C string and attr a mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_RECURSIVE,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    check(r).map(drop)
}

// SAFETY: musl's `environ`, the process's environment as the kernel gave it (crab-can never
// changes it).
unsafe extern "C" {
    static environ: *const *const c_char;
}

/// The process's environment, `KEY=VALUE` each, read in place: no lock and no copy
/// (crab-can has one thread and never changes its environment).
pub fn environment() -> impl Iterator<Item = &'static [u8]> {
    // SAFETY: reading the pointer musl set up before `main`.
    let mut p = unsafe { environ };
    std::iter::from_fn(move || {
        if p.is_null() {
            return None;
        }
        // SAFETY: `environ` is a null-terminated array of C strings that live as long as
        // the process (nothing frees or changes them).
        let s = unsafe { *p };
        if s.is_null() {
            return None;
        }
        // SAFETY: as above; the next slot exists since this one was not the terminator.
        p = unsafe { p.add(1) };
        // SAFETY: `s` is a valid C string of the environment.
        Some(unsafe { CStr::from_ptr(s) }.to_bytes())
    })
}

/// The value of environment variable `name` (as `std::env::var_os`).
pub fn var_os<K: AsRef<std::ffi::OsStr> + ?Sized>(name: &K) -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    var_bytes(name.as_ref().as_bytes()).map(|v| std::ffi::OsStr::from_bytes(v).to_os_string())
}

fn var_bytes(name: &[u8]) -> Option<&'static [u8]> {
    environment().find_map(|kv| kv.strip_prefix(name)?.strip_prefix(b"="))
}

/// The most fds one message of [`send_fds`] carries.
pub const MAX_FDS: usize = 16;

/// Send `payload` on the unix socket `sock` with `fds` (SCM_RIGHTS), in one message. No
/// allocation: children use it.
pub fn send_fds(sock: BorrowedFd<'_>, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Errno> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space =
        [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(
        &fds[..fds.len().min(MAX_FDS)],
    ));
    rustix::net::sendmsg(
        sock,
        &[std::io::IoSlice::new(payload)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map(drop)
}

/// One message of a SEQPACKET socket into `buf`, with the first fd it carries (any other
/// is closed). No allocation: children use it.
pub fn receive_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>), Errno> {
    let mut fd = [None];
    let n = receive_into(sock, buf, &mut fd)?;
    let [fd] = fd;
    Ok((n, fd))
}

/// One message of a SEQPACKET socket into `buf`, with the fds it carries.
pub fn receive_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> (Result<usize, Errno>, Vec<OwnedFd>) {
    let mut fds = [const { None }; MAX_FDS];
    let n = receive_into(sock, buf, &mut fds);
    (n, fds.into_iter().flatten().collect())
}

/// One message into `buf`, its fds into the slots of `fds` (those beyond them closed).
fn receive_into(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut [Option<OwnedFd>],
) -> Result<usize, Errno> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space =
        [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let n = loop {
        match rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Err(Errno::INTR) => continue,
            r => break r?.bytes,
        }
    };
    let mut slots = fds.iter_mut();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            for fd in r {
                if let Some(slot) = slots.next() {
                    *slot = Some(fd);
                }
            }
        }
    }
    Ok(n)
}

/// A plain fork for the init (a raw clone with SIGCHLD: no libc atfork machinery, which
/// is not safe after our own raw clone). Returns 0 in the child, the pid in the parent.
pub fn fork() -> Result<i32, Errno> {
    // SAFETY: clone(SIGCHLD) without CLONE_VM is fork(); the child gets its own copy.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as usize,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    check(r).map(|r| r as i32)
}

/// A signal set built from signal numbers.
pub fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset only write into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Block `set` (or, with `how = SIG_SETMASK`, make it the whole mask).
pub fn sigprocmask(how: i32, set: &libc::sigset_t) -> Result<(), Errno> {
    // SAFETY: set points to a valid sigset_t; the old mask is not requested.
    let r = unsafe { libc::sigprocmask(how, set, std::ptr::null_mut()) };
    check(r as libc::c_long).map(drop)
}

/// Reset a signal's disposition to the default (SIGPIPE is ignored by Rust's runtime, and
/// an ignored signal would otherwise stay ignored across execve).
pub fn default_signal(sig: i32) {
    set_disposition(sig, libc::SIG_DFL);
}

/// The kernel's `struct sigaction` (x86_64 and aarch64 alike).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// `signal(sig, handler)` for SIG_DFL or SIG_IGN as one `rt_sigaction` (as musl's, with
/// SA_RESTART and an empty mask; no handler runs, so no restorer is needed).
fn set_disposition(sig: i32, handler: libc::sighandler_t) {
    let sa = KernelSigaction {
        handler,
        flags: libc::SA_RESTART as libc::c_ulong,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: `sa` is a valid kernel sigaction for the call; no old action is asked for;
    // the kernel's sigset is 8 bytes.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &sa as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        )
    };
}

/// A close-on-exec signalfd for `set` (which must already be blocked).
pub fn signalfd(set: &libc::sigset_t) -> Result<OwnedFd, Errno> {
    // SAFETY: -1 asks for a new fd; set is valid.
    let fd = unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC) };
    check(fd as libc::c_long)?;
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Read one `signalfd_siginfo` and return the signal number.
pub fn read_signal(fd: BorrowedFd<'_>) -> Result<i32, Errno> {
    let mut info = [0u8; 128];
    let n = rustix::io::read(fd, &mut info)?;
    if n < 4 {
        return Err(Errno::IO);
    }
    Ok(u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as i32)
}

/// The time of `clock` (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`) as seconds and nanoseconds, by
/// a plain system call: rustix's vDSO lookup is over 2 KB of code, for callers that need
/// no speed (hook timeouts, log timestamps).
pub fn clock_time(clock: libc::clockid_t) -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the pointer, which is valid and
    // writable for it; on failure (an unknown clock) it writes nothing and `ts` stays 0.
    unsafe { libc::syscall(libc::SYS_clock_gettime, clock, &mut ts) };
    (ts.tv_sec, ts.tv_nsec)
}

/// The C library's words for an errno ("No such file or directory").
pub fn strerror(errno: i32) -> String {
    // SAFETY: musl's strerror returns a pointer to a static NUL-terminated string for any
    // number (an unknown one gets "No error information"); nothing writes to it.
    unsafe { CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// Close every fd from `first` to `last` inclusive.
fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    if first > last {
        return Ok(());
    }
    // SAFETY: close_range only closes descriptors; the caller keeps no OwnedFd in range.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    check(r).map(drop)
}

/// Close one descriptor that no `OwnedFd` of ours holds (a raw fd handed to the child).
pub fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` as a raw number and never uses it again.
    unsafe { libc::close(fd) };
}

/// `s` split at its last byte `b` (ASCII): what comes before it and after it. Searching
/// bytes keeps core's generic reverse char searcher out of the binary.
pub fn split_last(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().rposition(|c| c == b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The fields of a `/proc/PID/stat` text after the command name (field 3, the state,
/// first): the name is in parentheses and may hold spaces and parentheses itself.
pub fn stat_fields(text: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(split_last(text, b')')?.1.split_whitespace())
}

/// `s` without the bytes `b` (ASCII) at its end.
pub fn trim_end_byte(s: &str, b: u8) -> &str {
    &s[..s.bytes().rposition(|c| c != b).map_or(0, |i| i + 1)]
}

/// Let `fd` survive `execve` (clear FD_CLOEXEC); a number that is not open is left alone.
pub fn keep_on_exec(fd: RawFd) {
    // SAFETY: F_SETFD on any number only changes that fd's flags, or fails with EBADF.
    unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0) };
}

/// Close every fd above 2 except those in `keep` (in any order).
///
/// With `close_range` (Linux 5.9); where it is missing or refused (a seccomp profile of an
/// outer container), each open fd is found in `/proc/self/fd` and closed, and without
/// `/proc` every number up to the fd limit is closed. Nothing of the caller's can leak.
pub fn close_fds_except(keep: &[RawFd]) {
    if close_ranges_except(keep).is_ok() {
        return;
    }
    let keep_or_low = |fd: RawFd| fd <= 2 || keep.contains(&fd);
    if close_listed_fds(&keep_or_low).is_err() {
        let max = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .maximum
            .unwrap_or(1 << 20)
            .min(1 << 20);
        for fd in 3..max as RawFd {
            if !keep_or_low(fd) {
                close(fd);
            }
        }
    }
}

/// The ranges between the kept fds, from the lowest kept one up (a handful of fds: no
/// sorting, no allocation).
fn close_ranges_except(keep: &[RawFd]) -> Result<(), Errno> {
    let mut next = 3u32;
    while let Some(k) = keep.iter().copied().filter(|&k| k >= next as i32).min() {
        if k > next as i32 {
            close_range(next, k as u32 - 1)?;
        }
        next = k as u32 + 1;
    }
    close_range(next, u32::MAX)
}

/// Close every fd listed in `/proc/self/fd` that `keep` does not want, until none is left
/// (a stack buffer for the directory: no allocation after the clone).
fn close_listed_fds(keep: &dyn Fn(RawFd) -> bool) -> Result<(), Errno> {
    use rustix::fs::{Mode, OFlags, RawDir};
    use std::os::fd::AsRawFd;
    loop {
        let dir = rustix::fs::openat(
            rustix::fs::CWD,
            "/proc/self/fd",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut entries = RawDir::new(&dir, &mut buf);
        let mut closed = false;
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let Some(fd) = std::str::from_utf8(entry.file_name().to_bytes())
                .ok()
                .and_then(crate::user::parse_u32)
            else {
                continue;
            };
            let fd = fd as RawFd;
            if fd != dir.as_raw_fd() && !keep(fd) {
                close(fd);
                closed = true;
            }
        }
        if !closed {
            return Ok(());
        }
    }
}

/// `unshare` of namespaces only (CLONE_NEW* flags): the calling process gets new ones.
pub fn unshare_namespaces(flags: rustix::thread::UnshareFlags) -> Result<(), Errno> {
    // SAFETY: new namespaces change no memory or file descriptor of ours (the flags that
    // make unshare unsafe are the fd-table and fs-sharing ones; NEWNS copies `fs`, which
    // this single-threaded process does not share).
    unsafe { rustix::thread::unshare_unsafe(flags) }
}

/// Load a seccomp filter (`SECCOMP_SET_MODE_FILTER`, with SECCOMP_FILTER_FLAG_* `flags`)
/// into the calling thread; no_new_privs must already be set. No allocation: this runs
/// after fork.
pub fn seccomp_set_mode_filter(prog: &[libc::sock_filter], flags: u32) -> Result<(), Errno> {
    let len = u16::try_from(prog.len()).map_err(|_| Errno::INVAL)?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `len` initialised instructions that outlive the call; the
    // kernel copies the program and keeps no pointer to it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags as libc::c_uint,
            &fprog as *const libc::sock_fprog,
        )
    };
    check(rc).map(drop)
}

/// Overwrite bytes `[start, end)` of this process's own memory: the argument and
/// environment strings the kernel shows in /proc/PID/cmdline and /proc/PID/environ, as
/// [`host_traces`] has them. `name` goes at the start (it must be shorter).
pub fn scrub((start, end): (usize, usize), name: &[u8]) {
    let len = end.saturating_sub(start);
    // SAFETY: [start, end) is where the kernel laid out this process's argument and
    // environment strings, which stay mapped and writable (on the initial stack) for the
    // process's life; the copies of argv and the environment that Rust's std and the plan
    // hold live elsewhere, and nothing reads these bytes again.
    unsafe {
        std::ptr::write_bytes(start as *mut u8, 0, len);
        if name.len() < len {
            std::ptr::copy_nonoverlapping(name.as_ptr(), start as *mut u8, name.len());
        }
    }
}

/// execve. Returns only on failure.
pub fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    // SAFETY: argv and envp are null-terminated arrays of pointers to C strings that the
    // plan owns and keeps alive; path is a valid C string.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::from_raw_os_error(errno())
}

/// Leave the process at once, without running atexit handlers or flushing stdio.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Write `buf` with one `write`, ignoring failure (pipes make writes of ≤ PIPE_BUF bytes
/// atomic; a reader that is gone has nothing left to tell).
pub fn write_once(fd: BorrowedFd<'_>, buf: &[u8]) {
    let _ = rustix::io::write(fd, buf);
}

/// Set a network interface's flags (SIOCSIFFLAGS), as `ip link set lo up` does.
pub fn ioctl_set_if_flags(sock: BorrowedFd<'_>, name: &[u8], flags: i16) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as c_char;
    }
    req.ifr_ifru.ifru_flags = flags;
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq from the pointer we pass.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) };
    check(r as libc::c_long).map(drop)
}

/// The network namespace of a socket (SIOCGSKNS), as an fd for `setns`: no /proc needed.
pub fn socket_netns(sock: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    use rustix::fd::AsRawFd;
    // SAFETY: SIOCGSKNS takes no argument and returns a new fd, which we then own.
    let fd = check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGSKNS as _) } as libc::c_long)?;
    // SAFETY: a new fd of ours, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// SIGKILL every process this process may signal (from PID 1 of a PID namespace: every
/// other process of the namespace).
/// Send any signal (real-time ones too, which rustix's `Signal` does not name) to `pid`,
/// or to the process group `-pid`.
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill has no memory-safety preconditions.
    check(unsafe { libc::kill(pid, sig) } as libc::c_long).map(drop)
}

/// Send any signal to the process behind `pidfd` (no pid reuse can misdirect it).
pub fn pidfd_signal(pidfd: BorrowedFd<'_>, sig: i32) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a null siginfo and no flags reads no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    check(r).map(drop)
}

// ---------------------------------------------------------------------------------------
// bpf(2) for the cgroup v2 device filter (devices.rs): load a BPF_PROG_TYPE_CGROUP_DEVICE
// program and attach it to a cgroup. rustix has no bpf wrapper.

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The head of `union bpf_attr` for BPF_PROG_LOAD (the kernel zero-fills the rest).
#[repr(C)]
struct BpfProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH, up to the flags.
#[repr(C)]
struct BpfProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// Load `insns` (eBPF instructions, each 8 bytes in memory order) as a cgroup device
/// program; the fd is close-on-exec.
pub fn bpf_load_device_filter(insns: &[u64]) -> Result<OwnedFd, Errno> {
    let attr = BpfProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::TOOBIG)?,
        insns: insns.as_ptr() as u64,
        license: c"MIT OR Apache-2.0".as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: attr is a valid BPF_PROG_LOAD attribute of the size we pass; its pointers
    // name `insn_cnt` instructions and a C string that outlive the call, and the kernel
    // copies both. No log buffer is given.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const BpfProgLoad,
            std::mem::size_of::<BpfProgLoad>(),
        )
    };
    let fd = check(fd)?;
    // SAFETY: the kernel returned a new program fd (close-on-exec) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attach the device program `prog` to the cgroup v2 directory `cgroup`, allowing programs
/// of descendant cgroups too (BPF_F_ALLOW_MULTI: they run after it and can only deny more).
pub fn bpf_attach_device_filter(cgroup: BorrowedFd<'_>, prog: &OwnedFd) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    let attr = BpfProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: attr is a valid BPF_PROG_ATTACH attribute of the size we pass; the kernel
    // only reads it and takes its own reference to the program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const BpfProgAttach,
            std::mem::size_of::<BpfProgAttach>(),
        )
    };
    check(r).map(drop)
}

// ---- memory -------------------------------------------------------------------------------

/// crab-can's allocator (installed in main.rs; the unit tests, which run threads, keep the
/// system's). crab-can is one thread that builds a plan and walks it, so blocks are carved
/// in order from 64 KiB chunks mapped as needed: freeing or resizing the newest block
/// works in place, any other freed block is given back when the process exits. A block
/// of 16 KiB or more is a mapping of its own, unmapped when freed and resized with
/// mremap. It stands in for musl's malloc, 9 KB of the binary.
pub struct Arena {
    top: std::cell::Cell<usize>,
    end: std::cell::Cell<usize>,
}

impl Arena {
    pub const fn new() -> Arena {
        Arena {
            top: std::cell::Cell::new(0),
            end: std::cell::Cell::new(0),
        }
    }
}

// SAFETY: crab-can never starts a thread (the design: the process tree is its own), so
// the cells are never touched from two threads; a forked child has its own copy.
unsafe impl Sync for Arena {}

const CHUNK: usize = 64 << 10;
const BIG: usize = 16 << 10;
const PAGE: usize = 4096;

fn pages(n: usize) -> usize {
    (n + PAGE - 1) & !(PAGE - 1)
}

fn map(len: usize) -> *mut u8 {
    // SAFETY: a new private anonymous mapping; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    match p {
        libc::MAP_FAILED => std::ptr::null_mut(),
        p => p.cast(),
    }
}

// SAFETY: every block handed out is `layout.size()` bytes at `layout.align()` (at most a
// page) that no other live block overlaps: small ones lie below `top` in the current
// chunk, which only moves down over the newest block when that block is freed or
// shrunk, and big ones are mappings of their own.
unsafe impl std::alloc::GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if align > PAGE {
            return std::ptr::null_mut();
        }
        if size >= BIG {
            return map(pages(size));
        }
        let mut start = (self.top.get() + align - 1) & !(align - 1);
        if start + size > self.end.get() {
            let chunk = map(CHUNK);
            if chunk.is_null() {
                return chunk;
            }
            start = chunk as usize;
            self.end.set(start + CHUNK);
        }
        self.top.set(start + size);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        let size = layout.size();
        if size >= BIG {
            // SAFETY: a big block is exactly the mapping `alloc` or `realloc` made for it.
            unsafe { libc::munmap(ptr.cast(), pages(size)) };
        } else if ptr as usize + size == self.top.get() {
            self.top.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let old = layout.size();
        if old >= BIG && new >= BIG {
            // SAFETY: the block is a whole mapping of pages(old) bytes, moved if need be.
            let p =
                unsafe { libc::mremap(ptr.cast(), pages(old), pages(new), libc::MREMAP_MAYMOVE) };
            return match p {
                libc::MAP_FAILED => std::ptr::null_mut(),
                p => p.cast(),
            };
        }
        let at = ptr as usize;
        if old < BIG && new < BIG && at + old == self.top.get() && at + new <= self.end.get() {
            self.top.set(at + new);
            return ptr;
        }
        // SAFETY: the new layout keeps the caller's valid alignment, with a non-zero size.
        let new_layout =
            unsafe { std::alloc::Layout::from_size_align_unchecked(new, layout.align()) };
        // SAFETY: as `alloc`; the copy is within both blocks, which do not overlap.
        unsafe {
            let p = self.alloc(new_layout);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, old.min(new));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}

/// A small file under `dir`, read whole, 4 KiB at a time (a /proc file reads in one go,
/// where std's reader starts at 32 bytes, and each read of /proc/self/mountinfo formats
/// the table again). None when missing, not a regular file, unreadable or over `max`.
pub fn read_small(dir: BorrowedFd<'_>, name: &str, max: usize) -> Option<Vec<u8>> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return None;
    }
    read_fd(fd.as_fd(), max)
}

/// What `fd` reads until its end, 4 KiB at a time. None when unreadable or over `max`.
pub fn read_fd(fd: BorrowedFd<'_>, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > max {
                    return None;
                }
            }
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

/// Write all of `buf`, as std's `write_all` does: EINTR retried, a write of nothing an
/// error (EIO).
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => buf = &buf[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A small text file by path ([`read_small`], up to 1 MiB, UTF-8).
pub fn read_text(path: &str) -> Option<String> {
    String::from_utf8(read_small(rustix::fs::CWD, path, 1 << 20)?).ok()
}

/// The C entry point, in place of std's runtime start: what that start does that crab-can
/// relies on, done here. A closed stdin, stdout or stderr is opened on /dev/null (nothing
/// crab-can opens may become fd 0, 1 or 2), and SIGPIPE is ignored (a write to a closed
/// pipe fails with EPIPE instead of killing crab-can); then `main` gets the arguments
/// after the program's name.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const c_char) -> libc::c_int {
    // As std's start: one poll of fds 0-2 (fcntl on each where poll cannot run).
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    let null = || {
        // SAFETY: a valid C string; the new fd is the lowest free one, the closed one.
        if unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c"/dev/null".as_ptr(),
                libc::O_RDWR,
            )
        } == -1
        {
            // SAFETY: abort has no preconditions (std's start aborts here too).
            unsafe { libc::abort() };
        }
    };
    // SAFETY: `fds` is an array of 3 pollfds.
    while unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } == -1 {
        match errno() {
            libc::EINTR => continue,
            libc::EINVAL | libc::EAGAIN | libc::ENOMEM => {
                for fd in 0..3 {
                    // SAFETY: F_GETFD only reads the flags of an fd number, open or not.
                    if unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFD) } == -1
                        && errno() == libc::EBADF
                    {
                        null();
                    }
                }
                break;
            }
            // SAFETY: as above.
            _ => unsafe { libc::abort() },
        }
    }
    for p in fds {
        if p.revents & libc::POLLNVAL != 0 {
            null();
        }
    }
    set_disposition(libc::SIGPIPE, libc::SIG_IGN);
    let mut args = Vec::new();
    // The strings' area: the kernel laid out the argument strings and then the
    // environment's one after the other; it runs from the first to the end of the last.
    let mut area = (0, 0);
    let mut note = |p: *const c_char, s: &CStr| {
        if area.0 == 0 {
            area.0 = p as usize;
        }
        area.1 = p as usize + s.to_bytes_with_nul().len();
    };
    for i in 0..argc.max(0) as usize {
        // SAFETY: the kernel's argv: argc pointers to NUL-terminated strings that live as
        // long as the process.
        let (p, a) = unsafe { (*argv.add(i), CStr::from_ptr(*argv.add(i))) };
        note(p, a);
        if i > 0 {
            args.push(std::os::unix::ffi::OsStringExt::from_vec(
                a.to_bytes().to_vec(),
            ));
        }
    }
    // SAFETY: as above: argv[argc] is null, and the null-terminated envp follows it.
    let mut envp = unsafe { argv.add(argc.max(0) as usize + 1) };
    loop {
        // SAFETY: each envp entry up to the null one is a NUL-terminated string of the
        // kernel's.
        let p = unsafe { *envp };
        if p.is_null() {
            break;
        }
        // SAFETY: as above.
        note(p, unsafe { CStr::from_ptr(p) });
        // SAFETY: not past the terminating null.
        envp = unsafe { envp.add(1) };
    }
    TRACES[0].store(area.0, std::sync::atomic::Ordering::Relaxed);
    TRACES[1].store(area.1, std::sync::atomic::Ordering::Relaxed);
    crate::main(args)
}

/// Where the caller's command line and environment are in this process's memory, as
/// the kernel laid them out at exec (/proc/PID/cmdline and /proc/PID/environ show these
/// bytes): set once at the start.
static TRACES: [std::sync::atomic::AtomicUsize; 2] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 2];

/// The caller's traces in crab-can's memory: its command line (host paths, `-e` values)
/// and its environment, one after the other. The init, a copy of crab-can, overwrites them
/// ([`scrub`]) before the container can look at PID 1.
pub fn host_traces() -> Option<(usize, usize)> {
    use std::sync::atomic::Ordering::Relaxed;
    let (a, b) = (TRACES[0].load(Relaxed), TRACES[1].load(Relaxed));
    (b > a).then_some((a, b))
}

/// A terminal's settings, as rustix reads them: TCGETS2, or TCGETS where the kernel (or a
/// seccomp profile) refuses that.
pub fn tc_get(fd: BorrowedFd<'_>) -> Result<libc::termios2, Errno> {
    // SAFETY: all-zero bytes are a valid termios2 (plain integers).
    let mut t: libc::termios2 = unsafe { std::mem::zeroed() };
    termios_ioctl(fd, [libc::TCGETS2, libc::TCGETS], &mut t).map(|()| t)
}

/// Set a terminal's settings at once, as rustix's `tcsetattr(.., Now, ..)`: TCSETS2, or
/// TCSETS where the kernel (or a seccomp profile) refuses that.
pub fn tc_set(fd: BorrowedFd<'_>, t: &libc::termios2) -> Result<(), Errno> {
    termios_ioctl(
        fd,
        [libc::TCSETS2, libc::TCSETS],
        std::ptr::from_ref(t).cast_mut(),
    )
}

/// The first request of `reqs` the terminal takes (the second after ENOTTY or EACCES),
/// on `t`: written by a get, only read by a set.
fn termios_ioctl(
    fd: BorrowedFd<'_>,
    reqs: [libc::Ioctl; 2],
    t: *mut libc::termios2,
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let call = |req: libc::Ioctl| {
        // SAFETY: `t` points to a termios2; the ioctls read or write at most one (TCGETS
        // and TCSETS: its first part).
        let r = unsafe { libc::syscall(libc::SYS_ioctl, fd.as_raw_fd(), req as libc::c_ulong, t) };
        check(r)
    };
    match call(reqs[0]) {
        Err(Errno::NOTTY | Errno::ACCESS) => call(reqs[1]).map(drop),
        r => r.map(drop),
    }
}

/// Raw system calls for the unit tests that load a seccomp filter for real and check the
/// kernel's answers (so that `unsafe` stays in this file).
#[cfg(test)]
pub mod testing {
    /// A system call with up to six arguments: its value, or the errno it failed with.
    /// Test use only: an argument that is an address must point at memory the caller owns
    /// and that is large enough for what the call writes.
    pub fn syscall(nr: libc::c_long, args: &[usize]) -> Result<usize, i32> {
        let mut a = [0usize; 6];
        a[..args.len()].copy_from_slice(args);
        // SAFETY: see above; the callers pass numbers, null pointers or their own buffers.
        let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
        match r {
            -1 => Err(super::errno()),
            r => Ok(r as usize),
        }
    }

    /// `/bin/sh -c SCRIPT` with these as its stdin, stdout and stderr (the tests' child
    /// processes). The child only moves descriptors and execs,
    /// which is safe after a fork in the test harness's threads.
    pub fn spawn_sh(
        script: &std::ffi::CStr,
        stdio: [rustix::fd::BorrowedFd<'_>; 3],
    ) -> rustix::process::Pid {
        let argv = [
            c"/bin/sh".as_ptr(),
            c"-c".as_ptr(),
            script.as_ptr(),
            std::ptr::null(),
        ];
        let envp = [
            c"PATH=/usr/sbin:/usr/bin:/sbin:/bin".as_ptr(),
            std::ptr::null(),
        ];
        let pid = super::fork().expect("fork");
        if pid == 0 {
            if rustix::stdio::dup2_stdin(stdio[0]).is_err()
                || rustix::stdio::dup2_stdout(stdio[1]).is_err()
                || rustix::stdio::dup2_stderr(stdio[2]).is_err()
            {
                super::exit(126);
            }
            super::execve(c"/bin/sh", &argv, &envp);
            super::exit(127);
        }
        rustix::process::Pid::from_raw(pid).expect("a pid")
    }

    /// This process's pid, for the names of the tests' scratch files.
    pub fn pid() -> i32 {
        rustix::process::getpid().as_raw_nonzero().get()
    }

    /// i386 `getpid` through `int 0x80` (x86_64's 32-bit entry).
    #[cfg(target_arch = "x86_64")]
    pub fn int80_getpid() {
        // SAFETY: i386 getpid touches no memory; the registers it clobbers are declared.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("eax") 20 => _, out("r8") _, out("r9") _,
                out("r10") _, out("r11") _, options(nostack));
        }
    }
}

#[cfg(test)]
mod arena_tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    fn arena_blocks() {
        let a = Arena::new();
        let l = |n, al| Layout::from_size_align(n, al).unwrap();
        // SAFETY: each block is used within its layout and freed with it, once.
        unsafe {
            // Aligned, in order, not overlapping.
            let p = a.alloc(l(3, 1));
            let q = a.alloc(l(8, 8));
            assert_eq!(q as usize % 8, 0);
            assert!(q as usize >= p as usize + 3);
            q.write_bytes(0xab, 8);
            // The newest block grows and shrinks in place; freeing it gives its room back.
            let q2 = a.realloc(q, l(8, 8), 100);
            assert_eq!(q2, q);
            assert_eq!(*q2.add(7), 0xab);
            a.dealloc(q2, l(100, 8));
            assert_eq!(a.alloc(l(8, 8)), q);
            // An older block moves when it grows, with its bytes.
            p.write_bytes(7, 3);
            let p2 = a.realloc(p, l(3, 1), 50);
            assert_ne!(p2, p);
            assert_eq!(std::slice::from_raw_parts(p2, 3), [7, 7, 7]);
            // A big block is a mapping of its own; it keeps its bytes as it grows.
            let b = a.alloc(l(BIG, 16));
            assert_eq!(b as usize % PAGE, 0);
            b.add(BIG - 1).write(9);
            let b2 = a.realloc(b, l(BIG, 16), 1 << 20);
            assert_eq!(*b2.add(BIG - 1), 9);
            b2.add((1 << 20) - 1).write(1);
            b2.write(5);
            // Back below the threshold: copied into a chunk.
            let s = a.realloc(b2, l(1 << 20, 16), 100);
            assert_eq!(*s, 5);
            a.dealloc(s, l(100, 16));
            // A new chunk when the current one is full.
            let c = a.alloc(l(BIG - 1, 1));
            let d = a.alloc(l(BIG - 1, 1));
            let e = a.alloc(l(BIG - 1, 1));
            let f = a.alloc(l(BIG - 1, 1));
            let g = a.alloc(l(BIG - 1, 1));
            for x in [c, d, e, f, g] {
                assert!(!x.is_null());
                x.write_bytes(1, BIG - 1);
            }
            // No alignment beyond a page.
            assert!(a.alloc(l(8, PAGE * 2)).is_null());
        }
    }
}
