//! Entering a running container (`exec`, both command lines): crab-can joins the
//! namespaces of the container's init through its pidfd (one `setns`), then clones a child
//! that is born in the container's cgroup (`clone3` with `CLONE_INTO_CGROUP`; on v1, or
//! where clone3 is refused, moved there before it goes on) and, as a child of a process
//! that joined the PID namespace, inside it. The child walks the process half of a plan
//! exactly as the container's command does (`init::command`): session, terminal, working
//! directory, limits, user, capabilities, no_new_privs, seccomp, `execve`. crab-can is
//! non-dumpable from the start (a process of the container must not ptrace it or read
//! its fds: CVE-2016-9962), and the child keeps only fds 0-2 and the ones preserved.
//!
//! The child's orphans, and the child itself if crab-can dies, belong to the container's
//! init, which reaps them.

use crate::error::{Error, Failure, Result};
use crate::plan::ProcessPlan;
use crate::{container, init, signal, sys};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::thread::ThreadNameSpaceType as Ns;

/// A running container to enter, as its front end found it.
pub struct Target {
    /// Its name or ID, for messages.
    pub name: String,
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// Its cgroup directories, opened on the host's side.
    pub cgroups: Vec<OwnedFd>,
    /// Its `pids.max`, for the message when it is reached.
    pub pids: Option<u64>,
    /// A rootless container entered by its owner: its namespaces, `init::NS_FILES[1..]`
    /// (the owner may not join them through the non-dumpable init's pidfd). Empty: the
    /// pidfd is joined.
    pub ns: Vec<OwnedFd>,
}

/// Namespace file `fd`, unless it is crab-can's own namespace of its kind (`path`).
fn foreign<'a>(fd: &'a OwnedFd, path: &std::ffi::CStr) -> Option<BorrowedFd<'a>> {
    match (rustix::fs::fstat(fd), rustix::fs::stat(path)) {
        (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) => None,
        _ => Some(fd.as_fd()),
    }
}

/// A process started in a container.
pub struct Started {
    pub pid: i32,
    pidfd: OwnedFd,
    sigfd: OwnedFd,
    err_r: OwnedFd,
    tty_sock: Option<OwnedFd>,
    /// `pidfd` is the short-lived starter of an orphan (reaped by `detach`).
    orphan: bool,
}

const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

fn is_v2(dir: BorrowedFd<'_>) -> bool {
    rustix::fs::fstatfs(dir).is_ok_and(|s| s.f_type as u64 == CGROUP2_SUPER_MAGIC)
}

/// Whether the init's namespace of this kind is crab-can's own (a user namespace may not
/// be joined again: EINVAL).
fn same_ns(pid: i32, kind: &str) -> bool {
    let of = |p: &str| rustix::fs::stat(format!("/proc/{p}/ns/{kind}").as_str()).ok();
    match (of("self"), of(&pid.to_string())) {
        (Some(a), Some(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => true,
    }
}

/// The container's root directory, through its init's (`/proc/PID/root`): where `-u` names
/// and HOME are looked up. Opened before anything else, and the init is checked to be
/// alive after it (so the pid was not reused meanwhile); None when it is not running.
#[inline(never)]
pub fn container_root(pid: i32, pidfd: BorrowedFd<'_>, name: &str) -> Option<crate::rootfs::Root> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        format!("/proc/{pid}/root").as_str(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    sys::pidfd_signal(pidfd, 0).ok()?;
    Some(crate::rootfs::Root {
        image: fd,
        display: name.to_string(),
    })
}

/// A rootless OCI container entered by its owner: the root and namespaces
/// (`init::NS_FILES`) of a child of its init, found in `/proc` (the init is not dumpable,
/// its children are). Checked to still be the init's child once they are open.
pub fn child_namespaces(init: i32) -> Option<Vec<OwnedFd>> {
    use rustix::fs::{Mode, OFlags};
    let ppid = |pid: &str| {
        let text = sys::read_text(&format!("/proc/{pid}/stat"))?;
        crate::user::parse_u32(sys::stat_fields(&text)?.nth(1)?).map(|p| p as i32)
    };
    let proc = rustix::fs::open(
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut d = rustix::fs::Dir::read_from(&proc).ok()?;
    while let Some(Ok(e)) = d.next() {
        let Ok(pid) = e.file_name().to_str() else {
            continue;
        };
        if ppid(pid) != Some(init) {
            continue;
        }
        // Each file, or None when one cannot be opened.
        let open_all = || {
            let mut fds = Vec::new();
            for f in crate::init::NS_FILES {
                let f = f
                    .to_str()
                    .ok()?
                    .strip_prefix("/proc/self")
                    .unwrap_or("/root");
                fds.push(
                    rustix::fs::open(
                        format!("/proc/{pid}{f}").as_str(),
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .ok()?,
                );
            }
            Some(fds)
        };
        let fds = open_all();
        if ppid(pid) == Some(init) {
            return fds;
        }
    }
    None
}

/// Write `pid` into the `cgroup.procs` of `dir`.
fn move_into(dir: BorrowedFd<'_>, pid: i32) -> std::result::Result<(), Errno> {
    let f = rustix::fs::openat(
        dir,
        "cgroup.procs",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    rustix::io::write(&f, pid.to_string().as_bytes()).map(drop)
}

/// Join the container and start `p` in it. `preserve`: fds 3..3+N the process keeps
/// (OCI `--preserve-fds`). `orphan`: the process is handed to the container's init at
/// once (docker-like `exec -d`: it is started by a short-lived process of the container's
/// PID namespace, so the init adopts and reaps it); otherwise it is crab-can's child, as
/// an engine's subreaper expects of runc's `exec --detach`.
///
/// The kernel checks a `--pids` limit when a process forks inside the cgroup, not when
/// one is moved in: so on v1 hierarchies (and v2 without `clone3`) crab-can moves itself
/// into the container's cgroups before it forks; on v2 the child is born there.
pub fn start(t: &Target, p: &ProcessPlan, preserve: u32, orphan: bool) -> Result<Started> {
    use rustix::process::DumpableBehavior;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| Error::sys("cannot make crab-can non-dumpable", e))?;
    // The cgroup namespace is the child's to join, once it is in the container's cgroup:
    // the kernel refuses to move a process into a cgroup (CLONE_INTO_CGROUP, cgroup.procs)
    // from outside the namespace of the mover (ENOENT).
    let mut flags = Ns::MOUNT
        | Ns::HOST_NAME_AND_NIS_DOMAIN_NAME
        | Ns::INTER_PROCESS_COMMUNICATION
        | Ns::PROCESS_ID
        | Ns::NETWORK;
    for (kind, flag) in [("user", Ns::USER), ("time", Ns::TIME)] {
        if !same_ns(t.pid, kind) {
            flags |= flag;
        }
    }
    // A container without a cgroup namespace of its own shares crab-can's: nothing to join
    // (and from inside its user namespace, one owned by the host's could not be).
    // Opened here, joined by the child: once crab-can is in the container's user namespace
    // it may no longer reach the non-dumpable init's namespaces through the pidfd.
    // The container's namespaces that are not crab-can's own already, told apart before it
    // joins any (then its /proc/self is no longer its own): the six it joins here, and the
    // cgroup one, which the child joins.
    let (by_fd_cgroup, joined_here) = match t.ns.split_last() {
        Some((cgroup, rest)) => (foreign(cgroup, init::NS_FILES[7]), rest),
        None => (None, &t.ns[..]),
    };
    let mut ns: Vec<BorrowedFd<'_>> = Vec::new();
    for (fd, path) in joined_here.iter().zip(&init::NS_FILES[1..]) {
        if let Some(fd) = foreign(fd, path) {
            ns.push(fd);
        }
    }
    let opened = match t.ns.is_empty() && !same_ns(t.pid, "cgroup") {
        true => Some(
            rustix::fs::open(
                format!("/proc/{}/ns/cgroup", t.pid).as_str(),
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::sys("cannot join the container's cgroup namespace", e))?,
        ),
        false => None,
    };
    let cgroup_ns = by_fd_cgroup.or(opened.as_ref().map(|f| f.as_fd()));
    let sigfd =
        sys::signalfd(&signal::handled()).map_err(|e| Error::sys("cannot create a signalfd", e))?;
    let (sync_r, sync_w) = container::pipe()?;
    let (err_r, err_w) = container::pipe()?;
    let tty_pair = container::terminal_pair(p)?;
    let tty_child = tty_pair.as_ref().map(|(_, c)| c.as_fd());
    let mut keep = vec![sync_r.as_raw_fd(), err_w.as_raw_fd(), t.pidfd.as_raw_fd()];
    if let Some(c) = cgroup_ns {
        keep.push(c.as_raw_fd());
    }
    if let Some(c) = tty_child {
        keep.push(c.as_raw_fd());
    }
    let own = keep.clone();
    for fd in 3..3 + preserve as i32 {
        keep.push(fd);
    }
    let v2 = t.cgroups.iter().map(|d| d.as_fd()).find(|d| is_v2(*d));
    let me = rustix::process::getpid().as_raw_nonzero().get();
    for dir in t.cgroups.iter().filter(|d| !is_v2(d.as_fd())) {
        move_into(dir.as_fd(), me).map_err(|e| {
            Error::sys_msg(
                format_args!("cannot move into container {}'s cgroup", t.name),
                e,
            )
        })?;
    }

    // The user namespace first: the others are its, and joined with its capabilities.
    let joined = match t.ns.is_empty() {
        true => rustix::thread::move_into_thread_name_spaces(t.pidfd.as_fd(), flags),
        false => ns
            .iter()
            .try_for_each(|fd| rustix::thread::move_into_link_name_space(*fd, None)),
    };
    joined.map_err(|e| match e {
        Errno::SRCH => Error::msg(format_args!("container {} is not running", t.name)),
        e => Error::sys_msg(
            format_args!("cannot join the namespaces of container {}", t.name),
            e,
        ),
    })?;
    let (pid, pidfd, in_cgroup) = match sys::clone_container(0, v2) {
        Ok(sys::Forked::Child) => {
            sys::close_fds_except(&keep);
            // The caller's fds 3..3+N live on (not crab-can's own, should it have taken
            // one of those numbers).
            for fd in (3..3 + preserve as i32).filter(|fd| !own.contains(fd)) {
                sys::keep_on_exec(fd);
            }
            let mut b = [0u8; 1];
            if !matches!(rustix::io::read(&sync_r, &mut b), Ok(1)) {
                sys::exit(crate::error::EXIT_RUNTIME as i32);
            }
            let joined = cgroup_ns.map_or(Ok(()), |c| {
                rustix::thread::move_into_link_name_space(c, None)
            });
            sys::close(t.pidfd.as_raw_fd());
            if let Err(e) = joined {
                init::report(err_w.as_fd(), Failure::of(crate::error::Step::CgroupNs)(e));
                sys::exit(crate::error::EXIT_RUNTIME as i32);
            }
            if orphan {
                // Started by this short-lived process, the command is the init's to reap.
                match sys::fork() {
                    // Detached from the caller's terminal and pipes too, as `docker exec -d`.
                    Ok(0) => detach_stdio(),
                    Ok(_) => sys::exit(0),
                    Err(e) => {
                        init::report(err_w.as_fd(), Failure::of(crate::error::Step::Fork)(e));
                        sys::exit(crate::error::EXIT_RUNTIME as i32);
                    }
                }
            }
            init::command(p, err_w.as_fd(), tty_child, None, false, None)
        }
        Ok(sys::Forked::Parent {
            pid,
            pidfd,
            in_cgroup,
        }) => (pid, pidfd, in_cgroup),
        Err(Errno::AGAIN) => return Err(pids_full(t)),
        Err(Errno::NOMEM) => {
            return Err(Error::msg(format_args!("container {} has stopped", t.name)));
        }
        Err(e) => {
            return Err(Error::sys_msg(
                format_args!("cannot start a process in container {}", t.name),
                e,
            ));
        }
    };
    drop((sync_r, err_w));
    let tty_sock = tty_pair.map(|(parent, _)| parent);
    // Its fork counted, crab-can steps out into the container cgroup's parent (the
    // container's cgroup parent, crab-can's or the engine's): not counted against the
    // container while it waits, nor killed with the container's cgroup.
    for dir in t.cgroups.iter().filter(|d| !is_v2(d.as_fd())) {
        use rustix::fs::{Mode, OFlags};
        if let Ok(up) = rustix::fs::openat(
            dir,
            "..",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            let _ = move_into(up.as_fd(), me);
        }
    }
    // Into the v2 cgroup when clone3 could not put it there, before it runs a line of its own.
    if let (Some(dir), false) = (v2, in_cgroup) {
        if let Err(e) = move_into(dir, pid) {
            let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
            return Err(Error::sys_msg(
                format_args!("cannot move the process into container {}'s cgroup", t.name),
                e,
            ));
        }
    }
    sys::write_once(sync_w.as_fd(), &[1]);
    Ok(Started {
        pid,
        pidfd,
        sigfd,
        err_r,
        tty_sock,
        orphan,
    })
}

/// 0, 1 and 2 become the container's `/dev/null`.
fn detach_stdio() {
    use rustix::fs::{Mode, OFlags};
    if let Ok(null) = rustix::fs::open(c"/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
    {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}

/// A failure of the started process's setup in words: a full `--pids` as such, the rest
/// as the plan's process half says.
pub fn failure(t: &Target, p: &ProcessPlan, f: Failure) -> Error {
    if f.step == crate::error::Step::Fork && f.errno == Errno::AGAIN {
        return pids_full(t);
    }
    crate::plan::process_failure(p, &f)
}

fn pids_full(t: &Target) -> Error {
    let limit = t.pids.map_or_else(String::new, |n| format!(" ({n})"));
    Error::msg(format_args!(
        "cannot start in container {}: its --pids limit{limit} is reached",
        t.name
    ))
}

/// Wait for the process, forwarding signals and relaying its terminal; its exit status
/// (128+N when killed by signal N), or the failure of its setup.
pub fn wait(s: Started) -> std::result::Result<u8, Failure> {
    let out = container::relay(
        s.pidfd.as_fd(),
        s.sigfd.as_fd(),
        s.err_r.as_fd(),
        s.tty_sock,
        None,
    );
    match out {
        Ok(o) => match o.failure() {
            Some(f) => Err(f),
            None => Ok(o.status()),
        },
        Err(_) => Err(Failure::of(crate::error::Step::Exec)(Errno::IO)),
    }
}

/// Detached (OCI `--detach`): the terminal's master when there is one, once the process
/// passed its `execve` (or the failure of its setup). The process lives on alone.
pub fn detach(s: Started) -> std::result::Result<Option<OwnedFd>, Failure> {
    let mut master = None;
    if let Some(sock) = &s.tty_sock {
        master = crate::tty::receive_master(sock.as_fd()).unwrap_or(None);
    }
    let mut b = [0u8; Failure::SIZE];
    loop {
        match rustix::io::read(&s.err_r, &mut b) {
            Ok(Failure::SIZE) => {
                if let Some(f) = Failure::decode(&b) {
                    return Err(f);
                }
            }
            Err(Errno::INTR) => continue,
            _ => break,
        }
    }
    // The starter of an orphan is gone once its child exec'd: reaped here, so it is not
    // counted against `--pids` a moment longer.
    if s.orphan {
        use rustix::process::{WaitId, WaitIdOptions};
        while let Err(Errno::INTR) =
            rustix::process::waitid(WaitId::PidFd(s.pidfd.as_fd()), WaitIdOptions::EXITED)
        {}
    }
    Ok(master)
}
