//! An OCI container's state between invocations: no crab-can process lives between
//! `create`, `start`, `kill` and `delete`, so the state is files under `--root`.
//!
//! Each container is a handful of files directly under the root, never a directory:
//! `ID`, the state (creating it with `O_EXCL` is what takes the ID, removing it last is
//! what frees it; one JSON line with what `create` is about to make, then one with
//! crab-can's whole record once `create` is done: the init's pid and start time, the
//! bundle, the cgroup directories with their inodes), `ID:config.json` (the bundle's, as
//! `create` read it: poststop hooks and `exec` use it) and `ID:start`, the listening
//! socket of the init's start gate while it is created. `:` is not allowed in an ID, so
//! no container's files can be taken for another's. No directory, because on ext4
//! (`/run` is a plain directory of `/` on some hosts) a directory has a data block from
//! its `mkdir`, and with the `discard` mount option freeing it at `delete` waits for the
//! disk; files written and removed before writeback never get one.
//!
//! The status is derived, never stored (as runc's `refreshState`): the init gone, a
//! zombie, or a different process under its pid (another start time) → stopped; its
//! cgroup frozen → paused; the start socket still there → created; else running.

use crate::error::{Error, Result};
use crate::json::{self, At};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// The default `--root`, kept apart from the docker-like mode's `/run/crab-can`.
pub const DEFAULT_ROOT: &str = "/run/crab-can-oci";

/// The default `--root` for this caller: [`DEFAULT_ROOT`], or rootless ([`super::rootless`],
/// as runc does) `$XDG_RUNTIME_DIR/crab-can-oci`.
pub fn default_root() -> String {
    match (
        super::rootless(),
        crate::sys::var_os("XDG_RUNTIME_DIR").and_then(|d| d.into_string().ok()),
    ) {
        (true, Some(dir)) if dir.starts_with('/') => format!("{dir}/crab-can-oci"),
        _ => DEFAULT_ROOT.to_string(),
    }
}

/// What `create` records.
#[derive(Default, Clone)]
pub struct State {
    pub id: String,
    /// The init's host pid (0 until it exists) and its start time in clock ticks since
    /// boot (field 22 of /proc/PID/stat), which tells it from a later process of that pid.
    pub pid: i32,
    pub start: u64,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    /// The annotations as their JSON text (`{}` when none).
    pub annotations: String,
    /// The cgroup directories: (path, inode), the inode 0 until the directory exists.
    pub cgroups: Vec<(String, u64)>,
    /// The container has a PID namespace of its own (else SIGKILL goes to its cgroup).
    pub own_pid_ns: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// `ID` as runc accepts it: letters, digits and `_+.-`, not `.` or `..`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_+.-".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format_args!("invalid container id '{id}'")))
    }
}

/// The `--root` directory, made when missing (0700), opened.
pub fn open_root(root: &str) -> Result<OwnedFd> {
    let cannot = |e| Error::sys_msg(format_args!("cannot use the state directory {root}"), e);
    match rustix::fs::mkdirat(rustix::fs::CWD, root, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(Errno::NOENT) => {
            // Its parents (a rootless $XDG_RUNTIME_DIR/..., /run/containerd/runc/NS).
            mkdir_all(root).map_err(|e| {
                Error::msg(format_args!(
                    "cannot create the state directory {root}: {}",
                    crate::error::os_error(e)
                ))
            })?;
            let _ = rustix::fs::chmod(root, Mode::from_raw_mode(0o700));
        }
        Err(e) => return Err(cannot(e)),
    }
    rustix::fs::openat(
        rustix::fs::CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(cannot)
}

/// Make `path` and its missing parents (0777 before the umask), as `std::fs::create_dir_all`
/// does: a directory that exists, or that another process makes meanwhile, is no error.
fn mkdir_all(path: &str) -> std::result::Result<(), Errno> {
    let mkdir = || match rustix::fs::mkdirat(rustix::fs::CWD, path, Mode::from_raw_mode(0o777)) {
        Err(_)
            if rustix::fs::statat(rustix::fs::CWD, path, rustix::fs::AtFlags::empty())
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory) =>
        {
            Ok(())
        }
        r => r,
    };
    if path.is_empty() {
        return Ok(());
    }
    match mkdir() {
        Err(Errno::NOENT) => {}
        r => return r,
    }
    // The parent: `path` less its last component (and the slashes around it).
    use crate::sys::{split_last, trim_end_byte};
    let parent = match split_last(trim_end_byte(path, b'/'), b'/') {
        Some((p, _)) if trim_end_byte(p, b'/').is_empty() => "/",
        Some((p, _)) => trim_end_byte(p, b'/'),
        None => "",
    };
    mkdir_all(parent)?;
    mkdir()
}

/// A container's entry under the root: the root's fd and the ID, whose files are named
/// [`Entry::file`]; for the `create` that took the ID, its claim file, open.
pub struct Entry<'r> {
    pub fd: BorrowedFd<'r>,
    pub id: String,
    claim: Option<OwnedFd>,
}

impl Entry<'_> {
    /// The name under the root of the container's file `what` (`ID:what`).
    pub fn file(&self, what: &str) -> String {
        format!("{}:{what}", self.id)
    }
}

/// Take `id`: create its claim file (an existing one means the ID is in use).
pub fn make<'r>(root: &'r OwnedFd, id: &str) -> Result<Entry<'r>> {
    match rustix::fs::openat(
        root.as_fd(),
        id,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(claim) => Ok(Entry {
            fd: root.as_fd(),
            id: id.to_string(),
            claim: Some(claim),
        }),
        Err(Errno::EXIST) => Err(Error::msg(format_args!(
            "container with id {id} already exists"
        ))),
        Err(e) => Err(Error::sys_msg(
            format_args!("cannot create the state of {id}"),
            e,
        )),
    }
}

/// `id`'s entry (None: there is none, or what is there is not a claim file crab-can made).
pub fn open<'r>(root: &'r OwnedFd, id: &str) -> Option<Entry<'r>> {
    let st = rustix::fs::statat(root.as_fd(), id, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    (rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile).then(
        || Entry {
            fd: root.as_fd(),
            id: id.to_string(),
            claim: None,
        },
    )
}

/// `container does not exist`, the words engines match.
pub fn not_found() -> Error {
    Error::new("container does not exist")
}

impl State {
    fn to_json(&self) -> String {
        let mut s = String::from("{\"id\":");
        json::quote(&mut s, &self.id);
        s += &format!(
            ",\"pid\":{},\"start\":{},\"pidns\":{},\"bundle\":",
            self.pid, self.start, self.own_pid_ns
        );
        json::quote(&mut s, &self.bundle);
        s += ",\"rootfs\":";
        json::quote(&mut s, &self.rootfs);
        s += ",\"created\":";
        json::quote(&mut s, &self.created);
        s += ",\"annotations\":";
        s += if self.annotations.is_empty() {
            "{}"
        } else {
            &self.annotations
        };
        s += ",\"cgroups\":[";
        for (i, (path, ino)) in self.cgroups.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s += &format!("[{ino},");
            json::quote(&mut s, path);
            s.push(']');
        }
        s += "]}\n";
        s
    }

    /// The state in `text`; None when it is not one (its errors are not told: foreign
    /// state is no state).
    #[inline(never)]
    fn from_json(text: &[u8]) -> Option<State> {
        let v = json::parse(text).ok()?;
        let at = At::root(&v);
        let field = |k: &str| at.get(k).ok().flatten();
        let text = |k: &str| Some(field(k)?.str().ok()?.to_string());
        let mut st = State {
            id: text("id")?,
            pid: field("pid")?.i32().ok()?,
            start: field("start")?.u64().ok()?,
            bundle: text("bundle")?,
            rootfs: text("rootfs")?,
            created: text("created")?,
            annotations: String::new(),
            cgroups: Vec::new(),
            own_pid_ns: field("pidns")?.bool().ok()?,
        };
        st.annotations = field("annotations")?.string_object().ok()?;
        for pair in field("cgroups")?.array().ok()? {
            let mut pair = pair.array().ok()?;
            let (Some(ino), Some(path), None) = (pair.next(), pair.next(), pair.next()) else {
                return None;
            };
            st.cgroups
                .push((path.str().ok()?.to_string(), ino.u64().ok()?));
        }
        Some(st)
    }

    /// Write the state into the claim file, each time with one `write` at its end, so a
    /// reader (or a kill) sees the line before or both, never part of one: while `create`
    /// runs, the record of what it is about to make; once it is done, the whole state,
    /// the line after it. No other file, no rename: on ext4 a rename over a file forces
    /// the new one's blocks to be allocated (`auto_da_alloc`), and with `discard` freeing
    /// them at `delete` waits for the disk; and every file made costs an inode, which ext4
    /// finds by skipping the ones freed recently (a scan that grows with the churn).
    pub fn save(&self, entry: &Entry) -> Result<()> {
        let cannot = |e| Error::sys_msg(format_args!("cannot write the state of {}", entry.id), e);
        let claim = entry.claim.as_ref().ok_or_else(|| cannot(Errno::BADF))?;
        let at = rustix::fs::fstat(claim).map_err(cannot)?.st_size as u64;
        let text = self.to_json();
        match rustix::io::pwrite(claim, text.as_bytes(), at) {
            Ok(n) if n == text.len() => Ok(()),
            Ok(_) => Err(cannot(Errno::IO)),
            Err(e) => Err(cannot(e)),
        }
    }

    /// The state of `dir`: the last whole line of its claim file (the finished state, or
    /// the record of a `create` not done). None when there is none or it is not crab-can's
    /// (foreign state is treated as no state at all).
    pub fn load(entry: &Entry) -> Option<State> {
        let text = crate::sys::read_small(entry.fd, &entry.id, 1 << 20)?;
        // The last newline ends the last whole line; the one before it, if any, starts it.
        let end = text.iter().rposition(|&b| b == b'\n')?;
        let start = text[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        State::from_json(&text[start..end])
    }

    /// The status, derived from the kernel (see the module's words).
    pub fn status(&self, entry: &Entry) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if crate::cgroup::is_frozen(&self.cgroups) {
            return Status::Paused;
        }
        if rustix::fs::statat(
            entry.fd,
            entry.file("start").as_str(),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .is_ok()
        {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The init is this state's very process, alive (not a zombie).
    pub fn init_alive(&self) -> bool {
        self.pid > 0
            && proc_start(self.pid)
                .is_some_and(|(st, s)| s == self.start && st != b'Z' && st != b'X')
    }

    /// A pidfd of the init, after checking it is still this state's process.
    pub fn pidfd(&self) -> Option<OwnedFd> {
        let pid = rustix::process::Pid::from_raw(self.pid)?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        // Checked after opening: the pidfd pins this very process from here on.
        self.init_alive().then_some(fd)
    }

    /// `state ID`'s JSON: runc's keys, `pid` 0 once stopped, annotations only when any.
    pub fn oci_json(&self, status: Status) -> String {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        self.json(status.word(), pid)
    }

    /// The same JSON with any status word (hooks see `creating`, which `state` never shows).
    pub fn json(&self, status: &str, pid: i32) -> String {
        let mut s = String::from("{\"ociVersion\":\"");
        s += crate::oci::spec::SPEC_VERSION;
        s += "\",\"id\":";
        json::quote(&mut s, &self.id);
        s += &format!(",\"pid\":{pid},\"status\":\"{status}\",\"bundle\":");
        json::quote(&mut s, &self.bundle);
        s += ",\"rootfs\":";
        json::quote(&mut s, &self.rootfs);
        s += ",\"created\":";
        json::quote(&mut s, &self.created);
        s += ",\"owner\":\"\"";
        if self.annotations.len() > 2 {
            s += ",\"annotations\":";
            s += &self.annotations;
        }
        s.push('}');
        s
    }
}

/// The state letter and start time (field 22) of /proc/PID/stat.
pub fn proc_start(pid: i32) -> Option<(u8, u64)> {
    let text = crate::sys::read_small(rustix::fs::CWD, &format!("/proc/{pid}/stat"), 4096)?;
    let text = std::str::from_utf8(&text).ok()?;
    let mut f = crate::sys::stat_fields(text)?;
    let state = f.next()?.bytes().next()?;
    let start = f.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Write `name` under `dir` whole: a hidden file of its own, renamed over it, so a reader
/// (or a crash) sees the old content or the new, never part of it.
pub fn replace(
    dir: BorrowedFd<'_>,
    name: &str,
    text: &[u8],
    mode: u32,
) -> std::result::Result<(), Errno> {
    let tmp = format!(".{name}.crab-can");
    let fd = rustix::fs::openat(
        dir,
        tmp.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(mode),
    )?;
    crate::sys::write_all(fd.as_fd(), text)?;
    drop(fd);
    rustix::fs::renameat(dir, tmp.as_str(), dir, name)
}

/// Remove `id`'s files (only those crab-can puts there), the claim last: the ID is free
/// only once nothing of it is left.
pub fn remove(entry: Entry<'_>) {
    for &f in &["config.json", "start"] {
        let _ = rustix::fs::unlinkat(entry.fd, entry.file(f).as_str(), AtFlags::empty());
    }
    if let Some(tmp) = long_gate_name(&entry) {
        let _ = rustix::fs::unlinkat(entry.fd, tmp, AtFlags::empty());
    }
    let _ = rustix::fs::unlinkat(entry.fd, entry.id.as_str(), AtFlags::empty());
}

/// An ID too long for its start socket's path to fit in a socket address: at most
/// `/proc/self/fd/` (14 bytes), the root's fd (10), `/`, the ID and `:start` in 107.
pub fn long_id(id: &str) -> bool {
    id.len() > 70
}

/// Where the start gate's socket of an ID too long for a socket address is bound before
/// it is renamed to `ID:start`: a name of the claim file's inode (unique while the claim
/// exists), so a `create` killed in between leaves nothing `remove` does not know of.
pub fn long_gate_name(entry: &Entry<'_>) -> Option<String> {
    if !long_id(&entry.id) {
        return None;
    }
    let st = rustix::fs::statat(entry.fd, entry.id.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(format!(".{}:start", st.st_ino))
}

/// Every ID under the root, sorted.
pub fn list(root: &OwnedFd) -> Vec<String> {
    let mut ids = Vec::new();
    if let Ok(mut d) = rustix::fs::Dir::read_from(root) {
        while let Some(Ok(e)) = d.next() {
            use rustix::fs::FileType;
            if !matches!(e.file_type(), FileType::RegularFile | FileType::Unknown) {
                continue;
            }
            if let Ok(name) = e.file_name().to_str() {
                if check_id(name).is_ok() {
                    crate::cgroup::insert_sorted(&mut ids, name.to_string());
                }
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (String, OwnedFd) {
        let path = format!("/tmp/crab-can-state-unit-{}", crate::sys::testing::pid());
        let _ = std::fs::remove_dir_all(&path);
        let fd = open_root(&path).unwrap();
        (path, fd)
    }

    #[test]
    fn the_last_whole_line_is_the_state() {
        let (path, root) = root();
        let entry = make(&root, "c1").unwrap();
        assert!(State::load(&entry).is_none(), "an empty claim is no state");
        let mut st = State {
            id: "c1".into(),
            cgroups: vec![("/sys/fs/cgroup/x/c1".into(), 0)],
            ..State::default()
        };
        st.save(&entry).unwrap();
        let got = State::load(&entry).unwrap();
        assert!(
            got.created.is_empty() && got.cgroups[0].1 == 0,
            "the intent"
        );
        // A line being written (no newline yet) is not read: the one before it is.
        let file = format!("{path}/c1");
        std::fs::write(&file, st.to_json() + "{\"id\":\"c1\",\"pi").unwrap();
        assert!(State::load(&entry).unwrap().created.is_empty());
        std::fs::write(&file, st.to_json()).unwrap();
        st.created = "2026-11-30T00:00:00Z".into();
        st.pid = 42;
        st.cgroups[0].1 = 7;
        st.save(&entry).unwrap();
        let got = State::load(&entry).unwrap();
        assert_eq!((got.pid, got.cgroups[0].1), (42, 7), "the finished state");
        assert!(!got.created.is_empty());
        // Garbage as the last line: not crab-can's, no state.
        std::fs::write(&file, "{garbage\n").unwrap();
        assert!(State::load(&entry).is_none());
        remove(entry);
        assert!(list(&root).is_empty());
        std::fs::remove_dir(&path).unwrap();
    }

    /// A root whose parents are missing: all made, whatever the slashes; one that exists
    /// (or is made meanwhile) is no error; anything else in the way is.
    #[test]
    fn roots_with_missing_parents() {
        let base = format!("/tmp/crab-can-mkdir-unit-{}", crate::sys::testing::pid());
        let _ = std::fs::remove_dir_all(&base);
        let deep = format!("{base}//a/b/./c/");
        open_root(&deep).unwrap();
        assert!(std::path::Path::new(&format!("{base}/a/b/c")).is_dir());
        assert_eq!(mkdir_all(&deep), Ok(()));
        assert_eq!(mkdir_all(&format!("{base}/a")), Ok(()));
        std::fs::write(format!("{base}/f"), "").unwrap();
        assert_eq!(mkdir_all(&format!("{base}/f/x/y")), Err(Errno::NOTDIR));
        std::os::unix::fs::symlink("/nonexistent/crab-can", format!("{base}/dangling")).unwrap();
        let e = open_root(&format!("{base}/dangling/x"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.ends_with("/dangling/x: File exists (os error 17)"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
