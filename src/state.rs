//! Container names: one lock file per running container in `/run/crab-can`, held with
//! `flock` for the container's whole life. The kernel drops the lock when crab-can dies,
//! however it dies, so a name is free again at once; the file also lists the container's
//! cgroup directories, so the next run can remove what a killed crab-can left behind.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

pub const DIR: &str = "/run/crab-can";

pub struct NameLock {
    dir: OwnedFd,
    fd: OwnedFd,
    name: String,
}

fn open_dir() -> std::result::Result<OwnedFd, Errno> {
    for d in ["/run", DIR] {
        match rustix::fs::mkdir(d, Mode::from_raw_mode(if d == DIR { 0o700 } else { 0o755 })) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    rustix::fs::open(
        DIR,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
}

/// Take `name` for this run. `Ok(None)` when there is nowhere to keep locks (a read-only
/// root without /run): the run goes on, without the check.
pub fn lock(name: &str) -> Result<Option<NameLock>> {
    let dir = match open_dir() {
        Ok(d) => d,
        Err(Errno::ROFS) | Err(Errno::ACCESS) | Err(Errno::PERM) => return Ok(None),
        Err(e) => {
            return Err(Error::sys(
                format!("cannot create the state directory {DIR}"),
                e,
            ));
        }
    };
    // A run that is ending sweeps stale state files and holds each for a moment; a file
    // we just created may be one of them. Only a lock held for longer means "running".
    let mut busy_tries = 0;
    loop {
        let fd = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::sys(format!("cannot create {DIR}/{name}"), e))?;
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) if busy_tries < 10 => {
                busy_tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            Err(Errno::WOULDBLOCK) => {
                return Err(Error::new(format!("container {name} is already running")));
            }
            Err(e) => return Err(Error::sys(format!("cannot lock {DIR}/{name}"), e)),
        }
        // The holder before us may have removed the file between our open and our lock:
        // then this lock is on a dead file, and we start over.
        let ours = rustix::fs::fstat(&fd).map(|s| s.st_ino).ok();
        let there = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|s| s.st_ino)
            .ok();
        if ours.is_some() && ours == there {
            return Ok(Some(NameLock {
                dir,
                fd,
                name: name.to_string(),
            }));
        }
    }
}

impl NameLock {
    /// Remove whatever a killed crab-can of this name left behind (its cgroups).
    pub fn clean_leftovers(&self) {
        for path in read_paths(self.fd.as_fd()) {
            crate::cgroup::remove_leftover(&path);
        }
    }

    /// Record this run's cgroup directories, for the run after a crash of this one.
    pub fn record(&self, cgroups: &[&str]) {
        let _ = rustix::fs::ftruncate(&self.fd, 0);
        let _ = rustix::io::pwrite(&self.fd, cgroups.join("\n").as_bytes(), 0);
    }
}

fn read_paths(fd: rustix::fd::BorrowedFd<'_>) -> Vec<String> {
    let mut buf = [0u8; 4096];
    let n = rustix::io::pread(fd, &mut buf, 0).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl Drop for NameLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock; a waiter that opened it before
        // sees it gone (inode check) and starts over.
        let _ = rustix::fs::unlinkat(&self.dir, self.name.as_str(), AtFlags::empty());
    }
}

/// Remove what crab-can runs that were killed left behind: every state file nobody holds
/// names cgroups to remove. Cheap when there is nothing (one directory read).
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
        let name = e.file_name();
        if name.to_bytes().starts_with(b".") {
            continue;
        }
        let Ok(fd) = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        ) else {
            continue;
        };
        if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue; // running
        }
        let same = rustix::fs::fstat(&fd).map(|s| s.st_ino).ok()
            == rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|s| s.st_ino)
                .ok();
        if !same {
            continue;
        }
        for path in read_paths(fd.as_fd()) {
            crate::cgroup::remove_leftover(&path);
        }
        let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
    }
}
