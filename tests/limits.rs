//! Resource limits on this host (../shared/design/CONTRACT.md "Resource limits", the
//! `--memory`, `--cpus`, `--pids` and `--cgroup-parent` rows, "Exit status", "Signals and
//! lifetime").
//!
//! The tests follow the host's cgroup layout, told apart as crab-can tells it
//! (`common::cgroup_layout`, the filesystem magic of `/sys/fs/cgroup`):
//!
//! - **cgroup v2** (`/sys/fs/cgroup` is cgroup2): a container NAME gets one directory,
//!   `/sys/fs/cgroup/PARENT/NAME`, with `memory.max`, `memory.swap.max`, `cpu.max`,
//!   `pids.max`, `memory.events` and `cgroup.procs`.
//! - **hybrid** (v1 controllers at `/sys/fs/cgroup/<controller>`, a v2 tree without
//!   controllers at `/sys/fs/cgroup/unified`): `unified/PARENT/NAME` (tracking,
//!   `cgroup.kill`) and `{memory,cpu,pids}/PARENT/NAME` for the limits asked for, with the
//!   v1 files (`memory.limit_in_bytes`, `cpu.cfs_quota_us`, `memory.oom_control`, ...). A v1
//!   host without the `unified` tree is the same without that directory.
//!
//! What a host cannot test (no cgroup filesystem at all, a controller a test needs that is
//! not there) is a `SKIP: <test>: <why>` line on stderr and the test returns; with
//! `CRAB_CAN_STRICT=1` (CI) that is a failure. `make test` on a hybrid machine covers both
//! layouts: tests/vm/guest/tmpfs-limits-rs.sh runs this file's compiled binary in the pure
//! cgroup v2 test VM.
//!
//! The test process lives in a cgroup of the machine's own (on a hybrid host a v1 memory
//! cgroup, on v2 the cgroup of its `0::` line): nothing here writes to it or moves anything
//! out of it; every test checks at its end that the test process's `/proc/self/cgroup` and
//! the limit files of its own cgroups are unchanged, and only per-container directories
//! (and the test's own `--cgroup-parent` levels) are ever removed by the tests themselves.
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The controllers crab-can uses for `--memory`, `--cpus` and `--pids`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctl {
    Memory,
    Cpu,
    Pids,
}

const ALL: [Ctl; 3] = [Ctl::Memory, Ctl::Cpu, Ctl::Pids];

impl Ctl {
    fn name(self) -> &'static str {
        match self {
            Ctl::Memory => "memory",
            Ctl::Cpu => "cpu",
            Ctl::Pids => "pids",
        }
    }
}

/// This host's layout, detected once.
fn layout() -> CgroupLayout {
    static L: std::sync::OnceLock<CgroupLayout> = std::sync::OnceLock::new();
    *L.get_or_init(cgroup_layout)
}

fn v2() -> bool {
    layout() == CgroupLayout::V2
}

/// The root of the hierarchy whose files control `ctl`: the v2 root, or the v1 controller's.
fn tree(ctl: Ctl) -> PathBuf {
    match layout() {
        CgroupLayout::V2 => PathBuf::from(CG),
        _ => PathBuf::from(format!("{CG}/{}", ctl.name())),
    }
}

/// The v2 tree that holds every container with a cgroup: the root on v2, `unified` on a
/// hybrid host (none on a v1 host without it).
fn tracking_tree() -> Option<PathBuf> {
    match layout() {
        CgroupLayout::V2 => Some(PathBuf::from(CG)),
        CgroupLayout::Hybrid { unified: true } => Some(PathBuf::from(format!("{CG}/unified"))),
        _ => None,
    }
}

/// Why this host cannot run a test that needs `needs`, if it cannot.
fn missing(needs: &[Ctl]) -> Option<String> {
    match layout() {
        CgroupLayout::None => Some(format!(
            "no cgroup filesystem at {CG} (neither cgroup2 nor v1 controllers)"
        )),
        CgroupLayout::V2 => {
            let have =
                std::fs::read_to_string(format!("{CG}/cgroup.controllers")).unwrap_or_default();
            needs
                .iter()
                .find(|c| !have.split_whitespace().any(|h| h == c.name()))
                .map(|c| {
                    format!(
                        "cgroup v2 without the {} controller ({CG}/cgroup.controllers: {:?})",
                        c.name(),
                        have.trim()
                    )
                })
        }
        CgroupLayout::Hybrid { .. } => needs.iter().find(|c| !v1_mounted(c.name())).map(|c| {
            format!(
                "a v1 host without the {0} controller (nothing mounted at {CG}/{0})",
                c.name()
            )
        }),
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The pids listed in a cgroup directory's `cgroup.procs` (none if it is gone).
fn cgroup_procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn proc_cgroup(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

/// The limit files a cgroup of the machine's own may hold, per hierarchy.
fn host_limit_files(ctl: Option<Ctl>) -> &'static [&'static str] {
    match ctl {
        None => &[
            "memory.max",
            "memory.high",
            "memory.swap.max",
            "cpu.max",
            "pids.max",
        ],
        Some(Ctl::Memory) => &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
        Some(Ctl::Cpu) => &["cpu.cfs_quota_us", "cpu.cfs_period_us"],
        Some(Ctl::Pids) => &["pids.max"],
    }
}

/// The machine's own cgroups that this test process lives in (on v2 the one of the `0::`
/// line; on a hybrid host the memory, cpu and pids ones): noted at the start of a test, and
/// checked untouched at its end.
struct Host {
    /// `/proc/self/cgroup`, every line.
    cgroup: String,
    /// Each own cgroup directory with its limit files' contents.
    dirs: Vec<(PathBuf, Vec<(&'static str, String)>)>,
}

impl Host {
    /// Note the test process's cgroups, or `skip` (None) when this host cannot run a
    /// test that needs `needs`.
    fn note(test: &str, needs: &[Ctl]) -> Option<Host> {
        require_root();
        if let Some(why) = missing(needs) {
            skip(test, &why);
            return None;
        }
        Host::current()
    }

    /// The test process's cgroups; None without a cgroup filesystem (nothing to check).
    fn current() -> Option<Host> {
        let cgroup = proc_cgroup("self");
        // (hierarchy root, the controller whose line of /proc/self/cgroup places us there)
        let hier: Vec<(PathBuf, Option<Ctl>)> = match layout() {
            CgroupLayout::None => return None,
            CgroupLayout::V2 => vec![(PathBuf::from(CG), None)],
            CgroupLayout::Hybrid { .. } => ALL
                .iter()
                .filter(|c| v1_mounted(c.name()))
                .map(|c| (tree(*c), Some(*c)))
                .collect(),
        };
        let dirs = hier
            .into_iter()
            .map(|(root, ctl)| {
                let path = cgroup
                    .lines()
                    .find_map(|l| {
                        let mut f = l.splitn(3, ':');
                        let (_, ctls, path) = (f.next()?, f.next()?, f.next()?);
                        let hit = match ctl {
                            None => ctls.is_empty(),
                            Some(c) => ctls.split(',').any(|x| x == c.name()),
                        };
                        hit.then(|| path.to_string())
                    })
                    .unwrap_or_else(|| {
                        panic!("no line for {ctl:?} in /proc/self/cgroup: {cgroup}")
                    });
                let dir = root.join(path.trim_start_matches('/'));
                let files = host_limit_files(ctl)
                    .iter()
                    .filter_map(|f| Some((*f, std::fs::read_to_string(dir.join(f)).ok()?)))
                    .collect();
                (dir, files)
            })
            .collect();
        Some(Host { cgroup, dirs })
    }

    fn check(&self) {
        assert_eq!(
            proc_cgroup("self"),
            self.cgroup,
            "the test process's cgroups changed"
        );
        let me = std::process::id() as i32;
        for (dir, files) in &self.dirs {
            assert!(
                cgroup_procs(dir).contains(&me),
                "the test process {me} is no longer in its own cgroup {}",
                dir.display()
            );
            for (f, v) in files {
                assert_eq!(
                    &std::fs::read_to_string(dir.join(f)).unwrap_or_default(),
                    v,
                    "the machine's cgroup {} had its {f} changed",
                    dir.display()
                );
            }
        }
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

    /// The container's directory in the hierarchy rooted at `root`.
    fn dir_in(&self, root: &Path) -> PathBuf {
        root.join(&self.parent).join(&self.name)
    }

    /// The directory with the container's files of `ctl` (on v2 the one directory).
    fn dir(&self, ctl: Ctl) -> PathBuf {
        self.dir_in(&tree(ctl))
    }

    /// Its directory in the v2 tree (tracking), if the host has one.
    fn tracking(&self) -> Option<PathBuf> {
        tracking_tree().map(|t| self.dir_in(&t))
    }

    fn left(&self) -> Vec<PathBuf> {
        // Directories only: a name such as `tasks` is also a file of every v1 cgroup.
        cgroup_hierarchies()
            .iter()
            .map(|t| self.dir_in(t))
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

    /// Every pid of the container, from the host (its v2 directory; on a v1 host without
    /// a v2 tree, its controllers' directories).
    fn pids(&self) -> Vec<i32> {
        match self.tracking() {
            Some(d) => cgroup_procs(&d),
            None => {
                let mut all: Vec<i32> = self.left().iter().flat_map(|d| cgroup_procs(d)).collect();
                all.sort_unstable();
                all.dedup();
                all
            }
        }
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

    /// Its memory limit as written: `memory.max` (v2) or `memory.limit_in_bytes` (v1).
    fn memory_limit(&self) -> String {
        let file = if v2() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        read(&self.dir(Ctl::Memory).join(file))
    }

    fn remove_leftovers(&self) {
        for d in self.left() {
            for _ in 0..200 {
                for p in cgroup_procs(&d) {
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
    let Some(host) = Host::note(test_name!(), &[Ctl::Memory]) else {
        return;
    };
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
    let Some(host) = Host::note(test_name!(), &[Ctl::Pids]) else {
        return;
    };
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

/// Where this host shows a container's own CPU time, or why it does not: `usage_usec` of
/// `cpu.stat` in its v2 directory (v2, and the `unified` tree of a hybrid host, where the
/// core `cpu.stat` needs no controller), else `cpuacct.usage` in its v1 cpu directory
/// when cpuacct is mounted together with cpu.
fn cpu_time_source(ct: &Ct) -> Result<(PathBuf, &'static str), String> {
    if let Some(d) = ct.tracking() {
        return Ok((d.join("cpu.stat"), "usage_usec"));
    }
    if tree(Ctl::Cpu).join("cpuacct.usage").exists() {
        return Ok((ct.dir(Ctl::Cpu).join("cpuacct.usage"), "ns"));
    }
    Err(format!(
        "a v1 host without a v2 tree and without cpuacct next to cpu in {}: no CPU time of \
         the container's own to measure",
        tree(Ctl::Cpu).display()
    ))
}

/// The container's own CPU time in µs.
fn usage_usec(src: &(PathBuf, &'static str)) -> u64 {
    match src.1 {
        "ns" => read(&src.0).parse::<u64>().expect("cpuacct.usage") / 1000,
        key => stat_field(&src.0, key),
    }
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
    let Some(host) = Host::note(test_name!(), &[Ctl::Cpu]) else {
        return;
    };
    let ct = Ct::new("cpu");
    let src = match cpu_time_source(&ct) {
        Ok(s) => s,
        Err(why) => return skip(test_name!(), &why),
    };
    let mut bg = Bg::run(
        &["--name", &ct.name, "--cpus", "0.5"],
        &["sh", "-c", "while :; do :; done"],
    );
    ct.wait_for_comm("sh");
    std::thread::sleep(Duration::from_millis(300));
    let (u0, t0) = (usage_usec(&src), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let (u1, t1) = (usage_usec(&src), Instant::now());
    let share = (u1 - u0) as f64 / (t1 - t0).as_micros() as f64;
    let throttled = stat_field(&ct.dir(Ctl::Cpu).join("cpu.stat"), "nr_throttled");
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

/// The `oom_kill` count of a file such as `memory.events` or `memory.oom_control`.
fn oom_kills(file: &Path) -> u64 {
    stat_field(file, "oom_kill")
}

/// Contract: "`--memory`, `--cpus N`: quota = N × period, period 100 ms, `--pids N`, no swap
/// beyond the limit", on v2 and through the v1 controllers on hybrid hosts: the limit files
/// hold exactly the values asked for while the container runs, the OOM count crab-can reads
/// is there (and 0), and its init is in each of its cgroups.
#[test]
fn limit_files_hold_the_values_during_the_run() {
    let Some(host) = Host::note(test_name!(), &ALL) else {
        return;
    };
    let ct = Ct::new("files");
    let mut bg = Bg::run(
        &[
            "--name", &ct.name, "--memory", "64M", "--cpus", "0.5", "--pids", "30",
        ],
        &["sleep", "30"],
    );
    let cmd = ct.wait_for_comm("sleep");
    let init = bg.init_pid();
    if v2() {
        let d = ct.dir(Ctl::Memory);
        assert_eq!(read(&d.join("memory.max")), "67108864");
        let swap = d.join("memory.swap.max");
        if swap.exists() {
            assert_eq!(read(&swap), "0", "swap beyond the limit is allowed");
        }
        assert_eq!(read(&d.join("cpu.max")), "50000 100000");
        assert_eq!(read(&d.join("pids.max")), "30");
        assert_eq!(oom_kills(&d.join("memory.events")), 0);
    } else {
        let mem = ct.dir(Ctl::Memory);
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
        let memsw = mem.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            assert_eq!(read(&memsw), "67108864", "swap beyond the limit is allowed");
        }
        assert_eq!(oom_kills(&mem.join("memory.oom_control")), 0);
        assert_eq!(read(&ct.dir(Ctl::Cpu).join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&ct.dir(Ctl::Cpu).join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&ct.dir(Ctl::Pids).join("pids.max")), "30");
    }
    let dirs = ct.left();
    assert_eq!(
        dirs.len(),
        cgroup_hierarchies().len(),
        "directories: {dirs:?}"
    );
    for d in &dirs {
        let p = cgroup_procs(d);
        assert!(
            p.contains(&init),
            "init {init} not in {}/cgroup.procs {p:?}",
            d.display()
        );
        assert!(
            p.contains(&cmd),
            "the command {cmd} not in {}/cgroup.procs {p:?}",
            d.display()
        );
    }
    // crab-can itself stays where it was started (in the machine's cgroups).
    assert_eq!(
        proc_cgroup(&bg.pid().to_string()),
        host.cgroup,
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
    let Some(host) = Host::note(test_name!(), &ALL) else {
        return;
    };
    let host_lines = host.cgroup.lines().count();
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
    let Some(host) = Host::note(test_name!(), &ALL) else {
        return;
    };
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
        cgroup_hierarchies().len(),
        "not in every hierarchy of {:?}: {:?}",
        cgroup_hierarchies(),
        ct.left()
    );
    bg.signal(libc::SIGTERM);
    let r = bg.wait();
    assert_eq!(r.code, 143, "stderr: {}", r.stderr);
    ct.assert_gone("after SIGTERM to crab-can");

    // OOM kill: fill /dev/shm (tmpfs pages are charged to the container, and stay charged
    // after the kill). The command itself is the writer: were it a shell's child, the
    // kernel may end only the child (as v2 does) and the shell carry on.
    let ct = Ct::new("gone-oom");
    let r = sh(
        &["--name", &ct.name, "--memory", "32M"],
        "exec head -c 100m /dev/zero > /dev/shm/fill",
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
    let Some(host) = Host::note(test_name!(), &ALL) else {
        return;
    };
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

/// A cgroup directory at PARENT/NAME that crab-can did not make (no killed run of NAME
/// recorded it) is not crab-can's to empty or remove: the run is refused (exit 125, one
/// line saying it already exists) and the directory stays as it was; what the refused run
/// made itself (on a hybrid host its v2 tracking directory) is gone.
#[test]
fn a_cgroup_crab_can_did_not_make_is_refused() {
    let Some(host) = Host::note(test_name!(), &[Ctl::Memory]) else {
        return;
    };
    let parent = format!("t-mine-{}", std::process::id());
    // Declared before the container so that it is dropped (and cleaned) after it.
    let _levels = ParentLevels(vec![parent.clone()]);
    let ct = Ct::under(&parent, "mine");
    let mine = ct.dir(Ctl::Memory);
    std::fs::create_dir_all(&mine).unwrap();
    let r = crab(&[
        "run",
        "--name",
        &ct.name,
        "--cgroup-parent",
        &parent,
        "--memory",
        "64M",
        img(),
        "true",
    ]);
    assert_error(&r, 125, "already exists");
    assert!(
        r.stderr.contains(&format!("{}/{}", parent, ct.name)),
        "the directory is not named: {:?}",
        r.stderr
    );
    assert_eq!(
        ct.left(),
        vec![mine.clone()],
        "the refused run removed the directory it did not make, or left one of its own"
    );
    assert!(cgroup_procs(&mine).is_empty());
    drop(ct);
    host.check();
}

/// Contract: "Two running containers cannot share a name": exit 125 `container NAME is
/// already running`, and the refused run touches nothing of the running one's.
#[test]
fn a_running_name_is_refused() {
    let Some(host) = Host::note(test_name!(), &[Ctl::Memory]) else {
        return;
    };
    let ct = Ct::new("dup");
    let mut bg = Bg::run(&["--name", &ct.name, "--memory", "64M"], &["sleep", "30"]);
    ct.wait_for_comm("sleep");
    let before = ct.left();
    let r = crab(&["run", "--name", &ct.name, "--memory", "32M", img(), "true"]);
    assert_error(
        &r,
        125,
        &format!("container {} is already running", ct.name),
    );
    assert!(bg.running(), "the first container died");
    assert_eq!(
        ct.memory_limit(),
        "67108864",
        "the refused run changed the running one's limit"
    );
    assert_eq!(
        ct.left(),
        before,
        "the refused run removed a cgroup of the running one"
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
    let Some(host) = Host::note(test_name!(), &[Ctl::Memory]) else {
        return;
    };
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
        cts.iter().all(|ct| {
            cgroup_procs(&ct.dir(Ctl::Memory))
                .iter()
                .any(|&p| comm(p) == "sleep")
        })
    });
    assert!(all_there, "not all 20 containers were running at once");
    for (i, (ct, bg)) in cts.iter().zip(&bgs).enumerate() {
        let want = ((20 + i as u64) << 20).to_string();
        assert_eq!(ct.memory_limit(), want, "{}", ct.name);
        let init = bg.init_pid();
        assert!(
            cgroup_procs(&ct.dir(Ctl::Memory)).contains(&init),
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
/// errors", `--cpus`, `--pids N` "a whole number ≥ 2", `--cgroup-parent` "relative to the
/// cgroup root". Refused while parsing, so this runs on any host, with a cgroup
/// filesystem or without.
#[test]
fn bad_limit_values_are_refused() {
    require_root();
    let host = Host::current();
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
    for t in cgroup_hierarchies() {
        let abs = t.join("abs");
        assert!(!abs.exists(), "--cgroup-parent /abs made {}", abs.display());
    }
    if let Some(h) = host {
        h.check();
    }
}

/// Contract: "`--name NAME`: container name: `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`" and the
/// limit options: a valid name that is also the name of a cgroup control file (`tasks` in
/// every v1 directory, `cgroup.procs` in every directory) is refused with limits.
#[test]
fn a_name_like_a_cgroup_file_is_refused_with_limits() {
    // A name the contract allows can clash with a control file of the cgroup filesystem:
    // PARENT/NAME cannot be a cgroup there. crab-can says so in one line (exit 125)
    // instead of misreporting a leftover, and leaves nothing behind.
    let Some(host) = Host::note(test_name!(), &[Ctl::Memory, Ctl::Pids]) else {
        return;
    };
    let names: &[&str] = if v2() {
        &["cgroup.procs"]
    } else {
        &["tasks", "cgroup.procs"]
    };
    for n in names {
        let ct = Ct {
            parent: "crab-can".into(),
            name: n.to_string(),
        };
        let r = sh(&["--name", n, "--memory", "64M", "--pids", "30"], "echo ok");
        ct.assert_gone("after the run");
        assert_error(&r, 125, "control file");
        assert!(r.stderr.contains(&format!("'{n}'")), "{}", r.stderr);
        assert_eq!(r.stdout, "");
    }
    host.check();
}

/// README "Resource limits": "The `--memory` floor is 4 MiB": one byte less is refused
/// (exit 125 naming the floor), 4 MiB itself runs a shell.
#[test]
fn memory_floor_is_4_mib() {
    let Some(host) = Host::note(test_name!(), &[Ctl::Memory]) else {
        return;
    };
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
/// cgroup root ... The container's cgroup is `PARENT/NAME` (on hybrid hosts, in each v1
/// hierarchy whose limit was asked for)": with all three limits, in every hierarchy.
#[test]
fn cgroup_parent_nests_the_cgroup() {
    let Some(host) = Host::note(test_name!(), &ALL) else {
        return;
    };
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
    for t in cgroup_hierarchies() {
        let d = ct.dir_in(&t);
        assert!(
            cgroup_procs(&d).contains(&cmd),
            "the command is not in {}",
            d.display()
        );
        let default = t.join("crab-can").join(&ct.name);
        assert!(!default.exists(), "{} exists too", default.display());
    }
    assert_eq!(ct.memory_limit(), "67108864");
    assert!(bg.running());
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    ct.assert_gone("after the run under a/b");
    drop(ct);
    drop(levels);
    for t in cgroup_hierarchies() {
        let d = t.join(&top);
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
            for t in cgroup_hierarchies() {
                let d = t.join(level);
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
    let Some(host) = Host::note(test_name!(), &[]) else {
        return;
    };
    // A plain run: no directory in any hierarchy while it runs.
    let ct = Ct::new("plain");
    let mut bg = Bg::run(&["--name", &ct.name], &["sleep", "3"]);
    // The container runs (its init and sleep are up well within this).
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(bg.running(), "the plain container should still run");
    ct.assert_gone("during a run without limits");
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    host.check();
    // --cgroup-parent alone: the container's v2 cgroup is PARENT/NAME (on a hybrid host in
    // the v2 tree, which tracks the container; the v1 hierarchies get none).
    if tracking_tree().is_none() {
        return skip(
            test_name!(),
            "a v1 host without a v2 tree: --cgroup-parent without limits makes no cgroup to look for",
        );
    }
    let parent = format!("t-only-{}", std::process::id());
    let _levels = ParentLevels(vec![parent.clone()]);
    let ct = Ct::under(&parent, "asked");
    let mut bg = Bg::run(
        &["--name", &ct.name, "--cgroup-parent", &parent],
        &["sleep", "3"],
    );
    let dir = ct.tracking().unwrap();
    assert!(
        wait_for(5, || dir.is_dir()),
        "no cgroup at {dir:?} with --cgroup-parent"
    );
    assert_eq!(ct.left(), vec![dir.clone()], "only the v2 cgroup is made");
    assert!(bg.running());
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait().code, 143);
    assert!(!dir.is_dir(), "{dir:?} left behind");
    host.check();
}
