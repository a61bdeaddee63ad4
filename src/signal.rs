//! Which signals crab-can passes on to the command, and how they are held until then: one
//! policy for the parent (blocked first thing in `main`, read through a signalfd, sent on
//! to the init) and the init (the same mask inherited, read the same way, sent on to the
//! command's process group).

use crate::sys;
use rustix::io::Errno;

/// The signals crab-can passes on to the command.
pub const FORWARDED: [i32; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// The signals blocked in crab-can and its init and read from a signalfd instead: the
/// forwarded ones and SIGCHLD.
pub fn handled() -> libc::sigset_t {
    let mut all = [0; FORWARDED.len() + 1];
    all[..FORWARDED.len()].copy_from_slice(&FORWARDED);
    all[FORWARDED.len()] = libc::SIGCHLD;
    sys::sigset(&all)
}

/// Every signal a process can catch and pass on (all but SIGKILL and SIGSTOP, and the
/// ones a fault raises, which must never be blocked), as the init reads them.
pub fn catchable() -> libc::sigset_t {
    const NEVER: [i32; 8] = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGILL,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGTRAP,
        libc::SIGSYS,
    ];
    let mut all = [0; 64];
    let mut n = 0;
    for sig in 1..=64 {
        if !NEVER.contains(&sig) {
            all[n] = sig;
            n += 1;
        }
    }
    sys::sigset(&all[..n])
}

/// Block the handled signals: from here on they wait in a queue.
pub fn block() -> Result<(), Errno> {
    sys::sigprocmask(libc::SIG_BLOCK, &handled())
}

/// The command starts as a fresh process would: every signal at its default (the caller
/// may have ignored SIGINT and SIGQUIT, as a shell does for `cmd &`, and Rust ignores
/// SIGPIPE), none blocked.
pub fn reset_for_exec() {
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            sys::default_signal(sig);
        }
    }
    let _ = sys::sigprocmask(libc::SIG_SETMASK, &sys::sigset(&[]));
}
