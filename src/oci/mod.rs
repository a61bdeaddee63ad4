//! runc's command line on OCI bundles, so that containerd (and through it Kubernetes and
//! Docker), podman and CRI-O can drive crab-can: `create`, `start`, `state`, `kill`,
//! `delete`, `run -b`, `list`, `spec`, `features`, with runc's global options.
//!
//! - `config.rs`: config.json → the plan (the same one the docker-like command line builds);
//! - `resources.rs`: `linux.resources` → the cgroup's limits;
//! - `state.rs`: the state files under `--root` and the derived status;
//! - `hooks.rs`: the lifecycle hooks; `log.rs`: `--log` and its time stamps;
//! - `spec.rs`: `spec`'s default config, `features`, `--version`.
//!
//! Failures exit 1 with one line on stderr and, with `--log`, one line in the log.

pub mod config;
pub mod hooks;
pub mod log;
pub mod resources;
pub mod spec;
pub mod state;

use crate::cli::lexerr;
use crate::container::{self, Record};
use crate::error::{Error, Result};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use state::{Entry, State, Status};
use std::ffi::OsString;

/// Whether this runtime runs rootless, as runc decides it (`shouldHonorXDGRuntimeDir`,
/// which also picks its cgroupfs manager): not as root; or as root of a user namespace
/// other than the host's, with `$XDG_RUNTIME_DIR` set and `$USER` not `root`. Rootless
/// podman runs its runtime so: uid 0 of the user namespace it made for its user, whose
/// `/run` and cgroup tree still belong to the host's root. Then the state is under
/// `$XDG_RUNTIME_DIR` and there is no cgroup unless a limit is asked for.
pub fn rootless() -> bool {
    if crate::userns::rootless() {
        return true;
    }
    // The environment first: root with neither reads no file.
    crate::sys::var_os("XDG_RUNTIME_DIR").is_some_and(|d| !d.is_empty())
        && crate::sys::var_os("USER").is_none_or(|u| u != "root")
        && crate::sys::read_text("/proc/self/uid_map").is_some_and(|m| {
            m.split_ascii_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"]
        })
}

/// The first words that mean runc's command line (besides `run` with a bundle).
pub fn is_oci(first: &str) -> bool {
    const WORDS: &[&str] = &[
        "create",
        "start",
        "state",
        "delete",
        "list",
        "update",
        "events",
        "pause",
        "resume",
        "spec",
        "features",
        "--root",
        "--log",
        "--log-format",
        "--systemd-cgroup",
        "--debug",
        "--rootless",
    ];
    WORDS.contains(&first)
        || ["--root=", "--log=", "--log-format=", "--rootless="]
            .iter()
            .any(|p| first.starts_with(p))
}

/// An option's name: the word up to its `=`.
fn opt_name(w: &str) -> &str {
    w.split('=').next().unwrap_or(w)
}

/// `exec`, `ps` and `kill` are words of both command lines: runc's when their arguments
/// are in runc's form — `exec` with one of runc's own options, `ps ID`, `kill [--all] ID
/// SIGNAL` — and the docker-like command's otherwise (CONTRACT.md).
#[inline(never)]
pub fn is_oci_form(args: &[OsString]) -> bool {
    const EXEC_OPTS: &[&str] = &[
        "--process",
        "-p",
        "--pid-file",
        "--console-socket",
        "--preserve-fds",
        "--cap",
        "-c",
        "--no-new-privs",
        "--cwd",
        "--tty",
        "--process-label",
        "--apparmor",
        "--ignore-paused",
    ];
    let mut words: Vec<&str> = Vec::new();
    for a in args.get(1..).unwrap_or_default() {
        if let Some(w) = a.to_str() {
            words.push(w);
        }
    }
    match args.first().and_then(|a| a.to_str()) {
        Some("exec") => words
            .iter()
            .take_while(|w| w.starts_with('-'))
            .any(|w| EXEC_OPTS.contains(&opt_name(w))),
        Some("ps") => {
            let mut after_format = false;
            words.iter().any(|w| {
                let value = !w.starts_with('-') && !after_format;
                after_format = *w == "--format" || *w == "-f";
                value
            })
        }
        Some("kill") => {
            !words
                .iter()
                .any(|w| matches!(opt_name(w), "-s" | "--signal"))
                && (words.iter().any(|w| *w == "-a" || *w == "--all")
                    || words.iter().filter(|w| !w.starts_with('-')).count() >= 2)
        }
        _ => false,
    }
}

/// `run` is OCI's when one of runc's `run` options comes before the first word.
pub fn is_oci_run(args: &[OsString]) -> bool {
    const RUN_OPTS: &[&str] = &[
        "-b",
        "--bundle",
        "-d",
        "--detach",
        "--pid-file",
        "--console-socket",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
        "--keep",
    ];
    for a in args.get(1..).unwrap_or_default() {
        let Some(a) = a.to_str() else { return false };
        if RUN_OPTS.contains(&opt_name(a)) {
            return true;
        }
        if !a.starts_with('-') {
            return false;
        }
    }
    false
}

/// `--version`: the lines dockerd and podman parse (one with "version", one starting
/// "commit:"), the spec version, and the cgroup layout this host has.
pub fn version() -> String {
    format!(
        "{}cgroups: {}\n",
        spec::version(),
        crate::cgroup::detect().words()
    )
}

/// The global options.
struct Global {
    root: String,
    systemd_cgroup: bool,
}

/// Run runc's command line; the result is the exit status.
pub fn main(args: Vec<OsString>) -> u8 {
    let mut log = log::Log::none();
    match parse_and_run(args, &mut log) {
        Ok(code) => code,
        Err(e) => {
            log.error(&e.to_string());
            crate::error::print(&e);
            1
        }
    }
}

fn value(p: &mut lexopt::Parser) -> Result<String> {
    p.value()
        .map_err(lexerr)?
        .into_string()
        .map_err(|v| Error::msg(format_args!("not UTF-8: {}", v.to_string_lossy())))
}

/// What [`next`] read: one of the command's options (its index in the list), or a word.
enum Got {
    Opt(usize),
    Word(OsString),
}

/// The next argument of a command whose options are `names`, each its long name and, after
/// a space, its short letter (`"bundle b"`). The first `slots.len()` take a value, kept in
/// their slot (of a repeated one, the last); the others are returned for the caller to act
/// on (and to read the value of). Any other option is an error, in lexopt's words. One
/// loop for every command: matching option names is the same work for each.
#[inline(never)]
fn next(
    p: &mut lexopt::Parser,
    names: &[&str],
    slots: &mut [Option<String>],
) -> Result<Option<Got>> {
    use lexopt::prelude::*;
    loop {
        let Some(a) = p.next().map_err(lexerr)? else {
            return Ok(None);
        };
        let i = names.iter().position(|n| {
            let (long, short) = n.split_once(' ').unwrap_or((n, ""));
            match &a {
                Long(l) => *l == long,
                Short(c) => short.starts_with(*c),
                Value(_) => false,
            }
        });
        match (a, i) {
            (Value(v), _) => return Ok(Some(Got::Word(v))),
            (_, Some(i)) if i < slots.len() => slots[i] = Some(value(p)?),
            (_, Some(i)) => return Ok(Some(Got::Opt(i))),
            (other, None) => return Err(lexerr(other.unexpected())),
        }
    }
}

/// A word where none (or no more) is taken, in lexopt's words.
fn stray(v: OsString) -> Error {
    lexerr(lexopt::Arg::Value(v).unexpected())
}

#[inline(never)]
fn parse_and_run(args: Vec<OsString>, log: &mut log::Log) -> Result<u8> {
    let mut p = lexopt::Parser::from_args(args);
    let mut slots: [Option<String>; 3] = Default::default();
    let mut systemd_cgroup = false;
    const NAMES: &[&str] = &[
        "root",
        "log",
        "log-format",
        "systemd-cgroup",
        "debug",
        "rootless",
        "version v",
    ];
    let cmd = loop {
        match next(&mut p, NAMES, &mut slots)? {
            Some(Got::Opt(3)) => systemd_cgroup = true,
            Some(Got::Opt(5)) => {
                let _ = p.optional_value();
            }
            Some(Got::Opt(6)) => {
                print(&version());
                return Ok(0);
            }
            Some(Got::Opt(_)) => {}
            Some(Got::Word(v)) => break v.to_string_lossy().into_owned(),
            None => return Err(Error::new("no command given")),
        }
    };
    let [root, log_path, log_format] = slots;
    *log = log::Log::open(log_path.as_deref(), &log_format.unwrap_or_default())?;
    let g = Global {
        root: root.unwrap_or_else(state::default_root),
        systemd_cgroup,
    };
    match cmd.as_str() {
        "create" => create_cmd(&g, &mut p, false),
        "run" => create_cmd(&g, &mut p, true),
        "start" => start(&g, &one_id(&mut p)?),
        "state" => state_cmd(&g, &one_id(&mut p)?),
        "kill" => kill(&g, &mut p),
        // runc: every failure of `exec` itself is 255 (the process's status is its own).
        "exec" => Ok(exec_cmd(&g, &mut p).unwrap_or_else(|e| {
            log.error(&e.to_string());
            crate::error::print(&e);
            255
        })),
        "delete" => delete_cmd(&g, &mut p),
        "list" => list(&g, &mut p),
        "ps" => ps(&g, &mut p),
        "update" => update(&g, &mut p, false),
        "events" => update(&g, &mut p, true),
        "pause" => freeze(&g, &one_id(&mut p)?, true),
        "resume" => freeze(&g, &one_id(&mut p)?, false),
        "spec" => spec_cmd(&mut p),
        "features" => {
            print(&spec::features());
            Ok(0)
        }
        other => Err(Error::msg(format_args!(
            "unknown command '{other}' (create, start, state, kill, delete, run, exec, list, ps, update, events, pause, resume, spec, features)"
        ))),
    }
}

/// `s` on stdout, ending in a newline, in one `write`.
fn print(s: &str) {
    let line;
    let s = if s.ends_with('\n') {
        s
    } else {
        line = format!("{s}\n");
        &line
    };
    let _ = crate::sys::write_all(rustix::stdio::stdout(), s.as_bytes());
}

fn one_id(p: &mut lexopt::Parser) -> Result<String> {
    let mut id = None;
    while let Some(a) = next(p, &[], &mut [])? {
        match a {
            Got::Word(v) if id.is_none() => id = Some(v.to_string_lossy().into_owned()),
            Got::Word(v) => return Err(stray(v)),
            Got::Opt(_) => {}
        }
    }
    let id = id.ok_or_else(|| Error::new("a container id is needed"))?;
    state::check_id(&id)?;
    Ok(id)
}

/// `create` and `run`: the state, the record, the init, its gate.
struct OciRecord<'a> {
    entry: &'a Entry<'a>,
    st: State,
}

/// The state is written twice, each time a line appended to the claim file (see
/// `State::save`): once with the cgroups it will make, before any is made, and once whole
/// when `create` is done. A `create` killed in between leaves an init that dies with it
/// (its parent-death signal) and cgroups recorded with inode 0, which `delete` only
/// rmdirs (waiting out that init: `cgroup::remove_unconfirmed`).
impl Record for OciRecord<'_> {
    fn cgroups(&mut self, dirs: &[(&str, Option<u64>)]) -> Result<()> {
        let intent = dirs.iter().all(|(_, i)| i.is_none());
        self.st.cgroups.clear();
        for (p, i) in dirs {
            self.st.cgroups.push((p.to_string(), i.unwrap_or(0)));
        }
        match intent {
            true => self.st.save(self.entry),
            false => Ok(()),
        }
    }
    fn init(&mut self, pid: i32, _cg: Option<&crate::cgroup::Cgroup>) -> Result<()> {
        self.st.pid = pid;
        self.st.start = state::proc_start(pid).map_or(0, |(_, s)| s);
        Ok(())
    }
}

/// A host path's directory, opened before anything else, and the file's name in it.
fn open_parent(path: &str) -> Result<(OwnedFd, String)> {
    let abs = config::absolute(path)?;
    let (dir, name) = crate::sys::split_last(&abs, b'/').unwrap_or(("", &abs));
    let dir = if dir.is_empty() { "/" } else { dir };
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::sys_msg(format_args!("cannot open the directory of {path}"), e))?;
    Ok((fd, name.to_string()))
}

/// The pid file: decimal, no newline, renamed into place.
fn write_pid_file(dir: &OwnedFd, name: &str, pid: i32) -> Result<()> {
    state::replace(dir.as_fd(), name, pid.to_string().as_bytes(), 0o644)
        .map_err(|e| Error::sys_msg(format_args!("cannot write the pid file {name}"), e))
}

/// Send the pty master to the caller's console socket: one message, one fd, a non-empty
/// payload, before `create` returns.
fn send_console(path: &str, master: BorrowedFd<'_>) -> Result<()> {
    let sock = connect_console(path)?;
    crate::tty::send_master(sock.as_fd(), master).map_err(|e| console_error(path, e))
}

fn console_error(path: &str, e: Errno) -> Error {
    Error::sys_msg(
        format_args!("cannot send the terminal to the console socket {path}"),
        e,
    )
}

/// Connect to the caller's console socket (a path `AF_UNIX` stream socket).
fn connect_console(path: &str) -> Result<OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let cannot = |e| console_error(path, e);
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(cannot)?;
    // A path too long for sun_path goes through its directory's fd.
    let (dir, name) = open_parent(path)?;
    let short = format!("/proc/self/fd/{}/{name}", dir.as_raw_fd());
    let target = if path.len() < 100 {
        path
    } else {
        short.as_str()
    };
    let addr = SocketAddrUnix::new(target).map_err(cannot)?;
    rustix::net::connect(&sock, &addr).map_err(cannot)?;
    Ok(sock)
}

/// The start gate's socket, `ROOT/ID:start`, bound through the root's fd (a long `--root`
/// would not fit in a socket address); for an ID too long for one too, bound under a short
/// name first and renamed (see [`state::long_gate_name`]).
fn gate_socket(entry: &Entry) -> Result<OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let cannot = |e| Error::sys("cannot create the start gate", e);
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(cannot)?;
    let name = entry.file("start");
    let at = |n: &str| format!("/proc/self/fd/{}/{n}", entry.fd.as_raw_fd());
    if !state::long_id(&entry.id) {
        let addr = SocketAddrUnix::new(at(&name).as_str()).map_err(cannot)?;
        rustix::net::bind(&sock, &addr).map_err(cannot)?;
    } else {
        let tmp = state::long_gate_name(entry).ok_or_else(|| cannot(Errno::NOENT))?;
        // A stale one is of a killed `create` whose claim had this inode: not in use.
        let _ = rustix::fs::unlinkat(entry.fd, tmp.as_str(), rustix::fs::AtFlags::empty());
        let addr = SocketAddrUnix::new(at(&tmp).as_str()).map_err(cannot)?;
        rustix::net::bind(&sock, &addr).map_err(cannot)?;
        rustix::fs::renameat(entry.fd, tmp.as_str(), entry.fd, name.as_str()).map_err(cannot)?;
    }
    rustix::net::listen(&sock, 1).map_err(cannot)?;
    Ok(sock)
}

/// Connect to the start gate through an `O_PATH` fd of the socket itself: no path, however
/// long the ID, has to fit in the address.
#[inline(never)]
fn connect_gate(entry: &Entry) -> std::result::Result<OwnedFd, Errno> {
    use rustix::fs::{Mode, OFlags};
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let file = rustix::fs::openat(
        entry.fd,
        entry.file("start").as_str(),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let addr = SocketAddrUnix::new(format!("/proc/self/fd/{}", file.as_raw_fd()).as_str())?;
    rustix::net::connect(&sock, &addr)?;
    Ok(sock)
}

#[inline(never)]
fn create_cmd(g: &Global, p: &mut lexopt::Parser, run: bool) -> Result<u8> {
    let mut slots: [Option<String>; 3] = Default::default();
    let mut id = None;
    let mut detach = !run;
    const NAMES: &[&str] = &[
        "bundle b",
        "pid-file",
        "console-socket",
        "preserve-fds",
        "detach d",
        "no-pivot",
        "no-new-keyring",
        "keep",
    ];
    while let Some(a) = next(p, NAMES, &mut slots)? {
        match a {
            Got::Opt(3) => {
                let n = value(p)?;
                if n != "0" {
                    return Err(Error::new("--preserve-fds is not supported yet"));
                }
            }
            Got::Opt(4) => detach = true,
            Got::Opt(_) => {}
            Got::Word(v) if id.is_none() => id = Some(v.to_string_lossy().into_owned()),
            Got::Word(v) => return Err(stray(v)),
        }
    }
    let [bundle, pid_file, console] = slots;
    let bundle = bundle.unwrap_or_else(|| ".".to_string());
    let id = id.ok_or_else(|| Error::new("a container id is needed"))?;
    state::check_id(&id)?;
    let root = state::open_root(&g.root)?;
    // Everything that can be checked is, before the ID is taken: a bad config leaves nothing.
    let b = config::load(
        &bundle,
        &config::Options {
            id: &id,
            systemd_cgroup: g.systemd_cgroup,
        },
    )?;
    let pid_dir = pid_file.as_deref().map(open_parent).transpose()?;
    let terminal = b.plan.process.terminal.is_some();
    if terminal && console.is_none() && detach {
        return Err(Error::new(
            "cannot allocate a pseudo-terminal without --console-socket when detached",
        ));
    }
    let entry = state::make(&root, &id)?;
    let result = create_in(
        &b,
        &entry,
        pid_dir.as_ref(),
        console.as_deref(),
        run,
        detach,
    );
    // A failed `create`, and a foreground `run` once it is over, leave no state: removed
    // through the entry this command made, never looked up again by its name.
    if result.is_err() || (run && !detach) {
        state::remove(entry);
    }
    result
}

fn create_in(
    b: &config::Bundle,
    entry: &Entry,
    pid_file: Option<&(OwnedFd, String)>,
    console: Option<&str>,
    run: bool,
    detach: bool,
) -> Result<u8> {
    // The config is kept for the steps of later invocations (`start`'s and `delete`'s
    // hooks); a foreground `run` without hooks has none.
    if !run || detach || !b.hooks.is_empty() {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(
            entry.fd,
            entry.file("config.json").as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::sys("cannot save config.json", e))?;
        crate::sys::write_all(fd.as_fd(), &b.text)
            .map_err(|e| Error::sys("cannot save config.json", e))?;
    }
    let mut rec = OciRecord {
        entry,
        st: State {
            id: entry.id.clone(),
            bundle: b.bundle.clone(),
            rootfs: b.rootfs.clone(),
            // Empty until `create` is done: until then the container does not exist for
            // `state`, `start` and `kill` (only `delete` sees it).
            created: String::new(),
            annotations: b.annotations.clone(),
            own_pid_ns: b.plan.container.namespaces & libc::CLONE_NEWPID as u64 != 0,
            ..State::default()
        },
    };
    // A foreground `run` without hooks starts the container itself: its gate is a socket
    // pair (no socket under the root, so `state` says `running` from `create`'s end).
    let (listener, mut own_end) = if run && !detach && b.hooks.is_empty() {
        let (mine, theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| Error::sys("cannot create the start gate", e))?;
        (theirs, Some(mine))
    } else {
        (gate_socket(entry)?, None)
    };
    let gate = match own_end {
        Some(_) => crate::init::StartGate::Paired(listener.as_fd()),
        None => crate::init::StartGate::Listen(listener.as_fd()),
    };
    let mut ct = container::create_with(&b.plan, &mut rec, Some(gate))?;
    drop(listener);
    let stamp = log::rfc3339_now();
    let steps = (|| -> Result<Option<OwnedFd>> {
        // What the hooks see: the state as it will be (`state` shows none of it yet).
        let mut view = rec.st.clone();
        view.created = stamp.clone();
        let st = &view;
        let master = container::await_gate(&mut ct).map_err(|e| gate_error(&b.plan, e))?;
        let creating = st.json("creating", st.pid);
        hooks::run_all(&b.hooks.prestart, "prestart", &creating, b.dir.as_fd())?;
        hooks::run_all(
            &b.hooks.create_runtime,
            "createRuntime",
            &creating,
            b.dir.as_fd(),
        )?;
        hooks::run_all_in(
            &b.hooks.create_container,
            "createContainer",
            &creating,
            b.dir.as_fd(),
            ct.pidfd.as_fd(),
            false,
        )?;
        let master = match (master, console) {
            (Some(m), Some(path)) => {
                send_console(path, m.as_fd())?;
                None
            }
            (m, _) => m,
        };
        if let Some((dir, name)) = pid_file {
            write_pid_file(dir, name, ct.pid)?;
        }
        Ok(master)
    })();
    let steps = steps.and_then(|m| {
        rec.st.created = stamp.clone();
        rec.st.save(entry)?;
        Ok(m)
    });
    let st = &rec.st;
    let master = match steps {
        Ok(m) => m,
        Err(e) => {
            container::abort(ct);
            return Err(e);
        }
    };
    if detach {
        container::release_init(&mut ct);
    }
    // `run`: start it ourselves, then (unless detached) wait for it like `crab-can run`.
    if run {
        if let Err(e) = open_gate(&b.hooks, b.dir.as_fd(), st, entry, own_end.take()) {
            container::abort(ct);
            return Err(e);
        }
    }
    if detach {
        container::keep(ct);
        return Ok(0);
    }
    let status = container::wait_with(&mut ct, master).map(|o| o.status());
    container::delete(ct);
    let stopped = st.oci_json(Status::Stopped);
    if let Err(e) = hooks::run_all(&b.hooks.poststop, "poststop", &stopped, b.dir.as_fd()) {
        crate::error::warn(&e.to_string());
    }
    status
}

/// A setup failure in the words engines expect (a missing command as runc says it).
fn gate_error(plan: &crate::plan::Plan, e: Error) -> Error {
    process_error(&plan.process, e)
}

fn process_error(p: &crate::plan::ProcessPlan, e: Error) -> Error {
    match e.code {
        crate::error::EXIT_NOT_FOUND => config::exec_error(p, Errno::NOENT),
        crate::error::EXIT_CANNOT_EXEC => config::exec_error(p, e.errno.unwrap_or(Errno::ACCESS)),
        _ => e,
    }
}

/// `exec [options] ID [COMMAND...]`: runc's flags; a runtime failure exits 255 (the exec'd
/// process's own status is passed on otherwise).
fn exec_cmd(g: &Global, p: &mut lexopt::Parser) -> Result<u8> {
    let mut f = config::ExecFlags::default();
    let mut slots: [Option<String>; 7] = Default::default();
    let mut id = None;
    let (mut detach, mut preserve) = (false, 0u32);
    const NAMES: &[&str] = &[
        "process p",
        "pid-file",
        "console-socket",
        "cwd",
        "user u",
        "process-label",
        "apparmor",
        "detach d",
        "tty t",
        "env e",
        "cap c",
        "no-new-privs",
        "preserve-fds",
        "ignore-paused",
    ];
    while let Some(a) = next(p, NAMES, &mut slots)? {
        match a {
            Got::Opt(7) => detach = true,
            Got::Opt(8) => f.tty = true,
            Got::Opt(9) => f.env.push(value(p)?),
            Got::Opt(10) => f.caps.push(value(p)?),
            Got::Opt(11) => f.no_new_privs = true,
            Got::Opt(12) => {
                preserve = crate::user::parse_u32(&value(p)?)
                    .ok_or_else(|| Error::new("--preserve-fds takes a number"))?
            }
            Got::Opt(_) => {}
            Got::Word(v) => {
                id = Some(v.to_string_lossy().into_owned());
                for a in p.raw_args().map_err(lexerr)? {
                    f.args.push(a.to_string_lossy().into_owned());
                }
                break;
            }
        }
    }
    let [process, pid_file, console, cwd, user, ..] = slots;
    (f.cwd, f.user) = (cwd, user);
    let id = id.ok_or_else(|| Error::new("a container id is needed"))?;
    state::check_id(&id)?;
    if process.is_none() && f.args.is_empty() {
        return Err(Error::new("exec: a command or --process is needed"));
    }
    let given = match &process {
        Some(path) => {
            let (dir, name) = open_parent(path)?;
            Some(
                crate::sys::read_small(dir.as_fd(), &name, 16 << 20).ok_or_else(|| {
                    Error::msg(format_args!("cannot read the process file {path}"))
                })?,
            )
        }
        None => None,
    };
    let root = state::open_root(&g.root)?;
    let (entry, st) = match find(&root, &id) {
        Ok(found) => found,
        // Under the default root, an ID that is no OCI container's may name a docker-like
        // `run` (CONTRACT.md: found by its name whichever command started it).
        Err(e) if g.root == state::default_root() && process.is_none() => {
            return by_name(id, f, detach).unwrap_or(Err(e));
        }
        Err(e) => return Err(e),
    };
    let Some(config) = saved_config(&entry) else {
        return Err(Error::msg(format_args!(
            "cannot read the saved config of {id}"
        )));
    };
    exec_in(
        &id,
        &entry,
        &st,
        &config,
        given.as_deref(),
        &f,
        preserve,
        detach,
        pid_file.as_deref(),
        console.as_deref(),
    )
}

/// Enter the OCI container (`entry`, `st`) and run the process there.
#[allow(clippy::too_many_arguments)]
fn exec_in(
    id: &str,
    entry: &Entry,
    st: &State,
    config: &[u8],
    given: Option<&[u8]>,
    f: &config::ExecFlags,
    preserve: u32,
    detach: bool,
    pid_file: Option<&str>,
    console: Option<&str>,
) -> Result<u8> {
    match st.status(entry) {
        Status::Paused => return Err(Error::new("cannot exec in a paused container")),
        Status::Stopped => return Err(Error::new("cannot exec in a stopped container")),
        _ => {}
    }
    let pidfd = st
        .pidfd()
        .ok_or_else(|| Error::new("container not running"))?;
    let mut ns = match crate::userns::rootless() {
        true => crate::exec::child_namespaces(st.pid).unwrap_or_default(),
        false => Vec::new(),
    };
    let root = match ns.is_empty() {
        true => crate::exec::container_root(st.pid, pidfd.as_fd(), id),
        false => Some(crate::rootfs::Root {
            image: ns.remove(0),
            display: id.to_string(),
        }),
    }
    .ok_or_else(|| Error::new("container not running"))?;
    let plan = config::exec_process(config, given, f, &root)?;
    if plan.terminal.is_some() && console.is_none() && detach {
        return Err(Error::new(
            "cannot allocate a pseudo-terminal without --console-socket when detached",
        ));
    }
    // Everything named by a host path is opened before crab-can joins the container's
    // mount namespace (where the same path names the container's files).
    let pid_dir = pid_file.map(open_parent).transpose()?;
    let console = console
        .map(|c| Ok::<_, Error>((c, connect_console(c)?)))
        .transpose()?;
    // The cgroups it was made with, each still the very directory (its inode).
    let mut cgroups = Vec::new();
    for (path, ino) in &st.cgroups {
        let Ok(fd) = rustix::fs::open(
            path.as_str(),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) else {
            continue;
        };
        if rustix::fs::fstat(&fd).is_ok_and(|s| s.st_ino == *ino) {
            cgroups.push(fd);
        }
    }
    let target = crate::exec::Target {
        name: id.to_string(),
        pid: st.pid,
        pidfd,
        cgroups,
        pids: None,
        ns,
    };
    let started = crate::exec::start(&target, &plan, preserve, false)?;
    let pid = started.pid;
    let fail = |f| process_error(&plan, crate::exec::failure(&target, &plan, f));
    if detach {
        let master = crate::exec::detach(started).map_err(fail)?;
        if let (Some(m), Some((path, sock))) = (master, &console) {
            crate::tty::send_master(sock.as_fd(), m.as_fd()).map_err(|e| console_error(path, e))?;
        }
        if let Some((dir, name)) = &pid_dir {
            write_pid_file(dir, name, pid)?;
        }
        return Ok(0);
    }
    if let Some((dir, name)) = &pid_dir {
        write_pid_file(dir, name, pid)?;
    }
    crate::exec::wait(started).map_err(fail)
}

/// OCI `exec ID` of a docker-like container named ID, through its name socket: runc's flags
/// as the docker-like ones (`--cap` and `--no-new-privs` have no docker-like form: the
/// command's own capabilities and no_new_privs hold). None when no `run` holds the name.
fn by_name(id: String, f: config::ExecFlags, detach: bool) -> Option<Result<u8>> {
    use std::ffi::OsString;
    crate::state::is_name(&id).then_some(())?;
    let mut command = Vec::new();
    for a in f.args {
        command.push(OsString::from(a));
    }
    let mut env = Vec::new();
    for kv in &f.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        env.push((OsString::from(k), Some(OsString::from(v))));
    }
    let spec = crate::cli::ExecSpec {
        name: id,
        command,
        env,
        workdir: f.cwd,
        user: f.user,
        no_tty: !f.tty,
        detach,
    };
    crate::running::exec_named(&spec)
}

/// The docker-like `exec NAME` of an OCI container: found under the default `--root`.
/// None when there is no such container.
pub fn exec_by_name(spec: &crate::cli::ExecSpec) -> Option<Result<u8>> {
    let root = state::open_root(&state::default_root()).ok()?;
    let (entry, st) = find(&root, &spec.name).ok()?;
    let config = saved_config(&entry)?;
    let mut f = config::ExecFlags {
        cwd: spec.workdir.clone(),
        user: spec.user.clone(),
        tty: crate::tty::wanted(spec.no_tty || spec.detach),
        ..Default::default()
    };
    for a in &spec.command {
        f.args.push(a.to_string_lossy().into_owned());
    }
    for (k, v) in &spec.env {
        if let Some(v) = v.clone().or_else(|| crate::sys::var_os(k)) {
            f.env
                .push(format!("{}={}", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    Some(exec_in(
        &spec.name,
        &entry,
        &st,
        &config,
        None,
        &f,
        0,
        spec.detach,
        None,
        None,
    ))
}

/// The docker-like `kill NAME` of an OCI container under the default `--root`.
pub fn kill_by_name(name: &str, sig: i32) -> Option<Result<u8>> {
    let root = state::open_root(&state::default_root()).ok()?;
    let (_, st) = find(&root, name).ok()?;
    Some(match st.pidfd() {
        Some(fd) => crate::sys::pidfd_signal(fd.as_fd(), sig)
            .map(|()| 0)
            .map_err(|e| Error::sys_msg(format_args!("cannot signal container {name}"), e)),
        None => Err(Error::msg(format_args!("container {name} is not running"))),
    })
}

/// Open the gate of a created container and see the command exec'd, then the poststart
/// hooks (a failing one stops the container).
fn open_gate(
    h: &hooks::Hooks,
    bundle: BorrowedFd<'_>,
    st: &State,
    entry: &Entry,
    paired: Option<OwnedFd>,
) -> Result<()> {
    let hooked = !h.start_container.is_empty();
    if let Some(pidfd) = hooked.then(|| st.pidfd()).flatten() {
        let created = st.json("created", st.pid);
        let r = hooks::run_all_in(
            &h.start_container,
            "startContainer",
            &created,
            bundle,
            pidfd.as_fd(),
            true,
        );
        if let Err(e) = r {
            kill_and_wait(pidfd.as_fd());
            return Err(e);
        }
    }
    let gone = |e| Error::sys("cannot start the container (its init is gone)", e);
    let conn = match paired {
        Some(conn) => {
            match rustix::io::write(&conn, &[1]) {
                Ok(1) => {}
                Ok(_) => return Err(gone(Errno::PIPE)),
                Err(e) => return Err(gone(e)),
            }
            conn
        }
        None => {
            let conn = connect_gate(entry).map_err(gone)?;
            let _ = rustix::fs::unlinkat(
                entry.fd,
                entry.file("start").as_str(),
                rustix::fs::AtFlags::empty(),
            );
            conn
        }
    };
    let mut buf = [0u8; crate::error::Failure::SIZE];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&conn, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(_) => break,
        }
    }
    if let Some(f) = (got == buf.len())
        .then(|| crate::error::Failure::decode(&buf))
        .flatten()
    {
        return Err(Error::sys(
            "the container's command failed to start",
            f.errno,
        ));
    }
    let running = st.oci_json(Status::Running);
    if let Err(e) = hooks::run_all(&h.poststart, "poststart", &running, bundle) {
        if let Some(pidfd) = st.pidfd() {
            kill_and_wait(pidfd.as_fd());
        }
        return Err(e);
    }
    Ok(())
}

/// A failed hook stops the container: SIGKILL its init and wait (up to 10 s) until it has
/// exited, so the status is `stopped` when the command returns.
fn kill_and_wait(pidfd: BorrowedFd<'_>) {
    use rustix::event::{PollFd, PollFlags};
    let _ = crate::sys::pidfd_signal(pidfd, libc::SIGKILL);
    let mut fds = [PollFd::from_borrowed_fd(pidfd, PollFlags::IN)];
    let _ = rustix::event::poll(
        &mut fds,
        Some(&rustix::time::Timespec {
            tv_sec: 10,
            tv_nsec: 0,
        }),
    );
}

/// The container `id`: its entry and state, or `does not exist`.
fn find<'r>(root: &'r OwnedFd, id: &str) -> Result<(Entry<'r>, State)> {
    let entry = state::open(root, id).ok_or_else(state::not_found)?;
    let st = State::load(&entry)
        .filter(|st| !st.created.is_empty())
        .ok_or_else(state::not_found)?;
    Ok((entry, st))
}

/// The copy of `config.json` a container was created with (`ID:config.json`).
fn saved_config(entry: &Entry) -> Option<Vec<u8>> {
    crate::sys::read_small(entry.fd, &entry.file("config.json"), 16 << 20)
}

/// The saved config of a container (hooks for `start` and `delete`).
fn saved_bundle(entry: &Entry, st: &State) -> Option<(hooks::Hooks, OwnedFd)> {
    let text = saved_config(entry)?;
    let v = crate::json::parse(&text).ok()?;
    let at = crate::json::At::root(&v);
    let h = match at.get("hooks").ok()? {
        Some(h) => hooks::parse_hooks(h).ok()?,
        None => hooks::Hooks::default(),
    };
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        st.bundle.as_str(),
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    Some((h, fd))
}

#[inline(never)]
fn start(g: &Global, id: &str) -> Result<u8> {
    let root = state::open_root(&g.root)?;
    let (entry, st) = find(&root, id)?;
    match st.status(&entry) {
        Status::Created => {}
        Status::Stopped => return Err(Error::new("cannot start a container that has stopped")),
        _ => return Err(Error::new("cannot start an already running container")),
    }
    let (h, bundle_fd) = match saved_bundle(&entry, &st) {
        Some(x) => x,
        None => (
            hooks::Hooks::default(),
            rustix::fs::openat(
                rustix::fs::CWD,
                "/",
                rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::sys("cannot open /", e))?,
        ),
    };
    open_gate(&h, bundle_fd.as_fd(), &st, &entry, None).map(|()| 0)
}

/// `pause` and `resume`: the cgroup freezer (v2 `cgroup.freeze`, v1 `freezer.state`).
#[inline(never)]
fn freeze(g: &Global, id: &str, frozen: bool) -> Result<u8> {
    let root = state::open_root(&g.root)?;
    let (entry, st) = find(&root, id)?;
    match (st.status(&entry), frozen) {
        (Status::Stopped, _) | (Status::Created, _) => Err(Error::new("container not running")),
        (Status::Paused, true) => Err(Error::new("container already paused")),
        (Status::Running, false) => Err(Error::new("container not paused")),
        _ => crate::cgroup::set_frozen(&st.cgroups, frozen).map(|()| 0),
    }
}

/// `ps [--format table|json] ID`: the host pids of the container's processes (every
/// process of its cgroups), as engines read them (`json`: an array, as runc prints it);
/// the table is `PID CMD`, one line each (runc runs the host's `ps -ef` instead, and
/// takes `ps` options, which crab-can refuses rather than ignores).
#[inline(never)]
fn ps(g: &Global, p: &mut lexopt::Parser) -> Result<u8> {
    let (mut json, mut id) = (false, None);
    while let Some(a) = next(p, &["format f"], &mut [])? {
        match a {
            Got::Opt(_) => {
                json = match value(p)?.as_str() {
                    "json" => true,
                    "table" => false,
                    other => {
                        return Err(Error::msg(format_args!("invalid format option '{other}'")));
                    }
                }
            }
            Got::Word(v) if id.is_none() => id = Some(v.to_string_lossy().into_owned()),
            Got::Word(_) => return Err(Error::new("ps options are not supported yet")),
        }
    }
    let id = id.ok_or_else(|| Error::new("a container id is needed"))?;
    state::check_id(&id)?;
    let root = state::open_root(&g.root)?;
    let (_, st) = find(&root, &id)?;
    let mut pids = crate::cgroup::procs(&st.cgroups);
    if st.cgroups.is_empty() && st.init_alive() {
        pids.push(st.pid);
    }
    let mut out = String::new();
    if json {
        out.push('[');
        for (i, pid) in pids.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out += &pid.to_string();
        }
        out.push(']');
    } else {
        out += "PID\tCMD\n";
        for pid in pids {
            let mut cmd =
                crate::sys::read_small(rustix::fs::CWD, &format!("/proc/{pid}/cmdline"), 4096)
                    .unwrap_or_default();
            for b in &mut cmd {
                if *b == 0 {
                    *b = b' ';
                }
            }
            out += &format!("{pid}\t{}\n", String::from_utf8_lossy(&cmd).trim_end());
        }
    }
    print(&out);
    Ok(0)
}

/// A number of `update`'s flags, as runc reads byte values (go-units' `RAMInBytes`, but
/// whole numbers only): digits, an optional space, an optional k, m, g, t or p (powers of
/// 1024, any case), an optional `i`, an optional `b`. `-1` (no limit) stays.
#[inline(never)]
fn ram_bytes(s: &str) -> Option<i64> {
    if s == "-1" {
        return Some(-1);
    }
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = s.split_at(n);
    let mut r = rest.strip_prefix(' ').unwrap_or(rest).as_bytes();
    let mut shift = 0;
    for (i, set) in [&b"kmgtp"[..], b"i", b"b"].iter().enumerate() {
        if let Some(u) = r
            .first()
            .and_then(|c| set.iter().position(|u| *u == c.to_ascii_lowercase()))
        {
            shift = if i == 0 { 10 * (u + 1) } else { shift };
            r = &r[1..];
        }
    }
    let v: u64 = num.parse().ok()?;
    let v = v.checked_mul(1 << shift).filter(|_| r.is_empty())?;
    i64::try_from(v).ok()
}

/// One of runc's `update` flags (`u`: its entry in [`UPDATE_FLAGS`]) with value `v`, as a
/// member of its section.
#[inline(never)]
fn update_flag(sec: &mut [String; 4], u: &str, v: &str) -> Result<()> {
    let (flag, m) = u.split_once(':').unwrap_or_default();
    let key = m.get(1..).unwrap_or_default();
    let s = &mut sec[usize::from(m.as_bytes().first().unwrap_or(&0) & 3)];
    crate::json::quote(s, key);
    s.push(':');
    match (key, ram_bytes(v)) {
        ("cpus" | "mems", _) => crate::json::quote(s, v),
        (_, Some(n)) => *s += &n.to_string(),
        _ => {
            return Err(Error::msg(format_args!(
                "invalid value for --{flag}: '{v}'"
            )));
        }
    }
    s.push(',');
    Ok(())
}

/// runc's `update` flags, each `FLAG:SK`: its member K of section S of
/// `linux.resources` (0 memory, 1 cpu, 2 pids, 3 blockIO), whose value is in bytes
/// (memory) or a number, but for `cpus` and `mems`.
const UPDATE_FLAGS: &str = "memory:0limit memory-swap:0swap memory-reservation:0reservation \
    cpu-shares:1shares cpu-share:1shares cpu-period:1period cpu-quota:1quota cpu-burst:1burst \
    cpu-idle:1idle cpu-rt-period:1realtimePeriod cpu-rt-runtime:1realtimeRuntime \
    cpuset-cpus:1cpus cpuset-mems:1mems pids-limit:2limit blkio-weight:3weight";

/// `update [--resources FILE|-] [runc's flags] ID`: change the limits of a created,
/// running or paused container; only those given change, device rules never (as runc).
/// `--resources` is a `linux.resources` object from a file or stdin (`-`), and then the
/// flags are ignored, as by runc; the flags are read as members of that object.
///
/// `events --stats ID` (`events`: true): one stats event, as runc prints it; without
/// `--stats` runc streams events (OOM notices, stats every interval), crab-can does not.
#[inline(never)]
fn update(g: &Global, p: &mut lexopt::Parser, events: bool) -> Result<u8> {
    use lexopt::prelude::*;
    let (mut file, mut id, mut stats) = (None, None, false);
    let mut sec: [String; 4] = Default::default();
    while let Some(a) = p.next().map_err(lexerr)? {
        let flag = match &a {
            Long(f) if !events => UPDATE_FLAGS
                .split_whitespace()
                .find(|u| u.strip_prefix(*f).is_some_and(|m| m.starts_with(':'))),
            _ => None,
        };
        match (a, flag) {
            (_, Some(u)) => update_flag(&mut sec, u, &value(p)?)?,
            (Long("resources"), _) if !events => file = Some(value(p)?),
            (Long("stats"), _) if events => stats = true,
            (Long("interval"), _) if events => drop(value(p)?),
            (Value(v), _) if id.is_none() => id = Some(v.to_string_lossy().into_owned()),
            (other, _) => return Err(lexerr(other.unexpected())),
        }
    }
    let id = id.ok_or_else(|| Error::new("a container id is needed"))?;
    state::check_id(&id)?;
    let root = state::open_root(&g.root)?;
    let (entry, st) = find(&root, &id)?;
    let stopped = st.status(&entry) == Status::Stopped;
    match events {
        true => stats_event(&id, &st, stopped, stats),
        false => apply_update(file.as_deref(), &sec, &st, stopped),
    }
    .map(|()| 0)
}

/// `events`' output, or runc's error.
#[inline(never)]
fn stats_event(id: &str, st: &State, stopped: bool, stats: bool) -> Result<()> {
    if stopped {
        return Err(Error::msg(format_args!(
            "container with id {id} is not running"
        )));
    }
    if !stats {
        return Err(Error::new(
            "events without --stats is not supported (crab-can streams no events)",
        ));
    }
    let mut out = String::from("{\"type\":\"stats\",\"id\":");
    crate::json::quote(&mut out, id);
    out += ",\"data\":";
    out += &crate::cgroup::stats(&st.cgroups);
    out.push('}');
    print(&out);
    Ok(())
}

/// `update`'s limits, from `file` (`-`: stdin) or else the flags' members `sec`, applied.
#[inline(never)]
fn apply_update(file: Option<&str>, sec: &[String; 4], st: &State, stopped: bool) -> Result<()> {
    let text = match file {
        Some("-") => crate::sys::read_fd(rustix::stdio::stdin(), 16 << 20),
        Some(f) => crate::sys::read_small(rustix::fs::CWD, f, 16 << 20),
        None => {
            // A member `"":0` closes each section: unknown keys are not read.
            let mut t = String::new();
            for (name, s) in ["{\"memory\"", ",\"cpu\"", ",\"pids\"", ",\"blockIO\""]
                .iter()
                .zip(sec)
            {
                t += name;
                t += ":{";
                t += s;
                t += "\"\":0}";
            }
            t.push('}');
            Some(t.into_bytes())
        }
    };
    let text = text.ok_or_else(|| {
        Error::msg(format_args!(
            "cannot read the resources from {}",
            file.unwrap_or_default()
        ))
    })?;
    let v = crate::json::parse(&text)?;
    let mut limits = resources::parse(crate::json::At::root(&v))?;
    limits.devices = None;
    if stopped {
        return Err(Error::new("container not running"));
    }
    crate::cgroup::update(&st.cgroups, &limits)
}

#[inline(never)]
fn state_cmd(g: &Global, id: &str) -> Result<u8> {
    let root = state::open_root(&g.root)?;
    let (entry, st) = find(&root, id)?;
    print(&st.oci_json(st.status(&entry)));
    Ok(0)
}

#[inline(never)]
fn kill(g: &Global, p: &mut lexopt::Parser) -> Result<u8> {
    let (mut all, mut words) = (false, Vec::new());
    while let Some(a) = next(p, &["all a"], &mut [])? {
        match a {
            Got::Opt(_) => all = true,
            Got::Word(v) => words.push(v.to_string_lossy().into_owned()),
        }
    }
    let (id, sig) = match words.as_slice() {
        [id] => (id.clone(), libc::SIGTERM),
        [id, s] => (id.clone(), crate::signal::parse(s)?),
        _ => return Err(Error::new("usage: kill [--all] ID [SIGNAL]")),
    };
    state::check_id(&id)?;
    let root = state::open_root(&g.root)?;
    let (entry, st) = find(&root, &id)?;
    if all {
        return crate::cgroup::signal_all(&st.cgroups, sig).map(|()| 0);
    }
    let pidfd = st
        .pidfd()
        .ok_or_else(|| Error::new("container not running"))?;
    if sig == libc::SIGKILL && !st.own_pid_ns {
        // Without a PID namespace the init's death ends nothing else (runc does this too);
        // the init is one of those killed.
        return crate::cgroup::signal_all(&st.cgroups, sig).map(|()| 0);
    }
    if sig == libc::SIGKILL && st.status(&entry) == Status::Paused {
        // Frozen, it could not die: thaw it after the signal.
        let _ = crate::sys::pidfd_signal(pidfd.as_fd(), sig);
        let _ = crate::cgroup::set_frozen(&st.cgroups, false);
    }
    crate::sys::pidfd_signal(pidfd.as_fd(), sig).map_err(|e| match e {
        Errno::SRCH => Error::new("container not running"),
        e => Error::sys("cannot signal the container", e),
    })?;
    Ok(0)
}

/// Wait (up to 10 s, in steps of 100 ms) for the init to be gone or a zombie.
fn wait_gone(st: &State) {
    for _ in 0..100 {
        if !st.init_alive() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[inline(never)]
fn delete_cmd(g: &Global, p: &mut lexopt::Parser) -> Result<u8> {
    let (mut force, mut id) = (false, None);
    while let Some(a) = next(p, &["force f"], &mut [])? {
        match a {
            Got::Opt(_) => force = true,
            Got::Word(v) if id.is_none() => id = Some(v.to_string_lossy().into_owned()),
            Got::Word(v) => return Err(stray(v)),
        }
    }
    let id = id.ok_or_else(|| Error::new("a container id is needed"))?;
    state::check_id(&id)?;
    let root = state::open_root(&g.root)?;
    let Some(entry) = state::open(&root, &id) else {
        return if force {
            Ok(0)
        } else {
            Err(state::not_found())
        };
    };
    let Some(st) = State::load(&entry) else {
        // Half made (a create killed early) or not crab-can's: only our files go.
        state::remove(entry);
        return if force {
            Ok(0)
        } else {
            Err(state::not_found())
        };
    };
    match st.status(&entry) {
        Status::Stopped => {}
        Status::Created => {
            if let Some(pidfd) = st.pidfd() {
                let _ = crate::sys::pidfd_signal(pidfd.as_fd(), libc::SIGKILL);
            }
            wait_gone(&st);
        }
        s if !force => {
            return Err(Error::msg(format_args!(
                "cannot delete container {id} that is not stopped: {}",
                s.word()
            )));
        }
        s => {
            if let Some(pidfd) = st.pidfd() {
                let _ = crate::sys::pidfd_signal(pidfd.as_fd(), libc::SIGKILL);
            }
            let _ = crate::cgroup::signal_all(&st.cgroups, libc::SIGKILL);
            if s == Status::Paused {
                let _ = crate::cgroup::set_frozen(&st.cgroups, false);
            }
            wait_gone(&st);
        }
    }
    let mut made: Vec<(String, u64)> = Vec::new();
    for (p, i) in &st.cgroups {
        match i {
            0 => crate::cgroup::remove_unconfirmed(p),
            _ => made.push((p.clone(), *i)),
        }
    }
    let removed = crate::cgroup::remove(&made);
    let hooks = saved_bundle(&entry, &st);
    state::remove(entry);
    if let Some((h, fd)) = hooks {
        let stopped = st.oci_json(Status::Stopped);
        if let Err(e) = hooks::run_all(&h.poststop, "poststop", &stopped, fd.as_fd()) {
            crate::error::warn(&e.to_string());
        }
    }
    removed.map(|()| 0)
}

#[inline(never)]
fn list(g: &Global, p: &mut lexopt::Parser) -> Result<u8> {
    let mut quiet = false;
    let mut format = [None];
    while let Some(a) = next(p, &["format f", "quiet q"], &mut format)? {
        match a {
            Got::Opt(_) => quiet = true,
            Got::Word(v) => return Err(stray(v)),
        }
    }
    let [format] = format;
    let json = format.as_deref() == Some("json");
    let root = state::open_root(&g.root)?;
    let mut out = String::new();
    if json {
        out.push('[');
    } else if !quiet {
        out += "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n";
    }
    let mut first = true;
    for id in state::list(&root) {
        let Some(entry) = state::open(&root, &id) else {
            continue;
        };
        let Some(st) = State::load(&entry) else {
            continue;
        };
        let status = st.status(&entry);
        if quiet {
            out += &id;
            out.push('\n');
        } else if json {
            if !first {
                out.push(',');
            }
            out += &st.oci_json(status);
        } else {
            let pid = if status == Status::Stopped { 0 } else { st.pid };
            out += &format!(
                "{id}\t{pid}\t{}\t{}\t{}\troot\n",
                status.word(),
                st.bundle,
                st.created
            );
        }
        first = false;
    }
    if json {
        out.push(']');
    }
    if !out.is_empty() {
        print(&out);
    }
    Ok(0)
}

#[inline(never)]
fn spec_cmd(p: &mut lexopt::Parser) -> Result<u8> {
    let mut rootless = false;
    let mut bundle = [None];
    while let Some(a) = next(p, &["bundle b", "rootless"], &mut bundle)? {
        match a {
            Got::Opt(_) => rootless = true,
            Got::Word(v) => return Err(stray(v)),
        }
    }
    let [bundle] = bundle;
    let bundle = bundle.unwrap_or_else(|| ".".to_string());
    let path = format!("{bundle}/config.json");
    use rustix::fs::{Mode, OFlags};
    let cannot = |e| {
        Error::msg(format_args!(
            "cannot write {path}: {}",
            crate::error::os_error(e)
        ))
    };
    // Created new (0666 before the umask), as std's `OpenOptions::create_new` did.
    let f = rustix::fs::openat(
        rustix::fs::CWD,
        path.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    )
    .map_err(cannot)?;
    crate::sys::write_all(f.as_fd(), spec::default_config(rootless).as_bytes()).map_err(cannot)?;
    Ok(0)
}
