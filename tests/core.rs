//! Integration tests of the core runtime: PID 1 and the process tree, hostname, /proc /sys
//! /dev, network, environment, workdir, PATH lookup, exit statuses, bad input, the root
//! filesystem, fds, orphans, signals and lifetime, names. Every test runs the real binary
//! as root and checks what the kernel says (/proc, exit statuses, mountinfo).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Assert a command's own outcome printed nothing of crab-can's on stderr.
fn no_crab_line(r: &Run) {
    assert!(
        !r.stderr.contains("crab-can:"),
        "unexpected crab-can line: {}",
        r.stderr
    );
}

/// Live host processes whose whole command line is `argv`.
fn host_procs_running(argv: &[&str]) -> Vec<i32> {
    let want = argv_bytes(argv);
    procs()
        .into_iter()
        .filter(|p| p.state != 'Z' && cmdline(p.pid) == want)
        .map(|p| p.pid)
        .collect()
}

// ---- PID 1, process tree ---------------------------------------------------------------

// Contract: "It runs as PID 1's child in a new PID namespace: `ps` inside shows only the
// container's processes; PID 1 is crab-can's tiny init."
#[test]
fn pid1_is_init_and_command_is_its_child() {
    let me = std::process::id();
    let r = sh(
        &[],
        &format!(
            "echo pid=$$; echo comm1=$(cat /proc/1/comm); grep '^PPid:' /proc/$$/status; \
             [ -e /proc/{me} ] && echo host-pid=present || echo host-pid=absent; \
             echo ns=$(readlink /proc/self/ns/pid); ps -o pid,ppid,comm; echo end"
        ),
    );
    r.ok();
    let out = &r.stdout;
    assert!(
        out.contains("pid=2\n"),
        "the command should be PID 2: {out}"
    );
    assert!(
        out.contains("comm1=crab-can\n"),
        "PID 1 should be crab-can's init: {out}"
    );
    assert!(
        out.contains("PPid:\t1\n"),
        "the command's parent should be PID 1: {out}"
    );
    assert!(
        out.contains("host-pid=absent"),
        "the test's own pid {me} is visible inside: {out}"
    );
    let ns = out.lines().find_map(|l| l.strip_prefix("ns=")).unwrap();
    assert_ne!(ns, host_ns("pid"), "same PID namespace as the host");
    // ps: a header, then exactly init, the shell, and ps itself.
    let rows = ps_rows(out);
    assert_eq!(rows.len(), 3, "ps should list exactly 3 processes: {out}");
    assert_eq!(rows[0], ["1", "0", "crab-can"], "{out}");
    assert_eq!(rows[1], ["2", "1", "sh"], "{out}");
    assert_eq!(&rows[2][1..], ["2", "ps"], "{out}");

    // Without a shell in between: the command itself is PID 2, child of PID 1.
    let r = run_in(image(), &[], &["cat", "/proc/self/stat"]);
    r.ok();
    let f: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!((f[0], f[1], f[3]), ("2", "(cat)", "1"), "{}", r.stdout);
}

// Contract: "New mount, UTS, IPC, network and cgroup namespaces" (and a new PID namespace).
#[test]
fn namespaces_are_new() {
    let kinds = ["mnt", "uts", "ipc", "net", "pid", "cgroup"];
    let script: String = kinds
        .iter()
        .map(|k| format!("echo {k}=$(readlink /proc/self/ns/{k});"))
        .collect();
    let r = sh(&[], &script);
    r.ok();
    for k in kinds {
        let inside = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string));
        let inside = inside.unwrap_or_else(|| panic!("no {k} line: {}", r.stdout));
        assert!(inside.starts_with(&format!("{k}:[")), "{inside}");
        assert_ne!(inside, host_ns(k), "the {k} namespace is the host's");
    }
}

// ---- hostname --------------------------------------------------------------------------

fn hostname_lines(opts: &[&str]) -> Vec<String> {
    let r = sh(
        opts,
        "hostname; cat /proc/sys/kernel/hostname; echo \"$HOSTNAME\"",
    );
    r.ok();
    let l: Vec<String> = r.stdout.lines().map(str::to_string).collect();
    assert_eq!(l.len(), 3, "{}", r.stdout);
    l
}

// Contract: "--hostname NAME: hostname inside (UTS namespace); default: the container name";
// "--name: default a random 12-hex-digit id"; HOSTNAME in the environment is the hostname.
#[test]
fn hostname_defaults_to_name_and_host_is_untouched() {
    let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();

    let n = name("host");
    assert_eq!(hostname_lines(&["--name", &n]), [n.as_str(); 3]);

    let a = hostname_lines(&[]);
    let b = hostname_lines(&[]);
    for l in [&a, &b] {
        assert_eq!(l[0].len(), 12, "random name should be 12 hex digits: {l:?}");
        assert!(l[0].chars().all(|c| c.is_ascii_hexdigit()), "{l:?}");
        assert!(l.iter().all(|x| *x == l[0]), "{l:?}");
    }
    assert_ne!(a[0], b[0], "two random names should differ");

    let h = format!("h-{}", std::process::id());
    assert_eq!(
        hostname_lines(&["--hostname", &h, "--name", &n]),
        [h.as_str(); 3]
    );
    assert_eq!(hostname_lines(&["--hostname", &h]), [h.as_str(); 3]);

    let host_after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(host_before, host_after, "the host's hostname changed");
    assert_ne!(host_after.trim(), h);
}

// ---- /proc, /sys, /dev -----------------------------------------------------------------

// Contract: "/proc is a fresh procfs of the container's PID namespace".
#[test]
fn proc_is_own_procfs() {
    let r = sh(
        &[],
        "cat /proc/self/mountinfo; echo ===; ls /proc; echo ===; cat /proc/1/cmdline",
    );
    r.ok();
    let parts: Vec<&str> = r.stdout.split("===\n").collect();
    let inside = parse_mountinfo(parts[0]);
    let p = inside
        .iter()
        .find(|m| m.point == "/proc")
        .expect("no /proc mount inside");
    assert_eq!(p.fstype, "proc");
    assert_eq!(p.root, "/");
    let host = parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    for h in host.iter().filter(|m| m.fstype == "proc") {
        assert_ne!(h.dev, p.dev, "/proc inside is the host's procfs instance");
    }
    // Only the container's processes: init, the shell, and ls (a handful of small pids).
    let pids: Vec<i32> = parts[1].lines().filter_map(|l| l.parse().ok()).collect();
    assert!(pids.contains(&1) && pids.contains(&2), "{pids:?}");
    assert!(
        pids.len() <= 4 && pids.iter().all(|p| *p < 50),
        "foreign pids in /proc: {pids:?}"
    );
    assert!(!pids.contains(&(std::process::id() as i32)));
    // /proc/1 is crab-can, not the host's init.
    assert!(parts[2].contains("crab-can"), "{:?}", parts[2]);
}

// Contract: "/sys is read-only".
#[test]
fn sys_is_read_only() {
    let r = sh(
        &[],
        "probe write /sys/kernel/uevent_seqnum 1; probe write /sys/crab-new x; mkdir /sys/crab-dir; \
         echo mkdir=$?; awk '$5 == \"/sys\"' /proc/self/mountinfo",
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0], "write: EROFS (Read-only file system)",
        "{}",
        r.stdout
    );
    assert_eq!(
        lines[1], "write: EROFS (Read-only file system)",
        "{}",
        r.stdout
    );
    assert_eq!(lines[2], "mkdir=1");
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let m = parse_mountinfo(lines[3]);
    assert_eq!(m[0].fstype, "sysfs");
    assert!(m[0].opts.split(',').any(|o| o == "ro"), "{}", lines[3]);
}

// Contract: "/dev holds only null zero full random urandom tty, pts/ (own devpts instance),
// ptmx, shm/, mqueue/, fd -> /proc/self/fd, stdin stdout stderr".
#[test]
fn dev_holds_exactly_the_contract_entries() {
    let r = sh(
        &[],
        "ls -A /dev; echo ===; stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random \
         /dev/urandom /dev/tty; echo ===; for l in fd ptmx stdin stdout stderr; do \
         echo $l=$(readlink /dev/$l); done; echo ===; cat /proc/self/mountinfo",
    );
    r.ok();
    let parts: Vec<&str> = r.stdout.split("===\n").collect();
    let got: BTreeSet<&str> = parts[0].lines().collect();
    let want: BTreeSet<&str> = [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue", "fd",
        "stdin", "stdout", "stderr",
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "ls -A /dev");
    assert_eq!(parts[0].lines().count(), want.len());
    let nodes: Vec<&str> = parts[1].lines().collect();
    assert_eq!(
        nodes,
        [
            "/dev/null character special file 1:3",
            "/dev/zero character special file 1:5",
            "/dev/full character special file 1:7",
            "/dev/random character special file 1:8",
            "/dev/urandom character special file 1:9",
            "/dev/tty character special file 5:0",
        ]
    );
    let links: Vec<&str> = parts[2].lines().collect();
    assert_eq!(
        links,
        [
            "fd=/proc/self/fd",
            "ptmx=pts/ptmx",
            "stdin=/proc/self/fd/0",
            "stdout=/proc/self/fd/1",
            "stderr=/proc/self/fd/2"
        ]
    );
    let inside = parse_mountinfo(parts[3]);
    let pts = inside
        .iter()
        .find(|m| m.point == "/dev/pts")
        .expect("no /dev/pts mount");
    assert_eq!(pts.fstype, "devpts");
    assert!(
        pts.sopts.contains("ptmxmode=666"),
        "ptmx of the instance unusable: {}",
        pts.sopts
    );
    let host = parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    for h in host.iter().filter(|m| m.fstype == "devpts") {
        assert_ne!(
            h.dev, pts.dev,
            "/dev/pts inside is the host's devpts instance"
        );
    }
    let shm = inside
        .iter()
        .find(|m| m.point == "/dev/shm")
        .expect("no /dev/shm mount");
    assert_eq!(shm.fstype, "tmpfs");
    for h in host.iter().filter(|m| m.point == "/dev/shm") {
        assert_ne!(h.dev, shm.dev, "/dev/shm inside is the host's");
    }
    let mq = inside
        .iter()
        .find(|m| m.point == "/dev/mqueue")
        .expect("no /dev/mqueue mount");
    assert_eq!(mq.fstype, "mqueue");
}

// ---- network ---------------------------------------------------------------------------

// Contract: "--net none (default): a private network namespace whose loopback lo is up".
#[test]
fn net_none_has_only_lo_up() {
    for opts in [&[][..], &["--net", "none"][..], &["--net=none"][..]] {
        let r = sh(
            opts,
            "ls /sys/class/net; echo ===; cat /sys/class/net/lo/flags; echo ===; cat /proc/net/dev",
        );
        r.ok();
        let parts: Vec<&str> = r.stdout.split("===\n").collect();
        assert_eq!(parts[0], "lo\n", "{opts:?}: interfaces in /sys/class/net");
        let flags = u32::from_str_radix(parts[1].trim().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(
            flags & libc::IFF_UP as u32,
            libc::IFF_UP as u32,
            "{opts:?}: lo is down (flags {flags:#x})"
        );
        let names = proc_net_dev_names(parts[2]);
        assert_eq!(
            names,
            BTreeSet::from(["lo".to_string()]),
            "{opts:?}: /proc/net/dev"
        );
    }
}

// The network namespace is made by a helper beside the root (README "How it works"): the
// init and the command are both in it, it is not the host's, and once the command runs
// crab-can's one child is the init (the helper is gone and reaped), with or without the
// command forked early (a terminal forks it late).
#[test]
fn net_helper_leaves_one_namespace_and_no_process() {
    for opts in [&[][..], &["--net", "none"][..]] {
        let mut bg = Bg::run(opts, &["sleep", "3001"]);
        let cmd = bg.wait_desc(&["sleep", "3001"]);
        let init = bg.init_pid();
        wait_for(10, || children(bg.pid()) == [init]);
        assert_eq!(children(bg.pid()), [init], "{opts:?}: crab-can's children");
        assert_eq!(children(init), [cmd], "{opts:?}: the init's children");
        let net = |p: i32| {
            std::fs::read_link(format!("/proc/{p}/ns/net"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(
            net(init),
            net(cmd),
            "{opts:?}: the init's and the command's"
        );
        assert_ne!(net(cmd), host_ns("net"), "{opts:?}: the host's");
        assert!(kill(cmd, libc::SIGKILL));
        assert_eq!(bg.wait().exit_code(), 137, "{opts:?}");
    }
}

// Contract: "--net host: share the caller's".
#[test]
fn net_host_sees_host_interfaces() {
    let host = proc_net_dev_names(&std::fs::read_to_string("/proc/net/dev").unwrap());
    assert!(
        host.len() > 1,
        "the host should have more than lo: {host:?}"
    );
    let r = sh(
        &["--net", "host"],
        "cat /proc/net/dev; echo ===; readlink /proc/self/ns/net; ls /sys/class/net",
    );
    r.ok();
    let parts: Vec<&str> = r.stdout.split("===\n").collect();
    assert_eq!(proc_net_dev_names(parts[0]), host);
    let mut l = parts[1].lines();
    assert_eq!(l.next().unwrap(), host_ns("net"));
    let sys: BTreeSet<String> = l.map(str::to_string).collect();
    assert_eq!(sys, host, "/sys/class/net with --net host");
}

// ---- environment -----------------------------------------------------------------------

fn env_lines(r: &Run) -> Vec<String> {
    r.ok();
    let mut v: Vec<String> = r.stdout.lines().map(str::to_string).collect();
    v.sort();
    v
}

// Contract: "Environment: only PATH=..., HOSTNAME (the hostname), HOME (... /root for uid 0),
// TERM if the caller had one".
#[test]
fn environment_is_exactly_the_base() {
    let n = name("env");
    let i = img();
    let args = ["run", "--name", &n, i, "env"];
    let r = crab_cmd(&args, |c| {
        c.env_clear().env("CRAB_SECRET_X", "leak");
    });
    no_crab_line(&r);
    assert_eq!(
        env_lines(&r),
        [
            "HOME=/root".to_string(),
            format!("HOSTNAME={n}"),
            format!("PATH={DEFAULT_PATH}")
        ]
    );

    let r = crab_cmd(&args, |c| {
        c.env_clear()
            .env("TERM", "xterm-crab")
            .env("CRAB_SECRET_X", "leak");
    });
    assert_eq!(
        env_lines(&r),
        [
            "HOME=/root".to_string(),
            format!("HOSTNAME={n}"),
            format!("PATH={DEFAULT_PATH}"),
            "TERM=xterm-crab".to_string()
        ]
    );
}

// Contract: "-e KEY=VALUE set a variable (repeatable). -e KEY copies KEY from the caller's
// environment if set"; "every -e replaces a variable of the same name (each name appears
// once; the last -e of a name wins)".
#[test]
fn env_options() {
    let n = name("envopt");
    let i = img();
    let args = [
        "run",
        "--name",
        &n,
        "-e",
        "A=1",
        "-e",
        "FROM_CALLER",
        "-e",
        "NOT_IN_CALLER",
        "-e",
        "Z=3",
        "-e",
        "Z=4",
        "-e",
        "PATH=/bin:/usr/bin",
        "-e",
        "EMPTY=",
        "-e",
        "EQ=a=b",
        "-e",
        "HOME=/tmp",
        "-e",
        "Z=5",
        i,
        "env",
    ];
    let r = crab_cmd(&args, |c| {
        c.env_clear()
            .env("FROM_CALLER", "copied value")
            .env("A", "caller-a");
    });
    no_crab_line(&r);
    assert_eq!(
        env_lines(&r),
        [
            "A=1",
            "EMPTY=",
            "EQ=a=b",
            "FROM_CALLER=copied value",
            "HOME=/tmp",
            &format!("HOSTNAME={n}"),
            "PATH=/bin:/usr/bin",
            "Z=5"
        ]
    );
}

// ---- working directory -----------------------------------------------------------------

// Contract: "-w, --workdir DIR: working directory inside; default /".
#[test]
fn workdir() {
    let r = run_in(image(), &[], &["pwd"]);
    r.ok();
    assert_eq!(r.stdout, "/\n");
    let r = run_in(image(), &["-w", "/tmp"], &["pwd"]);
    r.ok();
    assert_eq!(r.stdout, "/tmp\n");
    let r = sh(&["--workdir=/etc"], "pwd; ls passwd");
    r.ok();
    assert_eq!(r.stdout, "/etc\npasswd\n");

    // A missing workdir is created (in IMAGE).
    let im = fresh_image("workdir");
    let r = crab(&["run", "-w", "/made/by/crab", im.to_str().unwrap(), "pwd"]);
    r.ok();
    assert_eq!(r.stdout, "/made/by/crab\n");
    assert!(im.join("made/by/crab").is_dir());
}

// ---- PATH lookup -----------------------------------------------------------------------

// Contract: "COMMAND ... Without a /, it is looked up in the container's PATH (after every
// -e) inside the container"; 127 "the command was not found".
#[test]
fn path_lookup_is_inside_the_container() {
    let im = fresh_image("pathlookup");
    let ims = im.to_str().unwrap();
    let tool = format!("imgonly-{}", std::process::id());
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(DEFAULT_PATH.split(':'))
    {
        assert!(
            !Path::new(dir).join(&tool).exists(),
            "{tool} exists on the host"
        );
    }
    let script = "#!/bin/sh\necho \"ran $0 $*\"\n";
    std::fs::write(im.join("bin").join(&tool), script).unwrap();
    std::fs::create_dir_all(im.join("opt/tools")).unwrap();
    std::fs::write(im.join("opt/tools/other-tool"), script).unwrap();
    for f in [im.join("bin").join(&tool), im.join("opt/tools/other-tool")] {
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let r = crab(&["run", ims, &tool, "x"]);
    r.ok();
    assert_eq!(r.stdout, format!("ran /bin/{tool} x\n"));
    // The PATH set with -e is the one searched.
    let r = crab(&["run", "-e", "PATH=/opt/tools:/bin", ims, "other-tool"]);
    r.ok();
    assert_eq!(r.stdout, "ran /opt/tools/other-tool \n");
    let r = crab(&["run", ims, "other-tool"]);
    assert_error(&r, 127, "other-tool");

    // Programs of the host only: by name and by absolute path. (Only where the host has
    // them: a 127 for a program the host lacks too would prove nothing.)
    if Path::new("/bin/bash").exists() && Path::new("/usr/bin/bash").exists() {
        for d in [
            "bin",
            "sbin",
            "usr/bin",
            "usr/sbin",
            "usr/local/bin",
            "usr/local/sbin",
        ] {
            assert!(
                !image().join(d).join("bash").exists(),
                "the image has bash in /{d}"
            );
        }
        let r = run_in(image(), &[], &["bash", "-c", "echo escaped"]);
        assert_error(&r, 127, "bash");
        assert!(!r.stdout.contains("escaped"));
        let r = run_in(image(), &[], &["/usr/bin/bash", "-c", "echo escaped"]);
        assert_error(&r, 127, "/usr/bin/bash");
        assert!(!r.stdout.contains("escaped"));
    } else {
        skip(
            test_name!(),
            "the host lacks /bin/bash or /usr/bin/bash: no host-only bash to look for",
        );
    }
    if Path::new("/usr/bin/python3").exists() {
        let r = run_in(
            image(),
            &[],
            &["/usr/bin/python3", "-c", "print('escaped')"],
        );
        assert_error(&r, 127, "/usr/bin/python3");
    } else {
        skip(
            test_name!(),
            "the host lacks /usr/bin/python3: no host-only program to run by path",
        );
    }
}

// ---- exit statuses ---------------------------------------------------------------------

// Contract (Exit status): "the command's own: it exited"; "128 + N: it was killed by signal N
// (137 for SIGKILL)".
#[test]
fn exit_status_is_the_commands() {
    for (script, code) in [
        ("true", 0),
        ("exit 3", 3),
        ("exit 42", 42),
        ("exit 255", 255),
    ] {
        let r = sh(&[], script);
        assert_eq!(r.code, code, "{script}: {}", r.stderr);
        no_crab_line(&r);
    }
    let r = run_in(image(), &[], &["false"]);
    assert_eq!(r.code, 1);
    for (script, code) in [
        ("kill -TERM $$", 143),
        ("kill -9 $$", 137),
        ("kill -USR1 $$", 138),
        ("kill -HUP $$", 129),
    ] {
        let r = sh(&[], script);
        assert_eq!(r.code, code, "{script}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

// Contract: "126: the command exists but cannot be executed (no permission, a directory, or
// neither ELF nor #!: no fallback to a shell)", with one `crab-can: ` line.
#[test]
fn exit_126_cannot_execute() {
    let r = run_in(image(), &[], &["/etc/passwd"]);
    assert_error(&r, 126, "/etc/passwd");
    let r = run_in(image(), &[], &["/etc"]);
    assert_error(&r, 126, "/etc");
    let im = fresh_image("noexec");
    let f = im.join("bin/notelf");
    std::fs::write(&f, "echo fell-back-to-a-shell\n").unwrap();
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let r = crab(&["run", im.to_str().unwrap(), "/bin/notelf"]);
    assert_error(&r, 126, "/bin/notelf");
    assert!(!r.stdout.contains("fell-back"), "{}", r.stdout);
    let r = crab(&["run", im.to_str().unwrap(), "notelf"]);
    assert_error(&r, 126, "notelf");
}

// Contract: "127: the command was not found", with one `crab-can: ` line.
#[test]
fn exit_127_not_found() {
    let missing = format!("no-such-cmd-{}", std::process::id());
    let r = run_in(image(), &[], &[&missing]);
    assert_error(&r, 127, &missing);
    let r = run_in(image(), &[], &["/no/such/path"]);
    assert_error(&r, 127, "/no/such/path");
    let r = run_in(image(), &[], &["./relative-missing"]);
    assert_error(&r, 127, "relative-missing");
}

// ---- bad input -------------------------------------------------------------------------

// Contract: "125: crab-can itself failed: bad option, bad IMAGE"; Errors: "one line ...
// `crab-can: ` then ... the value that was wrong"; "No panic".
#[test]
fn bad_input_is_125_with_one_line() {
    let i = img();
    let file = image().join("etc/passwd");
    let file = file.to_str().unwrap();
    let missing = format!("/nonexistent-image-{}", std::process::id());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run"], "IMAGE"),
        (vec!["run", "--name", "ok-name"], "IMAGE"),
        (vec!["run", &missing, "true"], &missing),
        (vec!["run", &missing], &missing),
        (vec!["run", file, "true"], file),
        (vec!["run", "--bogus", i, "true"], "--bogus"),
        (vec!["run", "--name"], "--name"),
        (vec!["run", "-w"], "-w"),
        (vec!["run", "--net"], "--net"),
        (vec!["run", "-e"], "-e"),
        (vec!["run", "--name", "bad/name", i, "true"], "bad/name"),
        (vec!["run", "--name", "-lead", i, "true"], "-lead"),
        (vec!["run", "--name", "_under", i, "true"], "_under"),
        (vec!["run", "--net", "bridge", i, "true"], "bridge"),
        (vec!["run", "--net=nonex", i, "true"], "nonex"),
        (vec!["run", "-w", "rel/dir", i, "true"], "rel/dir"),
        (vec!["run", "--workdir=rel2", i, "true"], "rel2"),
    ];
    let long = "a".repeat(65);
    let mut cases = cases;
    cases.push((vec!["run", "--name", &long, i, "true"], &long));
    for (args, needle) in cases {
        let r = crab(&args);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert_error(&r, 125, needle);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
}

// ---- arguments -------------------------------------------------------------------------

// Contract: "Options stop at IMAGE: everything after IMAGE is the command and its
// arguments, passed through untouched".
#[test]
fn arguments_after_image_are_untouched() {
    let r = run_in(image(), &[], &["/bin/echo", "--name", "-x", "--help"]);
    r.ok();
    assert_eq!(r.stdout, "--name -x --help\n");
    let r = run_in(
        image(),
        &[],
        &[
            "printf",
            "[%s]",
            "",
            "a  b",
            "--net=host",
            "-e",
            "--",
            "-w",
            "/x",
            "*",
            "$HOME",
        ],
    );
    r.ok();
    assert_eq!(r.stdout, "[][a  b][--net=host][-e][--][-w][/x][*][$HOME]");
    let r = run_in(
        image(),
        &["--name", &name("args")],
        &["ls", "-la", "/etc/passwd"],
    );
    r.ok();
    assert!(r.stdout.starts_with("-rw"), "{}", r.stdout);
}

// ---- root filesystem -------------------------------------------------------------------

// Contract: "Writes to / land in IMAGE itself unless --read-only".
#[test]
fn writes_land_in_image() {
    let im = fresh_image("writes");
    let data = format!("data-{}", std::process::id());
    let r = crab(&[
        "run",
        im.to_str().unwrap(),
        "sh",
        "-c",
        &format!(
            "echo {data} > /written; mkdir -p /var/lib/x; echo y > /var/lib/x/f; rm /etc/group"
        ),
    ]);
    r.ok();
    assert_eq!(
        std::fs::read_to_string(im.join("written")).unwrap(),
        format!("{data}\n")
    );
    assert_eq!(
        std::fs::read_to_string(im.join("var/lib/x/f")).unwrap(),
        "y\n"
    );
    assert!(
        !im.join("etc/group").exists(),
        "a removal inside did not reach IMAGE"
    );
}

// Contract: "/ is IMAGE; the host's root is not reachable by any path".
#[test]
fn host_root_is_unreachable() {
    let im = fresh_image("hostroot");
    let marker = format!("crab-image-marker-{}", std::process::id());
    std::fs::write(im.join(&marker), "x").unwrap();
    let host_marker = format!("crab-host-marker-{}", std::process::id());
    let host_file = Path::new("/tmp").join(&host_marker);
    std::fs::write(&host_file, "host").unwrap();
    let want: BTreeSet<String> = std::fs::read_dir(&im)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();

    let script = format!(
        "echo root=$(ls /); echo self=$(ls /proc/self/root); echo dollar=$(ls /proc/$$/root); \
         echo up=$(cd /..; ls); echo up3=$(cd /../../..; ls); echo rootup=$(ls /proc/self/root/..); \
         for p in /tmp/{m} /../tmp/{m} /../../tmp/{m} /proc/self/root/tmp/{m} /proc/$$/root/../tmp/{m} \
         /proc/1/root/tmp/{m} /proc/1/root/../tmp/{m} /proc/1/cwd/tmp/{m}; do \
         [ -e $p ] && echo VISIBLE $p; done; echo one=$(ls /proc/1/root 2>&1)",
        m = host_marker
    );
    let r = crab(&["run", im.to_str().unwrap(), "sh", "-c", &script]);
    std::fs::remove_file(&host_file).unwrap();
    r.ok();
    assert!(
        !r.stdout.contains("VISIBLE"),
        "host file reachable: {}",
        r.stdout
    );
    for key in ["root", "self", "dollar", "up", "up3", "rootup"] {
        let line = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap();
        let got: BTreeSet<String> = line.split_whitespace().map(str::to_string).collect();
        assert_eq!(got, want, "{key}: not the image's root");
        assert!(got.contains(&marker));
    }
    // /proc/1/root: the image, or refused (init is not dumpable) - never the host's root.
    let one = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("one="))
        .unwrap();
    if !one.contains("Permission denied") {
        let got: BTreeSet<String> = one.split_whitespace().map(str::to_string).collect();
        assert_eq!(got, want, "/proc/1/root: {one}");
    }
}

// Contract: "no mount of the container shows up on the host".
#[test]
fn no_container_mount_on_host() {
    let im = fresh_image("mntleak");
    let ims = im.to_str().unwrap().to_string();
    assert!(host_mounts_with(&ims).is_empty());
    let mut bg = Bg::spawn(&["run", &ims, "sleep", "1101"]);
    let sleeper = bg.wait_desc(&["sleep", "1101"]);
    // The needle is meaningful: the container's own mountinfo names IMAGE as its root.
    let inside = std::fs::read_to_string(format!("/proc/{sleeper}/mountinfo")).unwrap();
    assert!(
        inside.contains(&ims),
        "the container's mountinfo does not mention {ims}: {inside}"
    );
    assert!(parse_mountinfo(&inside).len() > 5);
    assert_eq!(
        host_mounts_with(&ims),
        Vec::<String>::new(),
        "container mounts on the host while it runs"
    );
    assert_eq!(
        host_mounts_with("/proc/keys"),
        Vec::<String>::new(),
        "a masking mount of a container is on the host"
    );
    bg.signal(libc::SIGTERM);
    let r = bg.wait_within(10);
    assert_eq!(r.exit_code(), 143, "{}", r.stderr);
    assert_eq!(
        host_mounts_with(&ims),
        Vec::<String>::new(),
        "container mounts on the host after the run"
    );
}

// ---- fds -------------------------------------------------------------------------------

// Contract (implied by "the command gets the caller's stdin, stdout and stderr as they are"
// and docker/runc practice): the command has only fds 0, 1, 2 open, even when the caller
// leaks more.
#[test]
fn only_std_fds_inside() {
    let r = run_in(image(), &[], &["/bin/probe", "fds"]);
    r.ok();
    assert_eq!(r.stdout, "fds: ok\n0 1 2\n");

    use std::os::fd::AsRawFd;
    let f = std::fs::File::open("/etc/hostname").unwrap();
    let fd = f.as_raw_fd();
    // The leak works: the same spawn on the host shows the extra fds.
    let mut c = Command::new(probe());
    c.arg("fds");
    leak_fd(&mut c, fd);
    let host = c.output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    let host_fds: Vec<&str> = host.lines().nth(1).unwrap().split(' ').collect();
    assert!(
        host_fds.contains(&"7") && host_fds.contains(&"250"),
        "leak did not work on the host: {host}"
    );

    let i = img();
    let r = crab_cmd(&["run", i, "/bin/probe", "fds"], |c| leak_fd(c, fd));
    r.ok();
    assert_eq!(
        r.stdout, "fds: ok\n0 1 2\n",
        "fds leaked into the container"
    );
    let r = crab_cmd(&["run", i, "sh", "-c", "echo $(ls /proc/self/fd)"], |c| {
        leak_fd(c, fd)
    });
    r.ok();
    // ls's own fd 3 is the /proc/self/fd directory it reads.
    assert_eq!(r.stdout, "0 1 2 3\n", "fds leaked into the container (ls)");
    drop(f);
}

// ---- orphans, signals, lifetime --------------------------------------------------------

// Contract: "The init inside reaps every orphan, so no zombie outlives its parent."
#[test]
fn orphans_are_reaped() {
    let r = sh(
        &[],
        "for i in 1 2 3; do (sleep 0.1 &); done; sleep 0.6; ps -o stat,pid,comm; echo end",
    );
    r.ok();
    let rows: Vec<&str> = r.stdout.lines().skip(1).filter(|l| *l != "end").collect();
    assert!(!rows.is_empty(), "{}", r.stdout);
    for row in &rows {
        assert!(
            !row.trim_start().starts_with('Z'),
            "zombie inside: {}",
            r.stdout
        );
    }
    assert!(
        !rows.iter().any(|l| l.ends_with("sleep")),
        "the orphans should be gone: {}",
        r.stdout
    );
}

// Contract: "SIGINT, SIGTERM, ... sent to crab-can are passed on to the command" and 128+N.
#[test]
fn sigterm_and_sigint_reach_the_command() {
    let i = img();
    for (sig, arg, code) in [(libc::SIGTERM, "1201", 143), (libc::SIGINT, "1202", 130)] {
        let mut bg = Bg::spawn(&["run", i, "sleep", arg]);
        let sleeper = bg.wait_desc(&["sleep", arg]);
        bg.signal(sig);
        let r = bg.wait_within(10);
        assert_eq!(r.exit_code(), code, "signal {sig}: {}", r.stderr);
        assert!(wait_for(2, || !alive(sleeper)), "the command survived");
    }
}

// Contract: "SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH sent to crab-can
// are passed on to the command" (the command's own handler runs).
#[test]
fn signals_reach_the_commands_handler() {
    let i = img();
    let sigs = [
        (libc::SIGTERM, "TERM", 43),
        (libc::SIGINT, "INT", 44),
        (libc::SIGHUP, "HUP", 45),
        (libc::SIGQUIT, "QUIT", 46),
        (libc::SIGUSR1, "USR1", 47),
        (libc::SIGUSR2, "USR2", 48),
        (libc::SIGWINCH, "WINCH", 49),
    ];
    for (sig, nm, code) in sigs {
        let arg = format!("12{code}");
        let script = format!("trap 'exit {code}' {nm}; sleep {arg} & wait");
        let mut bg = Bg::spawn(&["run", i, "sh", "-c", &script]);
        bg.wait_desc(&["sleep", &arg]);
        bg.signal(sig);
        let r = bg.wait_within(10);
        assert_eq!(r.exit_code(), code, "SIG{nm}: {}", r.stderr);
    }
}

// Contract: "SIGINT ... sent to crab-can are passed on to the command" - also when crab-can
// is started with SIGINT/SIGQUIT ignored (as `crab-can ... &` in a script does): the command
// must start with default signal dispositions, as under docker/runc.
#[test]
fn sigint_reaches_the_command_when_caller_ignored_it() {
    let i = img();
    let mut bg = Bg::spawn_with(&["run", i, "sleep", "1301"], |c| {
        // SAFETY: signal() is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    let sleeper = bg.wait_desc(&["sleep", "1301"]);
    let status = std::fs::read_to_string(format!("/proc/{sleeper}/status")).unwrap();
    let ign = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .unwrap()
        .to_string();
    bg.signal(libc::SIGINT);
    let Some(r) = bg.try_wait_within(3) else {
        panic!(
            "SIGINT sent to crab-can did not end `sleep 1301` within 3 s; \
             the command's SigIgn is {ign} (inherited SIG_IGN for SIGINT/SIGQUIT)"
        );
    };
    assert_eq!(
        r.exit_code(),
        130,
        "SIGINT did not end the command (its SigIgn: {ign}): {}",
        r.stderr
    );
}

// Contract: "When the command exits, every other process of the container is killed".
#[test]
fn background_processes_die_with_the_command() {
    let t = Instant::now();
    let r = sh(&[], "sleep 1401 & echo $!");
    r.ok();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "crab-can waited for a background process"
    );
    assert!(r.stdout.trim().parse::<i32>().is_ok(), "{}", r.stdout);
    assert_eq!(
        host_procs_running(&["sleep", "1401"]),
        Vec::<i32>::new(),
        "background sleep survived"
    );
    // Also a background process that ignores SIGTERM and SIGHUP.
    let r = sh(&[], "trap '' TERM HUP; sleep 1402 & echo started");
    r.ok();
    assert_eq!(
        host_procs_running(&["sleep", "1402"]),
        Vec::<i32>::new(),
        "background sleep survived"
    );
}

// Contract: "If crab-can itself is killed, the container dies with it"; "the name of one
// whose crab-can was killed is free again at the next run".
#[test]
fn sigkill_of_crab_can_kills_the_container() {
    let i = img();
    let n = name("kill9");
    let mut bg = Bg::spawn(&[
        "run",
        "--name",
        &n,
        i,
        "sh",
        "-c",
        "sleep 1501 & sleep 1502",
    ]);
    bg.wait_desc(&["sleep", "1501"]);
    bg.wait_desc(&["sleep", "1502"]);
    let procs: Vec<i32> = descendants(bg.pid()).iter().map(|p| p.pid).collect();
    // init, the shell that became `sleep 1502` (exec of its last command), `sleep 1501`.
    assert!(procs.len() >= 3, "{procs:?}");
    bg.signal(libc::SIGKILL);
    let r = bg.wait_within(5);
    assert_eq!(r.signal, Some(libc::SIGKILL), "{}", show(&r));
    let gone = wait_for(1, || procs.iter().all(|p| !alive(*p)));
    let left: Vec<i32> = procs.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        gone,
        "container processes alive 1 s after crab-can was killed: {left:?}"
    );
    let r = crab(&["run", "--name", &n, i, "hostname"]);
    r.ok();
    assert_eq!(r.stdout.trim(), n);
}

// ---- many containers, names ------------------------------------------------------------

// Contract: names are per container, hostname defaults to the name; containers are
// independent (10 at once).
#[test]
fn ten_containers_at_once() {
    let i = img();
    let names: Vec<String> = (0..10).map(|k| name(&format!("ten{k}"))).collect();
    let mut bgs: Vec<Bg> = names
        .iter()
        .map(|n| {
            Bg::spawn(&[
                "run",
                "--name",
                n,
                i,
                "sh",
                "-c",
                "sleep 1.5; echo $(hostname) $$",
            ])
        })
        .collect();
    // All ten are up at the same time.
    for bg in bgs.iter_mut() {
        bg.wait_desc(&["sleep", "1.5"]);
    }
    for bg in &bgs {
        assert!(
            descendants(bg.pid())
                .iter()
                .any(|p| cmdline(p.pid) == argv_bytes(&["sleep", "1.5"]))
        );
    }
    for (bg, n) in bgs.into_iter().zip(&names) {
        let r = bg.wait_within(20);
        assert_eq!(r.exit_code(), 0, "{n}: {}", r.stderr);
        assert_eq!(r.stdout, format!("{n} 2\n"));
    }
}

// Contract: "Two running containers cannot share a name".
#[test]
fn same_name_twice_at_once() {
    let i = img();
    let n = name("twice");
    let mut first = Bg::spawn(&["run", "--name", &n, i, "sleep", "1601"]);
    first.wait_desc(&["sleep", "1601"]);
    let r = crab(&["run", "--name", &n, i, "echo", "second-ran"]);
    assert_error(&r, 125, "already running");
    assert!(r.stderr.contains(&n), "{}", r.stderr);
    assert!(!r.stdout.contains("second-ran"));
    // The first is undisturbed.
    assert!(first.running());
    first.signal(libc::SIGTERM);
    let r = first.wait_within(10);
    assert_eq!(r.exit_code(), 143, "{}", r.stderr);
    // Free again once it ended.
    let r = crab(&["run", "--name", &n, i, "true"]);
    r.ok();
}
