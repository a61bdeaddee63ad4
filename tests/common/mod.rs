//! Shared helpers of the integration tests: the real static binary, a real busybox root
//! filesystem, and a runner with a time bound. Every test runs as root; a test that cannot
//! get what it needs fails loudly instead of passing, except where the host itself lacks
//! something (no cgroup filesystem, say): then the test says `SKIP: ` on stderr and returns
//! (see `skip`), and with `CRAB_CAN_STRICT=1` (what CI sets) even that is a failure.
//!
//! Environment: `CRAB_CAN` (the binary under test), `CRAB_CAN_TEST_IMAGE` (a prebuilt image
//! instead of one made by tests/mkimage.sh), `CRAB_CAN_STRICT` (no skips).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests run crab-can for real and need root"
    );
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
/// returns. With `CRAB_CAN_STRICT=1` (CI) it panics with the reason instead.
pub fn skip(test: &str, why: &str) {
    if strict() {
        panic!("{test} cannot run on this host and CRAB_CAN_STRICT=1 forbids skipping: {why}");
    }
    use std::io::Write;
    // Not eprintln!: the harness captures that for a passing test.
    let _ = writeln!(std::io::stderr().lock(), "SKIP: {test}: {why}");
}

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
    match fs_magic("/sys/fs/cgroup") {
        Some(CGROUP2_MAGIC) => CgroupLayout::V2,
        Some(_)
            if ["memory", "pids", "cpu"]
                .iter()
                .any(|c| fs_magic(&format!("/sys/fs/cgroup/{c}")) == Some(CGROUP1_MAGIC)) =>
        {
            CgroupLayout::Hybrid {
                unified: fs_magic("/sys/fs/cgroup/unified") == Some(CGROUP2_MAGIC),
            }
        }
        _ => CgroupLayout::None,
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

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected exit 0; stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self
    }
}

fn finish(out: Output) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let code = out
        .status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    Run {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `crab-can ARGS...`, stdin from /dev/null, bounded to 60 s.
pub fn crab(args: &[&str]) -> Run {
    crab_cmd(args, |_| {})
}

/// `crab-can ARGS...` with stdin from /dev/null and stdout/stderr piped, not started.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Like `crab`, with a chance to adjust the Command (env, stdin) first.
pub fn crab_cmd(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Run {
    let mut c = command(args);
    adjust(&mut c);
    let child = c.spawn().expect("spawn crab-can");
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    std::thread::spawn(move || {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if d2.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("wait crab-can");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    finish(out)
}

/// `crab-can run [OPTS...] <shared image> sh -c SCRIPT`.
pub fn sh(opts: &[&str], script: &str) -> Run {
    let img = image().to_str().unwrap().to_string();
    let mut a: Vec<&str> = vec!["run"];
    a.extend_from_slice(opts);
    a.push(&img);
    a.extend_from_slice(&["/bin/sh", "-c", script]);
    crab(&a)
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
