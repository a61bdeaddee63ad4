//! The container's first process, PID 1 of its PID namespace, from birth to exit.
//!
//! Setup (it waits for the parent's go, then enters its cgroup namespace, sets the
//! hostname, brings up `lo`, builds the root filesystem), then the init proper: it forks
//! the command into its own session, forwards the parent's signals to the command's
//! process group, reaps every orphan, and when the command ends kills what is left and
//! exits with the command's status (128+N for signal N).
//!
//! This code runs after a raw clone: single-threaded, no allocation, no panics, and it
//! leaves only through `sys::exit`. A failure is sent to the parent as a [`Failure`].

use crate::error::{EXIT_NOT_FOUND, EXIT_RUNTIME, Failure, Step};
use crate::plan::Plan;
use crate::{net, rootfs, security, sys, tty};
use rustix::fd::{AsFd, BorrowedFd, RawFd};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

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

/// The signals blocked in crab-can and its init and read from a signalfd instead.
pub fn handled_signals() -> libc::sigset_t {
    let mut all = [0; FORWARDED.len() + 1];
    all[..FORWARDED.len()].copy_from_slice(&FORWARDED);
    all[FORWARDED.len()] = libc::SIGCHLD;
    sys::sigset(&all)
}

/// The descriptors the child keeps from the parent.
pub struct ChildFds {
    /// Read end of the go pipe: one byte once the parent has put us in our cgroups.
    pub sync: RawFd,
    /// Write end of the error pipe (close-on-exec): a [`Failure`] if anything fails.
    pub error: RawFd,
    /// The socket that carries the pseudo-terminal's master to the parent, if any.
    pub tty: RawFd,
    /// Every descriptor above to keep until the root is built (these, IMAGE's handle and
    /// the volumes' mount trees), sorted.
    pub keep: Vec<RawFd>,
    /// What the init keeps after the root is built (the error pipe and terminal socket).
    pub after_root: Vec<RawFd>,
}

fn report(err: BorrowedFd<'_>, f: Failure) {
    sys::write_once(err, &f.encode());
}

/// The child's whole life. Never returns.
pub fn run(plan: &Plan, fds: &ChildFds) -> ! {
    // SAFETY: these descriptors were created by the parent and are open in this process.
    let err = unsafe { BorrowedFd::borrow_raw(fds.error) };
    if let Err(f) = setup(plan, fds) {
        if f.step != Step::ParentGone {
            report(err, f);
        }
        sys::exit(EXIT_RUNTIME as i32);
    }
    let sigfd = match sys::signalfd(&handled_signals()) {
        Ok(fd) => fd,
        Err(e) => {
            report(
                err,
                Failure {
                    step: Step::Signals,
                    arg: 0,
                    errno: e,
                },
            );
            sys::exit(EXIT_RUNTIME as i32);
        }
    };
    let tty_sock = (fds.tty >= 0).then(|| {
        // SAFETY: as above.
        unsafe { BorrowedFd::borrow_raw(fds.tty) }
    });
    let cmd = match sys::fork() {
        Ok(0) => command(plan, err, tty_sock),
        Ok(pid) => pid,
        Err(e) => {
            report(
                err,
                Failure {
                    step: Step::Fork,
                    arg: 0,
                    errno: e,
                },
            );
            sys::exit(EXIT_RUNTIME as i32);
        }
    };
    // The command holds the error pipe until its execve; once we close ours, the parent
    // sees end-of-file exactly when the command is running.
    sys::close(fds.error);
    if fds.tty >= 0 {
        sys::close(fds.tty);
    }
    supervise(cmd, sigfd.as_fd())
}

fn setup(plan: &Plan, fds: &ChildFds) -> Result<(), Failure> {
    let fail = |step| {
        move |errno| Failure {
            step,
            arg: 0,
            errno,
        }
    };
    // Die with crab-can. If it already died before this line, the go pipe below reads
    // end-of-file, so that case is caught too.
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(fail(Step::DeathSignal))?;
    // Nothing of the caller's but 0-2 stays open in the init.
    sys::close_fds_except(&fds.keep);
    let mut go = [0u8; 1];
    // SAFETY: the parent created this descriptor for us.
    let sync = unsafe { BorrowedFd::borrow_raw(fds.sync) };
    loop {
        match rustix::io::read(sync, &mut go) {
            Ok(1) => break,
            Err(Errno::INTR) => continue,
            _ => {
                return Err(Failure {
                    step: Step::ParentGone,
                    arg: 0,
                    errno: Errno::PIPE,
                });
            }
        }
    }
    sys::close(fds.sync);
    // Now in our cgroups: a cgroup namespace rooted here makes /proc/self/cgroup read "/".
    sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWCGROUP)
        .map_err(fail(Step::CgroupNs))?;
    rustix::system::sethostname(&plan.hostname).map_err(fail(Step::Hostname))?;
    if plan.new_net {
        net::loopback_up()?;
    }
    rootfs::enter(plan)?;
    // The handles of the host's side (IMAGE, the volumes' trees) have done their work: the
    // init keeps only the error pipe and the terminal socket.
    sys::close_fds_except(&fds.after_root);
    // Nobody inside may read the init's memory, fds or executable through /proc/1.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(fail(Step::NotDumpable))?;
    Ok(())
}

/// The command's process: its own session, default signals, the plan's user and
/// privileges, then execve. Never returns.
fn command(plan: &Plan, err: BorrowedFd<'_>, tty_sock: Option<BorrowedFd<'_>>) -> ! {
    let fail = |f: Failure| -> ! {
        report(err, f);
        sys::exit(f.exit_code() as i32)
    };
    if let Err(e) = rustix::process::setsid() {
        fail(Failure {
            step: Step::Session,
            arg: 0,
            errno: e,
        });
    }
    if let Some(sock) = tty_sock {
        if let Err(e) = tty::attach(sock, plan.tty_size, plan.uid) {
            fail(Failure {
                step: Step::Terminal,
                arg: 0,
                errno: e,
            });
        }
    }
    // The command starts as a fresh process would: every signal at its default (the
    // caller may have ignored SIGINT and SIGQUIT, as a shell does for `cmd &`, and Rust
    // ignores SIGPIPE), none blocked.
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            sys::default_signal(sig);
        }
    }
    let _ = sys::sigprocmask(libc::SIG_SETMASK, &sys::sigset(&[]));
    // The init stays in "/"; the command starts in the working directory (made by
    // rootfs::enter when the image lacked it).
    if let Err(e) = rustix::process::chdir(&*plan.workdir) {
        fail(Failure {
            step: Step::Workdir,
            arg: 0,
            errno: e,
        });
    }
    if let Err(f) = security::lock_down(plan) {
        fail(f);
    }
    // execvp's search: skip what does not exist, remember a permission problem, stop at
    // any other error (ENOEXEC: neither ELF nor #!, and no fallback to a shell).
    let mut seen_eacces = false;
    let mut last = Errno::NOENT;
    for path in &plan.exec_candidates {
        last = sys::execve(path, plan.argv.as_ptrs(), plan.envp.as_ptrs());
        match last {
            Errno::NOENT | Errno::NOTDIR => continue,
            Errno::ACCESS => seen_eacces = true,
            _ => break,
        }
    }
    if seen_eacces && (last == Errno::NOENT || last == Errno::NOTDIR) {
        last = Errno::ACCESS;
    }
    let f = Failure {
        step: Step::Exec,
        arg: 0,
        errno: last,
    };
    report(err, f);
    sys::exit(if f.exit_code() == EXIT_NOT_FOUND {
        127
    } else {
        126
    })
}

/// The init's loop: forward signals, reap everything, exit with the command's status.
fn supervise(cmd: i32, sigfd: BorrowedFd<'_>) -> ! {
    let cmd_pid = Pid::from_raw(cmd);
    loop {
        let sig = match sys::read_signal(sigfd) {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != libc::SIGCHLD {
            // To the command's process group; if the command left it, to the command.
            if let (Some(p), Some(s)) = (cmd_pid, Signal::from_named_raw(sig)) {
                if rustix::process::kill_process_group(p, s).is_err() {
                    let _ = rustix::process::kill_process(p, s);
                }
            }
            continue;
        }
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, st))) if pid.as_raw_nonzero().get() == cmd => {
                    let code = match (st.exit_status(), st.terminating_signal()) {
                        (Some(c), _) => c,
                        (None, Some(s)) => 128 + s,
                        _ => 128,
                    };
                    // Everything else in the container goes with the command.
                    sys::kill_all();
                    while rustix::process::wait(WaitOptions::empty()).is_ok() {}
                    sys::exit(code);
                }
                Ok(Some(_)) => continue, // an orphan, reaped
                Ok(None) | Err(_) => break,
            }
        }
    }
}
