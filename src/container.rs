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
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, WaitOptions};

/// A created container: everything the parent holds for it.
pub struct Container<'p> {
    plan: &'p Plan,
    /// Dropped last: the name, and the record of the cgroups (docker-like `run`).
    lock: Option<state::NameLock>,
    pub cgroup: Option<Cgroup>,
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// The write end of the sync pipe, until `start` opens the gate.
    gate: Option<OwnedFd>,
    sigfd: OwnedFd,
    err_r: OwnedFd,
    tty_sock: Option<OwnedFd>,
    /// Rootless: where the init sends its root and namespaces (`init::NS_FILES`).
    ns_sock: Option<OwnedFd>,
    /// The network namespace's helper ([`crate::net::helper`]), until it is reaped.
    helper: Option<i32>,
    /// CLOCK_BOOTTIME seconds at its creation.
    started: u64,
}

/// What the init's end tells us.
pub struct Outcome {
    /// The init's exit status as crab-can's (128+N when it was killed by signal N).
    status: u8,
    failure: Option<Failure>,
}

/// Where `create` writes down what it makes, before and after it makes it, so that what a
/// killed crab-can left can be found and told apart from what it did not make.
pub trait Record {
    /// The container's cgroup directories: first without inodes (about to be made), then
    /// with them.
    fn cgroups(&mut self, dirs: &[(&str, Option<u64>)]) -> Result<()>;
    /// The init exists (it waits for "go" and dies with crab-can until then).
    fn init(&mut self, pid: i32, cgroup: Option<&Cgroup>) -> Result<()>;
}

impl Record for state::NameLock {
    fn cgroups(&mut self, dirs: &[(&str, Option<u64>)]) -> Result<()> {
        self.record(dirs)
    }
    fn init(&mut self, _pid: i32, _cgroup: Option<&Cgroup>) -> Result<()> {
        Ok(())
    }
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
    // `main` blocked the handled signals first thing: they wait in a queue (read through a
    // signalfd), so SIGTERM or SIGINT cannot cut the run between creating something and
    // cleaning it up; once the container runs they are passed on to it.
    let mut lock = state::lock(&plan.container.name)?;
    lock.clean_leftovers();
    let mut ct = create_with(plan, &mut lock, None)?;
    ct.lock = Some(lock);
    Ok(ct)
}

/// [`create`] for any front end: `rec` keeps the record, and `gate` (OCI) is how `start`
/// reaches the init (None: the sync pipe is the gate).
pub fn create_with<'p>(
    plan: &'p Plan,
    rec: &mut dyn Record,
    gate: Option<init::StartGate<'_>>,
) -> Result<Container<'p>> {
    let c = &plan.container;
    let cgroup = match &c.cgroup {
        Some(cp) => {
            let docker;
            let placement = match &cp.placement {
                Some(p) => p,
                None => {
                    docker = Placement::new(&c.name, &cp.parent, &cp.limits)?;
                    &docker
                }
            };
            // Recorded before anything is made, and again with the inodes once it is: a
            // kill at any moment leaves nothing the next run cannot find and tell apart.
            // Rootless: nothing is recorded (the state directory is root's); the next run
            // of the name removes what a killed one left in its delegated cgroup.
            let record = !placement.is_delegated();
            if record {
                let mut paths: Vec<String> = Vec::new();
                for p in placement.paths() {
                    paths.push(p);
                }
                let mut intent: Vec<(&str, Option<u64>)> = Vec::new();
                for p in &paths {
                    intent.push((p.as_str(), None));
                }
                rec.cgroups(&intent)?;
            }
            let cg = Cgroup::create(placement, &cp.limits)?;
            if record {
                let mut made: Vec<(&str, Option<u64>)> = Vec::new();
                for (p, i) in cg.dirs() {
                    made.push((p, Some(i)));
                }
                rec.cgroups(&made)?;
            }
            Some(cg)
        }
        None => None,
    };
    let sigfd =
        sys::signalfd(&signal::handled()).map_err(|e| Error::sys("cannot create a signalfd", e))?;
    let (sync_r, sync_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let tty_pair = terminal_pair(&plan.process)?;
    // A docker-like run without a terminal forks its command early (`init::fork_early`).
    let early = match gate.is_none() && tty_pair.is_none() {
        true => Some(pipe()?),
        false => None,
    };
    // A docker-like run's network namespace is made beside the root ([`crate::net`]).
    let net_pair = match gate.is_none() && c.namespaces & libc::CLONE_NEWNET as u64 != 0 {
        true => Some(socket_pair()?),
        false => None,
    };
    // Only a docker-like run (no OCI gate) answers `exec` with them.
    let ns_pair = match gate.is_none() && c.extra.id_maps.is_some() && crate::userns::rootless() {
        true => Some(socket_pair()?),
        false => None,
    };

    // An OCI `cgroup` mount without a cgroup namespace of the container's own binds the
    // container's cgroup directories, opened here (see `Cgroup::trees`).
    let cgroup_mount = c
        .mounts
        .iter()
        .any(|op| matches!(op, crate::rootfs::MountOp::Cgroup { .. }));
    let cgroup_trees = match &cgroup {
        Some(cg) if cgroup_mount && c.namespaces & libc::CLONE_NEWCGROUP as u64 == 0 => {
            cg.trees()?
        }
        _ => Vec::new(),
    };

    // Everything the child keeps open, worked out (and allocated) before the clone.
    let tty_child = tty_pair.as_ref().map(|(_, child)| child.as_fd());
    let mut after_root = vec![sync_r.as_raw_fd(), err_w.as_raw_fd()];
    if let Some(t) = tty_child {
        after_root.push(t.as_raw_fd());
    }
    if let Some(g) = gate {
        after_root.push(g.fd().as_raw_fd());
    }
    if let Some((_, go)) = &early {
        after_root.push(go.as_raw_fd());
    }
    let mut keep = after_root.clone();
    keep.push(c.root.image.as_raw_fd());
    for (_, fd) in &c.extra.join {
        keep.push(fd.as_raw_fd());
    }
    for op in &c.mounts {
        if let crate::rootfs::MountOp::Volume(v) = op
            && let Some(t) = v.tree.get()
        {
            keep.push(t.as_raw_fd());
        }
    }
    for (_, fd) in &cgroup_trees {
        keep.push(fd.as_raw_fd());
    }
    for fd in [
        ns_pair.as_ref().map(|p| &p.1),
        early.as_ref().map(|p| &p.0),
        net_pair.as_ref().map(|p| &p.1),
    ]
    .into_iter()
    .flatten()
    {
        keep.push(fd.as_raw_fd());
    }
    let child_fds = ChildFds {
        ns_sock: ns_pair.as_ref().map(|(_, child)| child.as_fd()),
        sync: sync_r.as_fd(),
        error: err_w.as_fd(),
        tty: tty_child,
        keep,
        after_root,
        host_traces: sys::host_traces(),
        gate,
        cgroup_trees: &cgroup_trees,
        early: early.as_ref().map(|(r, w)| (r.as_fd(), w.as_fd())),
        net: net_pair.as_ref().map(|(_, child)| child.as_fd()),
    };

    // The mount and cgroup namespaces are made by the child itself (init::setup), the
    // network namespace by a helper, when there is one.
    let mut flags = c.namespaces & !((libc::CLONE_NEWNS | libc::CLONE_NEWCGROUP) as u64);
    if net_pair.is_some() {
        flags &= !(libc::CLONE_NEWNET as u64);
    }
    let into = cgroup.as_ref().and_then(|cg| cg.clone_fd());
    let (pid, pidfd, in_cgroup) = match clone_init(plan, flags, into, &child_fds)? {
        Some(forked) => forked,
        None => init::run(plan, &child_fds),
    };
    drop(child_fds);
    drop((sync_r, err_w, early));
    let tty_sock = tty_pair.map(|(parent, _child)| parent);
    let ns_sock = ns_pair.map(|(parent, _child)| parent);

    // The child waits on the sync pipe until it is in every cgroup (and, in a user
    // namespace, mapped); only then does it set itself up.
    // The device program is loaded while the init sets itself up when the init then waits
    // at a gate (nothing of the image runs before `start`, which follows `create`'s end);
    // else before the init goes on.
    let devices = || match (&cgroup, &c.cgroup) {
        (Some(cg), Some(cp)) => cg.device_program(&cp.limits),
        _ => Ok(()),
    };
    let ready = prepare_init(plan, pid, in_cgroup, cgroup.as_ref(), rec).and_then(|()| {
        if gate.is_none() {
            devices()?;
        }
        sys::write_once(sync_w.as_fd(), &[1]);
        if gate.is_some() {
            devices()?;
        }
        Ok(())
    });
    if let Err(e) = ready {
        let _ = rustix::process::pidfd_send_signal(&pidfd, Signal::KILL);
        let _ = wait_init(pidfd.as_fd());
        return Err(e);
    }
    // The init is on its way: now the network namespace's helper, the longest step (forked
    // before the init has its maps and its go, it would take their CPU). Should the fork
    // fail, the init sees the socket close and says so.
    let userns = flags & libc::CLONE_NEWUSER as u64 != 0;
    let parent_pid = rustix::process::getpid().as_raw_nonzero().get();
    let helper = net_pair.and_then(|(ours, theirs)| {
        drop(theirs);
        match sys::fork() {
            Ok(0) => crate::net::helper(userns.then(|| pidfd.as_fd()), ours.as_fd(), parent_pid),
            forked => forked.ok(),
        }
    });
    Ok(Container {
        plan,
        lock: None,
        cgroup,
        pid,
        pidfd,
        gate: Some(sync_w),
        sigfd,
        err_r,
        tty_sock,
        ns_sock,
        helper,
        started: sys::clock_time(libc::CLOCK_BOOTTIME).0 as u64,
    })
}

/// A pipe between crab-can and a child it starts (the sync byte, the failure record).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC).map_err(|e| Error::sys("cannot create a pipe", e))
}

/// The socket pair over which the process's side sends its terminal's master, when the
/// process half asks for a terminal: (crab-can's end, the child's end).
pub fn terminal_pair(p: &plan::ProcessPlan) -> Result<Option<(OwnedFd, OwnedFd)>> {
    if p.terminal.is_none() {
        return Ok(None);
    }
    socket_pair().map(Some)
}

/// A SEQPACKET socket pair between crab-can and a child it starts (fds to pass).
fn socket_pair() -> Result<(OwnedFd, OwnedFd)> {
    rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::sys("cannot create a socket pair", e))
}

/// The clone, with what the parent does around it for an OCI bundle: join a PID namespace
/// by path and set up a time namespace, both of which apply to children only (and both
/// undone right after, so the hooks crab-can runs later are the host's). Returns None in
/// the child.
#[inline(never)]
fn clone_init(
    plan: &Plan,
    flags: u64,
    into: Option<BorrowedFd<'_>>,
    _fds: &ChildFds<'_>,
) -> Result<Option<(i32, OwnedFd, bool)>> {
    use rustix::thread::{LinkNameSpaceType as Ns, UnshareFlags};
    let x = &plan.container.extra;
    let pid_ns = x.join.iter().find(|(k, _)| *k == Ns::ProcessID);
    let own = |name: &str| {
        rustix::fs::openat(
            rustix::fs::CWD,
            format!("/proc/self/ns/{name}").as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::sys_msg(format_args!("cannot open /proc/self/ns/{name}"), e))
    };
    let mut restore = Vec::new();
    if let Some((_, fd)) = pid_ns {
        restore.push((own("pid_for_children")?, Ns::ProcessID));
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(Ns::ProcessID))
            .map_err(|e| Error::sys("cannot join the PID namespace", e))?;
    }
    if let Some(offsets) = &x.time_offsets {
        restore.push((own("time_for_children")?, Ns::Time));
        sys::unshare_namespaces(UnshareFlags::NEWTIME)
            .map_err(|e| Error::sys("cannot create the time namespace", e))?;
        write_file("/proc/self/timens_offsets", offsets).map_err(|e| {
            Error::msg(format_args!(
                "cannot set the time namespace's offsets: {}",
                crate::error::os_error(e)
            ))
        })?;
    }
    let forked = sys::clone_container(flags, into);
    if matches!(forked, Ok(sys::Forked::Child)) {
        return Ok(None);
    }
    for (fd, kind) in restore {
        rustix::thread::move_into_link_name_space(fd.as_fd(), Some(kind))
            .map_err(|e| Error::sys("cannot return to crab-can's own namespaces", e))?;
    }
    match forked {
        Ok(sys::Forked::Parent {
            pid,
            pidfd,
            in_cgroup,
        }) => Ok(Some((pid, pidfd, in_cgroup))),
        Ok(sys::Forked::Child) => Ok(None),
        Err(e) => Err(if flags & libc::CLONE_NEWUSER as u64 != 0 {
            crate::userns::blocked(e, false)
        } else {
            None
        }
        .unwrap_or_else(|| Error::sys("cannot create the container's namespaces (clone3)", e))),
    }
}

/// Write all of `text` to the file at `path`, as `std::fs::write` does (created 0666 when
/// missing, truncated).
fn write_file(path: &str, text: &str) -> std::result::Result<(), Errno> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    )?;
    sys::write_all(fd.as_fd(), text.as_bytes())
}

/// Between the clone and "go": the init's cgroups, its user namespace's maps, its OOM
/// score, and the record of its pid.
#[inline(never)]
fn prepare_init(
    plan: &Plan,
    pid: i32,
    in_cgroup: bool,
    cgroup: Option<&Cgroup>,
    rec: &mut dyn Record,
) -> Result<()> {
    let x = &plan.container.extra;
    if let Some(cg) = cgroup {
        cg.join(pid, in_cgroup)?;
    }
    let write = |file: &str, text: &str| {
        write_file(&format!("/proc/{pid}/{file}"), text)
            .map_err(|e| Error::sys_msg(format_args!("cannot write the container's {file}"), e))
    };
    if let Some(maps) = &x.id_maps {
        crate::userns::write_maps(pid, maps, &write).map_err(|e| {
            e.errno
                .and_then(|n| crate::userns::blocked(n, true))
                .unwrap_or(e)
        })?;
    }
    if let Some(adj) = x.oom_score_adj {
        write("oom_score_adj", &adj.to_string())?;
    }
    rec.init(pid, cgroup)
}

/// OCI `create`: wait until the init is set up and waits at the gate (or failed). With a
/// terminal, the master of its pseudo-terminal comes first, and is returned.
pub fn await_gate(ct: &mut Container<'_>) -> Result<Option<OwnedFd>> {
    let mut master = None;
    if let Some(sock) = ct.tty_sock.take() {
        let mut fds = [
            PollFd::new(&sock, PollFlags::IN),
            PollFd::new(&ct.err_r, PollFlags::IN),
        ];
        loop {
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => break,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::sys("cannot wait for the container (poll)", e)),
            }
        }
        if !fds[0].revents().is_empty() {
            master = tty::receive_master(sock.as_fd()).unwrap_or(None);
        }
    }
    let mut b = [0u8; Failure::SIZE];
    loop {
        match rustix::io::read(&ct.err_r, &mut b) {
            Ok(Failure::SIZE) => match Failure::decode(&b) {
                Some(f) if f.step == crate::error::Step::AtGate => return Ok(master),
                Some(f) => return Err(plan::failure_error(ct.plan, &f)),
                None => break,
            },
            Err(Errno::INTR) => continue,
            _ => break,
        }
    }
    Err(Error::new("the container's init died during setup"))
}

/// OCI: the init must outlive crab-can from now on (it stops dying with it). Waits for
/// the init to confirm, so crab-can may exit right after.
pub fn release_init(ct: &mut Container<'_>) {
    if let Some(gate) = ct.gate.take() {
        sys::write_once(gate.as_fd(), &[init::SYNC_DETACH]);
        let mut b = [0u8; Failure::SIZE];
        while let Err(Errno::INTR) = rustix::io::read(&ct.err_r, &mut b) {}
    }
}

/// OCI `create` is done: the init lives on, and so do the cgroups.
pub fn keep(mut ct: Container<'_>) {
    release_init(&mut ct);
    if let Some(cg) = ct.cgroup.take() {
        cg.release();
    }
}

/// Give up on a created container: kill its init and remove what was made.
pub fn abort(ct: Container<'_>) {
    let _ = rustix::process::pidfd_send_signal(&ct.pidfd, Signal::KILL);
    let _ = wait_init(ct.pidfd.as_fd());
    delete(ct);
}

/// Open the start gate: the init forks the command once its setup is done.
pub fn start(ct: &mut Container<'_>) {
    if let Some(gate) = ct.gate.take() {
        sys::write_once(gate.as_fd(), &[init::SYNC_START]);
    }
    // Done by now, or about to be: the init waits for its namespace before it starts.
    if let Some(h) = ct.helper.take() {
        reap(h);
    }
}

/// Wait for our child `pid` to end.
fn reap(pid: i32) {
    if let Some(pid) = Pid::from_raw(pid) {
        while let Err(Errno::INTR) = rustix::process::waitpid(Some(pid), WaitOptions::empty()) {}
    }
}

/// Wait for the init to exit, forwarding signals and relaying the terminal; the name
/// socket answers `exec`, `ps` and `kill` meanwhile.
pub fn wait(ct: &mut Container<'_>) -> Result<Outcome> {
    let tty_sock = ct.tty_sock.take();
    let ct = &*ct;
    let listener = match &ct.lock {
        Some(lock) => Some(lock.listen()?),
        None => None,
    };
    // Made at the first question: a run nobody asks about pays nothing for it.
    let mut record: Option<(Vec<u8>, Vec<OwnedFd>)> = None;
    let mut serve = |l: BorrowedFd<'_>| {
        let (rec, dirs) = record.get_or_insert_with(|| running(ct));
        let mut fds = vec![ct.pidfd.as_fd()];
        for d in dirs.iter() {
            fds.push(d.as_fd());
        }
        let owner_only = match ct.ns_sock {
            Some(_) => crate::init::NS_FILES.len(),
            None => 0,
        };
        state::answer(l, rec, &fds, owner_only);
    };
    relay_serving(
        ct.pidfd.as_fd(),
        ct.sigfd.as_fd(),
        ct.err_r.as_fd(),
        tty_sock,
        None,
        listener.map(|l| (l, &mut serve as &mut dyn FnMut(BorrowedFd<'_>))),
    )
}

/// What `exec`, `ps` and `kill` learn of this container: its record and its cgroup
/// directories.
#[inline(never)]
fn running(ct: &Container<'_>) -> (Vec<u8>, Vec<OwnedFd>) {
    let (p, c) = (&ct.plan.process, &ct.plan.container);
    let r = state::Running {
        pid: ct.pid,
        started: ct.started,
        uid: p.privileges.uid,
        gid: p.privileges.gid,
        caps: p.privileges.caps.bounding,
        seccomp: p.seccomp.is_some(),
        image: c.root.display.clone(),
        command: p.argv.words(),
        limits: c
            .cgroup
            .as_ref()
            .map_or_else(|| "-".into(), |cp| cp.limits.docker_words()),
        cwd: p.cwd.to_string_lossy().into_owned(),
        env: p.envp.strings(),
        rootless: ct.ns_sock.is_some(),
    };
    let mut dirs = Vec::new();
    if let Some(cg) = &ct.cgroup {
        for (path, _) in cg.dirs() {
            if let Ok(fd) = rustix::fs::open(
                path,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) {
                dirs.push(fd);
            }
        }
    }
    // Rootless: the init's root and namespaces, last (sent by then: the init, or its
    // command forked early, sends them before the command can run, or it failed and
    // closed the socket).
    if let Some(sock) = &ct.ns_sock {
        dirs.append(&mut sys::receive_fds(sock.as_fd(), &mut [0u8; 1]).1);
    }
    (r.encode(), dirs)
}

/// [`wait`] for OCI's foreground `run`, whose terminal's master came before the gate.
pub fn wait_with(ct: &mut Container<'_>, master: Option<OwnedFd>) -> Result<Outcome> {
    relay(
        ct.pidfd.as_fd(),
        ct.sigfd.as_fd(),
        ct.err_r.as_fd(),
        ct.tty_sock.take(),
        master,
    )
}

/// Wait for the process behind `pidfd` to exit: forward signals, read setup failures,
/// relay the terminal.
pub fn relay(
    pidfd: BorrowedFd<'_>,
    sigfd: BorrowedFd<'_>,
    err_r: BorrowedFd<'_>,
    tty_sock: Option<OwnedFd>,
    master: Option<OwnedFd>,
) -> Result<Outcome> {
    relay_serving(pidfd, sigfd, err_r, tty_sock, master, None)
}

impl Outcome {
    pub fn status(&self) -> u8 {
        self.status
    }
    pub fn failure(&self) -> Option<Failure> {
        self.failure
    }
}

/// Remove what the container had: its cgroup (killing anything left in it), its name, and
/// whatever killed runs left behind.
pub fn delete(ct: Container<'_>) {
    let Container { cgroup, lock, .. } = ct;
    drop(cgroup);
    // The docker-like front end's own records (an OCI container has none there).
    if let Some(lock) = lock {
        drop(lock);
        state::sweep();
    }
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

/// The name socket, and what answers a caller on it.
type Serve<'a> = (BorrowedFd<'a>, &'a mut dyn FnMut(BorrowedFd<'_>));

/// [`relay`], answering the name socket's callers too (docker-like `run`).
#[inline(never)]
fn relay_serving(
    pidfd: BorrowedFd<'_>,
    sigfd: BorrowedFd<'_>,
    err_r: BorrowedFd<'_>,
    mut tty_sock: Option<OwnedFd>,
    mut master: Option<OwnedFd>,
    mut serve: Option<Serve<'_>>,
) -> Result<Outcome> {
    let mut err_r = Some(err_r);
    let mut failure = None;
    let mut raw: Option<tty::RawMode> = None;
    if let Some(m) = &master {
        raw = tty::RawMode::enter().ok();
        tty::sync_size(m.as_fd());
    }
    let mut stdin_open = true;
    // Once every holder of the terminal closed it, the master reports hang-up forever:
    // stop watching it then (what is left is drained when the init exits).
    let mut master_open = true;
    let mut buf = [0u8; 16384];
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    loop {
        // Fixed slots: 0 pidfd, 1 signals, 2 error pipe, 3 terminal socket, 4 master, 5 stdin,
        // 6 the name socket.
        // A slot that is off watches the signalfd for no events: poll reports hang-up and
        // errors even for fds asked for nothing, and a signalfd has neither.
        let on = [
            true,
            true,
            err_r.is_some(),
            tty_sock.is_some(),
            master.is_some() && master_open,
            master.is_some() && stdin_open,
            serve.is_some(),
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
            PollFd::from_borrowed_fd(pick(on[6], serve.as_ref().map(|s| s.0), sigfd), watch(6)),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("cannot wait for the container (poll)", e)),
        }
        let ready: [bool; 7] = std::array::from_fn(|i| on[i] && !fds[i].revents().is_empty());
        if ready[6] {
            if let Some((l, answer)) = &mut serve {
                answer(*l);
            }
        }
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
#[inline(never)]
fn report(ct: &Container<'_>, out: Outcome) -> Result<u8> {
    if let Some(f) = out.failure {
        return Err(plan::failure_error(ct.plan, &f));
    }
    if let Some(cg) = &ct.cgroup {
        cg.report_oom(&ct.plan.container.name, out.status)?;
    }
    Ok(out.status)
}
