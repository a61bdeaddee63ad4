//! Failures found under attack, each pinned by the reproduction that found it (issue
//! "Failures found under attack"): an IMAGE swapped for a symlink to `/` while crab-can
//! starts, names and cgroups shared across network namespaces, a foreign cgroup at the
//! container's path, hostile `/etc/passwd` and `/etc/group` files, SIGKILL at random
//! moments, values with control characters, and the review's findings (an explicit
//! `--cgroup-parent` that cannot be made, a refused PR_SET_PDEATHSIG, a refused
//! close_range, the non-dumpable init, signals in crab-can's first moments).
//!
//! Every test runs the real binary as root against a real busybox image and checks what
//! the kernel says (exit statuses, /proc, the cgroup filesystem, the host's mount table).
mod common;

use common::*;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every cgroup hierarchy crab-can may make a container's directory in on this host: the
/// one v2 tree of a v2 host; the v2 tracking tree and the v1 memory, cpu and pids
/// hierarchies of a hybrid one.
fn hierarchies() -> Vec<PathBuf> {
    let v = cgroup_hierarchies();
    assert!(
        !v.is_empty(),
        "this host has no cgroup filesystem crab-can could use for limits"
    );
    v
}

/// The hierarchy a test makes a foreign cgroup in: the one a `--pids` run creates its
/// directory in last (v1 pids on a hybrid host, after the v2 tracking tree), so the
/// refusal comes after crab-can already made another, which must be removed again.
fn last_pids_hierarchy() -> PathBuf {
    let h = hierarchies();
    h.iter()
        .find(|p| p.ends_with("pids"))
        .unwrap_or(&h[0])
        .clone()
}

/// A `--cgroup-parent` of the test's own: every directory under it in every hierarchy is
/// removed at the end (only empty ones; a process left would be a failure to report).
struct Parent(String);

impl Parent {
    fn new(tag: &str) -> Parent {
        Parent(format!("crab-can-test-{tag}-{}", std::process::id()))
    }

    /// Directories left under the parent, in every hierarchy.
    fn children(&self) -> Vec<PathBuf> {
        let mut left = Vec::new();
        for h in hierarchies() {
            if let Ok(rd) = std::fs::read_dir(h.join(&self.0)) {
                left.extend(
                    rd.flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
        }
        left
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        for d in self.children() {
            let _ = std::fs::remove_dir(d);
        }
        for h in hierarchies() {
            let _ = std::fs::remove_dir(h.join(&self.0));
        }
    }
}

fn state_file(name: &str) -> PathBuf {
    PathBuf::from(format!("/run/crab-can/{name}"))
}

// ---- 1. IMAGE swapped for a symlink to / ------------------------------------------------

/// Critical: IMAGE is used only through the handle that was checked. Beside a loop that
/// exchanges `DIR/img` with `DIR/swap -> /` (renameat2 RENAME_EXCHANGE) as fast as it can,
/// every run either is refused (125: IMAGE is the host's root) or runs in the image; not
/// one sees the host's `/`, and nothing is written onto the host. (Before the fix, about
/// one run in twenty got the host's root.)
#[test]
fn image_swap_race_never_reaches_the_host_root() {
    require_root();
    let dir = std::env::temp_dir().join(format!("crab-can-swap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("img");
    make_image(&image);
    std::fs::write(image.join("IMAGE-MARKER"), "image\n").unwrap();
    symlink("/", dir.join("swap")).unwrap();
    let escape = format!("crab-can-swap-escape-{}", std::process::id());
    let host_escape = Path::new("/").join(&escape);

    let mut swapper = Command::new(probe())
        .args([
            "swap-loop",
            image.to_str().unwrap(),
            dir.join("swap").to_str().unwrap(),
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let script =
        format!("if [ -e /IMAGE-MARKER ]; then echo image; else echo HOST; fi; echo x > /{escape}");
    let (mut ran, mut refused) = (0, 0);
    let t = Instant::now();
    while ran + refused < 400 && t.elapsed() < Duration::from_secs(25) {
        let r = crab(&["run", image.to_str().unwrap(), "/bin/sh", "-c", &script]);
        match r.code {
            0 => {
                assert_eq!(
                    r.stdout.trim(),
                    "image",
                    "a run saw the host's root: {}",
                    show(&r)
                );
                ran += 1;
            }
            125 => {
                assert!(r.stderr.contains("IMAGE"), "{}", show(&r));
                refused += 1;
            }
            _ => panic!("unexpected outcome: {}", show(&r)),
        }
        assert!(
            !host_escape.exists(),
            "a container wrote {} onto the host",
            host_escape.display()
        );
    }
    let _ = swapper.kill();
    let _ = swapper.wait();
    eprintln!("swap race: {ran} runs in the image, {refused} refused");
    assert!(
        ran > 20,
        "too few runs reached the image to mean anything: {ran}"
    );
    let _ = std::fs::remove_file(&host_escape);
    let _ = std::fs::remove_dir_all(&dir);
}

/// "Is it the host's root" is decided by device and inode: a symlink to `/`, `/.` and a
/// bind mount of `/` elsewhere are all refused, not only the string "/".
#[test]
fn the_host_root_is_refused_by_any_path() {
    require_root();
    let dir = std::env::temp_dir().join(format!("crab-can-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("root-link");
    let _ = std::fs::remove_file(&link);
    symlink("/", &link).unwrap();
    for p in ["/", "/.", "//", "/usr/..", link.to_str().unwrap()] {
        let r = crab(&["run", p, "true"]);
        assert_error(&r, 125, "host's own root");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The container's root is a private copy: on a host whose mounts are shared (systemd's
/// default), nothing crab-can mounts inside shows up on the host, IMAGE's own mount
/// included. Run inside a mount namespace of the test's own whose `/` is made shared.
#[test]
fn no_mount_reaches_a_shared_host() {
    require_root();
    let img = fresh_image("shared-host");
    let script = format!(
        "mount --make-rshared / && {bin} run {img} sleep 2 & sleep 1; \
         grep -c -e '{img}' -e ' /proc .*proc' /proc/self/mountinfo; wait",
        bin = bin().display(),
        img = img.display()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "unchanged", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // One /proc (the namespace's own) and no line naming IMAGE.
    assert_eq!(
        stdout.trim(),
        "1",
        "container mounts propagated to the host: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- 2. names across network namespaces -------------------------------------------------

/// A name is unique on the host whatever network namespace crab-can starts in: a run
/// started by `unshare -n` holds its name against the host's runs (and the other way
/// round), and a host run's sweep never takes its state for a dead run's.
#[test]
fn names_are_unique_across_network_namespaces() {
    require_root();
    let parent = Parent::new("netns");
    let a = name("netns-a");
    let bin = bin();
    let bin = bin.to_str().unwrap();
    let bg = Bg::start(command_for(
        "unshare",
        &[
            "-n",
            bin,
            "run",
            "--name",
            &a,
            "--cgroup-parent",
            &parent.0,
            "--pids",
            "50",
            img(),
            "sleep",
            "4",
        ],
    ));
    assert!(
        wait_for(10, || state_file(&a).exists()
            && !parent.children().is_empty()),
        "the run in its own network namespace never started"
    );
    // A plain host run (which sweeps state files at its end) leaves it alone.
    sh(&["--name", &name("netns-b")], "true").ok();
    // The name is taken, from the host's namespace and from another new one.
    let r = crab(&["run", "--name", &a, "--pids", "10", img(), "true"]);
    assert_error(&r, 125, "already running");
    let r = run_command(command_for(
        "unshare",
        &["-n", bin, "run", "--name", &a, img(), "true"],
    ));
    assert_error(&r, 125, "already running");
    let first = bg.wait_bounded(30);
    assert_eq!(first.code, 0, "the first container was disturbed");
    assert!(parent.children().is_empty(), "{:?}", parent.children());
    assert!(!state_file(&a).exists());
}

// ---- 3. a foreign cgroup at PARENT/NAME ---------------------------------------------------

/// A cgroup the test makes itself at `dir`, holding a `sleep` of the test's: what crab-can
/// must never empty or remove. Dropping it ends the sleep and removes the directory.
struct Stranger {
    dir: PathBuf,
    sleep: std::process::Child,
}

impl Stranger {
    fn new(dir: PathBuf) -> Stranger {
        std::fs::create_dir_all(&dir).unwrap();
        let sleep = Command::new("sleep").arg("30").spawn().unwrap();
        std::fs::write(dir.join("cgroup.procs"), sleep.id().to_string()).unwrap();
        Stranger { dir, sleep }
    }

    /// Still there, with its process alive.
    fn intact(&mut self) -> bool {
        self.sleep.try_wait().unwrap().is_none() && self.dir.is_dir()
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = self.sleep.kill();
        let _ = self.sleep.wait();
        assert!(wait_for(5, || std::fs::remove_dir(&self.dir).is_ok()));
    }
}

/// A cgroup at the container's path that crab-can did not make is refused (125, "already
/// exists"), never emptied or removed: the test's own process in it lives on. What the
/// run had already made in other hierarchies is removed again.
#[test]
fn a_foreign_cgroup_is_refused_never_killed() {
    require_root();
    let parent = Parent::new("foreign");
    let n = name("foreign");
    let mut stranger = Stranger::new(last_pids_hierarchy().join(&parent.0).join(&n));

    let r = crab(&[
        "run",
        "--cgroup-parent",
        &parent.0,
        "--name",
        &n,
        "--pids",
        "10",
        img(),
        "true",
    ]);
    assert_error(&r, 125, "already exists");
    assert!(
        stranger.intact(),
        "crab-can emptied or removed a cgroup it did not make"
    );
    let others: Vec<PathBuf> = parent
        .children()
        .into_iter()
        .filter(|d| *d != stranger.dir)
        .collect();
    assert!(others.is_empty(), "left behind: {others:?}");
    assert!(!state_file(&n).exists());
}

/// A state file naming a cgroup that has since been made again by someone else (a
/// different inode) does not let the sweep touch it.
#[test]
fn a_stale_record_touches_only_its_own_cgroup() {
    require_root();
    let parent = Parent::new("stale");
    let dead = name("stale");
    let mut stranger = Stranger::new(last_pids_hierarchy().join(&parent.0).join(&dead));
    let dir = stranger.dir.clone();
    // What a dead run of `dead` would have written: the path with another inode, and
    // the path not yet made (the test's cgroup is busy, so an rmdir cannot take it).
    std::fs::create_dir_all("/run/crab-can").unwrap();
    std::fs::write(
        state_file(&dead),
        format!("1 {}\n- {}\n", dir.display(), dir.display()),
    )
    .unwrap();
    sh(&["--name", &name("stale-sweeper")], "true").ok();
    assert!(
        !state_file(&dead).exists(),
        "the stale record was not swept"
    );
    assert!(stranger.intact(), "the sweep emptied or removed a stranger");
}

// ---- 4. hostile /etc/passwd and /etc/group ---------------------------------------------------

/// IMAGE's passwd and group files are the image maker's: a FIFO, a device node, a
/// directory or a huge file is refused in one line (125) at once, never read or waited on.
#[test]
fn hostile_passwd_and_group_files_are_refused() {
    require_root();
    let img = fresh_image("hostile-passwd");
    let passwd = img.join("etc/passwd");
    let group = img.join("etc/group");
    let saved = std::fs::read(&passwd).unwrap();
    let mk = |path: &Path, kind: &str| {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_dir(path);
        let p = path.to_str().unwrap();
        let ok = match kind {
            "fifo" => Command::new("mkfifo").arg(p).status(),
            "block" => Command::new("mknod").args([p, "b", "7", "0"]).status(),
            "zero" => Command::new("mknod").args([p, "c", "1", "5"]).status(),
            "dir" => Command::new("mkdir").arg(p).status(),
            "huge" => Command::new("truncate").args(["-s", "100M", p]).status(),
            _ => unreachable!(),
        };
        assert!(ok.unwrap().success(), "cannot make a {kind} at {p}");
    };
    for (kind, why) in [
        ("fifo", "a FIFO"),
        ("block", "a block device"),
        ("zero", "a character device"),
        ("dir", "a directory"),
        ("huge", "larger than"),
    ] {
        mk(&passwd, kind);
        let t = Instant::now();
        let r = crab(&["run", img.to_str().unwrap(), "true"]);
        assert_error(&r, 125, why);
        assert!(r.stderr.contains("/etc/passwd"), "{}", show(&r));
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{kind}: took {:?}",
            t.elapsed()
        );
    }
    // `-e HOME` and a numeric user:group need neither file: such a run works.
    mk(&passwd, "fifo");
    let r = crab(&[
        "run",
        "-e",
        "HOME=/h",
        "-u",
        "7:7",
        img.to_str().unwrap(),
        "sh",
        "-c",
        "echo $HOME",
    ]);
    assert_eq!(r.stdout.trim(), "/h", "{}", show(&r));
    let _ = std::fs::remove_file(&passwd);
    std::fs::write(&passwd, &saved).unwrap();
    // /etc/group is read for a group name only, and refused the same way.
    mk(&group, "fifo");
    let r = crab(&["run", "-u", "root:wheel", img.to_str().unwrap(), "true"]);
    assert_error(&r, 125, "/etc/group is a FIFO");
    let r = crab(&["run", "-u", "root:0", img.to_str().unwrap(), "true"]);
    assert_eq!(r.code, 0, "{}", show(&r));
}

// ---- 5. SIGKILL at random moments -----------------------------------------------------------

/// Kill crab-can with SIGKILL at random moments of a run that makes cgroups, a few hundred
/// times: once the next run has swept, no cgroup, state file, mount or process of any of
/// them is left.
#[test]
fn sigkill_at_random_moments_leaves_nothing() {
    require_root();
    let parent = Parent::new("kill9");
    let img_owned = fresh_image("kill9");
    let img = img_owned.to_str().unwrap();
    let mut seed = std::process::id() as u64 | 1;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let names: Vec<String> = (0..300).map(|i| name(&format!("k{i}"))).collect();
    let t = Instant::now();
    for n in &names {
        let bg = Bg::spawn(&[
            "run",
            "--name",
            n,
            "--cgroup-parent",
            &parent.0,
            "--pids",
            "20",
            "--memory",
            "32M",
            img,
            "true",
        ]);
        std::thread::sleep(Duration::from_micros(rnd(12_000)));
        drop(bg); // SIGKILL (if it still runs) and reaped
    }
    // The next run sweeps what the killed ones recorded.
    sh(&["--name", &name("kill9-sweeper")], "true").ok();
    let left_state: Vec<&String> = names.iter().filter(|n| state_file(n).exists()).collect();
    assert!(left_state.is_empty(), "state files left: {left_state:?}");
    assert!(
        wait_for(10, || parent.children().is_empty()),
        "cgroups left after {:?}: {:?}",
        t.elapsed(),
        parent.children()
    );
    assert!(
        host_mounts_with(img).is_empty(),
        "{:?}",
        host_mounts_with(img)
    );
    // No process of the image is left (a container's init dies with its crab-can).
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|s| s.parse::<u32>().is_ok())
        })
        .filter(|e| {
            std::fs::read_link(e.path().join("cwd")).is_ok_and(|p| p.starts_with(&img_owned))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "processes left in the image: {left:?}");
}

// ---- 6. --pids above the kernel's maximum ---------------------------------------------------

/// `--pids` above the kernel's 4194304 is refused before anything is created; the
/// maximum itself works.
#[test]
fn pids_above_the_kernel_maximum_is_refused_and_leaves_nothing() {
    require_root();
    let parent = Parent::new("pidsmax");
    let r = crab(&[
        "run",
        "--cgroup-parent",
        &parent.0,
        "--pids",
        "4194305",
        img(),
        "true",
    ]);
    assert_error(&r, 125, "4194304");
    assert!(parent.children().is_empty(), "{:?}", parent.children());
    let r = crab(&[
        "run",
        "--cgroup-parent",
        &parent.0,
        "--pids",
        "4194304",
        img(),
        "true",
    ]);
    assert_eq!(r.code, 0, "{}", show(&r));
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

// ---- 7. one line, whatever the value ---------------------------------------------------------

/// A newline, CR or ESC in any value never splits the error line or reaches the caller's
/// terminal: it is written escaped.
#[test]
fn error_lines_escape_control_characters() {
    require_root();
    let bad = "a\nb\r\u{1b}[2J";
    let vol = format!("/no{bad}:/x");
    let wd = format!("rel{bad}");
    let img_bad = format!("/no/such{bad}");
    for args in [
        vec!["run", "--name", bad, img(), "true"],
        vec!["run", &img_bad, "true"],
        vec!["run", "-v", &vol, img(), "true"],
        vec!["run", "-w", &wd, img(), "true"],
        vec!["run", "--net", bad, img(), "true"],
        vec!["run", "--hostname", bad, img(), "true"],
        vec!["run", "-u", bad, img(), "true"],
        vec!["run", "--cgroup-parent", bad, img(), "true"],
    ] {
        let r = crab(&args);
        assert_error(&r, 125, "\\n");
        assert!(
            !r.stderr.contains('\r') && !r.stderr.contains('\u{1b}'),
            "{args:?}: control characters reached stderr: {:?}",
            r.stderr
        );
    }
}

// ---- 8. the review's findings -------------------------------------------------------------------

/// An explicit `--cgroup-parent` asks for a cgroup: one that cannot be made is an error,
/// with or without limits.
#[test]
fn an_explicit_cgroup_parent_that_cannot_be_made_is_an_error() {
    require_root();
    for extra in [&[][..], &["--pids", "10"][..]] {
        let mut a = vec!["run", "--cgroup-parent", "cgroup.procs/x"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[img(), "true"]);
        let r = crab(&a);
        assert_error(&r, 125, "cgroup.procs");
    }
}

/// A refused PR_SET_PDEATHSIG is one clear line, not a silent 125.
#[test]
fn a_refused_death_signal_is_one_line() {
    require_root();
    let r = run_command(command_for(
        probe(),
        &[
            "deny",
            "pdeathsig",
            bin().to_str().unwrap(),
            "run",
            img(),
            "true",
        ],
    ));
    assert_error(&r, 125, "PR_SET_PDEATHSIG");
}

/// Where close_range is refused (an outer seccomp profile, an old kernel), the caller's
/// descriptors still never reach the container.
#[test]
fn without_close_range_no_descriptor_leaks() {
    require_root();
    let script = format!(
        "exec 7</etc/hostname 9</etc/hostname; exec {} deny close_range {} run {} /bin/probe fds",
        probe().display(),
        bin().display(),
        img()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().nth(1),
        Some("0 1 2"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The init is non-dumpable, and this is the check that sees it: a command holding all
/// of crab-can's capabilities (`--cap-add ALL`) where crab-can itself lacks SYS_PTRACE
/// passes every other ptrace check against the init (same uid, no more capabilities), so
/// only non-dumpability keeps it from the init's exe, root and memory.
#[test]
fn the_init_is_non_dumpable() {
    require_root();
    let script = "readlink /proc/1/exe && echo LEAK exe; ls /proc/1/root/ >/dev/null 2>&1 && echo LEAK root; \
                  probe read /proc/1/mem | head -1; echo done";
    let r = run_command(command_for(
        probe(),
        &[
            "drop-cap",
            "19",
            bin().to_str().unwrap(),
            "run",
            "--cap-add",
            "ALL",
            img(),
            "sh",
            "-c",
            script,
        ],
    ));
    assert!(r.stdout.contains("done"), "{}", show(&r));
    assert!(
        !r.stdout.contains("LEAK"),
        "the init is readable: {}",
        show(&r)
    );
    assert!(
        r.stdout.contains("read: EACCES") || r.stdout.contains("read: EPERM"),
        "/proc/1/mem could be opened: {}",
        show(&r)
    );
}

/// The init is a copy of crab-can, so it carried the caller's command line (host paths,
/// `-e` values) and environment into the container's /proc/1/cmdline and /proc/1/environ:
/// anyone inside could read the first, and a container holding all of crab-can's
/// capabilities the second. The init overwrites both before the command starts.
#[test]
fn the_init_carries_no_host_traces() {
    let secret = format!("host-secret-{}", std::process::id());
    let script =
        "tr '\\0' ' ' < /proc/1/cmdline; echo; tr '\\0' ' ' < /proc/1/environ; echo; echo done";
    let r = crab_cmd(
        &[
            "run",
            "--cap-add",
            "ALL",
            "-e",
            "ONLY_INSIDE=visible",
            img(),
            "sh",
            "-c",
            script,
        ],
        |c| {
            c.env("CRAB_CAN_TEST_SECRET", &secret);
        },
    );
    assert!(r.stdout.contains("done"), "{}", show(&r));
    let first = r.stdout.lines().next().unwrap_or("");
    assert_eq!(
        first.trim(),
        "crab-can-init",
        "PID 1's command line: {}",
        show(&r)
    );
    assert!(
        !r.stdout.contains(&secret),
        "the caller's environment leaked: {}",
        show(&r)
    );
    assert!(
        !r.stdout.contains(img()),
        "a host path leaked: {}",
        show(&r)
    );
    assert!(
        !r.stdout.contains("ONLY_INSIDE"),
        "the command line leaked: {}",
        show(&r)
    );
}

// ---- 9. signals in crab-can's first moments -------------------------------------------------

/// The signals crab-can passes on are blocked before it does anything else: in the system
/// calls of a run, the block (rt_sigprocmask SIG_BLOCK with TERM and INT) comes before any
/// call but those of the program's own start-up (Rust's runtime: memory, stdio checks,
/// SIGPIPE). A signal before that block reaches a program that has not yet run any code of
/// its own, and kills it as it would any program; nothing exists yet to be left behind.
#[test]
fn signals_are_blocked_before_anything_else() {
    require_root();
    let trace = std::env::temp_dir().join(format!("crab-can-strace-{}", std::process::id()));
    let st = Command::new("strace")
        .arg("-o")
        .arg(&trace)
        .args([bin().to_str().unwrap(), "run", img(), "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("strace (tests/deps.sh installs it)");
    assert!(st.success());
    let text = std::fs::read_to_string(&trace).unwrap();
    let _ = std::fs::remove_file(&trace);
    const START_UP: [&str; 11] = [
        "execve",
        "arch_prctl",
        "set_tid_address",
        "poll",
        "rt_sigaction",
        "sigaltstack",
        "mmap",
        "munmap",
        "mprotect",
        "brk",
        "ioctl",
    ];
    let mut before = Vec::new();
    for line in text.lines() {
        let call = line.split('(').next().unwrap_or("").trim();
        if call == "rt_sigprocmask" {
            assert!(
                line.contains("SIG_BLOCK") && line.contains("TERM") && line.contains("INT"),
                "the first signal mask change is not the block: {line}"
            );
            return;
        }
        assert!(
            START_UP.contains(&call),
            "crab-can made a system call of its own before blocking signals: {line}\n(before it: {before:?})"
        );
        before.push(call.to_string());
    }
    panic!("no rt_sigprocmask in the trace:\n{text}");
}

/// Once crab-can has blocked them (its status shows TERM blocked), SIGTERM at any moment of
/// the run never kills crab-can itself (a death by signal, -15 here, could cut a run between
/// making something and removing it): it is passed on to the command once it runs, and
/// crab-can exits 143 for the command that died of it.
#[test]
fn an_early_sigterm_reaches_the_command() {
    require_root();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..200u64 {
        let bg = Bg::run(&[], &["sleep", "10"]);
        let t = Instant::now();
        while !term_blocked(bg.pid()) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "crab-can never blocked SIGTERM"
            );
        }
        // Then at once, or within the first 2 ms of its work.
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_micros(i * 97 % 2000) {}
        bg.signal(libc::SIGTERM);
        // The exit status, or minus the signal that killed crab-can itself (so that a
        // crab-can killed by SIGTERM, -15, is told from one that exited 143).
        let r = bg.wait_bounded(30);
        let code = r.signal.map_or(r.code, |n| -n);
        *statuses.entry(code).or_insert(0) += 1;
    }
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [143],
        "exit statuses, -N for a death by signal N (status: count): {statuses:?}"
    );
}

/// Whether /proc/PID/status shows SIGTERM (15) blocked.
fn term_blocked(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigBlk:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
}
