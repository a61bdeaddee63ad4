//! Control groups: the container's own cgroup, its limits (`--memory`, `--cpus`,
//! `--pids`), the OOM count, and its removal.
//!
//! Three layouts, told apart at run time by the filesystem magic of `/sys/fs/cgroup`:
//! - **v2** (`/sys/fs/cgroup` is cgroup2): `<root>/<parent>/<name>` with the controllers
//!   enabled along the path, limits written before the child exists, and the child born
//!   inside with `CLONE_INTO_CGROUP`.
//! - **hybrid** (a tmpfs of v1 hierarchies, usually with a v2 tree at `unified`, as on WSL2
//!   and older distributions): each limit through its v1 controller, the child moved in
//!   before it runs any code of its own; the v2 tree (which holds no controllers there) is
//!   used for tracking and `cgroup.kill`.
//! - **none** (no cgroupfs, or one we cannot write): without limit options crab-can runs
//!   anyway; a requested limit is an error naming what is missing.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{CWD, Mode, OFlags};
use rustix::io::Errno;

pub const ROOT: &str = "/sys/fs/cgroup";
const CGROUP2_MAGIC: i64 = 0x6367_7270;
const CGROUP1_MAGIC: i64 = 0x0027_e0eb;

/// The smallest `--memory` accepted. Measured (README): with a cold page cache a busybox
/// shell under its init is OOM-killed at 1 MiB and starts at 2 MiB; the floor doubles that.
pub const MIN_MEMORY: u64 = 4 << 20;

/// Where a container's cgroup goes when no `--cgroup-parent` is given.
pub const DEFAULT_PARENT: &str = "crab-can";

/// The period of `--cpus`' quota: 100 ms, in microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The kernel's largest `pids.max` (PID_MAX_LIMIT on 64-bit kernels).
pub const MAX_PIDS: u64 = 4 << 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory: Option<u64>,
    pub cpu_quota: Option<u64>,
    pub pids: Option<u64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.cpu_quota.is_some() || self.pids.is_some()
    }

    /// The limits asked for, each as (its controller, its option).
    fn asked(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        [
            ("memory", "--memory", self.memory.is_some()),
            ("cpu", "--cpus", self.cpu_quota.is_some()),
            ("pids", "--pids", self.pids.is_some()),
        ]
        .into_iter()
        .filter(|&(_, _, asked)| asked)
        .map(|(ctrl, opt, _)| (ctrl, opt))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    V2,
    /// v1 controllers; `unified` tells whether a v2 tree is mounted at `<root>/unified`.
    Hybrid {
        unified: bool,
    },
    None,
}

fn fs_magic(path: &str) -> Option<i64> {
    rustix::fs::statfs(path).ok().map(|s| s.f_type)
}

impl Layout {
    /// In words, for `crab-can --version`.
    pub fn words(self) -> &'static str {
        match self {
            Layout::V2 => "cgroup v2",
            Layout::Hybrid { unified: true } => "hybrid (cgroup v1 controllers and a v2 tree)",
            Layout::Hybrid { unified: false } => "cgroup v1",
            Layout::None => "no cgroup filesystem",
        }
    }
}

pub fn detect() -> Layout {
    match fs_magic(ROOT) {
        Some(CGROUP2_MAGIC) => Layout::V2,
        Some(_) if has_v1_controller() => Layout::Hybrid {
            unified: fs_magic("/sys/fs/cgroup/unified") == Some(CGROUP2_MAGIC),
        },
        _ => Layout::None,
    }
}

fn has_v1_controller() -> bool {
    ["memory", "pids", "cpu"]
        .iter()
        .any(|c| fs_magic(&format!("{ROOT}/{c}")) == Some(CGROUP1_MAGIC))
}

/// One cgroup directory that this run created.
struct Dir {
    path: String,
    fd: OwnedFd,
    /// Its inode number: what tells this directory from a later one of the same path.
    ino: u64,
}

impl Dir {
    fn write(&self, file: &str, value: &str) -> Result<()> {
        write_at(self.fd.as_fd(), file, value)
            .map_err(|e| Error::sys(format!("cannot write '{value}' to {}/{file}", self.path), e))
    }

    /// Write `value` to `file` when the kernel has that file (swap accounting is optional).
    fn write_if_present(&self, file: &str, value: &str) -> Result<()> {
        match write_at(self.fd.as_fd(), file, value) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::sys(
                format!("cannot write '{value}' to {}/{file}", self.path),
                e,
            )),
        }
    }

    fn read(&self, file: &str) -> Option<String> {
        let fd = rustix::fs::openat(
            &self.fd,
            file,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut buf = [0u8; 1024];
        let n = rustix::io::read(&fd, &mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

fn write_at(dir: BorrowedFd<'_>, file: &str, value: &str) -> std::result::Result<(), Errno> {
    let fd = rustix::fs::openat(dir, file, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(&fd, value.as_bytes()).map(drop)
}

/// The container's cgroups, in every hierarchy this run uses.
pub struct Cgroup {
    /// The v2 directory (pure v2, or the unified tree of a hybrid host).
    v2: Option<Dir>,
    /// v1 directories, one per controller a limit needs (hybrid hosts).
    v1: Vec<(&'static str, Dir)>,
    pub limits: Limits,
    pub layout: Layout,
}

/// Make `<base>/<parent>` exist (each level), then create `<base>/<parent>/<name>`. The
/// leaf must be new: a directory already there is not this run's (a dead run's recorded
/// leftovers were removed before, by `state`), so it is refused, never emptied or removed.
fn make_dir(base: &str, parent: &str, name: &str, enable: &str) -> Result<Dir> {
    let mut path = base.to_string();
    for comp in parent.split('/') {
        if !enable.is_empty() {
            enable_controllers(&path, enable)?;
        }
        path.push('/');
        path.push_str(comp);
        match rustix::fs::mkdir(path.as_str(), Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::sys(format!("cannot create cgroup {path}"), e)),
        }
    }
    if !enable.is_empty() {
        enable_controllers(&path, enable)?;
    }
    path.push('/');
    path.push_str(name);
    match rustix::fs::mkdir(path.as_str(), Mode::from_raw_mode(0o755)) {
        Ok(()) => {}
        Err(Errno::EXIST) if !is_dir(&path) => {
            return Err(Error::new(format!(
                "cannot create cgroup {path}: the name '{name}' is a control file of the cgroup filesystem there; choose another --name"
            )));
        }
        Err(Errno::EXIST) => {
            return Err(Error::new(format!(
                "cannot create cgroup {path}: it already exists and crab-can did not make it; choose another --name or --cgroup-parent"
            )));
        }
        Err(e) => return Err(Error::sys(format!("cannot create cgroup {path}"), e)),
    }
    let opened = rustix::fs::open(
        path.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(|fd| Ok((rustix::fs::fstat(&fd)?.st_ino, fd)));
    match opened {
        Ok((ino, fd)) => Ok(Dir { path, fd, ino }),
        Err(e) => {
            // Made just now and still empty: nothing of anyone else's can be in it.
            let _ = rustix::fs::rmdir(path.as_str());
            Err(Error::sys(format!("cannot open cgroup {path}"), e))
        }
    }
}

fn is_dir(path: &str) -> bool {
    rustix::fs::lstat(path).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
    })
}

/// v2: make the controllers in `enable` ("+memory +pids") available to `path`'s children.
fn enable_controllers(path: &str, enable: &str) -> Result<()> {
    let file = format!("{path}/cgroup.subtree_control");
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    let missing: Vec<&str> = enable
        .split(' ')
        .filter(|c| !current.split_whitespace().any(|h| h == &c[1..]))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_at(CWD, &file, &missing.join(" ")).map_err(|e| match e {
        Errno::BUSY => Error::new(format!(
            "cannot enable {} in {file}: the cgroup has processes of its own \
             (cgroup v2's no-internal-processes rule); choose another --cgroup-parent",
            missing.join(" ")
        )),
        Errno::NOENT => Error::new(format!(
            "cannot enable {} in {file}: the controller is not available there (cgroup.controllers of {path} lacks it)",
            missing.join(" ")
        )),
        e => Error::sys(format!("cannot enable {} in {file}", missing.join(" ")), e),
    })
}

/// Remove a cgroup, killing whatever is still in it first. Best effort. Usually the
/// container's PID namespace is already gone (so is everything in it) and the first
/// rmdir succeeds; EBUSY means processes are left: cgroup.kill (v2) or SIGKILL each (v1).
fn remove_dir(path: &str) {
    for i in 0..200 {
        match rustix::fs::rmdir(path) {
            Ok(()) | Err(Errno::NOENT) => return,
            Err(Errno::BUSY) => {
                if i == 0 {
                    let _ = write_at(CWD, &format!("{path}/cgroup.kill"), "1");
                    kill_v1_procs(path);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(_) => return,
        }
    }
}

/// v1 has no cgroup.kill: SIGKILL each listed process.
fn kill_v1_procs(path: &str) {
    if let Ok(s) = std::fs::read_to_string(format!("{path}/cgroup.procs")) {
        for pid in s.lines().filter_map(|l| l.parse::<i32>().ok()) {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
}

pub fn mib(v: u64) -> String {
    if v % (1 << 20) == 0 {
        format!("{} MiB", v >> 20)
    } else if v % 1024 == 0 {
        format!("{} KiB", v >> 10)
    } else {
        format!("{v} bytes")
    }
}

/// Which hierarchy a cgroup directory of the container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The v2 tree: all of a v2 host, or the controller-less tracking tree of a hybrid one.
    V2,
    /// A v1 hierarchy of one controller (hybrid hosts).
    V1(&'static str),
}

/// Where the container's cgroup directories go, decided before any is created, so that a
/// run can record them first (`state`) and a crab-can killed at any moment leaves nothing
/// that the next run cannot find.
pub struct Placement {
    layout: Layout,
    parent: String,
    name: String,
    limits: Limits,
    /// Each directory's hierarchy (its base directory) and role.
    dirs: Vec<(String, Role)>,
}

impl Placement {
    /// The directories for container `name` under `parent` with `limits`. With no limit
    /// (an explicit `--cgroup-parent`), there must still be a hierarchy to make it in.
    pub fn new(name: &str, parent: &str, limits: Limits) -> Result<Placement> {
        let layout = detect();
        let mut dirs = Vec::new();
        match layout {
            Layout::V2 => dirs.push((ROOT.to_string(), Role::V2)),
            Layout::Hybrid { unified } => {
                if unified {
                    dirs.push((format!("{ROOT}/unified"), Role::V2));
                }
                for (ctrl, _) in limits.asked() {
                    let base = format!("{ROOT}/{ctrl}");
                    if fs_magic(&base) != Some(CGROUP1_MAGIC) {
                        return Err(Error::new(format!(
                            "cannot apply {}: the {ctrl} controller is not mounted at {base}",
                            limits_words(limits)
                        )));
                    }
                    dirs.push((base, Role::V1(ctrl)));
                }
                if dirs.is_empty() {
                    return Err(Error::new(format!(
                        "cannot create a cgroup under --cgroup-parent '{parent}': this host has cgroup v1 hierarchies but no v2 tree at {ROOT}/unified, and no limit was asked for"
                    )));
                }
            }
            Layout::None if limits.any() => {
                return Err(Error::new(format!(
                    "cannot apply {}: no cgroup filesystem is mounted at {ROOT} (mount cgroup2 there: mount -t cgroup2 none {ROOT})",
                    limits_words(limits)
                )));
            }
            Layout::None => {
                return Err(Error::new(format!(
                    "cannot create a cgroup under --cgroup-parent '{parent}': no cgroup filesystem is mounted at {ROOT}"
                )));
            }
        }
        Ok(Placement {
            layout,
            parent: parent.to_string(),
            name: name.to_string(),
            limits,
            dirs,
        })
    }

    /// Every directory this placement will create, in order.
    pub fn paths(&self) -> impl Iterator<Item = String> + '_ {
        self.dirs
            .iter()
            .map(|(base, _)| format!("{base}/{}/{}", self.parent, self.name))
    }
}

impl Cgroup {
    /// Create the container's cgroup directories with their limits, before the container
    /// exists. On a failure, whatever was made is removed (when the `Cgroup` drops).
    pub fn create(p: &Placement) -> Result<Cgroup> {
        let mut cg = Cgroup {
            v2: None,
            v1: Vec::new(),
            limits: p.limits,
            layout: p.layout,
        };
        for (base, role) in &p.dirs {
            match role {
                Role::V2 => {
                    // Controllers are enabled along the path on a v2 host only: the tree of
                    // a hybrid host has none.
                    let enable = if p.layout == Layout::V2 {
                        v2_controllers(p.limits)
                    } else {
                        String::new()
                    };
                    cg.v2 = Some(make_dir(base, &p.parent, &p.name, &enable)?);
                }
                Role::V1(ctrl) => cg.v1.push((ctrl, make_dir(base, &p.parent, &p.name, "")?)),
            }
        }
        cg.write_limits()?;
        Ok(cg)
    }

    fn write_limits(&self) -> Result<()> {
        let l = self.limits;
        let period = CPU_PERIOD_US.to_string();
        if self.layout == Layout::V2 {
            let Some(d) = &self.v2 else {
                return Ok(());
            };
            if let Some(m) = l.memory {
                d.write("memory.max", &m.to_string())?;
                d.write_if_present("memory.swap.max", "0")?;
            }
            if let Some(q) = l.cpu_quota {
                d.write("cpu.max", &format!("{q} {period}"))?;
            }
            if let Some(p) = l.pids {
                d.write("pids.max", &p.to_string())?;
            }
            return Ok(());
        }
        for (ctrl, d) in &self.v1 {
            match *ctrl {
                "memory" => {
                    let m = l.memory.unwrap_or_default().to_string();
                    d.write("memory.limit_in_bytes", &m)?;
                    // With swap accounting, memory+swap at the same value: no swap beyond it.
                    d.write_if_present("memory.memsw.limit_in_bytes", &m)?;
                }
                "cpu" => {
                    d.write("cpu.cfs_period_us", &period)?;
                    d.write(
                        "cpu.cfs_quota_us",
                        &l.cpu_quota.unwrap_or_default().to_string(),
                    )?;
                }
                _ => d.write("pids.max", &l.pids.unwrap_or_default().to_string())?,
            }
        }
        Ok(())
    }

    /// The directory fd for `clone3(CLONE_INTO_CGROUP)`.
    pub fn clone_fd(&self) -> Option<BorrowedFd<'_>> {
        self.v2.as_ref().map(|d| d.fd.as_fd())
    }

    /// Every directory of this container with its inode number, for the state file.
    pub fn dirs(&self) -> impl Iterator<Item = (&str, u64)> {
        self.v2
            .iter()
            .chain(self.v1.iter().map(|(_, d)| d))
            .map(|d| (d.path.as_str(), d.ino))
    }

    /// Move the (still waiting) child into the hierarchies it was not born in.
    pub fn join(&self, pid: i32, born_in_v2: bool) -> Result<()> {
        let pid = pid.to_string();
        if !born_in_v2 {
            if let Some(d) = &self.v2 {
                d.write("cgroup.procs", &pid)?;
            }
        }
        for (_, d) in &self.v1 {
            d.write("cgroup.procs", &pid)?;
        }
        Ok(())
    }

    /// How many processes the kernel's OOM killer ended in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let (dir, file) = match (
            &self.layout,
            &self.v2,
            self.v1.iter().find(|(c, _)| *c == "memory"),
        ) {
            (Layout::V2, Some(d), _) => (d, "memory.events"),
            (_, _, Some((_, d))) => (d, "memory.oom_control"),
            _ => return 0,
        };
        dir.read(file)
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|v| v.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }

    /// What the OOM killer did, in words: an error (exit 137) when it ended the
    /// container, a warning when it killed a process but the command survived.
    pub fn report_oom(&self, name: &str, status: u8) -> Result<()> {
        let kills = self.oom_kills();
        if kills == 0 {
            return Ok(());
        }
        let limit = self.limits.memory.map(mib).unwrap_or_default();
        if status == 128 + libc::SIGKILL as u8 {
            return Err(Error {
                code: status,
                msg: format!(
                    "container {name} was killed by the OOM killer (memory limit {limit})"
                ),
                errno: None,
            });
        }
        crate::error::warn(&format!(
            "the OOM killer ended {kills} process{} in container {name} (memory limit {limit})",
            if kills == 1 { "" } else { "es" }
        ));
        Ok(())
    }
}

impl Drop for Cgroup {
    /// Kill whatever is left and remove every directory of this container.
    fn drop(&mut self) {
        if let Some(d) = &self.v2 {
            remove_dir(&d.path);
        }
        for (_, d) in &self.v1 {
            remove_dir(&d.path);
        }
    }
}

/// Remove a cgroup directory that a dead run of crab-can recorded. With its inode number
/// (recorded once it was made), only that very directory is emptied (its processes killed)
/// and removed; without one (the run died between recording and making it, so nothing
/// ever ran in it) it is only `rmdir`ed, which the kernel refuses for a cgroup in use.
pub fn remove_leftover(path: &str, ino: Option<u64>) {
    let inside = path
        .strip_prefix(ROOT)
        .is_some_and(|rest| rest.starts_with('/') && !rest.split('/').any(|c| c == ".."));
    if !inside {
        return;
    }
    match ino {
        Some(ino) => {
            if rustix::fs::lstat(path).is_ok_and(|st| {
                st.st_ino == ino
                    && rustix::fs::FileType::from_raw_mode(st.st_mode)
                        == rustix::fs::FileType::Directory
            }) {
                remove_dir(path);
            }
        }
        None => {
            let _ = rustix::fs::rmdir(path);
        }
    }
}

/// Online CPUs, from the kernel's own list (`0-3,6`): the bound of `--cpus`.
pub fn online_cpus() -> u64 {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut n: u64 = 0;
    for range in s.trim().split(',').filter(|r| !r.is_empty()) {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
            n += b.saturating_sub(a) + 1;
        }
    }
    if n == 0 {
        // Without sysfs: as many as this process may run on.
        n = rustix::thread::sched_getaffinity(None).map_or(1, |s| u64::from(s.count()));
    }
    n.max(1)
}

/// The v2 controllers `limits` need, as written to `cgroup.subtree_control`.
fn v2_controllers(limits: Limits) -> String {
    let c: Vec<String> = limits.asked().map(|(ctrl, _)| format!("+{ctrl}")).collect();
    c.join(" ")
}

/// The options of the limits asked for, for messages ("--memory, --pids").
fn limits_words(l: Limits) -> String {
    l.asked().map(|(_, opt)| opt).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_words() {
        assert_eq!(mib(32 << 20), "32 MiB");
        assert_eq!(mib(1536 << 10), "1536 KiB");
        assert_eq!(mib(1000), "1000 bytes");
    }
}
