//! The container's system-call filter: a classic-BPF seccomp program built in the parent
//! and loaded in the child as the last step before exec, for x86_64 or aarch64. Either
//! Docker's default profile (moby `profiles/seccomp/default.json`), or the OCI profile of
//! a bundle's config.json (`linux.seccomp`).
//!
//! - `profile.rs`: the default profile, by system-call name ([`profile::RULES`]);
//! - `arch.rs`: each architecture's facts ([`arch::Arch`]: its AUDIT_ARCH, its foreign
//!   ABIs, its numbers and names), and which one is native;
//! - `bpf.rs`: the assembler (any rules, 64-bit argument comparisons), and the default
//!   profile's rules for it;
//! - `oci.rs`: an OCI profile read into rules for the general assembler, with what each
//!   field means.
//!
//! The default profile's program, in order:
//! 1. a call through another ABI kills the process: on x86_64 i386 (`int 0x80`) and x32,
//!    on aarch64 32-bit Arm (compat);
//! 2. the number goes down a balanced tree of ranges made from the rules: a refused call
//!    gets EPERM, `clone3` gets ENOSYS (so libcs fall back to `clone`), and `clone`,
//!    `socket` and `personality` a short check of their first argument;
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
mod oci;
#[cfg(test)]
mod oci_tests;
mod profile;
#[cfg(test)]
mod tests;

use crate::json::At;
use libc::sock_filter;
use rustix::io::Errno;

/// A ready-to-load seccomp program, built in the parent before clone.
pub struct Filter {
    prog: Vec<sock_filter>,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2).
    flags: u32,
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
            flags: 0,
        }
    }

    /// From an OCI `linux.seccomp` object (see `oci.rs` for what each field does), for
    /// the architecture crab-can is built for. `warn` gets one line per name skipped as
    /// no system call of this architecture.
    #[allow(dead_code)] // until `crab-can create` reads config.json
    pub fn from_oci(spec: At<'_>, warn: &mut dyn FnMut(&str)) -> crate::error::Result<Filter> {
        oci::compile(arch::NATIVE, &spec, warn)
    }

    /// Number of BPF instructions.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// Load it into the calling thread (no_new_privs must already be set). Only the raw
    /// syscall, no allocation: this runs in the container's child after fork.
    pub fn install(&self) -> Result<(), Errno> {
        crate::sys::seccomp_set_mode_filter(&self.prog, self.flags)
    }
}
