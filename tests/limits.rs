//! Resource limits on this host (CONTRACT.md "Resource limits", the `--memory`, `--cpus`,
//! `--pids` and `--cgroup-parent` rows, "Exit status", "Signals and lifetime").
//!
//! These tests are written for a *hybrid* host: v1 controllers at
//! `/sys/fs/cgroup/<controller>` and a v2 tree without controllers at
//! `/sys/fs/cgroup/unified`. A container NAME gets `unified/PARENT/NAME` (tracking,
//! `cgroup.kill`) and `{memory,cpu,pids}/PARENT/NAME` for the limits asked for.
//!
//! The test process lives in a memory cgroup of the machine's own: nothing here writes to
//! it or moves anything out of it; every test checks at its end that it is unchanged, and
//! only per-container directories (and the test's own `--cgroup-parent` levels) are ever
//! removed by the tests themselves.
mod common;

use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

const CG: &str = "/sys/fs/cgroup";
/// The hierarchies crab-can uses on a hybrid host.
const HIER: [&str; 4] = ["unified", "memory", "cpu", "pids"];

fn require_hybrid() {
    require_root();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let has = |dev: &str, dir: &str| {
        mounts
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(dir) && l.contains(dev))
    };
    assert!(
        has("cgroup2", "/sys/fs/cgroup/unified")
            && ["memory", "cpu", "pids"]
                .iter()
                .all(|c| has(" cgroup ", &format!("/sys/fs/cgroup/{c}"))),
        "these tests need a hybrid cgroup host (v1 memory, cpu, pids and a v2 tree at /sys/fs/cgroup/unified)"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The pids listed in a cgroup directory's `cgroup.procs` (none if it is gone).
fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) };
}

/// The memory line of a process's `/proc/PID/cgroup` (`4:memory:/...`).
fn memory_line(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .find(|l| l.split(':').nth(1) == Some("memory"))
        .expect("a v1 memory line in /proc/PID/cgroup")
        .to_string()
}

/// The machine's own memory cgroup that this test process lives in: noted at the start of
/// a test, and checked untouched at its end.
struct Host {
    line: String,
    dir: PathBuf,
    limit: String,
}

impl Host {
    fn note() -> Host {
        require_hybrid();
        let line = memory_line("self");
        let path = line.splitn(3, ':').nth(2).unwrap().to_string();
        let dir = PathBuf::from(format!("{CG}/memory{path}"));
        let limit = read(&dir.join("memory.limit_in_bytes"));
        Host { line, dir, limit }
    }

    fn check(&self) {
        assert_eq!(
            memory_line("self"),
            self.line,
            "the test process's memory cgroup changed"
        );
        let me = std::process::id() as i32;
        assert!(
            procs(&self.dir).contains(&me),
            "the test process {me} is no longer in its own cgroup {}",
            self.dir.display()
        );
        assert_eq!(
            read(&self.dir.join("memory.limit_in_bytes")),
            self.limit,
            "the machine's memory cgroup {} had its limit changed",
            self.dir.display()
        );
    }
}

/// One container name under one `--cgroup-parent`, and its per-container directories.
/// Dropping it removes whatever of those a failed test left behind (killing only the
/// processes in them, which are the test's own container's).
struct Ct {
    parent: String,
    name: String,
}

impl Ct {
    fn new(tag: &str) -> Ct {
        Ct::under("crab-can", tag)
    }

    fn under(parent: &str, tag: &str) -> Ct {
        Ct {
            parent: parent.to_string(),
            name: name(tag),
        }
    }

    fn dir(&self, h: &str) -> PathBuf {
        PathBuf::from(format!("{CG}/{h}/{}/{}", self.parent, self.name))
    }

    fn left(&self) -> Vec<PathBuf> {
        // Directories only: a name such as `tasks` is also a file of every v1 cgroup.
        HIER.iter()
            .map(|h| self.dir(h))
            .filter(|d| d.is_dir())
            .collect()
    }

    fn assert_gone(&self, when: &str) {
        let left = self.left();
        assert!(
            left.is_empty(),
            "{when}: cgroup directories of {} left behind: {left:?}",
            self.name
        );
    }

    /// Every pid of the container, from the host (its v2 tracking directory).
    fn pids(&self) -> Vec<i32> {
        procs(&self.dir("unified"))
    }

    /// Wait until a process of the container runs the program `prog`; its host pid.
    fn wait_for_comm(&self, prog: &str) -> i32 {
        let mut found = None;
        let ok = wait_for(15, || {
            found = self.pids().into_iter().find(|&p| comm(p) == prog);
            found.is_some()
        });
        assert!(
            ok,
            "container {} never ran {prog} (pids {:?})",
            self.name,
            self.pids()
        );
        found.unwrap()
    }

    fn remove_leftovers(&self) {
        for d in self.left() {
            for _ in 0..200 {
                for p in procs(&d) {
                    kill(p, libc::SIGKILL);
                }
                match std::fs::remove_dir(&d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }
}

impl Drop for Ct {
    fn drop(&mut self) {
        self.remove_leftovers();
    }
}

/// A crab-can running in the background. Dropping it kills it (SIGKILL) if still running.
struct Bg {
    child: Option<Child>,
}

impl Bg {
    fn spawn(args: &[&str]) -> Bg {
        let child = command(args).spawn().expect("spawn crab-can");
        Bg { child: Some(child) }
    }

    /// `crab-can run OPTS... <shared image> ARGV...` in the background.
    fn run(opts: &[&str], argv: &[&str]) -> Bg {
        let img = image().to_str().unwrap();
        let mut a = vec!["run"];
        a.extend_from_slice(opts);
        a.push(img);
        a.extend_from_slice(argv);
        Bg::spawn(&a)
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: i32) {
        kill(self.pid(), sig);
    }

    fn running(&mut self) -> bool {
        matches!(self.child.as_mut().unwrap().try_wait(), Ok(None))
    }

    /// The container's init: crab-can's child, seen from the host.
    fn init_pid(&self) -> i32 {
        let p = self.pid();
        let mut init = None;
        wait_for(10, || {
            init = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok());
            init.is_some()
        });
        init.unwrap_or_else(|| panic!("crab-can {p} has no child"))
    }

    /// Wait for the end (at most 60 s, then SIGKILL) and collect the outcome.
    fn wait(mut self) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let mut child = self.child.take().unwrap();
        let t = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        Run {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            stdout,
            stderr,
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn img() -> &'static str {
    image().to_str().unwrap()
}

fn awk_alloc() -> [&'static str; 2] {
    // Doubles a string up to 128 MiB: really allocates (and touches) the memory, and ends.
    [
        "awk",
        "BEGIN{s=\"x\"; while (length(s) < 100000000) s = s s; print length(s)}",
    ]
}

/// Contract: "When the kernel's OOM killer ends the container, crab-can says so on stderr
/// in a `crab-can: ` line that contains the word `memory` and the limit's value, and exits
/// 137" (`-m, --memory SIZE`: memory limit).
#[test]
fn memory_limit_oom_kill_is_137_with_message() {
    let host = Host::note();
    // Control: the same allocation fits under a roomy limit, so it is the 32 MiB that kills.
    let roomy = Ct::new("oomctl");
    let mut a = vec!["run", "--name", &roomy.name, "--memory", "512M", img()];
    a.extend_from_slice(&awk_alloc());
    let r = crab(&a);
    r.ok();
    assert_eq!(
        r.stdout.trim(),
        "134217728",
        "the allocation did not complete under 512M"
    );
    roomy.assert_gone("after the control run");

    let ct = Ct::new("oom");
    let mut a = vec!["run", "--name", &ct.name, "--memory", "32M", img()];
    a.extend_from_slice(&awk_alloc());
    let r = crab(&a);
    let want = format!(
        "crab-can: container {} was killed by the OOM killer (memory limit 32 MiB)",
        ct.name
    );
    assert_error(&r, 137, &want);
    assert_eq!(r.stderr.trim_end(), want);
    assert!(
        r.stdout.is_empty(),
        "the allocation finished under 32M: {:?}",
        r.stdout
    );
    ct.assert_gone("after the OOM kill");
    host.check();
}

/// Contract: "`--pids N`: most tasks (processes and threads) alive at once inside".
#[test]
fn pids_limit_stops_a_fork_loop() {
    let host = Host::note();
    let ct = Ct::new("pids");
    // The subshell runs the fork loop (busybox sh gives up at the first failed fork);
    // afterwards the outer shell counts the container's processes with a glob (no fork).
    let script = "( i=0; while [ $i -lt 40 ]; do sleep 5 & echo started; i=$((i+1)); done ); \
                  set -- /proc/[0-9]*; echo alive $#";
    let r = sh(&["--name", &ct.name, "--pids", "20"], script);
    r.ok();
    let started = r.stdout.lines().filter(|l| *l == "started").count();
    let alive: usize = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("alive "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in {:?}", r.stdout));
    // init + sh + the subshell take 3 of the 20.
    assert!(started <= 17, "{started} sleeps started under --pids 20");
    assert!(
        started >= 10,
        "only {started} sleeps started: the limit is tighter than 20"
    );
    assert!(alive <= 20, "{alive} processes alive under --pids 20");
    assert!(
        r.stderr.contains("can't fork"),
        "the shell did not report a fork failure: {:?}",
        r.stderr
    );
    ct.assert_gone("after the fork loop");
    host.check();
}

/// The cgroup's own CPU time in µs, from its v2 tracking directory.
fn usage_usec(ct: &Ct) -> u64 {
    read(&ct.dir("unified").join("cpu.stat"))
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
        .expect("usage_usec in cpu.stat")
}

fn stat_field(file: &Path, key: &str) -> u64 {
    read(file)
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {}", file.display()))
}

/// Contract: "`--cpus N`: CPU limit as a decimal number of CPUs: quota = N × period,
/// period 100 ms": a busy loop under `--cpus 0.5` gets about half a CPU.
#[test]
fn cpus_half_limits_a_busy_loop() {
    let host = Host::note();
    let ct = Ct::new("cpu");
    let mut bg = Bg::run(
        &["--name", &ct.name, "--cpus", "0.5"],
        &["sh", "-c", "while :; do :; done"],
    );
    ct.wait_for_comm("sh");
    std::thread::sleep(Duration::from_millis(300));
    let (u0, t0) = (usage_usec(&ct), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let (u1, t1) = (usage_usec(&ct), Instant::now());
    let share = (u1 - u0) as f64 / (t1 - t0).as_micros() as f64;
    let throttled = stat_field(&ct.dir("cpu").join("cpu.stat"), "nr_throttled");
    assert!(bg.running(), "the busy loop ended by itself");
    bg.signal(libc::SIGTERM);
    let r = bg.wait();
    assert!(
        (0.35..=0.65).contains(&share),
        "a busy loop under --cpus 0.5 got {share:.3} of a CPU (throttled {throttled} times)"
    );
    assert_eq!(r.code, 143, "stderr: {}", r.stderr);
    ct.assert_gone("after SIGTERM");
    host.check();
}

/// Contract: "On hybrid hosts ... the same options work through the v1 controllers"; the
/// limit files hold exactly the values asked for while the container runs, and its init
/// is in each of its cgroups.
#[test]
fn limit_files_hold_the_values_during_the_run() {
    let host = Host::note();
    let ct = Ct::new("files");
    let mut bg = Bg::run(
        &[
            "--name", &ct.name, "--memory", "64M", "--cpus", "0.5", "--pids", "30",
        ],
        &["sleep", "30"],
    );
    let cmd = ct.wait_for_comm("sleep");
    let init = bg.init_pid();
    let mem = ct.dir("memory");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
    let memsw = mem.join("memory.memsw.limit_in_bytes");
    if memsw.exists() {
        assert_eq!(read(&memsw), "67108864", "swap beyond the limit is allowed");
    }
    assert_eq!(read(&ct.dir("cpu").join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(&ct.dir("cpu").join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(&ct.dir("pids").join("pids.max")), "30");
    for h in HIER {
        let p = procs(&ct.dir(h));
        assert!(
            p.contains(&init),
            "init {init} not in {h}'s cgroup.procs {p:?}"
        );
        assert!(
            p.contains(&cmd),
            "the command {cmd} not in {h}'s cgroup.procs {p:?}"
        );
    }
    // crab-can itself stays where it was started (in the machine's cgroup).
    assert_eq!(
        memory_line(&bg.pid().to_string()),
        host.line,
        "crab-can moved itself"
    );
    assert!(bg.running());
    bg.signal(libc::SIGTERM);
    let r = bg.wait();
    assert_eq!(r.code, 143, "stderr: {}", r.stderr);
    ct.assert_gone("after SIGTERM");
    host.check();
}

/// Contract: "New mount, UTS, IPC, network and cgroup namespaces": inside,
/// `/proc/self/cgroup` reads `/` for every hierarchy, with limits or without.
#[test]
fn proc_self_cgroup_reads_root_inside() {
    let host = Host::note();
    let host_lines = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .count();
    for limits in [
        &["--memory", "64M", "--cpus", "0.5", "--pids", "30"][..],
        &[][..],
    ] {
        let ct = Ct::new("cgns");
        let mut opts = vec!["--name", ct.name.as_str()];
        opts.extend_from_slice(limits);
        let r = sh(&opts, "cat /proc/self/cgroup");
        r.ok();
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), host_lines, "hierarchies inside: {lines:?}");
        for l in &lines {
            assert_eq!(
                l.splitn(3, ':').nth(2),
                Some("/"),
                "with {limits:?}: {l:?} in {lines:?}"
            );
        }
        ct.assert_gone("after the run");
    }
    host.check();
}

/// Contract: "When the command exits, every other process of the container is killed and
/// the container's cgroup is removed" — after a normal exit, after SIGTERM to crab-can
/// (exit 143), after an OOM kill.
#[test]
fn no_cgroup_left_after_exit_sigterm_or_oom() {
    let host = Host::note();
    let lim = ["--memory", "64M", "--cpus", "0.5", "--pids", "30"];

    // Normal exit, with a straggler in the background that the init must kill.
    let ct = Ct::new("gone-exit");
    let mut o = vec!["--name", ct.name.as_str()];
    o.extend_from_slice(&lim);
    sh(&o, "sleep 30 & exit 0").ok();
    ct.assert_gone("after a normal exit");

    // SIGTERM to crab-can: passed on, the command dies of it.
    let ct = Ct::new("gone-term");
    let mut o = vec!["--name", ct.name.as_str()];
    o.extend_from_slice(&lim);
    let bg = Bg::run(&o, &["sleep", "30"]);
    ct.wait_for_comm("sleep");
    assert_eq!(
        ct.left().len(),
        4,
        "not in all four hierarchies: {:?}",
        ct.left()
    );
    bg.signal(libc::SIGTERM);
    let r = bg.wait();
    assert_eq!(r.code, 143, "stderr: {}", r.stderr);
    ct.assert_gone("after SIGTERM to crab-can");

    // OOM kill: fill /dev/shm (tmpfs pages are charged to the container).
    let ct = Ct::new("gone-oom");
    let r = sh(
        &["--name", &ct.name, "--memory", "32M"],
        "head -c 100m /dev/zero > /dev/shm/fill; echo survived",
    );
    assert_eq!(r.code, 137, "stdout {:?} stderr {:?}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "container {} was killed by the OOM killer (memory limit 32 MiB)",
            ct.name
        )),
        "{:?}",
        r.stderr
    );
    ct.assert_gone("after an OOM kill");
    host.check();
}

/// Contract: "If `crab-can` itself is killed, the container dies with it; what it could
/// not clean up (its empty cgroup) is removed by the next run" and "the name of one whose
/// crab-can was killed is free again at the next run".
#[test]
fn kill_9_leftovers_go_with_the_next_run() {
    let host = Host::note();
    let ct = Ct::new("k9");
    let lim = ["--memory", "64M", "--cpus", "0.5", "--pids", "30"];
    let mut o = vec!["--name", ct.name.as_str()];
    o.extend_from_slice(&lim);

    // 1. Killed: the container dies with it; the next run of another name sweeps.
    let bg = Bg::run(&o, &["sleep", "30"]);
    let cmd = ct.wait_for_comm("sleep");
    bg.signal(libc::SIGKILL);
    assert_eq!(bg.wait().code, 137);
    assert!(
        wait_for(5, || comm(cmd) != "sleep"),
        "the container's command outlived crab-can's kill -9"
    );
    let left = ct.left();
    eprintln!("after kill -9: {left:?} left (another run may already have swept them)");
    let other = Ct::new("k9-next");
    crab(&["run", "--name", &other.name, img(), "true"]).ok();
    ct.assert_gone("after the next run (another name)");
    other.assert_gone("after the next run");

    // 2. Killed again: the same name works again at once.
    let bg = Bg::run(&o, &["sleep", "30"]);
    ct.wait_for_comm("sleep");
    bg.signal(libc::SIGKILL);
    assert_eq!(bg.wait().code, 137);
    let mut a = vec!["run"];
    a.extend_from_slice(&o);
    a.extend_from_slice(&[img(), "/bin/sh", "-c", "echo again"]);
    let r = crab(&a);
    r.ok();
    assert_eq!(r.stdout, "again\n");
    ct.assert_gone("after the same name ran again");
    host.check();
}

/// Contract: "Two running containers cannot share a name": exit 125 `container NAME is
/// already running`, and the refused run touches nothing of the running one's.
#[test]
fn a_running_name_is_refused() {
    let host = Host::note();
    let ct = Ct::new("dup");
    let mut bg = Bg::run(&["--name", &ct.name, "--memory", "64M"], &["sleep", "30"]);
    ct.wait_for_comm("sleep");
    let r = crab(&["run", "--name", &ct.name, "--memory", "32M", img(), "true"]);
    assert_error(
        &r,
        125,
        &format!("container {} is already running", ct.name),
    );
    assert!(bg.running(), "the first container died");
    assert_eq!(
        read(&ct.dir("memory").join("memory.limit_in_bytes")),
        "67108864",
        "the refused run changed the running one's limit"
    );
    assert!(
        ct.dir("unified").exists(),
        "the refused run removed the running one's cgroup"
    );
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    ct.assert_gone("after the first one ended");
    host.check();
}

/// Twenty containers at once, each with its own `--memory`: each one's cgroup holds its own
/// limit and its own init while they all run; all exit 0 and nothing is left.
#[test]
fn twenty_containers_each_with_its_own_limit() {
    let host = Host::note();
    let cts: Vec<Ct> = (0..20).map(|i| Ct::new(&format!("many{i}"))).collect();
    let mut bgs = Vec::new();
    for (i, ct) in cts.iter().enumerate() {
        let mem = format!("{}M", 20 + i);
        bgs.push(Bg::run(
            &["--name", &ct.name, "--memory", &mem],
            &["sleep", "3"],
        ));
    }
    let all_there = wait_for(10, || {
        cts.iter()
            .all(|ct| procs(&ct.dir("memory")).iter().any(|&p| comm(p) == "sleep"))
    });
    assert!(all_there, "not all 20 containers were running at once");
    for (i, (ct, bg)) in cts.iter().zip(&bgs).enumerate() {
        let want = ((20 + i as u64) << 20).to_string();
        assert_eq!(
            read(&ct.dir("memory").join("memory.limit_in_bytes")),
            want,
            "{}",
            ct.name
        );
        let init = bg.init_pid();
        assert!(
            procs(&ct.dir("memory")).contains(&init),
            "{}: its init is not in its cgroup",
            ct.name
        );
    }
    for (ct, bg) in cts.iter().zip(bgs) {
        let r = bg.wait();
        assert_eq!(r.code, 0, "{}: {}", ct.name, r.stderr);
    }
    for ct in &cts {
        ct.assert_gone("after all 20 ended");
    }
    host.check();
}

/// Contract: "Errors: every failure prints one line ... the value that was wrong" and
/// exit 125 for a bad option; `--memory` "`0`, negatives, fractions and other units are
/// errors", `--cpus`, `--pids N` "a whole number ≥ 1", `--cgroup-parent` "relative to the
/// cgroup root".
#[test]
fn bad_limit_values_are_refused() {
    let host = Host::note();
    let cases: [(&[&str], &str); 9] = [
        (&["--memory", "0"], "--memory '0'"),
        (&["-m", "1.5g"], "--memory '1.5g'"),
        (&["-m", "10x"], "--memory '10x'"),
        // Below the floor: named as typed or in its normalized form.
        (&["--memory", "1k"], "--memory '1"),
        (&["--cpus", "0"], "--cpus '0'"),
        (&["--cpus", "99"], "--cpus '99'"),
        (&["--pids", "0"], "--pids '0'"),
        (&["--cgroup-parent", "../x"], "--cgroup-parent '../x'"),
        (&["--cgroup-parent", "/abs"], "--cgroup-parent '/abs'"),
    ];
    for (opts, needle) in cases {
        let ct = Ct::new("bad");
        let mut a = vec!["run", "--name", ct.name.as_str()];
        a.extend_from_slice(opts);
        a.extend_from_slice(&[img(), "true"]);
        let r = crab(&a);
        assert_error(&r, 125, needle);
        if opts[1] == "1k" {
            assert!(
                r.stderr.contains("'1k'") || r.stderr.contains("'1 KiB'"),
                "{:?}",
                r.stderr
            );
        }
        ct.assert_gone(&format!("after {opts:?}"));
    }
    assert!(
        !Path::new("/sys/fs/cgroup/unified/abs").exists(),
        "--cgroup-parent /abs made a cgroup"
    );
    host.check();
}

/// Contract: "`--name NAME`: container name: `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`" and the
/// limit options: a valid name that is also the name of a cgroup control file (`tasks`,
/// in every v1 directory) still gets its limits.
#[test]
fn a_name_like_a_cgroup_file_is_refused_with_limits() {
    // A name the contract allows can clash with a control file of a v1 hierarchy
    // (`tasks`, `cgroup.procs`): PARENT/NAME cannot be a cgroup there. crab-can says so in
    // one line (exit 125) instead of misreporting a leftover, and leaves nothing behind.
    let host = Host::note();
    let ct = Ct {
        parent: "crab-can".into(),
        name: "tasks".into(),
    };
    let r = sh(
        &["--name", "tasks", "--memory", "64M", "--pids", "30"],
        "echo ok",
    );
    ct.assert_gone("after the run");
    assert_error(&r, 125, "control file");
    assert!(r.stderr.contains("'tasks'"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    host.check();
}

/// README "Resource limits": "The `--memory` floor is 4 MiB": one byte less is refused
/// (exit 125 naming the floor), 4 MiB itself runs a shell.
#[test]
fn memory_floor_is_4_mib() {
    let host = Host::note();
    let ct = Ct::new("floor");
    let r = crab(&[
        "run",
        "--name",
        &ct.name,
        "--memory",
        "4194303",
        img(),
        "true",
    ]);
    ct.assert_gone("after a limit below the floor");
    assert_error(&r, 125, "--memory");
    assert!(
        r.stderr.contains("4 MiB"),
        "the floor is not named: {:?}",
        r.stderr
    );
    let r = sh(&["--name", &ct.name, "--memory", "4m"], "echo ok");
    r.ok();
    assert_eq!(r.stdout, "ok\n");
    ct.assert_gone("after a run at the floor");
    host.check();
}

/// Contract: "`--cgroup-parent PATH`: where the container's cgroup goes, relative to the
/// cgroup root ... The container's cgroup is `PARENT/NAME` (in each v1 hierarchy on hybrid
/// hosts)".
#[test]
fn cgroup_parent_nests_the_cgroup() {
    let host = Host::note();
    let top = format!("t-par-{}", std::process::id());
    let parent = format!("{top}/b");
    // Declared before the container so that it is dropped (and cleaned) after it.
    let levels = ParentLevels(vec![parent.clone(), top.clone()]);
    let ct = Ct::under(&parent, "nest");
    let mut bg = Bg::run(
        &[
            "--name",
            &ct.name,
            "--cgroup-parent",
            &parent,
            "--memory",
            "64M",
            "--cpus",
            "0.5",
            "--pids",
            "30",
        ],
        &["sleep", "30"],
    );
    let cmd = ct.wait_for_comm("sleep");
    for h in HIER {
        let d = ct.dir(h);
        assert!(
            procs(&d).contains(&cmd),
            "the command is not in {}",
            d.display()
        );
        let default = PathBuf::from(format!("{CG}/{h}/crab-can/{}", ct.name));
        assert!(!default.exists(), "{} exists too", default.display());
    }
    assert_eq!(
        read(&ct.dir("memory").join("memory.limit_in_bytes")),
        "67108864"
    );
    assert!(bg.running());
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    ct.assert_gone("after the run under a/b");
    drop(ct);
    drop(levels);
    for h in HIER {
        let d = PathBuf::from(format!("{CG}/{h}/{top}"));
        assert!(
            !d.exists(),
            "could not remove the test's own {}",
            d.display()
        );
    }
    host.check();
}

/// The test's own `--cgroup-parent` levels, removed deepest first (only when empty) at the
/// end of the test, pass or fail.
struct ParentLevels(Vec<String>);

impl Drop for ParentLevels {
    fn drop(&mut self) {
        for level in &self.0 {
            for h in HIER {
                let d = PathBuf::from(format!("{CG}/{h}/{level}"));
                let has_children = std::fs::read_dir(&d)
                    .map(|rd| {
                        rd.flatten()
                            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    })
                    .unwrap_or(false);
                if d.exists() && !has_children {
                    let _ = std::fs::remove_dir(&d);
                }
            }
        }
    }
}

/// README "Resource limits": a cgroup is made when one is asked for — a limit or
/// `--cgroup-parent` — and not for a plain run (the PID namespace holds the container;
/// the cgroup's cost stays off the plain start path).
#[test]
fn a_cgroup_only_when_asked_for() {
    let host = Host::note();
    // A plain run: no directory in any hierarchy while it runs.
    let ct = Ct::new("plain");
    let mut bg = Bg::run(&["--name", &ct.name], &["sleep", "3"]);
    // The container runs (its init and sleep are up well within this).
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(bg.running(), "the plain container should still run");
    ct.assert_gone("during a run without limits");
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    // --cgroup-parent alone: the container's v2 tracking cgroup is PARENT/NAME.
    let parent = format!("t-only-{}", std::process::id());
    let ct = Ct::under(&parent, "asked");
    let mut bg = Bg::run(
        &["--name", &ct.name, "--cgroup-parent", &parent],
        &["sleep", "3"],
    );
    let unified = ct.dir("unified");
    assert!(
        wait_for(5, || unified.is_dir()),
        "no cgroup at {unified:?} with --cgroup-parent"
    );
    assert!(bg.running());
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    assert!(!unified.is_dir(), "{unified:?} left behind");
    let _ = std::fs::remove_dir(format!("{CG}/unified/{parent}"));
    host.check();
}
