//! The container's network: with `--net none` a private network namespace whose only
//! interface, the loopback `lo`, is brought up (as `ip link set lo up` would).
//!
//! The kernel takes about as long to make a network namespace as crab-can takes to build
//! the whole root, so a docker-like run has it made beside the root, not before it: the
//! init is cloned without one, and a helper forked by crab-can at the same moment
//! ([`helper`]) enters the init's user namespace, makes the network namespace, brings `lo`
//! up and sends it to the init; the init joins it ([`join`]) before it mounts sysfs (which
//! shows the namespace it is mounted in), and a command forked early before it loads its
//! filter.

use crate::error::{Failure, Step};
use crate::sys;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// Bring `lo` up. Runs in the child, inside its new network namespace.
pub fn loopback_up() -> Result<(), Failure> {
    loopback().map(drop)
}

/// Bring `lo` up through a socket of the namespace, returned.
fn loopback() -> Result<OwnedFd, Failure> {
    let fail = |errno| Failure::of(Step::Loopback)(errno);
    let sock = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(fail)?;
    let flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
    sys::ioctl_set_if_flags(sock.as_fd(), b"lo", flags).map_err(fail)?;
    Ok(sock)
}

/// How many times [`helper`] sends the namespace: for the init, for a command it forked
/// before it joined, and for one it forked again (`init::setup`): whichever reads which.
const COPIES: usize = 3;

/// The helper's whole life (a fork of crab-can, `parent`): in the user namespace of the
/// init behind `init` (when it has one of its own), make a network namespace with `lo` up,
/// and send it on `sock` [`COPIES`] times (one byte and the namespace, or the
/// [`Failure`]'s record). It dies with crab-can. Never returns.
pub fn helper(init: Option<BorrowedFd<'_>>, sock: BorrowedFd<'_>, parent: i32) -> ! {
    sys::close_fds_except(&[sock.as_raw_fd(), init.unwrap_or(sock).as_raw_fd()]);
    let made = make(init, parent);
    for _ in 0..COPIES {
        let sent = match &made {
            Ok(ns) => sys::send_fds(sock, b"n", &[ns.as_fd()]),
            Err(f) => sys::send_fds(sock, &f.encode(), &[]),
        };
        if sent.is_err() {
            break;
        }
    }
    sys::exit(0)
}

#[inline(never)]
fn make(init: Option<BorrowedFd<'_>>, parent: i32) -> Result<OwnedFd, Failure> {
    let fail = || Failure::of(Step::NetNs);
    if let Some(fd) = init {
        rustix::thread::move_into_thread_name_spaces(fd, rustix::thread::ThreadNameSpaceType::USER)
            .map_err(fail())?;
    }
    // Set after the user namespace is entered: a change of credentials clears it.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(Failure::of(Step::DeathSignal))?;
    if rustix::process::getppid() != rustix::process::Pid::from_raw(parent) {
        return Err(Failure::of(Step::ParentGone)(Errno::SRCH));
    }
    sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWNET).map_err(fail())?;
    // The namespace through the socket that brought `lo` up (no /proc needed).
    sys::socket_netns(loopback()?.as_fd()).map_err(fail())
}

/// Join the network namespace [`helper`] sends on `sock` (or fail as it did).
pub fn join(sock: BorrowedFd<'_>) -> Result<(), Failure> {
    let mut b = [0u8; Failure::SIZE];
    let fail = || Failure::of(Step::NetNs);
    let (n, fd) = sys::receive_fd(sock, &mut b).map_err(fail())?;
    match (n, fd) {
        (1, Some(fd)) => rustix::thread::move_into_link_name_space(
            fd.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .map_err(fail()),
        // The helper's failure, or nothing (it died before it sent anything).
        _ => Err(Failure::decode(&b[..n]).unwrap_or_else(|| fail()(Errno::PIPE))),
    }
}
