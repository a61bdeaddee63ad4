//! The plan: everything the kernel will be told about one container, in two halves —
//! the container (namespaces, hostname, root, the ordered mount operations, the cgroup
//! and its limits) and the process (argv and its PATH candidates, environment, working
//! directory, user, capability sets, rlimits, no_new_privs, seccomp program, terminal).
//!
//! Every front end builds the same plan; the docker-like command line does it here
//! ([`from_cli`]), putting Docker's defaults in as data (its capabilities, masked paths,
//! `/dev` list and seccomp profile). The parent prepares what needs the host (IMAGE's
//! handle, volumes as detached mount trees) and the child only walks the plan: no parsing,
//! no allocation after the clone.

use crate::cgroup::Limits;
use crate::cli::{Net, Seccomp, Spec};
use crate::error::{Error, Failure, Result, Step};
use crate::rootfs::{self, DevNode, MountOp, NODEV, NOEXEC, NOSUID, RDONLY, Root};
use crate::security::{Capabilities, Privileges};
use crate::{seccomp, security, user};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::termios::Winsize;
use std::cell::OnceCell;
use std::ffi::{CString, OsStr, OsString, c_char};
use std::os::unix::ffi::OsStrExt;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A null-terminated array of C strings, as execve wants it.
pub struct CStrings {
    _owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl CStrings {
    pub fn new(items: Vec<CString>) -> CStrings {
        let mut ptrs: Vec<*const c_char> = Vec::new();
        for s in &items {
            ptrs.push(s.as_ptr());
        }
        ptrs.push(std::ptr::null());
        CStrings {
            _owned: items,
            ptrs,
        }
    }
    pub fn as_ptrs(&self) -> &[*const c_char] {
        &self.ptrs
    }
    /// The strings as one line of words (for `ps`).
    pub fn words(&self) -> String {
        let mut out = String::new();
        for s in &self._owned {
            if !out.is_empty() {
                out.push(' ');
            }
            out += &s.to_string_lossy();
        }
        out
    }

    /// The strings, as text.
    pub fn strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self._owned {
            out.push(s.to_string_lossy().into_owned());
        }
        out
    }
}

pub struct Plan {
    pub container: ContainerPlan,
    pub process: ProcessPlan,
}

/// What makes the container: made once, by `container::create`.
pub struct ContainerPlan {
    pub name: String,
    /// The namespaces to create (CLONE_NEW* flags). The child makes its mount namespace
    /// itself (after entering IMAGE by its handle) and its cgroup namespace once it is in
    /// its cgroups; the rest come with the clone.
    pub namespaces: u64,
    pub hostname: Vec<u8>,
    pub root: Root,
    /// Replayed in order after IMAGE became the root.
    pub mounts: Vec<MountOp>,
    /// The container's own cgroup, when one is asked for.
    pub cgroup: Option<CgroupPlan>,
    /// What only an OCI bundle asks for (the docker-like front end leaves it empty).
    pub extra: Extras,
}

/// The container half's OCI-only parts.
#[derive(Default)]
pub struct Extras {
    /// Namespaces joined by path (a pod's sandbox): joined by the child right after "go",
    /// except the PID one, which the parent joins before the clone (it applies to
    /// children only).
    pub join: Vec<(rustix::thread::LinkNameSpaceType, OwnedFd)>,
    pub domainname: Vec<u8>,
    /// `uid_map` and `gid_map` of a user namespace of the container's own, written by the
    /// parent before "go".
    pub id_maps: Option<crate::userns::IdMaps>,
    /// `/proc/self/timens_offsets` for a time namespace, written by the parent after its
    /// own `unshare` and before the clone (a time namespace takes effect for children).
    pub time_offsets: Option<String>,
    /// Written by the parent to `/proc/PID/oom_score_adj` of the init.
    pub oom_score_adj: Option<i32>,
}

pub struct CgroupPlan {
    /// Where the container's cgroup goes, relative to the cgroup root.
    pub parent: String,
    pub limits: Limits,
    /// OCI: where its directories go (`cgroupsPath`, resolved), decided by the front end,
    /// instead of `parent/name`.
    pub placement: Option<crate::cgroup::Placement>,
}

/// What runs in the container: the container's command, or (later) a process exec'd into it.
pub struct ProcessPlan {
    pub argv: CStrings,
    pub envp: CStrings,
    /// Full paths to try in order (the command itself when it holds a '/').
    pub exec_candidates: Vec<CString>,
    /// The command and the container's PATH as words, for error lines.
    pub command_display: String,
    pub path_display: String,
    /// The working directory (made by a `Workdir` mount operation when missing).
    pub cwd: CString,
    pub privileges: Privileges,
    pub rlimits: Vec<Rlimit>,
    pub seccomp: Option<seccomp::Filter>,
    /// A pseudo-terminal of the container's own, started at the caller's window size.
    pub terminal: Option<Terminal>,
    /// The command's umask (None: the 022 the root was built with).
    pub umask: Option<u32>,
    /// An LSM label for the exec: the `/proc/self/attr/...` file and what to write.
    pub lsm_exec: Option<(CString, Vec<u8>)>,
}

pub struct Rlimit {
    pub resource: rustix::process::Resource,
    pub limit: rustix::process::Rlimit,
}

pub struct Terminal {
    pub size: Option<Winsize>,
}

/// `a/b/c` → ["/a", "/a/b"] (the parents to create), for an absolute path.
pub fn parents(path: &str) -> Vec<CString> {
    let mut out = Vec::new();
    let mut acc = String::new();
    // Each component, once the next one is known not to be the last.
    let mut prev: Option<&str> = None;
    for c in path.split('/') {
        if c.is_empty() || c == "." {
            continue;
        }
        if let Some(p) = prev {
            acc.push('/');
            acc.push_str(p);
            out.push(cstring(acc.as_bytes()));
        }
        prev = Some(c);
    }
    out
}

pub fn cstring(b: &[u8]) -> CString {
    // Every input was checked for NUL bytes by the command line; strip any that slipped by.
    let mut v = Vec::with_capacity(b.len() + 1);
    for &c in b {
        if c != 0 {
            v.push(c);
        }
    }
    CString::new(v).unwrap_or_default()
}

/// The largest `/etc/passwd` or `/etc/group` read from IMAGE. The files are IMAGE's, so
/// whoever made IMAGE controls them: they are streamed (never held whole), and a file past
/// this size is refused rather than read at every run.
pub const MAX_IMAGE_FILE: u64 = 4 << 20;

/// Open a text file of IMAGE for reading, resolving every symlink inside IMAGE. Missing is
/// `None`. Anything but a regular file (a FIFO that would block, a device node, a
/// directory) or a file past [`MAX_IMAGE_FILE`] is refused: it is opened without blocking
/// and without becoming a controlling terminal, and checked before a byte is read.
pub fn open_in_image(image: &OwnedFd, display: &str, path: &str) -> Result<Option<user::Lines>> {
    let what = || format!("IMAGE '{display}': {path}");
    let fd = match rustix::fs::openat2(
        image.as_fd(),
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(Error::sys_msg(format_args!("cannot open {}", what()), e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::sys(what(), e))?;
    let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
    if kind != rustix::fs::FileType::RegularFile {
        return Err(Error::msg(format_args!(
            "{} is {}, not a regular file; refusing to read it",
            what(),
            file_kind(kind)
        )));
    }
    if st.st_size as u64 > MAX_IMAGE_FILE {
        return Err(Error::msg(format_args!(
            "{} is larger than {} ({} bytes); refusing to read it",
            what(),
            crate::cgroup::mib(MAX_IMAGE_FILE),
            st.st_size
        )));
    }
    Ok(Some(user::Lines::new(fd, MAX_IMAGE_FILE)))
}

fn file_kind(kind: rustix::fs::FileType) -> &'static str {
    use rustix::fs::FileType as T;
    match kind {
        T::Directory => "a directory",
        T::Fifo => "a FIFO",
        T::CharacterDevice => "a character device",
        T::BlockDevice => "a block device",
        T::Socket => "a socket",
        T::Symlink => "a symbolic link",
        _ => "not a regular file",
    }
}

/// Whether the environment's HOME comes from `-e` (so IMAGE's passwd is not needed for it).
fn home_from_env(env: &[(OsString, Option<OsString>)]) -> bool {
    env.iter()
        .any(|(k, v)| k == "HOME" && (v.is_some() || crate::sys::var_os("HOME").is_some()))
}

/// The environment block: the contract's base set, then every `-e` replacing by name.
pub fn environment(
    hostname: &str,
    home: &str,
    term: Option<OsString>,
    env: &[(OsString, Option<OsString>)],
    caller: impl Fn(&OsStr) -> Option<OsString>,
) -> Vec<(OsString, OsString)> {
    let mut out: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOSTNAME".into(), hostname.into()),
        ("HOME".into(), home.into()),
    ];
    if let Some(t) = term {
        out.push(("TERM".into(), t));
    }
    for (k, v) in env {
        let v = match v {
            Some(v) => v.clone(),
            None => match caller(k) {
                Some(v) => v,
                None => continue,
            },
        };
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k.clone(), v)),
        }
    }
    out
}

/// The paths execve will try for `cmd`, in order, as execvp would search `path`.
pub fn exec_candidates(cmd: &[u8], path: &[u8]) -> Vec<CString> {
    if cmd.contains(&b'/') {
        return vec![cstring(cmd)];
    }
    let mut out = Vec::new();
    for dir in path.split(|&c| c == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut p = dir.to_vec();
        if !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(cmd);
        out.push(cstring(&p));
    }
    out
}

fn random_name() -> Result<String> {
    let mut b = [0u8; 6];
    rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| Error::sys("cannot read random bytes for the container name", e))?;
    let mut name = String::new();
    for x in b {
        for d in [x >> 4, x & 15] {
            name.push(char::from(b"0123456789abcdef"[usize::from(d)]));
        }
    }
    Ok(name)
}

/// A host path to bind inside: a detached copy of its mount tree made here (as root), or
/// left to the child (rootless: [`rootfs::Volume`]), with the path's status and its
/// mount's flags.
pub fn host_tree(
    path: &str,
    recursive: bool,
) -> std::result::Result<(OnceCell<OwnedFd>, rustix::fs::Stat, u32), Errno> {
    use rustix::mount::OpenTreeFlags as T;
    if crate::userns::rootless() {
        let st = rustix::fs::stat(path)?;
        let vfs = rustix::fs::statvfs(path)?;
        return Ok((OnceCell::new(), st, rootfs::mount_flags_of(&vfs)));
    }
    let mut flags = T::OPEN_TREE_CLONE | T::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= T::AT_RECURSIVE;
    }
    let tree = rustix::mount::open_tree(CWD, path, flags)?;
    let st = rustix::fs::fstat(&tree)?;
    let vfs = rustix::fs::fstatvfs(&tree)?;
    Ok((tree.into(), st, rootfs::mount_flags_of(&vfs)))
}

/// A volume, ready to attach: the host path as a detached copy of its mount tree.
fn plan_volume(v: &crate::cli::Volume) -> Result<rootfs::Volume> {
    let (tree, st, src_flags) = host_tree(&v.src, true).map_err(|e| {
        Error::sys_msg(
            format_args!("cannot copy the mount tree of volume source '{}'", v.src),
            e,
        )
    })?;
    let dst = v.dst.trim_end_matches('/');
    Ok(rootfs::Volume {
        tree,
        src: cstring(v.src.as_bytes()),
        src_display: v.src.clone(),
        src_is_dir: rustix::fs::FileType::from_raw_mode(st.st_mode)
            == rustix::fs::FileType::Directory,
        // Rootless, every flag of the source's mount is locked (a remount keeps them).
        src_flags: src_flags
            & if crate::userns::rootless() {
                !0
            } else {
                NOSUID | NODEV | NOEXEC
            },
        dst: cstring(dst.as_bytes()),
        dst_parents: parents(dst),
        read_only: v.read_only,
        ro_tree: v.read_only,
        flags: NODEV,
        propagation: 0,
    })
}

/// Open IMAGE once, as a handle that every later use goes through, and check it: a
/// directory, not the host's own root (by device and inode, whatever path led there), with
/// its mount points. Returns the root and IMAGE's mount flags.
pub fn open_image(image: &OsStr, display: &str) -> Result<(Root, rustix::fs::StatVfs)> {
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        image,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => Error::msg(format_args!("IMAGE '{display}' does not exist")),
        Errno::NOTDIR => Error::msg(format_args!("IMAGE '{display}' is not a directory")),
        e => Error::sys_msg(format_args!("IMAGE '{display}'"), e),
    })?;
    let st =
        rustix::fs::fstat(&fd).map_err(|e| Error::sys_msg(format_args!("IMAGE '{display}'"), e))?;
    let root = rustix::fs::statat(rustix::fs::CWD, "/", rustix::fs::AtFlags::empty())
        .map_err(|e| Error::sys("cannot inspect '/'", e))?;
    if (st.st_dev, st.st_ino) == (root.st_dev, root.st_ino) {
        return Err(Error::msg(format_args!(
            "IMAGE '{display}' is the host's own root directory; give a root filesystem directory"
        )));
    }
    for mp in ["proc", "dev", "sys"] {
        rootfs::mount_point(&fd, display, mp)?;
    }
    let vfs = rustix::fs::fstatvfs(&fd)
        .map_err(|e| Error::sys_msg(format_args!("IMAGE '{display}'"), e))?;
    Ok((
        Root {
            image: fd,
            display: display.to_string(),
        },
        vfs,
    ))
}

// ---- Docker's defaults, as data the docker-like front end puts into the plan -------------

/// Docker's default capabilities for root inside.
pub const DOCKER_CAPS: [&str; 14] = [
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

/// Character devices of `/dev`: (name, major, minor), all mode 0666.
pub const DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Symbolic links of `/dev`: (link, target).
pub const DEV_LINKS: [(&str, &str); 5] = [
    ("/dev/ptmx", "pts/ptmx"),
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
];

/// Kernel files that leak host information or control the host: hidden behind /dev/null.
pub const MASKED_FILES: [&str; 6] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
];

/// Kernel directories hidden behind an empty read-only tmpfs: those of `/proc`, then those
/// of `/sys`.
pub const MASKED_DIRS: [&str; 3] = ["/proc/acpi", "/proc/asound", "/proc/scsi"];
pub const MASKED_SYS_DIRS: [&str; 2] = ["/sys/firmware", "/sys/devices/virtual/powercap"];

/// Kernel paths that stay visible but read-only.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn fs(fstype: &str, target: &str, flags: u32, data: Option<&str>, make_target: bool) -> MountOp {
    MountOp::Fs {
        fstype: cstring(fstype.as_bytes()),
        target: cstring(target.as_bytes()),
        flags,
        data: data.map(|d| cstring(d.as_bytes())),
        make_target,
    }
}

/// The docker-like mount list: a fresh `/proc`, the small `/dev` with its own devpts, shm
/// and mqueue, the masks and read-only paths of `/proc`, a read-only `/sys` and its masks,
/// the volumes, the working directory, and last the root's own flags.
/// `gid5`: devpts gives new terminals group 5 (tty), which must be mapped (rootless).
/// `host_sys`: the host's `/sys`, bound read-only instead of a sysfs of the container's own
/// (rootless with the host's network: the kernel mounts a sysfs only for the owner of the
/// network namespace).
pub fn docker_mounts(
    volumes: Vec<rootfs::Volume>,
    workdir: &str,
    root_flags: u32,
    gid5: bool,
    host_sys: Option<rootfs::Volume>,
) -> Vec<MountOp> {
    let mut ops = vec![
        fs("proc", "/proc", NOSUID | NODEV | NOEXEC, None, false),
        MountOp::Dev {
            data: cstring(b"mode=755,size=65536k"),
            nodes: DEVICES
                .iter()
                .map(|(name, major, minor)| DevNode {
                    path: cstring(format!("/dev/{name}").as_bytes()),
                    name: cstring(name.as_bytes()),
                    major: *major,
                    minor: *minor,
                })
                .collect(),
        },
        fs(
            "devpts",
            "/dev/pts",
            NOSUID | NOEXEC,
            Some(if gid5 {
                "newinstance,ptmxmode=0666,mode=0620,gid=5"
            } else {
                "newinstance,ptmxmode=0666,mode=0620"
            }),
            true,
        ),
        fs(
            "tmpfs",
            "/dev/shm",
            NOSUID | NODEV | NOEXEC,
            Some("mode=1777,size=65536k"),
            true,
        ),
        fs("mqueue", "/dev/mqueue", NOSUID | NODEV | NOEXEC, None, true),
    ];
    ops.extend(DEV_LINKS.iter().map(|(link, target)| MountOp::Symlink {
        target: cstring(target.as_bytes()),
        link: cstring(link.as_bytes()),
    }));
    let path = |p: &str| cstring(p.as_bytes());
    ops.extend(
        MASKED_FILES
            .iter()
            .map(|p| MountOp::MaskFile { path: path(p) }),
    );
    ops.extend(
        MASKED_DIRS
            .iter()
            .map(|p| MountOp::MaskDir { path: path(p) }),
    );
    ops.extend(
        READONLY_PATHS
            .iter()
            .map(|p| MountOp::ReadOnly { path: path(p) }),
    );
    // /sys late: its network namespace may still be in the making ([`crate::net`]).
    ops.push(match host_sys {
        Some(v) => MountOp::Volume(v),
        None => fs(
            "sysfs",
            "/sys",
            NOSUID | NODEV | NOEXEC | RDONLY,
            None,
            false,
        ),
    });
    for p in MASKED_SYS_DIRS {
        ops.push(MountOp::MaskDir { path: path(p) });
    }
    ops.extend(volumes.into_iter().map(MountOp::Volume));
    ops.push(MountOp::Workdir {
        path: cstring(workdir.as_bytes()),
        parents: parents(workdir),
    });
    ops.push(MountOp::RemountRoot { flags: root_flags });
    ops
}

/// The docker-like capability sets: `set` bounds the command; root holds it, a non-root
/// user holds nothing (no ambient capabilities).
pub fn docker_capabilities(set: u64, uid: u32) -> Capabilities {
    let held = if uid == 0 { set } else { 0 };
    Capabilities {
        bounding: set,
        effective: held,
        permitted: held,
        inheritable: 0,
        ambient: 0,
    }
}

/// Every namespace a container gets; the network one unless `--net host`.
pub fn docker_namespaces(net: Net) -> u64 {
    let mut ns = (libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWCGROUP) as u64;
    if net == Net::None {
        ns |= libc::CLONE_NEWNET as u64;
    }
    ns
}

/// A cgroup only when one is asked for: a limit, or `--cgroup-parent`. Without them the
/// PID namespace already holds (and at the end kills) every process of the container, and
/// a cgroup would cost the start path about 0.9 ms (README, Performance).
pub fn cgroup_plan(limits: Limits, parent: Option<&str>) -> Option<CgroupPlan> {
    (limits.any() || parent.is_some()).then(|| CgroupPlan {
        parent: parent.unwrap_or(crate::cgroup::DEFAULT_PARENT).to_string(),
        limits,
        placement: None,
    })
}

/// The docker-like front end: turn what the user asked for into the plan.
pub fn from_cli(spec: &Spec) -> Result<Plan> {
    let image_str = spec.image.to_string_lossy().into_owned();
    let (root, image_vfs) = open_image(&spec.image, &image_str)?;
    let name = match &spec.name {
        Some(n) => n.clone(),
        None => random_name()?,
    };
    let hostname = spec.hostname.clone().unwrap_or_else(|| name.clone());
    let user = resolve_user(spec.user.as_deref(), !home_from_env(&spec.env), &root)?;
    let env = environment(
        &hostname,
        &user.home,
        crate::sys::var_os("TERM"),
        &spec.env,
        crate::sys::var_os,
    );
    let (envp, path) = env_block(&env);
    let argv = argv_of(&spec.command);
    let workdir = spec.workdir.clone().unwrap_or_else(|| "/".into());

    // Rootless: a user namespace of the container's own, whose root holds every capability
    // there, and the caller's ids (and subordinate range) mapped.
    let rootless = crate::userns::rootless();
    let id_maps = rootless.then(crate::userns::caller_maps);
    if let Some(maps) = &id_maps {
        for (id, gid, what) in [(user.uid, false, "user"), (user.gid, true, "group")] {
            if !maps.maps(id, gid) {
                return Err(Error::msg(format_args!(
                    "{what} {id} is not mapped: unprivileged runs map only your own uid (as \
                     root); add a range for your user in /etc/subuid and /etc/subgid and install \
                     newuidmap (package uidmap)"
                )));
            }
        }
    }
    let mut default_caps = 0;
    for n in DOCKER_CAPS {
        default_caps |= security::parse_cap(n, "")?;
    }
    let caps = security::capability_set(
        default_caps,
        &spec.cap_add,
        &spec.cap_drop,
        if rootless {
            security::ALL_CAPS
        } else {
            security::held_capabilities()
        },
    )?;
    let seccomp = match spec.seccomp {
        Seccomp::Default => Some(seccomp::Filter::default_profile(if user.uid == 0 {
            caps
        } else {
            0
        })),
        Seccomp::Unconfined => None,
    };
    let mut volumes = Vec::new();
    for v in &spec.volumes {
        volumes.push(plan_volume(v)?);
    }

    let mut root_flags = (rootfs::mount_flags_of(&image_vfs) | NODEV) & !RDONLY;
    if spec.read_only
        || image_vfs
            .f_flag
            .contains(rustix::fs::StatVfsMountFlags::RDONLY)
    {
        root_flags |= RDONLY;
    }
    let limits = Limits::docker(spec.memory, spec.cpu_quota, spec.pids);
    let cgroup = cgroup_plan(limits, spec.cgroup_parent.as_deref());
    if rootless && spec.cgroup_parent.is_some() {
        return Err(Error::new(
            "--cgroup-parent is not supported when not root: the container's cgroup goes in \
             crab-can's own delegated cgroup",
        ));
    }
    let mut namespaces = docker_namespaces(spec.net);
    if rootless {
        namespaces |= libc::CLONE_NEWUSER as u64;
    }
    let gid5 = id_maps.as_ref().is_none_or(|m| m.maps(5, true));
    let host_sys = match (rootless, spec.net) {
        (true, Net::Host) => {
            let mut v = plan_volume(&crate::cli::Volume {
                src: "/sys".into(),
                dst: "/sys".into(),
                read_only: true,
            })?;
            v.flags |= NOSUID | NOEXEC;
            Some(v)
        }
        _ => None,
    };
    let terminal = crate::tty::wanted(spec.no_tty).then(|| Terminal {
        size: crate::tty::caller_size(),
    });
    Ok(Plan {
        container: ContainerPlan {
            name,
            namespaces,
            hostname: hostname.into_bytes(),
            root,
            mounts: docker_mounts(volumes, &workdir, root_flags, gid5, host_sys),
            cgroup,
            extra: Extras {
                id_maps,
                ..Extras::default()
            },
        },
        process: ProcessPlan {
            exec_candidates: exec_candidates(spec.command[0].as_bytes(), &path),
            argv,
            envp,
            command_display: spec.command[0].to_string_lossy().into_owned(),
            path_display: String::from_utf8_lossy(&path).into_owned(),
            cwd: cstring(workdir.as_bytes()),
            privileges: Privileges {
                uid: user.uid,
                gid: user.gid,
                groups: Vec::new(),
                caps: docker_capabilities(caps, user.uid),
                no_new_privs: true,
            },
            rlimits: Vec::new(),
            seccomp,
            terminal,
            umask: None,
            lsm_exec: None,
        },
    })
}

/// The command and its arguments as C strings, for `run` and `exec`.
fn argv_of(command: &[OsString]) -> CStrings {
    CStrings::new(command.iter().map(|a| cstring(a.as_bytes())).collect())
}

/// The command's environment as `KEY=VALUE` strings, and its `PATH` (empty when unset),
/// for `run` and `exec`.
fn env_block(env: &[(OsString, OsString)]) -> (CStrings, Vec<u8>) {
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes().to_vec())
        .unwrap_or_default();
    let envp = env
        .iter()
        .map(|(k, v)| {
            let mut b = k.as_bytes().to_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            cstring(&b)
        })
        .collect();
    (CStrings::new(envp), path)
}

/// `USER[:GROUP]` (or root) against the files of `root`, one copy for every front end.
#[inline(never)]
fn resolve_user(spec: Option<&str>, need_home: bool, root: &Root) -> Result<user::User> {
    user::resolve(
        spec,
        need_home,
        || open_in_image(&root.image, &root.display, "/etc/passwd"),
        || open_in_image(&root.image, &root.display, "/etc/group"),
    )
}

/// The process half of an `exec`: the container's command's user, capabilities, seccomp
/// filter, working directory and environment (from its name socket's record), changed by
/// `-u`, `-w` and `-e`. `-u` names are looked up in the container's own files, through
/// `root` (its init's root directory).
pub fn exec_process(
    r: &crate::state::Running,
    spec: &crate::cli::ExecSpec,
    root: &Root,
) -> Result<ProcessPlan> {
    let (uid, gid) = match &spec.user {
        None => (r.uid, r.gid),
        Some(u) => {
            let user = resolve_user(Some(u), false, root)?;
            (user.uid, user.gid)
        }
    };
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    for kv in &r.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        env.push((k.into(), v.into()));
    }
    for (k, v) in &spec.env {
        let Some(v) = v.clone().or_else(|| crate::sys::var_os(k)) else {
            continue;
        };
        match env.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v,
            None => env.push((k.clone(), v)),
        }
    }
    let (envp, path) = env_block(&env);
    let cmd = spec.command[0].as_bytes();
    let workdir = spec.workdir.as_deref().unwrap_or(&r.cwd);
    Ok(ProcessPlan {
        exec_candidates: exec_candidates(cmd, &path),
        argv: argv_of(&spec.command),
        envp,
        command_display: String::from_utf8_lossy(cmd).into_owned(),
        path_display: String::from_utf8_lossy(&path).into_owned(),
        cwd: cstring(workdir.as_bytes()),
        privileges: Privileges {
            uid,
            gid,
            groups: Vec::new(),
            caps: docker_capabilities(r.caps, uid),
            no_new_privs: true,
        },
        rlimits: Vec::new(),
        seccomp: r
            .seccomp
            .then(|| seccomp::Filter::default_profile(if uid == 0 { r.caps } else { 0 })),
        terminal: crate::tty::wanted(spec.no_tty || spec.detach).then(|| Terminal {
            size: crate::tty::caller_size(),
        }),
        umask: None,
        lsm_exec: None,
    })
}

/// A failure of the child as an error, in the terms of the plan it walked: the step and
/// the item of the plan it was about, the errno, and the exit code (126/127 for the
/// command, whose words already say why).
pub fn failure_error(plan: &Plan, f: &Failure) -> Error {
    let p = &plan.process;
    let c = &plan.container;
    let image = &c.root.display;
    let what = match f.step {
        Step::Mount
        | Step::Dev
        | Step::DevNode
        | Step::Symlink
        | Step::MaskFile
        | Step::MaskDir
        | Step::ReadOnly
        | Step::Volume
        | Step::VolumeReadOnly
        | Step::Workdir
        | Step::RemountRoot
        | Step::Node
        | Step::Propagation
        | Step::CgroupMount
        | Step::Sysctl => match c.mounts.get(f.arg as usize) {
            Some(op) => op.describe(f.step, f.item),
            None => format!(
                "cannot build the container's root (mount operation {})",
                f.arg
            ),
        },
        Step::ParentGone => "the container's init lost its parent".into(),
        Step::DeathSignal => {
            "cannot make the container's init die with crab-can (PR_SET_PDEATHSIG)".into()
        }
        Step::CgroupNs => "cannot create the cgroup namespace".into(),
        Step::JoinNs => match c.extra.join.get(f.arg as usize) {
            Some((kind, _)) => {
                use rustix::thread::LinkNameSpaceType as N;
                let name = match kind {
                    N::ProcessID => "PID",
                    N::Network => "network",
                    N::InterProcessCommunication => "IPC",
                    N::HostNameAndNISDomainName => "UTS",
                    N::ControlGroup => "cgroup",
                    _ => "other",
                };
                format!("cannot join the {name} namespace")
            }
            None => "cannot join a namespace".into(),
        },
        Step::AtGate => "the container's init reported no failure".into(),
        Step::Hostname => format!(
            "cannot set the hostname '{}'",
            String::from_utf8_lossy(&c.hostname)
        ),
        Step::NetNs => "cannot create the network namespace".into(),
        Step::Loopback => "cannot bring up the loopback interface".into(),
        Step::EnterImage => format!("cannot enter IMAGE '{image}'"),
        Step::MountNs => "cannot create the mount namespace".into(),
        Step::MakePrivate => "cannot make the mount namespace private".into(),
        Step::CopyImage => format!("cannot bind-mount IMAGE '{image}'"),
        Step::PivotRoot => format!("cannot pivot_root into IMAGE '{image}'"),
        Step::DetachOldRoot => "cannot detach the host's root after pivot_root".into(),
        Step::InitramfsRoot => {
            format!("cannot move IMAGE '{image}' over the initramfs root and chroot into it")
        }
        Step::EnterRoot => format!("cannot enter the root of IMAGE '{image}'"),
        Step::NotDumpable => "cannot make the init non-dumpable".into(),
        Step::StartGate => "the container's init lost its start signal".into(),
        Step::Signals => "cannot set up the init's signals".into(),
        Step::Fork => "cannot fork the command".into(),
        _ => return process_failure(p, f),
    };
    Error::with(f.exit_code(), what, Some(f.errno))
}

/// A failure of the process half (the container's command, or a process exec'd into
/// it), in the terms of its plan.
pub fn process_failure(p: &ProcessPlan, f: &Failure) -> Error {
    let why = crate::error::strerror(f.errno);
    let cmd = &p.command_display;
    let what = match f.step {
        Step::Exec => {
            let in_path = !cmd.contains('/');
            let msg = match f.errno {
                Errno::NOENT | Errno::NOTDIR if in_path => format!(
                    "cannot run '{cmd}': not found in the container's PATH ({})",
                    p.path_display
                ),
                Errno::NOENT | Errno::NOTDIR => {
                    format!("cannot run '{cmd}': {why} in the container")
                }
                Errno::NOEXEC => {
                    format!("cannot run '{cmd}': not an executable (neither ELF nor a #! script)")
                }
                Errno::ACCESS => format!(
                    "cannot run '{cmd}': permission denied (not executable, or a directory)"
                ),
                _ => format!("cannot run '{cmd}': {why}"),
            };
            return Error::with(f.exit_code(), msg, None);
        }
        Step::Lsm => "cannot set the process's security label".into(),
        Step::Session => "cannot give the command a session of its own".into(),
        Step::Terminal => "cannot give the command a pseudo-terminal".into(),
        Step::Chdir => format!(
            "cannot enter working directory '{}'",
            p.cwd.to_string_lossy()
        ),
        Step::Rlimit => "cannot set a resource limit".into(),
        Step::Bounding => format!("cannot drop CAP_{} from the bounding set", cap_name(f.item)),
        Step::Groups => "cannot set the supplementary groups".into(),
        Step::SetGid => format!("cannot switch to group {}", p.privileges.gid),
        Step::SetUid => format!("cannot switch to user {}", p.privileges.uid),
        Step::Capabilities => "cannot set the capabilities".into(),
        Step::Ambient => "cannot set the ambient capabilities".into(),
        Step::NoNewPrivs => "cannot set no_new_privs".into(),
        Step::Seccomp => "cannot load the seccomp filter".into(),
        Step::CgroupNs => "cannot join the container's cgroup namespace".into(),
        _ => "cannot set up the process".into(),
    };
    Error::with(f.exit_code(), what, Some(f.errno))
}

fn cap_name(cap: u16) -> String {
    security::CAP_NAMES
        .get(cap as usize)
        .map_or_else(|| cap.to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_block() {
        let e = environment(
            "h",
            "/root",
            Some("xterm".into()),
            &[
                ("A".into(), Some("1".into())),
                ("PATH".into(), Some("/x".into())),
                ("A".into(), Some("2".into())),
                ("FROM_CALLER".into(), None),
                ("UNSET".into(), None),
            ],
            |k| (k == "FROM_CALLER").then(|| "c".into()),
        );
        let got: Vec<String> = e
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        assert_eq!(
            got,
            [
                "PATH=/x",
                "HOSTNAME=h",
                "HOME=/root",
                "TERM=xterm",
                "A=2",
                "FROM_CALLER=c"
            ]
        );
        let e = environment("h", "/", None, &[], |_| None);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].1, DEFAULT_PATH);
    }

    #[test]
    fn candidates() {
        let c = |cmd: &str, path: &str| -> Vec<String> {
            exec_candidates(cmd.as_bytes(), path.as_bytes())
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(c("ls", "/bin:/usr/bin/"), ["/bin/ls", "/usr/bin/ls"]);
        assert_eq!(c("ls", "/bin::"), ["/bin/ls", "./ls", "./ls"]);
        assert_eq!(c("/bin/ls", "/x"), ["/bin/ls"]);
        assert_eq!(c("./run", "/x"), ["./run"]);
    }

    fn lossy(c: &CString) -> String {
        c.to_string_lossy().into_owned()
    }

    /// What each operation is, in words short enough to compare with a list.
    fn kind(op: &MountOp) -> String {
        match op {
            MountOp::Fs { fstype, target, .. } => format!("{} {}", lossy(fstype), lossy(target)),
            MountOp::Dev { nodes, .. } => format!("dev {}", nodes.len()),
            MountOp::Symlink { link, .. } => format!("link {}", lossy(link)),
            MountOp::MaskFile { path } => format!("maskfile {}", lossy(path)),
            MountOp::MaskDir { path } => format!("maskdir {}", lossy(path)),
            MountOp::ReadOnly { path } => format!("ro {}", lossy(path)),
            MountOp::Volume(v) => format!("volume {}", lossy(&v.dst)),
            MountOp::Workdir { path, .. } => format!("workdir {}", lossy(path)),
            MountOp::RemountRoot { flags } => format!("remount {flags:#x}"),
            MountOp::Mkdir { path, .. } => format!("mkdir {}", lossy(path)),
            MountOp::Node { path, .. } => format!("node {}", lossy(path)),
            MountOp::Mask { path } => format!("mask {}", lossy(path)),
            MountOp::Sysctl { path, .. } => format!("sysctl {}", lossy(path)),
            MountOp::Propagation { path, flags } => {
                format!("propagation {} {flags:#x}", lossy(path))
            }
            MountOp::Cgroup { target, .. } => format!("cgroup {}", lossy(target)),
        }
    }

    /// The container half: Docker's mount list, in the order the child replays it.
    #[test]
    fn docker_mount_list() {
        let ops = docker_mounts(Vec::new(), "/work/dir", NODEV | RDONLY, true, None);
        let got: Vec<String> = ops.iter().map(kind).collect();
        let want = [
            "proc /proc",
            "dev 6",
            "devpts /dev/pts",
            "tmpfs /dev/shm",
            "mqueue /dev/mqueue",
            "link /dev/ptmx",
            "link /dev/fd",
            "link /dev/stdin",
            "link /dev/stdout",
            "link /dev/stderr",
            "maskfile /proc/kcore",
            "maskfile /proc/keys",
            "maskfile /proc/latency_stats",
            "maskfile /proc/timer_list",
            "maskfile /proc/timer_stats",
            "maskfile /proc/sched_debug",
            "maskdir /proc/acpi",
            "maskdir /proc/asound",
            "maskdir /proc/scsi",
            "ro /proc/bus",
            "ro /proc/fs",
            "ro /proc/irq",
            "ro /proc/sys",
            "ro /proc/sysrq-trigger",
            "sysfs /sys",
            "maskdir /sys/firmware",
            "maskdir /sys/devices/virtual/powercap",
            "workdir /work/dir",
        ];
        assert_eq!(&got[..want.len()], want);
        assert_eq!(got.len(), want.len() + 1);
        let MountOp::RemountRoot { flags } = ops[ops.len() - 1] else {
            panic!("the root's remount is not last: {got:?}");
        };
        assert_eq!(flags, NODEV | RDONLY);
        // Mount points on crab-can's own /dev tmpfs are made first; /proc and /sys are IMAGE's.
        for op in &ops {
            if let MountOp::Fs {
                target,
                make_target,
                flags,
                ..
            } = op
            {
                assert_eq!(
                    *make_target,
                    lossy(target).starts_with("/dev/"),
                    "{}",
                    kind(op)
                );
                assert_ne!(flags & NOSUID, 0, "{} must be nosuid", kind(op));
            }
        }
        let MountOp::Dev { nodes, data } = &ops[1] else {
            panic!("no /dev")
        };
        assert_eq!(data.to_bytes(), b"mode=755,size=65536k");
        let devs: Vec<(String, String, u32, u32)> = nodes
            .iter()
            .map(|n| (lossy(&n.path), lossy(&n.name), n.major, n.minor))
            .collect();
        assert_eq!(devs[0], ("/dev/null".into(), "null".into(), 1, 3));
        assert_eq!(devs[5], ("/dev/tty".into(), "tty".into(), 5, 0));
        let MountOp::Workdir { parents, .. } = &ops[ops.len() - 2] else {
            panic!("no workdir")
        };
        assert_eq!(parents.iter().map(lossy).collect::<Vec<_>>(), ["/work"]);
    }

    /// The process half: Docker's capability sets for root and for another user.
    #[test]
    fn docker_capability_sets() {
        let mut set = 0;
        for n in DOCKER_CAPS {
            set |= security::parse_cap(n, "").unwrap();
        }
        assert_eq!(set, 0xa80425fb);
        let root = docker_capabilities(set, 0);
        assert_eq!(
            (
                root.bounding,
                root.effective,
                root.permitted,
                root.inheritable,
                root.ambient
            ),
            (set, set, set, 0, 0)
        );
        let user = docker_capabilities(set, 1000);
        assert_eq!(
            (user.bounding, user.effective, user.permitted, user.ambient),
            (set, 0, 0, 0)
        );
    }

    #[test]
    fn namespaces_and_cgroup() {
        let all = docker_namespaces(Net::None);
        for f in [
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWCGROUP,
            libc::CLONE_NEWNET,
        ] {
            assert_ne!(all & f as u64, 0, "{f:#x}");
        }
        assert_eq!(docker_namespaces(Net::Host) & libc::CLONE_NEWNET as u64, 0);
        let none = Limits::default();
        assert!(cgroup_plan(none.clone(), None).is_none());
        let p = cgroup_plan(none.clone(), Some("a/b")).unwrap();
        assert_eq!((p.parent.as_str(), p.limits), ("a/b", none));
        let mem = Limits::docker(Some(64 << 20), None, None);
        let p = cgroup_plan(mem.clone(), None).unwrap();
        assert_eq!((p.parent.as_str(), p.limits), ("crab-can", mem));
    }

    /// A small plan over a directory of the test's own (no root needed: no volumes).
    fn test_plan() -> Plan {
        let root = Root {
            image: rustix::fs::openat(
                rustix::fs::CWD,
                "/",
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap(),
            display: "img".into(),
        };
        Plan {
            container: ContainerPlan {
                name: "n".into(),
                namespaces: docker_namespaces(Net::None),
                hostname: b"h".to_vec(),
                root,
                mounts: docker_mounts(Vec::new(), "/w", NODEV, true, None),
                cgroup: None,
                extra: Extras::default(),
            },
            process: ProcessPlan {
                argv: CStrings::new(vec![cstring(b"ls")]),
                envp: CStrings::new(Vec::new()),
                exec_candidates: exec_candidates(b"ls", b"/bin"),
                command_display: "ls".into(),
                path_display: "/bin".into(),
                cwd: cstring(b"/w"),
                privileges: Privileges {
                    uid: 7,
                    gid: 8,
                    groups: Vec::new(),
                    caps: docker_capabilities(0, 7),
                    no_new_privs: true,
                },
                rlimits: Vec::new(),
                seccomp: None,
                terminal: None,
                umask: None,
                lsm_exec: None,
            },
        }
    }

    /// Every step of the child has words of its own, naming the plan's item where there
    /// is one, and the errno is kept for the printed line.
    #[test]
    fn every_failure_has_words() {
        let plan = test_plan();
        for &step in Step::ALL {
            let f = Failure {
                step,
                item: 0,
                arg: 0,
                errno: Errno::ACCESS,
            };
            let e = failure_error(&plan, &f);
            assert!(
                !e.msg.is_empty() && !e.msg.contains(&format!("{step:?}")),
                "{step:?}: {}",
                e.msg
            );
            assert_eq!(e.code, f.exit_code());
            let line = e.to_string();
            assert!(line.contains("ermission denied"), "{step:?}: {line}");
        }
        // A mount step names its operation.
        let at = |step, arg: usize, item| {
            failure_error(
                &plan,
                &Failure {
                    step,
                    item,
                    arg: arg as u32,
                    errno: Errno::NOENT,
                },
            )
            .msg
            .clone()
        };
        assert_eq!(at(Step::Mount, 0, 0), "cannot mount proc on /proc");
        assert_eq!(at(Step::DevNode, 1, 1), "cannot create device /dev/zero");
        assert_eq!(
            at(Step::MaskDir, 25, 0),
            "cannot mask kernel path /sys/firmware"
        );
        assert_eq!(
            at(Step::Bounding, 0, 21),
            "cannot drop CAP_SYS_ADMIN from the bounding set"
        );
        assert_eq!(at(Step::SetUid, 0, 0), "cannot switch to user 7");
        // The command's own words say why; no errno text is added.
        let e = failure_error(&plan, &Failure::of(Step::Exec)(Errno::NOENT));
        assert_eq!((e.code, e.errno), (127, None));
        assert!(
            e.to_string()
                .contains("not found in the container's PATH (/bin)")
        );
    }

    #[test]
    fn parent_dirs() {
        let p = |s: &str| -> Vec<String> {
            parents(s)
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(p("/a/b/c"), ["/a", "/a/b"]);
        assert_eq!(p("/a"), Vec::<String>::new());
        assert_eq!(p("/a//b/"), ["/a"]);
    }
}
