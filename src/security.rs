//! What the command may do: its capability sets (`--cap-add`/`--cap-drop` against a
//! default set), the user and groups it runs as, `no_new_privs`, and the seccomp filter,
//! applied in that order by the command's process just before `execve`.

use crate::error::{Error, Failure, Result, Step};
use crate::seccomp::Filter;
use rustix::io::Errno;
use rustix::thread::{CapabilitySet, CapabilitySets};

/// The five capability sets of a process, as bit masks (bit N = capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Who the command runs as and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privileges {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (empty: cleared).
    pub groups: Vec<rustix::process::Gid>,
    pub caps: Capabilities,
    pub no_new_privs: bool,
}

/// Capability names, indexed by number (as in linux/capability.h).
pub const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

pub const ALL_CAPS: u64 = (1 << CAP_NAMES.len()) - 1;

/// `NET_ADMIN`, `CAP_NET_ADMIN`, `net_admin` → its bit; `ALL` → every bit.
pub fn parse_cap(name: &str, opt: &str) -> Result<u64> {
    let up = name.to_ascii_uppercase();
    if up == "ALL" {
        return Ok(ALL_CAPS);
    }
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    CAP_NAMES
        .iter()
        .position(|n| *n == bare)
        .map(|i| 1u64 << i)
        .ok_or_else(|| Error::msg(format_args!("invalid {opt} '{name}': unknown capability")))
}

/// `default`, with every drop applied first and then every add, limited to what crab-can
/// itself holds (`held`): `ALL` means all of those; a named capability crab-can lacks
/// (inside another container, say) is an error that names it.
pub fn capability_set(default: u64, add: &[String], drop: &[String], held: u64) -> Result<u64> {
    let mut set = default;
    for d in drop {
        set &= !parse_cap(d, "--cap-drop")?;
    }
    for a in add {
        set |= parse_cap(a, "--cap-add")?;
    }
    let all_added = add.iter().any(|a| a.eq_ignore_ascii_case("ALL"));
    let missing = set & !held & if all_added { 0 } else { ALL_CAPS };
    if let Some(cap) = (0..CAP_NAMES.len()).find(|c| missing & (1 << c) != 0) {
        return Err(Error::msg(format_args!(
            "cannot give the container CAP_{}: crab-can itself does not hold it",
            CAP_NAMES[cap]
        )));
    }
    Ok(set & held)
}

/// The capabilities crab-can's own process may pass on (its permitted set).
pub fn held_capabilities() -> u64 {
    rustix::thread::capabilities(None).map_or(0, |c| c.permitted.bits())
}

/// The part of [`lock_down`] that may come before the command's root is ready (see
/// `init::fork_early`): no_new_privs if `p` asks for it, and `seccomp`. What
/// [`drop_bounding`] and [`switch_user`] do then goes through the filter, which allows all
/// of it; and without no_new_privs the capabilities still held let the kernel take it.
pub fn confine(p: &Privileges, seccomp: Option<&Filter>) -> std::result::Result<(), Failure> {
    if p.no_new_privs {
        rustix::thread::set_no_new_privs(true).map_err(Failure::of(Step::NoNewPrivs))?;
    }
    match seccomp {
        Some(f) => f.install().map_err(Failure::of(Step::Seccomp)),
        None => Ok(()),
    }
}

fn cap_fail(step: Step, cap: u32) -> impl FnOnce(Errno) -> Failure {
    move |errno| Failure {
        step,
        item: cap as u16,
        arg: 0,
        errno,
    }
}

/// Drop from the bounding set every capability `p` does not keep there.
pub fn drop_bounding(p: &Privileges) -> std::result::Result<(), Failure> {
    for cap in 0..64u32 {
        if p.caps.bounding & (1 << cap) == 0 {
            match rustix::thread::remove_capability_from_bounding_set(
                CapabilitySet::from_bits_retain(1 << cap),
            ) {
                Ok(()) => {}
                Err(Errno::INVAL) => break, // past the kernel's last capability
                Err(e) => return Err(cap_fail(Step::Bounding, cap)(e)),
            }
        }
    }
    Ok(())
}

/// Reduce the calling process to `p`, then load `seccomp`. The last thing before execve:
/// bounding set, groups, gid, uid, the other capability sets, ambient, no_new_privs,
/// seccomp. A failure's `item` is the capability's number where one is involved.
pub fn lock_down(p: &Privileges, seccomp: Option<&Filter>) -> std::result::Result<(), Failure> {
    drop_bounding(p)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while it is held
    // (an OCI config may ask for that; the docker-like front end never does).
    match p.no_new_privs {
        true => switch_user(p).and_then(|()| confine(p, seccomp)),
        false => confine(p, seccomp).and_then(|()| switch_user(p)),
    }
}

/// Groups, gid, uid, then the capability sets and the ambient ones of `p`.
pub fn switch_user(p: &Privileges) -> std::result::Result<(), Failure> {
    // A non-root user who keeps capabilities (an OCI config may give them) must not lose
    // them with the uid switch.
    if p.uid != 0 && p.caps.permitted != 0 {
        rustix::thread::set_keep_capabilities(true).map_err(Failure::of(Step::Capabilities))?;
    }
    // In a user namespace whose `setgroups` is `deny` (rootless with one id) the caller's
    // own supplementary groups stay, as they are outside; nothing else can be set there.
    match rustix::thread::set_thread_groups(&p.groups) {
        Err(Errno::PERM) if p.groups.is_empty() => {}
        r => r.map_err(Failure::of(Step::Groups))?,
    }
    rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(p.gid))
        .map_err(Failure::of(Step::SetGid))?;
    rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(p.uid))
        .map_err(Failure::of(Step::SetUid))?;
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::from_bits_retain(p.caps.effective),
            permitted: CapabilitySet::from_bits_retain(p.caps.permitted),
            inheritable: CapabilitySet::from_bits_retain(p.caps.inheritable),
        },
    )
    .map_err(Failure::of(Step::Capabilities))?;
    rustix::thread::clear_ambient_capability_set().map_err(Failure::of(Step::Ambient))?;
    // The kernel raises an ambient capability only when it is permitted and inheritable;
    // runc skips the others (its default config lists ambient ones without inheritable),
    // and so does crab-can.
    let ambient = p.caps.ambient & p.caps.permitted & p.caps.inheritable;
    for cap in (0..64u32).filter(|c| ambient & (1 << c) != 0) {
        rustix::thread::configure_capability_in_ambient_set(
            CapabilitySet::from_bits_retain(1 << cap),
            true,
        )
        .map_err(cap_fail(Step::Ambient, cap))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const DOCKER: u64 = 0xa80425fb;

    fn capability_set(add: &[String], drop: &[String], held: u64) -> Result<u64> {
        super::capability_set(DOCKER, add, drop, held)
    }

    #[test]
    fn drops_then_adds() {
        let all = ALL_CAPS;
        assert_eq!(
            capability_set(&s(&["NET_RAW"]), &s(&["ALL"]), all).unwrap(),
            1 << 13
        );
        assert_eq!(
            capability_set(&s(&["cap_net_admin"]), &[], all).unwrap(),
            0xa80425fb | 1 << 12
        );
        assert_eq!(
            capability_set(&[], &s(&["Chown", "CAP_KILL"]), all).unwrap(),
            0xa80425fb & !1 & !(1 << 5)
        );
        assert_eq!(capability_set(&s(&["ALL"]), &[], all).unwrap(), ALL_CAPS);
        let e = capability_set(&s(&["NET_FOO"]), &[], all).unwrap_err();
        assert!(e.msg.contains("NET_FOO") && e.msg.contains("--cap-add"));
    }

    #[test]
    fn limited_to_what_crab_can_holds() {
        let held = ALL_CAPS & !(1 << 24);
        assert_eq!(capability_set(&s(&["ALL"]), &[], held).unwrap(), held);
        let e = capability_set(&s(&["SYS_RESOURCE"]), &[], held).unwrap_err();
        assert!(e.msg.contains("CAP_SYS_RESOURCE"), "{}", e.msg);
    }
}
