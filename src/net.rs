//! The container's network: with `--net none` a private network namespace whose only
//! interface, the loopback `lo`, is brought up (as `ip link set lo up` would).

use crate::error::{Failure, Step};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// Bring `lo` up. Runs in the child, inside its new network namespace.
pub fn loopback_up() -> Result<(), Failure> {
    let fail = |errno| Failure::of(Step::Loopback)(errno);
    let sock = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(fail)?;
    let flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
    crate::sys::ioctl_set_if_flags(rustix::fd::AsFd::as_fd(&sock), b"lo", flags).map_err(fail)
}
