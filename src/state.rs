//! Container names and what a killed run leaves behind.
//!
//! A running container's name is an abstract unix socket, `@crab-can/NAME`, bound by its
//! crab-can for the container's whole life: binding is atomic, needs no file, and the
//! kernel frees the name the moment crab-can dies, however it dies. (Abstract names
//! belong to a network namespace: names are unique among the crab-can processes of one.)
//!
//! A run that makes cgroups also writes `/run/crab-can/NAME`, the list of its cgroup
//! directories, and removes it at the end. A file whose name nobody holds is a killed
//! run's: the next run removes the cgroups it lists.

use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

pub const DIR: &str = "/run/crab-can";

pub struct NameLock {
    _socket: OwnedFd,
    name: String,
    recorded: bool,
}

/// Bind `@crab-can/NAME`: Ok(None) when another process holds it.
fn try_bind(name: &str) -> std::result::Result<Option<OwnedFd>, Errno> {
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let addr = SocketAddrUnix::new_abstract_name(format!("crab-can/{name}").as_bytes())?;
    match rustix::net::bind(&sock, &addr) {
        Ok(()) => Ok(Some(sock)),
        Err(Errno::ADDRINUSE) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Take `name` for this run, or say it is running.
pub fn lock(name: &str) -> Result<NameLock> {
    // A run that is ending holds a dead run's name for a moment while it sweeps (below):
    // only a name held for longer means "running".
    for attempt in 0.. {
        match try_bind(name) {
            Ok(Some(socket)) => {
                return Ok(NameLock {
                    _socket: socket,
                    name: name.to_string(),
                    recorded: false,
                });
            }
            Ok(None) if attempt < 10 => std::thread::sleep(std::time::Duration::from_millis(5)),
            Ok(None) => break,
            Err(e) => {
                return Err(Error::sys(
                    format!("cannot take the container name '{name}'"),
                    e,
                ));
            }
        }
    }
    Err(Error::new(format!("container {name} is already running")))
}

fn state_file(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// Remove the cgroups a dead run of `name` recorded, and its file.
fn remove_leftovers(name: &str) {
    let path = state_file(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        for dir in text.lines().filter(|l| !l.is_empty()) {
            crate::cgroup::remove_leftover(dir);
        }
        let _ = rustix::fs::unlink(path.as_str());
    }
}

impl NameLock {
    /// Whatever a killed crab-can of this name left behind: remove it.
    pub fn clean_leftovers(&self) {
        remove_leftovers(&self.name);
    }

    /// Record this run's cgroup directories, for the run after a crash of this one. Best
    /// effort: without a writable /run, a crash leaves them for the user to remove.
    pub fn record(&mut self, cgroups: &[&str]) {
        for d in ["/run", DIR] {
            let _ = rustix::fs::mkdir(d, Mode::from_raw_mode(if d == DIR { 0o700 } else { 0o755 }));
        }
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if let Ok(fd) = rustix::fs::open(
            state_file(&self.name).as_str(),
            flags,
            Mode::from_raw_mode(0o600),
        ) {
            let _ = rustix::io::write(&fd, cgroups.join("\n").as_bytes());
            self.recorded = true;
        }
    }
}

impl Drop for NameLock {
    fn drop(&mut self) {
        // Still holding the name, so no other run of it can be reading this file.
        if self.recorded {
            let _ = rustix::fs::unlink(state_file(&self.name).as_str());
        }
    }
}

/// Remove what killed runs left behind: every state file whose name nobody holds.
/// Cheap when there is nothing (one directory read, or a missing directory).
pub fn sweep() {
    let Ok(dir) = rustix::fs::open(
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
        if name.starts_with('.') || crate::cli::check_name(name).is_err() {
            continue;
        }
        // Holding the name while cleaning: a new run of it waits (see `lock`).
        if let Ok(Some(_held)) = try_bind(name) {
            remove_leftovers(name);
        }
    }
}
