//! The container's system-call filter: a classic-BPF seccomp program that refuses what
//! Docker's default profile (moby `profiles/seccomp/default.json`) refuses, for x86_64 or
//! aarch64, built in the parent and loaded in the child as the last step before exec.
//!
//! - `profile.rs`: the profile, by system-call name ([`profile::RULES`]);
//! - `arch.rs`: each architecture's facts ([`arch::Arch`]: its AUDIT_ARCH, its foreign
//!   ABIs, its numbers), and which one is native;
//! - `bpf.rs`: the assembler that makes a program of the two.
//!
//! What the program does, in order:
//! 1. a call through another ABI kills the process: on x86_64 i386 (`int 0x80`) and x32,
//!    on aarch64 32-bit Arm (compat);
//! 2. the number is looked up in a chain of sorted ranges made from the rules: a refused
//!    call gets EPERM, `clone3` gets ENOSYS (so libcs fall back to `clone`), and `clone`,
//!    `socket` and `personality` jump to a short check of their first argument;
//! 3. a number this filter does not know (a hole in the architecture's table, or above
//!    its highest) gets ENOSYS, so a newer kernel's new calls fail cleanly instead of
//!    being allowed;
//! 4. everything else is allowed.
//!
//! Docker lets a container use some refused families when it holds a capability
//! (`mount` with CAP_SYS_ADMIN, `reboot` with CAP_SYS_BOOT, ...): those rules are
//! left out of the program when the container's capability mask has that capability.

mod arch;
mod bpf;
mod profile;
#[cfg(test)]
#[allow(unsafe_code)] // the tests fork and make raw calls to watch the filter work
mod tests;

use libc::sock_filter;
use rustix::io::Errno;

/// A ready-to-load seccomp program, built in the parent before clone.
pub struct Filter {
    prog: Vec<sock_filter>,
}

impl Filter {
    /// Docker-like default profile for a container holding `caps` (bit N = capability N),
    /// for the architecture crab-can is built for.
    pub fn default_profile(caps: u64) -> Filter {
        Filter::for_arch(arch::NATIVE, caps)
    }

    /// The same profile for `arch` (the tests build every architecture's).
    fn for_arch(arch: &arch::Arch, caps: u64) -> Filter {
        Filter {
            prog: bpf::program(arch, caps),
        }
    }

    /// Number of BPF instructions (at most 256).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// Load it into the calling thread (no_new_privs must already be set). Only the raw
    /// syscall, no allocation: this runs in the container's child after fork.
    pub fn install(&self) -> Result<(), Errno> {
        crate::sys::seccomp_set_mode_filter(&self.prog)
    }
}
