//! The lifecycle of a container, as steps: [`create`] (take the name, make the cgroup,
//! clone the init straight into its namespaces and cgroup; it sets itself up and waits at
//! the start gate), [`start`] (open the gate), [`wait`] (forward signals, relay the
//! terminal, until the init exits) and [`delete`] (remove the cgroup, release the name,
//! sweep what killed runs left). `run` calls them in order in one process; the parent
//! owns each resource in a [`Container`] and each step consumes or borrows it.

use crate::cgroup::{Cgroup, Placement};
use crate::error::{Error, Failure, Result};
use crate::init::{self, ChildFds};
use crate::plan::{self, Plan};
use crate::{signal, state, sys, tty};
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::{Signal, WaitId, WaitIdOptions};

/// A created container: everything the parent holds for it.
pub struct Container<'p> {
    plan: &'p Plan,
    /// Dropped last: the name, and the record of the cgroups.
    lock: state::NameLock,
    cgroup: Option<Cgroup>,
    pidfd: OwnedFd,
    /// The write end of the sync pipe, until `start` opens the gate.
    gate: Option<OwnedFd>,
    sigfd: OwnedFd,
    err_r: OwnedFd,
    tty_sock: Option<OwnedFd>,
}

/// What the init's end tells us.
pub struct Outcome {
    /// The init's exit status as crab-can's (128+N when it was killed by signal N).
    status: u8,
    failure: Option<Failure>,
}

/// Run the container `plan` describes; the result is crab-can's exit status.
pub fn run(plan: &Plan) -> Result<u8> {
    let mut ct = create(plan)?;
    start(&mut ct);
    let result = wait(&mut ct).and_then(|out| report(&ct, out));
    delete(ct);
    result
}

/// Take the name, make the cgroup, clone the init into its namespaces (and cgroup) and let
/// it set itself up; it then waits at the start gate. Whatever fails, what was made goes.
pub fn create(plan: &Plan) -> Result<Container<'_>> {
    let c = &plan.container;
    if let Some(h) = c.hooks.first() {
        let words: Vec<String> = h
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return Err(Error::new(format!(
            "lifecycle hooks are not supported yet (hook '{}')",
            words.join(" ")
        )));
    }
    // `main` blocked the handled signals first thing: they wait in a queue (read through a
    // signalfd), so SIGTERM or SIGINT cannot cut the run between creating something and
    // cleaning it up; once the container runs they are passed on to it.
    let mut lock = state::lock(&c.name)?;
    lock.clean_leftovers();
    let cgroup = match &c.cgroup {
        Some(cp) => {
            let placement = Placement::new(&c.name, &cp.parent, &cp.limits)?;
            // Recorded before anything is made, and again with the inodes once it is: a
            // kill at any moment leaves nothing the next run cannot find and tell apart.
            let paths: Vec<String> = placement.paths().collect();
            lock.record(paths.iter().map(|p| (p.as_str(), None)))?;
            let cg = Cgroup::create(&placement, &cp.limits)?;
            lock.record(cg.dirs().map(|(p, i)| (p, Some(i))))?;
            Some(cg)
        }
        None => None,
    };
    let sigfd =
        sys::signalfd(&signal::handled()).map_err(|e| Error::sys("cannot create a signalfd", e))?;
    let (sync_r, sync_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| Error::sys("cannot create a pipe", e))?;
    let (err_r, err_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| Error::sys("cannot create a pipe", e))?;
    let tty_pair = match plan.process.terminal {
        Some(_) => Some(
            rustix::net::socketpair(
                rustix::net::AddressFamily::UNIX,
                rustix::net::SocketType::SEQPACKET,
                rustix::net::SocketFlags::CLOEXEC,
                None,
            )
            .map_err(|e| Error::sys("cannot create a socket pair for the terminal", e))?,
        ),
        None => None,
    };

    // Everything the child keeps open, worked out (and allocated) before the clone.
    let tty_child = tty_pair.as_ref().map(|(_, child)| child.as_fd());
    let mut after_root = vec![sync_r.as_raw_fd(), err_w.as_raw_fd()];
    after_root.extend(tty_child.map(|t| t.as_raw_fd()));
    let mut keep = after_root.clone();
    keep.push(c.root.image.as_raw_fd());
    keep.extend(c.mounts.iter().filter_map(|op| match op {
        crate::rootfs::MountOp::Volume(v) => Some(v.tree.as_raw_fd()),
        _ => None,
    }));
    let child_fds = ChildFds {
        sync: sync_r.as_fd(),
        error: err_w.as_fd(),
        tty: tty_child,
        keep,
        after_root,
        host_traces: init::host_traces(),
    };

    // The mount and cgroup namespaces are made by the child itself (init::setup).
    let flags = c.namespaces & !((libc::CLONE_NEWNS | libc::CLONE_NEWCGROUP) as u64);
    let into = cgroup.as_ref().and_then(|cg| cg.clone_fd());
    let (pid, pidfd, in_cgroup) = match sys::clone_container(flags, into) {
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
    drop(child_fds);
    drop(sync_r);
    drop(err_w);
    let tty_sock = tty_pair.map(|(parent, _child)| parent);

    // The child waits on the sync pipe until it is in every cgroup; only then does it set
    // itself up (it has only closed its inherited descriptors so far).
    if let Some(cg) = &cgroup {
        if let Err(e) = cg.join(pid, in_cgroup) {
            let _ = rustix::process::pidfd_send_signal(&pidfd, Signal::KILL);
            let _ = wait_init(pidfd.as_fd());
            return Err(e);
        }
    }
    sys::write_once(sync_w.as_fd(), &[1]);
    Ok(Container {
        plan,
        lock,
        cgroup,
        pidfd,
        gate: Some(sync_w),
        sigfd,
        err_r,
        tty_sock,
    })
}

/// Open the start gate: the init forks the command once its setup is done.
pub fn start(ct: &mut Container<'_>) {
    if let Some(gate) = ct.gate.take() {
        sys::write_once(gate.as_fd(), &[1]);
    }
}

/// Wait for the init to exit, forwarding signals and relaying the terminal.
pub fn wait(ct: &mut Container<'_>) -> Result<Outcome> {
    relay_until_exit(
        ct.pidfd.as_fd(),
        ct.sigfd.as_fd(),
        ct.err_r.as_fd(),
        ct.tty_sock.take(),
    )
}

/// Remove what the container had: its cgroup (killing anything left in it), its name, and
/// whatever killed runs left behind.
pub fn delete(ct: Container<'_>) {
    let Container { cgroup, lock, .. } = ct;
    drop(cgroup);
    drop(lock);
    state::sweep();
}

fn wait_init(pidfd: BorrowedFd<'_>) -> Result<u8> {
    loop {
        match rustix::process::waitid(WaitId::PidFd(pidfd), WaitIdOptions::EXITED) {
            Ok(Some(st)) => {
                return Ok(init::status_code(st.exit_status(), st.terminating_signal()) as u8);
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
fn relay_until_exit(
    pidfd: BorrowedFd<'_>,
    sigfd: BorrowedFd<'_>,
    err_r: BorrowedFd<'_>,
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
            PollFd::from_borrowed_fd(pick(on[2], err_r, sigfd), watch(2)),
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
            if let Some(fd) = err_r {
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
                if let Some(fd) = err_r {
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
fn report(ct: &Container<'_>, out: Outcome) -> Result<u8> {
    if let Some(f) = out.failure {
        return Err(plan::failure_error(ct.plan, &f));
    }
    if let Some(cg) = &ct.cgroup {
        cg.report_oom(&ct.plan.container.name, out.status)?;
    }
    Ok(out.status)
}
