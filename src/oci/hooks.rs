//! OCI hooks (config.json `hooks`): their parsing, and the runner for the hooks that run
//! in the runtime's namespaces (prestart, createRuntime, poststart, poststop).
//!
//! A hook runs as runc runs it: cwd = the bundle, stdin = the state JSON, its environment
//! `env` (the runtime's own when `env` is absent), its `args` (argv[0] included; `[path]`
//! when empty). Its stdout and stderr are collected (the first 4 KiB) and shown only when
//! it fails, so a hook never writes into the caller's pipes (and one that leaves a daemon
//! behind holding them cannot hang the caller). With a `timeout`, a hook still running
//! after that many seconds is killed with its whole process group, and fails.

use crate::error::{Error, Result};
use crate::json::At;
use crate::sys;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use std::ffi::{CString, c_char};

pub struct Hook {
    pub path: CString,
    /// The whole argv, argv[0] first.
    pub args: Vec<CString>,
    /// `None`: the runtime's own environment.
    pub env: Option<Vec<CString>>,
    /// Seconds, > 0.
    pub timeout: Option<u32>,
}

pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

impl Default for Hooks {
    /// No hook of any kind (made out of line: several callers start from it).
    #[inline(never)]
    fn default() -> Hooks {
        Hooks {
            prestart: Vec::new(),
            create_runtime: Vec::new(),
            create_container: Vec::new(),
            start_container: Vec::new(),
            poststart: Vec::new(),
            poststop: Vec::new(),
        }
    }
}

impl Hooks {
    /// No hook of any kind.
    pub fn is_empty(&self) -> bool {
        self.prestart.is_empty()
            && self.create_runtime.is_empty()
            && self.create_container.is_empty()
            && self.start_container.is_empty()
            && self.poststart.is_empty()
            && self.poststop.is_empty()
    }
}

/// How much of a failed hook's output its error shows.
const OUTPUT_MAX: usize = 4096;

fn cstring(at: &At<'_>, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| at.error("contains a NUL byte"))
}

fn cstrings(at: &At<'_>) -> Result<Vec<CString>> {
    let mut out = Vec::new();
    for a in at.array()? {
        out.push(cstring(&a, a.str()?)?);
    }
    Ok(out)
}

/// The config's `hooks` object.
pub fn parse_hooks(at: At<'_>) -> Result<Hooks> {
    let mut hooks = Hooks::default();
    for (key, list) in [
        ("prestart", &mut hooks.prestart),
        ("createRuntime", &mut hooks.create_runtime),
        ("createContainer", &mut hooks.create_container),
        ("startContainer", &mut hooks.start_container),
        ("poststart", &mut hooks.poststart),
        ("poststop", &mut hooks.poststop),
    ] {
        if let Some(a) = at.get(key)? {
            for h in a.array()? {
                list.push(parse_hook(&h)?);
            }
        }
    }
    Ok(hooks)
}

#[inline(never)]
fn parse_hook(at: &At<'_>) -> Result<Hook> {
    let p = at
        .get("path")?
        .ok_or_else(|| at.error("path is required"))?;
    let path = p.str()?;
    if !path.starts_with('/') {
        return Err(p.error(format_args!("'{path}' is not an absolute path")));
    }
    let path = cstring(&p, path)?;
    let mut args = match at.get("args")? {
        Some(a) => cstrings(&a)?,
        None => Vec::new(),
    };
    if args.is_empty() {
        args.push(path.clone());
    }
    let env = at.get("env")?.map(|e| cstrings(&e)).transpose()?;
    let timeout = match at.get("timeout")? {
        None => None,
        Some(t) => match t.i64()? {
            n if n <= 0 => return Err(t.error("must be greater than zero")),
            n => Some(u32::try_from(n).map_err(|_| t.error(format_args!("{n} is out of range")))?),
        },
    };
    Ok(Hook {
        path,
        args,
        env,
        timeout,
    })
}

/// Run one hook of kind `kind` (`poststop`, …) with `state_json` on its stdin and the
/// bundle `cwd` as its working directory; an error unless it exits 0 in time.
#[cfg(test)]
pub fn run(hook: &Hook, kind: &str, state_json: &str, cwd: BorrowedFd<'_>) -> Result<()> {
    run_as(hook, &format!("{kind} hook"), state_json, cwd)
}

/// Run `hooks` in order; the first failure stops and names the hook
/// (`error running createRuntime hook #1: exit status 1`).
pub fn run_all(hooks: &[Hook], kind: &str, state_json: &str, cwd: BorrowedFd<'_>) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run_as(hook, &format!("{kind} hook #{i}"), state_json, cwd)?;
    }
    Ok(())
}

/// [`run_all`] for the hooks that run in the container's namespaces, those of the init
/// behind `pidfd` (all but user and time). createContainer keeps the runtime's mount
/// namespace (as runc runs it before `pivot_root`, its paths are the host's);
/// startContainer joins the container's mounts too, so its path and files are the
/// container's. Either way the hook is forked into the container's PID namespace.
pub fn run_all_in(
    hooks: &[Hook],
    kind: &str,
    state_json: &str,
    cwd: BorrowedFd<'_>,
    pidfd: BorrowedFd<'_>,
    mounts: bool,
) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        let what = format!("{kind} hook #{i}");
        spawn_and_wait(hook, state_json, cwd, Some((pidfd, mounts))).map_err(|mut e| {
            e.msg = format!("error running {what}: {}", e.msg);
            e
        })?;
    }
    Ok(())
}

fn run_as(hook: &Hook, what: &str, state_json: &str, cwd: BorrowedFd<'_>) -> Result<()> {
    spawn_and_wait(hook, state_json, cwd, None).map_err(|mut e| {
        e.msg = format!("error running {what}: {}", e.msg);
        e
    })
}

/// `fd`, moved above the standard descriptors (when crab-can was started with one of them
/// closed, a new pipe may take its number, and the child's dup2 onto 0-2 would clobber it).
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    rustix::io::fcntl_dupfd_cloexec(&fd, 3).map_err(|e| Error::sys("cannot duplicate a pipe", e))
}

fn pipe(flags: PipeFlags) -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | flags)
        .map_err(|e| Error::sys("cannot create a pipe", e))?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn nonblocking(fd: &OwnedFd) -> Result<()> {
    rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| Error::sys("cannot set a pipe non-blocking", e))
}

/// Nanoseconds of CLOCK_MONOTONIC (i64 lasts 292 years; no i128 division code).
fn monotonic_ns() -> i64 {
    let (sec, nsec) = crate::sys::clock_time(libc::CLOCK_MONOTONIC);
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// Null-terminated pointer arrays for execve over `strings`.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    let mut v: Vec<*const c_char> = Vec::with_capacity(strings.len() + 1);
    for s in strings {
        v.push(s.as_ptr());
    }
    v.push(std::ptr::null());
    v
}

fn spawn_and_wait(
    hook: &Hook,
    state_json: &str,
    cwd: BorrowedFd<'_>,
    enter: Option<(BorrowedFd<'_>, bool)>,
) -> Result<()> {
    // Everything the child needs, made before the fork: it must not allocate.
    let own_env: Vec<CString>;
    let env = match &hook.env {
        Some(env) => env,
        None => {
            let mut all = Vec::new();
            for kv in crate::sys::environment() {
                if let Ok(c) = CString::new(kv) {
                    all.push(c);
                }
            }
            own_env = all;
            &own_env
        }
    };
    let argv = pointers(&hook.args);
    let envp = pointers(env);
    let (stdin_r, stdin_w) = pipe(PipeFlags::empty())?;
    let (out_r, out_w) = pipe(PipeFlags::empty())?;
    // The exec's errno, if execve fails; closed by a successful exec.
    let (err_r, err_w) = pipe(PipeFlags::NONBLOCK)?;

    let (pid, pidfd) = match sys::clone_container(0, None) {
        Err(e) => return Err(Error::sys("cannot fork", e)),
        Ok(sys::Forked::Child) => {
            // In the child: system calls only.
            crate::signal::reset_for_exec();
            let _ = rustix::process::setpgid(None, None);
            let errno = (|| -> std::result::Result<Errno, Errno> {
                rustix::process::fchdir(cwd)?;
                rustix::stdio::dup2_stdin(&stdin_r)?;
                rustix::stdio::dup2_stdout(&out_w)?;
                rustix::stdio::dup2_stderr(&out_w)?;
                if let Some((pidfd, mounts)) = enter {
                    use rustix::thread::ThreadNameSpaceType as T;
                    let mut kinds = T::PROCESS_ID
                        | T::NETWORK
                        | T::INTER_PROCESS_COMMUNICATION
                        | T::HOST_NAME_AND_NIS_DOMAIN_NAME
                        | T::CONTROL_GROUP;
                    if mounts {
                        kinds |= T::MOUNT;
                    }
                    rustix::thread::move_into_thread_name_spaces(pidfd, kinds)?;
                    // The hook itself goes in the PID namespace too (setns applies to
                    // children): this process forks it and passes on how it ended.
                    let child = sys::fork()?;
                    if child != 0 {
                        sys::close_fds_except(&[]);
                        let code = match rustix::process::waitpid(
                            rustix::process::Pid::from_raw(child),
                            rustix::process::WaitOptions::empty(),
                        ) {
                            Ok(Some((_, st))) => {
                                crate::init::status_code(st.exit_status(), st.terminating_signal())
                            }
                            _ => 127,
                        };
                        sys::exit(code);
                    }
                }
                sys::close_fds_except(&[err_w.as_raw_fd()]);
                Ok(sys::execve(&hook.path, &argv, &envp))
            })()
            .unwrap_or_else(|e| e);
            sys::write_once(err_w.as_fd(), &errno.raw_os_error().to_ne_bytes());
            sys::exit(127)
        }
        Ok(sys::Forked::Parent { pid, pidfd, .. }) => (pid, pidfd),
    };
    drop((stdin_r, out_w, err_w));
    // Its own process group, so that a timeout kills what it started too (set here as well
    // as in the child: whichever runs first; the other fails harmlessly).
    let pid = rustix::process::Pid::from_raw(pid);
    let _ = rustix::process::setpgid(pid, pid);

    let result = feed_and_wait(hook, state_json.as_bytes(), &pidfd, stdin_w, out_r);
    if result.is_err() {
        // Timed out, or poll failed: it must not outlive us.
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
    }
    let status = loop {
        match rustix::process::waitid(
            rustix::process::WaitId::PidFd(pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        ) {
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("cannot wait for the hook", e)),
            Ok(status) => break status,
        }
    };
    let output = result?;
    let mut errno = [0u8; 4];
    if rustix::io::read(&err_r, &mut errno) == Ok(4) {
        let e = Errno::from_raw_os_error(i32::from_ne_bytes(errno));
        return Err(Error::sys_msg(
            format_args!("cannot execute '{}'", hook.path.to_string_lossy()),
            e,
        ));
    }
    let mut msg = match status {
        Some(s) if s.exit_status() == Some(0) => return Ok(()),
        Some(s) => match (s.exit_status(), s.terminating_signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (_, Some(sig)) => format!("killed by signal {sig}"),
            _ => "ended abnormally".into(),
        },
        None => "ended abnormally".into(),
    };
    let output = String::from_utf8_lossy(&output);
    let output = output.trim_end();
    if !output.is_empty() {
        msg.push_str(", output: ");
        msg.push_str(output);
    }
    Err(Error::new(msg))
}

/// Write `input` to the hook's stdin (then close it), collect its output, until it exits
/// (Ok: the output) or its time is up (Err).
#[inline(never)]
fn feed_and_wait(
    hook: &Hook,
    mut input: &[u8],
    pidfd: &OwnedFd,
    stdin_w: OwnedFd,
    out_r: OwnedFd,
) -> Result<Vec<u8>> {
    nonblocking(&stdin_w)?;
    nonblocking(&out_r)?;
    let (mut stdin_w, mut out_r) = (Some(stdin_w), Some(out_r));
    let mut output = Vec::new();
    let deadline = hook
        .timeout
        .map(|t| monotonic_ns().saturating_add(i64::from(t) * 1_000_000_000));
    if input.is_empty() {
        stdin_w = None;
    }
    loop {
        let left = match deadline {
            Some(d) => match d - monotonic_ns() {
                ns if ns <= 0 => {
                    return Err(Error::msg(format_args!(
                        "hook ran past specified timeout of {}.0s",
                        hook.timeout.unwrap_or(0)
                    )));
                }
                ns => Some(Timespec {
                    tv_sec: ns / 1_000_000_000,
                    tv_nsec: ns % 1_000_000_000,
                }),
            },
            None => None,
        };
        let mut fds = vec![PollFd::new(pidfd, PollFlags::IN)];
        if let Some(fd) = &stdin_w {
            fds.push(PollFd::new(fd, PollFlags::OUT));
        }
        if let Some(fd) = &out_r {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, left.as_ref()) {
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("cannot wait for the hook", e)),
            Ok(_) => {}
        }
        let mut ready = fds.iter().map(|f| !f.revents().is_empty());
        let exited = ready.next().unwrap_or(false);
        let writable = stdin_w.is_some() && ready.next().unwrap_or(false);
        let readable = out_r.is_some() && ready.next().unwrap_or(false);
        drop(fds);
        if writable {
            if let Some(fd) = &stdin_w {
                match rustix::io::write(fd, input) {
                    Ok(n) => input = &input[n.min(input.len())..],
                    Err(Errno::AGAIN) | Err(Errno::INTR) => {}
                    // EPIPE: it exited or closed stdin without reading it all (fine).
                    Err(_) => input = &[],
                }
                if input.is_empty() {
                    stdin_w = None;
                }
            }
        }
        if readable || exited {
            // After its exit: what is left in the pipe, without waiting for an EOF that a
            // process it left behind may hold off forever.
            for _ in 0..if exited { 16 } else { 1 } {
                let Some(fd) = &out_r else { break };
                let mut buf = [0u8; 4096];
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) => out_r = None,
                    Ok(n) => {
                        let keep = n.min(OUTPUT_MAX - output.len().min(OUTPUT_MAX));
                        output.extend_from_slice(&buf[..keep]);
                    }
                    Err(Errno::INTR) => {}
                    Err(Errno::AGAIN) => break,
                    Err(_) => out_r = None,
                }
            }
        }
        if exited {
            return Ok(output);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    /// A scratch bundle directory, removed on drop.
    struct Bundle {
        dir: PathBuf,
        fd: OwnedFd,
    }

    impl Bundle {
        fn new(name: &str) -> Bundle {
            let dir = std::env::temp_dir().join(format!(
                "crab-can-hooks-{}-{name}",
                crate::sys::testing::pid()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let fd = rustix::fs::openat(
                rustix::fs::CWD,
                &dir,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .unwrap();
            Bundle { dir, fd }
        }

        /// An executable `/bin/sh` script in the bundle.
        fn script(&self, name: &str, body: &str) -> String {
            let p = self.dir.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p.to_str().unwrap().to_string()
        }

        fn read(&self, name: &str) -> String {
            std::fs::read_to_string(self.dir.join(name)).unwrap()
        }

        fn run(&self, hook: &Hook, state: &str) -> Result<()> {
            run_all(
                std::slice::from_ref(hook),
                "prestart",
                state,
                self.fd.as_fd(),
            )
        }
    }

    impl Drop for Bundle {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn hook(path: &str, args: &[&str], env: Option<&[&str]>, timeout: Option<u32>) -> Hook {
        let mut args: Vec<CString> = args.iter().map(|a| c(a)).collect();
        if args.is_empty() {
            args.push(c(path));
        }
        Hook {
            path: c(path),
            args,
            env: env.map(|e| e.iter().map(|v| c(v)).collect()),
            timeout,
        }
    }

    #[test]
    fn stdin_cwd_and_fds() {
        let b = Bundle::new("stdin");
        let state = r#"{"ociVersion":"1.2.0","id":"x","status":"creating","pid":42,"bundle":"/b"}"#;
        // A descriptor of ours without close-on-exec: the hook must not get it.
        let leak = rustix::io::dup(&b.fd).unwrap();
        let n = leak.as_raw_fd();
        let path = b.script(
            "h",
            &format!(
                "cat > stdin.out\npwd -P > pwd.out\n\
                 for fd in 0 1 2 {n}; do [ -e /proc/$$/fd/$fd ] && echo $fd; done > fds.out; exit 0"
            ),
        );
        b.run(&hook(&path, &[], None, None), state).unwrap();
        drop(leak);
        assert_eq!(b.read("stdin.out"), state);
        let dir = std::fs::canonicalize(&b.dir).unwrap();
        assert_eq!(b.read("pwd.out").trim_end(), dir.to_str().unwrap());
        assert_eq!(b.read("fds.out"), "0\n1\n2\n");
    }

    #[test]
    fn argv0_args_and_env() {
        let b = Bundle::new("args");
        let h = hook(
            "/bin/sh",
            &[
                "my-hook",
                "-c",
                "tr '\\0' ' ' < /proc/$$/cmdline > argv.out; echo \"$A,$B,${HOME-unset},$1\" > env.out",
                "zero",
                "one",
            ],
            Some(&["A=1", "B=two words"]),
            Some(5),
        );
        b.run(&h, "{}").unwrap();
        assert!(
            b.read("argv.out").starts_with("my-hook -c "),
            "{}",
            b.read("argv.out")
        );
        assert_eq!(b.read("env.out"), "1,two words,unset,one\n");
        // No env: the runtime's own.
        let h = hook(
            "/bin/sh",
            &["sh", "-c", "echo \"$PATH\" > path.out"],
            None,
            None,
        );
        b.run(&h, "{}").unwrap();
        assert_eq!(
            b.read("path.out").trim_end(),
            std::env::var("PATH").unwrap()
        );
        // An empty env is empty.
        // An empty env is empty (sh adds PWD itself).
        let h = hook("/bin/sh", &["sh", "-c", "env > env.out"], Some(&[]), None);
        b.run(&h, "{}").unwrap();
        let env = b.read("env.out");
        assert!(env.lines().all(|l| l.starts_with("PWD=")), "{env}");
    }

    #[test]
    fn failures() {
        let b = Bundle::new("fail");
        let path = b.script("h", "echo out; echo oops >&2; exit 3");
        let e = b.run(&hook(&path, &[], None, None), "{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running prestart hook #0: exit status 3, output: out\noops"
        );
        let path = b.script("k", "kill -9 $$");
        let e = run(
            &hook(&path, &[], None, None),
            "poststop",
            "{}",
            b.fd.as_fd(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running poststop hook: killed by signal 9"
        );
        let e = b
            .run(&hook("/nonexistent/hook", &[], None, None), "{}")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running prestart hook #0: cannot execute '/nonexistent/hook': No such file or directory"
        );
        // The second of two fails: named #1, the first ran.
        let ok = b.script("ok", "touch ran");
        let bad = b.script("bad", "exit 1");
        let e = run_all(
            &[hook(&ok, &[], None, None), hook(&bad, &[], None, None)],
            "createRuntime",
            "{}",
            b.fd.as_fd(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error running createRuntime hook #1: exit status 1"
        );
        assert!(b.dir.join("ran").exists());
    }

    #[test]
    fn big_state_unread_or_read() {
        let b = Bundle::new("big");
        let state = format!("{{\"x\":\"{}\"}}", "a".repeat(300_000));
        let quiet = b.script("q", "exit 0");
        b.run(&hook(&quiet, &[], None, Some(5)), &state).unwrap();
        let count = b.script("c", "wc -c > n.out");
        b.run(&hook(&count, &[], None, Some(5)), &state).unwrap();
        assert_eq!(b.read("n.out").trim(), state.len().to_string());
        // Much output: only the first 4 KiB is kept, and the hook is not blocked.
        let loud = b.script("l", "head -c 1000000 /dev/zero | tr '\\0' x; exit 1");
        let e = b.run(&hook(&loud, &[], None, Some(5)), "{}").unwrap_err();
        assert!(e.to_string().len() < OUTPUT_MAX + 100);
    }

    #[test]
    fn timeout_kills_the_group() {
        let b = Bundle::new("timeout");
        let path = b.script("s", "sleep 10 & echo $! > sleep.pid; wait");
        let start = Instant::now();
        let e = b.run(&hook(&path, &[], None, Some(1)), "{}").unwrap_err();
        let took = start.elapsed();
        assert_eq!(
            e.to_string(),
            "error running prestart hook #0: hook ran past specified timeout of 1.0s"
        );
        assert!(
            took >= Duration::from_millis(990) && took < Duration::from_millis(1800),
            "{took:?}"
        );
        // The sleep it started is gone too (or a zombie waiting for its new parent).
        let pid = b.read("sleep.pid").trim().to_string();
        let gone = (0..50).any(|_| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            if matches!(state, None | Some('Z') | Some('X')) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
            false
        });
        assert!(gone, "sleep {pid} survived");
    }

    #[test]
    fn parsing() {
        let parse = |text: &str| {
            let v = crate::json::parse(text.as_bytes()).unwrap();
            let root = At::root(&v);
            parse_hooks(root.get("hooks").unwrap().unwrap())
        };
        let h = parse(
            r#"{"hooks":{"prestart":[{"path":"/a"},{"path":"/b","args":["b0","x"],"env":["K=V"],"timeout":7}],
            "poststop":[{"path":"/c","args":[],"env":[]}],"createRuntime":null,"unknown":[1]}}"#,
        )
        .unwrap();
        assert_eq!(h.prestart.len(), 2);
        assert_eq!(h.prestart[0].args, vec![c("/a")]);
        assert!(h.prestart[0].env.is_none() && h.prestart[0].timeout.is_none());
        assert_eq!(h.prestart[1].args, vec![c("b0"), c("x")]);
        assert_eq!(h.prestart[1].env, Some(vec![c("K=V")]));
        assert_eq!(h.prestart[1].timeout, Some(7));
        assert_eq!(h.poststop[0].args, vec![c("/c")]);
        assert_eq!(h.poststop[0].env, Some(vec![]));
        assert!(h.create_runtime.is_empty() && h.poststart.is_empty());
        let err = |text: &str| parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            err(r#"{"hooks":{"poststart":[{"path":"rel"}]}}"#),
            "hooks.poststart[0].path: 'rel' is not an absolute path"
        );
        assert_eq!(
            err(r#"{"hooks":{"poststop":[{"path":"/a"},{"path":"/b","timeout":0}]}}"#),
            "hooks.poststop[1].timeout: must be greater than zero"
        );
        assert_eq!(
            err(r#"{"hooks":{"prestart":[{"args":["x"]}]}}"#),
            "hooks.prestart[0]: path is required"
        );
        assert!(
            err(r#"{"hooks":{"prestart":[{"path":"/a","timeout":-1}]}}"#)
                .contains("greater than zero")
        );
        assert!(
            err(r#"{"hooks":{"prestart":[{"path":"/a","timeout":5000000000}]}}"#)
                .contains("out of range")
        );
        assert!(err(r#"{"hooks":{"prestart":[{"path":"/a\u0000b"}]}}"#).contains("NUL"));
        assert!(err(r#"{"hooks":{"prestart":{}}}"#).starts_with("hooks.prestart"));
        assert!(
            err(r#"{"hooks":{"prestart":[{"path":"/a","env":"x"}]}}"#)
                .starts_with("hooks.prestart[0].env")
        );
    }
}
