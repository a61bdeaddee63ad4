//! The container's first process, PID 1 of its PID namespace, from birth to exit.
//!
//! Setup (it waits for the parent's go, then enters its cgroup namespace, sets the
//! hostname, brings up `lo` or joins the network namespace a helper made
//! ([`crate::net`]), builds the root filesystem, and waits at the start gate), then the
//! init proper: it forks the command into its own session, forwards the parent's signals
//! to the command's process group, reaps every orphan, and when the command ends kills
//! what is left and exits with the command's status (128+N for signal N). A docker-like
//! run without a terminal forks the command during setup instead ([`fork_early`]): it
//! loads its filter on another CPU while the init builds the root.
//!
//! This code runs after a raw clone: single-threaded, no allocation, no panics, and it
//! leaves only through `sys::exit`. A failure is sent to the parent as a [`Failure`].

use crate::error::{EXIT_NOT_FOUND, EXIT_RUNTIME, Failure, Step};
use crate::plan::{Plan, ProcessPlan};
use crate::{net, rootfs, security, signal, sys, tty};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use rustix::io::Errno;
use rustix::process::{Gid, Signal, Uid, WaitOptions};
use rustix::thread::LinkNameSpaceType;

/// The descriptors the child keeps from the parent, borrowed from the parent's frame: the
/// child is a copy of that frame and never returns from it.
pub struct ChildFds<'a> {
    /// Read end of the sync pipe: one byte once the parent has put us in our cgroups
    /// ("go"), then one more to start the command (the start gate).
    pub sync: BorrowedFd<'a>,
    /// Write end of the error pipe (close-on-exec): a [`Failure`] if anything fails.
    pub error: BorrowedFd<'a>,
    /// The socket that carries the pseudo-terminal's master to the parent, if any.
    pub tty: Option<BorrowedFd<'a>>,
    /// Every descriptor to keep until the root is built (these, IMAGE's handle and the
    /// volumes' mount trees).
    pub keep: Vec<RawFd>,
    /// What the init keeps after the root is built (sync, error, terminal).
    pub after_root: Vec<RawFd>,
    /// The caller's command line and environment in this memory ([`sys::host_traces`]).
    pub host_traces: Option<(usize, usize)>,
    /// OCI: the start gate (see [`StartGate`]); the pseudo-terminal is made before it.
    /// None: the gate is the sync pipe.
    pub gate: Option<StartGate<'a>>,
    /// The container's cgroup directories as detached bind mounts, for an OCI `cgroup`
    /// mount when the container has no cgroup namespace (`Cgroup::trees`); else empty.
    pub cgroup_trees: &'a [(String, OwnedFd)],
    /// Rootless: where the init sends its root and namespaces ([`NS_FILES`]) while it is
    /// still dumpable. Once it is not, only they let its owner `exec` into it (the kernel
    /// checks a non-dumpable process's namespaces against the initial user namespace).
    pub ns_sock: Option<BorrowedFd<'a>>,
    /// A docker-like run without a terminal: the pipe (read end, write end) on which the
    /// command, forked as soon as the mount namespace exists ([`fork_early`]), waits for
    /// its root.
    pub early: Option<(BorrowedFd<'a>, BorrowedFd<'a>)>,
    /// Where the network namespace comes from when a helper makes it ([`net::helper`]);
    /// None when the clone made it (or there is none).
    pub net: Option<BorrowedFd<'a>>,
}

/// What a rootless init sends on [`ChildFds::ns_sock`], in this order (the root first).
pub const NS_FILES: [&std::ffi::CStr; 8] = [
    c"/",
    c"/proc/self/ns/user",
    c"/proc/self/ns/mnt",
    c"/proc/self/ns/uts",
    c"/proc/self/ns/ipc",
    c"/proc/self/ns/pid",
    c"/proc/self/ns/net",
    c"/proc/self/ns/cgroup",
];

/// Open [`NS_FILES`] from `first` on into the slots of `ns` still empty, without
/// allocating.
fn open_namespaces(ns: &mut [Option<OwnedFd>; 8], first: usize) -> Result<(), Failure> {
    use rustix::fs::{Mode, OFlags};
    for i in first..8 {
        if ns[i].is_none() {
            let fd = rustix::fs::open(NS_FILES[i], OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty());
            ns[i] = Some(fd.map_err(Failure::of(Step::NotDumpable))?);
        }
    }
    Ok(())
}

/// Open what is left of [`NS_FILES`] into `ns` and send them all on `sock`.
fn send_namespaces(sock: BorrowedFd<'_>, ns: &mut [Option<OwnedFd>; 8]) -> Result<(), Failure> {
    open_namespaces(ns, 0)?;
    let borrowed: [BorrowedFd<'_>; 8] =
        std::array::from_fn(|i| ns[i].as_ref().map_or(sock, |f| f.as_fd()));
    sys::send_fds(sock, b"n", &borrowed).map_err(Failure::of(Step::NotDumpable))
}

/// What the sync pipe's bytes mean after "go": start the command (docker-like `run`), or
/// (OCI) the caller is done with `create` and the init must outlive it.
pub const SYNC_START: u8 = 1;
pub const SYNC_DETACH: u8 = 2;

/// How OCI's `start` reaches the init waiting at the gate.
#[derive(Clone, Copy)]
pub enum StartGate<'a> {
    /// A listening socket at `ROOT/ID:start`: `crab-can start` connects to it.
    Listen(BorrowedFd<'a>),
    /// One end of a socket pair whose other end the same crab-can holds (a foreground
    /// `run`, which starts the container itself): one byte opens the gate.
    Paired(BorrowedFd<'a>),
}

impl StartGate<'_> {
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            StartGate::Listen(fd) | StartGate::Paired(fd) => *fd,
        }
    }
}

/// What the init holds at the gate for the command (OCI mode).
#[derive(Default)]
struct Gate {
    /// The connection of `crab-can start`: the command reports a failed exec on it.
    conn: Option<rustix::fd::OwnedFd>,
    /// The pseudo-terminal's slave, made before the gate.
    slave: Option<rustix::fd::OwnedFd>,
    /// The signals, read at the gate already.
    sigfd: Option<rustix::fd::OwnedFd>,
    /// The command forked early ([`fork_early`]), waiting for its root.
    cmd: Option<i32>,
}

fn signalfd() -> Result<rustix::fd::OwnedFd, Errno> {
    sys::signalfd(&signal::catchable())
}

pub fn report(err: BorrowedFd<'_>, f: Failure) {
    sys::write_once(err, &f.encode());
}

/// The child's whole life. Never returns.
pub fn run(plan: &Plan, fds: &ChildFds<'_>) -> ! {
    // Every signal that can be caught is read and passed on, not just the ones crab-can's
    // parent forwards: an engine may send any (systemd's SIGRTMIN+3, say).
    let _ = sys::sigprocmask(libc::SIG_BLOCK, &signal::catchable());
    let mut gate = match setup(plan, fds) {
        Ok(g) => g,
        Err(f) => {
            // Without a parent there is nobody to tell.
            if f.step != Step::ParentGone {
                report(fds.error, f);
            }
            sys::exit(EXIT_RUNTIME as i32);
        }
    };
    let sigfd = match gate.sigfd.take().map_or_else(signalfd, Ok) {
        Ok(fd) => fd,
        Err(e) => {
            report(fds.error, Failure::of(Step::Signals)(e));
            sys::exit(EXIT_RUNTIME as i32);
        }
    };
    // OCI: the caller of `create` is gone; `start` hears how the exec went.
    let err = gate.conn.as_ref().map_or(fds.error, |c| c.as_fd());
    let no_pid_ns = plan.container.namespaces & libc::CLONE_NEWPID as u64 == 0;
    let cmd = match (gate.cmd, fds.early) {
        // The root is built: let the command go on.
        (Some(pid), Some((_, go))) => {
            sys::write_once(go, &[1]);
            sys::close(go.as_raw_fd());
            pid
        }
        _ => match sys::fork() {
            Ok(0) => command(
                &plan.process,
                err,
                fds.tty,
                gate.slave.as_ref(),
                no_pid_ns,
                None,
            ),
            Ok(pid) => pid,
            Err(e) => {
                report(err, Failure::of(Step::Fork)(e));
                sys::exit(EXIT_RUNTIME as i32);
            }
        },
    };
    // The command holds the error pipe until its execve; once we close ours, the parent
    // sees end-of-file exactly when the command is running.
    drop(gate);
    sys::close(fds.error.as_raw_fd());
    if let Some(t) = fds.tty {
        sys::close(t.as_raw_fd());
    }
    reap_and_forward(cmd, sigfd.as_fd(), !no_pid_ns)
}

/// Read one byte of the sync pipe; end-of-file means the parent is gone (or gave up).
fn read_sync(sync: BorrowedFd<'_>) -> Result<(), Failure> {
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(sync, &mut b) {
            Ok(1) => return Ok(()),
            Err(Errno::INTR) => continue,
            _ => return Err(Failure::of(Step::ParentGone)(Errno::PIPE)),
        }
    }
}

/// The container half: from birth to the start gate.
#[inline(never)]
fn setup(plan: &Plan, fds: &ChildFds<'_>) -> Result<Gate, Failure> {
    let c = &plan.container;
    // Die with crab-can. If it already died before this line, the sync pipe below reads
    // end-of-file, so that case is caught too.
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(Failure::of(Step::DeathSignal))?;
    // Nothing of the caller's but 0-2 stays open in the init, and nothing of its command
    // line or environment stays readable at /proc/1/cmdline and /proc/1/environ.
    sys::close_fds_except(&fds.keep);
    if let Some(r) = fds.host_traces {
        sys::scrub(r, b"crab-can-init");
    }
    read_sync(fds.sync)?;
    // In a user namespace of its own, become its root (the parent has written the maps).
    if c.namespaces & libc::CLONE_NEWUSER as u64 != 0 {
        rustix::thread::set_thread_res_gid(Gid::ROOT, Gid::ROOT, Gid::ROOT)
            .map_err(Failure::of(Step::SetGid))?;
        rustix::thread::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT)
            .map_err(Failure::of(Step::SetUid))?;
    }
    // Namespaces joined by path (a pod's sandbox): the PID one was joined by the parent.
    for (i, (kind, fd)) in c.extra.join.iter().enumerate() {
        if *kind != LinkNameSpaceType::ProcessID {
            rustix::thread::move_into_link_name_space(fd.as_fd(), Some(*kind))
                .map_err(Failure::at(Step::JoinNs, i))?;
        }
    }
    // Now in our cgroups: a cgroup namespace rooted here makes /proc/self/cgroup read "/".
    if c.namespaces & libc::CLONE_NEWCGROUP as u64 != 0 {
        sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWCGROUP)
            .map_err(Failure::of(Step::CgroupNs))?;
    }
    if c.namespaces & libc::CLONE_NEWUTS as u64 != 0 {
        rustix::system::sethostname(&c.hostname).map_err(Failure::of(Step::Hostname))?;
        if !c.extra.domainname.is_empty() {
            rustix::system::setdomainname(&c.extra.domainname)
                .map_err(Failure::of(Step::Hostname))?;
        }
    }
    // (A helper that makes the namespace brings it up.)
    if c.namespaces & libc::CLONE_NEWNET as u64 != 0 && fds.net.is_none() {
        net::loopback_up()?;
    }
    // A helper's network namespace, until the init has joined it: before sysfs is
    // mounted, else once the root is built. A command forked before that joins it itself
    // (first: its filter may refuse it `setns`).
    let pending_net = std::cell::Cell::new(fds.net);
    let join_net = || pending_net.take().map_or(Ok(()), net::join);
    let userns = c.namespaces & libc::CLONE_NEWUSER as u64 != 0;
    rootfs::own_namespace(&c.root)?;
    // The command forked early: before `pivot_root`, which moves its root along with the
    // init's (so it works while the init mounts the kernel's views and copies IMAGE); after
    // it where `/` may be an initramfs, whose `chroot` moves the init alone. Should that
    // way be taken all the same (`/` a plain directory under a chroot), the command goes
    // (it has done nothing that lasts) and is forked again, from the new root.
    let mut cmd = match rootfs::may_be_rootfs() {
        false => fork_early(plan, fds, pending_net.get())?,
        true => None,
    };
    let entered = rootfs::enter(&c.mounts, userns)?;
    if entered.chrooted
        && let Some(pid) = cmd.take().and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
    if cmd.is_none() {
        cmd = fork_early(plan, fds, pending_net.get())?;
    }
    if let Some((go, _)) = fds.early {
        sys::close(go.as_raw_fd());
    }
    rootfs::replay(
        &c.mounts,
        userns,
        fds.cgroup_trees,
        entered.old_root,
        &join_net,
    )?;
    join_net()?;
    // (A command forked early sends them.)
    if let (Some(sock), None) = (fds.ns_sock, cmd) {
        send_namespaces(sock, &mut [const { None }; 8])?;
    }
    // The handles of the host's side (IMAGE, the volumes' trees) have done their work.
    sys::close_fds_except(&fds.after_root);
    // Nobody inside may read the init's memory, fds or executable through /proc/1.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(Failure::of(Step::NotDumpable))?;
    let Some(start_gate) = fds.gate else {
        // Everything is set up: wait at the start gate.
        read_sync(fds.sync).map_err(|f| Failure {
            step: Step::StartGate,
            ..f
        })?;
        sys::close(fds.sync.as_raw_fd());
        return Ok(Gate {
            cmd,
            ..Gate::default()
        });
    };
    let mut gate = Gate::default();
    if let (Some(sock), Some(t)) = (fds.tty, &plan.process.terminal) {
        gate.slave = Some(
            tty::open_for(sock, t.size, plan.process.privileges.uid)
                .map_err(Failure::of(Step::Terminal))?,
        );
    }
    // A missing command fails `create`, not `start` (as runc's PATH lookup does).
    if let Err(e) = find_command(&plan.process) {
        return Err(Failure::of(Step::Exec)(e));
    }
    let sigfd = signalfd().map_err(Failure::of(Step::Signals))?;
    gate.conn = Some(wait_at_gate(fds, start_gate, sigfd.as_fd())?);
    gate.sigfd = Some(sigfd);
    Ok(gate)
}

/// A docker-like run without a terminal: fork the command while the init builds the root,
/// so that it loads its seccomp filter (the kernel compiles it: the dearest step of the
/// command's start) on another CPU meanwhile, once in the network namespace (`net`: the
/// helper's, which it joins itself when the init has not yet). It waits on the `early`
/// pipe, holding nothing else, and goes on once the mounts are made and the run starts.
#[inline(never)]
fn fork_early<'a>(
    plan: &Plan,
    fds: &ChildFds<'a>,
    net: Option<BorrowedFd<'a>>,
) -> Result<Option<i32>, Failure> {
    let Some((go, _)) = fds.early else {
        return Ok(None);
    };
    match sys::fork() {
        Ok(0) => {
            let ns_sock = fds.ns_sock.unwrap_or(go);
            sys::close_fds_except(&[
                fds.error.as_raw_fd(),
                go.as_raw_fd(),
                ns_sock.as_raw_fd(),
                net.unwrap_or(go).as_raw_fd(),
            ]);
            // The umask the init has once its mounts are made.
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
            let no_pid_ns = plan.container.namespaces & libc::CLONE_NEWPID as u64 == 0;
            let early = Early {
                go,
                ns_sock: fds.ns_sock,
                net,
            };
            command(&plan.process, fds.error, None, None, no_pid_ns, Some(early))
        }
        Ok(pid) => Ok(Some(pid)),
        Err(e) => Err(Failure::of(Step::Fork)(e)),
    }
}

/// What a command forked early ([`fork_early`]) holds: the pipe on which it waits for its
/// root, and (rootless) where it sends the container's root and namespaces, as the init
/// does otherwise; it opens the namespaces while it waits (its own, the same).
pub struct Early<'a> {
    go: BorrowedFd<'a>,
    ns_sock: Option<BorrowedFd<'a>>,
    /// The network namespace to join first ([`ChildFds::net`]), when the init had not
    /// joined it before the fork.
    net: Option<BorrowedFd<'a>>,
}

/// A command forked early (its filter loaded): its namespaces (rootless: opened
/// now, its own are the init's) and the bounding set while the init builds the root; then,
/// once the root is built, the root, and all of them sent.
fn wait_for_root(e: &Early<'_>, p: &ProcessPlan) -> Result<(), Failure> {
    let mut ns = [const { None }; 8];
    if e.ns_sock.is_some() {
        // All but the root, which is not this one yet.
        open_namespaces(&mut ns, 1)?;
    }
    security::drop_bounding(&p.privileges)?;
    read_sync(e.go)?;
    match e.ns_sock {
        Some(sock) => send_namespaces(sock, &mut ns),
        None => Ok(()),
    }
}

/// Write `value` to the file at `path` (a sysctl under /proc/sys), in one write.
pub fn write_file(path: &std::ffi::CStr, value: &[u8]) -> Result<(), Errno> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    match rustix::io::write(&fd, value)? {
        n if n == value.len() => Ok(()),
        _ => Err(Errno::IO),
    }
}

/// Whether any candidate of the command exists and may be executed, in the order
/// [`exec_first`] will try them.
fn find_command(p: &ProcessPlan) -> Result<(), Errno> {
    use rustix::fs::{Access, AtFlags};
    let mut last = Errno::NOENT;
    for path in &p.exec_candidates {
        match rustix::fs::accessat(rustix::fs::CWD, &**path, Access::EXEC_OK, AtFlags::EACCESS) {
            Ok(()) => return Ok(()),
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// OCI's created state: tell the caller of `create` that all is set up, then wait for
/// `crab-can start` to connect. The caller says "detach" when it is done (from then on
/// the init outlives it); before that, its death ends the init. A signal meant to end
/// the container ends it here too, as it would end runc's waiting init.
fn wait_at_gate(
    fds: &ChildFds<'_>,
    start_gate: StartGate<'_>,
    sigfd: BorrowedFd<'_>,
) -> Result<rustix::fd::OwnedFd, Failure> {
    use rustix::event::{PollFd, PollFlags};
    let listener = start_gate.fd();
    report(fds.error, Failure::of(Step::AtGate)(Errno::INVAL));
    let mut attached = true;
    loop {
        let sync_flags = if attached {
            PollFlags::IN
        } else {
            PollFlags::empty()
        };
        let mut pfds = [
            PollFd::from_borrowed_fd(listener, PollFlags::IN),
            PollFd::from_borrowed_fd(sigfd, PollFlags::IN),
            PollFd::from_borrowed_fd(if attached { fds.sync } else { sigfd }, sync_flags),
        ];
        match rustix::event::poll(&mut pfds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Failure::of(Step::StartGate)(e)),
        }
        if attached && !pfds[2].revents().is_empty() {
            let mut b = [0u8; 1];
            match rustix::io::read(fds.sync, &mut b) {
                Ok(1) if b[0] == SYNC_DETACH => {
                    rustix::process::set_parent_process_death_signal(None)
                        .map_err(Failure::of(Step::DeathSignal))?;
                    // The caller may exit now: it waits for this before it does.
                    report(fds.error, Failure::of(Step::AtGate)(Errno::INVAL));
                    sys::close(fds.sync.as_raw_fd());
                    attached = false;
                }
                Ok(1) | Err(Errno::INTR) => {}
                _ => return Err(Failure::of(Step::ParentGone)(Errno::PIPE)),
            }
        }
        if !pfds[1].revents().is_empty() {
            if let Ok(sig) = sys::read_signal(sigfd) {
                if sig != libc::SIGCHLD && sig != libc::SIGWINCH {
                    sys::exit(128 + sig);
                }
            }
        }
        if !pfds[0].revents().is_empty() {
            let conn = match start_gate {
                StartGate::Listen(_) => {
                    rustix::net::accept_with(listener, rustix::net::SocketFlags::CLOEXEC)
                }
                StartGate::Paired(_) => {
                    let mut b = [0u8; 1];
                    match rustix::io::read(listener, &mut b) {
                        Ok(1) => rustix::io::fcntl_dupfd_cloexec(listener, 0),
                        Ok(_) => return Err(Failure::of(Step::ParentGone)(Errno::PIPE)),
                        Err(e) => Err(e),
                    }
                }
            };
            match conn {
                Ok(conn) => {
                    sys::close(listener.as_raw_fd());
                    if attached {
                        sys::close(fds.sync.as_raw_fd());
                    }
                    return Ok(conn);
                }
                Err(Errno::INTR) | Err(Errno::AGAIN) | Err(Errno::CONNABORTED) => {}
                Err(e) => return Err(Failure::of(Step::StartGate)(e)),
            }
        }
    }
}

/// The process half: its own session, default signals, the plan's working directory,
/// limits, user and privileges, then execve. Never returns.
pub fn command(
    p: &ProcessPlan,
    err: BorrowedFd<'_>,
    tty_sock: Option<BorrowedFd<'_>>,
    slave: Option<&rustix::fd::OwnedFd>,
    die_with_init: bool,
    early: Option<Early<'_>>,
) -> ! {
    let fail = |f: Failure| -> ! {
        report(err, f);
        sys::exit(f.exit_code() as i32)
    };
    // Forked early: the filter first, the longest system call, done while the init builds
    // the root; before it, the helper's network namespace, when the init had not joined it
    // yet (the filter may refuse `setns`).
    if let Some(e) = &early {
        let net = || e.net.map_or(Ok(()), net::join);
        if let Err(f) = net().and_then(|()| security::confine(&p.privileges, p.seccomp.as_ref())) {
            fail(f);
        }
    }
    if let Err(e) = rustix::process::setsid() {
        fail(Failure::of(Step::Session)(e));
    }
    // Without a PID namespace of its own, the init's death would not end the command.
    if die_with_init {
        if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
            fail(Failure::of(Step::DeathSignal)(e));
        }
    }
    let attached = match (slave, tty_sock, &p.terminal) {
        (Some(s), _, _) => tty::adopt(s.as_fd()),
        (None, Some(sock), Some(t)) => tty::attach(sock, t.size, p.privileges.uid),
        _ => Ok(()),
    };
    if let Err(e) = attached {
        fail(Failure::of(Step::Terminal)(e));
    }
    signal::reset_for_exec();
    if let Some(mask) = p.umask {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    if let Some((path, value)) = &p.lsm_exec {
        if let Err(e) = write_file(path, value) {
            fail(Failure::of(Step::Lsm)(e));
        }
    }
    if let Some(e) = &early {
        match wait_for_root(e, p) {
            Ok(()) => {}
            // End of file: the init failed, and says why.
            Err(f) if f.step == Step::ParentGone => sys::exit(EXIT_RUNTIME as i32),
            Err(f) => fail(f),
        }
    }
    // The init stays in "/"; the command starts in its working directory.
    if let Err(e) = rustix::process::chdir(&*p.cwd) {
        fail(Failure::of(Step::Chdir)(e));
    }
    for (i, r) in p.rlimits.iter().enumerate() {
        if let Err(e) = rustix::process::setrlimit(r.resource, r.limit) {
            fail(Failure::at(Step::Rlimit, i)(e));
        }
    }
    let locked = match early {
        Some(_) => security::switch_user(&p.privileges),
        None => security::lock_down(&p.privileges, p.seccomp.as_ref()),
    };
    if let Err(f) = locked {
        fail(f);
    }
    let f = Failure::of(Step::Exec)(exec_first(p));
    report(err, f);
    sys::exit(if f.exit_code() == EXIT_NOT_FOUND {
        127
    } else {
        126
    })
}

/// execvp's search over the plan's candidates: skip what does not exist, remember a
/// permission problem, stop at any other error (ENOEXEC: neither ELF nor #!, and no
/// fallback to a shell). Returns only on failure, with the errno to report.
fn exec_first(p: &ProcessPlan) -> Errno {
    let mut seen_eacces = false;
    let mut last = Errno::NOENT;
    for path in &p.exec_candidates {
        last = sys::execve(path, p.argv.as_ptrs(), p.envp.as_ptrs());
        match last {
            Errno::NOENT | Errno::NOTDIR => continue,
            Errno::ACCESS => seen_eacces = true,
            _ => break,
        }
    }
    if seen_eacces && (last == Errno::NOENT || last == Errno::NOTDIR) {
        last = Errno::ACCESS;
    }
    last
}

/// A wait status as an exit status: the code, or 128+N for a death by signal N.
pub fn status_code(exit: Option<i32>, signal: Option<i32>) -> i32 {
    match (exit, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => EXIT_RUNTIME as i32,
    }
}

/// The init's loop: forward signals, reap everything, exit with the command's status.
fn reap_and_forward(cmd: i32, sigfd: BorrowedFd<'_>, own_pid_ns: bool) -> ! {
    loop {
        let sig = match sys::read_signal(sigfd) {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != libc::SIGCHLD {
            // To the command's process group; if the command left it, to the command.
            if sys::kill(-cmd, sig).is_err() {
                let _ = sys::kill(cmd, sig);
            }
            continue;
        }
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, st))) if pid.as_raw_nonzero().get() == cmd => {
                    let code = status_code(st.exit_status(), st.terminating_signal());
                    // Everything else in the container goes with the command. In a PID
                    // namespace of its own the kernel does it as this init exits: it
                    // kills every process left in the namespace (also those that entered
                    // it from outside) and reaps them before the exit completes.
                    // Without one, only what is left of our own children, reaped here.
                    if !own_pid_ns {
                        while rustix::process::wait(WaitOptions::empty()).is_ok() {}
                    }
                    sys::exit(code);
                }
                Ok(Some(_)) => continue, // an orphan, reaped
                Ok(None) | Err(_) => break,
            }
        }
    }
}
