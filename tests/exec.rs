//! Running containers (../shared/design/CONTRACT.md "Running containers",
//! ../shared/design/ROOTLESS-AND-EXEC.md part 2 and the table of 2.5): `crab-can exec`,
//! `ps` and `kill` against containers started with `crab-can run --name NAME IMG ...`.
//!
//! Every test starts its own containers in the background under names unique to this test
//! process (`common::name`), ends them (`kill -s KILL`, also when the test fails: the `Ctr`
//! guard) and checks that nothing is left: no live process in the container's PID
//! namespace, no cgroup directory `crab-can/NAME` in any hierarchy under /sys/fs/cgroup,
//! no `@crab-can/NAME` socket. What is checked comes from the kernel: the host's
//! `/proc/PID/{status,ns,cgroup,environ}` of the run's command against what the exec'd
//! command reads inside, `cgroup.procs` and `pids.current`, `/proc/net/unix`, exit statuses.
//!
//! - privileges of an exec'd command: capabilities, no_new_privs, seccomp, user, as the
//!   run's command (LXD #1370, firejail #2296);
//! - the cgroup: an exec'd process is in every cgroup of the container (moby #10046), a full
//!   `--pids` refuses an exec with 125;
//! - namespaces: the run command's six, a small pid (youki #185), the client outside;
//! - fds 0-2 only, working directory, `-e`, `-u`, the run's environment, a terminal of the
//!   container's own;
//! - exit statuses; `kill` and its signals; a container stopped under an exec;
//! - `ps` (table and JSON);
//! - the name socket: a squatter's name is refused, another user gets nothing from root's;
//! - 20 execs at once, execs racing the container's end;
//! - a detached exec's process is reaped by the container's init (design 2.3 step 6).
//!
//! Other test binaries may run containers at the same time: every assertion about `ps` or
//! about processes is about this test's own names and PID namespaces only.
mod common;

use common::bundle::Json;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// ---- a running container -----------------------------------------------------------------

/// `/proc/net/unix` lists `@crab-can/NAME` as a listening SEQPACKET socket (Type 0005,
/// Flags with __SO_ACCEPTCON) of the host's network namespace.
fn name_listening(n: &str) -> bool {
    let want = format!("@crab-can/{n}");
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 8 && f[7] == want && f[4] == "0005" && f[3] == "00010000"
        })
}

/// Any socket of the host's network namespace at `@crab-can/NAME`.
fn name_bound(n: &str) -> bool {
    let want = format!("@crab-can/{n}");
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(7) == Some(want.as_str()))
}

/// Every place a cgroup directory of container `n` can be: `CG/crab-can/n` (v2) and
/// `CG/<hierarchy>/crab-can/n` for every entry of /sys/fs/cgroup (hybrid, v1).
fn cgroup_dirs_of(n: &str) -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from(format!("{CG}/crab-can/{n}"))];
    if let Ok(rd) = std::fs::read_dir(CG) {
        for e in rd.flatten() {
            v.push(e.path().join("crab-can").join(n));
        }
    }
    v.into_iter().filter(|p| p.exists()).collect()
}

fn ns_link(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Host processes (not zombies) whose PID namespace is `pidns` (`pid:[N]`).
fn live_in_pidns(pidns: &str) -> Vec<i32> {
    procs()
        .into_iter()
        .filter(|p| p.state != 'Z' && p.state != 'X' && ns_link(p.pid, "pid") == pidns)
        .map(|p| p.pid)
        .collect()
}

/// `/proc/PID/status` as a map of its fields.
fn status_fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// A container started by `crab-can run --name NAME OPTS IMG ARGV...` in the background.
/// Dropping it stops it (`crab-can kill -s KILL NAME`, then SIGKILL of the run).
struct Ctr {
    name: String,
    bg: Option<Bg>,
    /// The init (the run's child) and the command (the init's child), host pids.
    init: i32,
    cmd: i32,
    /// The container's PID namespace, `pid:[N]`.
    pidns: String,
}

impl Ctr {
    /// Start it in the shared image and wait until its command runs and its name listens.
    #[track_caller]
    fn start(tag: &str, opts: &[&str], argv: &[&str]) -> Ctr {
        Ctr::start_in(image(), tag, opts, argv)
    }

    #[track_caller]
    fn start_in(img: &Path, tag: &str, opts: &[&str], argv: &[&str]) -> Ctr {
        let n = name(tag);
        let mut o = vec!["--name", n.as_str()];
        o.extend_from_slice(opts);
        let mut bg = Bg::spawn(&run_args(img, &o, argv));
        let cmd = bg.wait_desc(argv);
        let init = bg.init_pid();
        assert!(
            wait_for(10, || name_listening(&n)),
            "@crab-can/{n} is not a listening SEQPACKET socket 10 s after the start"
        );
        let pidns = ns_link(init, "pid");
        assert_ne!(pidns, ns_link(std::process::id() as i32, "pid"));
        Ctr {
            name: n,
            bg: Some(bg),
            init,
            cmd,
            pidns,
        }
    }

    fn n(&self) -> &str {
        &self.name
    }

    /// `crab-can exec PRE... NAME CMD...`.
    fn exec(&self, pre: &[&str], cmd: &[&str]) -> Run {
        crab(&self.exec_args(pre, cmd))
    }

    /// `crab-can exec -d PRE... NAME CMD...`: stdout to /dev/null and stderr to a file (the
    /// detached command keeps the caller's fds 0-2, so pipes would stay open after the
    /// client's exit); the file's text is the Run's stderr.
    fn exec_detached(&self, pre: &[&str], cmd: &[&str]) -> Run {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static K: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "crab-can-exec-d-{}-{}",
            std::process::id(),
            K.fetch_add(1, Ordering::Relaxed)
        ));
        let f = std::fs::File::create(&path).unwrap();
        let mut a = vec!["-d"];
        a.extend_from_slice(pre);
        let mut r = crab_cmd(&self.exec_args(&a, cmd), |c| {
            c.stdout(std::process::Stdio::null()).stderr(f);
        });
        r.stderr = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        r
    }

    fn exec_args<'a>(&'a self, pre: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["exec"];
        a.extend_from_slice(pre);
        a.push(&self.name);
        a.extend_from_slice(cmd);
        a
    }

    /// Live host processes in the container whose command line is `argv`.
    fn find(&self, argv: &[&str]) -> Vec<i32> {
        let want = argv_bytes(argv);
        live_in_pidns(&self.pidns)
            .into_iter()
            .filter(|p| cmdline(*p) == want)
            .collect()
    }

    /// Wait (10 s) for exactly one such process: its host pid.
    #[track_caller]
    fn wait_find(&self, argv: &[&str]) -> i32 {
        let mut found = Vec::new();
        wait_for(10, || {
            found = self.find(argv);
            !found.is_empty()
        });
        assert_eq!(found.len(), 1, "{argv:?} in container {}", self.name);
        found[0]
    }

    fn running(&mut self) -> bool {
        self.bg.as_mut().is_some_and(|b| b.running())
    }

    /// Wait (up to `secs`) for the run to end: its outcome.
    #[track_caller]
    fn wait_end(&mut self, secs: u64) -> Run {
        let bg = self.bg.take().expect("the run was already collected");
        bg.wait_within(secs)
    }

    /// `crab-can kill -s KILL NAME` (if it still runs), the run's outcome, and nothing left.
    #[track_caller]
    fn finish(mut self) -> Run {
        if self.running() {
            let k = crab(&["kill", "-s", "KILL", &self.name]);
            assert_eq!(k.exit_code(), 0, "kill -s KILL {}: {}", self.name, show(&k));
        }
        let r = self.wait_end(10);
        self.assert_nothing_left();
        r
    }

    /// After the run ended: no live process in its PID namespace (init, command, exec'd
    /// ones), no cgroup directory, no name socket.
    #[track_caller]
    fn assert_nothing_left(&self) {
        let mut left = Vec::new();
        let gone = wait_for(5, || {
            left = live_in_pidns(&self.pidns);
            left.is_empty()
        });
        assert!(
            gone,
            "processes of container {} alive 5 s after its run ended: {left:?}",
            self.name
        );
        assert!(!alive(self.init) && !alive(self.cmd));
        let mut dirs = Vec::new();
        let gone = wait_for(2, || {
            dirs = cgroup_dirs_of(&self.name);
            dirs.is_empty()
        });
        assert!(
            gone,
            "cgroup directories of {} left after its run: {dirs:?}",
            self.name
        );
        assert!(
            !name_bound(&self.name),
            "@crab-can/{} still bound after its run",
            self.name
        );
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        if let Some(mut bg) = self.bg.take() {
            if bg.running() {
                let _ = crab(&["kill", "-s", "KILL", &self.name]);
                let _ = bg.try_wait_within(10);
            }
            // Bg's own drop: SIGKILL of the run if it still runs.
        }
    }
}

// ---- 1. privileges -----------------------------------------------------------------------

/// Capability numbers (linux/capability.h).
const CAP_CHOWN: u32 = 0;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_PTRACE: u32 = 19;

/// The fields of /proc/PID/status an exec'd command must share with the run's command.
const PRIV_FIELDS: [&str; 11] = [
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Seccomp",
    "Seccomp_filters",
    "Uid",
    "Gid",
    "Groups",
];

/// The exec'd `cat /proc/self/status` and the run command's, seen from the host.
fn exec_and_cmd_status(
    c: &Ctr,
    pre: &[&str],
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let r = c.exec(pre, &["cat", "/proc/self/status"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let inside = status_fields(&r.stdout);
    let host = status_fields(&std::fs::read_to_string(format!("/proc/{}/status", c.cmd)).unwrap());
    (inside, host)
}

// Contract: exec runs "with the same capabilities, no_new_privs, seccomp filter and user as
// the container's command unless -u, -e, -w say otherwise" (design 2.5: LXD #1370, an
// exec with the full bounding set; firejail #2296, a join without the seccomp filter).
#[test]
fn exec_has_the_run_commands_privileges() {
    let cases: [(&str, &[&str]); 3] = [
        ("privd", &[]),
        ("privc", &["--cap-drop", "CHOWN", "--cap-add", "SYS_PTRACE"]),
        (
            "privu",
            &[
                "-u",
                "1000:1000",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "NET_RAW",
                "--seccomp",
                "unconfined",
            ],
        ),
    ];
    for (tag, opts) in cases {
        let c = Ctr::start(tag, opts, &["sleep", "1000"]);
        let (inside, host) = exec_and_cmd_status(&c, &[]);
        for f in PRIV_FIELDS {
            assert_eq!(
                inside.get(f),
                host.get(f),
                "{f} of exec'd cat vs the run's command (run {opts:?})"
            );
        }
        if opts.is_empty() {
            // And they are the contract's: Docker's default set, no_new_privs, a filter.
            assert_eq!(inside["CapEff"], cap_hex(DEFAULT_CAPS));
            assert_eq!(inside["CapBnd"], cap_hex(DEFAULT_CAPS));
            assert_eq!(inside["NoNewPrivs"], "1");
            assert_eq!(inside["Seccomp"], "2");
            // `-u nobody` as for a run as nobody: no capabilities, the same bounds.
            let (nobody, _) = exec_and_cmd_status(&c, &["-u", "nobody"]);
            assert_eq!(nobody["Uid"].split_whitespace().next(), Some("65534"));
            assert_eq!(nobody["CapEff"], cap_hex(0));
            assert_eq!(nobody["CapPrm"], cap_hex(0));
            assert_eq!(nobody["CapBnd"], cap_hex(DEFAULT_CAPS));
            assert_eq!(nobody["NoNewPrivs"], "1");
            assert_eq!(nobody["Seccomp"], "2");
        }
        if tag == "privc" {
            let want = (DEFAULT_CAPS | 1 << CAP_SYS_PTRACE) & !(1 << CAP_CHOWN);
            assert_eq!(inside["CapEff"], cap_hex(want));
        }
        if tag == "privu" {
            assert_eq!(inside["Uid"].split_whitespace().next(), Some("1000"));
            assert_eq!(inside["CapEff"], cap_hex(0));
            assert_eq!(inside["CapBnd"], cap_hex(1 << CAP_NET_RAW));
            assert_eq!(inside["Seccomp"], "0");
        }
        c.finish();
    }
}

// ---- 2. the cgroup -----------------------------------------------------------------------

/// The directories the container's limits live in, as `(hierarchy, dir)`: the v2 one, or
/// on a hybrid host `unified` (tracking) and the v1 memory and pids hierarchies. None (and
/// a skip) when the host has no cgroup filesystem.
fn limited_dirs(test: &str, n: &str) -> Option<Vec<PathBuf>> {
    match cgroup_layout() {
        CgroupLayout::V2 => Some(vec![PathBuf::from(format!("{CG}/crab-can/{n}"))]),
        CgroupLayout::Hybrid { unified } => {
            let mut v = Vec::new();
            if unified {
                v.push(PathBuf::from(format!("{CG}/unified/crab-can/{n}")));
            }
            for c in ["memory", "pids"] {
                if !v1_mounted(c) {
                    skip(test, &format!("no v1 {c} hierarchy"));
                    return None;
                }
                v.push(PathBuf::from(format!("{CG}/{c}/crab-can/{n}")));
            }
            Some(v)
        }
        CgroupLayout::None => {
            skip(test, "no cgroup filesystem");
            None
        }
    }
}

fn procs_of(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_else(|e| panic!("{}/cgroup.procs: {e}", dir.display()))
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

// Contract: exec runs the command "in all of its namespaces and its cgroup (counted against
// its limits)"; design 2.3 step 4: in the cgroup before it runs a line of its own (moby
// #10046: docker exec joined the cgroup late).
#[test]
fn exec_is_in_the_containers_cgroups() {
    let c = Ctr::start(
        "cg",
        &["--memory", "32m", "--pids", "8"],
        &["sleep", "1000"],
    );
    let Some(dirs) = limited_dirs(test_name!(), c.n()) else {
        return;
    };
    let r = c.exec_detached(&[], &["sleep", "1001"]);
    assert_eq!(r.exit_code(), 0, "exec -d: {}", show(&r));
    let p = c.wait_find(&["sleep", "1001"]);
    for d in &dirs {
        let procs = procs_of(d);
        assert!(
            procs.contains(&c.cmd),
            "{}: the run's command not in {procs:?}",
            d.display()
        );
        assert!(
            procs.contains(&p),
            "{}: exec'd sleep {p} not in the container's cgroup.procs {procs:?}",
            d.display()
        );
    }
    // Every hierarchy alike, limited or not: the host's view of its cgroups is the
    // command's.
    let cg = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(
        cg(p),
        cg(c.cmd),
        "/proc/PID/cgroup of the exec'd vs the run's command"
    );
    // Seen from inside, from its first instruction on (`cat` reads its own file at once):
    // the root of the container's cgroup namespace in every hierarchy.
    let r = c.exec(&[], &["cat", "/proc/self/cgroup"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    for l in r.stdout.lines() {
        assert!(
            l.ends_with(":/"),
            "exec'd cat outside the container's cgroup: {l:?}"
        );
    }
    // On v1 hierarchies the exec client moves itself in to fork (the kernel checks `--pids`
    // at a fork inside the cgroup, never at a move), then out to the container cgroup's
    // parent; on v2 the exec'd process is born inside (CLONE_INTO_CGROUP) and the client
    // stays where it was. Either way it is not counted while it waits.
    let mut bg = Bg::spawn(&c.exec_args(&[], &["sleep", "1004"]));
    let inner = c.wait_find(&["sleep", "1004"]);
    assert!(bg.running());
    for d in &dirs {
        let procs = procs_of(d);
        assert!(procs.contains(&inner));
        assert!(
            !procs.contains(&bg.pid()),
            "the exec client is in {}",
            d.display()
        );
        if fs_magic(&d.to_string_lossy()) == Some(CGROUP1_MAGIC) {
            let up = procs_of(d.parent().unwrap());
            assert!(
                up.contains(&bg.pid()),
                "the exec client not in {}/..",
                d.display()
            );
        }
    }
    c.finish();
    let r = bg.wait_within(10);
    assert_eq!(
        r.exit_code(),
        137,
        "exec of a stopped container: {}",
        show(&r)
    );
}

fn read_num(p: &Path) -> Option<i64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

// Design 2.3 step 4 and 2.5: an exec into a container whose `--pids` limit is reached fails
// with 125: `crab-can: cannot start in container NAME: its --pids limit (N) is reached`;
// the limit holds (an exec must not carry the container past it).
#[test]
fn exec_refused_when_the_pids_limit_is_full() {
    let c = Ctr::start(
        "pidsfull",
        &["--memory", "32m", "--pids", "8"],
        &["sleep", "1000"],
    );
    let Some(_) = limited_dirs(test_name!(), c.n()) else {
        return;
    };
    let pids_dir = match cgroup_layout() {
        CgroupLayout::V2 => PathBuf::from(format!("{CG}/crab-can/{}", c.n())),
        _ => PathBuf::from(format!("{CG}/pids/crab-can/{}", c.n())),
    };
    assert_eq!(
        std::fs::read_to_string(pids_dir.join("pids.max"))
            .unwrap()
            .trim(),
        "8"
    );
    let before = read_num(&pids_dir.join("pids.current")).unwrap();
    assert_eq!(before, 2, "init and sleep");
    let mut ok = 0;
    let mut refused = None;
    for _ in 0..12 {
        let r = c.exec_detached(&[], &["sleep", "1002"]);
        match r.exit_code() {
            0 => ok += 1,
            _ => {
                refused = Some(r);
                break;
            }
        }
    }
    let current = read_num(&pids_dir.join("pids.current")).unwrap();
    let running = c.find(&["sleep", "1002"]);
    assert!(
        current <= 8,
        "pids.current {current} past pids.max 8 after {ok} execs ({} exec'd sleeps running)",
        running.len()
    );
    let r = refused.unwrap_or_else(|| {
        panic!(
            "12 execs into a container with --pids 8 (2 tasks before) all succeeded: \
             pids.current {current}, {} exec'd sleeps running",
            running.len()
        )
    });
    assert_error(&r, 125, "--pids limit");
    assert!(r.stderr.contains(c.n()), "{}", r.stderr);
    assert!(r.stderr.contains("(8)"), "{}", r.stderr);
    // 6 free slots; while an exec starts, its client (which forks inside on v1) and the
    // short-lived starter of a detached process take two more for a moment.
    assert!(
        (4..=6).contains(&ok),
        "{ok} execs succeeded before the limit, {} running",
        running.len()
    );
    // The refusal was the limit's: with one slot free again, an exec runs.
    assert!(kill(running[0], libc::SIGKILL));
    assert!(
        wait_for(10, || read_num(&pids_dir.join("pids.current")).unwrap()
            < current),
        "pids.current still {current} 10 s after one exec'd sleep was killed"
    );
    let r = c.exec(&[], &["true"]);
    assert_eq!(r.exit_code(), 0, "exec with a free slot: {}", show(&r));
    c.finish();
}

// ---- 3. namespaces -----------------------------------------------------------------------

// Contract: exec runs "in all of its namespaces"; design 2.2: setns on the init's pidfd,
// fork after (youki #185: the exec'd process outside the pid namespace), the client stays
// outside.
#[test]
fn exec_joins_the_containers_namespaces() {
    let c = Ctr::start("ns", &[], &["sleep", "1000"]);
    let kinds = ["pid", "net", "mnt", "uts", "ipc", "cgroup", "user", "time"];
    let r = c.exec(
        &[],
        &[
            "sh",
            "-c",
            "for k in pid net mnt uts ipc cgroup user time; do readlink /proc/self/ns/$k; done",
        ],
    );
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let inside: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(inside.len(), kinds.len(), "{:?}", r.stdout);
    let me = std::process::id() as i32;
    for (k, got) in kinds.iter().zip(&inside) {
        assert_eq!(
            *got,
            ns_link(c.cmd, k),
            "{k} namespace of exec vs the run's command"
        );
        if ["pid", "net", "mnt", "uts", "ipc", "cgroup"].contains(k) {
            assert_ne!(*got, ns_link(me, k), "{k} namespace is the host's");
        }
    }
    // A pid of the container's namespace: small, not the init's, not the command's.
    let r = c.exec(&[], &["sh", "-c", "echo $$"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let pid: i32 = r
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{:?}", r.stdout));
    assert!(
        (3..100).contains(&pid),
        "sh's pid inside the container: {pid}"
    );
    // Its hostname and files are the container's.
    let r = c.exec(&[], &["hostname"]);
    assert_eq!(r.stdout.trim(), c.n());
    let r = c.exec(&[], &["cat", "/etc/passwd"]);
    assert_eq!(
        r.stdout,
        std::fs::read_to_string(image().join("etc/passwd")).unwrap()
    );
    // The client stays in the host's PID namespace (setns of a PID namespace moves only
    // the children): only its child is inside, with a pid of the container's.
    let mut bg = Bg::spawn(&c.exec_args(&[], &["sleep", "1005"]));
    let inner = c.wait_find(&["sleep", "1005"]);
    assert!(bg.running());
    assert_eq!(
        ns_link(bg.pid(), "pid"),
        ns_link(me, "pid"),
        "the exec client joined"
    );
    let nspid = std::fs::read_to_string(format!("/proc/{inner}/status")).unwrap();
    let nspid = status_fields(&nspid)["NSpid"].clone();
    let levels: Vec<i32> = nspid
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(levels.len(), 2, "NSpid {nspid}");
    assert!(levels[1] < 100, "NSpid {nspid}");
    c.finish();
    let r = bg.wait_within(10);
    assert_eq!(r.exit_code(), 137, "{}", show(&r));
}

// ---- 4. fds, working directory, environment, user, terminal ----------------------------

fn env_set(text: &str) -> BTreeSet<String> {
    text.split(['\n', '\0'])
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

// Contract: exec runs with "only fds 0-2", and the run's user, environment and working
// directory unless -u, -e, -w say otherwise (design 2.5: `ls /proc/self/fd`; `pwd`;
// `-w /etc pwd`).
#[test]
fn exec_fds_workdir_env_user() {
    let c = Ctr::start("fds", &[], &["sleep", "1000"]);
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/etc/hostname").unwrap();
    let fd = f.as_raw_fd();
    let r = crab_cmd(
        &c.exec_args(&[], &["sh", "-c", "echo $(ls /proc/self/fd)"]),
        |cmd| leak_fd(cmd, fd),
    );
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    // ls's own fd 3 is the /proc/self/fd directory it reads.
    assert_eq!(r.stdout, "0 1 2 3\n", "fds leaked into the exec'd command");
    drop(f);

    let out = |pre: &[&str], cmd: &[&str]| {
        let r = c.exec(pre, cmd);
        assert_eq!(r.exit_code(), 0, "exec {pre:?} {cmd:?}: {}", show(&r));
        r.stdout
    };
    assert_eq!(out(&[], &["pwd"]), "/\n");
    assert_eq!(out(&["-w", "/etc"], &["pwd"]), "/etc\n");
    assert_eq!(out(&["--workdir=/tmp"], &["pwd"]), "/tmp\n");
    assert_eq!(out(&["-e", "FOO=bar"], &["sh", "-c", "echo $FOO"]), "bar\n");
    assert_eq!(out(&["-u", "nobody"], &["id", "-u"]), "65534\n");
    assert_eq!(
        out(&["-u", "1234:5678"], &["sh", "-c", "id -u; id -g; id -G"]),
        "1234\n5678\n5678\n"
    );
    assert_eq!(out(&["-u", "0"], &["id", "-u"]), "0\n");
    // The run's environment, exactly (busybox env adds nothing of its own).
    let run_env = env_set(&String::from_utf8_lossy(
        &std::fs::read(format!("/proc/{}/environ", c.cmd)).unwrap(),
    ));
    assert!(
        run_env.contains(&format!("HOSTNAME={}", c.n())),
        "{run_env:?}"
    );
    assert_eq!(
        env_set(&out(&[], &["env"])),
        run_env,
        "exec'd env vs the run's"
    );
    // -e adds to it and replaces a name, once.
    let mut want = run_env.clone();
    want.retain(|v| !v.starts_with("HOSTNAME="));
    want.insert("HOSTNAME=other".into());
    want.insert("FOO=bar".into());
    let got = out(&["-e", "FOO=bar", "-e", "HOSTNAME=other"], &["env"]);
    assert_eq!(env_set(&got), want);
    assert_eq!(got.matches("HOSTNAME=").count(), 1, "{got}");
    // No terminal when stdin and stdout are not terminals.
    let r = c.exec(&[], &["tty"]);
    assert_eq!(r.code, 1, "{}", show(&r));
    assert_eq!(r.stdout.trim(), "not a tty");
    c.finish();

    // A run with its own -w, -u, -e: the exec inherits them.
    let c = Ctr::start(
        "fdsw",
        &["-w", "/tmp", "-u", "nobody", "-e", "RUNVAR=1"],
        &["sleep", "1000"],
    );
    let out = |pre: &[&str], cmd: &[&str]| {
        let r = c.exec(pre, cmd);
        assert_eq!(r.exit_code(), 0, "exec {pre:?} {cmd:?}: {}", show(&r));
        r.stdout
    };
    assert_eq!(out(&[], &["pwd"]), "/tmp\n");
    assert_eq!(out(&[], &["id", "-u"]), "65534\n");
    assert_eq!(out(&["-u", "root"], &["id", "-u"]), "0\n");
    assert_eq!(out(&["-w", "/"], &["pwd"]), "/\n");
    let env = out(&[], &["env"]);
    assert!(env.lines().any(|l| l == "RUNVAR=1"), "{env}");
    let env = out(&["-e", "RUNVAR=2"], &["env"]);
    let runvar: Vec<&str> = env.lines().filter(|l| l.starts_with("RUNVAR=")).collect();
    assert_eq!(runvar, ["RUNVAR=2"]);
    c.finish();
}

// Contract: "a pseudo-terminal of the container's own on a terminal (as for run, --no-tty
// to refuse one)": under `script` (stdin and stdout a terminal), the exec'd command's
// terminal is a node of the container's devpts instance, not the host's.
#[test]
fn exec_gets_a_terminal_of_the_containers_own() {
    if Command::new("script").arg("--version").output().is_err() {
        skip(test_name!(), "no script(1) on this host");
        return;
    }
    let c = Ctr::start("tty", &[], &["sleep", "1000"]);
    let under_script = |pre: &str| {
        let line = format!(
            "{} exec {pre} {} sh -c 'echo T=$(tty) D=$(stat -L -c %d /proc/self/fd/0) P=$(stat -c %d /dev/pts)'",
            bin().display(),
            c.n()
        );
        let r = run_command(command_for("script", &["-qec", &line, "/dev/null"]));
        assert_eq!(r.exit_code(), 0, "{}", show(&r));
        r.stdout
            .lines()
            .find_map(|l| l.find("T=").map(|i| l[i..].trim().to_string()))
            .unwrap_or_else(|| panic!("no T= line: {:?}", r.stdout))
    };
    let l = under_script("");
    let f: BTreeMap<&str, &str> = l.split(' ').filter_map(|w| w.split_once('=')).collect();
    assert!(f["T"].starts_with("/dev/pts/"), "{l}");
    assert_eq!(
        f["D"], f["P"],
        "the terminal is not of the container's devpts: {l}"
    );
    use std::os::unix::fs::MetadataExt;
    let host_pts = std::fs::metadata("/dev/pts").unwrap().dev().to_string();
    assert_ne!(
        f["D"], host_pts,
        "the terminal is on the host's devpts: {l}"
    );
    let l = under_script("--no-tty");
    assert!(l.starts_with("T=not a tty"), "--no-tty: {l}");
    c.finish();
}

// ---- 5. exit statuses --------------------------------------------------------------------

// Contract: exec's "exit status follows the table below; an unknown NAME is 125 with one
// line" (design 2.5: `false`; `nosuch`; `exec nosuch true`).
#[test]
fn exec_exit_statuses() {
    let mut c = Ctr::start("codes", &[], &["sleep", "1000"]);
    let code = |cmd: &[&str]| {
        let r = c.exec(&[], cmd);
        (r.exit_code(), r)
    };
    let (k, r) = code(&["true"]);
    assert_eq!(k, 0, "{}", show(&r));
    assert_eq!(r.stderr, "");
    assert_eq!(code(&["false"]).0, 1);
    let (k, r) = code(&["sh", "-c", "exit 42"]);
    assert_eq!(k, 42, "{}", show(&r));
    assert!(!r.stderr.contains("crab-can"), "{}", r.stderr);
    let (k, r) = code(&["sh", "-c", "kill -9 $$"]);
    assert_eq!(k, 137, "{}", show(&r));
    let (k, r) = code(&["sh", "-c", "kill -TERM $$"]);
    assert_eq!(k, 143, "{}", show(&r));
    let (_, r) = code(&["nosuch"]);
    assert_error(&r, 127, "nosuch");
    let (_, r) = code(&["/etc/passwd"]);
    assert_error(&r, 126, "/etc/passwd");
    let (_, r) = code(&["/etc"]);
    assert_error(&r, 126, "/etc");
    let unknown = name("nosuchname");
    let r = crab(&["exec", &unknown, "true"]);
    assert_error(&r, 125, &format!("no container named {unknown}"));
    let r = crab(&["exec", c.n()]);
    assert_eq!(r.exit_code(), 125, "exec without a command: {}", show(&r));
    // None of it disturbed the container.
    assert!(c.running());
    assert!(alive(c.cmd));
    let left = live_in_pidns(&c.pidns);
    assert_eq!(
        left.len(),
        2,
        "init and sleep only, no exec'd leftovers: {left:?}"
    );
    c.finish();
}

// ---- 6. kill -----------------------------------------------------------------------------

// Contract: "kill sends a signal (default TERM; a name or a number) to NAME's command, as a
// signal to crab-can run would" (design 2.5: `kill t1` 143, `kill t1 KILL` 137).
#[test]
fn kill_signals_and_exit_statuses() {
    for (tag, sig, want) in [
        ("killd", None, 143),
        ("killk", Some("KILL"), 137),
        ("kill9", Some("9"), 137),
        ("killsig", Some("SIGKILL"), 137),
        ("kill15", Some("15"), 143),
        ("killint", Some("INT"), 130),
    ] {
        let mut c = Ctr::start(tag, &[], &["sleep", "1000"]);
        let n = c.n().to_string();
        let mut a = vec!["kill"];
        if let Some(s) = sig {
            a.extend(["-s", s]);
        }
        a.push(&n);
        let k = crab(&a);
        assert_eq!(k.exit_code(), 0, "{a:?}: {}", show(&k));
        let r = c.wait_end(10);
        assert_eq!(r.exit_code(), want, "run after {a:?}: {}", show(&r));
        c.assert_nothing_left();
    }
    // The signal reaches the command's handler (it is passed on, not a kill of the init).
    let mut c = Ctr::start(
        "killhup",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo got-hup; exit 7' HUP; while :; do sleep 0.1; done",
        ],
    );
    let k = crab(&["kill", "-s", "HUP", c.n()]);
    assert_eq!(k.exit_code(), 0, "{}", show(&k));
    let r = c.wait_end(10);
    assert_eq!(r.exit_code(), 7, "{}", show(&r));
    assert_eq!(r.stdout, "got-hup\n");
    c.assert_nothing_left();
    // Errors.
    let unknown = name("nosuchkill");
    assert_error(
        &crab(&["kill", &unknown]),
        125,
        &format!("no container named {unknown}"),
    );
    let c = Ctr::start("killbad", &[], &["sleep", "1000"]);
    let r = crab(&["kill", "-s", "NOSUCHSIG", c.n()]);
    assert_error(&r, 125, "NOSUCHSIG");
    assert!(alive(c.cmd), "a bad signal name stopped the container");
    c.finish();
}

// Design 2.3 step 6 and 2.5: "stop t1 during an exec": the exec exits 137, nothing left.
#[test]
fn stopping_the_container_ends_a_running_exec() {
    let c = Ctr::start("stop", &["--pids", "20"], &["sleep", "1000"]);
    let mut bg = Bg::spawn(&c.exec_args(&[], &["sleep", "1003"]));
    let inner = c.wait_find(&["sleep", "1003"]);
    assert!(bg.running());
    let t = Instant::now();
    let r = c.finish();
    assert_eq!(r.exit_code(), 137, "run: {}", show(&r));
    let e = bg
        .try_wait_within(10)
        .unwrap_or_else(|| panic!("exec still running 10 s after its container was killed"));
    assert_eq!(e.exit_code(), 137, "exec: {}", show(&e));
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(!alive(inner));
}

// ---- 7. ps -------------------------------------------------------------------------------

const PS_HEADER: &str = "NAME\tPID\tUPTIME\tIMAGE\tCOMMAND\tLIMITS";

/// The `ps` table row of container `n`, split at tabs.
fn ps_row(table: &str, n: &str) -> Option<Vec<String>> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some(n))
}

fn ps_json_entry(text: &str, n: &str) -> Option<Json> {
    let j = Json::parse(text).unwrap_or_else(|e| panic!("ps --format json: {e}: {text}"));
    let a = j.arr().unwrap_or_else(|| panic!("not an array: {text}"));
    a.iter()
        .find(|o| o.get("name").and_then(Json::str) == Some(n))
        .cloned()
}

// Contract: "ps lists the running containers (name, init pid, uptime, IMAGE, command,
// limits)".
#[test]
fn ps_lists_running_containers() {
    let a = Ctr::start(
        "psa",
        &["--memory", "32m", "--pids", "20"],
        &["sleep", "1000"],
    );
    let b = Ctr::start("psb", &[], &["sleep", "1000"]);
    std::thread::sleep(Duration::from_millis(1100));
    let r = crab(&["ps"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(r.stdout.lines().next(), Some(PS_HEADER), "{:?}", r.stdout);
    let rj = crab(&["ps", "--format", "json"]);
    assert_eq!(rj.exit_code(), 0, "{}", show(&rj));
    let rt = crab(&["ps", "--format", "table"]);
    assert_eq!(rt.exit_code(), 0, "{}", show(&rt));
    assert_eq!(rt.stdout.lines().next(), Some(PS_HEADER));
    for (c, limits) in [(&a, "memory=32MiB pids=20"), (&b, "-")] {
        let row =
            ps_row(&r.stdout, c.n()).unwrap_or_else(|| panic!("{} not in ps: {}", c.n(), r.stdout));
        assert_eq!(row.len(), 6, "{row:?}");
        assert_eq!(
            row[1],
            c.init.to_string(),
            "PID: the run's child on the host"
        );
        assert!(
            row[2].starts_with(|ch: char| ch.is_ascii_digit()),
            "UPTIME {row:?}"
        );
        assert_ne!(row[2], "0s", "UPTIME after 1.1 s: {row:?}");
        assert_eq!(row[3], img(), "IMAGE");
        assert_eq!(row[4], "sleep 1000", "COMMAND");
        assert_eq!(row[5], limits, "LIMITS");
        assert!(ps_row(&rt.stdout, c.n()).is_some(), "--format table");

        let o = ps_json_entry(&rj.stdout, c.n())
            .unwrap_or_else(|| panic!("{} not in ps --format json: {}", c.n(), rj.stdout));
        assert_eq!(
            o.keys(),
            ["name", "pid", "uptime", "image", "command", "limits"]
        );
        assert_eq!(o.get("pid").and_then(Json::int), Some(c.init as i64));
        let up = o.get("uptime").and_then(Json::int).unwrap();
        assert!((1..60).contains(&up), "uptime {up}");
        assert_eq!(o.get("image").and_then(Json::str), Some(img()));
        assert_eq!(o.get("command").and_then(Json::str), Some("sleep 1000"));
        assert_eq!(o.get("limits").and_then(Json::str), Some(limits));
    }
    let (na, nb) = (a.n().to_string(), b.n().to_string());
    a.finish();
    let r = crab(&["ps"]);
    assert!(
        ps_row(&r.stdout, &na).is_none(),
        "{na} listed after its end: {}",
        r.stdout
    );
    assert!(
        ps_row(&r.stdout, &nb).is_some(),
        "{nb} no longer listed: {}",
        r.stdout
    );
    b.finish();
    let r = crab(&["ps"]);
    assert_eq!(r.exit_code(), 0);
    assert!(
        ps_row(&r.stdout, &nb).is_none(),
        "{nb} listed after its end: {}",
        r.stdout
    );
    let rj = crab(&["ps", "--format", "json"]);
    assert!(ps_json_entry(&rj.stdout, &na).is_none() && ps_json_entry(&rj.stdout, &nb).is_none());
}

// `ps` with no container: only the header, JSON `[]`. Names live in the host's network
// namespace, which crab-can finds as PID 1's: in a new PID and network namespace (with its
// own /proc) it is a new one, with no name in it whatever else runs in parallel.
#[test]
fn ps_without_containers() {
    let r = run_command(command_for(
        "unshare",
        &[
            "-n",
            "-p",
            "-f",
            "--mount-proc",
            bin().to_str().unwrap(),
            "ps",
        ],
    ));
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(r.stdout, format!("{PS_HEADER}\n"));
    assert_eq!(r.stderr, "");
    let r = run_command(command_for(
        "unshare",
        &[
            "-n",
            "-p",
            "-f",
            "--mount-proc",
            bin().to_str().unwrap(),
            "ps",
            "--format",
            "json",
        ],
    ));
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(r.stdout.trim(), "[]");
    assert_error(&crab(&["ps", "--format", "yaml"]), 125, "yaml");
}

// ---- 8. the name socket ------------------------------------------------------------------

const USER: &str = "crabexec";

/// An unprivileged user of the host: (uid, gid), made with useradd if missing.
fn unprivileged() -> (u32, u32) {
    static U: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *U.get_or_init(|| {
        let id = |flag: &str| {
            let o = Command::new("id").args([flag, USER]).output().ok()?;
            o.status
                .success()
                .then(|| String::from_utf8_lossy(&o.stdout).trim().parse().ok())?
        };
        if id("-u").is_none() {
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    USER,
                ])
                .status();
        }
        let (u, g) = (id("-u"), id("-g"));
        (
            u.unwrap_or_else(|| panic!("cannot make the user {USER}")),
            g.unwrap(),
        )
    })
}

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// `program ARGS` as the unprivileged user (no supplementary groups).
fn as_user(program: &str, args: &[&str]) -> Command {
    let (u, g) = unprivileged();
    let mut c = command_for(program, args);
    c.uid(u).gid(g).current_dir("/");
    c
}

// Design 2.1: abstract sockets have no permissions; the client checks the listener's
// SO_PEERCRED: a name another user bound first is refused, `crab-can: @crab-can/NAME is
// held by uid N, not by crab-can` (125), so root never talks to a squatter.
#[test]
fn squatted_name_is_refused() {
    let Some(py) = python() else {
        skip(test_name!(), "no python3 on this host");
        return;
    };
    let (uid, _) = unprivileged();
    let evil = name("evil");
    let script = format!(
        "import socket,time\n\
         s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n\
         s.bind('\\0crab-can/{evil}')\n\
         s.listen(8)\n\
         print('listening', flush=True)\n\
         time.sleep(60)\n"
    );
    let mut squatter = Bg::start(as_user(py, &["-c", &script]));
    assert!(
        wait_for(10, || name_listening(&evil)),
        "the squatter did not bind @crab-can/{evil}"
    );
    assert!(squatter.running());
    let held = format!("@crab-can/{evil} is held by uid {uid}, not by crab-can");
    assert_error(&crab(&["exec", &evil, "true"]), 125, &held);
    assert_error(&crab(&["exec", "-d", &evil, "true"]), 125, &held);
    assert_error(&crab(&["kill", &evil]), 125, &held);
    assert_error(&crab(&["kill", "-s", "KILL", &evil]), 125, &held);
    // ps does not list it as a container.
    let r = crab(&["ps"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert!(ps_row(&r.stdout, &evil).is_none(), "{}", r.stdout);
    // And a run cannot take the name (it is not free).
    let r = crab(&["run", "--name", &evil, img(), "echo", "ran"]);
    assert_eq!(r.exit_code(), 125, "{}", show(&r));
    assert!(!r.stdout.contains("ran"));
    assert!(squatter.running(), "the squatter was disturbed");
    drop(squatter);
    assert!(wait_for(5, || !name_bound(&evil)));
}

// Under `--net host` a container shares the host's network namespace, so its processes
// can reach every `@crab-can/` name; they run as root seen from the run (as the owner,
// rootless). The run answers only callers of its own PID namespace: the container learns
// nothing of the others (no record: their environment; no fds: their init, their cgroups).
#[test]
fn a_container_on_the_hosts_network_learns_nothing_of_the_others() {
    let c = Ctr::start("secret", &["-e", "SECRET=hunter2"], &["sleep", "1000"]);
    // The same question from the host gets the record and the init's pidfd.
    let r = run_command(command_for(probe(), &["ask", c.n()]));
    let l = r.stdout.trim().to_string();
    assert!(
        l.starts_with("ask: bytes=") && !l.starts_with("ask: bytes=0 ") && !l.ends_with("fds=0"),
        "from the host: {}",
        show(&r)
    );
    let r = run_in(image(), &["--net", "host"], &["/bin/probe", "ask", c.n()]);
    assert_eq!(r.stdout.trim(), "ask: bytes=0 fds=0", "{}", show(&r));
    let r = run_in(
        image(),
        &["--net", "host", "-u", "1000"],
        &["/bin/probe", "ask", c.n()],
    );
    assert!(
        r.stdout.trim() == "ask: bytes=0 fds=0",
        "as a non-root user inside: {}",
        show(&r)
    );
}

// A rootless run's name `@crab-can/uUID/NAME` is held by the user's own crab-can, which
// the user controls: it could hand root the pidfd of any process (pidfd_open checks
// nothing). Root accepts only an init that runs as UID: a pidfd of root's own process is
// refused, and that process is neither entered nor signalled.
#[test]
fn rootless_holder_cannot_hand_root_a_process_not_its_own() {
    let Some(py) = python() else {
        skip(test_name!(), "no python3 on this host");
        return;
    };
    let (uid, _) = unprivileged();
    let evil = name("handover");
    let mut victim = Bg::start(command_for("sleep", &["1000"]));
    let script = format!(
        "import socket,os,array,time\n\
         s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n\
         s.bind('\\0crab-can/u{uid}/{evil}')\n\
         s.listen(8)\n\
         fd=os.pidfd_open({victim})\n\
         rec=b'\\0'.join([b'{victim}',b'0',b'0',b'0',b'18446744073709551615',b'0',b'img',b'sh',b'-',b'/',b'PATH=/bin'])\n\
         print('listening', flush=True)\n\
         while True:\n\
         \x20c,_=s.accept()\n\
         \x20c.sendmsg([rec],[(socket.SOL_SOCKET,socket.SCM_RIGHTS,array.array('i',[fd]))])\n\
         \x20c.close()\n",
        victim = victim.pid()
    );
    let mut holder = Bg::start(as_user(py, &["-c", &script]));
    let full = format!("u{uid}/{evil}");
    assert!(
        wait_for(10, || name_listening(&full)),
        "the holder did not bind @crab-can/{full}"
    );
    let refused = format!("container {full} handed over a process that is not uid {uid}'s");
    assert_error(&crab(&["exec", &full, "true"]), 125, &refused);
    assert_error(&crab(&["kill", "-s", "KILL", &full]), 125, &refused);
    let r = crab(&["ps"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert!(ps_row(&r.stdout, &full).is_none(), "{}", r.stdout);
    assert!(victim.running(), "root's process was signalled");
    assert!(holder.running());
    drop(holder);
}

// Contract: "Only the user who started a container, and root, can exec into it, kill it";
// design 2.1: the run answers only uid 0 (SO_PEERCRED), the server sends nothing else.
#[test]
fn another_user_cannot_get_into_roots_container() {
    let Some(py) = python() else {
        skip(test_name!(), "no python3 on this host");
        return;
    };
    let img = fresh_image("sec");
    let c = Ctr::start_in(&img, "sec", &[], &["sleep", "1000"]);
    let marker = img.join("tmp/exec-as-other-user");
    let _ = std::fs::remove_file(&marker);
    let b = bin();
    let b = b.to_str().unwrap();
    let r = run_command(as_user(
        b,
        &["exec", c.n(), "touch", "/tmp/exec-as-other-user"],
    ));
    assert_eq!(
        r.exit_code(),
        125,
        "exec by uid {}: {}",
        unprivileged().0,
        show(&r)
    );
    assert!(r.stderr.starts_with("crab-can: "), "{}", r.stderr);
    let r = run_command(as_user(
        b,
        &["exec", "-d", c.n(), "touch", "/tmp/exec-as-other-user"],
    ));
    assert_eq!(r.exit_code(), 125, "exec -d by another user: {}", show(&r));
    let r = run_command(as_user(b, &["kill", "-s", "KILL", c.n()]));
    assert_eq!(r.exit_code(), 125, "kill by another user: {}", show(&r));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !marker.exists(),
        "another user's exec ran in root's container"
    );
    assert!(alive(c.cmd), "another user's kill reached root's container");
    // Talking to the name socket directly: no record, no fds.
    let script = format!(
        "import socket,sys\n\
         s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n\
         s.settimeout(10)\n\
         s.connect('\\0crab-can/{}')\n\
         try:\n    m,anc,fl,ad=s.recvmsg(65536, socket.CMSG_SPACE(64*4))\n\
         except socket.timeout:\n    print('timeout'); sys.exit(0)\n\
         except OSError as e:\n    print('error', e.errno); sys.exit(0)\n\
         n=sum(len(d)//4 for (l,t,d) in anc if l==socket.SOL_SOCKET and t==socket.SCM_RIGHTS)\n\
         print(len(m), n)\n",
        c.n()
    );
    let r = run_command(as_user(py, &["-c", &script]));
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let got = r.stdout.trim();
    assert!(
        got == "0 0" || got.starts_with("error"),
        "uid {} connecting to @crab-can/{}: {got:?} (bytes, fds) (want a close, nothing sent)",
        unprivileged().0,
        c.n()
    );
    // Root still gets in.
    let r = c.exec(&[], &["true"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    c.finish();
    assert!(!marker.exists());
}

// ---- 9. many execs, execs racing the end -------------------------------------------------

// 20 execs at once all run, each in its own process of the container.
#[test]
fn twenty_execs_at_once() {
    let c = Ctr::start("twenty", &["--pids", "100"], &["sleep", "1000"]);
    let bgs: Vec<Bg> = (0..20)
        .map(|_| Bg::spawn(&c.exec_args(&[], &["sh", "-c", "echo $$"])))
        .collect();
    let mut pids = BTreeSet::new();
    for (k, bg) in bgs.into_iter().enumerate() {
        let r = bg.wait_within(30);
        assert_eq!(r.exit_code(), 0, "exec {k}: {}", show(&r));
        let p: i32 = r
            .stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{:?}", r.stdout));
        assert!(p > 2, "exec {k} ran as pid {p}");
        pids.insert(p);
    }
    assert_eq!(pids.len(), 20, "pids inside: {pids:?}");
    assert_eq!(live_in_pidns(&c.pidns).len(), 2, "leftovers of the execs");
    c.finish();
}

// Execs racing the container's end: each exits 0 (it ran), 125 (no container, with one
// crab-can line) or 137 (stopped with the container), none hangs, nothing is left.
#[test]
fn execs_racing_the_containers_end() {
    for round in 0..5 {
        let n = name(&format!("race{round}"));
        let mut run = Bg::spawn(&["run", "--name", &n, img(), "sh", "-c", "sleep 0.2"]);
        let mut codes = BTreeMap::<i32, u32>::new();
        let mut pidns = None;
        let t = Instant::now();
        while run.running() {
            assert!(t.elapsed() < Duration::from_secs(30), "the run did not end");
            if pidns.is_none() {
                pidns = children(run.pid()).first().map(|p| ns_link(*p, "pid"));
            }
            let mut e = Bg::spawn(&["exec", &n, "true"]);
            let r = e
                .try_wait_within(10)
                .unwrap_or_else(|| panic!("exec {n} true still running after 10 s"));
            let k = r.exit_code();
            assert!([0, 125, 137].contains(&k), "exec {n} true: {}", show(&r));
            if k == 125 {
                let lines: Vec<&str> = r.stderr.lines().collect();
                assert_eq!(lines.len(), 1, "{:?}", r.stderr);
                assert!(lines[0].starts_with("crab-can: "), "{:?}", r.stderr);
            } else {
                assert!(!r.stderr.contains("crab-can"), "{}", show(&r));
            }
            *codes.entry(k).or_default() += 1;
        }
        let r = run.wait_within(10);
        assert_eq!(r.exit_code(), 0, "run: {}", show(&r));
        assert!(
            codes.get(&0).is_some_and(|k| *k > 0),
            "no exec got in: {codes:?}"
        );
        // Once the run is over, an exec is 125, at once.
        let r = crab(&["exec", &n, "true"]);
        assert_error(&r, 125, &n);
        if let Some(ns) = pidns.filter(|s| !s.is_empty()) {
            assert!(
                wait_for(5, || live_in_pidns(&ns).is_empty()),
                "processes left in {ns}"
            );
        }
        assert!(cgroup_dirs_of(&n).is_empty());
        assert!(!name_bound(&n));
    }
}

// ---- 10. a detached exec's process ---------------------------------------------------------

// Design 2.3 step 6: "Client killed: the process re-parents to the init, which keeps
// reaping". A detached exec's process outlives its client from the start: its parent must
// be the container's init (which reaps it), not a process of the host (which may never
// reap it: a zombie inside the container, counted against `--pids`).
#[test]
fn detached_exec_is_reaped_by_the_init() {
    let c = Ctr::start("detach", &[], &["sleep", "1000"]);
    let r = c.exec_detached(&[], &["sleep", "1006"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let p = c.wait_find(&["sleep", "1006"]);
    let ppid = read_proc(p).map(|x| x.ppid);
    // Seen from inside: a parent of the container's (the init, pid 1), not 0 (outside).
    let r = c.exec(&[], &["ps", "-o", "pid,ppid,args"]);
    let inside_ppid = r
        .stdout
        .lines()
        .find(|l| l.ends_with("sleep 1006"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    assert_eq!(
        ppid,
        Some(c.init),
        "the detached exec's parent on the host is {ppid:?}, not the container's init {} \
         (inside: ppid {inside_ppid:?})",
        c.init
    );
    c.finish();
}
