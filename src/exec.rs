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
use rustix::pipe::PipeFlags;
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
}

/// A process started in a container.
pub struct Started {
    pub pid: i32,
    pidfd: OwnedFd,
    sigfd: OwnedFd,
    err_r: OwnedFd,
    tty_sock: Option<OwnedFd>,
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

/// Join the container and start `p` in it. `preserve`: fds 3..3+N the process keeps
/// (OCI `--preserve-fds`).
pub fn start(t: &Target, p: &ProcessPlan, preserve: u32) -> Result<Started> {
    use rustix::process::DumpableBehavior;
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| Error::sys("cannot make crab-can non-dumpable", e))?;
    let mut flags = Ns::MOUNT
        | Ns::HOST_NAME_AND_NIS_DOMAIN_NAME
        | Ns::INTER_PROCESS_COMMUNICATION
        | Ns::PROCESS_ID
        | Ns::NETWORK
        | Ns::CONTROL_GROUP;
    for (kind, flag) in [("user", Ns::USER), ("time", Ns::TIME)] {
        if !same_ns(t.pid, kind) {
            flags |= flag;
        }
    }
    let sigfd =
        sys::signalfd(&signal::handled()).map_err(|e| Error::sys("cannot create a signalfd", e))?;
    let pipe = || {
        rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
            .map_err(|e| Error::sys("cannot create a pipe", e))
    };
    let (sync_r, sync_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let tty_pair = match p.terminal {
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
    let tty_child = tty_pair.as_ref().map(|(_, c)| c.as_fd());
    let mut keep = vec![sync_r.as_raw_fd(), err_w.as_raw_fd()];
    keep.extend(tty_child.map(|c| c.as_raw_fd()));
    let own = keep.clone();
    keep.extend(3..3 + preserve as i32);
    let v2 = t.cgroups.iter().map(|d| d.as_fd()).find(|d| is_v2(*d));

    rustix::thread::move_into_thread_name_spaces(t.pidfd.as_fd(), flags).map_err(|e| match e {
        Errno::SRCH => Error::new(format!("container {} is not running", t.name)),
        e => Error::sys(
            format!("cannot join the namespaces of container {}", t.name),
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
            init::command(p, err_w.as_fd(), tty_child, None, false)
        }
        Ok(sys::Forked::Parent {
            pid,
            pidfd,
            in_cgroup,
        }) => (pid, pidfd, in_cgroup),
        Err(Errno::AGAIN) => {
            let limit = t.pids.map_or_else(String::new, |n| format!(" ({n})"));
            return Err(Error::new(format!(
                "cannot start in container {}: its --pids limit{limit} is reached",
                t.name
            )));
        }
        Err(Errno::NOMEM) => {
            return Err(Error::new(format!("container {} has stopped", t.name)));
        }
        Err(e) => {
            return Err(Error::sys(
                format!("cannot start a process in container {}", t.name),
                e,
            ));
        }
    };
    drop((sync_r, err_w));
    let tty_sock = tty_pair.map(|(parent, _)| parent);
    // Into every cgroup the kernel did not put it in, before it runs a line of its own.
    for dir in &t.cgroups {
        if in_cgroup && is_v2(dir.as_fd()) {
            continue;
        }
        let moved = rustix::fs::openat(
            dir,
            "cgroup.procs",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .and_then(|f| rustix::io::write(&f, pid.to_string().as_bytes()));
        if let Err(e) = moved {
            let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
            return Err(Error::sys(
                format!("cannot move the process into container {}'s cgroup", t.name),
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
    })
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
            _ => return Ok(master),
        }
    }
}
