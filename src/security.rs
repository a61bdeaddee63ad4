//! What the command may do: capabilities (Docker's default 14, `--cap-add`/`--cap-drop`),
//! the user and groups it runs as, `no_new_privs`, and the seccomp filter, applied in that
//! order by the command's process just before `execve`.

use crate::error::{Error, Failure, Result, Step};
use crate::plan::Plan;
use rustix::io::Errno;
use rustix::thread::{CapabilitySet, CapabilitySets};

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

/// Docker's default set for root inside.
pub const DEFAULT_CAPS: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
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
        .ok_or_else(|| Error::new(format!("invalid {opt} '{name}': unknown capability")))
}

/// The default set, with every drop applied first and then every add, limited to what
/// crab-can itself holds (`held`): `ALL` means all of those; a named capability crab-can
/// lacks (inside another container, say) is an error that names it.
pub fn capability_set(add: &[String], drop: &[String], held: u64) -> Result<u64> {
    let set = requested_set(add, drop)?;
    let all_added = add.iter().any(|a| a.eq_ignore_ascii_case("ALL"));
    let missing = set & !held & if all_added { 0 } else { ALL_CAPS };
    if let Some(cap) = (0..CAP_NAMES.len()).find(|c| missing & (1 << c) != 0) {
        return Err(Error::new(format!(
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

fn requested_set(add: &[String], drop: &[String]) -> Result<u64> {
    let mut set = 0;
    for n in DEFAULT_CAPS {
        set |= parse_cap(n, "")?;
    }
    for d in drop {
        set &= !parse_cap(d, "--cap-drop")?;
    }
    for a in add {
        set |= parse_cap(a, "--cap-add")?;
    }
    Ok(set)
}

fn fail(step: Step) -> impl FnOnce(Errno) -> Failure {
    move |errno| Failure {
        step,
        arg: 0,
        errno,
    }
}

/// Reduce the calling process to what the plan allows. The last thing before execve:
/// bounding set, groups, gid, uid, the other capability sets, no_new_privs, seccomp.
pub fn lock_down(plan: &Plan) -> std::result::Result<(), Failure> {
    for cap in 0..64u32 {
        if plan.caps & (1 << cap) == 0 {
            match crate::sys::capbset_drop(cap) {
                Ok(()) => {}
                Err(Errno::INVAL) => break, // past the kernel's last capability
                Err(e) => return Err(fail(Step::Capabilities)(e)),
            }
        }
    }
    rustix::thread::set_thread_groups(&[]).map_err(fail(Step::Groups))?;
    // SAFETY (of from_raw): any u32 is a valid id to hand to the kernel.
    rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(plan.gid))
        .map_err(fail(Step::SetGid))?;
    rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(plan.uid))
        .map_err(fail(Step::SetUid))?;
    let kept = if plan.uid == 0 { plan.caps } else { 0 };
    let set = CapabilitySet::from_bits_retain(kept);
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: set,
            permitted: set,
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(fail(Step::Capabilities))?;
    crate::sys::clear_ambient_caps().map_err(fail(Step::Capabilities))?;
    rustix::thread::set_no_new_privs(true).map_err(fail(Step::NoNewPrivs))?;
    if let Some(f) = &plan.seccomp {
        f.install().map_err(fail(Step::Seccomp))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_set_is_dockers() {
        // Docker's default: 0xa80425fb.
        assert_eq!(capability_set(&[], &[], ALL_CAPS).unwrap(), 0xa80425fb);
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
