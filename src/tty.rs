//! The pseudo-terminal. When the caller's stdin and stdout are both terminals (and no
//! `--no-tty`), the command's process opens a new pseudo-terminal from the container's own
//! devpts, makes its slave its controlling terminal, and hands the master to crab-can over
//! a socket (SCM_RIGHTS). crab-can puts the caller's terminal in raw mode and relays bytes
//! both ways with one fixed buffer and `poll`, keeps the window size in step, and restores
//! the caller's terminal on every way out.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::termios::Winsize;

/// Whether crab-can should give the command a pseudo-terminal.
pub fn wanted(no_tty: bool) -> bool {
    !no_tty
        && rustix::termios::isatty(rustix::stdio::stdin())
        && rustix::termios::isatty(rustix::stdio::stdout())
}

/// The caller's window size (from stdout), to start the container's terminal with.
pub fn caller_size() -> Option<Winsize> {
    rustix::termios::tcgetwinsize(rustix::stdio::stdout()).ok()
}

/// Child side, in the command's process after `setsid`: open a pseudo-terminal, make it
/// the controlling terminal on 0, 1 and 2, and send the master to crab-can.
pub fn attach(sock: BorrowedFd<'_>, size: Option<Winsize>, uid: u32) -> Result<(), Errno> {
    let (master, slave) = open_pair(size, uid)?;
    adopt(slave.as_fd())?;
    send_master(sock, master.as_fd())
}

/// A new pseudo-terminal of the container's devpts: (master, slave), the slave owned by
/// `uid` and at `size`.
fn open_pair(size: Option<Winsize>, uid: u32) -> Result<(OwnedFd, OwnedFd), Errno> {
    use rustix::fs::{Mode, OFlags};
    let master = rustix::fs::openat(
        rustix::fs::CWD,
        c"/dev/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::pty::unlockpt(&master)?;
    // The slave straight from its master (TIOCGPTPEER): no path lookup, so nothing can
    // swap the device under us.
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        rustix::pty::OpenptFlags::RDWR
            | rustix::pty::OpenptFlags::NOCTTY
            | rustix::pty::OpenptFlags::CLOEXEC,
    )?;
    // The terminal belongs to the command's user (devpts gave it gid 5, "tty").
    rustix::fs::fchown(&slave, Some(rustix::process::Uid::from_raw(uid)), None)?;
    if let Some(ws) = size {
        rustix::termios::tcsetwinsize(&slave, ws)?;
    }
    Ok((master, slave))
}

/// Send the master `fd` on the unix socket `sock`.
pub fn send_master(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    crate::sys::send_fds(sock, b"T", &[fd])
}

/// OCI: the init opens the pseudo-terminal before the start gate (the engine must hold
/// the master before `create` returns), sends the master to crab-can, keeps the slave for
/// the command, and stops holding the caller's stdio itself (0, 1 and 2 become
/// `/dev/null`): an engine waits for end-of-file on those pipes.
pub fn open_for(sock: BorrowedFd<'_>, size: Option<Winsize>, uid: u32) -> Result<OwnedFd, Errno> {
    use rustix::fs::{Mode, OFlags};
    let (master, slave) = open_pair(size, uid)?;
    send_master(sock, master.as_fd())?;
    let null = rustix::fs::openat(
        rustix::fs::CWD,
        c"/dev/null",
        OFlags::RDWR | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::stdio::dup2_stdin(&null)?;
    rustix::stdio::dup2_stdout(&null)?;
    rustix::stdio::dup2_stderr(&null)?;
    Ok(slave)
}

/// The command's side of [`open_for`]: the slave becomes its controlling terminal and 0-2.
pub fn adopt(slave: BorrowedFd<'_>) -> Result<(), Errno> {
    rustix::process::ioctl_tiocsctty(slave)?;
    rustix::stdio::dup2_stdin(slave)?;
    rustix::stdio::dup2_stdout(slave)?;
    rustix::stdio::dup2_stderr(slave)
}

/// Parent side: receive the master from the socket (None if the child closed it first).
pub fn receive_master(sock: BorrowedFd<'_>) -> Result<Option<OwnedFd>, Errno> {
    crate::sys::receive_fd(sock, &mut [0u8; 1]).map(|(_, fd)| fd)
}

/// The caller's terminal in raw mode; its settings come back when this is dropped.
pub struct RawMode {
    saved: libc::termios2,
}

impl RawMode {
    pub fn enter() -> Result<RawMode, Errno> {
        let stdin = rustix::stdio::stdin();
        let saved = crate::sys::tc_get(stdin)?;
        // cfmakeraw's changes.
        let mut raw = saved;
        raw.c_iflag &= !(libc::IGNBRK
            | libc::BRKINT
            | libc::PARMRK
            | libc::ISTRIP
            | libc::INLCR
            | libc::IGNCR
            | libc::ICRNL
            | libc::IXON);
        raw.c_oflag &= !libc::OPOST;
        raw.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
        raw.c_cflag &= !(libc::CSIZE | libc::PARENB);
        raw.c_cflag |= libc::CS8;
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        crate::sys::tc_set(stdin, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crate::sys::tc_set(rustix::stdio::stdin(), &self.saved);
    }
}

/// Copy the caller's window size to the container's terminal (the kernel then sends
/// SIGWINCH to the terminal's foreground job).
pub fn sync_size(master: BorrowedFd<'_>) {
    if let Some(ws) = caller_size() {
        let _ = rustix::termios::tcsetwinsize(master, ws);
    }
}

/// Move what `from` has to `to`, one buffer's worth. Ok(false) at end of file or when
/// the other side is gone (EIO is how a master reports that every slave closed).
pub fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>, buf: &mut [u8]) -> Result<bool, Errno> {
    let n = match rustix::io::read(from, &mut *buf) {
        Ok(0) | Err(Errno::IO) => return Ok(false),
        Ok(n) => n,
        Err(Errno::AGAIN) | Err(Errno::INTR) => return Ok(true),
        Err(e) => return Err(e),
    };
    write_all(to, &buf[..n])?;
    Ok(true)
}

/// Write all of `buf`, waiting for room when `to` is non-blocking.
pub fn write_all(to: BorrowedFd<'_>, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match rustix::io::write(to, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut p = [rustix::event::PollFd::new(
                    &to,
                    rustix::event::PollFlags::OUT,
                )];
                let _ = rustix::event::poll(&mut p, None);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// After the command ended: read what is left in the master, without waiting.
pub fn drain(master: BorrowedFd<'_>, buf: &mut [u8]) {
    let stdout = rustix::stdio::stdout();
    loop {
        let mut p = [rustix::event::PollFd::new(
            &master,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(
            &mut p,
            Some(&rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        ) {
            Ok(1) => {}
            _ => return,
        }
        if !matches!(pump(master, stdout, buf), Ok(true)) {
            return;
        }
    }
}

/// EOF on the caller's stdin: pass it on as the terminal's EOF character (Ctrl-D).
pub fn send_eof(master: BorrowedFd<'_>) {
    let _ = write_all(master, &[4]);
}
