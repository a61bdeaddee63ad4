//! The container's root filesystem: IMAGE entered by the handle the parent checked, made
//! the root (`pivot_root`, or from an initramfs the move-and-chroot way), then the plan's
//! mount operations replayed in order — one arm per kind of operation, the way
//! bubblewrap's `setup_newroot` walks its `SetupOp` list.
//!
//! The list is data the front end made (`plan`); this module only replays it, in the
//! child: no allocation, no formatting. A failure is a [`Failure`] whose `arg` is the
//! operation's index, so the parent's words name the exact mount ([`MountOp::describe`]).
//! Also here: what the parent checks in IMAGE before the clone (its mount points).

use crate::error::{Error, Failure, Result, Step};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{CWD, FileType, Mode};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use std::ffi::{CStr, CString};

pub const NOSUID: u32 = libc::MS_NOSUID as u32;
pub const NODEV: u32 = libc::MS_NODEV as u32;
pub const NOEXEC: u32 = libc::MS_NOEXEC as u32;
pub const RDONLY: u32 = libc::MS_RDONLY as u32;
const BIND: u32 = libc::MS_BIND as u32;
const REC: u32 = libc::MS_REC as u32;
const REMOUNT: u32 = libc::MS_REMOUNT as u32;

/// The root: IMAGE as the handle it was checked through (`O_PATH`), and its name for
/// messages only (never looked up again).
pub struct Root {
    pub image: OwnedFd,
    pub display: String,
}

/// A device node of `/dev`: `path` inside the container, `name` within `/dev`.
pub struct DevNode {
    pub path: CString,
    pub name: CString,
    pub major: u32,
    pub minor: u32,
}

/// A host path to mount inside: a detached copy of its mount tree, made by the parent
/// (as root), or by the child before `pivot_root` when the parent may not (rootless: the
/// kernel lets only the owner of a mount namespace copy its mounts).
pub struct Volume {
    pub tree: std::cell::OnceCell<OwnedFd>,
    /// The host path the child copies when `tree` is empty (rootless).
    pub src: CString,
    pub src_display: String,
    pub src_is_dir: bool,
    /// The source mount's own flags (nosuid, nodev, noexec), kept on the remount.
    pub src_flags: u32,
    pub dst: CString,
    pub dst_parents: Vec<CString>,
    pub read_only: bool,
    /// Read-only throughout, the mounts below it too (the docker-like `:ro`, as Docker 25's;
    /// an OCI `ro` is the top mount only, as runc's).
    pub ro_tree: bool,
    /// More flags for the remount (an OCI bind's nosuid, noexec, ...); the docker-like
    /// front end always asks for nodev.
    pub flags: u32,
    /// An OCI bind's propagation (MS_SHARED, MS_SLAVE, ... with MS_REC), set after it.
    pub propagation: u32,
}

/// An OCI `cgroup` mount's parts: each hierarchy at `dir` under the target, mounted as
/// `fstype` with `data` from a cgroup namespace of its own, so it shows the container's
/// cgroup as its root.
pub struct CgroupPart {
    pub dir: CString,
    pub fstype: CString,
    pub data: Option<CString>,
}

/// One step of building the root, after IMAGE became it. Paths are inside the container.
pub enum MountOp {
    /// A kernel filesystem (proc, sysfs, tmpfs, devpts, mqueue) at `target`, which is made
    /// first when `make_target` (a mount point on a tmpfs of crab-can's own).
    Fs {
        fstype: CString,
        target: CString,
        flags: u32,
        data: Option<CString>,
        make_target: bool,
    },
    /// `/dev`: a tmpfs (`nodev`, with `data`) holding exactly `nodes`, each bound from a
    /// staging tmpfs that the real `/dev` then covers. A bind keeps the staging mount's
    /// device access, so the nodes open while a node the container makes itself with
    /// `mknod` (it may hold CAP_MKNOD) does not; the staging tmpfs is reachable by no path.
    Dev { data: CString, nodes: Vec<DevNode> },
    /// A symbolic link `link` → `target`.
    Symlink { target: CString, link: CString },
    /// A kernel file hidden behind `/dev/null` (skipped when the kernel lacks it).
    MaskFile { path: CString },
    /// A kernel directory hidden behind one empty read-only tmpfs: the first is mounted,
    /// the others are bind mounts of it (skipped when the kernel lacks it).
    MaskDir { path: CString },
    /// A kernel path that stays visible but read-only (skipped when missing).
    ReadOnly { path: CString },
    /// A volume, attached where its destination resolves inside the new root.
    Volume(Volume),
    /// A directory made with its parents when missing (the working directory).
    Workdir {
        path: CString,
        parents: Vec<CString>,
    },
    /// The root's own flags, last (nodev always; read-only with --read-only).
    RemountRoot { flags: u32 },
    /// A directory made with its parents when missing (an OCI mount's destination).
    Mkdir {
        path: CString,
        parents: Vec<CString>,
    },
    /// A device node (OCI `linux.devices` and the default ones), made unless it exists.
    Node {
        path: CString,
        kind: FileType,
        dev: u64,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// An OCI masked path: `/dev/null` over a file, an empty read-only tmpfs over a
    /// directory; skipped when missing.
    Mask { path: CString },
    /// A sysctl: `value` written to `path` under /proc/sys (before it turns read-only).
    Sysctl { path: CString, value: Vec<u8> },
    /// Mount propagation of `path` (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, with
    /// MS_REC).
    Propagation { path: CString, flags: u32 },
    /// An OCI `cgroup` mount: a tmpfs at `target` holding every hierarchy (cgroup v1), or
    /// the cgroup2 filesystem itself when `parts` is one part with an empty `dir`.
    Cgroup {
        target: CString,
        flags: u32,
        parts: Vec<CgroupPart>,
        links: Vec<(CString, CString)>,
    },
}

fn flags(f: u32) -> MountFlags {
    MountFlags::from_bits_retain(f)
}

/// Check IMAGE's mount point `name` (parent side, through IMAGE's handle): create it when
/// missing, refuse a symlink (it would lead the mount elsewhere) or a file.
pub fn mount_point(image: &OwnedFd, display: &str, name: &str) -> Result<()> {
    match rustix::fs::statat(image.as_fd(), name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Ok(()),
            FileType::Symlink => Err(Error::msg(format_args!(
                "IMAGE '{display}': /{name} is a symbolic link; refusing to mount over it"
            ))),
            _ => Err(Error::msg(format_args!(
                "IMAGE '{display}': /{name} is not a directory"
            ))),
        },
        Err(Errno::NOENT) => rustix::fs::mkdirat(image.as_fd(), name, Mode::from_raw_mode(0o755))
            .map_err(|e| {
                Error::sys_msg(
                    format_args!("IMAGE '{display}' has no /{name} and it cannot be created"),
                    e,
                )
            }),
        Err(e) => Err(Error::sys_msg(
            format_args!("IMAGE '{display}': cannot inspect /{name}"),
            e,
        )),
    }
}

/// Per-mount flags of a statvfs result, as MS_* bits for a bind remount.
pub fn mount_flags_of(st: &rustix::fs::StatVfs) -> u32 {
    use rustix::fs::StatVfsMountFlags as F;
    let mut f = 0;
    for (sv, ms) in [
        (F::NOSUID, libc::MS_NOSUID),
        (F::NODEV, libc::MS_NODEV),
        (F::NOEXEC, libc::MS_NOEXEC),
        (F::NOATIME, libc::MS_NOATIME),
        (F::NODIRATIME, libc::MS_NODIRATIME),
        (F::RELATIME, libc::MS_RELATIME),
        (F::RDONLY, libc::MS_RDONLY),
    ] {
        if st.f_flag.contains(sv) {
            f |= ms as u32;
        }
    }
    f
}

/// Replay `ops` in the root [`enter`] entered (those it made before `pivot_root` aside);
/// `before_sysfs` runs before a sysfs is mounted (the network namespace it shows must be
/// joined by then), and with `old_root` (left by [`enter`] only when `ops` has one) the
/// old root is detached after the last one.
/// Runs in the child.
#[inline(never)]
pub fn replay(
    ops: &[MountOp],
    userns: bool,
    cgroup_trees: &[(String, OwnedFd)],
    old_root: bool,
    before_sysfs: &dyn Fn() -> std::result::Result<(), Failure>,
) -> std::result::Result<(), Failure> {
    let mut walk = Walk {
        cgroup_trees,
        ..Walk::default()
    };
    let last_sysfs = ops.iter().rposition(is_sysfs);
    for (i, op) in ops.iter().enumerate() {
        if is_sysfs(op) {
            before_sysfs()?;
        }
        match op {
            // In a user namespace sysfs is mounted while the host's root is still in sight,
            // which then goes; proc and `/dev` were made before `pivot_root`.
            MountOp::Fs { target, .. } if userns && is_sysfs(op) => {
                kernel_mount(i, target, op)?;
                if old_root && Some(i) == last_sysfs {
                    // From the new root, where the operations left the working directory.
                    rustix::process::chdir(c"/").map_err(Failure::of(Step::DetachOldRoot))?;
                    detach_old_root()?;
                }
            }
            _ if userns && (kernel_view(op).is_some() || matches!(op, MountOp::Dev { .. })) => {}
            _ => walk.apply(i, op)?,
        }
    }
    rustix::process::umask(Mode::from_raw_mode(0o022));
    Ok(())
}

/// A sysfs mount, which shows the network namespace it is mounted in.
fn is_sysfs(op: &MountOp) -> bool {
    matches!(op, MountOp::Fs { fstype, .. } if fstype.to_bytes() == b"sysfs")
}

/// A proc or sysfs mount: in a user namespace the kernel mounts these only while a full
/// view of the same kind is visible in the mount namespace (the host's), so proc is made
/// before `pivot_root` there, and sysfs before the old root is detached. Returns the
/// target without its leading `/` (relative to the new root, entered by its fd).
fn kernel_view(op: &MountOp) -> Option<&CStr> {
    match op {
        MountOp::Fs { fstype, target, .. } if matches!(fstype.to_bytes(), b"proc" | b"sysfs") => {
            let b = target.to_bytes_with_nul();
            CStr::from_bytes_with_nul(b.strip_prefix(b"/").unwrap_or(b)).ok()
        }
        _ => None,
    }
}

/// IMAGE's handle as the working directory, in a mount namespace of the container's own,
/// private (nothing mounted in it propagates back): the first half of building the root.
///
/// IMAGE is entered through the handle the parent checked, never by its path: the child
/// `fchdir`s to it and then unshares the mount namespace, which moves its working
/// directory to this namespace's copy of the same mount. A copy of that directory
/// (`open_tree`, with everything mounted below it) is attached over it and entered by its
/// fd, and that is what `pivot_root` makes the root ([`enter`]). Swapping IMAGE's path for
/// a symlink to `/` at any moment after the check changes nothing.
pub fn own_namespace(root: &Root) -> std::result::Result<(), Failure> {
    rustix::process::fchdir(&root.image).map_err(Failure::of(Step::EnterImage))?;
    crate::sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWNS)
        .map_err(Failure::of(Step::MountNs))?;
    rustix::mount::mount_change(
        c"/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(Failure::of(Step::MakePrivate))
}

/// Whether `/` may be the kernel's rootfs (an initramfs: ramfs or tmpfs), which
/// `pivot_root` refuses, so that [`enter`] would take the initramfs way.
#[allow(clippy::unnecessary_cast)] // f_type is an i64 on x86_64, a u64 on aarch64
pub fn may_be_rootfs() -> bool {
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    rustix::fs::statfs(c"/").map_or(true, |s| {
        matches!(s.f_type as i64, RAMFS_MAGIC | TMPFS_MAGIC)
    })
}

/// The second half: IMAGE copied over itself and made the root (in a user namespace,
/// `ops`' proc and `/dev` made first, and the old root left for [`replay`] to detach
/// once it has mounted sysfs, see [`kernel_view`]). The umask is 0 until [`replay`]
/// ends.
#[inline(never)]
pub fn enter(ops: &[MountOp], userns: bool) -> std::result::Result<Entered, Failure> {
    let early = if userns { ops } else { &[] };
    use rustix::mount::{MoveMountFlags, OpenTreeFlags};
    rustix::process::umask(Mode::empty());
    let tree = rustix::mount::open_tree(
        CWD,
        c".",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(Failure::of(Step::CopyImage))?;
    rustix::mount::move_mount(
        tree.as_fd(),
        c"",
        CWD,
        c".",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(Failure::of(Step::CopyImage))?;
    rustix::process::fchdir(&tree).map_err(Failure::of(Step::CopyImage))?;
    drop(tree);
    for (i, op) in early.iter().enumerate() {
        match op {
            MountOp::Dev { data, nodes } => bind_dev(i, data, nodes)?,
            MountOp::Volume(v) if v.tree.get().is_none() => {
                let tree = rustix::mount::open_tree(
                    CWD,
                    &*v.src,
                    OpenTreeFlags::OPEN_TREE_CLONE
                        | OpenTreeFlags::OPEN_TREE_CLOEXEC
                        | OpenTreeFlags::AT_RECURSIVE,
                )
                .map_err(Failure::at(Step::Volume, i))?;
                let _ = v.tree.set(tree);
            }
            _ => {}
        }
        if let Some(rel) = kernel_view(op).filter(|_| !is_sysfs(op)) {
            kernel_mount(i, rel, op)?;
        }
    }
    let entered = match rustix::process::pivot_root(c".", c".") {
        // The old root now sits on top of the new one (paths from the root, which is the
        // new one, do not go through it): detach it and everything under it, so no path
        // leads back to the host. In a user namespace, once sysfs is mounted: the kernel
        // mounts one only while the host's is in sight ([`kernel_view`]).
        Ok(()) if userns && ops.iter().any(is_sysfs) => Entered {
            chrooted: false,
            old_root: true,
        },
        Ok(()) => {
            detach_old_root()?;
            Entered::default()
        }
        // The current root is the kernel's rootfs (an initramfs), which cannot be pivoted
        // away. Move IMAGE over it and chroot: IMAGE then sits on the root of the
        // namespace's first mount, whose ".." is itself, so no ".." walk leaves it.
        Err(Errno::INVAL) => {
            rustix::mount::mount_move(c".", c"/").map_err(Failure::of(Step::InitramfsRoot))?;
            rustix::process::chroot(c".").map_err(Failure::of(Step::InitramfsRoot))?;
            Entered {
                chrooted: true,
                old_root: false,
            }
        }
        Err(e) => return Err(Failure::of(Step::PivotRoot)(e)),
    };
    rustix::process::chdir(c"/").map_err(Failure::of(Step::EnterRoot))?;
    Ok(entered)
}

/// How [`enter`] entered the root.
#[derive(Default)]
pub struct Entered {
    /// The initramfs way: `chroot`, which moves the calling process only.
    pub chrooted: bool,
    /// The host's root still sits on top of the new one, until [`replay`] has mounted
    /// sysfs.
    pub old_root: bool,
}

/// Detach the old root, on top of the new one (the working directory) after
/// `pivot_root`, with all below it.
fn detach_old_root() -> std::result::Result<(), Failure> {
    rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(Failure::of(Step::DetachOldRoot))
}

/// Mount proc or sysfs ([`kernel_view`]) at `path`, made when IMAGE lacks it.
fn kernel_mount(i: usize, path: &CStr, op: &MountOp) -> std::result::Result<(), Failure> {
    let MountOp::Fs {
        fstype,
        flags: f,
        data,
        ..
    } = op
    else {
        return Ok(());
    };
    match rustix::fs::mkdirat(rustix::fs::CWD, path, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(Failure::at(Step::Mount, i)(e)),
    }
    rustix::mount::mount(&**fstype, path, &**fstype, flags(*f), data.as_deref())
        .map_err(Failure::at(Step::Mount, i))
}

/// What replaying the list remembers from one operation to the next.
#[derive(Default)]
struct Walk<'a> {
    /// The first masked directory: the others are bound from it.
    empty_dir: Option<&'a CStr>,
    /// `/dev/null` was checked to be the null device (before anything hides behind it).
    null_checked: bool,
    /// The container's cgroup directories, for a `cgroup` mount (`Cgroup::trees`).
    cgroup_trees: &'a [(String, OwnedFd)],
}

impl<'a> Walk<'a> {
    /// Hide a directory behind one empty read-only tmpfs (the first is mounted, the
    /// others are bind mounts of it); skipped when the kernel lacks it.
    fn mask_dir(&mut self, i: usize, path: &'a CStr) -> std::result::Result<(), Failure> {
        let r = match self.empty_dir {
            None => rustix::mount::mount(
                c"tmpfs",
                path,
                c"tmpfs",
                flags(RDONLY | NOSUID | NODEV | NOEXEC),
                Some(c"size=0,mode=555"),
            ),
            Some(first) => rustix::mount::mount(first, path, c"", flags(BIND), None),
        };
        match r {
            Ok(()) => {
                self.empty_dir = self.empty_dir.or(Some(path));
                Ok(())
            }
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Failure::at(Step::MaskDir, i)(e)),
        }
    }

    fn apply(&mut self, i: usize, op: &'a MountOp) -> std::result::Result<(), Failure> {
        match op {
            MountOp::Fs {
                fstype,
                target,
                flags: f,
                data,
                make_target,
            } => {
                if *make_target {
                    rustix::fs::mkdirat(rustix::fs::CWD, &**target, Mode::from_raw_mode(0o755))
                        .map_err(Failure::at(Step::Mount, i))?;
                }
                rustix::mount::mount(&**fstype, &**target, &**fstype, flags(*f), data.as_deref())
                    .map_err(Failure::at(Step::Mount, i))
            }
            MountOp::Dev { data, nodes } => make_dev(i, data, nodes),
            MountOp::Symlink { target, link } => {
                rustix::fs::symlink(&**target, &**link).map_err(Failure::at(Step::Symlink, i))
            }
            MountOp::MaskFile { path } => {
                if !self.null_checked {
                    check_null().map_err(Failure::at(Step::MaskFile, i))?;
                    self.null_checked = true;
                }
                match rustix::mount::mount(c"/dev/null", &**path, c"", flags(BIND), None) {
                    Ok(()) | Err(Errno::NOENT) => Ok(()),
                    Err(e) => Err(Failure::at(Step::MaskFile, i)(e)),
                }
            }
            MountOp::MaskDir { path } => self.mask_dir(i, path),
            MountOp::ReadOnly { path } => {
                match rustix::mount::mount(&**path, &**path, c"", flags(BIND | REC), None) {
                    Ok(()) => {}
                    Err(Errno::NOENT) => return Ok(()),
                    Err(e) => return Err(Failure::at(Step::ReadOnly, i)(e)),
                }
                rustix::mount::mount(
                    c"",
                    &**path,
                    c"",
                    flags(REMOUNT | BIND | RDONLY | NOSUID | NODEV | NOEXEC),
                    None,
                )
                .map_err(Failure::at(Step::ReadOnly, i))
            }
            MountOp::Volume(v) => mount_volume(i, v),
            MountOp::Workdir { path, parents } => {
                match rustix::fs::statat(rustix::fs::CWD, &**path, rustix::fs::AtFlags::empty()) {
                    Ok(_) => Ok(()),
                    Err(Errno::NOENT) => make_dirs(parents)
                        .and_then(|()| make_dirs(std::slice::from_ref(path)))
                        .map_err(Failure::at(Step::Workdir, i)),
                    Err(e) => Err(Failure::at(Step::Workdir, i)(e)),
                }
            }
            MountOp::RemountRoot { flags: f } => {
                rustix::mount::mount(c"", c"/", c"", flags(REMOUNT | BIND | f), None)
                    .map_err(Failure::at(Step::RemountRoot, i))
            }
            MountOp::Mkdir { path, parents } => make_dirs(parents)
                .and_then(|()| make_dirs(std::slice::from_ref(path)))
                .map_err(Failure::at(Step::Workdir, i)),
            MountOp::Node {
                path,
                kind,
                dev,
                mode,
                uid,
                gid,
            } => {
                match rustix::fs::mknodat(CWD, &**path, *kind, Mode::from_raw_mode(*mode), *dev) {
                    Ok(()) => {}
                    Err(Errno::EXIST) => return Ok(()),
                    Err(e) => return Err(Failure::at(Step::Node, i)(e)),
                }
                // The umask is 0 here and the init is root: mknod gave the permission
                // bits and the owner 0:0 already; anything else is set.
                if *mode & !0o777 != 0 {
                    rustix::fs::chmod(&**path, Mode::from_raw_mode(*mode))
                        .map_err(Failure::at(Step::Node, i))?;
                }
                if (*uid, *gid) == (0, 0) {
                    return Ok(());
                }
                rustix::fs::chownat(
                    CWD,
                    &**path,
                    Some(rustix::process::Uid::from_raw(*uid)),
                    Some(rustix::process::Gid::from_raw(*gid)),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(Failure::at(Step::Node, i))
            }
            MountOp::Mask { path } => {
                match rustix::fs::statat(rustix::fs::CWD, &**path, rustix::fs::AtFlags::empty()) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                        self.mask_dir(i, path)
                    }
                    Ok(_) => {
                        if !self.null_checked {
                            check_null().map_err(Failure::at(Step::MaskFile, i))?;
                            self.null_checked = true;
                        }
                        rustix::mount::mount(c"/dev/null", &**path, c"", flags(BIND), None)
                            .map_err(Failure::at(Step::MaskFile, i))
                    }
                    Err(_) => Ok(()),
                }
            }
            MountOp::Sysctl { path, value } => {
                crate::init::write_file(path, value).map_err(Failure::at(Step::Sysctl, i))
            }
            MountOp::Propagation { path, flags: f } => {
                rustix::mount::mount_change(&**path, MountPropagationFlags::from_bits_retain(*f))
                    .map_err(Failure::at(Step::Propagation, i))
            }
            MountOp::Cgroup {
                target,
                flags: f,
                parts,
                links,
            } => mount_cgroup(target, *f, parts, links, self.cgroup_trees)
                .map_err(Failure::at(Step::CgroupMount, i)),
        }
    }
}

/// See [`MountOp::Cgroup`]. Each hierarchy shows the container's cgroup as its root. Without
/// a cgroup namespace of the container's own, that is a bind mount of the container's own
/// directory, which the parent opened (`trees`, by the hierarchy's name); with one (or
/// without the trees), the hierarchies are mounted by a child of the init that makes a
/// cgroup namespace of its own first (the mounts stay in the mount namespace they share).
#[inline(never)]
fn mount_cgroup(
    target: &CStr,
    f: u32,
    parts: &[CgroupPart],
    links: &[(CString, CString)],
    trees: &[(String, OwnedFd)],
) -> std::result::Result<(), Errno> {
    let v2_only = parts.len() == 1 && parts[0].dir.is_empty();
    let tree_of = |p: &CgroupPart| {
        trees
            .iter()
            .find(|(name, _)| name.as_bytes() == p.dir.to_bytes())
            .map(|(_, fd)| fd)
    };
    let bind = !trees.is_empty() && parts.iter().all(|p| tree_of(p).is_some());
    if !v2_only {
        // A tmpfs with a directory per hierarchy, worked in from inside.
        rustix::mount::mount(
            c"tmpfs",
            target,
            c"tmpfs",
            flags(f & !RDONLY),
            Some(c"mode=755"),
        )?;
        rustix::process::chdir(target)?;
        for p in parts {
            rustix::fs::mkdirat(rustix::fs::CWD, &*p.dir, Mode::from_raw_mode(0o755))?;
        }
        for (to, link) in links {
            rustix::fs::symlink(&**to, &**link)?;
        }
    }
    let r = if bind {
        parts.iter().try_for_each(|p| match tree_of(p) {
            Some(tree) => attach_cgroup(tree, if v2_only { target } else { &p.dir }, f),
            None => Ok(()),
        })
    } else {
        mount_cgroup_in_ns(target, f, parts, v2_only)
    };
    if !v2_only {
        rustix::process::chdir(c"/")?;
    }
    r?;
    if !v2_only && f & RDONLY != 0 {
        rustix::mount::mount(
            c"",
            target,
            c"",
            flags(REMOUNT | RDONLY | (f & !RDONLY)),
            None,
        )?;
    }
    Ok(())
}

/// Attach the parent's tree of one of the container's cgroup directories at `at`, with the
/// mount's flags. The tree is attached as it is the first time (the kernel copies no mount
/// of another namespace); a second `cgroup` mount of the same hierarchy copies the one
/// attached by then.
fn attach_cgroup(tree: &OwnedFd, at: &CStr, f: u32) -> std::result::Result<(), Errno> {
    use rustix::mount::{MoveMountFlags, OpenTreeFlags as T};
    let copy = match rustix::mount::open_tree(
        tree,
        c"",
        T::OPEN_TREE_CLONE | T::OPEN_TREE_CLOEXEC | T::AT_EMPTY_PATH,
    ) {
        Ok(c) => Some(c),
        Err(Errno::INVAL) => None,
        Err(e) => return Err(e),
    };
    let src = copy.as_ref().map_or(tree.as_fd(), |c| c.as_fd());
    rustix::mount::move_mount(src, c"", CWD, at, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)?;
    rustix::mount::mount(c"", at, c"", flags(REMOUNT | BIND | f), None)
}

/// The hierarchies mounted by a child of the init in a cgroup namespace of its own.
fn mount_cgroup_in_ns(
    target: &CStr,
    f: u32,
    parts: &[CgroupPart],
    v2_only: bool,
) -> std::result::Result<(), Errno> {
    let pid = crate::sys::fork()?;
    if pid == 0 {
        let r = (|| {
            crate::sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWCGROUP)?;
            rustix::process::chdir(target)?;
            for p in parts {
                let at: &CStr = if v2_only { c"." } else { &p.dir };
                rustix::mount::mount(&*p.fstype, at, &*p.fstype, flags(f), p.data.as_deref())?;
            }
            Ok::<(), Errno>(())
        })();
        crate::sys::exit(match r {
            Ok(()) => 0,
            Err(e) => e.raw_os_error(),
        });
    }
    match rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid),
        rustix::process::WaitOptions::empty(),
    ) {
        Ok(Some((_, st))) if st.exit_status() == Some(0) => {}
        Ok(Some((_, st))) => {
            return Err(Errno::from_raw_os_error(
                st.exit_status().unwrap_or(libc::EIO),
            ));
        }
        _ => return Err(Errno::CHILD),
    }
    Ok(())
}

/// See [`MountOp::Dev`].
#[inline(never)]
fn make_dev(i: usize, data: &CStr, nodes: &[DevNode]) -> std::result::Result<(), Failure> {
    use rustix::fs::OFlags;
    let node_fail = |j: usize| {
        move |errno| Failure {
            step: Step::DevNode,
            item: j as u16,
            arg: i as u32,
            errno,
        }
    };
    rustix::mount::mount(
        c"tmpfs",
        c"/dev",
        c"tmpfs",
        flags(NOSUID | NOEXEC),
        Some(c"mode=755,size=64k"),
    )
    .map_err(Failure::at(Step::Dev, i))?;
    for (j, n) in nodes.iter().enumerate() {
        let dev = rustix::fs::makedev(n.major, n.minor);
        rustix::fs::mknodat(
            CWD,
            &*n.path,
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            dev,
        )
        .map_err(node_fail(j))?;
    }
    let staging = rustix::fs::openat(
        rustix::fs::CWD,
        c"/dev",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Failure::at(Step::Dev, i))?;
    rustix::mount::mount(
        c"tmpfs",
        c"/dev",
        c"tmpfs",
        flags(NOSUID | NODEV),
        Some(data),
    )
    .map_err(Failure::at(Step::Dev, i))?;
    // Bind sources are resolved from the staging directory, now covered.
    rustix::process::fchdir(&staging).map_err(Failure::at(Step::Dev, i))?;
    for (j, n) in nodes.iter().enumerate() {
        rustix::fs::mknodat(
            CWD,
            &*n.path,
            FileType::RegularFile,
            Mode::from_raw_mode(0o666),
            0,
        )
        .map_err(node_fail(j))?;
        rustix::mount::mount(&*n.name, &*n.path, c"", flags(BIND), None).map_err(node_fail(j))?;
    }
    rustix::process::chdir(c"/").map_err(Failure::at(Step::Dev, i))
}

/// [`MountOp::Dev`] in a user namespace, where `mknod` is refused: before `pivot_root`
/// (the working directory is the new root, the root still the host's), the tmpfs goes on
/// `dev` and each node is a bind mount of the host's own node of that name, onto an empty
/// file. A bind keeps the host mount's device access.
#[inline(never)]
fn bind_dev(i: usize, data: &CStr, nodes: &[DevNode]) -> std::result::Result<(), Failure> {
    rustix::mount::mount(
        c"tmpfs",
        c"dev",
        c"tmpfs",
        flags(NOSUID | NODEV),
        Some(data),
    )
    .map_err(Failure::at(Step::Dev, i))?;
    for (j, n) in nodes.iter().enumerate() {
        let fail = move |errno| Failure {
            step: Step::DevNode,
            item: j as u16,
            arg: i as u32,
            errno,
        };
        let rel = &n.path.to_bytes_with_nul()[1..];
        let rel = CStr::from_bytes_with_nul(rel).map_err(|_| fail(Errno::INVAL))?;
        rustix::fs::mknodat(
            CWD,
            rel,
            FileType::RegularFile,
            Mode::from_raw_mode(0o666),
            0,
        )
        .map_err(fail)?;
        rustix::mount::mount(&*n.path, rel, c"", flags(BIND), None).map_err(fail)?;
    }
    Ok(())
}

/// `/dev/null` must really be the null device before anything is hidden behind it.
fn check_null() -> std::result::Result<(), Errno> {
    let st = rustix::fs::statat(rustix::fs::CWD, c"/dev/null", rustix::fs::AtFlags::empty())?;
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice
        || rustix::fs::major(st.st_rdev) != 1
        || rustix::fs::minor(st.st_rdev) != 3
    {
        return Err(Errno::NODEV);
    }
    Ok(())
}

/// Attach a volume (a detached copy of the host path, made by the parent with
/// `open_tree`) at its destination, resolved inside the new root: no symlink or `..` can
/// lead out of it any more, since the host's root is gone from this namespace.
#[inline(never)]
fn mount_volume(i: usize, v: &Volume) -> std::result::Result<(), Failure> {
    make_dirs(&v.dst_parents).map_err(Failure::at(Step::Volume, i))?;
    let made = if v.src_is_dir {
        rustix::fs::mkdirat(rustix::fs::CWD, &*v.dst, Mode::from_raw_mode(0o755))
    } else {
        rustix::fs::openat(
            rustix::fs::CWD,
            &*v.dst,
            rustix::fs::OFlags::CREATE | rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(drop)
    };
    match made {
        Ok(()) | Err(Errno::EXIST) | Err(Errno::ISDIR) => {}
        Err(e) => return Err(Failure::at(Step::Volume, i)(e)),
    }
    let tree = v
        .tree
        .get()
        .ok_or(Failure::at(Step::Volume, i)(Errno::BADF))?;
    rustix::mount::move_mount(
        tree.as_fd(),
        c"",
        CWD,
        &*v.dst,
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(Failure::at(Step::Volume, i))?;
    // The docker-like front end asks for nodev always: a volume must not let mknod reach
    // the host's devices either.
    let (ro, step) = if v.read_only {
        (RDONLY, Step::VolumeReadOnly)
    } else {
        (0, Step::Volume)
    };
    rustix::mount::mount(
        c"",
        &*v.dst,
        c"",
        flags(REMOUNT | BIND | v.flags | ro | v.src_flags),
        None,
    )
    .map_err(Failure::at(step, i))?;
    if v.propagation != 0 {
        rustix::mount::mount_change(
            &*v.dst,
            MountPropagationFlags::from_bits_retain(v.propagation),
        )
        .map_err(Failure::at(Step::Propagation, i))?;
    }
    if v.read_only {
        // Kernels before 5.12 lack the call: the top mount only is read-only there.
        if v.ro_tree {
            match crate::sys::read_only_tree(&v.dst) {
                Ok(()) | Err(Errno::NOSYS) => {}
                Err(e) => return Err(Failure::at(Step::VolumeReadOnly, i)(e)),
            }
        }
        let st = rustix::fs::statvfs(&*v.dst).map_err(Failure::at(Step::VolumeReadOnly, i))?;
        if !st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
            return Err(Failure::at(Step::VolumeReadOnly, i)(Errno::ROFS));
        }
    }
    Ok(())
}

/// Make each directory in turn (parents first); one that exists is fine.
fn make_dirs(dirs: &[CString]) -> std::result::Result<(), Errno> {
    for dir in dirs {
        match rustix::fs::mkdirat(rustix::fs::CWD, &**dir, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl MountOp {
    /// Words for a failed `step` of this operation (`item`: which part), for the parent.
    pub fn describe(&self, step: Step, item: u16) -> String {
        let lossy = |c: &CStr| c.to_string_lossy().into_owned();
        match self {
            MountOp::Fs { fstype, target, .. } => {
                format!("cannot mount {} on {}", lossy(fstype), lossy(target))
            }
            MountOp::Dev { nodes, .. } => match (step, nodes.get(item as usize)) {
                (Step::DevNode, Some(n)) => format!("cannot create device {}", lossy(&n.path)),
                _ => "cannot mount the tmpfs on /dev".into(),
            },
            MountOp::Symlink { link, target } => {
                format!("cannot create link {} -> {}", lossy(link), lossy(target))
            }
            MountOp::MaskFile { path } | MountOp::MaskDir { path } => {
                format!("cannot mask kernel path {}", lossy(path))
            }
            MountOp::ReadOnly { path } => {
                format!("cannot make kernel path {} read-only", lossy(path))
            }
            MountOp::Volume(v) => format!(
                "cannot mount volume '{}' at '{}'{}",
                v.src_display,
                lossy(&v.dst),
                if step == Step::VolumeReadOnly {
                    " read-only"
                } else {
                    ""
                }
            ),
            MountOp::Workdir { path, .. } => {
                format!("cannot create working directory '{}'", lossy(path))
            }
            MountOp::Mkdir { path, .. } => {
                format!("cannot create mount point '{}'", lossy(path))
            }
            MountOp::Node { path, .. } => format!("cannot create device {}", lossy(path)),
            MountOp::Mask { path } => format!("cannot mask path {}", lossy(path)),
            MountOp::Propagation { path, .. } => {
                format!("cannot set the mount propagation of {}", lossy(path))
            }
            MountOp::Sysctl { path, .. } => format!("cannot write {}", lossy(path)),
            MountOp::Cgroup { target, .. } => {
                format!("cannot mount the cgroup filesystem on {}", lossy(target))
            }
            MountOp::RemountRoot { flags } => format!(
                "cannot remount the container's root{}",
                if flags & RDONLY != 0 {
                    " read-only"
                } else {
                    ""
                }
            ),
        }
    }
}
