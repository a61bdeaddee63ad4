//! Container names and what a killed run leaves behind.
//!
//! A running container's name is an abstract unix socket, `@crab-can/NAME`, bound by its
//! crab-can for the container's whole life: binding is atomic, needs no file, and the
//! kernel frees the name the moment crab-can dies, however it dies. It is a listening
//! `SEQPACKET` socket: `exec`, `ps` and `kill` connect to it and receive one [`Running`]
//! record with the init's pidfd and the cgroup directories (SCM_RIGHTS). Anyone can
//! connect to or bind an abstract name, so both sides check the other's uid
//! (`SO_PEERCRED`): the server answers root only, and a client trusts only a root holder. Abstract names belong
//! to a network namespace, so the socket is always made in the host's (see `host_net_ns`): a name is
//! unique on the host whichever network namespace crab-can is started in (`ip netns exec`,
//! systemd's `PrivateNetwork=`, a CI runner's). Only without `/proc`, or where PID 1's
//! namespace cannot be reached, does crab-can fall back to its own.
//!
//! A run that makes cgroups also writes `/run/crab-can/NAME` *before* it makes any: first
//! the directories it is about to make, then, once they exist, each with its inode number.
//! It removes the file at the end. A file whose name nobody holds is a killed run's: the
//! next run removes the cgroups it lists, and only those (see `cgroup::remove_leftover`).

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use rustix::thread::LinkNameSpaceType;

pub const DIR: &str = "/run/crab-can";

pub struct NameLock {
    socket: OwnedFd,
    name: String,
    /// The state file, once this run has written one.
    record: Option<OwnedFd>,
}

fn unix_socket() -> std::result::Result<OwnedFd, Errno> {
    // Abstract names are per socket type: every user of the name (lock, sweep, clients)
    // must use this one.
    rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
}

/// The host's network namespace: PID 1's; where PID 1 may not be inspected (a sandbox
/// whose PID 1 holds capabilities that root here lacks), that of PID 2 when it is the
/// kernel's `kthreadd` (a kernel thread, always in the initial namespaces). None without
/// /proc, or when neither can be seen (then crab-can's own namespace is all it can use).
fn host_net_ns() -> Option<(&'static str, rustix::fs::Stat)> {
    // Only root may look into PID 1's or kthreadd's namespaces (and join them); anyone else
    // is refused both, and uses its own.
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    if let Ok(st) = rustix::fs::statat(
        rustix::fs::CWD,
        "/proc/1/ns/net",
        rustix::fs::AtFlags::empty(),
    ) {
        return Some(("/proc/1/ns/net", st));
    }
    // "2 (kthreadd) S 0 ...": a parent pid of 0 is a kernel thread of the initial PID
    // namespace (in a container's PID namespace, PID 2 has a parent).
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        "/proc/2/stat",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 128];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    if crate::sys::stat_fields(text)?.nth(1) != Some("0") {
        return None;
    }
    rustix::fs::statat(
        rustix::fs::CWD,
        "/proc/2/ns/net",
        rustix::fs::AtFlags::empty(),
    )
    .ok()
    .map(|st| ("/proc/2/ns/net", st))
}

/// A unix socket of the host's network namespace, where names live.
fn host_socket() -> std::result::Result<OwnedFd, Errno> {
    let Some((host_path, host)) = host_net_ns() else {
        return unix_socket();
    };
    let own = rustix::fs::statat(
        rustix::fs::CWD,
        "/proc/self/ns/net",
        rustix::fs::AtFlags::empty(),
    )?;
    if (host.st_dev, host.st_ino) == (own.st_dev, own.st_ino) {
        return unix_socket();
    }
    let open = |p: &str| {
        rustix::fs::openat(
            rustix::fs::CWD,
            p,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let back = open("/proc/self/ns/net")?;
    let host_ns = open(host_path)?;
    rustix::thread::move_into_link_name_space(host_ns.as_fd(), Some(LinkNameSpaceType::Network))?;
    let sock = unix_socket();
    // Back to the caller's namespace before anything else: `--net host` means the caller's.
    // If that fails this process stops here (the caller turns the error into exit 125).
    rustix::thread::move_into_link_name_space(back.as_fd(), Some(LinkNameSpaceType::Network))?;
    sock
}

/// `@crab-can/NAME` for root's containers, `@crab-can/uUID/NAME` for a rootless user's
/// (a name with a `uUID/` part is that user's, as root names it).
fn address(name: &str) -> std::result::Result<SocketAddrUnix, Errno> {
    SocketAddrUnix::new_abstract_name(format!("crab-can/{}{name}", own_prefix(name)).as_bytes())
}

/// The `uUID/` part the caller's own names get: none for root, or a name that has one.
fn own_prefix(name: &str) -> String {
    let uid = rustix::process::geteuid().as_raw();
    match uid == 0 || name.contains('/') {
        true => String::new(),
        false => format!("u{uid}/"),
    }
}

/// Who must hold `name`'s socket: root, or the user its `uUID/` part names (the caller,
/// when it is not root and names its own).
fn holder(name: &str) -> u32 {
    match name.split_once('/') {
        Some((u, _)) => crate::user::parse_u32(&u[1..]).unwrap_or(u32::MAX),
        None => rustix::process::geteuid().as_raw(),
    }
}

/// A container name as `exec`, `kill` and `ps` take it: a name, or `uUID/NAME` (root
/// naming a rootless user's container).
pub fn is_ref(s: &str) -> bool {
    match s.split_once('/') {
        Some((u, n)) => {
            u.len() > 1
                && u.starts_with('u')
                && u[1..].bytes().all(|c| c.is_ascii_digit())
                && is_name(n)
        }
        None => is_name(s),
    }
}

/// Bind `@crab-can/NAME`: Ok(None) when another process holds it.
fn try_bind(name: &str) -> std::result::Result<Option<OwnedFd>, Errno> {
    let sock = host_socket()?;
    match rustix::net::bind(&sock, &address(name)?) {
        Ok(()) => Ok(Some(sock)),
        Err(Errno::ADDRINUSE) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`: what a container name may be (it names a socket, a
/// state file and a cgroup directory).
pub fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// Take `name` for this run, or say it is running.
pub fn lock(name: &str) -> Result<NameLock> {
    // A run that is ending holds a dead run's name for a moment while it sweeps (below):
    // only a name held for longer means "running".
    for attempt in 0.. {
        match try_bind(name) {
            Ok(Some(socket)) => {
                return Ok(NameLock {
                    socket,
                    name: name.to_string(),
                    record: None,
                });
            }
            Ok(None) if attempt < 10 => std::thread::sleep(std::time::Duration::from_millis(5)),
            Ok(None) => break,
            Err(e) => {
                return Err(Error::sys_msg(
                    format_args!("cannot take the container name '{name}'"),
                    e,
                ));
            }
        }
    }
    Err(Error::msg(format_args!(
        "container {name} is already running"
    )))
}

fn state_file(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// One line of a state file: `INO PATH`, with `-` for an inode not known yet.
#[inline(never)]
fn record_line(path: &str, ino: Option<u64>) -> String {
    match ino {
        Some(i) => format!("{i} {path}\n"),
        None => format!("- {path}\n"),
    }
}

/// Remove the cgroups a dead run of `name` recorded, and its file (root's runs only: a
/// rootless run writes none, and must not read root's).
fn remove_leftovers(name: &str) {
    if crate::userns::rootless() {
        return;
    }
    let path = state_file(name);
    let Some(text) = crate::sys::read_text(&path) else {
        return;
    };
    for line in text.lines() {
        let Some((ino, dir)) = line.split_once(' ') else {
            continue;
        };
        match ino {
            "-" => crate::cgroup::remove_leftover(dir, None),
            i => {
                if let Ok(i) = i.parse() {
                    crate::cgroup::remove_leftover(dir, Some(i));
                }
            }
        }
    }
    let _ = rustix::fs::unlinkat(rustix::fs::CWD, path.as_str(), rustix::fs::AtFlags::empty());
}

impl NameLock {
    /// Start answering `exec`, `ps` and `kill` (see [`answer`]).
    pub fn listen(&self) -> Result<BorrowedFd<'_>> {
        rustix::net::listen(&self.socket, 16)
            .map_err(|e| Error::sys("cannot listen on the container's name socket", e))?;
        Ok(self.socket.as_fd())
    }

    /// Whatever a killed crab-can of this name left behind: remove it.
    pub fn clean_leftovers(&self) {
        remove_leftovers(&self.name);
    }

    /// Record this run's cgroup directories, for the run after a crash of this one: first
    /// before any of them exists (no inode yet), then again once each exists. The file is
    /// complete before anything it lists is made: each version is written whole with one
    /// `pwrite` (a later version only grows), so a kill leaves the old version or the new.
    pub fn record(&mut self, dirs: &[(&str, Option<u64>)]) -> Result<()> {
        let mut text = String::new();
        for &(p, i) in dirs {
            text += &record_line(p, i);
        }
        let file = state_file(&self.name);
        let cannot = |e| {
            Error::sys_msg(
                format_args!(
                    "cannot record the container's cgroups in {file} (needed to remove them after a crash)"
                ),
                e,
            )
        };
        if self.record.is_none() {
            for d in ["/run", DIR] {
                match rustix::fs::mkdirat(
                    rustix::fs::CWD,
                    d,
                    Mode::from_raw_mode(if d == DIR { 0o700 } else { 0o755 }),
                ) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(cannot(e)),
                }
            }
            let fd = rustix::fs::openat(
                rustix::fs::CWD,
                file.as_str(),
                OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::TRUNC
                    | OFlags::CLOEXEC
                    | OFlags::NOFOLLOW,
                Mode::from_raw_mode(0o600),
            )
            .map_err(cannot)?;
            self.record = Some(fd);
        }
        let Some(fd) = &self.record else {
            return Ok(());
        };
        match rustix::io::pwrite(fd, text.as_bytes(), 0) {
            Ok(n) if n == text.len() => {}
            Ok(_) => return Err(cannot(Errno::NOSPC)),
            Err(e) => return Err(cannot(e)),
        }
        rustix::fs::ftruncate(fd, text.len() as u64).map_err(cannot)
    }
}

impl Drop for NameLock {
    fn drop(&mut self) {
        // Still holding the name, so no other run of it can be reading this file.
        if self.record.is_some() {
            let _ = rustix::fs::unlinkat(
                rustix::fs::CWD,
                state_file(&self.name).as_str(),
                rustix::fs::AtFlags::empty(),
            );
        }
    }
}

/// Remove what killed runs left behind: every state file whose name nobody holds.
/// Cheap when there is nothing (one directory read, or a missing directory).
pub fn sweep() {
    let Ok(dir) = rustix::fs::openat(
        rustix::fs::CWD,
        DIR,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) else {
        return;
    };
    while let Some(Ok(e)) = entries.next() {
        let Ok(name) = e.file_name().to_str() else {
            continue;
        };
        if !is_name(name) {
            continue;
        }
        // Holding the name while cleaning: a new run of it waits (see `lock`).
        if let Ok(Some(_held)) = try_bind(name) {
            remove_leftovers(name);
        }
    }
}

/// What a running container tells `exec`, `ps` and `kill`: its init, what an exec'd
/// process inherits from the container's command, and what `ps` shows. It travels as
/// NUL-separated fields, with the init's pidfd and the cgroup directories as SCM_RIGHTS.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Running {
    pub pid: i32,
    /// CLOCK_BOOTTIME seconds when it started.
    pub started: u64,
    pub uid: u32,
    pub gid: u32,
    /// The capability set of the command (as root; a non-root user holds none).
    pub caps: u64,
    /// Docker's default seccomp profile (else unconfined).
    pub seccomp: bool,
    pub image: String,
    pub command: String,
    pub limits: String,
    pub cwd: String,
    /// `KEY=VALUE`, the command's whole environment.
    pub env: Vec<String>,
    /// A rootless run's: the last fds are its root and namespaces (`init::NS_FILES`).
    pub rootless: bool,
}

/// The most fds a record carries: the init's pidfd and one per cgroup hierarchy.
/// The largest record (the command's environment is the bulk of it).
const MAX_RECORD: usize = 64 << 10;

impl Running {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for n in [
            self.pid as u64,
            self.started,
            self.uid as u64,
            self.gid as u64,
            self.caps,
            self.seccomp as u64 | (self.rootless as u64) << 1,
        ] {
            out += &n.to_string();
            out.push('\0');
        }
        for f in [&self.image, &self.command, &self.limits, &self.cwd] {
            out += f;
            out.push('\0');
        }
        for f in &self.env {
            out += f;
            out.push('\0');
        }
        out.pop();
        out.into_bytes()
    }

    pub fn decode(b: &[u8]) -> Option<Running> {
        let text = std::str::from_utf8(b).ok()?;
        let mut f = text.split('\0');
        let mut num = || f.next()?.parse::<u64>().ok();
        let (pid, started, uid, gid, caps, seccomp) =
            (num()?, num()?, num()?, num()?, num()?, num()?);
        let mut s = || f.next().map(str::to_string);
        let (image, command, limits, cwd) = (s()?, s()?, s()?, s()?);
        let mut env = Vec::new();
        for e in f {
            env.push(e.to_string());
        }
        Some(Running {
            pid: pid as i32,
            started,
            uid: uid as u32,
            gid: gid as u32,
            caps,
            seccomp: seccomp & 1 == 1,
            rootless: seccomp & 2 != 0,
            image,
            command,
            limits,
            cwd,
            env,
        })
    }
}

/// The uid of the process at the other end of a unix socket.
fn peer_uid(sock: BorrowedFd<'_>) -> Option<u32> {
    rustix::net::sockopt::socket_peercred(sock)
        .ok()
        .map(|c| c.uid.as_raw())
}

/// Server side: take one connection from the name socket and, when the caller is root or
/// (rootless) this container's owner, send it the record and the fds, then close it. The
/// server never acts for a client. The last `owner_only` fds (a rootless init's root and
/// namespaces) go to the owner only; root enters through the pidfd.
///
/// A caller must be in crab-can's own PID namespace: a process of a container shares the
/// host's network namespace (and so its abstract names) under `--net host`, and runs as
/// root, or (rootless) as the owner, seen from here; it must learn nothing of the others.
/// Where crab-can cannot look (a rootless run asked by root) the caller is root's own.
pub fn answer(listener: BorrowedFd<'_>, record: &[u8], fds: &[BorrowedFd<'_>], owner_only: usize) {
    use rustix::net::SocketFlags;
    let Ok(conn) = rustix::net::accept_with(listener, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK)
    else {
        return;
    };
    let Ok(peer) = rustix::net::sockopt::socket_peercred(&conn) else {
        return;
    };
    let (uid, me) = (peer.uid.as_raw(), rustix::process::geteuid().as_raw());
    let ns = |p: &str| {
        rustix::fs::stat(format!("/proc/{p}/ns/pid").as_str()).map(|s| (s.st_dev, s.st_ino))
    };
    let same_pid_ns = match (ns("self"), ns(&peer.pid.as_raw_nonzero().to_string())) {
        (Err(_), _) => true,
        (Ok(a), Ok(b)) => a == b,
        (Ok(_), Err(_)) => uid == 0 && me != 0,
    };
    if !(uid == 0 || uid == me) || !same_pid_ns {
        return;
    }
    let n = match uid == me {
        true => fds.len(),
        false => fds.len().saturating_sub(owner_only),
    };
    let _ = crate::sys::send_fds(conn.as_fd(), record, &fds[..n]);
}

/// Client side: ask the container NAME. None when no container holds the name; an error
/// when the holder is not root's (a squatter) or says nothing.
pub fn ask(name: &str) -> Result<Option<(Running, Vec<OwnedFd>)>> {
    let sock = host_socket().map_err(|e| Error::sys("cannot create a socket", e))?;
    let addr = address(name).map_err(|e| Error::sys("cannot create a socket", e))?;
    match rustix::net::connect(&sock, &addr) {
        Ok(()) => {}
        Err(Errno::CONNREFUSED) | Err(Errno::NOENT) => return Ok(None),
        Err(e) => {
            return Err(Error::sys_msg(
                format_args!("cannot reach container {name}"),
                e,
            ));
        }
    }
    // The listener's credentials, known before it accepts: never trust a name another
    // user bound (it could hand us fds into namespaces of its own).
    match peer_uid(sock.as_fd()) {
        Some(uid) if uid == holder(name) => {}
        Some(uid) => {
            return Err(Error::msg(format_args!(
                "@crab-can/{name} is held by uid {uid}, not by crab-can"
            )));
        }
        None => {
            return Err(Error::msg(format_args!(
                "cannot check who holds @crab-can/{name}"
            )));
        }
    }
    let mut buf = vec![0u8; MAX_RECORD];
    let (n, fds) = crate::sys::receive_fds(sock.as_fd(), &mut buf);
    let n = n.map_err(|e| Error::sys_msg(format_args!("cannot hear from container {name}"), e))?;
    // A container that is ending closes the connection without a word.
    if n == 0 || fds.is_empty() {
        return Ok(None);
    }
    // A user's run is the user's own program: the init it hands over must be the user's
    // process, or root would be led into namespaces the user does not own.
    let uid = holder(name);
    if uid != 0 && !runs_as(fds[0].as_fd(), uid) {
        return Err(Error::msg(format_args!(
            "container {name} handed over a process that is not uid {uid}'s"
        )));
    }
    match Running::decode(&buf[..n]) {
        Some(r) => Ok(Some((r, fds))),
        None => Err(Error::msg(format_args!(
            "container {name} sent a record crab-can cannot read"
        ))),
    }
}

/// Whether the process of `pidfd` runs as `uid` (real and effective, in the host's view),
/// and is still the same process once that was read.
#[inline(never)]
fn runs_as(pidfd: BorrowedFd<'_>, uid: u32) -> bool {
    use rustix::fd::AsRawFd;
    let field = |path: String, key: &str| {
        let text = crate::sys::read_text(&path)?;
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    };
    let Some(pid) = field(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()), "Pid:") else {
        return false;
    };
    let ids = field(format!("/proc/{}/status", pid[0]), "Uid:").unwrap_or_default();
    let want = uid.to_string();
    ids.len() > 1
        && ids[..2].iter().all(|i| *i == want)
        && crate::sys::pidfd_signal(pidfd, 0).is_ok()
}

/// The names of the running containers: the listening `@crab-can/` SEQPACKET sockets of
/// the host's network namespace, as `/proc/PID/net/unix` lists them.
pub fn names() -> Result<Vec<String>> {
    let path = match host_net_ns() {
        Some(("/proc/1/ns/net", _)) => "/proc/1/net/unix",
        Some(_) => "/proc/2/net/unix",
        None => "/proc/self/net/unix",
    };
    let text = crate::sys::read_text(path)
        .ok_or_else(|| Error::new("cannot list containers: /proc is not mounted"))?;
    let mut out: Vec<String> = Vec::new();
    // "Num RefCount Protocol Flags Type St Inode Path": flags 00010000 is a listener,
    // type 0005 SEQPACKET.
    let mut lines = text.lines();
    lines.next();
    for line in lines {
        // The first 8 words, and how many there are.
        let (mut f, mut len) = ([""; 8], 0);
        for w in line.split_whitespace() {
            if len < 8 {
                f[len] = w;
            }
            len += 1;
        }
        if len < 8 || f[3] != "00010000" || f[4] != "0005" {
            continue;
        }
        // A rootless user sees its own (`uUID/` taken off); root sees every one.
        let prefix = format!("@crab-can/{}", own_prefix(""));
        if let Some(n) = f[7].strip_prefix(prefix.as_str()) {
            // In order, once each.
            let i = out.partition_point(|o| o.as_str() < n);
            if is_ref(n) && out.get(i).is_none_or(|o| o != n) {
                out.insert(i, n.to_string());
            }
        }
    }
    Ok(out)
}
