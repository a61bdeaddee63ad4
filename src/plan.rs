//! [`Spec`] → [`Plan`]: everything the kernel will be told, prepared in the parent before
//! `clone3` — IMAGE checked, paths as C strings, the environment block, the candidates for
//! the command's PATH lookup, the user, capabilities, the seccomp program, the volumes as
//! detached mount trees. The child only walks it: no parsing, no allocation after clone.

use crate::cli::{Net, Seccomp, Spec};
use crate::error::{Error, Result};
use crate::{seccomp, security, user};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::{CString, OsStr, OsString, c_char};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A null-terminated array of C strings, as execve wants it.
pub struct CStrings {
    _owned: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

impl CStrings {
    pub fn new(items: Vec<CString>) -> CStrings {
        let mut ptrs: Vec<*const c_char> = items.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStrings {
            _owned: items,
            ptrs,
        }
    }
    pub fn as_ptrs(&self) -> &[*const c_char] {
        &self.ptrs
    }
}

/// A volume, ready to attach: the host path as a detached copy of its mount tree.
pub struct PlannedVolume {
    pub tree: OwnedFd,
    pub src_display: String,
    pub src_is_dir: bool,
    /// The source mount's own flags (nosuid, nodev, noexec), kept on a read-only remount.
    pub src_flags: u32,
    pub dst: CString,
    pub dst_parents: Vec<CString>,
    pub read_only: bool,
}

pub struct Plan {
    pub name: String,
    /// IMAGE as the user wrote it, for messages only: never looked up again.
    pub image_display: String,
    /// The handle IMAGE was checked through (`O_PATH`): the child enters IMAGE by this fd,
    /// so renaming or swapping IMAGE's path after the check changes nothing.
    pub image: OwnedFd,
    pub hostname: Vec<u8>,
    pub new_net: bool,
    /// Flags of the final remount of the container's root (nodev, its own nosuid/noexec,
    /// and read-only with --read-only).
    pub root_flags: u32,
    pub argv: CStrings,
    /// The command and the container's PATH as words, for error lines.
    pub command_display: String,
    pub path_display: String,
    pub envp: CStrings,
    /// Full paths to try in order (the command itself when it holds a '/').
    pub exec_candidates: Vec<CString>,
    pub workdir: CString,
    pub workdir_parents: Vec<CString>,
    pub uid: u32,
    pub gid: u32,
    /// Capabilities the command keeps (bounding set; also effective/permitted for root).
    pub caps: u64,
    pub seccomp: Option<seccomp::Filter>,
    pub volumes: Vec<PlannedVolume>,
    /// Give the command a pseudo-terminal of its own, started at this window size.
    pub tty: bool,
    pub tty_size: Option<rustix::termios::Winsize>,
}

/// `a/b/c` → ["/a", "/a/b"] (the parents to create), for an absolute path.
fn parents(path: &str) -> Vec<CString> {
    let mut out = Vec::new();
    let mut acc = String::new();
    let comps: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    for c in comps.iter().take(comps.len().saturating_sub(1)) {
        acc.push('/');
        acc.push_str(c);
        out.push(cstring(acc.as_bytes()));
    }
    out
}

fn cstring(b: &[u8]) -> CString {
    // Every input was checked for NUL bytes by the command line; strip any that slipped by.
    CString::new(b.iter().copied().filter(|&c| c != 0).collect::<Vec<u8>>()).unwrap_or_default()
}

/// The largest `/etc/passwd` or `/etc/group` read from IMAGE. The files are IMAGE's, so
/// whoever made IMAGE controls them: they are streamed (never held whole), and a file past
/// this size is refused rather than read at every run.
pub const MAX_IMAGE_FILE: u64 = 4 << 20;

/// Open a text file of IMAGE for reading, resolving every symlink inside IMAGE. Missing is
/// `None`. Anything but a regular file (a FIFO that would block, a device node, a
/// directory) or a file past [`MAX_IMAGE_FILE`] is refused: it is opened without blocking
/// and without becoming a controlling terminal, and checked before a byte is read.
fn open_in_image(
    image: &OwnedFd,
    display: &str,
    path: &str,
) -> Result<Option<std::io::BufReader<std::io::Take<std::fs::File>>>> {
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
        Err(e) => return Err(Error::sys(format!("cannot open {}", what()), e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::sys(what(), e))?;
    let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
    if kind != rustix::fs::FileType::RegularFile {
        return Err(Error::new(format!(
            "{} is {}, not a regular file; refusing to read it",
            what(),
            file_kind(kind)
        )));
    }
    if st.st_size as u64 > MAX_IMAGE_FILE {
        return Err(Error::new(format!(
            "{} is larger than {} ({} bytes); refusing to read it",
            what(),
            crate::cgroup::mib(MAX_IMAGE_FILE),
            st.st_size
        )));
    }
    let file = std::io::Read::take(std::fs::File::from(fd), MAX_IMAGE_FILE);
    Ok(Some(std::io::BufReader::with_capacity(4096, file)))
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
        .any(|(k, v)| k == "HOME" && (v.is_some() || std::env::var_os("HOME").is_some()))
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
    path.split(|&c| c == b':')
        .map(|dir| {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let mut p = dir.to_vec();
            if !p.ends_with(b"/") {
                p.push(b'/');
            }
            p.extend_from_slice(cmd);
            cstring(&p)
        })
        .collect()
}

fn random_name() -> Result<String> {
    let mut b = [0u8; 6];
    rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| Error::sys("cannot read random bytes for the container name", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Per-mount flags of a statvfs result, as MS_* bits for a bind remount.
fn mount_flags_of(st: &rustix::fs::StatVfs) -> u32 {
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

/// Check IMAGE's mount point `name`: create it when missing, refuse a symlink or a file.
fn mount_point(image: &OwnedFd, image_str: &str, name: &str) -> Result<()> {
    match rustix::fs::statat(image.as_fd(), name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::Directory => Ok(()),
            rustix::fs::FileType::Symlink => Err(Error::new(format!(
                "IMAGE '{image_str}': /{name} is a symbolic link; refusing to mount over it"
            ))),
            _ => Err(Error::new(format!(
                "IMAGE '{image_str}': /{name} is not a directory"
            ))),
        },
        Err(Errno::NOENT) => rustix::fs::mkdirat(image.as_fd(), name, Mode::from_raw_mode(0o755))
            .map_err(|e| {
                Error::sys(
                    format!("IMAGE '{image_str}' has no /{name} and it cannot be created"),
                    e,
                )
            }),
        Err(e) => Err(Error::sys(
            format!("IMAGE '{image_str}': cannot inspect /{name}"),
            e,
        )),
    }
}

fn plan_volume(v: &crate::cli::Volume) -> Result<PlannedVolume> {
    let what = || format!("volume source '{}'", v.src);
    let st = rustix::fs::stat(v.src.as_str()).map_err(|e| Error::sys(what(), e))?;
    let tree = rustix::mount::open_tree(
        CWD,
        v.src.as_str(),
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC
            | rustix::mount::OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| Error::sys(format!("cannot copy the mount tree of {}", what()), e))?;
    let svfs = rustix::fs::fstatvfs(&tree).map_err(|e| Error::sys(what(), e))?;
    let dst = v.dst.trim_end_matches('/');
    let dst = if dst.is_empty() { "/" } else { dst };
    if dst == "/" {
        return Err(Error::new(format!(
            "invalid --volume '{}:{}': cannot mount over the container's root",
            v.src, v.dst
        )));
    }
    Ok(PlannedVolume {
        tree,
        src_display: v.src.clone(),
        src_is_dir: rustix::fs::FileType::from_raw_mode(st.st_mode)
            == rustix::fs::FileType::Directory,
        src_flags: mount_flags_of(&svfs)
            & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u32,
        dst: cstring(dst.as_bytes()),
        dst_parents: parents(dst),
        read_only: v.read_only,
    })
}

/// Open IMAGE once, as a handle that every later use goes through, and check it: a
/// directory, not the host's own root (by device and inode, whatever path led there), with
/// its mount points. Returns the handle and IMAGE's mount flags.
fn open_image(image: &OsStr, display: &str) -> Result<(OwnedFd, rustix::fs::StatVfs)> {
    let fd = rustix::fs::open(
        image,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => Error::new(format!("IMAGE '{display}' does not exist")),
        Errno::NOTDIR => Error::new(format!("IMAGE '{display}' is not a directory")),
        e => Error::sys(format!("IMAGE '{display}'"), e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::sys(format!("IMAGE '{display}'"), e))?;
    let root = rustix::fs::stat("/").map_err(|e| Error::sys("cannot inspect '/'", e))?;
    if (st.st_dev, st.st_ino) == (root.st_dev, root.st_ino) {
        return Err(Error::new(format!(
            "IMAGE '{display}' is the host's own root directory; give a root filesystem directory"
        )));
    }
    for mp in ["proc", "dev", "sys"] {
        mount_point(&fd, display, mp)?;
    }
    let vfs = rustix::fs::fstatvfs(&fd).map_err(|e| Error::sys(format!("IMAGE '{display}'"), e))?;
    Ok((fd, vfs))
}

/// Turn what the user asked for into what the kernel will be told.
pub fn build(spec: &Spec) -> Result<Plan> {
    let image_str = spec.image.to_string_lossy().into_owned();
    let (image_fd, image_vfs) = open_image(&spec.image, &image_str)?;
    let name = match &spec.name {
        Some(n) => n.clone(),
        None => random_name()?,
    };
    let hostname = spec.hostname.clone().unwrap_or_else(|| name.clone());

    let user = user::resolve(
        spec.user.as_deref(),
        !home_from_env(&spec.env),
        || open_in_image(&image_fd, &image_str, "/etc/passwd"),
        || open_in_image(&image_fd, &image_str, "/etc/group"),
    )?;

    let env = environment(
        &hostname,
        &user.home,
        std::env::var_os("TERM"),
        &spec.env,
        |k| std::env::var_os(k),
    );
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes().to_vec())
        .unwrap_or_default();
    let envp = CStrings::new(
        env.iter()
            .map(|(k, v)| {
                let mut b = k.as_bytes().to_vec();
                b.push(b'=');
                b.extend_from_slice(v.as_bytes());
                cstring(&b)
            })
            .collect(),
    );
    let argv = CStrings::new(
        spec.command
            .iter()
            .map(|a| cstring(&a.clone().into_vec()))
            .collect(),
    );
    let exec_candidates = exec_candidates(spec.command[0].as_bytes(), &path);

    let workdir = spec.workdir.clone().unwrap_or_else(|| "/".into());
    let mut workdir_parents = parents(&workdir);
    workdir_parents.push(cstring(workdir.as_bytes()));

    let caps =
        security::capability_set(&spec.cap_add, &spec.cap_drop, security::held_capabilities())?;
    let seccomp = match spec.seccomp {
        Seccomp::Default => Some(seccomp::Filter::default_profile(if user.uid == 0 {
            caps
        } else {
            0
        })),
        Seccomp::Unconfined => None,
    };
    let volumes = spec
        .volumes
        .iter()
        .map(plan_volume)
        .collect::<Result<Vec<_>>>()?;

    let mut root_flags =
        (mount_flags_of(&image_vfs) | libc::MS_NODEV as u32) & !(libc::MS_RDONLY as u32);
    if spec.read_only
        || image_vfs
            .f_flag
            .contains(rustix::fs::StatVfsMountFlags::RDONLY)
    {
        root_flags |= libc::MS_RDONLY as u32;
    }

    let tty = crate::tty::wanted(spec.no_tty);
    Ok(Plan {
        name,
        image_display: image_str,
        image: image_fd,
        hostname: hostname.into_bytes(),
        new_net: spec.net == Net::None,
        root_flags,
        argv,
        command_display: spec.command[0].to_string_lossy().into_owned(),
        path_display: String::from_utf8_lossy(&path).into_owned(),
        envp,
        exec_candidates,
        workdir: cstring(workdir.as_bytes()),
        workdir_parents,
        uid: user.uid,
        gid: user.gid,
        caps,
        seccomp,
        volumes,
        tty,
        tty_size: if tty { crate::tty::caller_size() } else { None },
    })
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
