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

/// A signal as a number or a name, with or without SIG, any case.
pub fn parse(s: &str) -> crate::error::Result<i32> {
    if let Some(n) = crate::user::parse_u32(s) {
        if (1..=64).contains(&n) {
            return Ok(n as i32);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Ok(i as i32 + 1);
    }
    let rt = |rest: &str, base: i32, sign: i32| -> Option<i32> {
        let n = if rest.is_empty() {
            0
        } else {
            // At most 30 fits in the range; larger (or huge) numbers are refused below.
            crate::user::parse_u32(rest.strip_prefix(if sign > 0 { '+' } else { '-' })?)?.min(99)
                as i32
        };
        let v = base + sign * n;
        (34..=64).contains(&v).then_some(v)
    };
    let r = match name {
        "IOT" => Some(6),
        "POLL" => Some(29),
        "CLD" => Some(17),
        _ if name.starts_with("RTMIN") => rt(&name[5..], 34, 1),
        _ if name.starts_with("RTMAX") => rt(&name[5..], 64, -1),
        _ => None,
    };
    r.ok_or_else(|| crate::error::Error::msg(format_args!("unknown signal \"{s}\"")))
}
