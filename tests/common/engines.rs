//! Real container engines (containerd + ctr, podman + conmon, dockerd + docker) driving an
//! OCI runtime, for tests/engines.rs (../shared/design/OCI.md, section 4).
//!
//! Every scenario runs once per runtime of `runtimes()`: runc, the reference, and crab-can
//! when its OCI mode is under test, so that a failure seen only with crab-can is crab-can's
//! own. Engines run with private state under a `Sandbox` (a temporary directory named
//! `crab-eng-<pid>-<tag>`, which is also the engine's cgroup parent and containerd
//! namespace): dropping it stops the daemons, kills what is left of theirs (shims, conmon,
//! container processes), unmounts everything under the directory, removes the cgroups under
//! that parent and the directory, and the few global directories the engines insist on
//! (`/run/containerd/s`, `/run/docker/plugins`, ...) when the test made them and they are
//! empty again. No network beyond loopback: no engine gets any.
use super::{Bg, Run, bin, make_image, require_root, show, skip};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether crab-can is among the runtimes without being asked for. `false` while its OCI mode
/// is being written (set `CRAB_CAN_OCI=1` to include it); `true` once it lands.
pub const CRAB_CAN_BY_DEFAULT: bool = true;

/// One OCI runtime under test.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// `runc` or `crab-can`: also a suffix of container names.
    pub name: &'static str,
    pub path: PathBuf,
}

/// The runtimes every scenario runs with: runc, then crab-can (`$CRAB_CAN`, else the binary
/// cargo built) when `CRAB_CAN_BY_DEFAULT` or `CRAB_CAN_OCI=1`. Empty of runc when runc is not
/// installed (the tests then skip).
pub fn runtimes() -> Vec<Runtime> {
    let mut v = Vec::new();
    if let Some(p) = find_tool("runc") {
        v.push(Runtime {
            name: "runc",
            path: p,
        });
    }
    if CRAB_CAN_BY_DEFAULT || std::env::var_os("CRAB_CAN_OCI").is_some_and(|v| v == "1") {
        let p = bin();
        let p = std::fs::canonicalize(&p).unwrap_or(p);
        v.push(Runtime {
            name: "crab-can",
            path: p,
        });
    }
    v
}

/// `name` on PATH or in the sbin directories (a test may run with a PATH without them).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether every tool is installed; if not, a `SKIP:` line naming the missing ones (a
/// failure under `CRAB_CAN_STRICT=1`) and false. Also requires root, and runc as the
/// reference runtime.
pub fn have_tools(test: &str, tools: &[&str]) -> bool {
    require_root();
    let missing: Vec<&str> = tools
        .iter()
        .chain(&["runc"])
        .copied()
        .filter(|t| find_tool(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(
        test,
        &format!(
            "{} not installed (tests/deps.sh installs them)",
            missing.join(", ")
        ),
    );
    false
}

/// Run `scenario` once per runtime, each in turn even when one fails, then fail with every
/// runtime's failure. `context` adds what helps to read a failure (the daemon's log).
pub fn each_runtime(
    test: &str,
    rts: &[Runtime],
    context: impl Fn() -> String,
    mut scenario: impl FnMut(&Runtime),
) {
    let mut failed = Vec::new();
    for rt in rts {
        say(&format!("{test}: with {} ({})", rt.name, rt.path.display()));
        let t = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(rt)));
        say(&format!(
            "{test}: with {}: {} in {:.1} s",
            rt.name,
            if r.is_ok() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        ));
        if r.is_err() {
            failed.push(rt.name);
        }
    }
    if !failed.is_empty() {
        panic!(
            "{test} failed with {} (see the panics above)\n{}",
            failed.join(" and "),
            context()
        );
    }
}

/// A line on stderr past the harness's capture (shows with --nocapture or not).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

// ---- the busybox image, as each engine imports it ---------------------------------------

pub struct Images {
    /// The root filesystem (tests/mkimage.sh).
    pub rootfs: PathBuf,
    /// Its plain tar, for `podman import` and `docker import`.
    pub tar: PathBuf,
    /// An OCI image layout tar of it (tests/mkoci.sh) whose one manifest is named `1`, for
    /// `ctr image import --base-name NAME` (image NAME:1).
    pub oci: PathBuf,
}

/// The images, made once per test process (removed when it exits).
pub fn images() -> &'static Images {
    static I: OnceLock<Images> = OnceLock::new();
    I.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("crab-eng-{}-images", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        extern "C" fn remove_images() {
            let d = std::env::temp_dir().join(format!("crab-eng-{}-images", std::process::id()));
            let _ = std::fs::remove_dir_all(d);
        }
        // SAFETY: registering a plain extern "C" function with no arguments.
        unsafe { libc::atexit(remove_images) };
        let rootfs = dir.join("rootfs");
        make_image(&rootfs);
        let tar = dir.join("bb.tar");
        let r = run(
            cmd(
                "tar",
                &[
                    "-C",
                    s(&rootfs),
                    "--numeric-owner",
                    "--sort=name",
                    "-cf",
                    s(&tar),
                    ".",
                ],
            ),
            60,
        );
        assert_eq!(r.code, 0, "tar of the image: {}", show(&r));
        let oci = dir.join("bb-oci.tar");
        let script = super::repo().join("tests/mkoci.sh");
        let r = run(cmd(&script, &[s(&rootfs), s(&oci), "1"]), 60);
        assert_eq!(r.code, 0, "tests/mkoci.sh: {}", show(&r));
        Images { rootfs, tar, oci }
    })
}

// ---- running commands -------------------------------------------------------------------

/// A path as &str (the test's paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `program ARGS...` with stdin from /dev/null and stdout/stderr piped, not started.
pub fn cmd(program: impl AsRef<OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Run a prepared command to its end; fails the test (and kills it) after `secs`.
#[track_caller]
pub fn run(c: Command, secs: u64) -> Run {
    let what = format!("{c:?}");
    let mut bg = Bg::start(c);
    match bg.try_wait_within(secs) {
        Some(r) => r,
        None => panic!("{what} still running after {secs} s"), // dropping bg kills it
    }
}

/// Like `run`, for cleanups (which must not panic): None if it could not start or still ran
/// after `secs` (then it is killed).
pub fn try_run(mut c: Command, secs: u64) -> Option<Run> {
    let mut child = c.spawn().ok()?;
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut b);
            }
            let _ = tx.send(b);
        });
        rx
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let end = Instant::now() + Duration::from_secs(secs);
    let st = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let take = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
    };
    Some(Run::new(st, &take(out), &take(err)))
}

/// Whether `f` holds within `secs`, polled every 20 ms.
pub fn poll(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Assert a run's exit code, showing its output otherwise.
#[track_caller]
pub fn expect_code(r: &Run, code: i32, what: &str) {
    assert!(
        r.code == code && r.signal.is_none(),
        "{what}: want exit {code}, got {}",
        show(r)
    );
}

// ---- a private place for an engine, and everything it leaves ----------------------------

/// A daemon started by a test, its output in `<sandbox>/<name>.log`.
struct Daemon {
    name: String,
    child: Child,
}

/// Private state of one engine test, cleaned up on drop (see the module's comment).
pub struct Sandbox {
    /// `crab-eng-<pid>-<tag>`: the directory's name, the cgroup parent and the containerd
    /// namespace.
    pub id: String,
    pub dir: PathBuf,
    daemons: Vec<Daemon>,
    /// Global directories an engine makes outside `dir`, and whether each existed before.
    globals: Vec<(PathBuf, bool)>,
}

impl Sandbox {
    pub fn new(tag: &str) -> Sandbox {
        let id = format!("crab-eng-{}-{tag}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Sandbox {
            id,
            dir,
            daemons: Vec::new(),
            globals: Vec::new(),
        }
    }

    /// `<dir>/<rel>`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A directory under `dir` (made if missing).
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Directories outside `dir` the engine makes (deepest last): each is removed at the end
    /// if it did not exist when this test process first looked (engine tests may run in
    /// parallel: one may make what another then finds) and is empty then (so the last test
    /// using it removes it).
    pub fn watch_globals(&mut self, dirs: &[&str]) {
        static SEEN: std::sync::Mutex<Vec<(PathBuf, bool)>> = std::sync::Mutex::new(Vec::new());
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        for d in dirs {
            let p = PathBuf::from(d);
            let existed = match seen.iter().find(|(q, _)| *q == p) {
                Some((_, e)) => *e,
                None => {
                    let e = p.exists();
                    seen.push((p.clone(), e));
                    e
                }
            };
            self.globals.push((p, existed));
        }
    }

    /// Start a daemon with its output going to `<dir>/<name>.log`.
    pub fn spawn_daemon(&mut self, name: &str, mut c: Command) {
        let log = std::fs::File::create(self.path(&format!("{name}.log"))).unwrap();
        c.current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push(Daemon {
            name: name.to_string(),
            child,
        });
    }

    /// Fails if the daemon `name` has ended (with its log).
    #[track_caller]
    pub fn check_daemon(&mut self, name: &str) {
        let log = self.log_tail(name, 40);
        let d = self
            .daemons
            .iter_mut()
            .find(|d| d.name == name)
            .expect("a daemon of this sandbox");
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("{name} ended ({st}); its log ends with:\n{log}");
        }
    }

    /// The last `n` lines of a daemon's log.
    pub fn log_tail(&self, name: &str, n: usize) -> String {
        let t = std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        let from = lines.len().saturating_sub(n);
        format!("--- {name}.log ---\n{}", lines[from..].join("\n"))
    }

    /// The last lines of every daemon's log.
    pub fn logs(&self) -> String {
        self.daemons
            .iter()
            .map(|d| self.log_tail(&d.name, 30))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The cgroup directories under this sandbox's parent in every hierarchy, deepest first.
    pub fn cgroups(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Ok(hs) = std::fs::read_dir(super::CG) {
            for h in hs.flatten() {
                collect_dirs(&h.path().join(&self.id), &mut dirs);
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs
    }

    /// The cgroup directories of the sandbox whose path ends in `/<leaf>` (a container's).
    pub fn cgroups_named(&self, leaf: &str) -> Vec<PathBuf> {
        self.cgroups()
            .into_iter()
            .filter(|d| d.file_name().is_some_and(|n| n == leaf))
            .collect()
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
    out.push(dir.to_path_buf());
}

/// Processes (not this one) whose command line mentions `needle`.
fn procs_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let needle = needle.as_bytes();
    super::procs()
        .into_iter()
        .map(|p| p.pid)
        .filter(|&p| p != me)
        .filter(|&p| mentions(&super::cmdline(p), needle))
        .collect()
}

/// Whether a command line names the path `needle` or a path under it: the needle followed
/// by `/` or the end of an argument. (Another sandbox's directory may start with this
/// one's name: `…-ctr-pod` and `…-ctr-pod-pid` run at once.)
fn mentions(cmdline: &[u8], needle: &[u8]) -> bool {
    cmdline
        .windows(needle.len())
        .enumerate()
        .any(|(i, w)| w == needle && matches!(cmdline.get(i + needle.len()), None | Some(0 | b'/')))
}

/// Decode mountinfo's octal escapes (`\040` for a space).
fn unescape(m: &str) -> String {
    let b = m.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or under `dir` (this process's mount namespace, the host's).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = s(dir);
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape))
        .filter(|m| m == d || m.starts_with(&format!("{d}/")))
        .collect()
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let dir = s(&self.dir).to_string();
        // 1. The daemons, newest first: SIGTERM, then SIGKILL after 20 s.
        for d in self.daemons.iter_mut().rev() {
            let pid = d.child.id() as i32;
            if let Ok(None) = d.child.try_wait() {
                super::kill(pid, libc::SIGTERM);
                let gone = poll(20, || matches!(d.child.try_wait(), Ok(Some(_))));
                if !gone {
                    say(&format!(
                        "{}: still running 20 s after SIGTERM: SIGKILL",
                        d.name
                    ));
                    let _ = d.child.kill();
                }
            }
            let _ = d.child.wait();
        }
        // 2. What they leave running: shims, conmon, tmux (their command lines name the
        //    sandbox), and the containers' processes (in the sandbox's cgroups).
        for _ in 0..3 {
            let mut pids = procs_mentioning(&dir);
            for cg in self.cgroups() {
                if let Ok(t) = std::fs::read_to_string(cg.join("cgroup.procs")) {
                    pids.extend(t.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
                }
            }
            pids.retain(|&p| p != std::process::id() as i32);
            if pids.is_empty() {
                break;
            }
            for &p in &pids {
                super::kill(p, libc::SIGKILL);
            }
            poll(5, || pids.iter().all(|&p| !super::alive(p)));
        }
        // 3. Mounts under the directory, deepest first.
        let mut ms = mounts_under(&self.dir);
        ms.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ms {
            if let Ok(c) = std::ffi::CString::new(m) {
                // SAFETY: umount2 with a NUL-terminated path and a flag; no memory is shared.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        // 4. The cgroups under the sandbox's parent, deepest first (a dying process can keep
        //    one busy for a moment).
        for cg in self.cgroups() {
            poll(5, || std::fs::remove_dir(&cg).is_ok() || !cg.exists());
        }
        // 5. The directory, and the global directories the test made.
        let _ = std::fs::remove_dir_all(&self.dir);
        for (p, existed) in self.globals.iter().rev() {
            if !existed {
                let _ = std::fs::remove_dir(p);
            }
        }
    }
}

// ---- a terminal -------------------------------------------------------------------------

/// A private tmux server (socket in a sandbox) whose one 100x30 pane runs a command, kept
/// after it ends to read its exit status.
pub struct Tmux {
    sock: PathBuf,
    /// Where the pane's shell writes the command's exit status when it ends. (tmux's own
    /// `#{pane_dead_status}` is not used: tmux 3.3a now and then misses the SIGCHLD of its
    /// pane's process and leaves it a zombie.)
    status: PathBuf,
}

impl Tmux {
    /// Start `command` (a shell command line) in the pane; the tmux socket is `sock`, the
    /// exit status goes to `sock` + `.status`.
    pub fn start(sock: PathBuf, command: &str) -> Tmux {
        let status = PathBuf::from(format!("{}.status", s(&sock)));
        let t = Tmux { sock, status };
        let _ = std::fs::remove_file(&t.status);
        // tmux runs this with `sh -c`: the shell waits for the command and records its status.
        let line = format!("{command}; echo $? > '{}'", s(&t.status));
        let r = t.tmux(&[
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-g",
            "status",
            "off",
            ";",
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "-s",
            "main",
            &line,
        ]);
        assert_eq!(r.code, 0, "tmux: {}", show(&r));
        t
    }

    fn tmux(&self, args: &[&str]) -> Run {
        let mut c = cmd("tmux", &["-S", s(&self.sock)]);
        c.args(args).env_remove("TMUX");
        if let Some(d) = self.sock.parent() {
            c.current_dir(d); // the pane's working directory
        }
        run(c, 20)
    }

    /// What the pane shows.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout
    }

    /// Wait up to `secs` for `text` on the screen; fails at once if the pane's command ends
    /// without showing it.
    #[track_caller]
    pub fn wait_text(&self, text: &str, secs: u64) {
        let mut last = String::new();
        let mut ended = None;
        let ok = poll(secs, || {
            // The status first: text shown just before the end still counts.
            ended = self.exit_status();
            last = self.screen();
            last.contains(text) || ended.is_some()
        });
        assert!(
            ok && last.contains(text),
            "{text:?} not on the terminal ({}); it shows:\n{last}",
            match ended {
                Some(st) => format!("its command ended with status {st}"),
                None => format!("still not after {secs} s"),
            }
        );
    }

    /// The exit status of the pane's command once it has ended.
    fn exit_status(&self) -> Option<i32> {
        let t = std::fs::read_to_string(&self.status).ok()?;
        t.strip_suffix('\n')?.parse().ok()
    }

    /// Type a line and Enter.
    pub fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
        self.tmux(&["send-keys", "-t", "main", "Enter"]);
    }

    /// Wait up to `secs` for the pane's command to end: its exit status.
    #[track_caller]
    pub fn wait_exit(&self, secs: u64) -> i32 {
        let mut st = None;
        let ok = poll(secs, || {
            st = self.exit_status();
            st.is_some()
        });
        assert!(
            ok,
            "the terminal's command still runs after {secs} s; it shows:\n{}",
            self.screen()
        );
        st.unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let mut c = cmd("tmux", &["-S", s(&self.sock), "kill-server"]);
        c.env_remove("TMUX");
        let _ = try_run(c, 20);
        let _ = std::fs::remove_file(&self.sock);
        let _ = std::fs::remove_file(&self.status);
    }
}

/// A command as one shell command line (each word in single quotes), for a terminal's pane.
pub fn shell_line(c: &Command) -> String {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A shell script that logs each call's arguments to `log` and execs `runtime`: where an
/// engine is configured with a runtime path, to see it was the one called.
pub fn logging_wrapper(at: &Path, runtime: &Path, log: &Path) {
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
        s(log),
        s(runtime)
    );
    std::fs::write(at, script).unwrap();
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o755)).unwrap();
}
