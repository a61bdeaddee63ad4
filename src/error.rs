//! One error type for the whole program: what went wrong (the step, and the path or value
//! it was about), the errno when a system call failed, and the exit code. The words are
//! made only when it is printed, so a caller can still branch on the errno.
//!
//! The parent builds an [`Error`] for everything it does itself. The container's child
//! cannot format text (it must not allocate), so it sends a [`Failure`] (a step code, the
//! index of the plan item it was about, and an errno) down a pipe; the parent turns it into
//! words with `plan::describe_failure`.

use rustix::io::Errno;
use std::fmt;

/// Exit status: crab-can itself failed (bad option, bad IMAGE, setup failure).
pub const EXIT_RUNTIME: u8 = 125;
/// Exit status: the command exists but cannot be executed.
pub const EXIT_CANNOT_EXEC: u8 = 126;
/// Exit status: the command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// Boxed, so that a `Result` is as small as its value (every `?` moves it).
pub struct Error(Box<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub code: u8,
    /// What went wrong: the step and the path or value it was about.
    pub msg: String,
    /// Why, when a system call said so.
    pub errno: Option<Errno>,
}

impl std::ops::Deref for Error {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.0
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with every part given.
    pub fn with(code: u8, msg: String, errno: Option<Errno>) -> Error {
        Error(Box::new(Inner { code, msg, errno }))
    }

    /// A failure of crab-can itself (exit 125).
    pub fn new(msg: impl Into<String>) -> Error {
        Error::with(EXIT_RUNTIME, msg.into(), None)
    }

    /// A failed system call: `what` says what was being done, the errno why.
    pub fn sys(what: impl Into<String>, errno: Errno) -> Error {
        Error::with(EXIT_RUNTIME, what.into(), Some(errno))
    }

    /// [`Error::new`] of formatted words, formatted here: a caller passes only the format's
    /// arguments, and builds no String of its own to move in.
    #[inline(never)]
    pub fn msg(args: fmt::Arguments<'_>) -> Error {
        Error::new(fmt::format(args))
    }

    /// [`Error::sys`] of formatted words, formatted here (as [`Error::msg`]).
    #[inline(never)]
    pub fn sys_msg(args: fmt::Arguments<'_>, errno: Errno) -> Error {
        Error::sys(fmt::format(args), errno)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)?;
        match self.errno {
            Some(e) => write!(f, ": {}", strerror(e)),
            None => Ok(()),
        }
    }
}

/// Print the one line a failure gets and return its exit code. A closed or broken stderr
/// is no reason to panic.
pub fn print(e: &Error) -> u8 {
    let _ = crate::sys::write_all(
        rustix::stdio::stderr(),
        one_line("", &e.to_string()).as_bytes(),
    );
    e.code
}

/// A `crab-can: warning: ...` line.
pub fn warn(msg: &str) {
    let _ = crate::sys::write_all(
        rustix::stdio::stderr(),
        one_line("warning: ", msg).as_bytes(),
    );
}

/// `crab-can: PREFIXMSG` and a newline, as exactly one line of plain text: every control
/// character of the message (a newline, CR or ESC inside a value the user gave) is written
/// as an escape (`\n`, `\r`, `\u{1b}`), so nothing can split the line or reach the
/// caller's terminal as a control sequence.
pub fn one_line(prefix: &str, msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + prefix.len() + 11);
    out.push_str("crab-can: ");
    out.push_str(prefix);
    for c in msg.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    out
}

/// The kernel's words for an errno ("No such file or directory").
pub fn strerror(errno: Errno) -> String {
    crate::sys::strerror(errno.raw_os_error())
}

/// An errno in the words std's `io::Error` gives it ("No such file or directory (os
/// error 2)"), for the messages that have always carried them.
pub fn os_error(errno: Errno) -> String {
    format!("{} (os error {})", strerror(errno), errno.raw_os_error())
}

/// Declares [`Step`] and the list that decodes it, from one list of names.
macro_rules! steps {
    ($($name:ident),* $(,)?) => {
        /// A step of the child's setup, as sent over the error pipe.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Step {
            $($name),*
        }

        impl Step {
            pub const ALL: &[Step] = &[$(Step::$name),*];

            fn from_u16(v: u16) -> Option<Step> {
                Step::ALL.get(v as usize).copied()
            }
        }
    };
}

steps! {
    // The container's init, in order: its parent, its namespaces, its root.
    ParentGone, DeathSignal, JoinNs, CgroupNs, Hostname, NetNs, Loopback, EnterImage, MountNs, MakePrivate,
    CopyImage, PivotRoot, DetachOldRoot, InitramfsRoot, EnterRoot,
    // One per kind of mount operation; `arg` is the operation's index in the plan's list.
    Mount, Dev, DevNode, Symlink, MaskFile, MaskDir, ReadOnly, Volume, VolumeReadOnly,
    Workdir, RemountRoot, Node, Propagation, CgroupMount,
    // The init proper.
    Sysctl, NotDumpable, AtGate, StartGate, Signals, Fork,
    // The command's process, in order.
    Session, Terminal, Lsm, Chdir, Rlimit, Bounding, Groups, SetGid, SetUid, Capabilities, Ambient,
    NoNewPrivs, Seccomp, Exec,
}

/// What the child sends when a step fails: 12 bytes, written with one `write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    /// Which part of the item (a device node of `/dev`, a capability's number, …).
    pub item: u16,
    /// Which item of the plan the step was about (a mount operation's index, …).
    pub arg: u32,
    pub errno: Errno,
}

impl Failure {
    pub const SIZE: usize = 12;

    /// A failure of `step` about nothing in particular.
    pub fn of(step: Step) -> impl FnOnce(Errno) -> Failure {
        Failure::at(step, 0)
    }

    /// A failure of `step` about item `arg` of the plan.
    pub fn at(step: Step, arg: usize) -> impl FnOnce(Errno) -> Failure {
        move |errno| Failure {
            step,
            item: 0,
            arg: arg as u32,
            errno,
        }
    }

    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..2].copy_from_slice(&(self.step as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&self.item.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arg.to_ne_bytes());
        b[8..12].copy_from_slice(&self.errno.raw_os_error().to_ne_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Failure> {
        if b.len() != Self::SIZE {
            return None;
        }
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        Some(Failure {
            step: Step::from_u16(u16::from_ne_bytes([b[0], b[1]]))?,
            item: u16::from_ne_bytes([b[2], b[3]]),
            arg: u32::from_ne_bytes(word(4)),
            errno: match i32::from_ne_bytes(word(8)) {
                e @ 1..4096 => Errno::from_raw_os_error(e),
                _ => return None,
            },
        })
    }

    /// The exit code this failure gives: 126/127 for the command, 125 for the rest.
    #[inline(never)]
    pub fn exit_code(&self) -> u8 {
        match self.step {
            Step::Exec if self.errno == Errno::NOENT || self.errno == Errno::NOTDIR => {
                EXIT_NOT_FOUND
            }
            Step::Exec => EXIT_CANNOT_EXEC,
            _ => EXIT_RUNTIME,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_round_trip() {
        for &step in Step::ALL {
            let f = Failure {
                step,
                item: 3,
                arg: 7,
                errno: Errno::ACCESS,
            };
            assert_eq!(Failure::decode(&f.encode()), Some(f));
        }
        assert_eq!(Failure::decode(&[0xff; Failure::SIZE]), None);
        assert_eq!(Failure::decode(&[0; 3]), None);
    }

    #[test]
    fn one_line_escapes_controls() {
        assert_eq!(one_line("", "plain 'x'"), "crab-can: plain 'x'\n");
        assert_eq!(
            one_line("warning: ", "a\nb\rc\u{1b}[2Jd\u{9b}e\tf"),
            "crab-can: warning: a\\nb\\rc\\u{1b}[2Jd\\u{9b}e\\tf\n"
        );
        assert_eq!(one_line("", "\n").lines().count(), 1);
    }

    #[test]
    fn exit_codes() {
        let f = |step, errno| Failure::of(step)(errno).exit_code();
        assert_eq!(f(Step::Exec, Errno::NOENT), 127);
        assert_eq!(f(Step::Exec, Errno::ACCESS), 126);
        assert_eq!(f(Step::Exec, Errno::NOEXEC), 126);
        assert_eq!(f(Step::Mount, Errno::NOENT), 125);
    }

    #[test]
    fn words_only_when_printed() {
        let e = Error::sys("cannot open '/x'", Errno::NOENT);
        assert_eq!(e.errno, Some(Errno::NOENT));
        assert_eq!(e.to_string(), "cannot open '/x': No such file or directory");
        assert_eq!(Error::new("plain").to_string(), "plain");
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_error(Errno::NOENT), io.to_string());
    }
}
