//! crab-can run by an unprivileged user, for tests/rootless.rs (../shared/design/CONTRACT.md
//! "Without root"; ../shared/design/ROOTLESS-AND-EXEC.md part 1).
//!
//! Two users of the host, made once with `useradd -m` when missing and then kept (like an
//! installed package): `crabrl`, to whom Debian's useradd gives a range in /etc/subuid and
//! /etc/subgid, and `crabrlnosub`, made without one (`-K SUB_UID_COUNT=0`).
//!
//! Each test process gets, in the user's home, a directory `rl-<pid>` of the user's own
//! (removed when the process exits) holding a copy of the binary under test as
//! `bin/crab-can` (CI clones under /root, which the user cannot enter), a copy of the shared
//! test image owned by the user (`image`, with an empty `/mnt`), private image copies for
//! tests that write into theirs (`fresh_image`), and an empty directory `nopath`.
//!
//! A run is `setpriv --reuid=U --regid=U --init-groups --reset-env -- /usr/bin/env PATH=P
//! DIR/bin/crab-can ARGS...` with the user's home as its working directory; P is what the
//! test controls (`Uidmap`): the empty `nopath` (no newuidmap: a single id) or
//! `/usr/bin:/bin` (newuidmap and newgidmap, used when the user has a range).
//!
//! Tests hold `shared()` while they run; the tests that check that nothing of the user is
//! left hold `exclusive()`, so that no other test of this process runs the user's
//! containers meanwhile.
use super::{
    Proc, Run, bin, command_for, host_mounts_with, image, procs, require_root, run_command,
};
use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The user with a subordinate id range.
pub const USER: &str = "crabrl";
/// The user without one.
pub const USER_NO_RANGE: &str = "crabrlnosub";

/// The PATH crab-can runs with, which decides whether it can find newuidmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uidmap {
    /// PATH is an empty directory: no newuidmap, so the maps are the single id.
    Off,
    /// PATH=/usr/bin:/bin, where newuidmap and newgidmap are (uidmap package).
    On,
}

/// One range of /etc/subuid or /etc/subgid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRange {
    pub start: u32,
    pub count: u32,
}

impl SubRange {
    pub fn contains(&self, id: u32) -> bool {
        id >= self.start && id - self.start < self.count
    }
}

/// An unprivileged user of the host and this test process's directory in its home.
pub struct User {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// `HOME/rl-<pid>`, the user's, removed when this process exits.
    pub dir: PathBuf,
    image: OnceLock<PathBuf>,
}

static LOCK: RwLock<()> = RwLock::new(());

/// Held by every test while it runs the user's containers.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that checks that nothing of the user is left: no other test of this
/// process runs meanwhile.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// The user `crabrl` (with a subordinate range, as Debian's `useradd -m` gives).
pub fn user() -> &'static User {
    static U: OnceLock<User> = OnceLock::new();
    U.get_or_init(|| User::make(USER, &[]))
}

/// The user `crabrlnosub`, who has no range in /etc/subuid or /etc/subgid.
pub fn user_without_range() -> &'static User {
    static U: OnceLock<User> = OnceLock::new();
    U.get_or_init(|| {
        let u = User::make(
            USER_NO_RANGE,
            &["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"],
        );
        assert_eq!(
            u.sub_range("/etc/subuid"),
            None,
            "{USER_NO_RANGE} has a range in /etc/subuid; remove it (it was made without one)"
        );
        u
    })
}

/// The directories to remove when this process exits.
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn remove_dirs() {
    let dirs = DIRS.lock().map(|d| d.clone()).unwrap_or_default();
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// `/etc/passwd`'s (uid, gid, home) of `name`.
fn passwd(name: &str) -> Option<(u32, u32, PathBuf)> {
    let o = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&o.stdout).into_owned();
    let f: Vec<&str> = line.trim().split(':').collect();
    if !o.status.success() || f.len() < 7 {
        return None;
    }
    Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5])))
}

/// `chown -R -h U:G path` (symbolic links themselves, never what they point to).
fn chown_r(path: &Path, uid: u32, gid: u32) {
    let st = Command::new("chown")
        .args(["-R", "-h", &format!("{uid}:{gid}")])
        .arg(path)
        .status()
        .expect("run chown");
    assert!(
        st.success(),
        "chown -R {uid}:{gid} {} failed",
        path.display()
    );
}

impl User {
    fn make(name: &'static str, useradd: &[&str]) -> User {
        require_root();
        if passwd(name).is_none() {
            let o = Command::new("useradd")
                .arg("-m")
                .args(useradd)
                .arg(name)
                .output()
                .expect("run useradd");
            assert!(
                o.status.success() || passwd(name).is_some(),
                "useradd -m {name} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let (uid, gid, home) = passwd(name).unwrap_or_else(|| panic!("no user {name}"));
        assert!(uid != 0 && gid != 0, "{name} is uid {uid} gid {gid}");
        if !home.is_dir() {
            std::fs::create_dir_all(&home).unwrap();
            std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
        }
        let dir = home.join(format!("rl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let mut dirs = DIRS.lock().unwrap();
            if dirs.is_empty() {
                // SAFETY: registering a plain extern "C" function with no arguments.
                unsafe { libc::atexit(remove_dirs) };
            }
            dirs.push(dir.clone());
        }
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("nopath")).unwrap();
        let b = dir.join("bin/crab-can");
        std::fs::copy(bin(), &b)
            .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", bin().display(), b.display()));
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).unwrap();
        chown_r(&dir, uid, gid);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        User {
            name,
            uid,
            gid,
            home,
            dir,
            image: OnceLock::new(),
        }
    }

    /// The copy of crab-can the user runs.
    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin/crab-can")
    }

    /// The first range of this user (by name or uid) in `file` (/etc/subuid, /etc/subgid).
    pub fn sub_range(&self, file: &str) -> Option<SubRange> {
        let text = std::fs::read_to_string(file).ok()?;
        let uid = self.uid.to_string();
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            if f.len() != 3 || (f[0] != self.name && f[0] != uid) {
                return None;
            }
            let r = SubRange {
                start: f[1].parse().ok()?,
                count: f[2].parse().ok()?,
            };
            (r.count > 0).then_some(r)
        })
    }

    /// Whether a host uid is this user's: its own, or in its /etc/subuid range.
    pub fn owns_uid(&self, id: u32) -> bool {
        id == self.uid
            || self
                .sub_range("/etc/subuid")
                .is_some_and(|r| r.contains(id))
    }

    /// A copy of the test image (`common::image()`) at `dst`, owned by the user, with an empty
    /// `/mnt` to mount on.
    fn copy_image(&self, dst: &Path) {
        let _ = std::fs::remove_dir_all(dst);
        let st = Command::new("cp")
            .arg("-a")
            .arg(image())
            .arg(dst)
            .status()
            .expect("run cp");
        assert!(st.success(), "cannot copy the image to {}", dst.display());
        std::fs::create_dir_all(dst.join("mnt")).unwrap();
        chown_r(dst, self.uid, self.gid);
    }

    /// The user's shared copy of the test image (tests must not write into it).
    pub fn image(&self) -> &Path {
        self.image.get_or_init(|| {
            let d = self.dir.join("image");
            self.copy_image(&d);
            d
        })
    }

    /// A private copy of the test image, the user's, for a test that writes into it.
    pub fn fresh_image(&self, tag: &str) -> PathBuf {
        let d = self.dir.join(format!("image-{tag}"));
        self.copy_image(&d);
        d
    }

    /// A directory of the user's own in its test directory (for volumes).
    pub fn fresh_dir(&self, tag: &str) -> PathBuf {
        let d = self.dir.join(format!("dir-{tag}"));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(self.uid), Some(self.gid)).unwrap();
        d
    }

    /// The PATH crab-can gets.
    pub fn path(&self, m: Uidmap) -> String {
        match m {
            Uidmap::Off => self.dir.join("nopath").to_str().unwrap().to_string(),
            Uidmap::On => "/usr/bin:/bin".to_string(),
        }
    }

    /// The argv that runs `program ARGS...` as the user with PATH for `m`.
    pub fn argv(&self, m: Uidmap, program: &str, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "setpriv".to_string(),
            format!("--reuid={}", self.name),
            format!("--regid={}", self.name),
            "--init-groups".to_string(),
            "--reset-env".to_string(),
            "--".to_string(),
            "/usr/bin/env".to_string(),
            format!("PATH={}", self.path(m)),
            program.to_string(),
        ]
        .into();
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// `program ARGS...` as the user (stdin /dev/null, stdout and stderr piped, the user's
    /// home as working directory), not started.
    pub fn command_of(&self, m: Uidmap, program: &str, args: &[&str]) -> Command {
        let argv = self.argv(m, program, args);
        let rest: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let mut c = command_for(&argv[0], &rest);
        c.current_dir(&self.home);
        c
    }

    /// `crab-can ARGS...` as the user, not started.
    pub fn command(&self, m: Uidmap, args: &[&str]) -> Command {
        self.command_of(m, self.bin().to_str().unwrap(), args)
    }

    /// `crab-can ARGS...` as the user, bounded to 60 s.
    pub fn crab(&self, m: Uidmap, args: &[&str]) -> Run {
        run_command(self.command(m, args))
    }

    /// `crab-can run OPTS... IMG CMD...` as the user.
    pub fn run_in(&self, m: Uidmap, img: &Path, opts: &[&str], cmd: &[&str]) -> Run {
        self.crab(m, &super::run_args(img, opts, cmd))
    }

    /// `crab-can run OPTS... <the user's image> CMD...` as the user.
    pub fn run(&self, m: Uidmap, opts: &[&str], cmd: &[&str]) -> Run {
        self.run_in(m, self.image(), opts, cmd)
    }

    /// `crab-can run OPTS... <the user's image> /bin/sh -c SCRIPT` as the user.
    pub fn sh(&self, m: Uidmap, opts: &[&str], script: &str) -> Run {
        self.run(m, opts, &["/bin/sh", "-c", script])
    }

    /// Live host processes (not zombies) any of whose uids is the user's or in its range.
    pub fn procs(&self) -> Vec<Proc> {
        procs()
            .into_iter()
            .filter(|p| p.state != 'Z' && p.state != 'X')
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{}/status", p.pid))
                    .ok()
                    .and_then(|s| {
                        let l = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
                        Some(
                            l[4..]
                                .split_whitespace()
                                .filter_map(|x| x.parse::<u32>().ok())
                                .any(|id| self.owns_uid(id)),
                        )
                    })
                    .unwrap_or(false)
            })
            .collect()
    }
}

/// newuidmap and newgidmap, and `crabrl`'s ranges in /etc/subuid and /etc/subgid; else a
/// visible skip of `test` and None.
pub fn ranges(test: &str) -> Option<(SubRange, SubRange)> {
    for p in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
        if !Path::new(p).exists() {
            super::skip(
                test,
                &format!("{p} is missing (package uidmap; tests/deps.sh installs it)"),
            );
            return None;
        }
    }
    let u = user();
    match (u.sub_range("/etc/subuid"), u.sub_range("/etc/subgid")) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => {
            super::skip(
                test,
                &format!("{USER} has no range in /etc/subuid and /etc/subgid"),
            );
            None
        }
    }
}

/// The ways to run for a test that holds in both: `Off`, then `On` where the host has
/// newuidmap and a range for the user (else a visible skip of that half).
pub fn modes(test: &str) -> Vec<Uidmap> {
    let mut v = vec![Uidmap::Off];
    if ranges(test).is_some() {
        v.push(Uidmap::On);
    }
    v
}

/// `uid_map`/`gid_map` text as rows of three numbers (the kernel pads them with spaces).
pub fn map_rows(text: &str) -> Vec<[u64; 3]> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .map(|x| {
                    x.parse()
                        .unwrap_or_else(|_| panic!("not an id map line: {l:?}"))
                })
                .collect();
            assert_eq!(f.len(), 3, "not an id map line: {l:?}");
            [f[0], f[1], f[2]]
        })
        .collect()
}

/// Every directory under `root` (not `root` itself, no symbolic links followed), to `depth`.
pub fn dirs_under(root: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), 0)];
    while let Some((d, n)) = todo.pop() {
        if n >= depth {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path());
                todo.push((e.path(), n + 1));
            }
        }
    }
    out
}

/// Every file or directory under `root` (and `root` itself), no symbolic links followed.
pub fn entries_under(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            out.push(e.path());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
    }
    out
}

/// What crab-can may leave on the host, seen before some runs, to compare with after them.
pub struct Leftovers {
    /// Everything under /run/crab-can* (crab-can's state directories).
    run: BTreeSet<PathBuf>,
}

/// Everything under `/run/crab-can*`.
fn run_state() -> BTreeSet<PathBuf> {
    std::fs::read_dir("/run")
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("crab-can"))
                .flat_map(|e| entries_under(&e.path()))
                .collect()
        })
        .unwrap_or_default()
}

fn owner(p: &Path) -> Option<u32> {
    std::fs::symlink_metadata(p).ok().map(|m| m.uid())
}

impl Leftovers {
    pub fn snapshot() -> Leftovers {
        Leftovers { run: run_state() }
    }

    /// What is left of the user's runs (`names`: the `--name`s they had): its processes,
    /// mounts on the host that mention its test directory, new entries under /run/crab-can*
    /// that are its or name a container of `names`, files of the user anywhere under /run,
    /// and cgroup directories anywhere under /sys/fs/cgroup that are its or are named
    /// crab-can* or after a container of `names`. Empty: nothing left.
    pub fn left(&self, u: &User, names: &[String]) -> Vec<String> {
        let mut v = Vec::new();
        for p in u.procs() {
            let cmd = String::from_utf8_lossy(&super::cmdline(p.pid)).replace('\0', " ");
            v.push(format!(
                "process {} ({}, state {}) {cmd}",
                p.pid, p.comm, p.state
            ));
        }
        for m in host_mounts_with(u.dir.to_str().unwrap()) {
            v.push(format!("host mount: {m}"));
        }
        let mine = |p: &Path| {
            let s = p.to_string_lossy();
            names.iter().any(|n| s.contains(n.as_str())) || owner(p).is_some_and(|o| u.owns_uid(o))
        };
        for p in run_state().difference(&self.run) {
            if mine(p) {
                v.push(format!("state file {}", p.display()));
            }
        }
        for p in dirs_under(Path::new("/run"), 4) {
            if owner(&p).is_some_and(|o| u.owns_uid(o)) {
                v.push(format!("the user's directory under /run: {}", p.display()));
            }
        }
        for p in dirs_under(Path::new(super::CG), 8) {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            let named = n.starts_with("crab-can") && owner(&p).is_some_and(|o| u.owns_uid(o));
            if named || names.iter().any(|x| n.contains(x.as_str())) {
                v.push(format!("cgroup {}", p.display()));
            }
        }
        v
    }
}
