//! Control groups: the container's own cgroup, its limits (the docker-like `--memory`,
//! `--cpus`, `--pids`; OCI's `linux.resources`), the OOM count, and its removal; and for the
//! OCI commands run after `create` (`kill --all`, `ps`, `state`, `pause`, `delete`), what is
//! done to a container's cgroups knowing only their recorded paths and inode numbers.
//!
//! Three layouts, told apart at run time by the filesystem magic of `/sys/fs/cgroup`:
//! - **v2** (`/sys/fs/cgroup` is cgroup2): `<root>/<parent>/<name>` with the controllers
//!   enabled along the path, limits written before the child exists, and the child born
//!   inside with `CLONE_INTO_CGROUP`.
//! - **hybrid** (a tmpfs of v1 hierarchies, usually with a v2 tree at `unified`, as on WSL2
//!   and older distributions): each limit through its v1 controller, the child moved in
//!   before it runs any code of its own; the v2 tree (which holds no controllers there) is
//!   used for tracking and `cgroup.kill`. The docker-like mode uses the hierarchies its
//!   limits need; an OCI container goes in every mounted v1 hierarchy, as with runc (its
//!   callers read `/proc/PID/cgroup` for statistics and OOM events).
//! - **none** (no cgroupfs, or one we cannot write): without limit options crab-can runs
//!   anyway; a requested limit is an error naming what is missing.
//!
//! Every directory is reached from the fd of the one above it (`openat`), never by its
//! path a second time; a recorded directory is acted on only when its inode number is the
//! recorded one.

use crate::devices;
use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

pub const ROOT: &str = "/sys/fs/cgroup";
const CGROUP2_MAGIC: i64 = 0x6367_7270;
const CGROUP1_MAGIC: i64 = 0x0027_e0eb;

/// The smallest `--memory` accepted. Measured (README): with a cold page cache a busybox
/// shell under its init is OOM-killed at 1 MiB and starts at 2 MiB; the floor doubles that.
pub const MIN_MEMORY: u64 = 4 << 20;

/// Where a container's cgroup goes when no `--cgroup-parent` is given.
pub const DEFAULT_PARENT: &str = "crab-can";

/// The period of `--cpus`' quota (and of an OCI quota without a period): 100 ms, in
/// microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The kernel's largest `pids.max` (PID_MAX_LIMIT on 64-bit kernels).
pub const MAX_PIDS: u64 = 4 << 20;

/// How deep below a container's directory its own sub-cgroups are followed.
const MAX_DEPTH: usize = 32;

/// A limit: a number, or none at all (the kernel's `max`, OCI's -1).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Amount {
    Max,
    Of(u64),
}

impl Amount {
    /// As cgroup v2 (and v1's `pids.max`) write it.
    fn v2(self) -> String {
        match self {
            Amount::Max => "max".to_string(),
            Amount::Of(n) => n.to_string(),
        }
    }

    /// As cgroup v1's byte and quota files write it.
    fn v1(self) -> String {
        match self {
            Amount::Max => "-1".to_string(),
            Amount::Of(n) => n.to_string(),
        }
    }
}

/// An I/O throttle of one block device (OCI `linux.resources.blockIO.throttle*Device`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Throttle {
    /// Which limit: an index into [`THROTTLE_V1`] and [`THROTTLE_V2`] (read bytes, write
    /// bytes, read operations, write operations per second).
    pub which: u8,
    pub major: u32,
    pub minor: u32,
    /// 0: no limit.
    pub rate: u64,
}

pub const THROTTLE_V1: [&str; 4] = [
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
];
pub const THROTTLE_V2: [&str; 4] = ["rbps", "wbps", "riops", "wiops"];

/// What the container's cgroup limits. `None` (and an empty list) leaves the kernel's
/// default, which for a new cgroup is no limit.
#[derive(Clone)]
#[cfg_attr(test, derive(Debug, PartialEq, Eq))]
pub struct Limits {
    /// `memory.max`; v1 `memory.limit_in_bytes`.
    pub memory: Option<Amount>,
    /// `memory.low`; v1 `memory.soft_limit_in_bytes`.
    pub memory_low: Option<Amount>,
    /// Memory and swap together, as OCI counts it: v2 `memory.swap.max` is this less
    /// `memory`; v1 `memory.memsw.limit_in_bytes`.
    pub memory_swap: Option<Amount>,
    /// v1 `memory.swappiness` (0-100).
    pub swappiness: Option<u64>,
    /// v1 `memory.oom_control`: processes wait for memory instead of being OOM-killed.
    pub oom_kill_disable: bool,
    /// v1 `cpu.shares`; v2 `cpu.weight` through [`cpu_weight`].
    pub cpu_shares: Option<u64>,
    /// `cpu.max`'s quota in microseconds per period; v1 `cpu.cfs_quota_us`.
    pub cpu_quota: Option<Amount>,
    /// `cpu.max`'s period; v1 `cpu.cfs_period_us`.
    pub cpu_period: Option<u64>,
    /// `cpu.max.burst`; v1 `cpu.cfs_burst_us`.
    pub cpu_burst: Option<u64>,
    /// `cpu.idle` (1: the cgroup runs at the lowest priority).
    pub cpu_idle: Option<i64>,
    /// `cpuset.cpus`, `cpuset.mems` (the kernel's list format, `0-3,6`).
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// `pids.max`.
    pub pids: Option<Amount>,
    /// Huge page size as the kernel names it (`2MB`, `1GB`) and its limit in bytes:
    /// `hugetlb.<size>.max`; v1 `hugetlb.<size>.limit_in_bytes`.
    pub hugepages: Vec<(String, u64)>,
    /// `io.max`; v1 `blkio.throttle.*`.
    pub throttles: Vec<Throttle>,
    /// cgroup v2 files written as given (OCI `linux.resources.unified`), in order.
    pub unified: Vec<(String, String)>,
    /// The device rules, with the defaults: applied when the cgroup is made, before any
    /// process is in it (v1 `devices.allow`/`devices.deny`, v2 an eBPF program).
    pub devices: Option<Vec<devices::Rule>>,
}

impl Default for Limits {
    /// No limits. Out of line: a struct this size is written field by field, and every
    /// front end starts from it.
    #[inline(never)]
    fn default() -> Limits {
        Limits {
            memory: None,
            memory_low: None,
            memory_swap: None,
            swappiness: None,
            oom_kill_disable: false,
            cpu_shares: None,
            cpu_quota: None,
            cpu_period: None,
            cpu_burst: None,
            cpu_idle: None,
            cpus: None,
            mems: None,
            pids: None,
            hugepages: Vec::new(),
            throttles: Vec::new(),
            unified: Vec::new(),
            devices: None,
        }
    }
}

impl Limits {
    /// The docker-like limits: `--memory` (and no swap beyond it where the kernel counts
    /// swap), `--cpus` as a quota of [`CPU_PERIOD_US`], `--pids`.
    pub fn docker(memory: Option<u64>, cpu_quota: Option<u64>, pids: Option<u64>) -> Limits {
        Limits {
            memory: memory.map(Amount::Of),
            memory_swap: memory.map(Amount::Of),
            cpu_quota: cpu_quota.map(Amount::Of),
            cpu_period: cpu_quota.map(|_| CPU_PERIOD_US),
            pids: pids.map(Amount::Of),
            ..Limits::default()
        }
    }

    /// The docker-like limits in words, for `ps` (`-` when none).
    pub fn docker_words(&self) -> String {
        use std::fmt::Write;
        let mut w = String::new();
        if let Some(Amount::Of(m)) = self.memory {
            let (n, unit) = match m {
                _ if m % (1 << 20) == 0 => (m >> 20, "MiB"),
                _ if m % 1024 == 0 => (m >> 10, "KiB"),
                _ => (m, "B"),
            };
            let _ = write!(w, " memory={n}{unit}");
        }
        if let (Some(Amount::Of(q)), Some(p)) = (self.cpu_quota, self.cpu_period) {
            let _ = write!(w, " cpus={}.{:02}", q / p, q % p * 100 / p);
        }
        if let Some(Amount::Of(n)) = self.pids {
            let _ = write!(w, " pids={n}");
        }
        match w.is_empty() {
            true => "-".into(),
            false => w.split_off(1),
        }
    }

    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_low.is_some()
            || self.memory_swap.is_some()
            || self.swappiness.is_some()
            || self.oom_kill_disable
            || self.cpu_shares.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_period.is_some()
            || self.cpu_burst.is_some()
            || self.cpu_idle.is_some()
            || self.cpus.is_some()
            || self.mems.is_some()
            || self.pids.is_some()
            || !self.hugepages.is_empty()
            || !self.throttles.is_empty()
            || !self.unified.is_empty()
            || self.devices.is_some()
    }

    /// The controllers these limits write to, each with the setting that needs it (for
    /// messages). `v2`: cgroup v2's names (`io`; devices need no controller there).
    fn needs(&self, v2: bool) -> Vec<(&'static str, &'static str)> {
        let mut n = Vec::new();
        let mut need = |on: bool, ctrl, what| {
            if on {
                n.push((ctrl, what));
            }
        };
        need(
            self.memory.is_some()
                || self.memory_low.is_some()
                || self.memory_swap.is_some()
                || self.swappiness.is_some()
                || self.oom_kill_disable,
            "memory",
            "linux.resources.memory",
        );
        need(
            self.cpu_shares.is_some()
                || self.cpu_quota.is_some()
                || self.cpu_period.is_some()
                || self.cpu_burst.is_some()
                || self.cpu_idle.is_some(),
            "cpu",
            "linux.resources.cpu",
        );
        need(
            self.cpus.is_some() || self.mems.is_some(),
            "cpuset",
            "linux.resources.cpu.cpus",
        );
        need(self.pids.is_some(), "pids", "linux.resources.pids");
        need(
            !self.hugepages.is_empty(),
            "hugetlb",
            "linux.resources.hugepageLimits",
        );
        need(
            !self.throttles.is_empty(),
            if v2 { "io" } else { "blkio" },
            "linux.resources.blockIO",
        );
        need(
            !v2 && self.devices.is_some(),
            "devices",
            "linux.resources.devices",
        );
        n
    }

    /// The docker-like limits asked for, each as (its controller, its option).
    fn docker_asked(&self) -> Vec<(&'static str, &'static str)> {
        const ASKED: [(&str, &str); 3] = [
            ("memory", "--memory"),
            ("cpu", "--cpus"),
            ("pids", "--pids"),
        ];
        let on = [
            self.memory.is_some(),
            self.cpu_quota.is_some(),
            self.pids.is_some(),
        ];
        let mut n = Vec::new();
        for (&a, on) in ASKED.iter().zip(on) {
            if on {
                n.push(a);
            }
        }
        n
    }

    /// What cannot be done on a layout, found before anything is made (or changed).
    fn check_layout(&self, v2: bool) -> Result<()> {
        let refuse = |what: &str, needs: &str| {
            Err(Error::msg(format_args!(
                "linux.resources.{what} is not supported on {needs}"
            )))
        };
        if v2 {
            if self.swappiness.is_some() {
                return refuse("memory.swappiness", "cgroup v2");
            }
            if self.oom_kill_disable {
                return refuse("memory.disableOOMKiller", "cgroup v2");
            }
        } else if let Some((k, _)) = self.unified.first() {
            return Err(Error::msg(format_args!(
                "linux.resources.unified[\"{k}\"]: unified (cgroup v2) settings need a cgroup v2 host; this one has cgroup v1 controllers"
            )));
        }
        swap_v2(self.memory, self.memory_swap).map(drop)
    }
}

/// runc's conversion of cgroup v1 `cpu.shares` (2..262144, default 1024) to cgroup v2
/// `cpu.weight` (1..10000, default 100): the quadratic in log2(shares) through those three
/// points, `10^((l² + 125 l) / 612 − 7/34)` rounded up. 0 stays 0 (unset).
///
/// Computed with two short series rather than libm's `log2` and `pow` (12 KB of code and
/// tables): their error (below 1e-14) is far smaller than the distance of any result to
/// the next integer, which the tests check for every value against libm, except where
/// the result is an integer itself (1024 → 100), which is recognised as one.
pub fn cpu_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        s => {
            let l = log2(s);
            let w = exp10((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0);
            // Rounded up; a result just above an integer is that integer.
            let below = w as u64;
            if w - (below as f64) < 1e-12 * w {
                below
            } else {
                below + 1
            }
        }
    }
}

/// log2 of an integer above 0: its highest bit, and ln of the rest (in [1, 2)) as
/// 2·atanh((m−1)/(m+1)), a series in t² ≤ 1/9.
fn log2(s: u64) -> f64 {
    let k = 63 - s.leading_zeros();
    let m = s as f64 / (1u64 << k) as f64;
    let t = (m - 1.0) / (m + 1.0);
    let (mut term, mut sum) = (t, 0.0);
    for n in 0..24 {
        sum += term / f64::from(2 * n + 1);
        term *= t * t;
    }
    f64::from(k) + 2.0 * sum / core::f64::consts::LN_2
}

/// 10^e for 0 ≤ e ≤ 4: 2^n · exp(r) with |r| ≤ ln2/2, exp(r) by its Taylor series.
fn exp10(e: f64) -> f64 {
    use core::f64::consts::{LN_2, LN_10};
    let x = e.max(0.0) * LN_10;
    let n = (x / LN_2 + 0.5) as u32;
    let r = x - f64::from(n) * LN_2;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..24 {
        term *= r / f64::from(k);
        sum += term;
    }
    sum * (1u64 << n.min(63)) as f64
}

/// v2 `memory.swap.max` for OCI's memory+swap `swap` and memory `limit` (runc's rules):
/// no limit stays none; with unlimited memory the total is the swap; otherwise the swap is
/// the total less the memory. `None`: nothing to write.
pub fn swap_v2(memory: Option<Amount>, swap: Option<Amount>) -> Result<Option<Amount>> {
    match (memory, swap) {
        (Some(Amount::Max), None) => Ok(Some(Amount::Max)),
        (_, None) => Ok(None),
        (_, Some(Amount::Max)) | (Some(Amount::Max), _) => Ok(swap),
        (None, Some(_)) => Err(Error::new(
            "linux.resources.memory.swap: a swap limit needs a memory limit (linux.resources.memory.limit)",
        )),
        (Some(Amount::Of(m)), Some(Amount::Of(s))) if s < m => Err(Error::msg(format_args!(
            "linux.resources.memory.swap: {s} is below the memory limit ({m}); swap is the limit of memory and swap together"
        ))),
        (Some(Amount::Of(m)), Some(Amount::Of(s))) => Ok(Some(Amount::Of(s - m))),
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

/// `ROOT/name`.
#[inline(never)]
fn under_root(name: &str) -> String {
    format!("{ROOT}/{name}")
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

/// The suffix of crab-can's own leaf next to a rootless container's cgroup: `@` is not in
/// a container name, so no container's cgroup is ever named so.
const SUPERVISOR: &str = "@supervisor";

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
        .any(|c| fs_magic(&under_root(c)) == Some(CGROUP1_MAGIC))
}

/// The v1 hierarchies mounted under [`ROOT`], by directory name (`memory`, `cpu,cpuacct`,
/// `systemd`): the directories that are cgroup v1 mounts, not the symbolic links to them.
fn v1_hierarchies() -> Vec<String> {
    let mut out = Vec::new();
    let Ok(root) = rustix::fs::openat(
        rustix::fs::CWD,
        ROOT,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return out;
    };
    let Ok(mut entries) = rustix::fs::Dir::read_from(&root) else {
        return out;
    };
    while let Some(Ok(e)) = entries.next() {
        let Ok(name) = e.file_name().to_str() else {
            continue;
        };
        if name.starts_with('.') || e.file_type() != rustix::fs::FileType::Directory {
            continue;
        }
        if fs_magic(&under_root(name)) == Some(CGROUP1_MAGIC) {
            insert_sorted(&mut out, name.to_string());
        }
    }
    out
}

/// `s` put in its place in the sorted `list`: the names of a directory, sorted as they
/// are read (a sort would link 2 KB of sort code).
pub fn insert_sorted(list: &mut Vec<String>, s: String) {
    let i = list.binary_search(&s).unwrap_or_else(|i| i);
    list.insert(i, s);
}

/// Does v1 hierarchy `h` (a directory name such as `cpu,cpuacct`) hold controller `c`?
fn holds(h: &str, c: &str) -> bool {
    h.split(',').any(|x| x == c)
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
        write_at(self.fd.as_fd(), file, value).map_err(|e| {
            Error::sys_msg(
                format_args!("cannot write '{value}' to {}/{file}", self.path),
                e,
            )
        })
    }

    /// Write `value` to `file` when the kernel has that file.
    fn write_if_present(&self, file: &str, value: &str) -> Result<bool> {
        match write_at(self.fd.as_fd(), file, value) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(Error::sys_msg(
                format_args!("cannot write '{value}' to {}/{file}", self.path),
                e,
            )),
        }
    }

    /// Write the amount `a` as `form` ([`Amount::v1`] or [`Amount::v2`]) gives it.
    #[inline(never)]
    fn write_amount(&self, file: &str, a: Amount, form: fn(Amount) -> String) -> Result<()> {
        self.write(file, &form(a))
    }

    /// Write the number `n` to `file`.
    #[inline(never)]
    fn write_u64(&self, file: &str, n: u64) -> Result<()> {
        self.write(file, &n.to_string())
    }

    fn read(&self, file: &str) -> Option<String> {
        read_at(self.fd.as_fd(), file)
    }
}

fn write_at(dir: BorrowedFd<'_>, file: &str, value: &str) -> std::result::Result<(), Errno> {
    let fd = rustix::fs::openat(
        dir,
        file,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    rustix::io::write(&fd, value.as_bytes()).map(drop)
}

/// A control file's text (up to 1 MiB: `cgroup.procs` of a busy cgroup is long).
fn read_at(dir: BorrowedFd<'_>, file: &str) -> Option<String> {
    let fd = rustix::fs::openat(
        dir,
        file,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < 1 << 20 {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    String::from_utf8(out).ok()
}

fn open_dir_at(dir: BorrowedFd<'_>, name: &str) -> std::result::Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
}

/// Which front end made the cgroup: for what its messages tell the user to change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Front {
    Docker,
    Oci,
}

impl Front {
    fn name_hint(self) -> &'static str {
        match self {
            Front::Docker => "choose another --name",
            Front::Oci => "choose another linux.cgroupsPath",
        }
    }

    fn exists_hint(self) -> &'static str {
        match self {
            Front::Docker => "choose another --name or --cgroup-parent",
            Front::Oci => "choose another linux.cgroupsPath",
        }
    }

    fn parent_hint(self) -> &'static str {
        match self {
            Front::Docker => "choose another --cgroup-parent",
            Front::Oci => "choose another linux.cgroupsPath",
        }
    }
}

/// Which hierarchy a cgroup directory of the container is in.
enum Role {
    /// The v2 tree: all of a v2 host, or the controller-less tracking tree of a hybrid one.
    V2,
    /// A v1 hierarchy, by its directory name (`memory`, `cpu,cpuacct`, `systemd`).
    V1(String),
}

/// One directory to make: `<base>/<parent>/<name>`.
struct Target {
    /// The hierarchy's mount point.
    base: String,
    /// The path of the directory's parent inside the hierarchy, without leading or trailing
    /// `/`; empty for the hierarchy's root.
    parent: String,
    role: Role,
}

impl Target {
    fn path(&self, name: &str) -> String {
        if self.parent.is_empty() {
            format!("{}/{name}", self.base)
        } else {
            format!("{}/{}/{name}", self.base, self.parent)
        }
    }
}

/// Where the container's cgroup directories go, decided before any is created, so that a
/// run can record them first (`state`) and a crab-can killed at any moment leaves nothing
/// that the next run cannot find.
pub struct Placement {
    layout: Layout,
    front: Front,
    name: String,
    dirs: Vec<Target>,
    /// v2 hosts: the controllers the limits need, enabled in each parent or an error.
    strict: Vec<&'static str>,
    /// v2 hosts, OCI: every controller of the root, enabled along the path where the
    /// kernel lets it (as runc does: the callers read the statistics of all of them).
    all_controllers: Vec<String>,
    /// Rootless: the parent is crab-can's own delegated cgroup, which crab-can leaves for
    /// a leaf of its own while the container runs (see [`Supervisor`]).
    delegated: bool,
}

impl Placement {
    /// The docker-like directories for container `name` under `parent` with `limits`: the
    /// v2 tree, and on a hybrid host the v1 hierarchies of the limits asked for. With no
    /// limit (an explicit `--cgroup-parent`), there must still be a hierarchy to make it in.
    ///
    /// Rootless (not root), on cgroup v2 only: `PATH/crab-can-NAME` in crab-can's own cgroup
    /// PATH (`0::/PATH` of `/proc/self/cgroup`), which [`Supervisor::enter`] finds delegated
    /// before it makes anything (`parent` is the default then: the front end refuses
    /// `--cgroup-parent`).
    pub fn new(name: &str, parent: &str, limits: &Limits) -> Result<Placement> {
        let layout = detect();
        let delegated = crate::userns::rootless();
        let own;
        let (parent, name) = match (delegated, layout) {
            (false, _) => (parent, name.to_string()),
            (true, Layout::Hybrid { .. }) => {
                return Err(Error::new(
                    "--memory/--cpus/--pids need cgroup v2 delegation when not root; this host \
                     uses cgroup v1 (hybrid): run as root, or boot with \
                     systemd.unified_cgroup_hierarchy=1",
                ));
            }
            (true, _) => {
                own = crate::sys::read_text("/proc/self/cgroup").unwrap_or_default();
                let path = own.lines().find_map(|l| l.strip_prefix("0::/"));
                (path.unwrap_or_default(), format!("crab-can-{name}"))
            }
        };
        let mut dirs = Vec::new();
        let target = |base: String, role| Target {
            base,
            parent: parent.to_string(),
            role,
        };
        let asked = limits.docker_asked();
        let words = || {
            let mut w = String::new();
            for (i, a) in asked.iter().enumerate() {
                if i > 0 {
                    w.push_str(", ");
                }
                w.push_str(a.1);
            }
            w
        };
        match layout {
            Layout::V2 => dirs.push(target(ROOT.to_string(), Role::V2)),
            Layout::Hybrid { unified } => {
                if unified {
                    dirs.push(target(under_root("unified"), Role::V2));
                }
                for &(ctrl, _) in &asked {
                    let base = under_root(ctrl);
                    if fs_magic(&base) != Some(CGROUP1_MAGIC) {
                        return Err(Error::msg(format_args!(
                            "cannot apply {}: the {ctrl} controller is not mounted at {base}",
                            words()
                        )));
                    }
                    dirs.push(target(base, Role::V1(ctrl.to_string())));
                }
                if dirs.is_empty() {
                    return Err(Error::msg(format_args!(
                        "cannot create a cgroup under --cgroup-parent '{parent}': this host has cgroup v1 hierarchies but no v2 tree at {ROOT}/unified, and no limit was asked for"
                    )));
                }
            }
            Layout::None if limits.any() => {
                return Err(Error::msg(format_args!(
                    "cannot apply {}: no cgroup filesystem is mounted at {ROOT} (mount cgroup2 there: mount -t cgroup2 none {ROOT})",
                    words()
                )));
            }
            Layout::None => {
                return Err(Error::msg(format_args!(
                    "cannot create a cgroup under --cgroup-parent '{parent}': no cgroup filesystem is mounted at {ROOT}"
                )));
            }
        }
        Ok(Placement {
            layout,
            front: Front::Docker,
            name,
            dirs,
            strict: v2_needs(layout, limits),
            all_controllers: Vec::new(),
            delegated,
        })
    }

    /// Whether this is a rootless placement: its directories are in the caller's own
    /// cgroup, where no state file records them.
    pub fn is_delegated(&self) -> bool {
        self.delegated
    }

    /// An OCI container's directories for `path` (from [`oci_path`]: absolute = under each
    /// hierarchy's root, relative = under crab-can's own cgroup there). On v2, one
    /// directory, with the controllers enabled in its parents. On v1 and hybrid hosts, one
    /// in every mounted v1 hierarchy (as runc: `devices` must be there) and one in the v2
    /// tree when there is one (it holds every process of the container, so `cgroup.kill`
    /// there ends them all at once).
    pub fn oci(path: &str, limits: &Limits) -> Result<Placement> {
        // Clean already when it comes from oci_path; never anything but a path below.
        let path = &clean(path)?;
        let layout = detect();
        let own = || crate::sys::read_text("/proc/self/cgroup").unwrap_or_default();
        let mut dirs = Vec::new();
        let mut all_controllers = Vec::new();
        match layout {
            Layout::V2 => {
                limits.check_layout(true)?;
                let parent = oci_parent(path, &own(), None, true)?;
                dirs.push(Target {
                    base: ROOT.to_string(),
                    parent,
                    role: Role::V2,
                });
                let text =
                    crate::sys::read_text(&under_root("cgroup.controllers")).unwrap_or_default();
                for c in text.split_whitespace() {
                    all_controllers.push(c.to_string());
                }
            }
            Layout::Hybrid { unified } => {
                limits.check_layout(false)?;
                let own = own();
                // With the v2 tree there, it holds the container (born inside it), its
                // device program, and `cgroup.kill` and `cgroup.freeze`: a v1 hierarchy
                // is joined only for a limit it enforces. Each v1 join costs the kernel a
                // grace period (about 10 ms here: the cgroup threadgroup lock), which
                // runc pays nine times over.
                let mut needs = Vec::new();
                for n in limits.needs(false) {
                    if !(unified && n.0 == "devices") {
                        needs.push(n);
                    }
                }
                // Listed (a statfs each) only when one is to be joined.
                let hierarchies = match unified && needs.is_empty() {
                    true => Vec::new(),
                    false => v1_hierarchies(),
                };
                for (ctrl, what) in &needs {
                    if !hierarchies.iter().any(|h| holds(h, ctrl)) {
                        return Err(Error::msg(format_args!(
                            "cannot apply {what}: the {ctrl} controller is not mounted under {ROOT}"
                        )));
                    }
                }
                if unified {
                    dirs.push(Target {
                        base: under_root("unified"),
                        parent: oci_parent(path, &own, None, false)?,
                        role: Role::V2,
                    });
                }
                for h in hierarchies {
                    if unified && !needs.iter().any(|(c, _)| holds(&h, c)) {
                        continue;
                    }
                    dirs.push(Target {
                        base: under_root(&h),
                        parent: oci_parent(path, &own, Some(&h), false)?,
                        role: Role::V1(h),
                    });
                }
            }
            Layout::None => {
                return Err(Error::msg(format_args!(
                    "cannot create the container's cgroup: no cgroup filesystem is mounted at {ROOT}"
                )));
            }
        }
        let name = crate::sys::split_last(path, b'/').map_or(path.as_str(), |(_, n)| n);
        Ok(Placement {
            layout,
            front: Front::Oci,
            name: name.to_string(),
            dirs,
            strict: v2_needs(layout, limits),
            all_controllers,
            delegated: false,
        })
    }

    /// Every directory this placement will create, in order.
    pub fn paths(&self) -> impl Iterator<Item = String> + '_ {
        self.dirs.iter().map(|t| t.path(&self.name))
    }
}

/// On a v2 host, the controllers `limits` need.
fn v2_needs(layout: Layout, limits: &Limits) -> Vec<&'static str> {
    if layout != Layout::V2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (c, _) in limits.needs(true) {
        out.push(c);
    }
    out
}

/// The parent, inside one hierarchy, of the leaf that `path` (from [`oci_path`]) names. A
/// relative path goes under crab-can's own cgroup of that hierarchy (`own`: the text of
/// `/proc/self/cgroup`; `hierarchy`: a v1 directory name, `None` for the v2 tree); on a v2
/// host under its parent, as runc does: crab-can's own cgroup holds processes, so no
/// controller could be enabled for its children.
fn oci_parent(path: &str, own: &str, hierarchy: Option<&str>, v2_host: bool) -> Result<String> {
    let (parent, _) = crate::sys::split_last(path, b'/').unwrap_or(("", path));
    if path.starts_with('/') {
        return Ok(parent.trim_start_matches('/').to_string());
    }
    let mine = own
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, p) = (f.next()?, f.next()?, f.next()?);
            let hit = match hierarchy {
                None => ctrls.is_empty() && l.starts_with("0:"),
                Some(h) => ctrls == h || ctrls.strip_prefix("name=") == Some(h),
            };
            hit.then_some(p)
        })
        .ok_or_else(|| {
            Error::msg(format_args!(
                "cannot place the relative linux.cgroupsPath '{path}': /proc/self/cgroup has no line for the {} hierarchy",
                hierarchy.unwrap_or("cgroup v2")
            ))
        })?;
    let mut base: Vec<&str> = Vec::new();
    for c in mine.split('/') {
        if !c.is_empty() {
            base.push(c);
        }
    }
    if v2_host {
        base.pop();
    }
    for c in parent.split('/') {
        if !c.is_empty() {
            base.push(c);
        }
    }
    Ok(base.join("/"))
}

/// The container's cgroups, in every hierarchy this run uses.
pub struct Cgroup {
    /// The v2 directory (pure v2, or the unified tree of a hybrid host).
    v2: Option<Dir>,
    /// v1 directories, each with its hierarchy's name (hybrid hosts).
    v1: Vec<(String, Dir)>,
    /// The memory limit, for the OOM report.
    memory: Option<Amount>,
    layout: Layout,
    /// Rootless: crab-can's own leaf, left (and crab-can's cgroup restored) after the
    /// directories above are removed: a field drops after `Drop::drop` has run.
    supervisor: Option<Supervisor>,
}

/// Rootless: crab-can itself in a leaf `PATH/crab-can-NAME@supervisor` of its own delegated
/// cgroup PATH while the container runs, because cgroup v2 enables no controller for the
/// children of a cgroup that holds processes. When dropped, the controllers this run
/// turned on in PATH are turned off again (unless PATH has other children, which may use
/// them), crab-can moves back to PATH and the leaf is removed; what cannot be undone is
/// left as it is. A crab-can killed with SIGKILL leaves the two leaves (empty once its init
/// has died with it) and the controllers on in PATH, so that no process can join PATH until
/// its owner turns them off (`echo -memory > PATH/cgroup.subtree_control`; under systemd the
/// whole scope goes when its last process has); the next run of the name there removes
/// the leaves.
struct Supervisor {
    home: OwnedFd,
    leaf: Dir,
    /// `-memory -cpu `: the controllers to turn off again.
    added: String,
}

impl Supervisor {
    /// Check that crab-can's own cgroup, `t`'s parent, is delegated to the caller (owned by
    /// the euid, its `cgroup.procs` and `cgroup.subtree_control` writable, `needs` in its
    /// `cgroup.controllers`) and holds crab-can alone; then leave it for the leaf of
    /// container cgroup `name`, noting which of `needs` it does not enable yet.
    #[inline(never)]
    fn enter(t: &Target, name: &str, needs: &[&str]) -> Result<Supervisor> {
        let parent = &t.parent;
        let path = format!("{ROOT}/{parent}");
        let home = rustix::fs::openat(
            rustix::fs::CWD,
            path.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys_msg(format_args!("cannot open cgroup {path}"), e))?;
        let read = |f| read_at(home.as_fd(), f).unwrap_or_default();
        let has = |text: &str, c: &str| text.split_whitespace().any(|h| h == c);
        let mut missing = String::new();
        if !rustix::fs::fstat(&home)
            .is_ok_and(|st| st.st_uid == rustix::process::geteuid().as_raw())
            // Opened for writing (the permission check), nothing written.
            || ["cgroup.procs", "cgroup.subtree_control"]
                .iter()
                .any(|f| matches!(write_at(home.as_fd(), f, ""), Err(Errno::ACCESS | Errno::PERM)))
        {
            missing.push_str(", ownership");
        }
        let controllers = read("cgroup.controllers");
        for c in needs.iter().filter(|c| !has(&controllers, c)) {
            missing.push_str(", ");
            missing.push_str(c);
        }
        let why = match missing.get(2..) {
            Some(m) => format!(
                "is not delegated to you (missing: {m}): start crab-can in a delegated scope"
            ),
            // crab-can is one of them.
            None if read("cgroup.procs").trim_end().contains('\n') => {
                "holds other processes than crab-can: start crab-can in a cgroup of its own".into()
            }
            None => String::new(),
        };
        if !why.is_empty() {
            return Err(Error::msg(format_args!(
                "cgroup /{parent} {why}, e.g. systemd-run --user --scope -p Delegate=yes \
                 crab-can run ..."
            )));
        }
        let leaf = name.to_string() + SUPERVISOR;
        // What a killed run of this name left (empty: that crab-can and its init are gone).
        for n in [leaf.as_str(), name] {
            let _ = rustix::fs::unlinkat(home.as_fd(), n, rustix::fs::AtFlags::REMOVEDIR);
        }
        let now = read("cgroup.subtree_control");
        let mut added = String::new();
        for c in needs.iter().filter(|c| !has(&now, c)) {
            added.push('-');
            added.push_str(c);
            added.push(' ');
        }
        let how = Make {
            front: Front::Docker,
            strict: Vec::new(),
            loose: &[],
            cpuset: false,
        };
        let s = Supervisor {
            leaf: make_dir(t, &leaf, &how)?,
            home,
            added,
        };
        s.leaf.write("cgroup.procs", "0")?;
        Ok(s)
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let home = self.home.as_fd();
        if children(home).len() <= 1 && !self.added.is_empty() {
            let _ = write_at(home, "cgroup.subtree_control", self.added.trim_end());
        }
        if write_at(home, "cgroup.procs", "0").is_ok() {
            let _ = rustix::fs::unlinkat(
                rustix::fs::CWD,
                self.leaf.path.as_str(),
                rustix::fs::AtFlags::REMOVEDIR,
            );
        }
    }
}

/// What [`make_dir`] does along the way.
struct Make<'a> {
    front: Front,
    /// v2: controllers to enable in each parent, or fail (`["memory", "pids"]`).
    strict: Vec<&'static str>,
    /// v2: controllers to enable in each parent where the kernel lets it.
    loose: &'a [String],
    /// v1 cpuset: fill each new level's empty `cpuset.cpus` and `cpuset.mems` from its
    /// parent (a process cannot join a cpuset cgroup without CPUs or memory nodes).
    cpuset: bool,
}

/// Make `<base>/<parent>` exist (each level), then create `<base>/<parent>/<name>`. The
/// leaf must be new: a directory already there is not this run's (a dead run's recorded
/// leftovers were removed before, by `state`), so it is refused, never emptied or removed.
/// Each level is reached from the one above by its fd.
fn make_dir(t: &Target, name: &str, how: &Make<'_>) -> Result<Dir> {
    let mut path = t.base.clone();
    let mut fd = rustix::fs::openat(
        rustix::fs::CWD,
        path.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys_msg(format_args!("cannot open cgroup {path}"), e))?;
    for comp in t.parent.split('/').filter(|c| !c.is_empty()) {
        enable_controllers(fd.as_fd(), &path, how)?;
        path.push('/');
        path.push_str(comp);
        match rustix::fs::mkdirat(fd.as_fd(), comp, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => {
                return Err(Error::sys_msg(
                    format_args!("cannot create cgroup {path}"),
                    e,
                ));
            }
        }
        let next = open_dir_at(fd.as_fd(), comp)
            .map_err(|e| Error::sys_msg(format_args!("cannot open cgroup {path}"), e))?;
        if how.cpuset {
            cpuset_fill(next.as_fd(), fd.as_fd(), &path)?;
        }
        fd = next;
    }
    enable_controllers(fd.as_fd(), &path, how)?;
    path.push('/');
    path.push_str(name);
    match rustix::fs::mkdirat(fd.as_fd(), name, Mode::from_raw_mode(0o755)) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            let dir = rustix::fs::statat(fd.as_fd(), name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| {
                    rustix::fs::FileType::from_raw_mode(st.st_mode)
                        == rustix::fs::FileType::Directory
                });
            return Err(Error::new(if dir {
                format!(
                    "cannot create cgroup {path}: it already exists and crab-can did not make it; {}",
                    how.front.exists_hint()
                )
            } else {
                format!(
                    "cannot create cgroup {path}: the name '{name}' is a control file of the cgroup filesystem there; {}",
                    how.front.name_hint()
                )
            }));
        }
        Err(e) => {
            return Err(Error::sys_msg(
                format_args!("cannot create cgroup {path}"),
                e,
            ));
        }
    }
    let opened = open_dir_at(fd.as_fd(), name).and_then(|d| Ok((rustix::fs::fstat(&d)?.st_ino, d)));
    match opened {
        Ok((ino, leaf)) => Ok(Dir {
            path,
            fd: leaf,
            ino,
        }),
        Err(e) => {
            // Made just now and still empty: nothing of anyone else's can be in it.
            let _ = rustix::fs::unlinkat(&fd, name, rustix::fs::AtFlags::REMOVEDIR);
            Err(Error::sys_msg(format_args!("cannot open cgroup {path}"), e))
        }
    }
}

/// v1 cpuset: copy the parent's CPUs and memory nodes into `dir` where it has none.
fn cpuset_fill(dir: BorrowedFd<'_>, parent: BorrowedFd<'_>, path: &str) -> Result<()> {
    for &file in &["cpuset.cpus", "cpuset.mems"] {
        if read_at(dir, file).is_some_and(|s| s.trim().is_empty()) {
            let from = read_at(parent, file).unwrap_or_default();
            write_at(dir, file, from.trim()).map_err(|e| {
                Error::sys_msg(
                    format_args!("cannot write '{}' to {path}/{file}", from.trim()),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

/// v2: make the controllers of `how` available to the children of `dir` (at `path`).
fn enable_controllers(dir: BorrowedFd<'_>, path: &str, how: &Make<'_>) -> Result<()> {
    if how.strict.is_empty() && how.loose.is_empty() {
        return Ok(());
    }
    let current = || read_at(dir, "cgroup.subtree_control").unwrap_or_default();
    let mut now = current();
    if how
        .loose
        .iter()
        .any(|c| !now.split_whitespace().any(|h| h == c))
    {
        // One at a time: the kernel refuses a whole line for one controller it cannot enable.
        for c in how.loose {
            let _ = write_at(dir, "cgroup.subtree_control", &format!("+{c}"));
        }
        now = current();
    }
    let mut missing: Vec<String> = Vec::new();
    for c in &how.strict {
        if !now.split_whitespace().any(|h| h == *c) {
            missing.push(format!("+{c}"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let file = format!("{path}/cgroup.subtree_control");
    let words = missing.join(" ");
    write_at(dir, "cgroup.subtree_control", &words).map_err(|e| match e {
        Errno::BUSY => Error::msg(format_args!(
            "cannot enable {words} in {file}: the cgroup has processes of its own \
             (cgroup v2's no-internal-processes rule); {}",
            how.front.parent_hint()
        )),
        Errno::NOENT => Error::msg(format_args!(
            "cannot enable {words} in {file}: the controller is not available there (cgroup.controllers of {path} lacks it)"
        )),
        e => Error::sys_msg(format_args!("cannot enable {words} in {file}"), e),
    })
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

impl Cgroup {
    /// Create the container's cgroup directories with their limits (and device rules),
    /// before the container exists. On a failure, whatever was made is removed (when the
    /// `Cgroup` drops).
    pub fn create(p: &Placement, limits: &Limits) -> Result<Cgroup> {
        let mut cg = Cgroup {
            v2: None,
            v1: Vec::new(),
            memory: limits.memory,
            layout: p.layout,
            supervisor: None,
        };
        for t in &p.dirs {
            match &t.role {
                Role::V2 => {
                    if p.delegated {
                        cg.supervisor = Some(Supervisor::enter(t, &p.name, &p.strict)?);
                    }
                    // Controllers are enabled along the path on a v2 host only: the tree of
                    // a hybrid host has none.
                    let how = Make {
                        front: p.front,
                        strict: p.strict.clone(),
                        loose: &p.all_controllers,
                        cpuset: false,
                    };
                    cg.v2 = Some(make_dir(t, &p.name, &how)?);
                }
                Role::V1(h) => {
                    let how = Make {
                        front: p.front,
                        strict: Vec::new(),
                        loose: &[],
                        cpuset: holds(h, "cpuset"),
                    };
                    let d = make_dir(t, &p.name, &how)?;
                    cg.v1.push((h.clone(), d));
                }
            }
        }
        cg.write_limits(limits)?;
        Ok(cg)
    }

    fn write_limits(&self, l: &Limits) -> Result<()> {
        if self.layout == Layout::V2 {
            if let Some(d) = &self.v2 {
                write_v2(d, l)?;
            }
            return Ok(());
        }
        for (h, d) in &self.v1 {
            for ctrl in h.split(',') {
                write_v1(ctrl, d, l)?;
            }
        }
        Ok(())
    }

    /// The device rules as the v2 directory's eBPF program: on a v2 host, and on a hybrid
    /// host whose container has no v1 devices hierarchy (the kernel checks both; the v1
    /// root allows all). Apart from [`Cgroup::create`] because loading it is most of the
    /// cost of a cgroup (the kernel verifies the program): `container::create_with` loads
    /// it while the init sets itself up, when the init waits at a gate before it runs
    /// anything of the image.
    pub fn device_program(&self, l: &Limits) -> Result<()> {
        let (Some(d), Some(rules)) = (&self.v2, &l.devices) else {
            return Ok(());
        };
        if self.layout == Layout::V2 || !self.v1.iter().any(|(h, _)| holds(h, "devices")) {
            devices::apply_v2(d.fd.as_fd(), rules)?;
        }
        Ok(())
    }

    /// Each directory as a detached bind mount (`open_tree`), with the name of its
    /// hierarchy's mount point under [`ROOT`] (`""` for a pure v2 host, `unified`, or the
    /// v1 hierarchy's): what an OCI `cgroup` mount binds when the container has no cgroup
    /// namespace of its own, the container's own cgroups and nothing above them, without
    /// a new superblock or a helper process.
    pub fn trees(&self) -> Result<Vec<(String, OwnedFd)>> {
        use rustix::mount::OpenTreeFlags as T;
        let tree = |d: &Dir| {
            rustix::mount::open_tree(
                d.fd.as_fd(),
                c"",
                T::OPEN_TREE_CLONE | T::OPEN_TREE_CLOEXEC | T::AT_EMPTY_PATH,
            )
            .map_err(|e| Error::sys_msg(format_args!("cannot bind {}", d.path), e))
        };
        let mut out = Vec::new();
        if let Some(d) = &self.v2 {
            let name = if self.layout == Layout::V2 {
                ""
            } else {
                "unified"
            };
            out.push((name.to_string(), tree(d)?));
        }
        for (h, d) in &self.v1 {
            out.push((h.clone(), tree(d)?));
        }
        Ok(out)
    }

    /// The directory fd for `clone3(CLONE_INTO_CGROUP)`.
    pub fn clone_fd(&self) -> Option<BorrowedFd<'_>> {
        self.v2.as_ref().map(|d| d.fd.as_fd())
    }

    /// Every directory of this container with its inode number, for the state file.
    pub fn dirs(&self) -> impl Iterator<Item = (&str, u64)> {
        let mut out = Vec::new();
        if let Some(d) = &self.v2 {
            out.push((d.path.as_str(), d.ino));
        }
        for (_, d) in &self.v1 {
            out.push((d.path.as_str(), d.ino));
        }
        out.into_iter()
    }

    /// Keep the directories past this process (an OCI container outlives `create`): they
    /// are not removed when the `Cgroup` drops. Returns them, as [`Cgroup::dirs`].
    pub fn release(mut self) -> Vec<(String, u64)> {
        let mut dirs = Vec::new();
        for (p, i) in self.dirs() {
            dirs.push((p.to_string(), i));
        }
        self.v2 = None;
        self.v1.clear();
        dirs
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
            self.v1.iter().find(|(h, _)| holds(h, "memory")),
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
        let limit = match self.memory {
            Some(Amount::Of(m)) => mib(m),
            _ => "none".to_string(),
        };
        if status == 128 + libc::SIGKILL as u8 {
            return Err(Error::with(
                status,
                format!("container {name} was killed by the OOM killer (memory limit {limit})"),
                None,
            ));
        }
        crate::error::warn(&format!(
            "the OOM killer ended {kills} process{} in container {name} (memory limit {limit})",
            if kills == 1 { "" } else { "es" }
        ));
        Ok(())
    }
}

/// The limits in a cgroup v2 directory: a new one, where every file holds the kernel's
/// default (no limit) and any order of writes is accepted, or a container's (`update`).
fn write_v2(d: &Dir, l: &Limits) -> Result<()> {
    if let Some(p) = l.pids {
        d.write_amount("pids.max", p, Amount::v2)?;
    }
    if let Some(swap) = swap_v2(l.memory, l.memory_swap)? {
        let v = swap.v2();
        // Without swap accounting there is no swap to limit: "none beyond the memory
        // limit" and "no limit" are what the host does anyway (as runc).
        if !d.write_if_present("memory.swap.max", &v)? && !matches!(v.as_str(), "max" | "0") {
            return Err(Error::msg(format_args!(
                "cannot limit swap to {v} bytes: {}/memory.swap.max does not exist (the kernel does not account swap)",
                d.path
            )));
        }
    }
    if let Some(m) = l.memory {
        d.write_amount("memory.max", m, Amount::v2)?;
    }
    if let Some(m) = l.memory_low {
        d.write_amount("memory.low", m, Amount::v2)?;
    }
    if let Some(s) = l.cpu_shares {
        d.write_u64("cpu.weight", cpu_weight(s))?;
    }
    if l.cpu_quota.is_some() || l.cpu_period.is_some() {
        // The one not given stays as it is (`max 100000` in a new directory), as runc.
        let now = d.read("cpu.max").unwrap_or_default();
        let mut now = now.split_whitespace();
        let (q, p) = (now.next().unwrap_or("max"), now.next().unwrap_or("100000"));
        let quota = l.cpu_quota.map(Amount::v2);
        let period = l.cpu_period.map(|p| p.to_string());
        d.write(
            "cpu.max",
            &format!(
                "{} {}",
                quota.as_deref().unwrap_or(q),
                period.as_deref().unwrap_or(p)
            ),
        )?;
    }
    if let Some(b) = l.cpu_burst {
        d.write_u64("cpu.max.burst", b)?;
    }
    if let Some(i) = l.cpu_idle {
        d.write("cpu.idle", &i.to_string())?;
    }
    if let Some(c) = &l.cpus {
        d.write("cpuset.cpus", c)?;
    }
    if let Some(m) = &l.mems {
        d.write("cpuset.mems", m)?;
    }
    write_hugepages(d, l, "max")?;
    for t in &l.throttles {
        let rate = if t.rate == 0 {
            "max".to_string()
        } else {
            t.rate.to_string()
        };
        let key = THROTTLE_V2
            .get(usize::from(t.which))
            .copied()
            .unwrap_or("rbps");
        d.write("io.max", &format!("{}:{} {key}={rate}", t.major, t.minor))?;
    }
    for (k, v) in &l.unified {
        for line in v.lines().filter(|s| !s.is_empty()) {
            match write_at(d.fd.as_fd(), k, line) {
                Ok(()) => {}
                Err(e @ (Errno::NOENT | Errno::PERM | Errno::ACCESS)) => {
                    let ctrl = k.split('.').next().unwrap_or_default();
                    return Err(Error::sys_msg(
                        format_args!(
                            "linux.resources.unified[\"{k}\"]: cannot write '{line}' to {}/{k} (is the {ctrl} controller available?)",
                            d.path
                        ),
                        e,
                    ));
                }
                Err(e) => {
                    return Err(Error::sys_msg(
                        format_args!(
                            "linux.resources.unified[\"{k}\"]: cannot write '{line}' to {}/{k}",
                            d.path
                        ),
                        e,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `hugetlb.<size>.<suffix>` for each limit, and the reservation limit next to it where the
/// kernel has one (as runc).
fn write_hugepages(d: &Dir, l: &Limits, suffix: &str) -> Result<()> {
    let mut rsvd = true;
    for (size, limit) in &l.hugepages {
        let v = limit.to_string();
        d.write(&format!("hugetlb.{size}.{suffix}"), &v)?;
        if rsvd {
            rsvd = d.write_if_present(&format!("hugetlb.{size}.rsvd.{suffix}"), &v)?;
        }
    }
    Ok(())
}

/// The limits of v1 controller `ctrl` in its new directory `d`.
fn write_v1(ctrl: &str, d: &Dir, l: &Limits) -> Result<()> {
    match ctrl {
        "memory" => {
            // memory+swap (at least the memory limit). Unlimited memory without a swap
            // setting: unlimited swap too (runc). The kernel keeps memory+swap at least
            // the memory limit at every write: raising both (`update`), memory+swap goes
            // first (runc's order).
            let swap = match (l.memory, l.memory_swap) {
                (Some(Amount::Max), None) => Some(Amount::Max),
                (_, s) => s,
            };
            let swap_first = match swap {
                Some(Amount::Of(s)) => d
                    .read("memory.limit_in_bytes")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .is_some_and(|now| s > now),
                s => s.is_some(),
            };
            if let (Some(m), false) = (l.memory, swap_first) {
                d.write_amount("memory.limit_in_bytes", m, Amount::v1)?;
            }
            if let Some(s) = swap {
                let no_extra = s == Amount::Max || Some(s) == l.memory;
                if !d.write_if_present("memory.memsw.limit_in_bytes", &s.v1())? && !no_extra {
                    return Err(Error::msg(format_args!(
                        "cannot apply linux.resources.memory.swap: {}/memory.memsw.limit_in_bytes does not exist (the kernel does not account swap: boot it with swapaccount=1)",
                        d.path
                    )));
                }
            }
            if let (Some(m), true) = (l.memory, swap_first) {
                d.write_amount("memory.limit_in_bytes", m, Amount::v1)?;
            }
            if let Some(m) = l.memory_low {
                d.write_amount("memory.soft_limit_in_bytes", m, Amount::v1)?;
            }
            if let Some(s) = l.swappiness {
                d.write_u64("memory.swappiness", s)?;
            }
            if l.oom_kill_disable {
                d.write("memory.oom_control", "1")?;
            }
        }
        "cpu" => {
            if let Some(s) = l.cpu_shares {
                d.write_u64("cpu.shares", s)?;
                let got: u64 = d
                    .read("cpu.shares")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(s);
                if got != s {
                    return Err(Error::msg(format_args!(
                        "linux.resources.cpu.shares: {s} is out of the kernel's range (it made it {got})"
                    )));
                }
            }
            if let Some(p) = l.cpu_period {
                d.write_u64("cpu.cfs_period_us", p)?;
            }
            if let Some(q) = l.cpu_quota {
                d.write_amount("cpu.cfs_quota_us", q, Amount::v1)?;
            }
            if let Some(b) = l.cpu_burst {
                d.write_u64("cpu.cfs_burst_us", b)?;
            }
            if let Some(i) = l.cpu_idle {
                d.write("cpu.idle", &i.to_string())?;
            }
        }
        "cpuset" => {
            if let Some(c) = &l.cpus {
                d.write("cpuset.cpus", c)?;
            }
            if let Some(m) = &l.mems {
                d.write("cpuset.mems", m)?;
            }
            // What was not given comes from the parent, as for the levels above.
            let parent = open_dir_at(d.fd.as_fd(), "..").map_err(|e| {
                Error::sys_msg(format_args!("cannot open the parent of {}", d.path), e)
            })?;
            cpuset_fill(d.fd.as_fd(), parent.as_fd(), &d.path)?;
        }
        "pids" => {
            if let Some(p) = l.pids {
                d.write_amount("pids.max", p, Amount::v2)?;
            }
        }
        "hugetlb" => write_hugepages(d, l, "limit_in_bytes")?,
        "blkio" => {
            for t in &l.throttles {
                let file = THROTTLE_V1
                    .get(usize::from(t.which))
                    .copied()
                    .unwrap_or(THROTTLE_V1[0]);
                d.write(file, &format!("{}:{} {}", t.major, t.minor, t.rate))?;
            }
        }
        "devices" => {
            if let Some(rules) = &l.devices {
                devices::apply_v1(d.fd.as_fd(), rules).map_err(|mut e| {
                    e.msg = format!("{}: {}", d.path, e.msg);
                    e
                })?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl Drop for Cgroup {
    /// Kill whatever is left and remove every directory of this container.
    fn drop(&mut self) {
        if let Some(d) = &self.v2 {
            let _ = remove_checked(&d.path, d.ino);
        }
        for (_, d) in &self.v1 {
            let _ = remove_checked(&d.path, d.ino);
        }
    }
}

/// Is `path` a directory below [`ROOT`], without `..`?
fn inside_root(path: &str) -> bool {
    path.strip_prefix(ROOT)
        .is_some_and(|rest| rest.starts_with('/') && !rest.split('/').any(|c| c == ".."))
}

/// A recorded directory, opened, if it is still the one recorded (same inode, a cgroup
/// directory): with the kind of hierarchy it is in (true: v2).
fn open_checked(path: &str, ino: u64) -> Option<(OwnedFd, bool)> {
    if !inside_root(path) {
        return None;
    }
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .ok()?;
    if rustix::fs::fstat(&fd).ok()?.st_ino != ino {
        return None;
    }
    match rustix::fs::fstatfs(&fd).ok()?.f_type {
        CGROUP2_MAGIC => Some((fd, true)),
        CGROUP1_MAGIC => Some((fd, false)),
        _ => None,
    }
}

/// The sub-cgroups of `dir` (the container may make its own).
fn children(dir: BorrowedFd<'_>) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    let Ok(mut entries) = rustix::fs::Dir::read_from(dir) else {
        return out;
    };
    while let Some(Ok(e)) = entries.next() {
        let name = e.file_name().to_bytes();
        if e.file_type() != rustix::fs::FileType::Directory || name == b"." || name == b".." {
            continue;
        }
        if let Ok(fd) = rustix::fs::openat(
            dir,
            e.file_name(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            out.push(fd);
        }
    }
    out
}

/// The processes of `dir` and of its sub-cgroups, added to `out`.
fn collect_procs(dir: BorrowedFd<'_>, depth: usize, out: &mut Vec<i32>) {
    if let Some(s) = read_at(dir, "cgroup.procs") {
        for l in s.lines() {
            if let Some(p) = crate::user::parse_u32(l.trim()) {
                out.push(p as i32);
            }
        }
    }
    if depth < MAX_DEPTH {
        for c in children(dir) {
            collect_procs(c.as_fd(), depth + 1, out);
        }
    }
}

fn procs_of(dirs: &[(OwnedFd, bool)]) -> Vec<i32> {
    let mut all = Vec::new();
    for (fd, _) in dirs {
        collect_procs(fd.as_fd(), 0, &mut all);
    }
    // Sorted by insertion (a sort would link 2 KB of quicksort).
    let mut out: Vec<i32> = Vec::with_capacity(all.len());
    for p in all {
        if let Err(i) = out.binary_search(&p) {
            out.insert(i, p);
        }
    }
    out
}

fn open_all(dirs: &[(String, u64)]) -> Vec<(OwnedFd, bool)> {
    let mut out = Vec::new();
    for (p, i) in dirs {
        if let Some(d) = open_checked(p, *i) {
            out.push(d);
        }
    }
    out
}

/// The host pids of every process in the container's cgroups (and their sub-cgroups),
/// sorted. Directories that are gone, or are no longer the recorded ones, count as empty.
pub fn procs(dirs: &[(String, u64)]) -> Vec<i32> {
    procs_of(&open_all(dirs))
}

/// `update`: write `l` into a container's recorded directories (those still the recorded
/// ones); only what `l` sets changes. On a v2 host its v2 directory; else each v1 directory
/// for its hierarchy's controllers (the v2 tree of a hybrid host has none). On v1, where
/// `create` joins only the hierarchies of the limits it is given, a limit of a hierarchy
/// the container is not in is refused before anything is written.
#[inline(never)]
pub fn update(dirs: &[(String, u64)], l: &Limits) -> Result<()> {
    let v2 = detect() == Layout::V2;
    l.check_layout(v2)?;
    // A v1 directory's hierarchy (`/sys/fs/cgroup/HIERARCHY/...`).
    let hierarchy = |path: &str| {
        path.get(ROOT.len() + 1..)
            .and_then(|p| p.split('/').next())
            .unwrap_or_default()
            .to_string()
    };
    for (ctrl, what) in l.needs(v2) {
        if !v2 && !dirs.iter().any(|(p, _)| holds(&hierarchy(p), ctrl)) {
            return Err(Error::msg(format_args!(
                "cannot update {what}: the container has no {ctrl} cgroup (cgroup v1: not limited at create)"
            )));
        }
    }
    for (path, ino) in dirs {
        let Some((fd, in_v2)) = open_checked(path, *ino) else {
            continue;
        };
        let d = Dir {
            path: path.clone(),
            fd,
            ino: *ino,
        };
        match (in_v2, v2) {
            (true, true) => write_v2(&d, l)?,
            (false, _) => {
                for ctrl in hierarchy(path).split(',') {
                    write_v1(ctrl, &d, l)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A control file's number: `max` is u64::MAX, a negative one 0 (as runc reads them).
fn number(s: &str) -> u64 {
    match s.trim() {
        "max" => u64::MAX,
        t => t.parse().unwrap_or(0),
    }
}

/// `events --stats`'s `data`: runc's stats (types/events.go: `cpu`, `memory`, `pids`; not
/// v1's deprecated kernel memory) as JSON with `` `SPEC` `` where a value goes. SPEC:
/// `[FILE` its numbers, `{FILE` its `KEY VALUE` lines as members; else alternatives `A|B`
/// (the first one a file of which exists), each a sum `X+Y` of files or of `FILE KEY`
/// lines, ending `*` when in microseconds, `%` in clock ticks (10 ms), both given in
/// nanoseconds, `!` when max is 0; `#` is the number of processes.
const STATS: &str = concat!(
    r#"{"cpu":{"usage":{"total":`cpuacct.usage|cpu.stat usage_usec*`,"percpu":[`[cpuacct.usage_percpu`],"#,
    r#""kernel":`cpuacct.stat system%|cpu.stat system_usec*`,"user":`cpuacct.stat user%|cpu.stat user_usec*`},"#,
    r#""throttling":{"periods":`cpu.stat nr_periods`,"throttledPeriods":`cpu.stat nr_throttled`,"throttledTime":`cpu.stat throttled_time|cpu.stat throttled_usec*`}},"#,
    r#""memory":{"cache":`memory.stat cache|memory.stat file`,"usage":{"limit":`memory.limit_in_bytes|memory.max`,"usage":`memory.usage_in_bytes|memory.current`,"max":`memory.max_usage_in_bytes|memory.peak`,"failcnt":`memory.failcnt`},"#,
    r#""swap":{"limit":`memory.memsw.limit_in_bytes|memory.swap.max+memory.max`,"usage":`memory.memsw.usage_in_bytes|memory.swap.current+memory.current`,"max":`memory.memsw.max_usage_in_bytes`,"failcnt":`memory.memsw.failcnt`},"#,
    r#""raw":{`{memory.stat`}},"pids":{"current":`pids.current|#`,"limit":`pids.max!`}}"#
);

/// `events --stats`: the `data` object of runc's stats event ([`STATS`]), each file from
/// the first of the container's directories that has it, read as runc reads the v2 files
/// or the v1 controllers'.
#[inline(never)]
pub fn stats(dirs: &[(String, u64)]) -> String {
    let open = open_all(dirs);
    let mut out = String::new();
    let mut literal = false;
    for spec in STATS.split('`') {
        literal = !literal;
        if literal {
            out.push_str(spec);
            continue;
        }
        let members = spec.starts_with('{');
        if members || spec.starts_with('[') {
            let file = spec.get(1..).unwrap_or_default();
            let t = open.iter().find_map(|(fd, _)| read_at(fd.as_fd(), file));
            let mut key = members;
            for w in t.as_deref().unwrap_or_default().split_whitespace() {
                if key {
                    out.push('"');
                    out.push_str(w);
                    out.push_str("\":");
                } else {
                    out.push_str(&number(w).to_string());
                    out.push(',');
                }
                key = members && !key;
            }
            if out.ends_with(',') {
                out.pop();
            }
            continue;
        }
        out.push_str(&stat_value(&open, spec).to_string());
    }
    out
}

/// The value of one [`STATS`] spec (not a list).
#[inline(never)]
fn stat_value(open: &[(OwnedFd, bool)], spec: &str) -> u64 {
    for alt in spec.split('|') {
        let unit = alt.as_bytes().last().copied().unwrap_or(0);
        let body = match unit {
            b'*' | b'%' | b'!' => &alt[..alt.len() - 1],
            _ => alt,
        };
        let mut sum = None;
        for term in body.split('+') {
            let (file, key) = term.split_once(' ').unwrap_or((term, ""));
            let n = match term {
                "#" => Some(procs_of(open).len() as u64),
                _ => open.iter().find_map(|(fd, _)| {
                    let s = read_at(fd.as_fd(), file)?;
                    match key {
                        "" => Some(number(&s)),
                        k => s
                            .lines()
                            .find_map(|l| l.strip_prefix(k)?.strip_prefix(' ').map(number)),
                    }
                }),
            };
            if let Some(n) = n {
                sum = Some(n.saturating_add(sum.unwrap_or(0)));
            }
        }
        if let Some(v) = sum {
            return match unit {
                b'*' => v.saturating_mul(1000),
                b'%' => v.saturating_mul(10_000_000),
                b'!' if v == u64::MAX => 0,
                _ => v,
            };
        }
    }
    0
}

/// Send `sig` to the processes listed in `dirs` now. Each pid is pinned with a pidfd and
/// signalled only if the cgroups still list it after that: a process that exited and
/// whose pid was given to another in between is never signalled.
fn signal_listed(dirs: &[(OwnedFd, bool)], sig: i32) -> usize {
    let listed = procs_of(dirs);
    // (pid, its pidfd; None on kernels without pidfd_open, before 5.3). A pid that is
    // already gone is left out.
    let mut pinned: Vec<(i32, Option<OwnedFd>)> = Vec::new();
    for &p in &listed {
        let Some(pid) = rustix::process::Pid::from_raw(p) else {
            continue;
        };
        match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => pinned.push((p, Some(fd))),
            Err(Errno::NOSYS) => pinned.push((p, None)),
            Err(_) => {}
        }
    }
    let still = procs_of(dirs);
    let mut n = 0;
    for (p, fd) in pinned {
        if still.binary_search(&p).is_err() {
            continue;
        }
        let sent = match &fd {
            Some(fd) => crate::sys::pidfd_signal(fd.as_fd(), sig),
            // The plain pid: the window is the one between the two reads.
            None => crate::sys::kill(p, sig),
        };
        if sent.is_ok() {
            n += 1;
        }
    }
    n
}

/// The freezer of a container's directories: the v1 `freezer` hierarchy's when it is one
/// of them, else the v2 directory's (`cgroup.freeze`, Linux 5.2).
fn freezer(dirs: &[(OwnedFd, bool)]) -> Option<(BorrowedFd<'_>, bool)> {
    let v1 = dirs.iter().find(|(fd, v2)| {
        !v2 && rustix::fs::accessat(
            fd,
            "freezer.state",
            rustix::fs::Access::EXISTS,
            rustix::fs::AtFlags::empty(),
        )
        .is_ok()
    });
    let v2 = dirs.iter().find(|(fd, v2)| {
        *v2 && rustix::fs::accessat(
            fd,
            "cgroup.freeze",
            rustix::fs::Access::EXISTS,
            rustix::fs::AtFlags::empty(),
        )
        .is_ok()
    });
    v1.or(v2).map(|(fd, v2)| (fd.as_fd(), *v2))
}

fn frozen_state(fd: BorrowedFd<'_>, v2: bool) -> bool {
    if v2 {
        read_at(fd, "cgroup.events").is_some_and(|s| s.lines().any(|l| l.trim() == "frozen 1"))
    } else {
        read_at(fd, "freezer.state").is_some_and(|s| s.trim() == "FROZEN")
    }
}

/// Is the container frozen (`pause`)? The v1 freezer says `FROZEN`, or the v2 directory's
/// `cgroup.events` says `frozen 1`.
pub fn is_frozen(dirs: &[(String, u64)]) -> bool {
    open_all(dirs)
        .iter()
        .any(|(fd, v2)| frozen_state(fd.as_fd(), *v2))
}

/// Freeze or thaw the container (`pause`, `resume`), and wait until the kernel says it is
/// done (at most about a second).
pub fn set_frozen(dirs: &[(String, u64)], frozen: bool) -> Result<()> {
    let open = open_all(dirs);
    let Some((fd, v2)) = freezer(&open) else {
        return Err(Error::new(
            "the container's cgroup has no freezer (no v1 freezer hierarchy, no cgroup.freeze)",
        ));
    };
    freeze(fd, v2, frozen)
}

fn freeze(fd: BorrowedFd<'_>, v2: bool, frozen: bool) -> Result<()> {
    let (file, value) = match (v2, frozen) {
        (true, f) => ("cgroup.freeze", if f { "1" } else { "0" }),
        (false, true) => ("freezer.state", "FROZEN"),
        (false, false) => ("freezer.state", "THAWED"),
    };
    for _ in 0..100 {
        // v1 may stay FREEZING when a task cannot be frozen yet: writing again retries.
        write_at(fd, file, value)
            .map_err(|e| Error::sys_msg(format_args!("cannot write {value} to {file}"), e))?;
        if frozen_state(fd, v2) == frozen {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(Error::msg(format_args!(
        "the container's cgroup did not become {} within a second",
        if frozen { "frozen" } else { "thawed" }
    )))
}

/// Send `sig` to every process of the container's cgroups, sub-cgroups included.
/// Directories that are gone or are not the recorded ones are left alone; with none left
/// there is nothing to signal. SIGKILL: `cgroup.kill` of the v2 directory where the kernel
/// has it (5.14), else the processes are killed until none is left (a frozen container is
/// thawed so that they die). Another signal: the container is frozen while its pids are
/// read and signalled (no process can fork past it), then thawed unless it was frozen
/// before.
pub fn signal_all(dirs: &[(String, u64)], sig: i32) -> Result<()> {
    let open = open_all(dirs);
    if open.is_empty() {
        return Ok(());
    }
    if sig == libc::SIGKILL {
        if let Some((fd, _)) = open.iter().find(|(_, v2)| *v2) {
            match write_at(fd.as_fd(), "cgroup.kill", "1") {
                // A task frozen by a v1 freezer dies only once thawed.
                Ok(()) => return thaw(&open),
                Err(Errno::NOENT) => {}
                Err(e) => return Err(Error::sys("cannot write to cgroup.kill", e)),
            }
        }
        return kill_until_empty(&open);
    }
    let fr = freezer(&open);
    let was_frozen = fr.is_some_and(|(fd, v2)| frozen_state(fd, v2));
    let froze = !was_frozen && fr.is_some_and(|(fd, v2)| freeze(fd, v2, true).is_ok());
    signal_listed(&open, sig);
    if froze {
        if let Some((fd, v2)) = fr {
            freeze(fd, v2, false)?;
        }
    }
    Ok(())
}

/// Thaw the container if it is frozen or being frozen. Asked, not found: while a frozen v2
/// cgroup's killed tasks exit, `cgroup.events` says `frozen 0` for a moment.
fn thaw(open: &[(OwnedFd, bool)]) -> Result<()> {
    let Some((fd, v2)) = freezer(open) else {
        return Ok(());
    };
    let asked = if v2 {
        read_at(fd, "cgroup.freeze").is_some_and(|s| s.trim() == "1")
    } else {
        read_at(fd, "freezer.state").is_some_and(|s| s.trim() != "THAWED")
    };
    if asked { freeze(fd, v2, false) } else { Ok(()) }
}

/// SIGKILL whatever the directories list until they list nothing (about 5 s at most).
fn kill_until_empty(open: &[(OwnedFd, bool)]) -> Result<()> {
    for _ in 0..500 {
        if procs_of(open).is_empty() {
            return Ok(());
        }
        signal_listed(open, libc::SIGKILL);
        let _ = thaw(open);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(Error::msg(format_args!(
        "cannot kill every process of the container: {} left",
        procs_of(open).len()
    )))
}

/// Kill what is in `dir` and its sub-cgroups and remove those, deepest first.
fn empty_tree(dir: BorrowedFd<'_>, v2: bool, depth: usize) {
    if depth < MAX_DEPTH {
        for c in children(dir) {
            empty_tree(c.as_fd(), v2, depth + 1);
        }
    }
    if !(v2 && write_at(dir, "cgroup.kill", "1").is_ok()) {
        let one = [(
            match rustix::io::fcntl_dupfd_cloexec(dir, 0) {
                Ok(fd) => fd,
                Err(_) => return,
            },
            v2,
        )];
        signal_listed(&one, libc::SIGKILL);
    }
    // Sub-cgroups by name, from this directory's fd.
    if let Ok(mut entries) = rustix::fs::Dir::read_from(dir) {
        while let Some(Ok(e)) = entries.next() {
            let name = e.file_name().to_bytes();
            if e.file_type() == rustix::fs::FileType::Directory && name != b"." && name != b".." {
                let _ = rustix::fs::unlinkat(dir, e.file_name(), rustix::fs::AtFlags::REMOVEDIR);
            }
        }
    }
}

/// Remove a recorded cgroup directory if it is still the recorded one: its processes are
/// killed, its sub-cgroups removed, and `rmdir` retried while the kernel says it is busy
/// (dying processes leave it over a few milliseconds), about 2 s at most. Gone: done.
fn remove_checked(path: &str, ino: u64) -> Result<()> {
    let Some((fd, v2)) = open_checked(path, ino) else {
        return Ok(());
    };
    for i in 0..200 {
        match rustix::fs::unlinkat(rustix::fs::CWD, path, rustix::fs::AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => return Ok(()),
            Err(Errno::BUSY) => {
                // The path must still be this directory before anything else is tried.
                if !rustix::fs::lstat(path).is_ok_and(|st| st.st_ino == ino) {
                    return Ok(());
                }
                if i % 20 == 0 {
                    empty_tree(fd.as_fd(), v2, 0);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                return Err(Error::sys_msg(
                    format_args!("cannot remove cgroup {path}"),
                    e,
                ));
            }
        }
    }
    Err(Error::sys_msg(
        format_args!("cannot remove cgroup {path}"),
        Errno::BUSY,
    ))
}

/// Remove an OCI container's cgroup directories (`delete`): each one that is still the
/// recorded one, emptied first; one that is gone is done. The first failure is returned,
/// after the others were tried.
pub fn remove(dirs: &[(String, u64)]) -> Result<()> {
    let mut first = Ok(());
    for (p, i) in dirs {
        if let Err(e) = remove_checked(p, *i) {
            if first.is_ok() {
                first = Err(e);
            }
        }
    }
    first
}

/// Remove a cgroup directory that a dead run of crab-can recorded. With its inode number
/// (recorded once it was made), only that very directory is emptied (its processes killed)
/// and removed; without one (the run died between recording and making it, so nothing
/// ever ran in it) it is only `rmdir`ed, which the kernel refuses for a cgroup in use.
pub fn remove_leftover(path: &str, ino: Option<u64>) {
    if !inside_root(path) {
        return;
    }
    match ino {
        Some(ino) => {
            let _ = remove_checked(path, ino);
        }
        None => {
            let _ = rustix::fs::unlinkat(rustix::fs::CWD, path, rustix::fs::AtFlags::REMOVEDIR);
        }
    }
}

/// An OCI `create`'s cgroup recorded before it was made (inode unknown), removed when
/// empty. A `create` killed before it recorded its init leaves that init dying of its
/// parent-death signal: the directory empties once it is reaped, so a busy one is tried
/// again, for 1 s at most.
pub fn remove_unconfirmed(path: &str) {
    if !inside_root(path) {
        return;
    }
    for _ in 0..100 {
        match rustix::fs::unlinkat(rustix::fs::CWD, path, rustix::fs::AtFlags::REMOVEDIR) {
            Err(Errno::BUSY) => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => return,
        }
    }
}

/// Online CPUs, from the kernel's own list (`0-3,6`): the bound of `--cpus`.
pub fn online_cpus() -> u64 {
    let s = crate::sys::read_text("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut n: u64 = 0;
    for range in s.trim().split(',') {
        if range.is_empty() {
            continue;
        }
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

/// The cgroup an OCI container goes in, as a path for [`Placement::oci`]: `/a/b/c`
/// (absolute: under each hierarchy's root) or `a/b/c` (relative: under crab-can's own
/// cgroup), cleaned of `.`, `..` and repeated `/` as if it were absolute, so that it never
/// leaves the hierarchy. `linux.cgroupsPath` absent or empty: the container's `id`,
/// relative, as runc. With `--systemd-cgroup` the path is `slice:prefix:name`, made into
/// the path systemd would give that unit: `a-b.slice:p:n` is
/// `/a.slice/a-b.slice/p-n.scope`; an empty slice is `system.slice`, and an absent path
/// is `system.slice:runc:<id>`.
pub fn oci_path(cgroups_path: Option<&str>, systemd: bool, id: &str) -> Result<String> {
    let given = cgroups_path.filter(|p| !p.is_empty());
    if systemd {
        let text = given.map_or_else(|| format!("system.slice:runc:{id}"), str::to_string);
        let bad = || {
            Error::msg(format_args!(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"{text}\" instead"
            ))
        };
        let mut parts = text.split(':');
        let (Some(slice), Some(prefix), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if name.is_empty() || name.contains('/') || prefix.contains('/') {
            return Err(bad());
        }
        let mut path = expand_slice(if slice.is_empty() {
            "system.slice"
        } else {
            slice
        })?;
        if name.ends_with(".slice") {
            path.push('/');
            path.push_str(name);
        } else {
            path.push_str(&format!("/{prefix}-{name}.scope"));
        }
        return clean(&path);
    }
    match given {
        Some(p) => clean(p),
        None => clean(id),
    }
}

/// systemd's path of a slice unit: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`,
/// `-.slice` the root (empty).
fn expand_slice(slice: &str) -> Result<String> {
    let bad = || Error::msg(format_args!("invalid slice name: {slice}"));
    let stem = slice.strip_suffix(".slice").ok_or_else(bad)?;
    if slice.contains('/') || stem.is_empty() {
        return Err(bad());
    }
    if stem == "-" {
        return Ok(String::new());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for comp in stem.split('-') {
        if comp.is_empty() {
            return Err(bad());
        }
        path.push_str(&format!("/{prefix}{comp}.slice"));
        prefix.push_str(comp);
        prefix.push('-');
    }
    Ok(path)
}

/// `path` without `.`, `..` (never above the top) and empty components, keeping whether it
/// is absolute. A path that names no cgroup below the top (`/`, `..`) is refused.
fn clean(path: &str) -> Result<String> {
    let mut comps: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    if comps.is_empty() {
        return Err(Error::msg(format_args!(
            "linux.cgroupsPath '{path}' names the root of the cgroup hierarchy, not a cgroup of the container's own"
        )));
    }
    let joined = comps.join("/");
    Ok(if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    })
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

    #[test]
    fn shares_to_weight_as_runc() {
        // runc's own table (opencontainers/cgroups utils_test.go).
        for (shares, weight) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (1024, 100),
            (262_143, 10_000),
            (262_144, 10_000),
            (262_145, 10_000),
        ] {
            assert_eq!(cpu_weight(shares), weight, "{shares}");
        }
        // Every value as runc computes it (Go's math, as libm here), and none so close to
        // an integer that the rounding up could go either way, but for 1024's exact 100.
        let mut closest = f64::MAX;
        for s in 3..262_144u64 {
            let l = (s as f64).log2();
            let exact = 10f64.powf((l * l + 125.0 * l) / 612.0 - 7.0 / 34.0);
            assert!((log2(s) - l).abs() < 1e-13, "log2({s})");
            let want = exact.ceil() as u64;
            if s == 1024 {
                assert!((exact - 100.0).abs() < 1e-12);
                assert_eq!(cpu_weight(s), 100);
                continue;
            }
            closest = closest.min((exact - exact.round()).abs() / exact);
            assert_eq!(cpu_weight(s), want, "{s}: {exact}");
        }
        assert!(closest > 1e-11, "{closest}");
    }

    #[test]
    fn swap_as_runc() {
        let of = |n| Some(Amount::Of(n));
        let max = Some(Amount::Max);
        assert_eq!(swap_v2(None, None).unwrap(), None);
        assert_eq!(swap_v2(max, None).unwrap(), max);
        assert_eq!(swap_v2(of(10), None).unwrap(), None);
        assert_eq!(swap_v2(of(10), max).unwrap(), max);
        assert_eq!(swap_v2(max, of(30)).unwrap(), of(30));
        assert_eq!(swap_v2(of(10), of(30)).unwrap(), of(20));
        assert_eq!(swap_v2(of(10), of(10)).unwrap(), of(0));
        let e = swap_v2(None, of(10)).unwrap_err().msg.clone();
        assert!(e.contains("needs a memory limit"), "{e}");
        let e = swap_v2(of(20), of(10)).unwrap_err().msg.clone();
        assert!(
            e.starts_with("linux.resources.memory.swap: 10 is below"),
            "{e}"
        );
    }

    #[test]
    fn docker_limits() {
        let l = Limits::docker(Some(64 << 20), Some(50_000), Some(10));
        assert_eq!(l.memory, Some(Amount::Of(64 << 20)));
        assert_eq!(l.memory_swap, l.memory);
        assert_eq!(l.cpu_period, Some(CPU_PERIOD_US));
        assert_eq!(l.pids, Some(Amount::Of(10)));
        assert!(l.any());
        assert!(!Limits::docker(None, None, None).any());
        assert_eq!(
            l.docker_asked(),
            [
                ("memory", "--memory"),
                ("cpu", "--cpus"),
                ("pids", "--pids")
            ]
        );
    }

    #[test]
    fn needs_controllers() {
        let l = Limits {
            cpus: Some("0".into()),
            throttles: vec![Throttle {
                which: 0,
                major: 8,
                minor: 0,
                rate: 1,
            }],
            devices: Some(Vec::new()),
            ..Limits::default()
        };
        let c = |v2| l.needs(v2).into_iter().map(|n| n.0).collect::<Vec<_>>();
        assert_eq!(c(true), ["cpuset", "io"]);
        assert_eq!(c(false), ["cpuset", "blkio", "devices"]);
        let u = Limits {
            unified: vec![("memory.high".into(), "1".into())],
            ..Limits::default()
        };
        assert!(u.check_layout(true).is_ok());
        let e = u.check_layout(false).unwrap_err().msg.clone();
        assert!(
            e.starts_with("linux.resources.unified[\"memory.high\"]"),
            "{e}"
        );
        let s = Limits {
            swappiness: Some(10),
            ..Limits::default()
        };
        assert_eq!(
            s.check_layout(true).unwrap_err().msg,
            "linux.resources.memory.swappiness is not supported on cgroup v2"
        );
        assert!(s.check_layout(false).is_ok());
    }

    #[test]
    fn oci_paths() {
        let p = |path: Option<&str>, systemd| oci_path(path, systemd, "ctr1");
        assert_eq!(p(Some("/default/t2"), false).unwrap(), "/default/t2");
        assert_eq!(p(Some("//a/./b/../c/"), false).unwrap(), "/a/c");
        assert_eq!(p(Some("/../../x"), false).unwrap(), "/x");
        assert_eq!(p(Some("../../x"), false).unwrap(), "x");
        assert_eq!(p(Some("a/b"), false).unwrap(), "a/b");
        assert_eq!(p(None, false).unwrap(), "ctr1");
        assert_eq!(p(Some(""), false).unwrap(), "ctr1");
        for root in ["/", "..", "/a/..", "."] {
            let e = p(Some(root), false).unwrap_err().msg.clone();
            assert!(e.contains("names the root"), "{root}: {e}");
        }
        // systemd
        assert_eq!(
            p(Some("system.slice:docker:1234"), true).unwrap(),
            "/system.slice/docker-1234.scope"
        );
        assert_eq!(
            p(
                Some("kubepods-besteffort-pod12.slice:cri-containerd:abc"),
                true
            )
            .unwrap(),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope"
        );
        assert_eq!(p(Some(":p:n"), true).unwrap(), "/system.slice/p-n.scope");
        assert_eq!(p(Some("-.slice:p:n"), true).unwrap(), "/p-n.scope");
        assert_eq!(p(Some("a.slice::n"), true).unwrap(), "/a.slice/-n.scope");
        assert_eq!(
            p(Some("a.slice:p:b.slice"), true).unwrap(),
            "/a.slice/b.slice"
        );
        assert_eq!(p(None, true).unwrap(), "/system.slice/runc-ctr1.scope");
        for bad in [
            "a.slice:b",
            "a:b:c:d",
            "/x/y",
            "a.slice:p:",
            "a.slice:p:x/y",
        ] {
            let e = p(Some(bad), true).unwrap_err().msg.clone();
            assert_eq!(
                e,
                format!(
                    "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"{bad}\" instead"
                )
            );
        }
        for bad in [
            "a:p:n",
            "a--b.slice:p:n",
            "-a.slice:p:n",
            ".slice:p:n",
            "a-.slice:p:n",
        ] {
            let e = p(Some(bad), true).unwrap_err().msg.clone();
            assert!(e.starts_with("invalid slice name: "), "{bad}: {e}");
        }
    }

    #[test]
    fn oci_parents() {
        let own = "12:memory:/machine/m1\n3:cpu,cpuacct:/c\n1:name=systemd:/user.slice/s.scope\n0::/user.slice/u.scope\n";
        // Absolute: the same everywhere.
        assert_eq!(oci_parent("/a/b/c", own, None, true).unwrap(), "a/b");
        assert_eq!(oci_parent("/c", own, Some("memory"), false).unwrap(), "");
        // Relative: under crab-can's own cgroup; on a v2 host under its parent.
        assert_eq!(oci_parent("id", own, None, true).unwrap(), "user.slice");
        assert_eq!(
            oci_parent("x/id", own, None, false).unwrap(),
            "user.slice/u.scope/x"
        );
        assert_eq!(
            oci_parent("id", own, Some("memory"), false).unwrap(),
            "machine/m1"
        );
        assert_eq!(
            oci_parent("id", own, Some("cpu,cpuacct"), false).unwrap(),
            "c"
        );
        assert_eq!(
            oci_parent("id", own, Some("systemd"), false).unwrap(),
            "user.slice/s.scope"
        );
        assert_eq!(oci_parent("id", "0::/\n", None, true).unwrap(), "");
        let e = oci_parent("id", own, Some("pids"), false)
            .unwrap_err()
            .msg
            .clone();
        assert!(e.contains("no line for the pids hierarchy"), "{e}");
    }

    #[test]
    fn targets() {
        let t = Target {
            base: "/sys/fs/cgroup/memory".into(),
            parent: String::new(),
            role: Role::V1("memory".into()),
        };
        assert_eq!(t.path("n"), "/sys/fs/cgroup/memory/n");
        let t = Target {
            parent: "a/b".into(),
            ..t
        };
        assert_eq!(t.path("n"), "/sys/fs/cgroup/memory/a/b/n");
        assert!(holds("cpu,cpuacct", "cpuacct"));
        assert!(!holds("cpu,cpuacct", "cpuset"));
        assert!(inside_root("/sys/fs/cgroup/memory/x"));
        assert!(!inside_root("/sys/fs/cgroup/../x"));
        assert!(!inside_root("/sys/fs/cgroupx"));
        assert_eq!(Amount::Max.v1(), "-1");
        assert_eq!(Amount::Max.v2(), "max");
        assert_eq!(Amount::Of(5).v1(), "5");
    }

    /// A shell of the test's own: its pid, and the pipes to its stdin and from its stdout.
    struct Shell {
        pid: rustix::process::Pid,
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        reaped: bool,
    }

    impl Shell {
        /// Whether it has ended (and is reaped), without waiting.
        fn ended(&mut self) -> bool {
            use rustix::process::WaitOptions;
            if !self.reaped {
                self.reaped = rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG)
                    .map_or(true, |r| r.is_some());
            }
            self.reaped
        }
    }

    /// What a failed assertion would leave: the test's processes and directories.
    struct Leftovers {
        leaves: Vec<String>,
        children: Vec<Shell>,
    }

    impl Drop for Leftovers {
        fn drop(&mut self) {
            for c in &mut self.children {
                if !c.reaped {
                    let _ = rustix::process::kill_process(c.pid, rustix::process::Signal::KILL);
                    let _ = rustix::process::waitpid(
                        Some(c.pid),
                        rustix::process::WaitOptions::empty(),
                    );
                }
            }
            for leaf in &self.leaves {
                let _ = rustix::fs::unlinkat(
                    rustix::fs::CWD,
                    leaf.as_str(),
                    rustix::fs::AtFlags::REMOVEDIR,
                );
                if let Some((parent, _)) = leaf.rsplit_once('/') {
                    let _ = rustix::fs::unlinkat(
                        rustix::fs::CWD,
                        parent,
                        rustix::fs::AtFlags::REMOVEDIR,
                    );
                }
            }
        }
    }

    /// A shell of the test's own, moved into the container's cgroups, that reports what
    /// the device rules let it open once told to go on, then sleeps.
    fn spawn_into(cg: &Cgroup, left: &mut Leftovers) -> (i32, usize) {
        use rustix::pipe::{PipeFlags, pipe_with};
        let script = c"read x; head -c1 /dev/zero >/dev/null && echo zero-ok; \
                 if { true </dev/kmsg; } 2>/dev/null; then echo kmsg-open; else echo kmsg-denied; fi; \
                 exec sleep 30";
        let (in_r, in_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let (out_r, out_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let pid = crate::sys::testing::spawn_sh(
            script,
            [in_r.as_fd(), out_w.as_fd(), rustix::stdio::stderr()],
        );
        drop((in_r, out_w));
        cg.join(pid.as_raw_nonzero().get(), false).unwrap();
        left.children.push(Shell {
            pid,
            stdin: Some(in_w),
            stdout: out_r,
            reaped: false,
        });
        (pid.as_raw_nonzero().get(), left.children.len() - 1)
    }

    fn go_on(left: &mut Leftovers, i: usize) -> String {
        let c = &mut left.children[i];
        let stdin = c.stdin.take().unwrap();
        assert_eq!(rustix::io::write(&stdin, b"\n"), Ok(1));
        drop(stdin);
        let mut text = Vec::new();
        let mut buf = [0u8; 64];
        while text.iter().filter(|&&b| b == b'\n').count() < 2 {
            match rustix::io::read(&c.stdout, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8(text).unwrap()
    }

    fn died(left: &mut Leftovers, i: usize) -> bool {
        let c = &mut left.children[i];
        for _ in 0..300 {
            if c.ended() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    }

    /// The OCI placement, limits, device rules, signals, freezer and removal on this
    /// host's cgroups (as root; skipped elsewhere). Everything is made under a parent of
    /// the test's own at the top of each hierarchy and removed at the end.
    #[test]
    fn oci_cgroup_on_this_host() {
        let layout = detect();
        if !rustix::process::geteuid().is_root() || layout == Layout::None {
            eprintln!("SKIP: oci_cgroup_on_this_host: needs root and a cgroup filesystem");
            return;
        }
        let v2 = layout == Layout::V2;
        let id = crate::sys::testing::pid();
        let path = format!("/crab-can-unit-{id}/c1");
        let limits = Limits {
            memory: Some(Amount::Of(64 << 20)),
            memory_swap: Some(Amount::Of(128 << 20)),
            memory_low: Some(Amount::Of(32 << 20)),
            cpu_shares: Some(512),
            cpu_quota: Some(Amount::Of(50_000)),
            cpu_period: Some(100_000),
            cpus: Some("0".into()),
            pids: Some(Amount::Of(50)),
            devices: Some(devices::with_defaults(Vec::new())),
            ..Limits::default()
        };
        let p = Placement::oci(&path, &limits).unwrap();
        let paths: Vec<String> = p.paths().collect();
        let mut left = Leftovers {
            leaves: paths.clone(),
            children: Vec::new(),
        };
        if v2 {
            assert_eq!(paths, [format!("{ROOT}/crab-can-unit-{id}/c1")]);
        } else {
            // The v2 tree when there is one (then only the v1 hierarchies of the limits:
            // the device rules are the v2 tree's program), else every v1 hierarchy.
            let unified = layout == Layout::Hybrid { unified: true };
            let hs: Vec<String> = v1_hierarchies()
                .into_iter()
                .filter(|h| {
                    !unified
                        || ["memory", "cpu", "cpuset", "pids"]
                            .iter()
                            .any(|c| holds(h, c))
                })
                .collect();
            assert_eq!(hs.iter().any(|h| h == "devices"), !unified, "{hs:?}");
            assert_eq!(paths.len(), hs.len() + usize::from(unified));
            for h in hs {
                assert!(
                    paths.contains(&format!("{ROOT}/{h}/crab-can-unit-{id}/c1")),
                    "{h}"
                );
            }
        }
        let cg = Cgroup::create(&p, &limits).unwrap();
        cg.device_program(&limits).unwrap();
        let read = |ctrl: &str, file: &str| {
            let dir = if v2 {
                paths[0].clone()
            } else {
                let h = v1_hierarchies()
                    .into_iter()
                    .find(|h| holds(h, ctrl))
                    .unwrap();
                format!("{ROOT}/{h}/crab-can-unit-{id}/c1")
            };
            std::fs::read_to_string(format!("{dir}/{file}"))
                .unwrap_or_else(|e| panic!("{dir}/{file}: {e}"))
                .trim()
                .to_string()
        };
        if v2 {
            assert_eq!(read("memory", "memory.max"), (64u64 << 20).to_string());
            assert_eq!(read("memory", "memory.low"), (32u64 << 20).to_string());
            assert_eq!(read("cpu", "cpu.weight"), cpu_weight(512).to_string());
            assert_eq!(read("cpu", "cpu.max"), "50000 100000");
        } else {
            assert_eq!(
                read("memory", "memory.limit_in_bytes"),
                (64u64 << 20).to_string()
            );
            assert_eq!(
                read("memory", "memory.soft_limit_in_bytes"),
                (32u64 << 20).to_string()
            );
            if std::path::Path::new(&format!("{ROOT}/memory/memory.memsw.limit_in_bytes")).exists()
            {
                assert_eq!(
                    read("memory", "memory.memsw.limit_in_bytes"),
                    (128u64 << 20).to_string()
                );
            }
            assert_eq!(read("cpu", "cpu.shares"), "512");
            assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
            // Not given: copied from the parent (else no process could join).
            assert!(!read("cpuset", "cpuset.mems").is_empty());
            if layout != (Layout::Hybrid { unified: true }) {
                let list = read("devices", "devices.list");
                assert!(
                    list.contains("c 1:3 rwm") && !list.contains("a *:* rwm"),
                    "{list}"
                );
            }
        }
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
        assert_eq!(read("pids", "pids.max"), "50");

        // The leaf must be new.
        let p2 = Placement::oci(&path, &Limits::default()).unwrap();
        let e = Cgroup::create(&p2, &Limits::default())
            .err()
            .unwrap()
            .msg
            .clone();
        assert!(
            e.contains("already exists and crab-can did not make it"),
            "{e}"
        );

        let dirs: Vec<(String, u64)> = cg.dirs().map(|(p, i)| (p.to_string(), i)).collect();
        assert_eq!(dirs.iter().map(|d| d.0.clone()).collect::<Vec<_>>(), paths);
        // The same paths with other inodes: a directory made again by someone else.
        let wrong: Vec<(String, u64)> = dirs.iter().map(|(p, i)| (p.clone(), i + 1)).collect();
        // Without the v2 directory (and so without cgroup.kill): the v1 way.
        let v1_only: Vec<(String, u64)> = dirs
            .iter()
            .filter(|d| !v2 && !d.0.starts_with(&format!("{ROOT}/unified/")))
            .cloned()
            .collect();

        // A process in it: listed, limited to the allowed devices, frozen and thawed.
        let (pid, a) = spawn_into(&cg, &mut left);
        assert!(procs(&dirs).contains(&pid));
        assert!(procs(&wrong).is_empty());
        assert_eq!(go_on(&mut left, a), "zero-ok\nkmsg-denied\n");
        assert!(!is_frozen(&dirs));
        set_frozen(&dirs, true).unwrap();
        assert!(is_frozen(&dirs));
        assert!(!is_frozen(&wrong));
        set_frozen(&dirs, false).unwrap();
        assert!(!is_frozen(&dirs));
        // Never through a directory that is not the recorded one.
        signal_all(&wrong, libc::SIGKILL).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!left.children[a].ended());
        // Another signal: to every process (the shell is sleep by now).
        signal_all(&dirs, libc::SIGTERM).unwrap();
        assert!(died(&mut left, a));
        assert!(procs(&dirs).is_empty());

        // SIGKILL through cgroup.kill where there is a v2 directory, of a running and of a
        // frozen (paused) container.
        for freeze_first in [false, true] {
            let (_, b) = spawn_into(&cg, &mut left);
            go_on(&mut left, b);
            if freeze_first {
                set_frozen(&dirs, true).unwrap();
            }
            signal_all(&dirs, libc::SIGKILL).unwrap();
            assert!(died(&mut left, b), "frozen: {freeze_first}");
            assert!(!is_frozen(&dirs));
        }
        if !v1_only.is_empty() {
            // SIGKILL the v1 way, of a running and of a frozen container (frozen only when
            // the v1 freezer is among them: else nothing of v1 could thaw it).
            let v1_freezer = v1_only.iter().any(|d| d.0.contains("/freezer/"));
            for freeze_first in [false, true] {
                if freeze_first && !v1_freezer {
                    continue;
                }
                let (_, c) = spawn_into(&cg, &mut left);
                go_on(&mut left, c);
                if freeze_first {
                    set_frozen(&dirs, true).unwrap();
                }
                signal_all(&v1_only, libc::SIGKILL).unwrap();
                assert!(died(&mut left, c), "frozen: {freeze_first}");
                assert!(procs(&dirs).is_empty());
            }
        }

        // Removal with a process still in it and a sub-cgroup of the container's own.
        let (_, d) = spawn_into(&cg, &mut left);
        go_on(&mut left, d);
        let sub = format!("{}/sub", dirs[dirs.len() - 1].0);
        std::fs::create_dir(&sub).unwrap();
        let kept = cg.release();
        assert_eq!(kept, dirs);
        remove(&wrong).unwrap();
        assert!(std::path::Path::new(&sub).exists());
        remove(&kept).unwrap();
        assert!(died(&mut left, d));
        for (path, _) in &kept {
            assert!(!std::path::Path::new(path).exists(), "{path}");
        }
        // Gone is done.
        remove(&kept).unwrap();
    }
}
