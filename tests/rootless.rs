//! Rootless mode (../shared/design/CONTRACT.md "Without root"; ../shared/design/
//! ROOTLESS-AND-EXEC.md part 1): crab-can run by an ordinary user makes a user namespace by
//! itself and maps the user to root inside. The tests run as root and start crab-can as the
//! unprivileged users of `common::rootless` (`crabrl`, with a range in /etc/subuid and
//! /etc/subgid; `crabrlnosub`, without), through setpriv, from a copy of the binary and of
//! the test image that the user owns. What is checked comes from the kernel: the id maps
//! in /proc, stat of the files on the host, mountinfo, /proc/PID/status, exit statuses.
//!
//! Two ways to run (`Uidmap`): PATH without newuidmap (the single id `0 UID 1`) and
//! PATH=/usr/bin:/bin with newuidmap and newgidmap (package uidmap) and a range (`0 UID 1`
//! plus `1 START COUNT`). A test that holds in both runs in both; the half that needs
//! newuidmap or a range the host lacks is a visible skip (a failure under
//! CRAB_CAN_STRICT=1).
//!
//! - the maps, `setgroups`, the ids inside; `-u 1000` refused with one id, files of host uid
//!   START+999 with a range;
//! - "The promises of 'What the command sees' hold": PID 1 and 2, hostname, `--net none`
//!   and `host`, /dev and its pts, a pseudo-terminal, masked and read-only /proc, `--read-only`,
//!   `-w`, `-e`, exit statuses, the capabilities, no_new_privs and seccomp of a root run,
//!   volumes, ten containers at once;
//! - the mount flags a user namespace locks (nosuid, nodev, noexec, atime) kept on the root
//!   and on volumes; /sys read-only throughout with `--net host` (the host's /sys bound);
//! - exec, ps and kill of a user's container: its owner and root (as `uUID/NAME`) get in
//!   with the run command's namespaces and privileges, another user gets nothing; root's
//!   names and the user's are apart;
//! - limits: 125 with one line where the user has no delegated cgroup v2, and nothing
//!   cgroup-related written (strace) with or without limits;
//! - escapes tried as root of the user namespace: mount, nested user namespaces, the host's
//!   files and fds, files of the real root in the image (and a root-owned image), device
//!   nodes made or the host's changed, the init (ptrace, setns, its memory), /proc/sysrq-trigger;
//! - nothing left behind: processes, host mounts, state files, cgroups, after runs ending
//!   every way (SIGKILL of crab-can, with an exec in it, included) and after 50 runs.
mod common;

use common::rootless::{self, Leftovers, Uidmap, User, map_rows, modes, ranges, user};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

// ---- helpers -------------------------------------------------------------------------------

/// The sections of a script's output separated by lines `===`.
fn parts(out: &str) -> Vec<&str> {
    out.split("===\n").collect()
}

/// `Key:\tvalue` lines (/proc/PID/status) as a map.
fn fields(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Assert a command's own outcome printed nothing of crab-can's on stderr.
#[track_caller]
fn no_crab_line(r: &Run) {
    assert!(
        !r.stderr.contains("crab-can:"),
        "unexpected crab-can line; {}",
        show(r)
    );
}

/// A probe line `SUB: ERRNO (...)` with one of `errnos`.
#[track_caller]
fn assert_refused_line(line: &str, sub: &str, errnos: &[&str], r: &Run) {
    assert!(
        errnos
            .iter()
            .any(|e| line.starts_with(&format!("{sub}: {e} ("))),
        "probe {sub} should fail with one of {errnos:?}, got {line:?}; {}",
        show(r)
    );
}

/// The last mount at `point` (the one that shows) in a mountinfo text.
fn mount_at<'a>(m: &'a [Mnt], point: &str) -> Option<&'a Mnt> {
    m.iter().rfind(|x| x.point == point)
}

fn is_ro(m: &Mnt) -> bool {
    m.opts.split(',').any(|o| o == "ro")
}

/// What a script prints about the ids of the user namespace it runs in.
const MAPS: &str = "cat /proc/self/uid_map; echo ===; cat /proc/self/gid_map; echo ===; \
     cat /proc/self/setgroups; echo ===; id -u; id -g; echo ===; readlink /proc/self/ns/user";

/// Run MAPS as `u` and check the maps, `setgroups`, ids 0 inside and a user namespace that
/// is not the host's.
#[track_caller]
fn check_maps(u: &User, m: Uidmap, uid_map: &[[u64; 3]], gid_map: &[[u64; 3]], setgroups: &str) {
    let r = u.sh(m, &[], MAPS);
    assert_eq!(r.exit_code(), 0, "{} with {m:?}: {}", u.name, show(&r));
    no_crab_line(&r);
    let p = parts(&r.stdout);
    assert_eq!(p.len(), 5, "{}", show(&r));
    assert_eq!(map_rows(p[0]), uid_map, "uid_map of {} with {m:?}", u.name);
    assert_eq!(map_rows(p[1]), gid_map, "gid_map of {} with {m:?}", u.name);
    assert_eq!(p[2].trim(), setgroups, "setgroups of {} with {m:?}", u.name);
    assert_eq!(p[3], "0\n0\n", "id -u, id -g of {} with {m:?}", u.name);
    assert_ne!(p[4].trim(), host_ns("user"), "the host's user namespace");
    assert!(p[4].starts_with("user:["), "{}", p[4]);
}

/// The one line of an unmapped `-u 1000`.
const NOT_MAPPED: &str = "crab-can: user 1000 is not mapped:";

#[track_caller]
fn assert_user_1000_refused(u: &User, m: Uidmap) {
    let r = u.run(m, &["-u", "1000"], &["sh", "-c", "echo ran-as-$(id -u)"]);
    assert_error(&r, 125, "user 1000 is not mapped:");
    assert!(
        r.stderr.starts_with(NOT_MAPPED),
        "{} with {m:?}: want a line starting {NOT_MAPPED:?}; {}",
        u.name,
        show(&r)
    );
    assert!(
        r.stderr.contains("uidmap"),
        "the line should say what to install (uidmap); {}",
        show(&r)
    );
    assert!(r.stdout.is_empty(), "{}", show(&r));
}

// ---- ids -----------------------------------------------------------------------------------

// Contract: "Run by an ordinary user, every command works through a user namespace that maps
// the user to root inside"; design 1.2: without newuidmap, container 0 is the caller's uid
// and gid (`0 UID 1`), and setgroups reads `deny`.
#[test]
fn single_id_without_newuidmap() {
    let _g = rootless::shared();
    let u = user();
    let (uid, gid) = (u.uid as u64, u.gid as u64);
    check_maps(u, Uidmap::Off, &[[0, uid, 1]], &[[0, gid, 1]], "deny");
}

// Design 1.2: newuidmap on PATH but no range in /etc/subuid for the user: the single id
// too (and `-u 1000` is refused as with it).
#[test]
fn single_id_when_the_user_has_no_subuid_range() {
    let _g = rootless::shared();
    if !Path::new("/usr/bin/newuidmap").exists() {
        skip(
            test_name!(),
            "/usr/bin/newuidmap is missing (package uidmap): nothing to show it is not used",
        );
        return;
    }
    let u = rootless::user_without_range();
    let (uid, gid) = (u.uid as u64, u.gid as u64);
    check_maps(u, Uidmap::On, &[[0, uid, 1]], &[[0, gid, 1]], "deny");
    assert_user_1000_refused(u, Uidmap::On);
}

// Contract: "(and a whole range of ids when newuidmap/newgidmap and /etc/subuid allow it)";
// design 1.2: `0 UID 1` plus `1 START COUNT`, setgroups stays `allow`.
#[test]
fn subuid_range_is_mapped_with_newuidmap() {
    let _g = rootless::shared();
    let Some((su, sg)) = ranges(test_name!()) else {
        return;
    };
    let u = user();
    let (uid, gid) = (u.uid as u64, u.gid as u64);
    check_maps(
        u,
        Uidmap::On,
        &[[0, uid, 1], [1, su.start as u64, su.count as u64]],
        &[[0, gid, 1], [1, sg.start as u64, sg.count as u64]],
        "allow",
    );
}

// Design 1.2: "With one id, --user N (N≠0) exits 125: crab-can: user 1000 is not mapped: ...
// install newuidmap (package uidmap)".
#[test]
fn user_1000_is_refused_with_the_single_id() {
    let _g = rootless::shared();
    assert_user_1000_refused(user(), Uidmap::Off);
}

// Design 1.7: "--user 1000: ... (with uidmap) files of host uid 100999": container uid N>0 is
// host START+N-1; root inside is the user itself.
#[test]
fn user_1000_makes_files_of_subuid_start_plus_999() {
    let _g = rootless::shared();
    let Some((su, sg)) = ranges(test_name!()) else {
        return;
    };
    let u = user();
    let img = u.fresh_image("u1000");
    let r = u.run_in(
        Uidmap::On,
        &img,
        &["-u", "1000"],
        &["sh", "-c", "id -u; id -g; touch /tmp/by-1000"],
    );
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(r.stdout, "1000\n1000\n", "{}", show(&r));
    let m = std::fs::metadata(img.join("tmp/by-1000")).unwrap();
    assert_eq!(
        (m.uid(), m.gid()),
        (su.start + 999, sg.start + 999),
        "owner of a file user 1000 made, seen from the host (ranges {su:?} {sg:?})"
    );
    let r = u.run_in(Uidmap::On, &img, &[], &["touch", "/tmp/by-root"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let m = std::fs::metadata(img.join("tmp/by-root")).unwrap();
    assert_eq!(
        (m.uid(), m.gid()),
        (u.uid, u.gid),
        "a file root inside made"
    );
}

// ---- what the command sees -------------------------------------------------------------------

// Contract: "It runs as PID 1's child in a new PID namespace: ps inside shows only the
// container's processes; PID 1 is crab-can's tiny init" (the promises hold without root).
#[test]
fn pid1_is_init_and_the_command_is_pid_2() {
    let _g = rootless::shared();
    let u = user();
    for m in modes(test_name!()) {
        let r = u.sh(
            m,
            &[],
            "echo pid=$$; echo comm1=$(cat /proc/1/comm); grep '^PPid:' /proc/$$/status; \
             ps -o pid,ppid,comm; echo end",
        );
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        let out = &r.stdout;
        assert!(
            out.contains("pid=2\n"),
            "{m:?}: the command should be PID 2: {out}"
        );
        assert!(out.contains("comm1=crab-can\n"), "{m:?}: PID 1: {out}");
        assert!(
            out.contains("PPid:\t1\n"),
            "{m:?}: the command's parent: {out}"
        );
        let rows = ps_rows(out);
        assert_eq!(rows.len(), 3, "{m:?}: ps should list 3 processes: {out}");
        assert_eq!(rows[0], ["1", "0", "crab-can"], "{m:?}: {out}");
        assert_eq!(rows[1], ["2", "1", "sh"], "{m:?}: {out}");

        let r = u.run(m, &[], &["cat", "/proc/self/stat"]);
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        let f: Vec<&str> = r.stdout.split_whitespace().collect();
        assert_eq!((f[0], f[1], f[3]), ("2", "(cat)", "1"), "{}", r.stdout);
    }
}

// Contract: "New mount, UTS, IPC, network and cgroup namespaces" (and PID, and now user).
#[test]
fn namespaces_are_new() {
    let _g = rootless::shared();
    let kinds = ["user", "mnt", "uts", "ipc", "net", "pid", "cgroup"];
    let script: String = kinds
        .iter()
        .map(|k| format!("echo {k}=$(readlink /proc/self/ns/{k});"))
        .collect();
    let r = user().sh(Uidmap::Off, &[], &script);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    for k in kinds {
        let inside = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} line: {}", r.stdout));
        assert!(inside.starts_with(&format!("{k}:[")), "{inside}");
        assert_ne!(inside, host_ns(k), "the {k} namespace is the host's");
    }
}

// Contract: "--hostname NAME: hostname inside (UTS namespace); default: the container name".
#[test]
fn hostname_option_sets_the_hostname() {
    let _g = rootless::shared();
    let u = user();
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let h = format!("rl-host-{}", std::process::id());
    let n = name("rlhost");
    let script = "hostname; cat /proc/sys/kernel/hostname; echo \"$HOSTNAME\"";
    for (opts, want) in [
        (vec!["--hostname", h.as_str()], h.as_str()),
        (vec!["--name", n.as_str()], n.as_str()),
    ] {
        let r = u.sh(Uidmap::Off, &opts, script);
        assert_eq!(r.exit_code(), 0, "{opts:?}: {}", show(&r));
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines, [want; 3], "{opts:?}");
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before,
        "the host's hostname changed"
    );
}

// Contract: "--net none (default): a private network namespace whose loopback lo is up".
#[test]
fn net_none_has_only_lo_and_it_is_up() {
    let _g = rootless::shared();
    for opts in [&[][..], &["--net", "none"][..]] {
        let r = user().sh(
            Uidmap::Off,
            opts,
            "ls /sys/class/net; echo ===; cat /sys/class/net/lo/flags; echo ===; cat /proc/net/dev; \
             echo ===; readlink /proc/self/ns/net",
        );
        assert_eq!(r.exit_code(), 0, "{opts:?}: {}", show(&r));
        let p = parts(&r.stdout);
        assert_eq!(p[0], "lo\n", "{opts:?}: /sys/class/net");
        let flags = u32::from_str_radix(p[1].trim().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(
            flags & libc::IFF_UP as u32,
            libc::IFF_UP as u32,
            "{opts:?}: lo is down (flags {flags:#x})"
        );
        assert_eq!(
            proc_net_dev_names(p[2]),
            BTreeSet::from(["lo".to_string()]),
            "{opts:?}: /proc/net/dev"
        );
        assert_ne!(p[3].trim(), host_ns("net"), "{opts:?}: the host's network");
    }
}

// Contract: "--net host: share the caller's"; design 1.3 4.3: /sys with --net host is the
// host's (read-only), so /sys/class/net lists the host's interfaces.
#[test]
fn net_host_sees_the_host_interfaces() {
    let _g = rootless::shared();
    let host: BTreeSet<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        host.len() > 1,
        "the host should have more than lo: {host:?}"
    );
    let r = user().sh(
        Uidmap::Off,
        &["--net", "host"],
        "readlink /proc/self/ns/net; echo ===; ls /sys/class/net; echo ===; cat /proc/net/dev",
    );
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let p = parts(&r.stdout);
    assert_eq!(
        p[0].trim(),
        host_ns("net"),
        "--net host: not the host's network"
    );
    let sys: BTreeSet<String> = p[1].lines().map(str::to_string).collect();
    assert_eq!(sys, host, "/sys/class/net with --net host");
    assert_eq!(
        proc_net_dev_names(p[2]),
        host,
        "/proc/net/dev with --net host"
    );
}

// Contract: "/dev holds only null zero full random urandom tty, pts/ (own devpts instance),
// ptmx, shm/, mqueue/, fd -> /proc/self/fd, stdin stdout stderr"; design 1.7: "/dev/null
// c 1,3 writable".
#[test]
fn dev_holds_the_devices_and_its_own_devpts() {
    let _g = rootless::shared();
    let u = user();
    let host = parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    for m in modes(test_name!()) {
        let r = u.sh(
            m,
            &[],
            "ls -A /dev; echo ===; stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full \
             /dev/random /dev/urandom /dev/tty; echo ===; echo x > /dev/null && echo null=ok; \
             head -c 5 /dev/zero | wc -c; head -c 5 /dev/urandom | wc -c; \
             echo x 2>/dev/null > /dev/full || echo full=ENOSPC; echo ===; cat /proc/self/mountinfo",
        );
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        let p = parts(&r.stdout);
        let got: BTreeSet<&str> = p[0].lines().collect();
        let want: BTreeSet<&str> = [
            "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue",
            "fd", "stdin", "stdout", "stderr",
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want, "{m:?}: ls -A /dev");
        let nodes: Vec<&str> = p[1].lines().collect();
        assert_eq!(
            nodes,
            [
                "/dev/null character special file 1:3",
                "/dev/zero character special file 1:5",
                "/dev/full character special file 1:7",
                "/dev/random character special file 1:8",
                "/dev/urandom character special file 1:9",
                "/dev/tty character special file 5:0",
            ],
            "{m:?}"
        );
        let uses: Vec<&str> = p[2].lines().map(str::trim).collect();
        assert_eq!(
            uses,
            ["null=ok", "5", "5", "full=ENOSPC"],
            "{m:?}: {}",
            show(&r)
        );
        let inside = parse_mountinfo(p[3]);
        let pts = mount_at(&inside, "/dev/pts").expect("no /dev/pts mount inside");
        assert_eq!(pts.fstype, "devpts", "{m:?}");
        for h in host.iter().filter(|h| h.fstype == "devpts") {
            assert_ne!(
                h.dev, pts.dev,
                "{m:?}: /dev/pts inside is the host's devpts"
            );
        }
    }
}

/// `args` as one line for `sh -c` (each word in single quotes).
fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

// Contract (Terminal): "When stdin and stdout are both terminals ... the command gets a new
// pseudo-terminal of the container's own"; design 1.7: "pty /dev/pts/0". Under script(1)
// crab-can has a terminal on both sides; without one, `tty` has none.
#[test]
fn command_gets_a_pty_of_its_own_under_script() {
    let _g = rootless::shared();
    let u = user();
    for m in modes(test_name!()) {
        let argv = u.argv(
            m,
            u.bin().to_str().unwrap(),
            &[
                "run",
                u.image().to_str().unwrap(),
                "sh",
                "-c",
                "tty; exit 7",
            ],
        );
        let mut c = command_for("script", &["-qefc", &shell_line(&argv), "/dev/null"]);
        c.current_dir(&u.home);
        let r = run_command(c);
        // script echoes the end of its stdin (/dev/null) to the terminal as `^@`.
        let lines: Vec<&str> = r
            .stdout
            .lines()
            .map(|l| l.trim_end_matches('\r').trim_start_matches("^@"))
            .collect();
        assert!(
            lines.contains(&"/dev/pts/0"),
            "{m:?}: `tty` under script should print /dev/pts/0; {}",
            show(&r)
        );
        assert_eq!(
            r.exit_code(),
            7,
            "{m:?}: script -e passes the status on; {}",
            show(&r)
        );

        // Without a terminal: none inside either.
        let r = u.run(m, &[], &["tty"]);
        assert_eq!(r.exit_code(), 1, "{m:?}: {}", show(&r));
        assert_eq!(r.stdout.trim(), "not a tty", "{m:?}");
    }
}

// Contract: "/proc ... with the kernel's sensitive files masked and /proc/sys,
// /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs read-only; /sys is read-only".
#[test]
fn proc_masks_and_read_only_paths_hold() {
    let _g = rootless::shared();
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for m in modes(test_name!()) {
        let r = user().sh(
            m,
            &[],
            "for f in /proc/kcore /proc/keys /proc/timer_list; do echo $f=$(cat $f | wc -c); done; \
             probe write /proc/sys/kernel/hostname pwned; echo ===; cat /proc/self/mountinfo",
        );
        let p = parts(&r.stdout);
        assert_eq!(p.len(), 2, "{m:?}: {}", show(&r));
        let l: Vec<&str> = p[0].lines().map(str::trim).collect();
        assert_eq!(l.len(), 4, "{m:?}: {}", show(&r));
        let inside = parse_mountinfo(p[1]);
        for (i, f) in ["/proc/kcore", "/proc/keys", "/proc/timer_list"]
            .iter()
            .enumerate()
        {
            if !Path::new(f).exists() {
                continue; // the host kernel has no such file: nothing to mask
            }
            assert_eq!(
                l[i],
                format!("{f}=0"),
                "{m:?}: {f} is not empty inside; {}",
                show(&r)
            );
            let mask = mount_at(&inside, f).unwrap_or_else(|| panic!("{m:?}: nothing over {f}"));
            assert_ne!(mask.fstype, "proc", "{m:?}: {f} is not masked");
        }
        assert_refused_line(l[3], "write", &["EROFS", "EPERM", "EACCES"], &r);
        for p in [
            "/proc/sys",
            "/proc/sysrq-trigger",
            "/proc/irq",
            "/proc/bus",
            "/proc/fs",
            "/sys",
        ] {
            if !Path::new(p).exists() {
                continue;
            }
            let mnt = mount_at(&inside, p).unwrap_or_else(|| panic!("{m:?}: no mount on {p}"));
            assert!(is_ro(mnt), "{m:?}: {p} is not read-only: {}", mnt.opts);
        }
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_name
    );
}

// Contract: "--read-only: mount the container's root read-only" ("Writes to / land in IMAGE
// itself unless --read-only").
#[test]
fn read_only_makes_root_read_only() {
    let _g = rootless::shared();
    let u = user();
    let img = u.fresh_image("ro");
    let r = u.run_in(
        Uidmap::Off,
        &img,
        &["--read-only"],
        &[
            "sh",
            "-c",
            "probe write /written x; mkdir /made; echo mkdir=$?; echo ===; cat /proc/self/mountinfo",
        ],
    );
    let p = parts(&r.stdout);
    assert_eq!(p.len(), 2, "{}", show(&r));
    let l: Vec<&str> = p[0].lines().collect();
    assert_refused_line(l[0], "write", &["EROFS"], &r);
    assert_eq!(l[1], "mkdir=1", "{}", show(&r));
    let inside = parse_mountinfo(p[1]);
    let root = mount_at(&inside, "/").expect("no / mount");
    assert!(is_ro(root), "/ is not read-only: {}", root.opts);
    assert!(!img.join("written").exists() && !img.join("made").exists());
    // Without --read-only the same writes land in IMAGE.
    let r = u.run_in(Uidmap::Off, &img, &[], &["probe", "write", "/written", "x"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(std::fs::read_to_string(img.join("written")).unwrap(), "x");
}

// Contract: "-w, --workdir DIR: working directory inside" (a missing one is made in IMAGE);
// "-e KEY=VALUE set a variable"; Environment: "HOME (... /root for uid 0)".
#[test]
fn workdir_and_env_options() {
    let _g = rootless::shared();
    let u = user();
    let img = u.fresh_image("wd");
    let n = name("rlenv");
    let r = u.run_in(
        Uidmap::Off,
        &img,
        &["--name", &n, "--workdir", "/x", "-e", "K=V", "-e", "EMPTY="],
        &["sh", "-c", "pwd; echo ===; env"],
    );
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    let p = parts(&r.stdout);
    assert_eq!(p[0], "/x\n");
    let env: BTreeSet<&str> = p[1].lines().collect();
    for v in [
        "K=V",
        "EMPTY=",
        "HOME=/root",
        &format!("HOSTNAME={n}"),
        &format!("PATH={DEFAULT_PATH}"),
    ] {
        assert!(env.contains(v), "no {v} in the environment: {env:?}");
    }
    let x = std::fs::metadata(img.join("x")).expect("the workdir was not made in IMAGE");
    assert!(x.is_dir());
    assert_eq!(
        x.uid(),
        u.uid,
        "the workdir made inside belongs to the user"
    );
    let r = u.run(Uidmap::Off, &["-w", "/etc"], &["pwd"]);
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(r.stdout, "/etc\n");
}

// Contract (Exit status): "the command's own", "128 + N: killed by signal N", "127: the
// command was not found" (one crab-can line); Signals: "SIGTERM ... sent to crab-can [is]
// passed on to the command".
#[test]
fn exit_statuses_and_sigterm() {
    let _g = rootless::shared();
    let u = user();
    for (script, code) in [("exit 3", 3), ("true", 0), ("kill -9 $$", 137)] {
        let r = u.sh(Uidmap::Off, &[], script);
        assert_eq!(r.exit_code(), code, "{script}: {}", show(&r));
        no_crab_line(&r);
    }
    let missing = format!("no-such-cmd-{}", std::process::id());
    assert_error(&u.run(Uidmap::Off, &[], &[&missing]), 127, &missing);
    assert_error(
        &u.run(Uidmap::Off, &[], &["/no/such/path"]),
        127,
        "/no/such/path",
    );

    for m in modes(test_name!()) {
        let mut bg = Bg::start(u.command(m, &run_args(u.image(), &[], &["sleep", "7201"])));
        let sleeper = bg.wait_desc(&["sleep", "7201"]);
        bg.signal(libc::SIGTERM);
        let r = bg.wait_within(10);
        assert_eq!(r.exit_code(), 143, "{m:?}: {}", show(&r));
        assert!(
            wait_for(2, || !alive(sleeper)),
            "{m:?}: the command survived"
        );
    }
}

// Contract: "The promises of 'What the command sees' hold, with the capabilities held inside
// that namespace": Docker's default set, no_new_privs, the filter, as a root run of the same
// image shows; "a non-root user none".
#[test]
fn capabilities_no_new_privs_and_seccomp_as_for_root() {
    let _g = rootless::shared();
    let keys = [
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ];
    let root = crab(&run_args(image(), &[], &["cat", "/proc/self/status"]));
    assert_eq!(root.exit_code(), 0, "the root run: {}", show(&root));
    let root = fields(&root.stdout);
    let default = cap_hex(DEFAULT_CAPS);
    assert_eq!(root["CapEff"], default, "the root run");
    let u = user();
    for m in modes(test_name!()) {
        let r = u.run(m, &[], &["cat", "/proc/self/status"]);
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        let f = fields(&r.stdout);
        for k in keys {
            assert_eq!(
                f.get(k),
                root.get(k),
                "{m:?}: {k} (root's run: {:?})",
                root.get(k)
            );
        }
        assert_eq!(f["CapEff"], default, "{m:?}");
        assert_eq!(f["CapBnd"], default, "{m:?}");
        assert_eq!(f["NoNewPrivs"], "1", "{m:?}");
        assert_eq!(f["Seccomp"], "2", "{m:?}");
        if m == Uidmap::On {
            let r = u.run(m, &["-u", "1000"], &["cat", "/proc/self/status"]);
            assert_eq!(r.exit_code(), 0, "-u 1000: {}", show(&r));
            let f = fields(&r.stdout);
            assert_eq!(f["CapEff"], cap_hex(0), "-u 1000");
            assert_eq!(f["CapPrm"], cap_hex(0), "-u 1000");
            assert_eq!(f["NoNewPrivs"], "1", "-u 1000");
            assert_eq!(f["Seccomp"], "2", "-u 1000");
            // "Supplementary groups are cleared" (setgroups is allowed with a range).
            assert_eq!(f["Groups"], "", "-u 1000: supplementary groups");
        }
    }
}

// Contract: "-v, --volume SRC:DST[:ro]: bind-mount host path SRC at DST inside; :ro makes it
// read-only"; design 1.7: ":ro volumes hold". Files root makes inside are the user's.
#[test]
fn volumes_are_writable_and_ro_holds() {
    let _g = rootless::shared();
    let u = user();
    for m in modes(test_name!()) {
        let d = u.fresh_dir(&format!("vol-{m:?}"));
        std::fs::write(d.join("from-host"), "host data\n").unwrap();
        std::os::unix::fs::chown(d.join("from-host"), Some(u.uid), Some(u.gid)).unwrap();
        let v = format!("{}:/data", d.display());
        let r = u.sh(
            m,
            &["-v", &v],
            "cat /data/from-host; echo inside > /data/made; mkdir /data/sub; stat -c %u:%g /data/made",
        );
        assert_eq!(r.exit_code(), 0, "{m:?} -v {v}: {}", show(&r));
        assert_eq!(r.stdout, "host data\n0:0\n", "{m:?}");
        assert_eq!(std::fs::read_to_string(d.join("made")).unwrap(), "inside\n");
        for f in ["made", "sub"] {
            let md = std::fs::metadata(d.join(f)).unwrap();
            assert_eq!(
                (md.uid(), md.gid()),
                (u.uid, u.gid),
                "{m:?}: owner of {f} made inside, seen from the host"
            );
        }

        let v = format!("{}:/data:ro", d.display());
        let r = u.sh(
            m,
            &["-v", &v],
            "cat /data/made; probe write /data/ro-try x; probe write /data/made x; rm /data/from-host; \
             echo rm=$?; echo ===; cat /proc/self/mountinfo",
        );
        let p = parts(&r.stdout);
        assert_eq!(p.len(), 2, "{m:?} -v {v}: {}", show(&r));
        let l: Vec<&str> = p[0].lines().collect();
        assert_eq!(l[0], "inside", "{m:?}: {}", show(&r));
        assert_refused_line(l[1], "write", &["EROFS"], &r);
        assert_refused_line(l[2], "write", &["EROFS"], &r);
        assert_eq!(l[3], "rm=1", "{m:?}: {}", show(&r));
        let inside = parse_mountinfo(p[1]);
        let data = mount_at(&inside, "/data").expect("no /data mount");
        assert!(is_ro(data), "{m:?}: /data is not read-only: {}", data.opts);
        assert!(!d.join("ro-try").exists(), "{m:?}");
        assert_eq!(std::fs::read_to_string(d.join("made")).unwrap(), "inside\n");
        assert!(d.join("from-host").exists(), "{m:?}");
    }
}

/// A tmpfs mounted on the host with `opts` for the length of a test (unmounted, lazily, and
/// its directory removed when dropped).
struct HostMount(std::path::PathBuf);

impl HostMount {
    fn new(tag: &str, opts: &str) -> HostMount {
        let d = std::env::temp_dir().join(format!("crab-rl-{tag}-{}", std::process::id()));
        // One left by an earlier process of the same pid: gone first (quietly).
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&d)
            .stderr(std::process::Stdio::null())
            .status();
        std::fs::create_dir_all(&d).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("{opts},size=64m,mode=755")])
            .arg(format!("crab-rl-{tag}"))
            .arg(&d)
            .status()
            .expect("run mount");
        assert!(
            st.success(),
            "cannot mount a tmpfs with {opts} on {}",
            d.display()
        );
        HostMount(d)
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The mount options of `m` that a less privileged mount namespace inherits locked
/// (mount_namespaces(7)): ro, nosuid, nodev, noexec and the atime flags.
fn locked(m: &Mnt) -> BTreeSet<&str> {
    m.opts
        .split(',')
        .filter(|o| {
            [
                "nosuid",
                "nodev",
                "noexec",
                "noatime",
                "relatime",
                "nodiratime",
            ]
            .contains(o)
        })
        .collect()
}

// Design 1.3 4.9: "ro, nosuid, nodev, noexec and atime flags are locked in a less privileged
// mount namespace ... Use statvfs flags for every bind remount: root, volumes": an IMAGE on
// a nosuid,nodev,noatime mount runs, also --read-only; volumes from such a mount and from a
// noexec one work, :ro too, and keep those flags.
#[test]
fn locked_mount_flags_are_kept_for_the_root_and_volumes() {
    let _g = rootless::shared();
    let u = user();
    let a = HostMount::new("locked", "nosuid,nodev,noatime");
    let b = HostMount::new("noexec", "noexec,nosuid,nodev");
    let img = a.0.join("img");
    let st = Command::new("cp")
        .arg("-a")
        .arg(u.image())
        .arg(&img)
        .status()
        .unwrap();
    assert!(st.success());
    for d in [a.0.join("vol"), b.0.join("vol")] {
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(u.uid), Some(u.gid)).unwrap();
    }
    let va = format!("{}:/data", a.0.join("vol").display());
    let vb = format!("{}:/data", b.0.join("vol").display());
    let (var, vbr) = (format!("{va}:ro"), format!("{vb}:ro"));
    let script = "cat /proc/self/mountinfo";
    for m in modes(test_name!()) {
        for (image, opts, point, ro, want) in [
            (&img, vec![], "/", false, "nosuid nodev noatime"),
            (&img, vec!["--read-only"], "/", true, "nosuid nodev noatime"),
            (
                &img,
                vec!["-v", va.as_str()],
                "/data",
                false,
                "nosuid nodev noatime",
            ),
            (
                &img,
                vec!["-v", var.as_str()],
                "/data",
                true,
                "nosuid nodev noatime",
            ),
            (
                &img,
                vec!["-v", vb.as_str()],
                "/data",
                false,
                "nosuid nodev noexec",
            ),
            (
                &img,
                vec!["-v", vbr.as_str()],
                "/data",
                true,
                "nosuid nodev noexec",
            ),
        ] {
            let r = u.run_in(m, image, &opts, &["sh", "-c", script]);
            assert_eq!(r.exit_code(), 0, "{m:?} {opts:?}: {}", show(&r));
            let inside = parse_mountinfo(&r.stdout);
            let mnt = mount_at(&inside, point).unwrap_or_else(|| panic!("no {point}"));
            assert_eq!(is_ro(mnt), ro, "{m:?} {opts:?}: {point} is {}", mnt.opts);
            for f in want.split(' ') {
                assert!(
                    locked(mnt).contains(f),
                    "{m:?} {opts:?}: {point} lost {f}: {}",
                    mnt.opts
                );
            }
        }
        // The rw volume is writable, the ro one is not.
        let r = u.sh(
            m,
            &["-v", &va],
            "echo x > /data/w && echo w=ok; probe write /data/w y",
        );
        assert_eq!(r.stdout, "w=ok\nwrite: ok\n", "{m:?}: {}", show(&r));
        let r = u.run(m, &["-v", &var], &["probe", "write", "/data/w", "z"]);
        assert_refused_line(line1(&r), "write", &["EROFS"], &r);
    }
    drop(a);
    drop(b);
}

// Contract: "/sys is read-only" - with --net host too, where design 1.3 4.3 binds the
// host's /sys: every mount at /sys or below it is read-only (the host's /sys/fs/cgroup,
// its hierarchies and tracefs included), and nothing can be made there.
#[test]
fn net_host_sys_is_read_only_throughout() {
    let _g = rootless::shared();
    let u = user();
    for m in modes(test_name!()) {
        let r = u.sh(
            m,
            &["--net", "host"],
            "probe write /sys/fs/cgroup/crab-rl-x x; probe write /sys/crab-rl-x x; echo ===; \
             cat /proc/self/mountinfo",
        );
        let p = parts(&r.stdout);
        assert_eq!(p.len(), 2, "{m:?}: {}", show(&r));
        for l in p[0].lines() {
            assert!(
                !l.ends_with(": ok"),
                "{m:?}: a write under /sys worked: {}",
                show(&r)
            );
        }
        let rw: Vec<String> = parse_mountinfo(p[1])
            .iter()
            .filter(|x| x.point == "/sys" || x.point.starts_with("/sys/"))
            .filter(|x| !is_ro(x))
            .map(|x| format!("{} {} ({})", x.point, x.opts, x.fstype))
            .collect();
        assert_eq!(
            rw,
            Vec::<String>::new(),
            "{m:?}: writable mounts under /sys with --net host"
        );
    }
}

// Contract: containers are independent (as for root: ten at once); with a range, each gets
// its own maps through newuidmap at the same time.
#[test]
fn ten_containers_at_once() {
    let _g = rootless::shared();
    let u = user();
    let ms = modes(test_name!());
    let names: Vec<String> = (0..10).map(|k| name(&format!("rlten{k}"))).collect();
    let mut bgs: Vec<(Uidmap, Bg)> = names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            let m = ms[k % ms.len()];
            let c = u.command(
                m,
                &run_args(
                    u.image(),
                    &["--name", n],
                    &[
                        "sh",
                        "-c",
                        "sleep 1.5; echo $(hostname) $$; cat /proc/self/uid_map",
                    ],
                ),
            );
            (m, Bg::start(c))
        })
        .collect();
    for (_, bg) in bgs.iter_mut() {
        bg.wait_desc(&["sleep", "1.5"]);
    }
    let rows = |m: Uidmap| -> Vec<[u64; 3]> {
        let mut v = vec![[0, u.uid as u64, 1]];
        if m == Uidmap::On {
            let r = u.sub_range("/etc/subuid").unwrap();
            v.push([1, r.start as u64, r.count as u64]);
        }
        v
    };
    for ((m, bg), n) in bgs.into_iter().zip(&names) {
        let r = bg.wait_within(30);
        assert_eq!(r.exit_code(), 0, "{n} ({m:?}): {}", show(&r));
        let (first, maps) = r.stdout.split_once('\n').unwrap();
        assert_eq!(first, format!("{n} 2"), "{m:?}");
        assert_eq!(map_rows(maps), rows(m), "{n} ({m:?})");
    }
}

// ---- running containers: exec, ps, kill ------------------------------------------------------

/// The NAME column of `crab-can ps` (table).
fn ps_names(r: &Run) -> Vec<String> {
    r.stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
}

/// `u.bin() ps` as the user lists `n`.
fn user_ps_lists(u: &User, m: Uidmap, n: &str) -> bool {
    ps_names(&u.crab(m, &["ps"])).iter().any(|x| x == n)
}

/// A container the user started with `--name NAME` in the background; its command's host pid.
/// Dropping it kills its crab-can (SIGKILL) and with it the container.
struct UserCtr {
    bg: Bg,
    name: String,
    cmd: i32,
}

impl UserCtr {
    #[track_caller]
    fn start(u: &User, m: Uidmap, img: &Path, tag: &str, argv: &[&str]) -> UserCtr {
        let n = name(tag);
        let mut bg = Bg::start(u.command(m, &run_args(img, &["--name", &n], argv)));
        let cmd = bg.wait_desc(argv);
        assert!(
            wait_for(10, || user_ps_lists(u, m, &n)),
            "{n} is not in the user's `crab-can ps` 10 s after its start"
        );
        UserCtr { bg, name: n, cmd }
    }
}

/// `/proc/PID/ns/*` of the kinds a container has.
const NS_KINDS: [&str; 7] = ["user", "mnt", "pid", "net", "uts", "ipc", "cgroup"];

fn ns_links(pid: i32) -> Vec<String> {
    NS_KINDS
        .iter()
        .map(|k| {
            std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect()
}

/// What an exec'd command prints about itself: its status, its namespaces, its uid.
const SELF: &str = "cat /proc/self/status; echo ===; for k in user mnt pid net uts ipc cgroup; do \
     readlink /proc/self/ns/$k; done; echo ===; id -u";

// Contract (Running containers): exec runs the command "in all of its namespaces ... with the
// same capabilities, no_new_privs, seccomp filter and user as the container's command"; "Only
// the user who started a container, and root, can exec into it"; design 2.5: "rootless run;
// exec as owner / other user / root: works / refused / works". Root names the user's
// container `uUID/NAME`.
#[test]
fn owner_and_root_exec_into_the_users_container_another_user_cannot() {
    let _g = rootless::shared();
    let u = user();
    let other = rootless::user_without_range();
    for m in modes(test_name!()) {
        let img = u.fresh_image(&format!("exec-{m:?}"));
        let c = UserCtr::start(u, m, &img, &format!("rlexec{m:?}"), &["sleep", "7601"]);
        let n = c.name.as_str();
        let root_name = format!("u{}/{n}", u.uid);
        let st = fields(&std::fs::read_to_string(format!("/proc/{}/status", c.cmd)).unwrap());
        let ns = ns_links(c.cmd);
        for (who, r) in [
            ("owner", u.crab(m, &["exec", n, "sh", "-c", SELF])),
            ("root", crab(&["exec", &root_name, "sh", "-c", SELF])),
        ] {
            assert_eq!(r.exit_code(), 0, "{m:?}: exec by the {who}: {}", show(&r));
            let p = parts(&r.stdout);
            assert_eq!(p.len(), 3, "{m:?} {who}: {}", show(&r));
            let f = fields(p[0]);
            for k in ["CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp"] {
                assert_eq!(f.get(k), st.get(k), "{m:?}: {k} of the {who}'s exec");
            }
            let got: Vec<&str> = p[1].lines().collect();
            assert_eq!(got, ns, "{m:?}: namespaces of the {who}'s exec");
            assert_eq!(p[2], "0\n", "{m:?}: uid of the {who}'s exec");
        }
        assert_eq!(
            u.crab(m, &["exec", n, "sh", "-c", "exit 5"]).exit_code(),
            5,
            "{m:?}: the owner's exec status"
        );
        // Another user: refused, under either name, and nothing runs.
        for target in [n, root_name.as_str()] {
            let r = other.crab(Uidmap::Off, &["exec", target, "touch", "/tmp/by-other"]);
            assert_eq!(
                r.exit_code(),
                125,
                "{m:?}: another user's exec {target}: {}",
                show(&r)
            );
            assert!(r.stderr.starts_with("crab-can: "), "{}", show(&r));
            assert_eq!(r.stderr.lines().count(), 1, "{}", show(&r));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            !img.join("tmp/by-other").exists(),
            "{m:?}: another user's exec ran"
        );
        assert!(alive(c.cmd));
        drop(c);
    }
}

// Issue "Rootless", OCI mode: `spec --rootless` writes a config with a user namespace, and
// create, start, state, exec, kill and delete work as an ordinary user, with the state under
// $XDG_RUNTIME_DIR (as runc); no cgroup is made; delete leaves nothing.
#[test]
fn oci_lifecycle_as_the_user() {
    let _g = rootless::shared();
    let u = user();
    let bundle = u.fresh_dir("ocibundle");
    let xdg = u.fresh_dir("ocixdg");
    let rootfs = u.fresh_image("ocirootfs");
    let bin = u.bin();
    let cmd = |args: &[&str]| {
        let mut a = vec![
            format!("XDG_RUNTIME_DIR={}", xdg.display()),
            bin.display().to_string(),
        ];
        a.extend(args.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        u.command_of(Uidmap::Off, "/usr/bin/env", &a)
    };
    let oci = |args: &[&str]| run_command(cmd(args));
    // The container's stdio is create's: not the test's pipes, which it would hold open.
    let quiet = |args: &[&str]| {
        cmd(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    let b = bundle.to_str().unwrap();
    let r = oci(&["spec", "-b", b, "--rootless"]);
    assert_eq!(r.exit_code(), 0, "spec --rootless: {}", show(&r));
    let cfg = bundle.join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("\"type\": \"user\""),
        "no user namespace: {text}"
    );
    let text = text
        .replacen(
            "\"path\": \"rootfs\"",
            &format!("\"path\": \"{}\"", rootfs.display()),
            1,
        )
        .replacen("\"terminal\": true", "\"terminal\": false", 1)
        .replacen("\"sh\"", "\"sleep\", \"7604\"", 1);
    std::fs::write(&cfg, text).unwrap();
    let id = name("rloci");
    // Whatever fails below, the container goes (a created one waits at its gate for ever).
    struct Gone<'a>(&'a dyn Fn(&[&str]) -> Option<i32>, &'a str);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            (self.0)(&["delete", "--force", self.1]);
        }
    }
    let _gone = Gone(&quiet, &id);
    assert_eq!(quiet(&["create", "-b", b, &id]), Some(0), "create");
    let state = xdg.join("crab-can-oci");
    assert!(
        state.join(&id).exists(),
        "no state under $XDG_RUNTIME_DIR: {state:?}"
    );
    assert!(
        oci(&["state", &id])
            .stdout
            .contains("\"status\":\"created\"")
    );
    assert_eq!(oci(&["start", &id]).exit_code(), 0);
    assert!(wait_for(10, || oci(&["state", &id])
        .stdout
        .contains("\"status\":\"running\"")));
    let r = oci(&["exec", &id, "id", "-u"]);
    assert_eq!(
        (r.exit_code(), r.stdout.trim()),
        (0, "0"),
        "exec: {}",
        show(&r)
    );
    let cgroups: Vec<std::path::PathBuf> = rootless::dirs_under(Path::new("/sys/fs/cgroup"), 3)
        .into_iter()
        .filter(|d| d.to_string_lossy().contains(&id))
        .collect();
    assert!(
        cgroups.is_empty(),
        "cgroups of a rootless OCI container: {cgroups:?}"
    );
    assert_eq!(oci(&["kill", &id, "KILL"]).exit_code(), 0);
    assert!(wait_for(10, || oci(&["state", &id])
        .stdout
        .contains("\"status\":\"stopped\"")));
    let r = oci(&["delete", &id]);
    assert_eq!(r.exit_code(), 0, "delete: {}", show(&r));
    let left: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "left under $XDG_RUNTIME_DIR/crab-can-oci: {left:?}"
    );
    assert_eq!(oci(&["state", &id]).exit_code(), 1);
}

// Rootless, a process of a `--net host` container runs as the owner seen from the host and
// reaches the owner's names: the run answers only callers of its own PID namespace, so
// one of the user's containers learns nothing of another (its environment, its init's
// pidfd, its root and namespaces).
#[test]
fn a_users_container_on_the_hosts_network_learns_nothing_of_the_others() {
    let _g = rootless::shared();
    let u = user();
    let img = u.fresh_image("asknet");
    let c = UserCtr::start(u, Uidmap::Off, &img, "rlask", &["sleep", "7603"]);
    let n = c.name.as_str();
    let r = u.run(
        Uidmap::Off,
        &["--net", "host"],
        &["/bin/probe", "ask", &format!("u{}/{n}", u.uid)],
    );
    assert_eq!(r.stdout.trim(), "ask: bytes=0 fds=0", "{}", show(&r));
    // The owner's own `ps` on the host still sees it.
    let r = u.crab(Uidmap::Off, &["ps"]);
    assert!(r.stdout.contains(n), "{}", show(&r));
}

// Contract: "ps lists the running containers"; "kill sends a signal (default TERM ...) to
// NAME's command, as a signal to crab-can run would"; "Only the user who started a
// container, and root, can ... kill it". Root's ps shows the user's as uUID/NAME, another
// user's does not show it.
#[test]
fn owner_and_root_kill_and_ps_the_users_container() {
    let _g = rootless::shared();
    let u = user();
    let other = rootless::user_without_range();
    for m in modes(test_name!()) {
        let c = UserCtr::start(u, m, u.image(), &format!("rlkill{m:?}"), &["sleep", "7602"]);
        let root_name = format!("u{}/{}", u.uid, c.name);
        let root_ps = crab(&["ps"]);
        assert_eq!(root_ps.exit_code(), 0, "{}", show(&root_ps));
        assert!(
            ps_names(&root_ps).contains(&root_name),
            "{m:?}: root's ps should list {root_name}: {}",
            root_ps.stdout
        );
        let other_ps = other.crab(Uidmap::Off, &["ps"]);
        assert_eq!(other_ps.exit_code(), 0, "{}", show(&other_ps));
        assert!(
            !other_ps.stdout.contains(&c.name),
            "{m:?}: another user's ps lists {}: {}",
            c.name,
            other_ps.stdout
        );
        for target in [c.name.as_str(), root_name.as_str()] {
            let r = other.crab(Uidmap::Off, &["kill", "-s", "KILL", target]);
            assert_eq!(
                r.exit_code(),
                125,
                "{m:?}: another user's kill {target}: {}",
                show(&r)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            alive(c.cmd),
            "{m:?}: another user's kill reached the container"
        );
        let r = u.crab(m, &["kill", &c.name]);
        assert_eq!(r.exit_code(), 0, "{m:?}: the owner's kill: {}", show(&r));
        let UserCtr { bg, .. } = c;
        assert_eq!(
            bg.wait_within(10).exit_code(),
            143,
            "{m:?}: kill by the owner"
        );

        let c = UserCtr::start(
            u,
            m,
            u.image(),
            &format!("rlkill9{m:?}"),
            &["sleep", "7603"],
        );
        let root_name = format!("u{}/{}", u.uid, c.name);
        let r = crab(&["kill", "-s", "KILL", &root_name]);
        assert_eq!(
            r.exit_code(),
            0,
            "{m:?}: root's kill {root_name}: {}",
            show(&r)
        );
        let UserCtr { bg, .. } = c;
        assert_eq!(
            bg.wait_within(10).exit_code(),
            137,
            "{m:?}: kill -s KILL by root"
        );
    }
}

// Design 2.1: "Rootless: @crab-can/u<UID>/NAME": a user's names and root's are apart - each
// may run a container of a name the other's running container has; two of the user's own
// cannot share one.
#[test]
fn names_of_root_and_of_the_user_are_apart() {
    let _g = rootless::shared();
    let u = user();
    let n = name("rlsame");
    let mut root_c = Bg::run(&["--name", &n], &["sleep", "7604"]);
    root_c.wait_desc(&["sleep", "7604"]);
    let r = u.run(Uidmap::Off, &["--name", &n], &["hostname"]);
    assert_eq!(
        r.exit_code(),
        0,
        "the user's run of a name root's container has: {}",
        show(&r)
    );
    assert_eq!(r.stdout.trim(), n);
    drop(root_c);

    let c = UserCtr::start(u, Uidmap::Off, u.image(), "rlsame2", &["sleep", "7605"]);
    let r = crab(&["run", "--name", &c.name, img(), "hostname"]);
    assert_eq!(
        r.exit_code(),
        0,
        "root's run of a name the user's container has: {}",
        show(&r)
    );
    assert_eq!(r.stdout.trim(), c.name);
    let r = u.run(Uidmap::Off, &["--name", &c.name], &["echo", "second-ran"]);
    assert_error(&r, 125, "already running");
    assert!(!r.stdout.contains("second-ran"));
    assert!(alive(c.cmd));
}

// ---- limits ------------------------------------------------------------------------------

/// Whether a line of `strace -y` changes something under /sys/fs/cgroup: a directory made or
/// removed, a file made, removed, renamed, chowned or written, or opened for writing there
/// (the path in the call's first two arguments; fds show as `N</path>`).
fn cgroup_write(line: &str) -> bool {
    let Some((head, args)) = line.split_once('(') else {
        return false;
    };
    let call = head.split_whitespace().last().unwrap_or("");
    let a: Vec<&str> = args.splitn(3, ", ").collect();
    let data = matches!(call, "write" | "pwrite64" | "writev");
    // A write's second argument is the data, not a path.
    let target = if data {
        a[..1].concat()
    } else {
        a[..a.len().min(2)].concat()
    };
    if !target.contains("/sys/fs/cgroup") {
        return false;
    }
    match call {
        "open" | "openat" | "openat2" => ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
            .iter()
            .any(|f| line.contains(f)),
        "creat" | "mkdir" | "mkdirat" | "rmdir" | "unlink" | "unlinkat" | "rename" | "renameat"
        | "renameat2" | "chown" | "fchown" | "fchownat" | "lchown" => true,
        _ => data,
    }
}

/// strace's record of a run, and the lines of it that change something under /sys/fs/cgroup
/// (made, removed, renamed, written, opened for writing, chowned).
fn strace_cgroup_writes(u: &User, m: Uidmap, args: &[&str]) -> (Run, Vec<String>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static K: AtomicUsize = AtomicUsize::new(0);
    let out = std::env::temp_dir().join(format!(
        "crab-rl-strace-{}-{}",
        std::process::id(),
        K.fetch_add(1, Ordering::Relaxed)
    ));
    let mut argv = vec![
        "-f".to_string(),
        "-qq".to_string(),
        "-y".to_string(),
        "-o".to_string(),
        out.to_str().unwrap().to_string(),
        "-e".to_string(),
        "trace=open,openat,openat2,creat,mkdir,mkdirat,rmdir,unlink,unlinkat,rename,renameat,\
         renameat2,write,pwrite64,writev,chown,fchown,fchownat,lchown"
            .to_string(),
        "--".to_string(),
    ];
    argv.extend(u.argv(m, u.bin().to_str().unwrap(), args));
    let a: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut c = command_for("strace", &a);
    c.current_dir(&u.home);
    let r = run_command(c);
    let trace = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    assert!(
        trace.contains("execve") || trace.contains("open"),
        "strace recorded nothing; {}",
        show(&r)
    );
    let writes = trace
        .lines()
        .filter(|l| cgroup_write(l))
        .map(str::to_string)
        .collect();
    (r, writes)
}

// Contract ("Without root"): "Limits need a cgroup v2 subtree the user owns (delegated);
// elsewhere a limit is exit 125 with one line saying what is missing"; design 1.4: on v1 or
// hybrid hosts `... need cgroup v2 delegation when not root ...`, and nothing is written.
// (An explicit --cgroup-parent is refused alike: "an explicit --cgroup-parent that cannot be
// made is an error".)
#[test]
fn limits_need_cgroup_v2_delegation() {
    let _g = rootless::shared();
    let needle = match cgroup_layout() {
        CgroupLayout::Hybrid { .. } => "need cgroup v2 delegation when not root",
        // The test's own cgroup is root's, not delegated to the user.
        CgroupLayout::V2 => "not delegated to you",
        CgroupLayout::None => {
            skip(test_name!(), "no cgroup filesystem on this host");
            return;
        }
    };
    let u = user();
    let mut names = Vec::new();
    for (k, opts) in [
        ["--memory", "64m"],
        ["--pids", "10"],
        ["--cpus", "1"],
        ["--memory=64m", "--pids=10"],
        ["--cgroup-parent", "crab-rl"],
    ]
    .iter()
    .enumerate()
    {
        let n = name(&format!("rllim{k}"));
        let mut o = vec!["--name", n.as_str()];
        o.extend_from_slice(opts);
        let r = u.run(Uidmap::Off, &o, &["echo", "ran"]);
        // --cgroup-parent is refused on any layout: the container's cgroup goes in crab-can's
        // own delegated one (tests/vm/guest/tmpfs-rootless.sh checks the limits on v2).
        let want = match opts[0] {
            "--cgroup-parent" => "--cgroup-parent is not supported when not root",
            _ => needle,
        };
        assert_error(&r, 125, want);
        assert!(r.stdout.is_empty(), "{opts:?}: {}", show(&r));
        names.push(n);
    }
    let left = Leftovers::snapshot().left(u, &names);
    assert!(
        !left.iter().any(|l| l.starts_with("cgroup")),
        "cgroups of the refused runs: {left:?}"
    );
    // Nothing under /sys/fs/cgroup is written, made or removed on the way to the refusal.
    if Path::new("/usr/bin/strace").exists() {
        let n = name("rllimst");
        let (r, writes) = strace_cgroup_writes(
            u,
            Uidmap::Off,
            &run_args(u.image(), &["--name", &n, "--memory", "64m"], &["true"]),
        );
        assert_error(&r, 125, needle);
        assert_eq!(
            writes,
            Vec::<String>::new(),
            "cgroup writes of a refused run"
        );
    } else {
        skip(
            test_name!(),
            "no /usr/bin/strace (tests/deps.sh installs it)",
        );
    }
}

// Design 1.4: "Only for a limit or --cgroup-parent; otherwise touch nothing and all else
// works": a run without limits writes, makes and removes nothing under /sys/fs/cgroup.
#[test]
fn without_limits_nothing_cgroup_related_is_touched() {
    let _g = rootless::shared();
    if !Path::new("/usr/bin/strace").exists() {
        skip(
            test_name!(),
            "no /usr/bin/strace (tests/deps.sh installs it)",
        );
        return;
    }
    let u = user();
    for m in modes(test_name!()) {
        let n = name(&format!("rlnocg{m:?}"));
        let (r, writes) = strace_cgroup_writes(
            u,
            m,
            &run_args(u.image(), &["--name", &n], &["sh", "-c", "echo ran"]),
        );
        assert_eq!(r.exit_code(), 0, "{m:?} under strace: {}", show(&r));
        assert_eq!(r.stdout, "ran\n");
        assert_eq!(
            writes,
            Vec::<String>::new(),
            "{m:?}: cgroup writes of a run without limits"
        );
        let left = Leftovers::snapshot().left(u, &[n]);
        assert!(
            !left.iter().any(|l| l.starts_with("cgroup")),
            "{m:?}: {left:?}"
        );
    }
}

// ---- escapes, tried as root of the user namespace -----------------------------------------------

// Contract: "the default system-call filter refuses ... mount and namespace calls"; design
// 1.7: "mount -t proc ... fail inside".
#[test]
fn mount_inside_is_refused() {
    let _g = rootless::shared();
    let u = user();
    let before = host_mounts_with(u.dir.to_str().unwrap());
    for m in modes(test_name!()) {
        let r = u.sh(
            m,
            &[],
            "mount -t proc proc /mnt; echo proc=$?; mount -t tmpfs x /mnt; echo tmpfs=$?; \
             mount --bind /tmp /mnt; echo bind=$?; probe mount; grep -c ' /mnt ' /proc/self/mountinfo",
        );
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.len(), 5, "{m:?}: {}", show(&r));
        for (i, k) in ["proc", "tmpfs", "bind"].iter().enumerate() {
            let rc = l[i].strip_prefix(&format!("{k}=")).unwrap();
            assert_ne!(rc, "0", "{m:?}: mount {k} on /mnt succeeded; {}", show(&r));
        }
        assert_refused_line(l[3], "mount", &["EPERM"], &r);
        assert_eq!(
            l[4],
            "0",
            "{m:?}: something is mounted on /mnt; {}",
            show(&r)
        );
    }
    assert_eq!(host_mounts_with(u.dir.to_str().unwrap()), before);
}

// Contract: "... namespace calls" are refused; design 1.7: "unshare -Ur fail inside": no
// nested user namespace (nor any other).
#[test]
fn nested_user_namespaces_are_refused() {
    let _g = rootless::shared();
    let u = user();
    for m in modes(test_name!()) {
        let r = u.sh(
            m,
            &[],
            "unshare -r true; echo unshare-r=$?; unshare -U true; echo unshare-U=$?; \
             probe unshare user; probe unshare mnt; probe clone-ns",
        );
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.len(), 5, "{m:?}: {}", show(&r));
        assert_ne!(
            l[0],
            "unshare-r=0",
            "{m:?}: unshare -r worked; {}",
            show(&r)
        );
        assert_ne!(
            l[1],
            "unshare-U=0",
            "{m:?}: unshare -U worked; {}",
            show(&r)
        );
        assert_refused_line(l[2], "unshare", &["EPERM"], &r);
        assert_refused_line(l[3], "unshare", &["EPERM"], &r);
        assert_refused_line(l[4], "clone-ns", &["EPERM"], &r);
    }
}

// Contract: "/ is IMAGE; the host's root is not reachable by any path"; only fds 0-2 inside
// even when the caller leaks more.
#[test]
fn host_files_and_fds_stay_unreachable() {
    let _g = rootless::shared();
    let u = user();
    let marker = format!("crab-rl-host-marker-{}", std::process::id());
    let host_file = Path::new("/tmp").join(&marker);
    std::fs::write(&host_file, "host").unwrap();
    std::fs::set_permissions(&host_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let want: BTreeSet<String> = std::fs::read_dir(u.image())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let script = format!(
        "echo root=$(ls /); echo self=$(ls /proc/self/root); echo up=$(cd /../../..; ls); \
         for p in /tmp/{m} /../tmp/{m} /proc/self/root/tmp/{m} /proc/1/root/tmp/{m} \
         /proc/1/root/../tmp/{m} /proc/1/cwd/tmp/{m}; do [ -e $p ] && echo VISIBLE $p; done; \
         echo one=$(ls /proc/1/root 2>&1)",
        m = marker
    );
    let runs: Vec<(Uidmap, Run)> = modes(test_name!())
        .into_iter()
        .map(|m| (m, u.sh(m, &[], &script)))
        .collect();
    std::fs::remove_file(&host_file).unwrap();
    for (m, r) in runs {
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        assert!(
            !r.stdout.contains("VISIBLE"),
            "{m:?}: host file reachable: {}",
            r.stdout
        );
        for key in ["root", "self", "up"] {
            let line = r
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap();
            let got: BTreeSet<String> = line.split_whitespace().map(str::to_string).collect();
            assert_eq!(got, want, "{m:?}: {key}: not the image's root");
        }
        // /proc/1/root: the image, or refused (the init is not dumpable); never the host's.
        let one = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("one="))
            .unwrap();
        if !one.contains("Permission denied") {
            let got: BTreeSet<String> = one.split_whitespace().map(str::to_string).collect();
            assert_eq!(got, want, "{m:?}: /proc/1/root: {one}");
        }
    }

    // A host fd handed down through setpriv to crab-can does not reach the command.
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/etc/hostname").unwrap();
    let fd = f.as_raw_fd();
    let mut c = u.command_of(Uidmap::Off, "/bin/ls", &["/proc/self/fd"]);
    leak_fd(&mut c, fd);
    let host = run_command(c);
    let host_fds: Vec<&str> = host.stdout.lines().collect();
    assert!(
        host_fds.contains(&"7") && host_fds.contains(&"250"),
        "the leak does not reach the user's program on the host: {}",
        show(&host)
    );
    for m in modes(test_name!()) {
        let mut c = u.command(m, &run_args(u.image(), &[], &["/bin/probe", "fds"]));
        leak_fd(&mut c, fd);
        let r = run_command(c);
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        assert_eq!(
            r.stdout, "fds: ok\n0 1 2\n",
            "{m:?}: fds leaked into the container"
        );
        let mut c = u.command(
            m,
            &run_args(u.image(), &[], &["sh", "-c", "echo $(ls /proc/self/fd)"]),
        );
        leak_fd(&mut c, fd);
        let r = run_command(c);
        assert_eq!(
            r.stdout, "0 1 2 3\n",
            "{m:?}: fds leaked into the container (ls)"
        );
    }
    drop(f);
}

// Design 1.2: "Unmapped host ids show as 65534 and ns-root cannot override them: a
// root-owned image is unwritable": a file and a directory of the real root in IMAGE cannot be
// written, chowned or chmodded from inside.
#[test]
fn files_of_the_real_root_cannot_be_written_or_chowned() {
    let _g = rootless::shared();
    let u = user();
    for m in modes(test_name!()) {
        let img = u.fresh_image(&format!("rootfile-{m:?}"));
        let f = img.join("etc/rootfile");
        std::fs::write(&f, "real root's\n").unwrap();
        std::os::unix::fs::chown(&f, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let d = img.join("rootdir");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = u.run_in(
            m,
            &img,
            &[],
            &[
                "sh",
                "-c",
                "stat -c %u:%g /etc/rootfile; probe write /etc/rootfile pwned; \
                 chown 0:0 /etc/rootfile; echo chown=$?; chmod 666 /etc/rootfile; echo chmod=$?; \
                 probe write /rootdir/new x; cat /etc/rootfile",
            ],
        );
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.len(), 6, "{m:?}: {}", show(&r));
        assert_eq!(
            l[0], "65534:65534",
            "{m:?}: the real root's file seen inside"
        );
        assert_refused_line(l[1], "write", &["EACCES", "EPERM"], &r);
        assert_ne!(
            l[2], "chown=0",
            "{m:?}: chown of the real root's file worked"
        );
        assert_ne!(
            l[3], "chmod=0",
            "{m:?}: chmod of the real root's file worked"
        );
        assert_refused_line(l[4], "write", &["EACCES", "EPERM"], &r);
        assert_eq!(l[5], "real root's", "{m:?}");
        let md = std::fs::metadata(&f).unwrap();
        assert_eq!(
            (md.uid(), md.gid(), md.mode() & 0o7777),
            (0, 0, 0o644),
            "{m:?}"
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "real root's\n");
        assert!(!d.join("new").exists(), "{m:?}");
    }
}

// Design 1.2 and 1.7: a root-owned IMAGE (unmapped owner: nobody inside) is unwritable by
// the user's root inside; it runs, with and without --read-only, and nothing lands in it.
#[test]
fn root_owned_image_runs_and_stays_unwritten() {
    let _g = rootless::shared();
    let img = fresh_image("rl-rootimg");
    let before: BTreeSet<String> = std::fs::read_dir(&img)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let u = user();
    for m in modes(test_name!()) {
        for opts in [&[][..], &["--read-only"][..]] {
            let r = u.run_in(
                m,
                &img,
                opts,
                &[
                    "sh",
                    "-c",
                    "id -u; stat -c %u /bin/busybox; probe write /written x; probe write /etc/passwd x",
                ],
            );
            let l: Vec<&str> = r.stdout.lines().collect();
            assert_eq!(l.len(), 4, "{m:?} {opts:?}: {}", show(&r));
            assert_eq!(l[..2], ["0", "65534"], "{m:?} {opts:?}: {}", show(&r));
            let errs: &[&str] = if opts.is_empty() {
                &["EACCES", "EPERM"]
            } else {
                &["EROFS", "EACCES", "EPERM"]
            };
            assert_refused_line(l[2], "write", errs, &r);
            assert_refused_line(l[3], "write", errs, &r);
        }
    }
    let after: BTreeSet<String> = std::fs::read_dir(&img)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(before, after, "something landed in the root-owned image");
    assert!(
        std::fs::read_to_string(img.join("etc/passwd"))
            .unwrap()
            .starts_with("root:")
    );
}

// Design 1.3 4.6: "mknod needs CAP_MKNOD in the initial namespace" - a node of the host's
// root disk cannot be made inside; and the host's nodes bound into /dev cannot be changed
// or removed from inside (they stay the host's, mode 0666, root's).
#[test]
fn device_nodes_cannot_be_made_or_changed() {
    let _g = rootless::shared();
    let nodes = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];
    let before: Vec<(u32, u32, u64)> = nodes
        .iter()
        .map(|n| {
            let m = std::fs::metadata(n).unwrap();
            (m.mode(), m.uid(), m.rdev())
        })
        .collect();
    let dev = std::fs::metadata("/").unwrap().dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let u = user();
    for m in modes(test_name!()) {
        let r = u.sh(
            m,
            &[],
            &format!(
                "probe mknod-read /tmp/disk {maj} {min}; chmod 600 /dev/null; echo chmod=$?; \
                 chown 5:5 /dev/zero; echo chown=$?; rm -f /dev/full; echo rm=$?; \
                 probe write /dev/null x; mknod /tmp/c c 1 3; echo mknod=$?"
            ),
        );
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.len(), 6, "{m:?}: {}", show(&r));
        assert_refused_line(l[0], "mknod-read", &["EPERM"], &r);
        assert_ne!(
            l[1], "chmod=0",
            "{m:?}: chmod of the host's /dev/null worked"
        );
        assert_ne!(
            l[2], "chown=0",
            "{m:?}: chown of the host's /dev/zero worked"
        );
        assert_ne!(l[3], "rm=0", "{m:?}: /dev/full was removed");
        assert_eq!(l[4], "write: ok", "{m:?}: /dev/null is not writable");
        assert_ne!(l[5], "mknod=0", "{m:?}: mknod of a character device worked");
    }
    let after: Vec<(u32, u32, u64)> = nodes
        .iter()
        .map(|n| {
            let m = std::fs::metadata(n).unwrap();
            (m.mode(), m.uid(), m.rdev())
        })
        .collect();
    assert_eq!(before, after, "the host's device nodes {nodes:?} changed");
}

// Design 1.3 step 2: "crab-can's init goes non-dumpable after the go byte": root of the user
// namespace cannot ptrace it, join its namespaces or read its memory, environment or exe.
#[test]
fn init_cannot_be_ptraced_or_joined() {
    let _g = rootless::shared();
    for m in modes(test_name!()) {
        let r = user().sh(
            m,
            &[],
            "probe ptrace 1; probe setns /proc/1/ns/mnt; probe read /proc/1/environ; \
             probe read /proc/1/mem; probe open-write /proc/1/exe",
        );
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.len(), 5, "{m:?}: {}", show(&r));
        assert_refused_line(l[0], "ptrace", &["EPERM", "EACCES"], &r);
        assert_refused_line(l[1], "setns", &["EPERM", "EACCES"], &r);
        assert_refused_line(l[2], "read", &["EPERM", "EACCES"], &r);
        assert_refused_line(l[3], "read", &["EPERM", "EACCES", "EIO"], &r);
        assert_refused_line(l[4], "open-write", &["EPERM", "EACCES", "ETXTBSY"], &r);
    }
}

// Contract: "/proc/sysrq-trigger ... read-only": a write fails (an empty one: harmless should
// it succeed); on a kernel without it, it cannot be made either.
#[test]
fn sysrq_trigger_cannot_be_written() {
    let _g = rootless::shared();
    let exists = Path::new("/proc/sysrq-trigger").exists();
    for m in modes(test_name!()) {
        let r = user().run(m, &[], &["probe", "write", "/proc/sysrq-trigger", ""]);
        assert_eq!(r.exit_code(), 1, "{m:?}: {}", show(&r));
        if exists {
            assert_refused_line(line1(&r), "write", &["EROFS", "EPERM", "EACCES"], &r);
        } else {
            assert!(line1(&r).starts_with("write: E"), "{m:?}: {}", show(&r));
        }
    }
}

// ---- nothing left behind --------------------------------------------------------------------

/// Fail with what is left of the user's runs, waiting up to 5 s for it to go.
#[track_caller]
fn assert_nothing_left(before: &Leftovers, u: &User, names: &[String], what: &str) {
    let mut left = Vec::new();
    wait_for(5, || {
        left = before.left(u, names);
        left.is_empty()
    });
    assert!(left.is_empty(), "left after {what}:\n{}", left.join("\n"));
}

// Contract (Errors): "No panic, no backtrace, no half-built state left behind"; Signals: "If
// crab-can itself is killed, the container dies with it"; design 1.4: nothing cgroup-related
// without limits. After runs ending every way, SIGKILL of crab-can included: no process of
// the user, no mount on the host, no state file, no cgroup.
#[test]
fn nothing_left_after_runs_and_a_sigkill() {
    let _g = rootless::exclusive();
    let u = user();
    let before = Leftovers::snapshot();
    let mut names = Vec::new();
    // The containers of the tests before this one die with their crab-can, a moment after
    // it (a test's guard SIGKILLs it).
    assert_nothing_left(&before, u, &names, "the tests before this one");
    let limited = !matches!(cgroup_layout(), CgroupLayout::None);
    for m in modes(test_name!()) {
        let tag = |t: &str| name(&format!("rlleft{t}{m:?}"));
        let n = tag("ok");
        let r = u.run(m, &["--name", &n], &["sh", "-c", "sleep 0.1 & echo ran"]);
        assert_eq!(r.exit_code(), 0, "{m:?}: {}", show(&r));
        names.push(n);
        let n = tag("three");
        assert_eq!(u.sh(m, &["--name", &n], "exit 3").exit_code(), 3);
        names.push(n);
        let n = tag("missing");
        assert_eq!(u.run(m, &["--name", &n], &["no-such-cmd"]).exit_code(), 127);
        names.push(n);
        // The init fails after it forked the command (which waits for its root): the
        // working directory cannot be made under a file.
        let n = tag("workdir");
        let r = u.run(m, &["--name", &n, "-w", "/etc/passwd/x"], &["true"]);
        assert_eq!(r.exit_code(), 125, "{m:?}: {}", show(&r));
        assert!(
            r.stderr
                .contains("cannot create working directory '/etc/passwd/x'"),
            "{m:?}: {}",
            show(&r)
        );
        names.push(n);
        if m == Uidmap::Off {
            let n = tag("unmapped");
            assert_eq!(
                u.run(m, &["--name", &n, "-u", "1000"], &["true"])
                    .exit_code(),
                125
            );
            names.push(n);
        }
        if limited {
            let n = tag("mem");
            let r = u.run(m, &["--name", &n, "--memory", "64m"], &["true"]);
            assert_eq!(r.exit_code(), 125, "{m:?}: {}", show(&r));
            names.push(n);
        }

        let n = tag("term");
        let mut bg =
            Bg::start(u.command(m, &run_args(u.image(), &["--name", &n], &["sleep", "7301"])));
        bg.wait_desc(&["sleep", "7301"]);
        bg.signal(libc::SIGTERM);
        assert_eq!(bg.wait_within(10).exit_code(), 143, "{m:?}");
        names.push(n);

        let n = tag("kill");
        let mut bg = Bg::start(u.command(
            m,
            &run_args(
                u.image(),
                &["--name", &n],
                &["sh", "-c", "sleep 7401 & sleep 7402"],
            ),
        ));
        bg.wait_desc(&["sleep", "7401"]);
        bg.wait_desc(&["sleep", "7402"]);
        assert_eq!(
            comm(bg.pid()),
            "crab-can",
            "setpriv and env should have exec'd crab-can"
        );
        let mut procs: Vec<i32> = descendants(bg.pid()).iter().map(|p| p.pid).collect();
        assert!(procs.len() >= 3, "{m:?}: {procs:?}");
        // An exec of the owner's into it runs too when crab-can is killed.
        assert!(
            wait_for(10, || user_ps_lists(u, m, &n)),
            "{m:?}: {n} not listed"
        );
        let mut exec = Bg::start(u.command(m, &["exec", &n, "sleep", "7403"]));
        let execd = exec.wait_desc(&["sleep", "7403"]);
        procs.extend([exec.pid(), execd]);
        bg.signal(libc::SIGKILL);
        let r = bg.wait_within(5);
        assert_eq!(r.signal, Some(libc::SIGKILL), "{m:?}: {}", show(&r));
        let r = exec.wait_within(5);
        assert_eq!(
            r.exit_code(),
            137,
            "{m:?}: the exec when the container died"
        );
        let gone = wait_for(2, || procs.iter().all(|p| !alive(*p)));
        let alive_left: Vec<i32> = procs.iter().copied().filter(|p| alive(*p)).collect();
        assert!(
            gone,
            "{m:?}: container processes alive 2 s after crab-can was killed: {alive_left:?}"
        );
        names.push(n.clone());
        // The name is free again.
        let r = u.run(m, &["--name", &n], &["hostname"]);
        assert_eq!(
            r.exit_code(),
            0,
            "{m:?}: the name after a SIGKILL: {}",
            show(&r)
        );
        assert_eq!(r.stdout.trim(), n);
    }
    assert_nothing_left(&before, u, &names, "runs ending every way");
}

// Design 1.7: "1000 runs leave nothing" (50 here): a loop of runs ending in every way leaves
// no process, mount, state file or cgroup.
#[test]
fn fifty_runs_leave_nothing() {
    let _g = rootless::exclusive();
    let u = user();
    let before = Leftovers::snapshot();
    let ms = modes(test_name!());
    let limited = !matches!(cgroup_layout(), CgroupLayout::None);
    let mut names = Vec::new();
    for k in 0..50 {
        let m = ms[k % ms.len()];
        let n = name(&format!("rl50-{k}"));
        let (opts, cmd, want): (Vec<&str>, Vec<&str>, i32) = match k % 5 {
            0 => (vec![], vec!["sh", "-c", "sleep 1 & echo $$"], 0),
            1 => (vec![], vec!["sh", "-c", "exit 3"], 3),
            2 => (vec![], vec!["no-such-cmd"], 127),
            3 if limited => (vec!["--pids", "10"], vec!["true"], 125),
            3 => (vec!["--read-only"], vec!["true"], 0),
            _ => (vec!["--net", "host", "-w", "/tmp"], vec!["pwd"], 0),
        };
        let mut o = vec!["--name", n.as_str()];
        o.extend(opts);
        let r = u.run(m, &o, &cmd);
        assert_eq!(
            r.exit_code(),
            want,
            "run {k} ({m:?} {o:?} {cmd:?}): {}",
            show(&r)
        );
        names.push(n);
    }
    assert_nothing_left(&before, u, &names, "50 runs");
}

// The helpers' own premise: the user runs as itself, not as root, and a command made with
// them is really unprivileged on the host.
#[test]
fn runs_are_really_unprivileged() {
    let _g = rootless::shared();
    let u = user();
    let r = run_command(u.command_of(Uidmap::Off, "/usr/bin/id", &["-u"]));
    assert_eq!(r.exit_code(), 0, "{}", show(&r));
    assert_eq!(r.stdout.trim(), u.uid.to_string());
    let mut bg = Bg::start(u.command(Uidmap::Off, &run_args(u.image(), &[], &["sleep", "7501"])));
    let sleeper = bg.wait_desc(&["sleep", "7501"]);
    for pid in [bg.pid(), sleeper] {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uids = fields(&st)["Uid"].clone();
        let ids: Vec<u32> = uids
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(ids, [u.uid; 4], "pid {pid} ({}) Uid: {uids}", comm(pid));
    }
    // crab-can itself holds no capability of the host's (the command holds its own
    // namespace's).
    let st = std::fs::read_to_string(format!("/proc/{}/status", bg.pid())).unwrap();
    assert_eq!(
        fields(&st)["CapEff"],
        cap_hex(0),
        "crab-can holds capabilities"
    );
    bg.signal(libc::SIGTERM);
    assert_eq!(bg.wait_within(10).exit_code(), 143);
}
