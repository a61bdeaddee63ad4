//! Shared helpers of the integration tests: the real static binary, a real busybox root
//! filesystem, one runner for crab-can in the foreground (`crab`, `run_in`, `sh`) and in
//! the background (`Bg`), one decoder of exit statuses (`Run`), the host's /proc and its
//! cgroup layout. Every test runs as root; a test that cannot get what it needs fails
//! loudly instead of passing, except where the host itself lacks something (no cgroup
//! filesystem, say): then the test says `SKIP: ` on stderr and returns (see `skip`), and
//! with `CRAB_CAN_STRICT=1` (what CI sets) even that is a failure.
//!
//! Environment: `CRAB_CAN` (the binary under test), `CRAB_CAN_TEST_IMAGE` (a prebuilt image
//! instead of one made by tests/mkimage.sh), `CRAB_CAN_STRICT` (no skips).
#![allow(dead_code)]

/// OCI bundles, runc-style runtimes and their clean-up (tests/oci.rs).
pub mod bundle;
/// Real container engines driving an OCI runtime (tests/engines.rs).
pub mod engines;
/// crab-can run by an unprivileged user: the users, their copies, the runs (tests/rootless.rs).
pub mod rootless;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// The PATH a container's command gets by default (../shared/design/CONTRACT.md,
/// "Environment").
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set, the one root inside holds: CHOWN DAC_OVERRIDE FOWNER
/// FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE
/// SETFCAP (bits 0 1 3 4 5 6 7 8 10 13 18 27 29 31).
pub const DEFAULT_CAPS: u64 = 0xa804_25fb;

/// A capability mask as `/proc/PID/status` prints it (`CapEff:\t00000000a80425fb`).
pub fn cap_hex(mask: u64) -> String {
    format!("{mask:016x}")
}

/// The crab-can binary under test: `$CRAB_CAN` (what `make test` sets: the static
/// release binary), else the one cargo built for this test run.
pub fn bin() -> PathBuf {
    match std::env::var_os("CRAB_CAN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_crab-can")),
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "these tests run crab-can for real and need root");
}

/// This test process's scratch directory, removed when the process exits.
fn scratch() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("crab-can-tests-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        extern "C" fn remove_scratch() {
            let d = std::env::temp_dir().join(format!("crab-can-tests-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(d);
        }
        // SAFETY: registering a plain extern "C" function with no arguments.
        unsafe { libc::atexit(remove_scratch) };
        d
    })
    .clone()
}

/// `CRAB_CAN_STRICT=1`: a test that this host cannot run is a failure, not a skip.
pub fn strict() -> bool {
    std::env::var_os("CRAB_CAN_STRICT").is_some_and(|v| v == "1")
}

/// A test that this host cannot run (no cgroup filesystem, a v1 host without a controller
/// the test needs, ...): one visible line `SKIP: <test>: <why>` on stderr (written past the
/// test harness's output capture, so it shows for a passing test too), and the caller
/// returns (or, where only one of several cases needs what the host lacks, goes on with
/// the others). With `CRAB_CAN_STRICT=1` (CI) it panics with the reason instead.
pub fn skip(test: &str, why: &str) {
    if strict() {
        panic!("{test} cannot run on this host and CRAB_CAN_STRICT=1 forbids skipping: {why}");
    }
    use std::io::Write;
    // Not eprintln!: the harness captures that for a passing test.
    let _ = writeln!(std::io::stderr().lock(), "SKIP: {test}: {why}");
}

/// The name of the test function this is used in (for `skip`).
#[allow(unused_macros)]
macro_rules! test_name {
    () => {{
        fn f() {}
        let n = std::any::type_name_of_val(&f);
        let n = n.strip_suffix("::f").unwrap_or(n);
        n.rsplit("::").next().unwrap_or(n)
    }};
}
#[allow(unused_imports)]
pub(crate) use test_name;

/// The cgroup layout of this host, told apart as crab-can does (src/cgroup.rs `detect`):
/// by the filesystem magic of `/sys/fs/cgroup` and its v1 controller mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayout {
    /// `/sys/fs/cgroup` is cgroup2: one directory per container, `PARENT/NAME`.
    V2,
    /// v1 controllers at `/sys/fs/cgroup/<controller>`; `unified`: a v2 tree (without
    /// controllers) is mounted at `/sys/fs/cgroup/unified`.
    Hybrid { unified: bool },
    /// No cgroup filesystem crab-can can use.
    None,
}

/// Where the cgroup filesystems are mounted.
pub const CG: &str = "/sys/fs/cgroup";

pub const CGROUP2_MAGIC: i64 = 0x6367_7270;
pub const CGROUP1_MAGIC: i64 = 0x0027_e0eb;

/// The filesystem magic of `path` (after symlinks), None if it cannot be read.
pub fn fs_magic(path: &str) -> Option<i64> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: statfs fills a zeroed (valid) buffer; c is a NUL-terminated path.
    let (r, st) = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        (libc::statfs(c.as_ptr(), &mut st), st)
    };
    (r == 0).then_some(st.f_type as i64)
}

pub fn cgroup_layout() -> CgroupLayout {
    match fs_magic(CG) {
        Some(CGROUP2_MAGIC) => CgroupLayout::V2,
        Some(_) if V1_CONTROLLERS.iter().any(|c| v1_mounted(c)) => CgroupLayout::Hybrid {
            unified: fs_magic(&format!("{CG}/unified")) == Some(CGROUP2_MAGIC),
        },
        _ => CgroupLayout::None,
    }
}

/// The v1 controllers crab-can uses (for `--memory`, `--cpus` and `--pids`).
pub const V1_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// A v1 hierarchy of `controller` is mounted at `/sys/fs/cgroup/<controller>`.
pub fn v1_mounted(controller: &str) -> bool {
    fs_magic(&format!("{CG}/{controller}")) == Some(CGROUP1_MAGIC)
}

/// Every cgroup hierarchy crab-can may make a container's directory in on this host: the
/// one v2 tree of a v2 host; on a hybrid one the v2 tracking tree at `unified` (when it is
/// mounted) and the mounted v1 memory, cpu and pids hierarchies; none without a cgroup
/// filesystem.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    match cgroup_layout() {
        CgroupLayout::V2 => vec![PathBuf::from(CG)],
        CgroupLayout::Hybrid { unified } => unified
            .then(|| PathBuf::from(format!("{CG}/unified")))
            .into_iter()
            .chain(
                V1_CONTROLLERS
                    .iter()
                    .filter(|c| v1_mounted(c))
                    .map(|c| PathBuf::from(format!("{CG}/{c}"))),
            )
            .collect(),
        CgroupLayout::None => Vec::new(),
    }
}

/// A prebuilt image to use instead of running tests/mkimage.sh (`CRAB_CAN_TEST_IMAGE`, as in
/// the test VM, which has no bash and no repository): it must hold busybox with its applets,
/// and `/bin/probe` for the tests that use the probe helper.
fn prebuilt_image() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("CRAB_CAN_TEST_IMAGE")?);
    assert!(
        p.join("bin/busybox").exists(),
        "CRAB_CAN_TEST_IMAGE={} holds no bin/busybox",
        p.display()
    );
    Some(p)
}

/// A busybox image made by tests/mkimage.sh at `dir` (or a copy of `CRAB_CAN_TEST_IMAGE`).
pub fn make_image(dir: &Path) {
    if let Some(src) = prebuilt_image() {
        let _ = std::fs::remove_dir_all(dir);
        let st = Command::new("cp")
            .arg("-a")
            .arg(&src)
            .arg(dir)
            .status()
            .expect("run cp");
        assert!(
            st.success(),
            "cannot copy {} to {}",
            src.display(),
            dir.display()
        );
        return;
    }
    let st = Command::new(repo().join("tests/mkimage.sh"))
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("run tests/mkimage.sh");
    assert!(
        st.success(),
        "tests/mkimage.sh failed: is busybox-static installed? (make deps-test)"
    );
}

/// The shared read-mostly image (tests must not write into it; use `fresh_image`):
/// `CRAB_CAN_TEST_IMAGE` itself when that is set.
pub fn image() -> &'static Path {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| {
        require_root();
        if let Some(p) = prebuilt_image() {
            return p;
        }
        let d = scratch().join("shared-image");
        make_image(&d);
        // The probe helper goes into the shared image too.
        std::fs::copy(probe(), d.join("bin/probe")).unwrap();
        d
    })
}

/// A private image for a test that writes into it.
pub fn fresh_image(tag: &str) -> PathBuf {
    let d = scratch().join(format!("image-{tag}"));
    make_image(&d);
    if prebuilt_image().is_none() {
        std::fs::copy(probe(), d.join("bin/probe")).unwrap();
    }
    d
}

/// The static test helper (tests/helper/probe.c), built once.
pub fn probe() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = repo().join("build/probe");
        let st = Command::new(repo().join("tests/helper/build.sh"))
            .arg(&out)
            .status()
            .expect("run tests/helper/build.sh");
        assert!(st.success(), "cannot build the probe helper");
        out
    })
}

// ---- what a run did ---------------------------------------------------------------------

/// What a finished crab-can (or any command run through `Bg`) did.
pub struct Run {
    /// The exit status as a shell reports it: the code the process exited with, or 128 + N
    /// when the process itself was killed by signal N.
    pub code: i32,
    /// `Some(N)` when the process itself was killed by signal N (and `code` is 128 + N):
    /// what tells "crab-can died of SIGTERM" from "crab-can exited 143".
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The one decoder of an exit status.
    pub fn new(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Run {
        let signal = status.signal();
        Run {
            code: status.code().unwrap_or_else(|| 128 + signal.unwrap_or(0)),
            signal,
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected exit 0; stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self
    }

    /// The code crab-can exited with; fails if it was killed by a signal instead.
    #[track_caller]
    pub fn exit_code(&self) -> i32 {
        assert_eq!(
            self.signal,
            None,
            "crab-can itself was killed by a signal; {}",
            show(self)
        );
        self.code
    }
}

/// A run's status and output, for failure messages.
pub fn show(r: &Run) -> String {
    match r.signal {
        Some(n) => format!(
            "killed by signal {n}\nstdout: {:?}\nstderr: {:?}",
            r.stdout, r.stderr
        ),
        None => format!(
            "exit {}\nstdout: {:?}\nstderr: {:?}",
            r.code, r.stdout, r.stderr
        ),
    }
}

// ---- running crab-can --------------------------------------------------------------------

/// `program ARGS...` with stdin from /dev/null and stdout/stderr piped, not started.
pub fn command_for(program: impl AsRef<OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `crab-can ARGS...` with stdin from /dev/null and stdout/stderr piped, not started.
pub fn command(args: &[&str]) -> Command {
    command_for(bin(), args)
}

/// Run a prepared command to its end (bounded to 60 s, then SIGKILL) and collect it.
pub fn run_command(c: Command) -> Run {
    Bg::start(c).wait()
}

/// `crab-can ARGS...`, stdin from /dev/null, bounded to 60 s.
pub fn crab(args: &[&str]) -> Run {
    crab_cmd(args, |_| {})
}

/// Like `crab`, with a chance to adjust the Command (env, stdin) first.
pub fn crab_cmd(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Run {
    let mut c = command(args);
    adjust(&mut c);
    run_command(c)
}

/// The shared image's path as a string.
pub fn img() -> &'static str {
    image().to_str().unwrap()
}

/// `run OPTS... IMG CMD...`: crab-can's arguments for a run.
pub fn run_args<'a>(img: &'a Path, opts: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["run"];
    a.extend_from_slice(opts);
    a.push(img.to_str().unwrap());
    a.extend_from_slice(cmd);
    a
}

/// `crab-can run OPTS... IMG CMD...`.
pub fn run_in(img: &Path, opts: &[&str], cmd: &[&str]) -> Run {
    crab(&run_args(img, opts, cmd))
}

/// `crab-can run OPTS... IMG /bin/sh -c SCRIPT`.
pub fn sh_in(img: &Path, opts: &[&str], script: &str) -> Run {
    run_in(img, opts, &["/bin/sh", "-c", script])
}

/// `crab-can run [OPTS...] <shared image> /bin/sh -c SCRIPT`.
pub fn sh(opts: &[&str], script: &str) -> Run {
    sh_in(image(), opts, script)
}

/// Wait up to `limit` for `child` to end and reap it; None if it still runs. Sleeps on a
/// pidfd (no polling delay), or polls where pidfd_open is not available.
fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let deadline = Instant::now() + limit;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is
    // involved. (Were the child already reaped, try_wait below returns its status before
    // the fd is ever polled.)
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a new fd that nothing else owns.
    let pidfd = (r >= 0).then(|| unsafe { OwnedFd::from_raw_fd(r as i32) });
    loop {
        if let Some(st) = child.try_wait().expect("wait for a child") {
            return Some(st);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match &pidfd {
            Some(fd) => {
                let mut p = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, ms) };
            }
            None => std::thread::sleep(left.min(Duration::from_millis(5))),
        }
    }
}

/// A process in the background whose output is collected as it comes: crab-can (`spawn`,
/// `run`) or any prepared command (`start`). Dropping it kills it (SIGKILL) and reaps it
/// if it still runs.
pub struct Bg {
    child: Option<Child>,
    stdout: Option<Receiver<Vec<u8>>>,
    stderr: Option<Receiver<Vec<u8>>>,
}

/// Read a pipe to its end on a thread of its own (so that a full pipe never blocks the
/// process), the bytes sent when it ends.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<Receiver<Vec<u8>>> {
    let mut pipe = pipe?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = pipe.read_to_end(&mut b);
        let _ = tx.send(b);
    });
    Some(rx)
}

impl Bg {
    /// Start a prepared command as it is (`command` and `command_for` give stdin from
    /// /dev/null and piped stdout/stderr, which are collected).
    pub fn start(mut c: Command) -> Bg {
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {c:?}: {e}"));
        Bg {
            stdout: drain(child.stdout.take()),
            stderr: drain(child.stderr.take()),
            child: Some(child),
        }
    }

    /// `crab-can ARGS...` in the background.
    pub fn spawn(args: &[&str]) -> Bg {
        Bg::start(command(args))
    }

    /// Like `spawn`, with a chance to adjust the Command (env, pre_exec) first.
    pub fn spawn_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Bg {
        let mut c = command(args);
        adjust(&mut c);
        Bg::start(c)
    }

    /// `crab-can run OPTS... <shared image> ARGV...` in the background.
    pub fn run(opts: &[&str], argv: &[&str]) -> Bg {
        Bg::spawn(&run_args(image(), opts, argv))
    }

    fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the process was already collected")
    }

    pub fn pid(&self) -> i32 {
        self.child
            .as_ref()
            .expect("the process was already collected")
            .id() as i32
    }

    /// Send `sig` to the process (still ours: not reaped before `wait`).
    #[track_caller]
    pub fn signal(&self, sig: i32) {
        assert!(kill(self.pid(), sig), "kill({}, {sig}) failed", self.pid());
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child().try_wait(), Ok(None))
    }

    /// The container's init: crab-can's child, seen from the host (from
    /// `/proc/PID/task/*/children`), waited for up to 10 s.
    #[track_caller]
    pub fn init_pid(&self) -> i32 {
        let p = self.pid();
        let mut init = None;
        wait_for(10, || {
            init = children(p).first().copied();
            init.is_some()
        });
        init.unwrap_or_else(|| panic!("crab-can {p} has no child"))
    }

    /// Wait (up to 10 s) for a descendant of this crab-can whose command line is `argv`:
    /// its host pid. Fails if crab-can ends first.
    #[track_caller]
    pub fn wait_desc(&mut self, argv: &[&str]) -> i32 {
        let want = argv_bytes(argv);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Some(p) = descendants(self.pid())
                .into_iter()
                .map(|p| p.pid)
                .find(|p| cmdline(*p) == want)
            {
                return p;
            }
            if let Ok(Some(st)) = self.child().try_wait() {
                let r = self.collect(st);
                panic!("crab-can ended before {argv:?} started; {}", show(&r));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{argv:?} did not start inside the container within 10 s");
    }

    /// The outcome of the reaped process: its status and all it wrote.
    fn collect(&mut self, st: ExitStatus) -> Run {
        self.child = None;
        // Its output ends when the last process holding the pipes is gone: at once, as a
        // container's processes die with it. Bounded, so that a leak fails instead of hanging.
        let take = |rx: Option<Receiver<Vec<u8>>>| match rx {
            None => Vec::new(),
            Some(rx) => rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!("its output was still open 30 s after the process ended ({st:?})")
                }),
        };
        let (out, err) = (take(self.stdout.take()), take(self.stderr.take()));
        Run::new(st, &out, &err)
    }

    /// Wait up to `secs` for the end: the outcome, or None if it still runs.
    pub fn try_wait_within(&mut self, secs: u64) -> Option<Run> {
        let st = wait_timeout(self.child(), Duration::from_secs(secs))?;
        Some(self.collect(st))
    }

    /// Wait up to `secs` for the end; fails if it still runs then (and kills it).
    #[track_caller]
    pub fn wait_within(mut self, secs: u64) -> Run {
        match self.try_wait_within(secs) {
            Some(r) => r,
            None => panic!("crab-can still running after {secs} s"),
        }
    }

    /// Wait up to `secs` for the end, then SIGKILL it; the outcome either way.
    pub fn wait_bounded(mut self, secs: u64) -> Run {
        if let Some(r) = self.try_wait_within(secs) {
            return r;
        }
        let _ = self.child().kill();
        let st = self.child().wait().expect("wait for a child");
        self.collect(st)
    }

    /// Wait for the end (at most 60 s, then SIGKILL) and collect the outcome.
    pub fn wait(self) -> Run {
        self.wait_bounded(60)
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

// ---- the host's /proc --------------------------------------------------------------------

/// One process as the host's `/proc/PID/stat` shows it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub tpgid: i32,
    pub state: char,
    pub comm: String,
    /// utime + stime, in clock ticks.
    pub ticks: u64,
}

pub fn read_proc(pid: i32) -> Option<Proc> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (s.find('(')?, s.rfind(')')?);
    let f: Vec<&str> = s.get(close + 2..)?.split(' ').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
    Some(Proc {
        pid,
        comm: s[open + 1..close].to_string(),
        state: f.first()?.chars().next()?,
        ppid: num(1)? as i32,
        pgrp: num(2)? as i32,
        tpgid: num(5)? as i32,
        ticks: (num(11)? + num(12)?) as u64,
    })
}

/// Every process on the host.
pub fn procs() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// Every descendant of `root` (not `root` itself), zombies included.
pub fn descendants(root: i32) -> Vec<Proc> {
    let all = procs();
    let mut kids: HashMap<i32, Vec<&Proc>> = HashMap::new();
    for p in &all {
        kids.entry(p.ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for c in kids.get(&pid).into_iter().flatten() {
            out.push((*c).clone());
            todo.push(c.pid);
        }
    }
    out
}

/// The children of a host process (over all its threads: `/proc/PID/task/*/children`).
pub fn children(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                v.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    v
}

/// `/proc/PID/comm` (empty once the process is gone).
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `/proc/PID/cmdline` (empty once the process is gone).
pub fn cmdline(pid: i32) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
}

/// `argv` as `/proc/PID/cmdline` holds it.
pub fn argv_bytes(argv: &[&str]) -> Vec<u8> {
    let mut b = Vec::new();
    for a in argv {
        b.extend_from_slice(a.as_bytes());
        b.push(0);
    }
    b
}

/// A process that still runs code: present in /proc and not a zombie.
pub fn alive(pid: i32) -> bool {
    read_proc(pid).is_some_and(|p| p.state != 'Z' && p.state != 'X')
}

/// kill(2); whether the signal was sent.
pub fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Assert the one-line error contract: exit `code`, exactly one line on stderr starting
/// with "crab-can: " and containing `needle`, no panic.
pub fn assert_error(r: &Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "stderr: {}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "want one line on stderr, got: {:?}",
        r.stderr
    );
    assert!(lines[0].starts_with("crab-can: "), "{:?}", lines[0]);
    assert!(
        lines[0].contains(needle),
        "{:?} should mention {needle:?}",
        lines[0]
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// Lines of the host's mountinfo that mention `needle`.
pub fn host_mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Wait until `f` holds, up to `secs`.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A unique container name for a test.
pub fn name(tag: &str) -> String {
    format!("t-{tag}-{}", std::process::id())
}

/// Hand `fd` to the child as the inheritable fds 7 and 250 (as a careless caller would).
pub fn leak_fd(c: &mut std::process::Command, fd: i32) {
    // SAFETY: dup2 is async-signal-safe; it only touches the child's fd table.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(c, move || {
            for target in [7, 250] {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The link of crab-can's (the test's) own namespace of `kind`, as `net:[4026531840]`.
pub fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The interface names of a `/proc/net/dev` text.
pub fn proc_net_dev_names(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect()
}

/// The first line of stdout.
pub fn line1(r: &Run) -> &str {
    r.stdout.lines().next().unwrap_or("")
}

/// The rows of `ps` (fields split on whitespace) in `out`, between its header line and a
/// line `end`.
pub fn ps_rows(out: &str) -> Vec<Vec<&str>> {
    out.lines()
        .skip_while(|l| !l.trim_start().starts_with("PID"))
        .skip(1)
        .take_while(|l| *l != "end")
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// One line of mountinfo: (major:minor, root, mount point, mount options, fstype, super options).
pub struct Mnt {
    pub dev: String,
    pub root: String,
    pub point: String,
    pub opts: String,
    pub fstype: String,
    pub sopts: String,
}

pub fn parse_mountinfo(text: &str) -> Vec<Mnt> {
    text.lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(" - ")?;
            let f: Vec<&str> = a.split(' ').collect();
            let g: Vec<&str> = b.split(' ').collect();
            Some(Mnt {
                dev: f.get(2)?.to_string(),
                root: f.get(3)?.to_string(),
                point: f.get(4)?.to_string(),
                opts: f.get(5)?.to_string(),
                fstype: g.first()?.to_string(),
                sopts: g.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}
