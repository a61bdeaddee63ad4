//! The parent's side of a run: plan, take the name, make the cgroup, clone the container's
//! init straight into its namespaces (and cgroup), then wait: forward signals, relay the
//! terminal, and when the init exits report its status and clean up.

use crate::cgroup::{Cgroup, Limits, Placement};
use crate::cli::Spec;
use crate::error::{EXIT_RUNTIME, Error, Failure, Result, Step};
use crate::init::{self, ChildFds};
use crate::plan::{self, Plan};
use crate::{rootfs, state, sys, tty};
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::{Signal, WaitId, WaitIdOptions};

/// Run the container described by `spec`; the result is crab-can's exit status.
pub fn run(spec: &Spec) -> Result<u8> {
    let plan = plan::build(spec)?;
    // `main` blocked the handled signals first thing: they wait in a queue (read through a
    // signalfd), so SIGTERM or SIGINT cannot cut the run between creating something and
    // cleaning it up; once the container runs they are passed on to it.
    let signals = init::handled_signals();
    let mut lock = state::lock(&plan.name)?;
    lock.clean_leftovers();
    let limits = Limits {
        memory: spec.memory,
        cpu_quota: spec.cpu_quota,
        pids: spec.pids,
    };
    // A cgroup only when one is asked for: a limit, or --cgroup-parent. Without them the
    // PID namespace already holds (and at the end kills) every process of the container,
    // and a cgroup would cost the start path about 0.9 ms (README, Performance).
    let cg = if limits.any() || spec.cgroup_parent.is_some() {
        let parent = spec
            .cgroup_parent
            .as_deref()
            .unwrap_or(crate::cli::DEFAULT_CGROUP_PARENT);
        let placement = Placement::new(&plan.name, parent, limits)?;
        // Recorded before anything is made, and again with the inodes once it is: a kill
        // at any moment leaves nothing the next run cannot find and tell from others'.
        let paths: Vec<String> = placement.paths().collect();
        lock.record(paths.iter().map(|p| (p.as_str(), None)))?;
        let cg = Cgroup::create(&placement)?;
        lock.record(cg.dirs().map(|(p, i)| (p, Some(i))))?;
        Some(cg)
    } else {
        None
    };
    let result = start_and_wait(&plan, cg.as_ref(), &signals);
    drop(cg);
    drop(lock);
    state::sweep();
    result
}

/// What the init's end tells us.
struct Outcome {
    /// The init's exit status as crab-can's (128+N when it was killed by signal N).
    status: u8,
    failure: Option<Failure>,
}

fn start_and_wait(plan: &Plan, cg: Option<&Cgroup>, signals: &libc::sigset_t) -> Result<u8> {
    let sigfd = sys::signalfd(signals).map_err(|e| Error::sys("cannot create a signalfd", e))?;
    let (sync_r, sync_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| Error::sys("cannot create a pipe", e))?;
    let (err_r, err_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| Error::sys("cannot create a pipe", e))?;
    let tty_pair = if plan.tty {
        Some(
            rustix::net::socketpair(
                rustix::net::AddressFamily::UNIX,
                rustix::net::SocketType::SEQPACKET,
                rustix::net::SocketFlags::CLOEXEC,
                None,
            )
            .map_err(|e| Error::sys("cannot create a socket pair for the terminal", e))?,
        )
    } else {
        None
    };

    // Everything the child keeps open, worked out (and allocated) before the clone.
    let tty_child = tty_pair.as_ref().map_or(-1, |(_, child)| child.as_raw_fd());
    let mut keep = vec![sync_r.as_raw_fd(), err_w.as_raw_fd()];
    keep.extend((tty_child >= 0).then_some(tty_child));
    let mut after_root = keep.clone();
    after_root.retain(|&fd| fd != sync_r.as_raw_fd());
    after_root.sort_unstable();
    keep.push(plan.image.as_raw_fd());
    keep.extend(plan.volumes.iter().map(|v| v.tree.as_raw_fd()));
    keep.sort_unstable();
    let child_fds = ChildFds {
        sync: sync_r.as_raw_fd(),
        error: err_w.as_raw_fd(),
        tty: tty_child,
        keep,
        after_root,
    };

    // The mount namespace is made by the child itself, after it entered IMAGE by its
    // handle (rootfs::enter).
    let mut flags = (libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC) as u64;
    if plan.new_net {
        flags |= libc::CLONE_NEWNET as u64;
    }
    let (pid, pidfd, in_cgroup) = match sys::clone_container(flags, cg.and_then(|c| c.clone_fd())) {
        Ok(sys::Forked::Child) => init::run(plan, &child_fds),
        Ok(sys::Forked::Parent {
            pid,
            pidfd,
            in_cgroup,
        }) => (pid, pidfd, in_cgroup),
        Err(e) => {
            return Err(Error::sys(
                "cannot create the container's namespaces (clone3)",
                e,
            ));
        }
    };
    drop(sync_r);
    drop(err_w);
    let tty_sock = tty_pair.map(|(parent, _child)| parent);

    // The child waits on the go pipe until it is in every cgroup; only then does any of
    // its own code run.
    if let Some(cg) = cg {
        if let Err(e) = cg.join(pid, in_cgroup) {
            let _ = rustix::process::pidfd_send_signal(&pidfd, Signal::KILL);
            let _ = wait_init(pidfd.as_fd());
            return Err(e);
        }
    }
    sys::write_once(sync_w.as_fd(), &[1]);
    drop(sync_w);

    let outcome = supervise(pidfd.as_fd(), sigfd.as_fd(), err_r, tty_sock)?;
    report(plan, cg, outcome)
}

fn wait_init(pidfd: BorrowedFd<'_>) -> Result<u8> {
    loop {
        match rustix::process::waitid(WaitId::PidFd(pidfd), WaitIdOptions::EXITED) {
            Ok(Some(st)) => {
                return Ok(match (st.exit_status(), st.terminating_signal()) {
                    (Some(c), _) => c as u8,
                    (None, Some(s)) => (128 + s) as u8,
                    _ => EXIT_RUNTIME,
                });
            }
            Ok(None) | Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("cannot wait for the container", e)),
        }
    }
}

/// The fd a poll slot watches: its own when on, else the idle one.
fn pick<'a>(on: bool, fd: Option<BorrowedFd<'a>>, idle: BorrowedFd<'a>) -> BorrowedFd<'a> {
    match fd {
        Some(fd) if on => fd,
        _ => idle,
    }
}

/// Wait for the init to exit: forward signals, read setup failures, relay the terminal.
fn supervise(
    pidfd: BorrowedFd<'_>,
    sigfd: BorrowedFd<'_>,
    err_r: OwnedFd,
    mut tty_sock: Option<OwnedFd>,
) -> Result<Outcome> {
    let mut err_r = Some(err_r);
    let mut failure = None;
    let mut master: Option<OwnedFd> = None;
    let mut raw: Option<tty::RawMode> = None;
    let mut stdin_open = true;
    // Once every holder of the terminal closed it, the master reports hang-up forever:
    // stop watching it then (what is left is drained when the init exits).
    let mut master_open = true;
    let mut buf = [0u8; 16384];
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    loop {
        // Fixed slots: 0 pidfd, 1 signals, 2 error pipe, 3 terminal socket, 4 master, 5 stdin.
        // A slot that is off watches the signalfd for no events: poll reports hang-up and
        // errors even for fds asked for nothing, and a signalfd has neither.
        let on = [
            true,
            true,
            err_r.is_some(),
            tty_sock.is_some(),
            master.is_some() && master_open,
            master.is_some() && stdin_open,
        ];
        let watch = |i: usize| {
            if on[i] {
                PollFlags::IN
            } else {
                PollFlags::empty()
            }
        };
        let mut fds = [
            PollFd::from_borrowed_fd(pidfd, watch(0)),
            PollFd::from_borrowed_fd(sigfd, watch(1)),
            PollFd::from_borrowed_fd(
                pick(on[2], err_r.as_ref().map(|f| f.as_fd()), sigfd),
                watch(2),
            ),
            PollFd::from_borrowed_fd(
                pick(on[3], tty_sock.as_ref().map(|f| f.as_fd()), sigfd),
                watch(3),
            ),
            PollFd::from_borrowed_fd(
                pick(on[4], master.as_ref().map(|f| f.as_fd()), sigfd),
                watch(4),
            ),
            PollFd::from_borrowed_fd(pick(on[5], Some(stdin), sigfd), watch(5)),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("cannot wait for the container (poll)", e)),
        }
        let ready: [bool; 6] = std::array::from_fn(|i| on[i] && !fds[i].revents().is_empty());
        if ready[1] {
            if let Ok(sig) = sys::read_signal(sigfd) {
                match (sig, &master) {
                    (libc::SIGCHLD, _) => {}
                    // With a terminal, the window size travels through it: the kernel
                    // signals the terminal's foreground job itself.
                    (libc::SIGWINCH, Some(m)) => tty::sync_size(m.as_fd()),
                    _ => {
                        if let Some(s) = Signal::from_named_raw(sig) {
                            let _ = rustix::process::pidfd_send_signal(pidfd, s);
                        }
                    }
                }
            }
        }
        if ready[2] {
            if let Some(fd) = &err_r {
                let mut b = [0u8; Failure::SIZE];
                match rustix::io::read(fd, &mut b) {
                    Ok(n) if n == Failure::SIZE => failure = failure.or(Failure::decode(&b)),
                    Err(Errno::INTR) | Err(Errno::AGAIN) => {}
                    _ => err_r = None,
                }
            }
        }
        if ready[3] {
            if let Some(sock) = tty_sock.take() {
                if let Ok(Some(m)) = tty::receive_master(sock.as_fd()) {
                    raw = tty::RawMode::enter().ok();
                    tty::sync_size(m.as_fd());
                    master = Some(m);
                }
            }
        }
        if ready[4] {
            if let Some(m) = &master {
                if !matches!(tty::pump(m.as_fd(), stdout, &mut buf), Ok(true)) {
                    master_open = false;
                }
            }
        }
        if ready[5] {
            if let Some(m) = &master {
                if !matches!(tty::pump(stdin, m.as_fd(), &mut buf), Ok(true)) {
                    stdin_open = false;
                    tty::send_eof(m.as_fd());
                }
            }
        }
        if ready[0] {
            let status = wait_init(pidfd)?;
            if let Some(m) = &master {
                tty::drain(m.as_fd(), &mut buf);
            }
            drop(raw);
            if failure.is_none() {
                if let Some(fd) = &err_r {
                    let mut b = [0u8; Failure::SIZE];
                    if let Ok(Failure::SIZE) = rustix::io::read(fd, &mut b) {
                        failure = Failure::decode(&b);
                    }
                }
            }
            return Ok(Outcome { status, failure });
        }
    }
}

/// Turn the outcome into crab-can's exit status and, for a failure, one line of words.
fn report(plan: &Plan, cg: Option<&Cgroup>, out: Outcome) -> Result<u8> {
    if let Some(f) = out.failure {
        return Err(Error {
            code: f.exit_code(),
            msg: describe_failure(plan, &f),
        });
    }
    if let Some(cg) = cg {
        let kills = cg.oom_kills();
        if kills > 0 {
            if out.status == 128 + libc::SIGKILL as u8 {
                return Err(Error {
                    code: out.status,
                    msg: format!(
                        "container {} was killed by the OOM killer (memory limit {})",
                        plan.name,
                        cg.memory_words()
                    ),
                });
            }
            crate::warn(&format!(
                "the OOM killer ended {kills} process{} in container {} (memory limit {})",
                if kills == 1 { "" } else { "es" },
                plan.name,
                cg.memory_words()
            ));
        }
    }
    Ok(out.status)
}

fn describe_failure(plan: &Plan, f: &Failure) -> String {
    let why = crate::error::strerror(f.errno);
    let cmd = &plan.command_display;
    let what = match f.step {
        Step::Exec => {
            let in_path = !cmd.contains('/');
            return match f.errno {
                Errno::NOENT | Errno::NOTDIR if in_path => format!(
                    "cannot run '{cmd}': not found in the container's PATH ({})",
                    plan.path_display
                ),
                Errno::NOENT | Errno::NOTDIR => {
                    format!("cannot run '{cmd}': {why} in the container")
                }
                Errno::NOEXEC => {
                    format!("cannot run '{cmd}': not an executable (neither ELF nor a #! script)")
                }
                Errno::ACCESS => format!(
                    "cannot run '{cmd}': permission denied (not executable, or a directory)"
                ),
                _ => format!("cannot run '{cmd}': {why}"),
            };
        }
        Step::ParentGone => "the container's init lost its parent".into(),
        Step::DeathSignal => {
            "cannot make the container's init die with crab-can (PR_SET_PDEATHSIG)".into()
        }
        Step::CgroupNs => "cannot create the cgroup namespace".into(),
        Step::Hostname => format!(
            "cannot set the hostname '{}'",
            String::from_utf8_lossy(&plan.hostname)
        ),
        Step::Loopback => "cannot bring up the loopback interface".into(),
        Step::Signals => "cannot set up the init's signals".into(),
        Step::Fork => "cannot fork the command".into(),
        Step::Session => "cannot give the command a session of its own".into(),
        Step::Terminal => "cannot give the command a pseudo-terminal".into(),
        Step::Groups => "cannot clear the supplementary groups".into(),
        Step::SetGid => format!("cannot switch to group {}", plan.gid),
        Step::SetUid => format!("cannot switch to user {}", plan.uid),
        Step::Capabilities => "cannot set the capabilities".into(),
        Step::NoNewPrivs => "cannot set no_new_privs".into(),
        Step::Seccomp => "cannot load the seccomp filter".into(),
        Step::NotDumpable => "cannot make the init non-dumpable".into(),
        step => rootfs::describe(step, f.arg, plan),
    };
    format!("{what}: {why}")
}
