//! User namespaces for callers who are not root (rootless runs): the id maps (the caller
//! alone, or with the subordinate range `/etc/subuid` and `/etc/subgid` give it, written
//! by the setuid helpers `newuidmap` and `newgidmap`), writing them for the init, and the
//! words for a distribution that blocks unprivileged user namespaces.

use crate::error::{Error, Result};
use rustix::io::Errno;
use std::ffi::CString;

/// Whether crab-can runs rootless: not as root, so in a user namespace of its own.
pub fn rootless() -> bool {
    !rustix::process::geteuid().is_root()
}

/// The maps of a user namespace: `uid_map` and `gid_map` lines as the kernel takes them.
/// `helper` holds the full paths of `newuidmap` and `newgidmap` when the maps name more
/// than the caller's own ids (only those setuid helpers may write them).
pub struct IdMaps {
    pub lines: [String; 2],
    pub helper: Option<[CString; 2]>,
}

impl IdMaps {
    /// Whether container id `id` is mapped (for `--user`).
    pub fn maps(&self, id: u32, gid: bool) -> bool {
        self.lines[gid as usize].lines().any(|l| {
            let mut f = l.split_ascii_whitespace().map(|w| w.parse::<u64>().ok());
            matches!((f.next(), f.next(), f.next()), (Some(Some(inside)), Some(_), Some(Some(n)))
                if inside <= id as u64 && (id as u64) < inside + n)
        })
    }
}

/// The docker-like front end's maps: container root is the caller; with a range for the
/// caller in both subordinate files and the helpers on PATH, container ids 1.. are that
/// range.
pub fn caller_maps() -> IdMaps {
    let own = own_ids();
    let mut lines = own.map(|id| format!("0 {id} 1\n"));
    let name = user_name(own[0]);
    let ranges = [
        sub_range("/etc/subuid", own[0], name.as_deref()),
        sub_range("/etc/subgid", own[0], name.as_deref()),
    ];
    let helper = match ranges {
        [Some(_), Some(_)] => helpers(),
        _ => None,
    };
    if helper.is_some() {
        for (l, (start, count)) in lines.iter_mut().zip(ranges.into_iter().flatten()) {
            l.push_str(&format!("1 {start} {count}\n"));
        }
    }
    IdMaps { lines, helper }
}

/// `newuidmap` and `newgidmap`, both found on PATH.
fn helpers() -> Option<[CString; 2]> {
    Some([find_on_path("newuidmap")?, find_on_path("newgidmap")?])
}

fn own_ids() -> [u32; 2] {
    [
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    ]
}

/// Maps as given (an OCI config's): written directly, unless crab-can is not root and
/// they name more than its own ids, which only `newuidmap` and `newgidmap` (found on
/// PATH) may write.
pub fn from_lines(lines: [String; 2]) -> IdMaps {
    let mut own_only = true;
    for (l, id) in lines.iter().zip(own_ids()) {
        let mut f = l.split_ascii_whitespace();
        let id = id.to_string();
        if !(f.next().is_some()
            && f.next() == Some(id.as_str())
            && f.next() == Some("1")
            && f.next().is_none())
        {
            own_only = false;
            break;
        }
    }
    let helper = match rootless() && !own_only {
        true => helpers(),
        false => None,
    };
    IdMaps { lines, helper }
}

/// The caller's login name, from the host's `/etc/passwd` (subordinate files may name
/// the user either way).
fn user_name(uid: u32) -> Option<String> {
    let text = crate::sys::read_text("/etc/passwd")?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (crate::user::parse_u32(f.nth(1)?)? == uid).then(|| name.to_string())
    })
}

/// The first `NAME:START:COUNT` line of `file` for the caller (by name or by uid), as
/// util-linux and shadow read it.
fn sub_range(file: &str, uid: u32, name: Option<&str>) -> Option<(u64, u64)> {
    let text = crate::sys::read_text(file)?;
    let uid = uid.to_string();
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let who = f.next()?;
        if who != uid && Some(who) != name {
            return None;
        }
        let start = f.next()?.parse().ok()?;
        let count: u64 = f.next()?.parse().ok()?;
        (count > 0).then_some((start, count))
    })
}

/// An executable `prog` in a directory of `$PATH` (the usual one when unset).
fn find_on_path(prog: &str) -> Option<CString> {
    let path = crate::sys::var_os("PATH")
        .and_then(|p| p.into_string().ok())
        .unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for d in path.split(':') {
        if !d.starts_with('/') {
            continue;
        }
        let Ok(full) = CString::new(format!("{d}/{prog}")) else {
            continue;
        };
        if rustix::fs::access(&*full, rustix::fs::Access::EXEC_OK).is_ok() {
            return Some(full);
        }
    }
    None
}

/// Write the init's maps (pid `pid`, still dumpable and waiting for its sync byte): through
/// the helpers, or directly, `setgroups` first set to `deny` when crab-can is not root (the
/// kernel takes an unprivileged `gid_map` only then).
pub fn write_maps(pid: i32, maps: &IdMaps, write: &dyn Fn(&str, &str) -> Result<()>) -> Result<()> {
    let Some(helpers) = &maps.helper else {
        if rootless() {
            write("setgroups", "deny")?;
        }
        write("uid_map", &maps.lines[0])?;
        return write("gid_map", &maps.lines[1]);
    };
    // Both helpers at once: each is a setuid program's start (milliseconds).
    let mut started = [0, 0];
    for (i, (prog, lines)) in helpers.iter().zip(&maps.lines).enumerate() {
        started[i] = start_helper(prog, pid, lines)?;
    }
    for (child, prog) in started.into_iter().zip(helpers) {
        let st = rustix::process::waitpid(
            rustix::process::Pid::from_raw(child),
            rustix::process::WaitOptions::empty(),
        );
        let code = match st {
            Ok(Some((_, st))) => st.exit_status().unwrap_or(-1),
            _ => -1,
        };
        if code != 0 {
            return Err(Error::msg(format_args!(
                "{} failed for the container (exit status {code})",
                prog.to_string_lossy()
            )));
        }
    }
    Ok(())
}

/// Start `newuidmap PID INSIDE OUTSIDE COUNT...` (or newgidmap); its pid.
fn start_helper(prog: &CString, pid: i32, lines: &str) -> Result<i32> {
    let mut args = vec![
        prog.clone(),
        CString::new(pid.to_string()).unwrap_or_default(),
    ];
    for w in lines.split_ascii_whitespace() {
        if let Ok(c) = CString::new(w) {
            args.push(c);
        }
    }
    let mut argv: Vec<*const libc::c_char> = Vec::new();
    for a in &args {
        argv.push(a.as_ptr());
    }
    argv.push(std::ptr::null());
    let envp = [std::ptr::null()];
    let child = crate::sys::fork()
        .map_err(|e| Error::sys_msg(format_args!("cannot run {}", prog.to_string_lossy()), e))?;
    if child == 0 {
        let e = crate::sys::execve(prog, &argv, &envp);
        crate::sys::exit(if e == Errno::NOENT { 127 } else { 126 });
    }
    Ok(child)
}

/// The one line for a clone with CLONE_NEWUSER that the kernel refused (`e`), or for the
/// maps of a user namespace it made but then would not let crab-can set up (AppArmor).
pub fn blocked(e: Errno, after_clone: bool) -> Option<Error> {
    let sysctl = |path: &str, v: &str| crate::sys::read_text(path).is_some_and(|t| t.trim() == v);
    let why = match (after_clone, e) {
        (true, Errno::PERM | Errno::ACCESS)
            if sysctl(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                "1",
            ) =>
        {
            "AppArmor restricts unprivileged user namespaces here \
             (kernel.apparmor_restrict_unprivileged_userns = 1). Run as root, or allow \
             crab-can with an AppArmor profile for its path (see README)"
        }
        (false, Errno::PERM) if sysctl("/proc/sys/kernel/unprivileged_userns_clone", "0") => {
            "this kernel forbids it for unprivileged users \
             (kernel.unprivileged_userns_clone = 0); enable it with \
             'sysctl -w kernel.unprivileged_userns_clone=1' or run as root"
        }
        (false, Errno::NOSPC) if sysctl("/proc/sys/user/max_user_namespaces", "0") => {
            "they are disabled (user.max_user_namespaces = 0); enable them with \
             'sysctl -w user.max_user_namespaces=15000' or run as root"
        }
        (false, Errno::NOSPC) => "the user namespace limit is reached (user.max_user_namespaces)",
        (false, Errno::INVAL)
            if rustix::fs::access("/proc/self/ns/user", rustix::fs::Access::EXISTS).is_err() =>
        {
            "this kernel has no user namespaces (CONFIG_USER_NS); run as root"
        }
        _ => return None,
    };
    Some(Error::msg(format_args!(
        "cannot create a user namespace: {why}"
    )))
}
