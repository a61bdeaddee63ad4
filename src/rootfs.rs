//! The container's root filesystem, run by the child as it makes its own mount namespace:
//! IMAGE (entered by the handle the parent checked) copied over itself, `pivot_root` into it (or, from an initramfs, the move-and-chroot
//! way), then a fresh `/proc`, a read-only `/sys`, a small `/dev`, the masked and read-only
//! kernel paths, the volumes, and last the root's own flags (`nodev`, `--read-only`).
//!
//! Everything here walks the [`Plan`] and static tables: no allocation, no formatting.
//! A failure is a [`Failure`] whose `arg` indexes the table the parent describes it from.

use crate::error::{Failure, Step};
use crate::plan::Plan;
use rustix::fd::AsFd;
use rustix::fs::{CWD, FileType, Mode};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use std::ffi::CStr;

const NOSUID: u32 = libc::MS_NOSUID as u32;
const NODEV: u32 = libc::MS_NODEV as u32;
const NOEXEC: u32 = libc::MS_NOEXEC as u32;
const RDONLY: u32 = libc::MS_RDONLY as u32;
const BIND: u32 = libc::MS_BIND as u32;
const REC: u32 = libc::MS_REC as u32;
const REMOUNT: u32 = libc::MS_REMOUNT as u32;

/// A filesystem mounted inside the new root.
pub struct SysMount {
    pub fstype: &'static CStr,
    pub target: &'static CStr,
    pub flags: u32,
    pub data: Option<&'static CStr>,
}

/// The kernel filesystems every container gets, in mount order. `/dev` first holds only
/// the device nodes below; devpts is a new instance of the container's own.
pub const SYSTEM_MOUNTS: [SysMount; 6] = [
    SysMount {
        fstype: c"proc",
        target: c"/proc",
        flags: NOSUID | NODEV | NOEXEC,
        data: None,
    },
    SysMount {
        fstype: c"sysfs",
        target: c"/sys",
        flags: NOSUID | NODEV | NOEXEC | RDONLY,
        data: None,
    },
    SysMount {
        fstype: c"tmpfs",
        target: c"/dev",
        flags: NOSUID | NODEV,
        data: Some(c"mode=755,size=65536k"),
    },
    SysMount {
        fstype: c"devpts",
        target: c"/dev/pts",
        flags: NOSUID | NOEXEC,
        data: Some(c"newinstance,ptmxmode=0666,mode=0620,gid=5"),
    },
    SysMount {
        fstype: c"tmpfs",
        target: c"/dev/shm",
        flags: NOSUID | NODEV | NOEXEC,
        data: Some(c"mode=1777,size=65536k"),
    },
    SysMount {
        fstype: c"mqueue",
        target: c"/dev/mqueue",
        flags: NOSUID | NODEV | NOEXEC,
        data: None,
    },
];

/// Character devices made in `/dev`: (name, major, minor), all mode 0666.
pub const DEVICES: [(&CStr, u32, u32); 6] = [
    (c"/dev/null", 1, 3),
    (c"/dev/zero", 1, 5),
    (c"/dev/full", 1, 7),
    (c"/dev/random", 1, 8),
    (c"/dev/urandom", 1, 9),
    (c"/dev/tty", 5, 0),
];

/// Symbolic links made in `/dev`: (link, target).
pub const LINKS: [(&CStr, &CStr); 5] = [
    (c"/dev/ptmx", c"pts/ptmx"),
    (c"/dev/fd", c"/proc/self/fd"),
    (c"/dev/stdin", c"/proc/self/fd/0"),
    (c"/dev/stdout", c"/proc/self/fd/1"),
    (c"/dev/stderr", c"/proc/self/fd/2"),
];

/// Kernel files that leak host information or control the host: hidden behind /dev/null.
pub const MASKED_FILES: [&CStr; 6] = [
    c"/proc/kcore",
    c"/proc/keys",
    c"/proc/latency_stats",
    c"/proc/timer_list",
    c"/proc/timer_stats",
    c"/proc/sched_debug",
];

/// Kernel directories hidden behind one empty read-only tmpfs (the first is mounted, the
/// others are bind mounts of it).
pub const MASKED_DIRS: [&CStr; 5] = [
    c"/proc/acpi",
    c"/proc/asound",
    c"/proc/scsi",
    c"/sys/firmware",
    c"/sys/devices/virtual/powercap",
];

/// Kernel paths that stay visible but read-only.
pub const READONLY_PATHS: [&CStr; 5] = [
    c"/proc/bus",
    c"/proc/fs",
    c"/proc/irq",
    c"/proc/sys",
    c"/proc/sysrq-trigger",
];

fn flags(f: u32) -> MountFlags {
    MountFlags::from_bits_retain(f)
}

fn fail(step: Step, arg: usize) -> impl FnOnce(Errno) -> Failure {
    move |errno| Failure {
        step,
        arg: arg as u32,
        errno,
    }
}

/// Build the container's root and enter it. Runs in the child, before its own mount
/// namespace exists.
///
/// IMAGE is entered through the handle the parent checked, never by its path: the child
/// `fchdir`s to it and then unshares the mount namespace, which moves its working directory
/// to this namespace's copy of the same mount. A copy of that directory (`open_tree`, with
/// everything mounted below it) is attached over it and entered by its fd, and that is
/// what `pivot_root` makes the root. Swapping IMAGE's path for a symlink to `/` at any
/// moment after the check changes nothing.
pub fn enter(plan: &Plan) -> Result<(), Failure> {
    use rustix::mount::{MoveMountFlags, OpenTreeFlags};
    rustix::process::fchdir(&plan.image).map_err(fail(Step::BindImage, 0))?;
    crate::sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWNS)
        .map_err(fail(Step::MountNs, 0))?;
    rustix::process::umask(Mode::empty());
    // Nothing we mount may propagate back to the host.
    rustix::mount::mount_change(
        c"/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(fail(Step::MakePrivate, 0))?;
    let tree = rustix::mount::open_tree(
        CWD,
        c".",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(fail(Step::BindImage, 0))?;
    rustix::mount::move_mount(
        tree.as_fd(),
        c"",
        CWD,
        c".",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(fail(Step::BindImage, 0))?;
    rustix::process::fchdir(&tree).map_err(fail(Step::BindImage, 0))?;
    drop(tree);
    match rustix::process::pivot_root(c".", c".") {
        Ok(()) => {
            // The old root now sits on top of the new one: detach it and everything under
            // it, so no path leads back to the host.
            rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(fail(Step::PivotRoot, 0))?;
        }
        // The current root is the kernel's rootfs (an initramfs), which cannot be pivoted
        // away. Move IMAGE over it and chroot: IMAGE then sits on the root of the
        // namespace's first mount, whose ".." is itself, so no ".." walk leaves it.
        Err(Errno::INVAL) => {
            rustix::mount::mount_move(c".", c"/").map_err(fail(Step::PivotRoot, 1))?;
            rustix::process::chroot(c".").map_err(fail(Step::PivotRoot, 1))?;
        }
        Err(e) => return Err(fail(Step::PivotRoot, 0)(e)),
    }
    rustix::process::chdir(c"/").map_err(fail(Step::PivotRoot, 0))?;

    for (i, m) in SYSTEM_MOUNTS.iter().enumerate() {
        if i >= 3 {
            // Mount points under the fresh /dev tmpfs.
            rustix::fs::mkdir(m.target, Mode::from_raw_mode(0o755))
                .map_err(fail(Step::Mount, i))?;
        }
        if i == 2 {
            make_devices()?;
            continue;
        }
        rustix::mount::mount(m.fstype, m.target, m.fstype, flags(m.flags), m.data)
            .map_err(fail(Step::Mount, i))?;
    }
    for (i, (link, target)) in LINKS.iter().enumerate() {
        rustix::fs::symlink(*target, *link).map_err(fail(Step::Symlink, i))?;
    }
    mask_kernel_paths()?;
    mount_volumes(plan)?;
    make_workdir(plan)?;
    // Last, the root's own flags: nodev always (IMAGE's device nodes cannot be opened),
    // read-only with --read-only. Done after everything above was created in it.
    rustix::mount::mount(
        c"",
        c"/",
        c"",
        flags(REMOUNT | BIND | plan.root_flags),
        None,
    )
    .map_err(fail(Step::RemountImage, 0))?;
    rustix::process::umask(Mode::from_raw_mode(0o022));
    Ok(())
}

/// The device nodes of /dev. /dev itself is `nodev`, so a node the container makes
/// there with `mknod` (it holds CAP_MKNOD) cannot be opened. The allowed nodes are made on
/// a staging tmpfs first mounted at /dev, which the real /dev then covers: each node is
/// bound from it (a bind mount keeps the staging mount's device access), and the staging
/// tmpfs itself is reachable by no path.
fn make_devices() -> Result<(), Failure> {
    use rustix::fs::OFlags;
    rustix::mount::mount(
        c"tmpfs",
        c"/dev",
        c"tmpfs",
        flags(NOSUID | NOEXEC),
        Some(c"mode=755,size=64k"),
    )
    .map_err(fail(Step::Mount, 2))?;
    for (j, (path, major, minor)) in DEVICES.iter().enumerate() {
        let dev = rustix::fs::makedev(*major, *minor);
        rustix::fs::mknodat(
            CWD,
            *path,
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            dev,
        )
        .map_err(fail(Step::Mknod, j))?;
    }
    let staging = rustix::fs::open(
        c"/dev",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(fail(Step::Mount, 2))?;
    let m = &SYSTEM_MOUNTS[2];
    rustix::mount::mount(m.fstype, m.target, m.fstype, flags(m.flags), m.data)
        .map_err(fail(Step::Mount, 2))?;
    // Bind sources are resolved from the staging directory, now covered.
    rustix::process::fchdir(&staging).map_err(fail(Step::Mount, 2))?;
    for (j, (path, _, _)) in DEVICES.iter().enumerate() {
        // "/dev/null" → "null", relative to the staging directory.
        let name = CStr::from_bytes_with_nul(&path.to_bytes_with_nul()[5..])
            .map_err(|_| fail(Step::Mknod, j)(Errno::INVAL))?;
        rustix::fs::mknodat(
            CWD,
            *path,
            FileType::RegularFile,
            Mode::from_raw_mode(0o666),
            0,
        )
        .map_err(fail(Step::Mknod, j))?;
        rustix::mount::mount(name, *path, c"", flags(BIND), None).map_err(fail(Step::Mknod, j))?;
    }
    rustix::process::chdir(c"/").map_err(fail(Step::Mount, 2))
}

/// Docker's masked and read-only kernel paths. A path the kernel does not have is skipped.
fn mask_kernel_paths() -> Result<(), Failure> {
    // /dev/null must really be the null device before anything is hidden behind it.
    let st = rustix::fs::stat(c"/dev/null").map_err(fail(Step::Mask, 0))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice
        || rustix::fs::major(st.st_rdev) != 1
        || rustix::fs::minor(st.st_rdev) != 3
    {
        return Err(fail(Step::Mask, 0)(Errno::NODEV));
    }
    for (i, p) in MASKED_FILES.iter().enumerate() {
        match rustix::mount::mount(c"/dev/null", *p, c"", flags(BIND), None) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(fail(Step::Mask, i)(e)),
        }
    }
    let mut empty: Option<&CStr> = None;
    for (i, p) in MASKED_DIRS.iter().enumerate() {
        let arg = MASKED_FILES.len() + i;
        let r = match empty {
            None => rustix::mount::mount(
                c"tmpfs",
                *p,
                c"tmpfs",
                flags(RDONLY | NOSUID | NODEV | NOEXEC),
                Some(c"size=0,mode=555"),
            ),
            Some(first) => rustix::mount::mount(first, *p, c"", flags(BIND), None),
        };
        match r {
            Ok(()) => empty = empty.or(Some(*p)),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(fail(Step::Mask, arg)(e)),
        }
    }
    for (i, p) in READONLY_PATHS.iter().enumerate() {
        let arg = MASKED_FILES.len() + MASKED_DIRS.len() + i;
        match rustix::mount::mount(*p, *p, c"", flags(BIND | REC), None) {
            Ok(()) => {}
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(fail(Step::Mask, arg)(e)),
        }
        rustix::mount::mount(
            c"",
            *p,
            c"",
            flags(REMOUNT | BIND | RDONLY | NOSUID | NODEV | NOEXEC),
            None,
        )
        .map_err(fail(Step::Mask, arg))?;
    }
    Ok(())
}

/// Attach each volume (a detached copy of the host path, made by the parent with
/// `open_tree`) at its destination, resolved inside the new root: no symlink or `..` can
/// lead out of it any more, since the host's root is gone from this namespace.
fn mount_volumes(plan: &Plan) -> Result<(), Failure> {
    for (i, v) in plan.volumes.iter().enumerate() {
        make_dirs(&v.dst_parents).map_err(fail(Step::Volume, i))?;
        let made = if v.src_is_dir {
            rustix::fs::mkdir(&*v.dst, Mode::from_raw_mode(0o755))
        } else {
            rustix::fs::open(
                &*v.dst,
                rustix::fs::OFlags::CREATE
                    | rustix::fs::OFlags::WRONLY
                    | rustix::fs::OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map(drop)
        };
        match made {
            Ok(()) | Err(Errno::EXIST) | Err(Errno::ISDIR) => {}
            Err(e) => return Err(fail(Step::Volume, i)(e)),
        }
        rustix::mount::move_mount(
            v.tree.as_fd(),
            c"",
            CWD,
            &*v.dst,
            rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(fail(Step::Volume, i))?;
        // nodev always: a volume must not let mknod reach the host's devices either.
        let (ro, step) = if v.read_only {
            (RDONLY, Step::VolumeReadOnly)
        } else {
            (0, Step::Volume)
        };
        rustix::mount::mount(
            c"",
            &*v.dst,
            c"",
            flags(REMOUNT | BIND | NODEV | ro | v.src_flags),
            None,
        )
        .map_err(fail(step, i))?;
        if v.read_only {
            let st = rustix::fs::statvfs(&*v.dst).map_err(fail(Step::VolumeReadOnly, i))?;
            if !st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
                return Err(fail(Step::VolumeReadOnly, i)(Errno::ROFS));
            }
        }
    }
    Ok(())
}

/// `-w`: the working directory, created (with its parents) when the image lacks it; the
/// command enters it, the init stays in `/`.
fn make_workdir(plan: &Plan) -> Result<(), Failure> {
    match rustix::fs::stat(&*plan.workdir) {
        Ok(_) => return Ok(()),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(fail(Step::Workdir, 0)(e)),
    }
    make_dirs(&plan.workdir_parents).map_err(fail(Step::Workdir, 0))
}

/// Make each directory in turn (parents first); one that exists is fine.
fn make_dirs(dirs: &[std::ffi::CString]) -> Result<(), Errno> {
    for dir in dirs {
        match rustix::fs::mkdir(&**dir, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Words for a failed step of this module, for the parent's error line.
pub fn describe(step: Step, arg: u32, plan: &Plan) -> String {
    let arg = arg as usize;
    let image = &plan.image_display;
    let lossy = |c: &CStr| c.to_string_lossy().into_owned();
    match step {
        Step::MountNs => "cannot create the mount namespace".into(),
        Step::MakePrivate => "cannot make the mount namespace private".into(),
        Step::BindImage => format!("cannot bind-mount IMAGE '{image}'"),
        Step::PivotRoot if arg == 1 => {
            format!("cannot move IMAGE '{image}' over the initramfs root and chroot into it")
        }
        Step::PivotRoot => format!("cannot pivot_root into IMAGE '{image}'"),
        Step::Mount => {
            let m = &SYSTEM_MOUNTS[arg.min(SYSTEM_MOUNTS.len() - 1)];
            format!(
                "cannot mount {} on {} in IMAGE '{image}'",
                lossy(m.fstype),
                lossy(m.target)
            )
        }
        Step::Mknod => format!(
            "cannot create device {}",
            lossy(DEVICES[arg.min(DEVICES.len() - 1)].0)
        ),
        Step::Symlink => format!(
            "cannot create link {}",
            lossy(LINKS[arg.min(LINKS.len() - 1)].0)
        ),
        Step::Mask => {
            let all: Vec<&CStr> = MASKED_FILES
                .iter()
                .chain(&MASKED_DIRS)
                .chain(&READONLY_PATHS)
                .copied()
                .collect();
            format!(
                "cannot mask kernel path {}",
                lossy(all[arg.min(all.len() - 1)])
            )
        }
        Step::Volume | Step::VolumeReadOnly => match plan.volumes.get(arg) {
            Some(v) => format!(
                "cannot mount volume '{}' at '{}'{}",
                v.src_display,
                lossy(&v.dst),
                if step == Step::VolumeReadOnly {
                    " read-only"
                } else {
                    ""
                }
            ),
            None => "cannot mount a volume".into(),
        },
        Step::Workdir => format!("cannot enter working directory '{}'", lossy(&plan.workdir)),
        Step::RemountImage => format!(
            "cannot remount the container's root{}",
            if plan.root_flags & RDONLY != 0 {
                " read-only"
            } else {
                ""
            }
        ),
        _ => format!("{step:?}"),
    }
}
