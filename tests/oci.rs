//! The OCI command line (runc's: create start state kill delete run list spec features
//! --version) on OCI bundles, as ../shared/design/OCI.md asks it of crab-can.
//!
//! Every test runs against runc (/usr/sbin/runc, or `$RUNC`), the reference, and against
//! crab-can (`$CRAB_CAN`) when `CRAB_CAN_OCI=1` (or `CRAB_CAN_OCI_ALWAYS` in
//! tests/common/bundle.rs is true). Each run gets a `Lab` (tests/common/bundle.rs): a
//! private `--root`, bundles made here (the shared busybox image as a read-only root, the
//! lab's files bound at /tmp), a private cgroup parent, and a clean-up that removes all of
//! it. `Who::CrabCanOnly` marks the tests where OCI.md asks what runc (1.1.5) does not do;
//! inside the shared tests, `lab.strict()` guards the few assertions of the same kind.
//! `OCI_STRICT_RUNC=1` holds runc to those too (to see where it differs: the tests that
//! then fail are listed at `Who::CrabCanOnly` and at each `lab.strict()`).
//!
//!   cargo test --release --test oci -- --test-threads=2
mod common;

use common::bundle::*;
use common::{Run, alive, show, wait_for};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Exit 1 and `needle` in the error output.
#[track_caller]
fn assert_fails(r: &Run, needle: &str, what: &str) {
    assert_eq!(r.code, 1, "{what}: want exit 1; {}", show(r));
    assert!(
        r.stderr.contains(needle),
        "{what}: stderr should say {needle:?}; {}",
        show(r)
    );
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
}

#[track_caller]
fn assert_ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {}", show(r));
}

/// SIGKILL container `id` and wait (up to 10 s) until `state` says `stopped`.
#[track_caller]
fn kill_to_stopped(lab: &Lab, id: &str) {
    assert_ok(&lab.run(&["kill", id, "KILL"]), "kill");
    lab.wait_status(id, "stopped", 10);
}

/// Whether this host can freeze a cgroup (v1 freezer or v2).
fn can_freeze() -> bool {
    common::fs_magic("/sys/fs/cgroup/freezer") == Some(common::CGROUP1_MAGIC)
        || common::cgroup_layout() == common::CgroupLayout::V2
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Write an executable shell script.
fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

// ---- delete (OCI.md 2.6) ------------------------------------------------------------------

#[test]
fn delete_unknown() {
    each("del-unknown", Who::All, |lab| {
        let id = lab.id("u");
        // What a create killed right after taking the ID leaves (runc: a directory with
        // no state in it; crab-can: the empty claim file): cleaned either way.
        lab.half_made(&id);
        let r = lab.run(&["delete", &id]);
        assert_fails(&r, "container does not exist", "delete of an unknown id");
        assert!(lab.leftovers(&id).is_empty(), "delete left {id}'s entry");
        lab.half_made(&id);
        assert_ok(
            &lab.run(&["delete", "--force", &id]),
            "delete --force of an unknown id",
        );
        assert!(
            lab.leftovers(&id).is_empty(),
            "delete --force left {id}'s entry"
        );
        assert_ok(
            &lab.run(&["delete", "--force", "never-seen"]),
            "delete --force",
        );
        if lab.strict() {
            // Foreign or unreadable state = not existing (OCI.md 2.4). runc fails here
            // with a JSON error instead.
            let g = lab.id("g");
            lab.half_made(&g);
            let garbage = if lab.is_crab() {
                lab.rt.root.join(&g)
            } else {
                lab.rt.root.join(&g).join("state.json")
            };
            fs::write(garbage, "{garbage\n").unwrap();
            let r = lab.run(&["delete", &g]);
            assert_fails(&r, "does not exist", "delete of unreadable state");
            assert_ok(
                &lab.run(&["delete", "--force", &g]),
                "delete --force of garbage",
            );
            assert!(
                lab.leftovers(&g).is_empty(),
                "delete --force left {g}'s files"
            );
            // Nothing that is not crab-can's is taken for a container, or removed: a
            // directory where a claim would be.
            let d = lab.id("d");
            fs::create_dir_all(lab.rt.root.join(&d)).unwrap();
            let r = lab.run(&["delete", &d]);
            assert_fails(&r, "does not exist", "delete of a foreign directory");
            assert_ok(&lab.run(&["delete", "--force", &d]), "delete --force");
            assert!(
                lab.rt.root.join(&d).is_dir(),
                "a foreign directory was removed"
            );
            let r = lab.run(&["list", "-q"]);
            assert!(
                !r.stdout.contains(&d),
                "list shows a foreign directory: {}",
                show(&r)
            );
            fs::remove_dir(lab.rt.root.join(&d)).unwrap();
        }
    });
}

#[test]
fn delete_stopped() {
    each("del-stopped", Who::All, |lab| {
        for force in [false, true] {
            let id = lab.id("s");
            lab.up(&id, "exit 0");
            lab.wait_status(&id, "stopped", 10);
            let mut a = vec!["delete"];
            if force {
                a.push("--force");
            }
            a.push(&id);
            assert_ok(&lab.run(&a), "delete of a stopped container");
            lab.assert_gone(&id);
            assert_fails(
                &lab.run(&["state", &id]),
                "does not exist",
                "state after delete",
            );
        }
        // --force with the init gone (killed behind the runtime's back) and the cgroup
        // half removed.
        let id = lab.id("h");
        let b = lab.sleeper(&id);
        let pid = lab.pid_file(&b);
        common::kill(pid, libc::SIGKILL);
        lab.wait_status(&id, "stopped", 10);
        let rel = lab.cgroups_path(&id);
        let mut removed = 0;
        for h in hierarchies().iter().rev().take(2) {
            if fs::remove_dir(h.join(rel.trim_start_matches('/'))).is_ok() {
                removed += 1;
            }
        }
        assert!(removed > 0, "could not remove any of {id}'s cgroups");
        assert_ok(
            &lab.run(&["delete", "--force", &id]),
            "delete --force, half removed",
        );
        lab.assert_gone(&id);
    });
}

#[test]
fn delete_created() {
    each("del-created", Who::All, |lab| {
        for force in [false, true] {
            let id = lab.id("c");
            let b = lab.create_ok(&id, &lab.config(&id, Lab::SLEEPER));
            let pid = lab.pid_file(&b);
            assert!(alive(pid));
            assert_eq!(lab.status(&id), "created");
            let mut a = vec!["delete"];
            if force {
                a.push("--force");
            }
            a.push(&id);
            // containerd relies on this one: SIGKILL and destroy, exit 0.
            assert_ok(&lab.run(&a), "delete of a created container");
            assert!(wait_for(5, || !alive(pid)), "the init {pid} still runs");
            lab.assert_gone(&id);
        }
    });
}

#[test]
fn delete_running() {
    each("del-running", Who::All, |lab| {
        let id = lab.id("r");
        let b = lab.sleeper(&id);
        let pid = lab.pid_file(&b);
        let r = lab.run(&["delete", &id]);
        assert_fails(
            &r,
            &format!("cannot delete container {id} that is not stopped: running"),
            "delete of a running container",
        );
        assert_eq!(lab.status(&id), "running");
        assert!(alive(pid));
        assert_ok(
            &lab.run(&["delete", "--force", &id]),
            "delete --force, running",
        );
        assert!(wait_for(5, || !alive(pid)), "the init {pid} still runs");
        lab.assert_gone(&id);
    });
}

#[test]
fn delete_paused() {
    if !can_freeze() {
        common::skip("delete_paused", "no freezer cgroup on this host");
        return;
    }
    each("del-paused", Who::All, |lab| {
        let id = lab.id("p");
        let b = lab.sleeper(&id);
        let pid = lab.pid_file(&b);
        assert_ok(&lab.run(&["pause", &id]), "pause");
        assert_eq!(lab.status(&id), "paused");
        let r = lab.run(&["delete", &id]);
        assert_fails(
            &r,
            &format!("cannot delete container {id} that is not stopped: paused"),
            "delete of a paused container",
        );
        assert_eq!(lab.status(&id), "paused");
        assert_ok(
            &lab.run(&["delete", "--force", &id]),
            "delete --force, paused",
        );
        assert!(wait_for(5, || !alive(pid)), "the init {pid} still runs");
        lab.assert_gone(&id);

        // kill of a paused container with SIGKILL: killed, then thawed, so it ends.
        let id = lab.id("k");
        lab.sleeper(&id);
        assert_ok(&lab.run(&["pause", &id]), "pause");
        assert_ok(
            &lab.run(&["kill", &id, "KILL"]),
            "kill KILL of a paused container",
        );
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);

        // resume brings it back to running.
        let id = lab.id("r");
        lab.sleeper(&id);
        assert_ok(&lab.run(&["pause", &id]), "pause");
        assert_ok(&lab.run(&["resume", &id]), "resume");
        assert_eq!(lab.status(&id), "running");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

// ---- state (OCI.md 2.2, 2.4) --------------------------------------------------------------

const STATE_KEYS: [&str; 8] = [
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
];

/// The checks every `state` output gets: exactly the keys of OCI.md 2.4 (plus
/// `annotations` when `annotated`), `id`, `status`, `bundle`, `owner` "", `created`
/// RFC 3339 UTC with a fraction, within `[t0, t1]`.
#[track_caller]
fn check_state(s: &Json, id: &str, status: &str, bundle: &Path, annotated: bool, t0: i64, t1: i64) {
    let mut want: BTreeSet<String> = set_of(&STATE_KEYS);
    if annotated {
        want.insert("annotations".into());
    }
    assert_eq!(set_of(&s.keys()), want, "state keys of {id}: {}", s.dump());
    assert_eq!(s.get("id").and_then(Json::str), Some(id));
    assert_eq!(
        s.get("status").and_then(Json::str),
        Some(status),
        "{}",
        s.dump()
    );
    assert_eq!(
        s.get("bundle").and_then(Json::str),
        Some(bundle.to_str().unwrap())
    );
    assert_eq!(
        s.get("rootfs").and_then(Json::str),
        Some(common::image().to_str().unwrap()),
        "rootfs: {}",
        s.dump()
    );
    assert_eq!(
        s.get("owner").and_then(Json::str),
        Some(""),
        "owner of root"
    );
    let v = s.get("ociVersion").and_then(Json::str).unwrap_or("");
    assert!(v.starts_with("1."), "ociVersion {v:?}");
    let c = s.get("created").and_then(Json::str).unwrap_or("");
    let st = rfc3339(c).unwrap_or_else(|| panic!("created {c:?} is not RFC 3339"));
    assert!(st.utc, "created {c:?} is not UTC (Z)");
    assert!(
        (1..=9).contains(&st.frac_digits),
        "created {c:?} has no nanoseconds"
    );
    assert!(
        st.secs >= t0 - 2 && st.secs <= t1 + 2,
        "created {c:?} is not between {t0} and {t1}"
    );
    let pid = s.get("pid").and_then(Json::int);
    assert!(pid.is_some(), "pid is not a number: {}", s.dump());
}

#[test]
fn state_transitions() {
    each("state", Who::All, |lab| {
        let id = lab.id("s");
        let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
        let t0 = now_secs();
        // Poll `state` while `create` runs: never `creating`.
        let done = std::sync::atomic::AtomicBool::new(false);
        let seen = std::thread::scope(|sc| {
            let poller = sc.spawn(|| {
                let mut seen = BTreeSet::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = lab.run(&["state", &id]);
                    if r.code == 0 {
                        match Json::parse(&r.stdout) {
                            Ok(j) => {
                                seen.insert(
                                    j.get("status")
                                        .and_then(Json::str)
                                        .unwrap_or("?")
                                        .to_string(),
                                );
                            }
                            Err(e) => {
                                panic!("state printed no JSON during create ({e}): {:?}", r.stdout)
                            }
                        }
                    }
                }
                seen
            });
            let r = lab.create(&id, &b);
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert_ok(&r, "create");
            poller.join().unwrap()
        });
        assert!(
            seen.iter().all(|s| s == "created"),
            "statuses seen during create: {seen:?}"
        );
        let t1 = now_secs();
        let pid = lab.pid_file(&b);
        let s = lab.state(&id).expect("state");
        check_state(&s, &id, "created", &b, false, t0, t1);
        assert_eq!(s.get("pid").and_then(Json::int), Some(pid as i64));
        let created = s.get("created").cloned();

        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let s = lab.state(&id).expect("state");
        check_state(&s, &id, "running", &b, false, t0, t1);
        assert_eq!(s.get("pid").and_then(Json::int), Some(pid as i64));

        assert_ok(&lab.run(&["kill", &id, "TERM"]), "kill TERM");
        lab.wait_status(&id, "stopped", 10);
        let s = lab.state(&id).expect("state");
        check_state(&s, &id, "stopped", &b, false, t0, t1);
        assert_eq!(
            s.get("pid").and_then(Json::int),
            Some(0),
            "pid when stopped"
        );
        assert_eq!(s.get("created").cloned(), created, "created changed");

        assert_fails(
            &lab.run(&["start", &id]),
            "cannot start a container that has stopped",
            "start of a stopped container",
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
        assert_fails(
            &lab.run(&["state", &id]),
            "container does not exist",
            "state",
        );

        // annotations: in the state when there are some, absent when the config has an
        // empty object.
        let id = lab.id("a");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.annotations = vec![("org.crab-can.test".into(), "yes".into())];
        let b = lab.create_ok(&id, &cfg);
        let s = lab.state(&id).expect("state");
        check_state(&s, &id, "created", &b, true, t0, now_secs());
        assert_eq!(
            s.at(&["annotations", "org.crab-can.test"])
                .and_then(Json::str),
            Some("yes")
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");

        let id = lab.id("e");
        let mut j = Json::parse(&lab.config(&id, Lab::SLEEPER).json()).unwrap();
        j.set(&["annotations"], Json::Obj(Vec::new()));
        let b = lab.bundle_text(&id, &j.dump());
        assert_ok(&lab.create(&id, &b), "create with empty annotations");
        let s = lab.state(&id).expect("state");
        check_state(&s, &id, "created", &b, false, t0, now_secs());

        // kill works in `created`.
        assert_ok(
            &lab.run(&["kill", &id, "KILL"]),
            "kill of a created container",
        );
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

// ---- pid file (OCI.md 2.3) ----------------------------------------------------------------

#[test]
fn pid_file() {
    each("pidfile", Who::All, |lab| {
        let id = lab.id("p");
        let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
        let d = lab.dir.join("pids");
        fs::create_dir_all(&d).unwrap();
        // Relative: against the caller's cwd (the lab's directory), not the bundle.
        let r = lab.run_files(&[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            "pids/init.pid",
            &id,
        ]);
        assert_ok(&r, "create");
        let text = fs::read_to_string(d.join("init.pid")).expect("no pid file when create exited");
        assert!(
            !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()),
            "pid file {text:?}: digits only, no newline"
        );
        let names: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["init.pid"], "files beside the pid file");
        let pid: i32 = text.parse().unwrap();
        assert!(alive(pid), "pid {pid} of the pid file does not run");
        let s = lab.state(&id).unwrap();
        assert_eq!(s.get("pid").and_then(Json::int), Some(pid as i64));
        // No intermediate process of the runtime stays: the init's parent is not the runtime.
        let ppid = common::read_proc(pid).unwrap().ppid;
        let pexe = fs::read_link(format!("/proc/{ppid}/exe")).unwrap_or_default();
        let bin = fs::canonicalize(&lab.rt.bin).unwrap();
        assert_ne!(pexe, bin, "the init's parent {ppid} is the runtime");
        assert_ok(&lab.run(&["start", &id]), "start");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete");
        lab.assert_gone(&id);
    });
}

// ---- console socket (OCI.md 2.8) ----------------------------------------------------------

#[test]
fn console_socket() {
    each("console", Who::All, |lab| {
        let id = lab.id("t");
        let mut cfg = lab.config(&id, "");
        cfg.terminal = true;
        cfg.args = vec!["/bin/sh".into(), "-s".into(), lab.marker(&id)];
        let b = lab.bundle(&id, &cfg);
        let sock = ConsoleSocket::bind(&lab.dir.join("console.sock"));
        // Pipes on purpose: with a terminal nothing may keep create's output open.
        let r = lab.run(&[
            "create",
            "--bundle",
            b.to_str().unwrap(),
            "--pid-file",
            b.join("init.pid").to_str().unwrap(),
            "--console-socket",
            sock.path.to_str().unwrap(),
            &id,
        ]);
        assert_ok(&r, "create with a console socket");
        let con = sock
            .take_now()
            .unwrap_or_else(|e| panic!("after create exited: {e}"));
        assert_eq!(con.nfds, 1, "fds sent over the console socket");
        assert!(
            !con.payload.is_empty() && con.payload.len() < 4096,
            "payload {:?}",
            String::from_utf8_lossy(&con.payload)
        );
        assert!(
            is_pty_master(&con.master),
            "the fd sent is not a pty master"
        );
        write_fd(&con.master, b"echo hi; exit 3\n");
        assert_ok(&lab.run(&["start", &id]), "start");
        let out = read_fd_until(&con.master, 15, |o| contains(o, b"hi\r\n"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("hi\r\n"), "terminal output: {text:?}");
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);

        // terminal: true without a console socket is an error, nothing left.
        let id = lab.id("n");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.terminal = true;
        let b = lab.bundle(&id, &cfg);
        let r = lab.create(&id, &b);
        assert_eq!(r.code, 1, "terminal without a console socket: {}", show(&r));
        assert!(!r.stderr.is_empty());
        lab.assert_gone(&id);
    });
}

// ---- --log (OCI.md 2.9) -------------------------------------------------------------------

/// Run with `--log LOG --log-format json`: the run and the lines it added to LOG.
fn logged(lab: &Lab, log: &Path, args: &[&str], files: bool) -> (Run, Vec<String>) {
    let before = lines_of(log).len();
    let mut a = vec!["--log", log.to_str().unwrap(), "--log-format", "json"];
    a.extend_from_slice(args);
    let r = if files {
        lab.run_files(&a)
    } else {
        lab.run(&a)
    };
    let after = lines_of(log);
    (r, after[before.min(after.len())..].to_vec())
}

/// One error line, a JSON object with exactly level, msg and time; its msg.
#[track_caller]
fn check_error_line(r: &Run, new: &[String], what: &str) -> String {
    assert_eq!(r.code, 1, "{what}: {}", show(r));
    assert_eq!(
        new.len(),
        1,
        "{what}: want one line in the log, got {new:?}"
    );
    let j = Json::parse(&new[0]).unwrap_or_else(|e| panic!("{what}: {e}: {:?}", new[0]));
    assert_eq!(
        set_of(&j.keys()),
        set_of(&["level", "msg", "time"]),
        "{what}: {:?}",
        new[0]
    );
    assert_eq!(j.get("level").and_then(Json::str), Some("error"));
    let t = j.get("time").and_then(Json::str).unwrap_or("");
    let st = rfc3339(t).unwrap_or_else(|| panic!("{what}: time {t:?} is not RFC 3339"));
    assert!(
        (st.secs - now_secs()).abs() < 120,
        "{what}: time {t:?} is not now"
    );
    let msg = j.get("msg").and_then(Json::str).unwrap_or("").to_string();
    assert!(!msg.is_empty(), "{what}: empty msg");
    assert!(
        r.stderr.contains(&msg),
        "{what}: stderr {:?} lacks {msg:?}",
        r.stderr
    );
    msg
}

#[test]
fn json_log() {
    each("log", Who::All, |lab| {
        let log = lab.dir.join("log.json");
        fs::write(&log, "").unwrap();
        // Success: nothing written.
        let id = lab.id("ok");
        let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
        let pf = b.join("init.pid");
        let steps: [(&[&str], bool); 5] = [
            (
                &[
                    "create",
                    "--bundle",
                    b.to_str().unwrap(),
                    "--pid-file",
                    pf.to_str().unwrap(),
                    &id,
                ],
                true,
            ),
            (&["start", &id], false),
            (&["state", &id], false),
            (&["kill", &id, "KILL"], false),
            (&["list"], false),
        ];
        for (a, files) in steps {
            let (r, new) = logged(lab, &log, a, files);
            assert_ok(&r, &format!("{a:?}"));
            assert!(new.is_empty(), "{a:?} succeeded and logged {new:?}");
        }
        lab.wait_status(&id, "stopped", 10);
        let (r, new) = logged(lab, &log, &["delete", &id], false);
        assert_ok(&r, "delete");
        assert!(new.is_empty(), "delete logged {new:?}");
        assert_eq!(
            fs::metadata(&log).unwrap().len(),
            0,
            "the log after successes"
        );

        // Failures: one line each, appended.
        fs::write(
            &log,
            "{\"level\":\"info\",\"msg\":\"before\",\"time\":\"2026-01-01T00:00:00Z\"}\n",
        )
        .unwrap();
        let (r, new) = logged(lab, &log, &["state", "nope"], false);
        let msg = check_error_line(&r, &new, "state of an unknown id");
        assert!(msg.contains("does not exist"), "{msg:?}");
        let (r, new) = logged(lab, &log, &["start", "nope"], false);
        check_error_line(&r, &new, "start of an unknown id");
        let (r, new) = logged(lab, &log, &["kill", "nope", "KILL"], false);
        check_error_line(&r, &new, "kill of an unknown id");
        let bad = lab.id("bad");
        let bb = lab.bundle_text(&bad, "{\"ociVersion\": ");
        let (r, new) = logged(
            lab,
            &log,
            &["create", "--bundle", bb.to_str().unwrap(), &bad],
            true,
        );
        check_error_line(&r, &new, "create with a malformed config.json");
        lab.assert_gone(&bad);
        let missing = lab.id("nobin");
        let mut cfg = lab.config(&missing, "");
        cfg.args = vec!["no-such-binary-anywhere".into(), lab.marker(&missing)];
        let mb = lab.bundle(&missing, &cfg);
        let (r, new) = logged(
            lab,
            &log,
            &["create", "--bundle", mb.to_str().unwrap(), &missing],
            true,
        );
        let msg = check_error_line(&r, &new, "create of a missing binary");
        assert!(
            msg.contains("executable file not found in $PATH"),
            "{msg:?}"
        );
        lab.assert_gone(&missing);
        assert_eq!(
            lines_of(&log).first().map(String::as_str),
            Some("{\"level\":\"info\",\"msg\":\"before\",\"time\":\"2026-01-01T00:00:00Z\"}"),
            "the log is appended to"
        );
    });
}

// ---- hooks (OCI.md 2.10) ------------------------------------------------------------------

const HOOK_SH: &str = r#"kind=$1; dir=$2
cat > "$dir/state-$kind.json"
pwd > "$dir/cwd-$kind"
echo "${HOOKVAR:-unset}" > "$dir/env-$kind"
echo "$kind" >> "$dir/hooks.log""#;

#[test]
fn hooks_all_kinds() {
    each("hooks", Who::All, |lab| {
        let id = lab.id("h");
        let io = lab.io(&id);
        script(&io.join("hook.sh"), HOOK_SH);
        let host_hook = io.join("hook.sh");
        let host_hook = host_hook.to_str().unwrap();
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        for k in HOOK_KINDS {
            cfg = if k == "startContainer" {
                // Runs in the container: its path and files are the container's.
                cfg.hook(k, "/tmp/hook.sh", &["hook", k, "/tmp"])
            } else {
                cfg.hook(k, host_hook, &["hook", k, io.to_str().unwrap()])
            };
        }
        cfg.hooks[1].env = Some(vec!["HOOKVAR=set".into(), "PATH=/usr/bin:/bin".into()]);
        cfg.annotations = vec![("org.crab-can.hook".into(), "1".into())];
        let b = lab.create_ok(&id, &cfg);
        let pid = lab.pid_file(&b);
        let log = io.join("hooks.log");
        // runc 1.1.5 runs poststart hooks in create (fixed in runc 1.2): OCI.md's order is
        // asked of crab-can only.
        let runc_order = !lab.strict();
        let want: &[&str] = if runc_order {
            &["prestart", "createRuntime", "createContainer", "poststart"]
        } else {
            &["prestart", "createRuntime", "createContainer"]
        };
        assert_eq!(lines_of(&log), want, "after create");
        assert_ok(&lab.run(&["start", &id]), "start");
        let want: &[&str] = if runc_order {
            &[
                "prestart",
                "createRuntime",
                "createContainer",
                "poststart",
                "startContainer",
            ]
        } else {
            &[
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
            ]
        };
        assert_eq!(lines_of(&log), want, "after start");
        lab.wait_ready(&id);
        assert_ok(&lab.run(&["kill", &id, "TERM"]), "kill");
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        let mut want = want.to_vec();
        want.push("poststop");
        assert_eq!(lines_of(&log), want, "after delete");
        lab.assert_gone(&id);

        let bs = b.to_str().unwrap();
        let crab = lab.strict();
        // (kind, status on stdin, pid is the host pid, cwd is the bundle); where runc 1.1.5
        // differs, the check is crab-can's only: runc gives poststart (run in create)
        // `created`, the container's pid 1 to createContainer and startContainer, and runs
        // createContainer in the root filesystem, poststop in its caller's cwd.
        for (k, status, host_pid, cwd_bundle) in [
            ("prestart", "creating", true, true),
            ("createRuntime", "creating", true, true),
            ("createContainer", "creating", crab, crab),
            ("startContainer", "created", crab, false),
            (
                "poststart",
                if crab { "running" } else { "created" },
                true,
                true,
            ),
            ("poststop", "stopped", false, crab),
        ] {
            let text = fs::read_to_string(io.join(format!("state-{k}.json"))).unwrap();
            let s = Json::parse(&text).unwrap_or_else(|e| panic!("{k}: stdin {text:?}: {e}"));
            assert_eq!(
                s.get("id").and_then(Json::str),
                Some(id.as_str()),
                "{k}: {text}"
            );
            assert_eq!(
                s.get("status").and_then(Json::str),
                Some(status),
                "{k}: {text}"
            );
            assert_eq!(s.get("bundle").and_then(Json::str), Some(bs), "{k}: {text}");
            assert_eq!(
                s.at(&["annotations", "org.crab-can.hook"])
                    .and_then(Json::str),
                Some("1"),
                "{k}: {text}"
            );
            if host_pid {
                assert_eq!(
                    s.get("pid").and_then(Json::int),
                    Some(pid as i64),
                    "{k}: {text}"
                );
            }
            if cwd_bundle {
                let cwd = fs::read_to_string(io.join(format!("cwd-{k}"))).unwrap();
                assert_eq!(cwd.trim_end(), bs, "{k}: cwd");
            }
        }
        assert_eq!(
            fs::read_to_string(io.join("env-createRuntime")).unwrap(),
            "set\n"
        );
    });
}

#[test]
fn hooks_failing() {
    each("hooks-fail", Who::All, |lab| {
        // A failing create-time hook fails create and leaves nothing.
        for k in ["prestart", "createRuntime", "createContainer"] {
            let id = lab.id("f");
            let cfg = lab
                .config(&id, Lab::SLEEPER)
                .hook(k, "/bin/sh", &["sh", "-c", "exit 1"]);
            let b = lab.bundle(&id, &cfg);
            let r = lab.create(&id, &b);
            assert_eq!(r.code, 1, "failing {k} hook: {}", show(&r));
            lab.assert_gone(&id);
        }
        // A hook past its timeout is killed and fails create.
        let id = lab.id("t");
        let mut cfg =
            lab.config(&id, Lab::SLEEPER)
                .hook("createRuntime", "/bin/sleep", &["sleep", "30"]);
        cfg.hooks[0].timeout = Some(1);
        let b = lab.bundle(&id, &cfg);
        let t = Instant::now();
        let r = lab.create(&id, &b);
        assert_eq!(r.code, 1, "hook past its timeout: {}", show(&r));
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "took {:?}",
            t.elapsed()
        );
        lab.assert_gone(&id);
        // A failing poststop hook is a warning: delete succeeds.
        let id = lab.id("s");
        let cfg = lab
            .config(&id, "exit 0")
            .hook("poststop", "/bin/sh", &["sh", "-c", "exit 1"]);
        lab.create_ok(&id, &cfg);
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_status(&id, "stopped", 10);
        assert_ok(
            &lab.run(&["delete", &id]),
            "delete with a failing poststop hook",
        );
        lab.assert_gone(&id);
        // A failing poststart hook fails start and stops the container (crab-can; runc
        // 1.1.5 runs poststart hooks in create, which fails instead).
        let id = lab.id("p");
        let cfg =
            lab.config(&id, Lab::SLEEPER)
                .hook("poststart", "/bin/sh", &["sh", "-c", "exit 1"]);
        let b = lab.bundle(&id, &cfg);
        let r = lab.create(&id, &b);
        if lab.strict() {
            assert_ok(&r, "create");
            let r = lab.run(&["start", &id]);
            assert_eq!(r.code, 1, "failing poststart hook: {}", show(&r));
            let st = lab.status(&id);
            assert!(
                st == "stopped" || st.is_empty(),
                "after a failing poststart: {st:?}"
            );
            assert!(
                wait_for(5, || lab.marked_processes(&id).is_empty()),
                "still runs"
            );
        } else {
            assert_eq!(
                r.code,
                1,
                "runc: failing poststart hook in create: {}",
                show(&r)
            );
        }
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
        // A failing startContainer hook fails start.
        let id = lab.id("c");
        let cfg = lab.config(&id, Lab::SLEEPER).hook(
            "startContainer",
            "/bin/sh",
            &["sh", "-c", "exit 1"],
        );
        lab.create_ok(&id, &cfg);
        let r = lab.run(&["start", &id]);
        if lab.strict() {
            // runc 1.1.5 exits 0 here (its init fails, the container stops).
            assert_eq!(r.code, 1, "failing startContainer hook: {}", show(&r));
        }
        let st = lab.status(&id);
        assert!(
            st == "stopped" || st.is_empty(),
            "after a failing startContainer: {st:?}"
        );
        assert!(
            wait_for(5, || lab.marked_processes(&id).is_empty()),
            "still runs"
        );
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

// ---- kill (OCI.md 2.5) --------------------------------------------------------------------

/// A script whose shell starts two more shells (all three carry the marker, `$0`).
const FAMILY: &str = "sh -c 'while :; do sleep 1; done' \"$0\" & \
                      sh -c 'while :; do sleep 1; done' \"$0\" & \
                      touch /tmp/ready; while :; do sleep 1 & wait; done";

/// Container `id` running FAMILY from `cfg`, its three marked processes up.
#[track_caller]
fn family(lab: &Lab, id: &str, cfg: &Config) -> Vec<i32> {
    lab.create_ok(id, cfg);
    assert_ok(&lab.run(&["start", id]), "start");
    lab.wait_ready(id);
    let mut m = Vec::new();
    assert!(
        wait_for(10, || {
            m = lab.marked_processes(id);
            m.len() >= 3
        }),
        "{id}: want 3 marked processes, got {m:?}"
    );
    m
}

#[test]
fn kill_all_without_pid_namespace() {
    each("kill-all", Who::All, |lab| {
        // No pid namespace: the init is not a namespace's pid 1, `--all` must reach the
        // other processes of the cgroup.
        let id = lab.id("a");
        let cfg = lab.config(&id, FAMILY).without_ns("pid");
        let procs = family(lab, &id, &cfg);
        let in_cg = lab.cgroup_pids(&id);
        for p in &procs {
            assert!(in_cg.contains(p), "{p} is not in the cgroup {in_cg:?}");
        }
        assert_ok(&lab.run(&["kill", "--all", &id, "TERM"]), "kill --all TERM");
        assert!(
            wait_for(5, || lab.marked_processes(&id).is_empty()),
            "left after kill --all: {:?}",
            lab.marked_processes(&id)
        );
        lab.wait_status(&id, "stopped", 10);
        // --all succeeds on a stopped container.
        assert_ok(
            &lab.run(&["kill", "--all", &id, "KILL"]),
            "kill --all of a stopped one",
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);

        if lab.strict() {
            // SIGKILL without a private pid namespace kills the whole cgroup even without
            // --all (runc HEAD; runc 1.1.5 signals the init only).
            let id = lab.id("k");
            let cfg = lab.config(&id, FAMILY).without_ns("pid");
            family(lab, &id, &cfg);
            assert_ok(&lab.run(&["kill", &id, "KILL"]), "kill KILL");
            assert!(
                wait_for(5, || lab.marked_processes(&id).is_empty()),
                "left after kill KILL: {:?}",
                lab.marked_processes(&id)
            );
            lab.wait_status(&id, "stopped", 10);
            assert_ok(&lab.run(&["delete", &id]), "delete");
            lab.assert_gone(&id);
        }
    });
}

#[test]
fn kill_all_shared_pid_namespace() {
    each("kill-shared", Who::All, |lab| {
        // B joins A's pid namespace: `kill --all B` reaches B's processes, not A's.
        let a = lab.id("a");
        let ba = lab.sleeper(&a);
        let apid = lab.pid_file(&ba);
        let b = lab.id("b");
        let cfg = lab
            .config(&b, FAMILY)
            .join_ns("pid", &format!("/proc/{apid}/ns/pid"));
        let procs = family(lab, &b, &cfg);
        let bb = lab.bundle_dir(&b);
        let bpid = lab.pid_file(&bb);
        assert_eq!(
            ns_link(bpid, "pid"),
            ns_link(apid, "pid"),
            "B is not in A's pid namespace"
        );
        assert!(procs.iter().all(|p| !lab.marked_processes(&a).contains(p)));
        assert_ok(
            &lab.run(&["kill", "--all", &b, "KILL"]),
            "kill --all B KILL",
        );
        assert!(
            wait_for(5, || lab.marked_processes(&b).is_empty()),
            "B's processes left: {:?}",
            lab.marked_processes(&b)
        );
        lab.wait_status(&b, "stopped", 10);
        assert_eq!(lab.status(&a), "running", "A after kill --all B");
        assert!(alive(apid));
        assert_ok(&lab.run(&["delete", &b]), "delete B");
        lab.assert_gone(&b);
        assert_ok(&lab.run(&["delete", "--force", &a]), "delete A");
        lab.assert_gone(&a);
    });
}

#[test]
fn signals_by_number_and_name() {
    each("signals", Who::All, |lab| {
        let id = lab.id("s");
        let mut sc = String::new();
        for s in ["HUP", "INT", "QUIT", "USR1", "USR2", "37"] {
            sc.push_str(&format!("trap 'echo {s} >> /tmp/sig' {s}; "));
        }
        sc.push_str("trap 'echo TERM >> /tmp/sig; exit 0' TERM; touch /tmp/ready; ");
        sc.push_str("while :; do sleep 1 & wait; done");
        lab.up(&id, &sc);
        lab.wait_ready(&id);
        let log = lab.io(&id).join("sig");
        let mut want: Vec<String> = Vec::new();
        for (arg, got) in [
            ("10", "USR1"),
            ("USR2", "USR2"),
            ("SIGHUP", "HUP"),
            ("sigint", "INT"),
            ("Quit", "QUIT"),
            ("SigUsr1", "USR1"),
            ("12", "USR2"),
            ("37", "37"),
        ] {
            assert_ok(&lab.run(&["kill", &id, arg]), &format!("kill {arg}"));
            want.push(got.into());
            assert!(
                wait_for(10, || lines_of(&log) == want),
                "after kill {arg}: {:?}, want {want:?}",
                lines_of(&log)
            );
        }
        // An unknown signal is an error and sends nothing.
        let r = lab.run(&["kill", &id, "NOSUCHSIGNAL"]);
        assert_eq!(r.code, 1, "kill NOSUCHSIGNAL: {}", show(&r));
        assert_eq!(lab.status(&id), "running");
        // The default is TERM.
        assert_ok(&lab.run(&["kill", &id]), "kill without a signal");
        want.push("TERM".into());
        assert!(
            wait_for(10, || lines_of(&log) == want),
            "{:?}",
            lines_of(&log)
        );
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

#[test]
fn long_ids() {
    // An ID whose start socket's path would not fit in a socket address (crab-can binds it
    // under a short name and renames it), through the whole life, and `run`.
    each("long-id", Who::All, |lab| {
        let id = lab.id(&"l".repeat(150));
        lab.sleeper(&id);
        assert_eq!(lab.status(&id), "running");
        let r = lab.run(&["list", "-q"]);
        assert!(r.stdout.lines().any(|l| l == id), "list: {}", show(&r));
        kill_to_stopped(lab, &id);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
        let id = lab.id(&"r".repeat(150));
        let b = lab.bundle(&id, &lab.config(&id, "exit 3"));
        let r = lab.run_files(&["run", "--bundle", b.to_str().unwrap(), &id]);
        assert_eq!(r.code, 3, "run with a long id: {}", show(&r));
        lab.assert_gone(&id);
    });
}

#[test]
fn ps_lists_the_container_processes() {
    // `ps --format json ID` is what containerd reads (ctr task ps, the CRI's ListPids): an
    // array of host pids, the container's first process among them.
    each("ps", Who::All, |lab| {
        let id = lab.id("p");
        let b = lab.sleeper(&id);
        let first = lab.pid_file(&b);
        let pids = |lab: &Lab| -> Vec<i32> {
            let r = lab.run(&["ps", "--format", "json", &id]);
            assert_ok(&r, "ps --format json");
            let t = r.stdout.trim();
            if t == "null" {
                return Vec::new(); // runc's word for none
            }
            let inner = t.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
            let inner = inner.unwrap_or_else(|| panic!("not a JSON array: {t:?}"));
            inner
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| {
                    x.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("not a pid: {x:?}"))
                })
                .collect()
        };
        let running = pids(lab);
        assert!(running.contains(&first), "{first} not in {running:?}");
        // The script's shell and its sleep (and crab-can's init) are all there, and
        // nothing that is not in the container.
        assert!(running.len() >= 2, "{running:?}");
        let marked = lab.marked_processes(&id);
        for p in &marked {
            assert!(
                running.contains(p),
                "{p} (the container's) not in {running:?}"
            );
        }
        if lab.is_crab() {
            let r = lab.run(&["ps", &id]);
            assert_ok(&r, "ps (table)");
            assert!(r.stdout.starts_with("PID\tCMD\n"), "{}", r.stdout);
            assert!(
                r.stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("{first}\t"))),
                "{}",
                r.stdout
            );
            assert_fails(
                &lab.run(&["ps", &id, "aux"]),
                "not supported",
                "ps with ps options",
            );
            // `ps ID` is runc's without a global option before it too (podman runs the
            // runtime without --root); `ps` alone is the docker-like list of the running
            // containers (CONTRACT.md: the arguments decide).
            let r = common::run_command(common::command_for(&lab.rt.bin, &["ps"]));
            assert_eq!(r.exit_code(), 0, "ps without an ID: {}", common::show(&r));
            assert!(r.stdout.starts_with("NAME\tPID\t"), "{}", r.stdout);
        }
        kill_to_stopped(lab, &id);
        assert_eq!(pids(lab), Vec::<i32>::new(), "ps of a stopped container");
        assert_ok(&lab.run(&["delete", &id]), "delete");
        assert_fails(
            &lab.run(&["ps", &id]),
            "does not exist",
            "ps of a deleted container",
        );
    });
}

#[test]
fn errors_of_kill_start_and_unknown_ids() {
    each("errors", Who::All, |lab| {
        for a in [
            &["state", "nope"][..],
            &["start", "nope"],
            &["kill", "nope", "KILL"],
            &["kill", "nope"],
            &["delete", "nope"],
            &["pause", "nope"],
        ] {
            assert_fails(&lab.run(a), "container does not exist", &format!("{a:?}"));
        }
        let id = lab.id("e");
        lab.sleeper(&id);
        assert_fails(
            &lab.run(&["start", &id]),
            "",
            "start of a running container",
        );
        kill_to_stopped(lab, &id);
        assert_fails(
            &lab.run(&["kill", &id, "KILL"]),
            "container not running",
            "kill stopped",
        );
        assert_fails(
            &lab.run(&["kill", &id, "TERM"]),
            "container not running",
            "kill stopped",
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
        // Bad ids are refused, and nothing is made for them anywhere.
        let good = lab.id("g");
        let b = lab.bundle(&good, &lab.config(&good, Lab::SLEEPER));
        for bad in ["", ".", "..", "a/b", "../escape", "/abs", "a:config.json"] {
            let r = lab.run_files(&["create", "--bundle", b.to_str().unwrap(), bad]);
            assert_eq!(r.code, 1, "create with id {bad:?}: {}", show(&r));
        }
        assert!(!lab.dir.join("escape").exists() && !Path::new("/abs").exists());
        let left: Vec<_> = fs::read_dir(&lab.rt.root)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "entries in the root after refused ids: {left:?}"
        );
        assert!(lab.marked_processes(&good).is_empty());
    });
}

// ---- namespaces ---------------------------------------------------------------------------

#[test]
fn join_namespaces_by_path() {
    each("join", Who::All, |lab| {
        let a = lab.id("pause");
        let ba = lab.sleeper(&a);
        let apid = lab.pid_file(&ba);
        let b = lab.id("j");
        let mut cfg = lab.config(&b, Lab::SLEEPER);
        for k in ["net", "ipc", "uts"] {
            let kind = if k == "net" { "network" } else { k };
            cfg = cfg.join_ns(kind, &format!("/proc/{apid}/ns/{k}"));
        }
        let bb = lab.create_ok(&b, &cfg);
        assert_ok(&lab.run(&["start", &b]), "start");
        let bpid = lab.pid_file(&bb);
        let me = std::process::id() as i32;
        for k in ["net", "ipc", "uts"] {
            let (na, nb) = (ns_link(apid, k), ns_link(bpid, k));
            assert!(!na.is_empty() && na == nb, "{k}: A {na:?}, B {nb:?}");
            assert_ne!(na, ns_link(me, k), "{k}: A has no namespace of its own");
        }
        for k in ["pid", "mnt"] {
            assert_ne!(ns_link(apid, k), ns_link(bpid, k), "{k} is shared");
        }
        assert_ok(&lab.run(&["delete", "--force", &b]), "delete B");
        lab.assert_gone(&b);
        assert_eq!(lab.status(&a), "running");
        assert_ok(&lab.run(&["delete", "--force", &a]), "delete A");
        lab.assert_gone(&a);
    });
}

#[test]
fn no_mount_namespace_is_refused() {
    // OCI.md 3: without a mount namespace never pivot_root (it would pivot the host);
    // crab-can refuses. runc 1.1.5 refuses the default config too, but only because of its
    // maskedPaths, and chroots without them (OCI.md allows that), mounting in the caller's
    // namespace: it is never run here. The runtime runs in a private mount namespace of
    // its own (unshare) so that a failure cannot touch the host's mounts, on a private
    // copy of the image.
    each("no-mnt", Who::CrabCanOnly, |lab| {
        if !lab.is_crab() {
            return;
        }
        for masked in [true, false] {
            let id = lab.id("m");
            let rootfs = lab.dir.join(format!("rootfs-{id}"));
            common::make_image(&rootfs);
            let mut cfg = lab.config(&id, Lab::SLEEPER).without_ns("mount");
            cfg.root = rootfs.to_str().unwrap().into();
            if !masked {
                cfg.masked.clear();
                cfg.readonly_paths.clear();
            }
            let b = lab.bundle(&id, &cfg);
            let pf = b.join("init.pid");
            let mut c =
                common::command_for("unshare", &["--mount", "--propagation", "private", "--"]);
            c.arg(&lab.rt.bin)
                .args([
                    "--root",
                    lab.rt.root.to_str().unwrap(),
                    "create",
                    "--bundle",
                ])
                .arg(&b)
                .arg("--pid-file")
                .arg(&pf)
                .arg(&id)
                .current_dir(&lab.dir);
            let r = run_to_files(c, &lab.dir.join(format!("out-{id}")));
            assert_eq!(r.code, 1, "create without a mount namespace: {}", show(&r));
            let e = r.stderr.to_lowercase();
            assert!(
                e.contains("mount") || e.contains("mnt"),
                "the error should name the mount namespace: {}",
                r.stderr
            );
            lab.assert_gone(&id);
        }
    });
}

// ---- bad config.json (OCI.md 3) -----------------------------------------------------------

#[test]
fn bad_config_files() {
    each("badcfg", Who::All, |lab| {
        // (what, config.json text or None for none at all, JSON path the error names)
        let mut cases: Vec<(String, Option<String>, Option<&str>)> = vec![
            (
                "malformed".into(),
                Some("{\"ociVersion\": \"1.0.2\", \"process\": {".into()),
                None,
            ),
            ("empty".into(), Some(String::new()), None),
            ("an array".into(), Some("[]".into()), None),
            ("missing".into(), None, None),
        ];
        let typed: [(&[&str], Json, &str); 5] = [
            (
                &["process", "user", "uid"],
                Json::Str("zero".into()),
                "process.user.uid",
            ),
            (&["process", "args"], Json::Str("sh".into()), "process.args"),
            (
                &["process", "terminal"],
                Json::Num("1".into()),
                "process.terminal",
            ),
            (
                &["linux", "namespaces"],
                Json::Obj(Vec::new()),
                "linux.namespaces",
            ),
            (&["root", "path"], Json::Num("5".into()), "root.path"),
        ];
        let base = Json::parse(&lab.config("x", Lab::SLEEPER).json()).unwrap();
        for (path, v, name) in typed {
            let mut j = base.clone();
            j.set(path, v);
            cases.push((format!("wrong type at {name}"), Some(j.dump()), Some(name)));
        }
        for (what, text, name) in cases {
            let id = lab.id("b");
            // The marker of this id, so that a process started anyway is found.
            let text = text.map(|t| t.replace(&lab.marker("x"), &lab.marker(&id)));
            let b = lab.bundle_dir(&id);
            if let Some(t) = &text {
                fs::write(b.join("config.json"), t).unwrap();
            }
            let r = lab.create(&id, &b);
            assert_eq!(r.code, 1, "{what}: {}", show(&r));
            assert!(!r.stderr.trim().is_empty(), "{what}: no error message");
            assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
            if let Some(n) = name {
                assert!(
                    r.stderr.contains(n),
                    "{what}: the error should name {n}: {}",
                    r.stderr
                );
                if lab.strict() {
                    // `process.user.uid: expected a number` style (runc says
                    // "cannot unmarshal string into Go struct field User.process.user.uid").
                    assert!(
                        r.stderr.contains(&format!("{n}: expected")),
                        "{what}: {}",
                        r.stderr
                    );
                }
            }
            assert!(!b.join("init.pid").exists(), "{what}: a pid file");
            lab.assert_gone(&id);
            assert_fails(&lab.run(&["state", &id]), "does not exist", &what);
        }
    });
}

// ---- robustness ---------------------------------------------------------------------------

#[test]
fn sigkill_during_create_then_delete_force() {
    // runc 1.1.5 fails this one: killed between making the cgroup (and its `runc init`)
    // and writing state.json, it leaves a cgroup that `delete --force` does not know of.
    each("sigkill", Who::CrabCanOnly, |lab| {
        // How long a create takes here.
        let id = lab.id("t");
        let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
        let t = Instant::now();
        assert_ok(&lab.create(&id, &b), "create");
        let dur = t.elapsed();
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let n = 16u64;
        for i in 0..n {
            let id = lab.id("k");
            let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
            // Spread over the create's duration, with jitter.
            let jitter = (seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i * 1442695040888963407)
                >> 33)
                % 1000;
            let us = (dur.as_micros() as u64 * (i * 1000 + jitter)) / (n * 1000);
            let pf = b.join("init.pid");
            let mut c = lab.rt.cmd(
                &lab.dir,
                &[
                    "create",
                    "--bundle",
                    b.to_str().unwrap(),
                    "--pid-file",
                    pf.to_str().unwrap(),
                    &id,
                ],
            );
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let bg = common::Bg::start(c);
            std::thread::sleep(Duration::from_micros(us));
            common::kill(bg.pid(), libc::SIGKILL);
            let r = bg.wait();
            let r2 = lab.run(&["delete", "--force", &id]);
            assert_eq!(
                r2.code,
                0,
                "delete --force after SIGKILL at {us} us (create: {}): {}",
                r.code,
                show(&r2)
            );
            lab.assert_gone(&id);
        }
    });
}

#[test]
fn twenty_at_once() {
    each("twenty", Who::All, |lab| {
        let ids: Vec<String> = (0..20).map(|_| lab.id("m")).collect();
        std::thread::scope(|sc| {
            for id in &ids {
                sc.spawn(move || {
                    lab.create_ok(id, &lab.config(id, Lab::SLEEPER));
                    assert_ok(&lab.run(&["start", id]), "start");
                });
            }
        });
        let r = lab.run(&["list", "--format", "json"]);
        assert_ok(&r, "list");
        let j = Json::parse(&r.stdout).expect("list --format json");
        let running: BTreeSet<String> = j
            .arr()
            .unwrap_or_default()
            .iter()
            .filter(|c| c.get("status").and_then(Json::str) == Some("running"))
            .filter_map(|c| c.get("id").and_then(Json::str).map(str::to_string))
            .collect();
        assert_eq!(running, set_of(&ids), "running after 20 parallel starts");
        std::thread::scope(|sc| {
            for id in &ids {
                sc.spawn(move || {
                    assert_ok(&lab.run(&["delete", "--force", id]), "delete --force");
                    lab.assert_gone(id);
                });
            }
        });
    });
}

// ---- command line ---------------------------------------------------------------------------

#[test]
fn option_spellings() {
    each("spellings", Who::All, |lab| {
        let root = format!("--root={}", lab.rt.root.display());
        let run = |args: &[&str], files: bool| {
            let mut a = vec![root.as_str()];
            a.extend_from_slice(args);
            let mut c = common::command_for(&lab.rt.bin, &a);
            c.current_dir(&lab.dir);
            if files {
                run_to_files(c, &lab.dir.join(format!("sp-{}", args.len())))
            } else {
                common::run_command(c)
            }
        };
        let id = lab.id("o");
        let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
        let bo = format!("--bundle={}", b.display());
        let po = format!("--pid-file={}", b.join("init.pid").display());
        assert_ok(
            &run(&["create", &bo, &po, &id], true),
            "create --bundle=B --pid-file=P",
        );
        assert_eq!(lab.status(&id), "created");
        let id2 = lab.id("o");
        let b2 = lab.bundle(&id2, &lab.config(&id2, Lab::SLEEPER));
        assert_ok(
            &run(&["create", "-b", b2.to_str().unwrap(), &id2], true),
            "create -b B",
        );
        assert_ok(&run(&["start", &id2], false), "start");
        lab.wait_ready(&id2);
        let r = run(&["list", "--format=json"], false);
        assert_ok(&r, "list --format=json");
        assert!(Json::parse(&r.stdout).is_ok(), "{:?}", r.stdout);
        let log = lab.dir.join("log.json");
        let lo = format!("--log={}", log.display());
        let r = run(&[&lo, "--log-format=json", "state", "nope"], false);
        check_error_line(&r, &lines_of(&log), "--log=F --log-format=json");
        assert_ok(&run(&["kill", "-a", &id2, "TERM"], false), "kill -a");
        lab.wait_status(&id2, "stopped", 10);
        assert_ok(&run(&["delete", "-f", &id], false), "delete -f (created)");
        assert_ok(&run(&["delete", &id2], false), "delete");
        lab.assert_gone(&id);
        lab.assert_gone(&id2);
    });
}

#[test]
fn run_detached_and_foreground() {
    each("run", Who::All, |lab| {
        let id = lab.id("d");
        let b = lab.bundle(&id, &lab.config(&id, Lab::SLEEPER));
        let t = Instant::now();
        let r = lab.run_files(&["run", "-b", b.to_str().unwrap(), "-d", &id]);
        assert_ok(&r, "run -b B -d");
        assert!(t.elapsed() < Duration::from_secs(20));
        assert_eq!(lab.status(&id), "running");
        lab.wait_ready(&id);
        assert_ok(&lab.run(&["kill", &id, "TERM"]), "kill");
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);

        // Foreground: the process's output passes through, its exit status is run's, and
        // the container is gone afterwards.
        let id = lab.id("f");
        let b = lab.bundle(
            &id,
            &lab.config(&id, "echo out-$0; echo err-$0 >&2; exit 7"),
        );
        let r = lab.run_files(&["run", "--bundle", b.to_str().unwrap(), &id]);
        assert_eq!(r.code, 7, "run in the foreground: {}", show(&r));
        assert_eq!(r.stdout, format!("out-{}\n", lab.marker(&id)));
        assert!(
            r.stderr.contains(&format!("err-{}", lab.marker(&id))),
            "{}",
            r.stderr
        );
        lab.assert_gone(&id);
    });
}

#[test]
fn list_quiet_and_json() {
    each("list", Who::All, |lab| {
        let r = lab.run(&["list", "-q"]);
        assert_ok(&r, "list -q of nothing");
        assert_eq!(r.stdout.trim(), "");
        let c = lab.id("l");
        lab.create_ok(&c, &lab.config(&c, Lab::SLEEPER));
        let rn = lab.id("l");
        let brn = lab.sleeper(&rn);
        let r = lab.run(&["list", "-q"]);
        assert_ok(&r, "list -q");
        let got: BTreeSet<String> = r.stdout.lines().map(str::to_string).collect();
        assert_eq!(got, set_of(&[&c, &rn]), "list -q: {:?}", r.stdout);
        let r = lab.run(&["list", "--format", "json"]);
        assert_ok(&r, "list --format json");
        let j = Json::parse(&r.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", r.stdout));
        let items = j.arr().expect("an array");
        assert_eq!(items.len(), 2, "{}", j.dump());
        for it in items {
            let id = it.get("id").and_then(Json::str).unwrap_or("");
            let want = if id == c { "created" } else { "running" };
            assert_eq!(
                it.get("status").and_then(Json::str),
                Some(want),
                "{}",
                it.dump()
            );
            if id == rn {
                assert_eq!(
                    it.get("pid").and_then(Json::int),
                    Some(lab.pid_file(&brn) as i64)
                );
            }
        }
        let r = lab.run(&["list"]);
        assert_ok(&r, "list");
        assert!(
            r.stdout.contains(&c) && r.stdout.contains(&rn),
            "{:?}",
            r.stdout
        );
        for id in [&c, &rn] {
            assert_ok(&lab.run(&["delete", "--force", id]), "delete");
            lab.assert_gone(id);
        }
    });
}

#[test]
fn features_is_json() {
    each("features", Who::All, |lab| {
        let r = lab.run(&["features"]);
        assert_ok(&r, "features");
        let j = Json::parse(&r.stdout).unwrap_or_else(|e| panic!("features: {e}: {:?}", r.stdout));
        for k in ["ociVersionMin", "ociVersionMax"] {
            let v = j.get(k).and_then(Json::str).unwrap_or("");
            assert!(v.starts_with("1."), "{k}: {v:?}");
        }
        if let Some(h) = j.get("hooks") {
            for x in h.arr().expect("hooks: an array") {
                let n = x.str().unwrap_or("");
                assert!(HOOK_KINDS.contains(&n), "hook {n:?}");
            }
        }
        if let Some(ns) = j.at(&["linux", "namespaces"]) {
            let known = [
                "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
            ];
            for x in ns.arr().expect("linux.namespaces: an array") {
                assert!(known.contains(&x.str().unwrap_or("")), "namespace {x:?}");
            }
        }
    });
}

#[test]
fn version_lines() {
    each("version", Who::All, |lab| {
        let r = common::run_command(common::command_for(&lab.rt.bin, &["--version"]));
        assert_ok(&r, "--version");
        let with_version = r.stdout.lines().filter(|l| l.contains("version")).count();
        assert_eq!(with_version, 1, "lines with \"version\": {:?}", r.stdout);
        let commit = r
            .stdout
            .lines()
            .filter(|l| l.starts_with("commit:"))
            .count();
        assert_eq!(commit, 1, "lines starting \"commit:\": {:?}", r.stdout);
    });
}

#[test]
fn spec_writes_a_config_that_runs() {
    each("spec", Who::All, |lab| {
        let id = lab.id("spec");
        let b = lab.bundle_dir(&id);
        let r = common::run_command(lab.rt.cmd(&b, &["spec"]));
        assert_ok(&r, "spec");
        let text = fs::read_to_string(b.join("config.json")).expect("spec wrote no config.json");
        let mut j = Json::parse(&text).unwrap_or_else(|e| panic!("spec: {e}"));
        for k in ["ociVersion", "process", "root"] {
            assert!(j.get(k).is_some(), "spec: no {k}");
        }
        // Its root filesystem, where it says; a cgroup of this lab (the only change).
        let root = j
            .at(&["root", "path"])
            .and_then(Json::str)
            .expect("root.path")
            .to_string();
        let rootfs = if root.starts_with('/') {
            root.into()
        } else {
            b.join(&root)
        };
        assert!(!rootfs.exists(), "spec made {rootfs:?}");
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(common::image())
            .arg(&rootfs)
            .status()
            .unwrap();
        assert!(st.success());
        j.set(&["linux", "cgroupsPath"], Json::Str(lab.cgroups_path(&id)));
        fs::write(b.join("config.json"), j.dump()).unwrap();
        let terminal = j.at(&["process", "terminal"]) == Some(&Json::Bool(true));
        if terminal {
            let sock = ConsoleSocket::bind(&lab.dir.join("spec.sock"));
            let r = lab.run(&[
                "create",
                "-b",
                b.to_str().unwrap(),
                "--console-socket",
                sock.path.to_str().unwrap(),
                &id,
            ]);
            assert_ok(&r, "create");
            let con = sock.take_now().unwrap();
            write_fd(&con.master, b"echo hi; exit 3\n");
            assert_ok(&lab.run(&["start", &id]), "start");
            let out = read_fd_until(&con.master, 15, |o| contains(o, b"hi\r\n"));
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains("hi\r\n"), "terminal output: {text:?}");
        } else {
            assert_ok(
                &lab.run_files(&["create", "-b", b.to_str().unwrap(), &id]),
                "create",
            );
            assert_ok(&lab.run(&["start", &id]), "start");
        }
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

// ---- process model, cgroups (OCI.md 2.1, 3) -----------------------------------------------

#[test]
fn stdio_passes_through() {
    each("stdio", Who::All, |lab| {
        let id = lab.id("io");
        let b = lab.bundle(
            &id,
            &lab.config(&id, "read l; echo \"got $l\"; echo \"err $l\" >&2"),
        );
        let input = lab.dir.join("input");
        fs::write(&input, "line-from-stdin\n").unwrap();
        let pf = b.join("init.pid");
        let mut c = lab.rt.cmd(
            &lab.dir,
            &[
                "create",
                "--bundle",
                b.to_str().unwrap(),
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
            ],
        );
        c.stdin(fs::File::open(&input).unwrap());
        let out = lab.dir.join("io-out");
        assert_ok(&run_to_files(c, &out), "create");
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_status(&id, "stopped", 10);
        assert_eq!(
            fs::read_to_string(out.with_extension("stdout")).unwrap(),
            "got line-from-stdin\n"
        );
        assert_eq!(
            fs::read_to_string(out.with_extension("stderr")).unwrap(),
            "err line-from-stdin\n"
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

/// The first of `files` that exists in container `id`'s cgroup (any hierarchy), trimmed.
fn cgroup_value(lab: &Lab, id: &str, files: &[&str]) -> Option<String> {
    let rel = lab.cgroups_path(id);
    for h in hierarchies() {
        for f in files {
            let p = h.join(rel.trim_start_matches('/')).join(f);
            if let Ok(v) = fs::read_to_string(&p) {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

#[test]
fn cgroups_path_and_resources() {
    each("cgroups", Who::All, |lab| {
        let id = lab.id("r");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.resources =
            Some("{\"memory\": {\"limit\": 67108864}, \"pids\": {\"limit\": 64}}".into());
        let b = lab.create_ok(&id, &cfg);
        let pid = lab.pid_file(&b);
        // The init is in its final leaf when create returns, in every hierarchy it is in
        // below the root (the shim reads /proc/PID/cgroup for stats and OOM).
        let rel = lab.cgroups_path(&id);
        let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for ctrl in ["memory", "pids"] {
            let line = cg
                .lines()
                .find(|l| {
                    l.split(':')
                        .nth(1)
                        .is_some_and(|c| c.split(',').any(|x| x == ctrl))
                })
                .or_else(|| cg.lines().find(|l| l.starts_with("0::")));
            let path = line.and_then(|l| l.splitn(3, ':').nth(2)).unwrap_or("");
            assert_eq!(path, rel, "{ctrl} cgroup of the init: {cg}");
        }
        assert_eq!(
            cgroup_value(lab, &id, &["pids.max"]).as_deref(),
            Some("64"),
            "pids limit"
        );
        assert_eq!(
            cgroup_value(lab, &id, &["memory.max", "memory.limit_in_bytes"]).as_deref(),
            Some("67108864"),
            "memory limit"
        );
        assert_ok(
            &lab.run(&["delete", &id]),
            "delete of the created container",
        );
        lab.assert_gone(&id);
    });
}

// ---- update and events (OCI.md 2.11) ----------------------------------------------------

/// Limits given at create, so that the container is in the memory, pids and cpu cgroups on
/// every layout (crab-can joins a v1 hierarchy only for a limit it enforces).
const LIMITED: &str =
    r#"{"memory": {"limit": 268435456}, "pids": {"limit": 100}, "cpu": {"shares": 512}}"#;

/// Create and start container `id` running `script` with the `LIMITED` resources.
#[track_caller]
fn up_limited(lab: &Lab, id: &str, script: &str) -> std::path::PathBuf {
    let mut cfg = lab.config(id, script);
    cfg.resources = Some(LIMITED.into());
    let b = lab.create_ok(id, &cfg);
    assert_ok(&lab.run(&["start", id]), "start");
    b
}

/// `RUNTIME --root R ARGS...` with `input` on a pipe as stdin (as containerd's shim sends
/// `update --resources -`).
fn run_stdin(lab: &Lab, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut c = lab.rt.cmd(&lab.dir, args);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let _ = pipe.write_all(input.as_bytes());
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    Run::new(out.status, &out.stdout, &out.stderr)
}

/// Exit 1 with one line of error output holding `needle`.
#[track_caller]
fn assert_fails_one_line(r: &Run, needle: &str, what: &str) {
    assert_fails(r, needle, what);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{what}: {}", show(r));
}

#[test]
fn update_memory_takes_effect() {
    // A 32 MiB allocation (a shell reading `yes` into a variable, in a subshell) fits the
    // 256 MiB limit of create; after `update --memory 24m` the same one is OOM-killed.
    // The subshell and its children ask to be the OOM killer's first choice: when a second
    // OOM follows before the first victim's memory is freed, the kernel takes the next
    // largest process, which would otherwise be the outer shell that reports the round.
    let script = "touch /tmp/ready; for i in 1 2; do \
        while [ ! -e /tmp/go$i ]; do sleep 0.1; done; \
        (echo 1000 > /proc/self/oom_score_adj; x=$(yes | head -c 33554432); echo ${#x}) \
        > /tmp/out$i 2>&1; echo $? > /tmp/rc$i; \
        done; while :; do sleep 1 & wait; done";
    each("update-mem", Who::All, |lab| {
        let id = lab.id("m");
        up_limited(lab, &id, script);
        lab.wait_ready(&id);
        let io = lab.io(&id);
        let round = |i: u32| -> String {
            fs::write(io.join(format!("go{i}")), "").unwrap();
            let rc = io.join(format!("rc{i}"));
            assert!(wait_for(30, || rc.exists()), "round {i} did not end");
            std::thread::sleep(Duration::from_millis(50));
            fs::read_to_string(rc).unwrap().trim().to_string()
        };
        assert_eq!(round(1), "0", "the allocation under 256 MiB");
        let limit = || cgroup_value(lab, &id, &["memory.max", "memory.limit_in_bytes"]);
        assert_eq!(limit().as_deref(), Some("268435456"));
        assert_ok(
            &lab.run(&["update", "--memory", "24m", &id]),
            "update --memory 24m",
        );
        assert_eq!(limit().as_deref(), Some("25165824"), "the kernel's limit");
        assert_eq!(round(2), "137", "the allocation under 24 MiB: OOM-killed");
        assert_eq!(lab.status(&id), "running");
        // runc's other forms of the value: -1 (no limit), `=`, units with i and b.
        assert_ok(
            &lab.run(&["update", "--memory=32MiB", &id]),
            "--memory=32MiB",
        );
        assert_eq!(limit().as_deref(), Some("33554432"));
        assert_ok(&lab.run(&["update", "--memory", "-1", &id]), "--memory -1");
        let v: u64 = limit()
            .unwrap_or_default()
            .replace("max", "18446744073709551615")
            .parse()
            .unwrap_or(0);
        assert!(v > 1 << 60, "no limit after -1: {:?}", limit());
        kill_to_stopped(lab, &id);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

#[test]
fn update_resources_json_and_flags() {
    each("update-json", Who::All, |lab| {
        let id = lab.id("j");
        up_limited(lab, &id, Lab::SLEEPER);
        lab.wait_ready(&id);
        let pids = || cgroup_value(lab, &id, &["pids.max"]);
        let memory = || cgroup_value(lab, &id, &["memory.max", "memory.limit_in_bytes"]);
        // The cpu quota and period: v2's cpu.max, v1's two files.
        let cpu = || match cgroup_value(lab, &id, &["cpu.max"]) {
            Some(v) => v,
            None => format!(
                "{} {}",
                cgroup_value(lab, &id, &["cpu.cfs_quota_us"]).unwrap_or_default(),
                cgroup_value(lab, &id, &["cpu.cfs_period_us"]).unwrap_or_default()
            ),
        };
        // containerd's shim: the LinuxResources JSON on a pipe.
        let r = run_stdin(
            lab,
            &["update", "--resources=-", &id],
            r#"{"pids": {"limit": 42}, "cpu": {"quota": 20000, "period": 100000}}"#,
        );
        assert_ok(&r, "update --resources=- (stdin)");
        assert_eq!(pids().as_deref(), Some("42"));
        assert_eq!(cpu(), "20000 100000");
        assert_eq!(
            memory().as_deref(),
            Some("268435456"),
            "not given: unchanged"
        );
        let r = run_stdin(
            lab,
            &["update", "--resources", "-", &id],
            r#"{"memory": {"limit": 134217728}}"#,
        );
        assert_ok(&r, "update --resources - (stdin)");
        assert_eq!(memory().as_deref(), Some("134217728"));
        assert_eq!(pids().as_deref(), Some("42"), "not given: unchanged");
        // podman and CRI-O: a file.
        let f = lab.dir.join("resources.json");
        fs::write(&f, r#"{"pids": {"limit": 43}}"#).unwrap();
        assert_ok(
            &lab.run(&["update", "--resources", f.to_str().unwrap(), &id]),
            "update --resources FILE",
        );
        assert_eq!(pids().as_deref(), Some("43"));
        // runc's flags; only what is given changes (the period stays).
        assert_ok(
            &lab.run(&["update", "--pids-limit=50", "--cpu-quota", "30000", &id]),
            "update --pids-limit=50 --cpu-quota 30000",
        );
        assert_eq!(pids().as_deref(), Some("50"));
        assert_eq!(cpu(), "30000 100000");
        assert_eq!(memory().as_deref(), Some("134217728"));
        if lab.is_crab() {
            for (args, needle) in [
                (
                    &["update", "--cpu-rt-runtime", "950000", &id][..],
                    "not supported",
                ),
                (
                    &["update", "--memory", "12x", &id],
                    "invalid value for --memory",
                ),
                (&["update", "--pids-limit", "many", &id], "invalid value"),
                (&["update", "--no-such-flag", "1", &id], "no-such-flag"),
            ] {
                assert_fails_one_line(&lab.run(args), needle, &format!("{args:?}"));
            }
            let r = run_stdin(lab, &["update", "--resources", "-", &id], "{\"pids\": ");
            assert_fails(&r, "line 1", "bad JSON on stdin");
            assert_eq!(
                pids().as_deref(),
                Some("50"),
                "a refused update changes nothing"
            );
        }
        kill_to_stopped(lab, &id);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

#[test]
fn update_created_paused_stopped_unknown() {
    each("update-states", Who::All, |lab| {
        let pids = |id: &str| cgroup_value(lab, id, &["pids.max"]);
        // created
        let id = lab.id("c");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.resources = Some(LIMITED.into());
        lab.create_ok(&id, &cfg);
        assert_ok(
            &lab.run(&["update", "--pids-limit", "30", &id]),
            "update, created",
        );
        assert_eq!(pids(&id).as_deref(), Some("30"));
        assert_eq!(lab.status(&id), "created");
        assert_ok(&lab.run(&["delete", &id]), "delete, created");
        lab.assert_gone(&id);
        // paused
        let id = lab.id("p");
        up_limited(lab, &id, Lab::SLEEPER);
        lab.wait_ready(&id);
        if can_freeze() {
            assert_ok(&lab.run(&["pause", &id]), "pause");
            assert_ok(
                &lab.run(&["update", "--pids-limit", "20", &id]),
                "update, paused",
            );
            assert_eq!(pids(&id).as_deref(), Some("20"));
            assert_eq!(lab.status(&id), "paused");
            let r = lab.run(&["events", "--stats", &id]);
            assert_ok(&r, "events --stats, paused");
            assert_ok(&lab.run(&["resume", &id]), "resume");
        }
        // stopped: runc's words, one line, and one line in --log.
        kill_to_stopped(lab, &id);
        let r = lab.run(&["update", "--pids-limit", "10", &id]);
        assert_fails_one_line(&r, "container not running", "update, stopped");
        let r = lab.run(&["events", "--stats", &id]);
        let want = format!("container with id {id} is not running");
        assert_fails_one_line(&r, &want, "events --stats, stopped");
        let log = lab.dir.join("log.json");
        let (r, new) = logged(lab, &log, &["update", "--pids-limit", "10", &id], false);
        if lab.strict() {
            let msg = check_error_line(&r, &new, "update, stopped, --log");
            assert!(msg.contains("container not running"), "{msg}");
        }
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
        // On a hybrid host crab-can joins a v1 hierarchy only for a limit given at create:
        // a limit of another one is refused, in words.
        let hybrid = common::CgroupLayout::Hybrid { unified: true };
        if lab.is_crab() && common::cgroup_layout() == hybrid {
            let id = lab.id("n");
            lab.sleeper(&id);
            let r = lab.run(&["update", "--memory", "64m", &id]);
            assert_fails_one_line(&r, "has no memory cgroup", "update, no memory cgroup");
            kill_to_stopped(lab, &id);
            assert_ok(&lab.run(&["delete", &id]), "delete");
            lab.assert_gone(&id);
        }
        // unknown
        for a in [
            &["update", "--pids-limit", "10", "nope"][..],
            &["update", "--resources", "-", "nope"],
            &["events", "--stats", "nope"],
        ] {
            assert_fails_one_line(&lab.run(a), "container does not exist", &format!("{a:?}"));
        }
    });
}

#[test]
fn events_stats_is_one_json_object() {
    each("events", Who::All, |lab| {
        let id = lab.id("e");
        up_limited(lab, &id, Lab::SLEEPER);
        lab.wait_ready(&id);
        let r = lab.run(&["events", "--stats", &id]);
        assert_ok(&r, "events --stats");
        assert_eq!(r.stdout.trim().lines().count(), 1, "one line: {}", r.stdout);
        let j = Json::parse(r.stdout.trim())
            .unwrap_or_else(|e| panic!("events --stats printed no JSON ({e}): {}", r.stdout));
        assert_eq!(j.get("type").and_then(Json::str), Some("stats"));
        assert_eq!(j.get("id").and_then(Json::str), Some(id.as_str()));
        let n = |path: &[&str]| j.at(path).and_then(Json::int).unwrap_or(0);
        assert!(n(&["data", "memory", "usage", "usage"]) > 0, "{}", r.stdout);
        assert_eq!(
            n(&["data", "memory", "usage", "limit"]),
            268435456,
            "{}",
            r.stdout
        );
        assert!(n(&["data", "pids", "current"]) > 0, "{}", r.stdout);
        assert_eq!(n(&["data", "pids", "limit"]), 100, "{}", r.stdout);
        assert!(n(&["data", "cpu", "usage", "total"]) > 0, "{}", r.stdout);
        assert!(j.at(&["data", "memory", "raw"]).is_some(), "{}", r.stdout);
        if lab.is_crab() {
            assert_fails_one_line(
                &lab.run(&["events", &id]),
                "not supported",
                "events without --stats",
            );
        }
        kill_to_stopped(lab, &id);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

// ---- the harness itself -----------------------------------------------------------------

#[test]
fn lab_sees_and_removes_leftovers() {
    // What every "nothing left behind" check relies on: `leftovers` reports a state entry,
    // a cgroup, a process with the marker and in the cgroup, a mount; dropping the lab
    // removes them all.
    let lab = Lab::new("self", Kind::Runc);
    let id = lab.id("x");
    fs::create_dir_all(lab.rt.root.join(&id)).unwrap();
    let files = Lab::new("self-files", Kind::CrabCan);
    let fid = files.id("x");
    files.half_made(&fid);
    fs::write(files.rt.root.join(format!("{fid}:start")), "").unwrap();
    fs::write(files.rt.root.join(format!("{fid}:config.json")), "{}").unwrap();
    let left = files.leftovers(&fid);
    assert_eq!(left.len(), 3, "{left:?}");
    drop(files);
    let hs = hierarchies();
    let h = hs
        .iter()
        .find(|h| h.ends_with("pids"))
        .or(hs.first())
        .expect("a cgroup hierarchy")
        .clone();
    let cg = h.join(lab.cgroups_path(&id).trim_start_matches('/'));
    fs::create_dir_all(&cg).unwrap();
    // In a process group of its own, without the test's output: its `sleep` (not marked,
    // and maybe forked before the move into the cgroup) goes with the group at the end.
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "sleep 100; :", &lab.marker(&id)])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    fs::write(cg.join("cgroup.procs"), pid.to_string()).unwrap();
    let mnt = lab.dir.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let (src, typ) = (c"none", c"tmpfs");
    let target = std::ffi::CString::new(mnt.to_str().unwrap()).unwrap();
    // SAFETY: mount with NUL-terminated strings and no data.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            typ.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
    let left = lab.leftovers(&id).join("\n");
    for want in [
        "state entry ",
        &format!("cgroup {}", cg.display()),
        &format!("process {pid} \""),
        &format!("process {pid} ("),
        &format!("mount {}", ""),
    ] {
        assert!(left.contains(want), "leftovers lack {want:?}:\n{left}");
    }
    assert!(left.contains(mnt.to_str().unwrap()), "{left}");
    let dir = lab.dir.clone();
    drop(lab);
    let _ = child.wait();
    common::kill(-pid, libc::SIGKILL);
    assert!(!cg.exists(), "the cgroup stayed");
    assert!(!dir.exists(), "the lab's directory stayed");
    assert!(
        common::host_mounts_with(mnt.to_str().unwrap()).is_empty(),
        "the mount stayed"
    );
}

// ---- exec (OCI.md 2.7-2.9) ----------------------------------------------------------------

/// `exec ARGS...` in the foreground, stdio piped.
fn exec(lab: &Lab, args: &[&str]) -> Run {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    lab.run(&a)
}

/// `exec ARGS...` with stdout and stderr into files (a detached process inherits them).
fn exec_files(lab: &Lab, args: &[&str]) -> Run {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    lab.run_files(&a)
}

/// A failure of `exec` itself: exit 255, `needle` on stderr (one line for crab-can).
#[track_caller]
fn assert_exec_fails(lab: &Lab, r: &Run, needle: &str, what: &str) {
    assert_eq!(r.code, 255, "{what}: want exit 255; {}", show(r));
    assert!(
        r.stderr.contains(needle),
        "{what}: stderr should say {needle:?}; {}",
        show(r)
    );
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    if lab.strict() {
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "{what}: want one line on stderr; {}",
            show(r)
        );
    }
}

/// `cfg` as JSON with the values at dotted paths replaced by JSON texts.
fn with_json(cfg: &Config, sets: &[(&str, &str)]) -> String {
    let mut j = Json::parse(&cfg.json()).unwrap();
    for (path, v) in sets {
        let keys: Vec<&str> = path.split('.').collect();
        let v = Json::parse(v).unwrap_or_else(|e| panic!("test bug: {path}: {e}: {v}"));
        j.set(&keys, v);
    }
    j.dump()
}

/// A seccomp profile that allows everything but mkdir, mkdirat, chmod, fchmodat and
/// fchmod (EPERM).
const EXEC_SECCOMP: &str = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \
    \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"], \
    \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\", \"chmod\", \"fchmodat\", \"fchmodat2\", \
    \"fchmod\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}";

/// A spec Process (what `exec --process` reads) running `sh -c SCRIPT` as uid:gid in `cwd`
/// with `env` (PATH added), the given capabilities in every set but ambient, and an
/// RLIMIT_NOFILE of 256/512.
fn process_json(
    script: &str,
    uid: u32,
    gid: u32,
    cwd: &str,
    env: &[&str],
    caps: &[&str],
) -> String {
    let mut e = vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
    e.extend_from_slice(env);
    let caps = js_list(caps);
    format!(
        "{{\"terminal\": false, \"user\": {{\"uid\": {uid}, \"gid\": {gid}}}, \
         \"args\": {}, \"env\": {}, \"cwd\": {}, \
         \"capabilities\": {{\"bounding\": {caps}, \"effective\": {caps}, \
         \"permitted\": {caps}}}, \
         \"rlimits\": [{{\"type\": \"RLIMIT_NOFILE\", \"hard\": 512, \"soft\": 256}}], \
         \"noNewPrivileges\": true}}",
        js_list(&["sh", "-c", script]),
        js_list(&e),
        js(cwd)
    )
}

/// The `Key:` value of a /proc status text (trimmed).
fn status_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// A capability mask of a /proc status text (`CapEff`, `CapBnd`, ...).
fn cap_mask_of(text: &str, key: &str) -> u64 {
    let v = status_value(text, key).unwrap_or_else(|| panic!("no {key} in {text:?}"));
    u64::from_str_radix(v, 16).unwrap_or_else(|_| panic!("{key}: {v:?}"))
}

const CAP_SYS_PTRACE_BIT: u64 = 1 << 19;

#[test]
fn exec_foreground_exit_status_and_stdio() {
    each("exec-fg", Who::All, |lab| {
        let id = lab.id("x");
        lab.sleeper(&id);
        let r = exec(lab, &[&id, "sh", "-c", "exit 7"]);
        assert_eq!(r.code, 7, "exec of `exit 7`: {}", show(&r));
        assert_eq!(
            r.signal,
            None,
            "the runtime itself was killed: {}",
            show(&r)
        );
        let r = exec(lab, &[&id, "sh", "-c", "kill -9 $$"]);
        assert_eq!(r.code, 137, "exec of a SIGKILLed shell: {}", show(&r));
        assert_eq!(
            r.signal,
            None,
            "the runtime itself was killed: {}",
            show(&r)
        );
        let r = exec(lab, &[&id, "sh", "-c", "kill -TERM $$"]);
        assert_eq!(r.code, 143, "exec of a SIGTERMed shell: {}", show(&r));
        let r = exec(lab, &[&id, "sh", "-c", "echo out; echo err >&2; exit 0"]);
        assert_ok(&r, "exec of echo");
        assert_eq!(r.stdout, "out\n");
        assert_eq!(r.stderr, "err\n");
        // stdin passes through too.
        let input = lab.dir.join("exec-input");
        fs::write(&input, "line-from-stdin\n").unwrap();
        let mut c = lab
            .rt
            .cmd(&lab.dir, &["exec", &id, "sh", "-c", "read l; echo got $l"]);
        c.stdin(fs::File::open(&input).unwrap());
        let r = common::run_command(c);
        assert_ok(&r, "exec reading stdin");
        assert_eq!(r.stdout, "got line-from-stdin\n");
        // The container's own process is the base: its env, cwd, user, rlimits.
        let r = exec(lab, &[&id, "sh", "-c", "echo $TERM; pwd; id -u; ulimit -n"]);
        assert_ok(&r, "exec of the container's defaults");
        assert_eq!(r.stdout, "xterm\n/\n0\n1024\n");
        // Still running after all of them.
        assert_eq!(lab.status(&id), "running");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_process_file() {
    each("exec-process", Who::All, |lab| {
        let id = lab.id("x");
        lab.sleeper(&id);
        let p = lab.dir.join("process.json");
        fs::write(
            &p,
            process_json(
                "id -u; id -g; pwd; echo $VAR; ulimit -n; grep NoNewPrivs /proc/self/status; exit 4",
                1000,
                1000,
                "/tmp",
                &["VAR=from-process-json"],
                &["CAP_KILL"],
            ),
        )
        .unwrap();
        let r = exec(lab, &["--process", p.to_str().unwrap(), &id]);
        assert_eq!(r.code, 4, "exec --process: {}", show(&r));
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            l.get(..5),
            Some(&["1000", "1000", "/tmp", "from-process-json", "256"][..]),
            "{}",
            show(&r)
        );
        assert_eq!(
            l.get(5).map(|s| s.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["NoNewPrivs:", "1"]),
            "{}",
            show(&r)
        );
        // -p is the short form.
        let r = exec(lab, &["-p", p.to_str().unwrap(), &id]);
        assert_eq!(r.code, 4, "exec -p: {}", show(&r));
        // A process file that is not there: a failure of exec itself.
        let r = exec(lab, &["--process", "/nonexistent/process.json", &id]);
        assert_exec_fails(lab, &r, "", "exec --process of a missing file");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_flags_over_the_container_process() {
    each("exec-flags", Who::All, |lab| {
        let id = lab.id("x");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.no_new_privileges = false;
        lab.create_ok(&id, &cfg);
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let script = "id -u; id -g; pwd; echo $A; echo $TERM; grep NoNewPrivs /proc/self/status";
        let r = exec(lab, &[&id, "sh", "-c", script]);
        assert_ok(&r, "exec without flags");
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            l.get(..5),
            Some(&["0", "0", "/", "", "xterm"][..]),
            "{}",
            show(&r)
        );
        assert_eq!(
            l.get(5).and_then(|s| s.split_whitespace().nth(1)),
            Some("0"),
            "no_new_privs of the container's process is off: {}",
            show(&r)
        );
        let r = exec(
            lab,
            &[
                "--cwd",
                "/tmp",
                "--env",
                "A=b",
                "--env",
                "TERM=dumb",
                "--user",
                "1000:1000",
                "--no-new-privs",
                &id,
                "sh",
                "-c",
                script,
            ],
        );
        assert_ok(&r, "exec with flags");
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            l.get(..5),
            Some(&["1000", "1000", "/tmp", "b", "dumb"][..]),
            "{}",
            show(&r)
        );
        assert_eq!(
            l.get(5).and_then(|s| s.split_whitespace().nth(1)),
            Some("1"),
            "--no-new-privs: {}",
            show(&r)
        );
        // --user UID alone: gid 0 (the spec's default), as runc does.
        let r = exec(lab, &["--user", "1000", &id, "sh", "-c", "id -u; id -g"]);
        assert_ok(&r, "exec --user 1000");
        assert_eq!(r.stdout, "1000\n0\n");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_cap_adds_a_capability() {
    each("exec-cap", Who::All, |lab| {
        let id = lab.id("x");
        lab.sleeper(&id);
        let r = exec(lab, &[&id, "cat", "/proc/self/status"]);
        assert_ok(&r, "exec cat /proc/self/status");
        let plain = cap_mask_of(&r.stdout, "CapEff");
        assert_eq!(plain & CAP_SYS_PTRACE_BIT, 0, "CapEff {plain:x}");
        assert_eq!(cap_mask_of(&r.stdout, "CapBnd") & CAP_SYS_PTRACE_BIT, 0);
        let r = exec(
            lab,
            &["--cap", "CAP_SYS_PTRACE", &id, "cat", "/proc/self/status"],
        );
        assert_ok(&r, "exec --cap CAP_SYS_PTRACE");
        for key in ["CapEff", "CapPrm", "CapBnd"] {
            let m = cap_mask_of(&r.stdout, key);
            assert_eq!(
                m,
                plain | CAP_SYS_PTRACE_BIT,
                "{key} {m:x} with --cap CAP_SYS_PTRACE (without: {plain:x})"
            );
        }
        // The container's own process does not have it.
        let marked = lab.marked_processes(&id);
        assert!(!marked.is_empty(), "no process of {id}");
        for pid in marked {
            let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if st.is_empty() {
                continue;
            }
            assert_eq!(
                cap_mask_of(&st, "CapEff") & CAP_SYS_PTRACE_BIT,
                0,
                "the container's process {pid} got CAP_SYS_PTRACE"
            );
        }
        // -c is the short form.
        let r = exec(
            lab,
            &["-c", "CAP_SYS_PTRACE", &id, "cat", "/proc/self/status"],
        );
        assert_ok(&r, "exec -c CAP_SYS_PTRACE");
        assert_eq!(cap_mask_of(&r.stdout, "CapEff"), plain | CAP_SYS_PTRACE_BIT);
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_gets_the_container_seccomp() {
    each("exec-seccomp", Who::All, |lab| {
        let id = lab.id("x");
        let cfg = lab.config(&id, Lab::SLEEPER);
        let b = lab.bundle_text(&id, &with_json(&cfg, &[("linux.seccomp", EXEC_SECCOMP)]));
        assert_ok(&lab.create(&id, &b), "create with seccomp");
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let script = "mkdir /tmp/denied 2>&1; echo mkdir=$?; touch /tmp/f; \
                      chmod 600 /tmp/f 2>&1; echo chmod=$?; grep Seccomp: /proc/self/status";
        let check = |r: &Run, what: &str| {
            assert_ok(r, what);
            assert!(
                r.stdout.contains("Operation not permitted"),
                "{what}: mkdir/chmod not denied with EPERM: {}",
                show(r)
            );
            assert!(r.stdout.contains("mkdir=1\n"), "{what}: {}", show(r));
            assert!(r.stdout.contains("chmod=1\n"), "{what}: {}", show(r));
            assert_eq!(
                status_value(&r.stdout, "Seccomp"),
                Some("2"),
                "{what}: {}",
                show(r)
            );
            assert!(!lab.io(&id).join("denied").exists(), "{what}: mkdir worked");
        };
        check(&exec(lab, &[&id, "sh", "-c", script]), "exec ID CMD");
        let p = lab.dir.join("process.json");
        fs::write(
            &p,
            process_json(script, 0, 0, "/", &[], &["CAP_DAC_OVERRIDE"]),
        )
        .unwrap();
        check(
            &exec(lab, &["--process", p.to_str().unwrap(), &id]),
            "exec --process",
        );
        // Also with every capability added and no_new_privs given: still filtered.
        check(
            &exec(
                lab,
                &[
                    "--cap",
                    "CAP_SYS_ADMIN",
                    "--no-new-privs",
                    &id,
                    "sh",
                    "-c",
                    script,
                ],
            ),
            "exec --cap CAP_SYS_ADMIN",
        );
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

/// The cgroup lines of a process (`/proc/PID/cgroup`), sorted.
fn cgroup_lines(pid: i32) -> Vec<String> {
    let mut v = lines_of(Path::new(&format!("/proc/{pid}/cgroup")));
    v.sort();
    v
}

#[test]
fn exec_joins_namespaces_and_cgroups() {
    each("exec-join", Who::All, |lab| {
        let id = lab.id("x");
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.resources =
            Some("{\"memory\": {\"limit\": 67108864}, \"pids\": {\"limit\": 64}}".into());
        let b = lab.create_ok(&id, &cfg);
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let init = lab.pid_file(&b);
        let kinds = ["pid", "mnt", "net", "ipc", "uts"];
        let script = "for k in pid mnt net ipc uts; do readlink /proc/self/ns/$k; done; \
                      echo nspid $$; cat /proc/self/cgroup";
        let r = exec(lab, &[&id, "sh", "-c", script]);
        assert_ok(&r, "exec");
        let l: Vec<&str> = r.stdout.lines().collect();
        for (i, k) in kinds.iter().enumerate() {
            assert_eq!(
                l.get(i).copied().unwrap_or(""),
                ns_link(init, k),
                "the exec'd process's {k} namespace"
            );
            assert_ne!(ns_link(init, k), ns_link(std::process::id() as i32, k));
        }
        // A pid of the container's namespace: small, not 1.
        let nspid: i32 = l
            .get(5)
            .and_then(|s| s.strip_prefix("nspid "))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{}", show(&r)));
        assert!(nspid > 1 && nspid < 1000, "pid {nspid} inside");
        // No cgroup namespace here: the paths are the host's, the init's exactly.
        let mut inside: Vec<String> = l[6..].iter().map(|s| s.to_string()).collect();
        inside.sort();
        assert_eq!(inside, cgroup_lines(init), "the exec'd process's cgroups");
        let rel = lab.cgroups_path(&id);
        assert!(
            inside
                .iter()
                .any(|l| l.contains(":memory:") && l.ends_with(&rel)),
            "{inside:?}"
        );

        // Host-side, on a detached one: the same cgroups, listed in cgroup.procs of each.
        let pf = lab.dir.join("exec-join.pid");
        let r = exec_files(
            lab,
            &[
                "--detach",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sleep",
                "300",
            ],
        );
        assert_ok(&r, "exec --detach sleep");
        let pid: i32 = fs::read_to_string(&pf).unwrap().parse().unwrap();
        assert!(alive(pid));
        assert_eq!(cgroup_lines(pid), cgroup_lines(init), "cgroups of {pid}");
        for h in hierarchies() {
            let d = h.join(rel.trim_start_matches('/'));
            if d.join("cgroup.procs").exists() {
                let procs = lines_of(&d.join("cgroup.procs"));
                assert!(
                    procs.contains(&pid.to_string()),
                    "{pid} not in {}: {procs:?}",
                    d.display()
                );
            }
        }
        for k in kinds {
            assert_eq!(ns_link(pid, k), ns_link(init, k), "{k} of {pid}");
        }
        // Counted by the pids limit of the container.
        assert!(lab.cgroup_pids(&id).contains(&pid));
        kill_to_stopped(lab, &id);
        assert!(
            wait_for(10, || !alive(pid)),
            "the exec'd {pid} outlived its container"
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

/// Run `/bin/sh -c SCRIPT sh RUNTIME ROOT` as a child subreaper (as conmon and the shim
/// are), in the lab's directory, its stdout and stderr into files.
fn as_subreaper(lab: &Lab, script: &str) -> Run {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new("/bin/sh");
    c.args([
        "-c",
        script,
        "sh",
        lab.rt.bin.to_str().unwrap(),
        lab.rt.root.to_str().unwrap(),
    ])
    .current_dir(&lab.dir)
    .stdin(std::process::Stdio::null());
    // SAFETY: prctl in the child before exec; no allocation.
    unsafe {
        c.pre_exec(|| {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run_to_files(c, &lab.dir.join("subreaper"))
}

#[test]
fn exec_detach_pid_file_and_adoption() {
    each("exec-detach", Who::All, |lab| {
        let id = lab.id("x");
        let b = lab.sleeper(&id);
        let init = lab.pid_file(&b);
        // A subreaper caller runs `exec --detach`; once the runtime exits, the process has
        // passed execve and is the caller's child.
        let script = format!(
            "\"$1\" --root \"$2\" exec --detach --pid-file pids/exec.pid {id} sleep 300; \
             echo rc=$?; pid=$(cat pids/exec.pid); echo me=$$; \
             echo cmd=$(tr '\\0' ' ' < /proc/$pid/cmdline); \
             grep -E '^(PPid|NSpid):' /proc/$pid/status"
        );
        fs::create_dir_all(lab.dir.join("pids")).unwrap();
        let r = as_subreaper(lab, &script);
        assert_ok(&r, "the subreaper's shell");
        let get = |k: &str| {
            r.stdout
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {k} in {}", show(&r)))
                .to_string()
        };
        assert_eq!(get("rc="), "0", "exec --detach: {}", show(&r));
        let text = fs::read_to_string(lab.dir.join("pids/exec.pid")).unwrap();
        assert!(
            !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()),
            "pid file {text:?}: digits only, no newline"
        );
        let pid: i32 = text.parse().unwrap();
        assert!(alive(pid), "the exec'd {pid} does not run");
        assert_ne!(pid, init);
        if lab.strict() {
            assert_eq!(
                get("cmd="),
                "sleep 300",
                "not exec'd yet when the runtime exited"
            );
        }
        assert_eq!(
            get("PPid:"),
            get("me="),
            "the exec'd process was not adopted by the subreaper caller"
        );
        let nspid = get("NSpid:");
        assert_eq!(
            nspid.split_whitespace().count(),
            2,
            "NSpid of {pid}: {nspid:?}, want two levels"
        );
        assert_eq!(cgroup_lines(pid), cgroup_lines(init), "cgroups of {pid}");
        assert_eq!(ns_link(pid, "pid"), ns_link(init, "pid"));
        assert_eq!(ns_link(pid, "mnt"), ns_link(init, "mnt"));
        // --detach without a pid file, -d: exit 0 too.
        let r = exec_files(lab, &["-d", &id, "sleep", "301"]);
        assert_ok(&r, "exec -d");
        kill_to_stopped(lab, &id);
        assert!(
            wait_for(10, || !alive(pid)),
            "the exec'd {pid} outlived its container"
        );
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

/// A failure of `exec` with `--log F --log-format json`: exit 255 and one JSON error line
/// in F (as `check_error_line` reads it); its msg.
#[track_caller]
fn check_exec_error_line(r: &Run, new: &[String], what: &str) -> String {
    assert_eq!(r.code, 255, "{what}: want exit 255; {}", show(r));
    let as_one = Run {
        code: 1,
        signal: r.signal,
        stdout: r.stdout.clone(),
        stderr: r.stderr.clone(),
    };
    check_error_line(&as_one, new, what)
}

#[test]
fn exec_missing_command() {
    each("exec-missing", Who::All, |lab| {
        let id = lab.id("x");
        lab.sleeper(&id);
        let log = lab.dir.join("log.json");
        fs::write(&log, "").unwrap();
        let pf = lab.dir.join("missing.pid");
        let (r, new) = logged(
            lab,
            &log,
            &[
                "exec",
                "--detach",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "no-such-command-anywhere",
            ],
            true,
        );
        assert_exec_fails(
            lab,
            &r,
            "executable file not found in $PATH",
            "exec --detach of a missing command",
        );
        let msg = check_exec_error_line(&r, &new, "exec --detach of a missing command");
        assert!(
            msg.contains("executable file not found in $PATH"),
            "{msg:?}"
        );
        assert!(!pf.exists(), "a pid file for a missing command");
        // In the foreground, and as a path: the same.
        let r = exec(lab, &[&id, "no-such-command-anywhere"]);
        assert_exec_fails(
            lab,
            &r,
            "executable file not found in $PATH",
            "exec of a missing command",
        );
        let r = exec(lab, &[&id, "/no/such/file"]);
        assert_eq!(r.code, 255, "exec of a missing path: {}", show(&r));
        assert!(
            r.stderr.contains("no such file or directory"),
            "{}",
            show(&r)
        );
        // Not executable: permission denied.
        fs::write(lab.io(&id).join("noexec"), "#!/bin/sh\n").unwrap();
        let r = exec(lab, &[&id, "/tmp/noexec"]);
        assert_eq!(r.code, 255, "exec of a file without x: {}", show(&r));
        assert!(r.stderr.contains("permission denied"), "{}", show(&r));
        assert_eq!(lab.status(&id), "running");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_refused_when_paused_stopped_or_unknown() {
    each("exec-states", Who::All, |lab| {
        let log = lab.dir.join("log.json");
        fs::write(&log, "").unwrap();
        let (r, new) = logged(lab, &log, &["exec", "nope", "true"], false);
        assert_exec_fails(lab, &r, "does not exist", "exec of an unknown id");
        let msg = check_exec_error_line(&r, &new, "exec of an unknown id");
        assert!(msg.contains("does not exist"), "{msg:?}");
        // created: exec works (OCI.md 2.2).
        let id = lab.id("x");
        let b = lab.create_ok(&id, &lab.config(&id, Lab::SLEEPER));
        let r = exec(lab, &[&id, "sh", "-c", "exit 6"]);
        assert_eq!(r.code, 6, "exec in a created container: {}", show(&r));
        assert_eq!(lab.status(&id), "created");
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let _ = b;
        if can_freeze() {
            assert_ok(&lab.run(&["pause", &id]), "pause");
            let (r, new) = logged(lab, &log, &["exec", &id, "true"], false);
            assert_exec_fails(
                lab,
                &r,
                "cannot exec in a paused container",
                "exec in a paused container",
            );
            check_exec_error_line(&r, &new, "exec in a paused container");
            let pf = lab.dir.join("paused.pid");
            let r = exec_files(
                lab,
                &[
                    "--detach",
                    "--pid-file",
                    pf.to_str().unwrap(),
                    &id,
                    "sleep",
                    "5",
                ],
            );
            assert_exec_fails(
                lab,
                &r,
                "cannot exec in a paused container",
                "exec --detach in a paused container",
            );
            assert!(!pf.exists(), "a pid file for a paused container");
            assert_eq!(lab.status(&id), "paused");
            assert_ok(&lab.run(&["resume", &id]), "resume");
            let r = exec(lab, &[&id, "sh", "-c", "echo back"]);
            assert_ok(&r, "exec after resume");
            assert_eq!(r.stdout, "back\n");
        } else {
            common::skip("exec_refused_when_paused_stopped_or_unknown", "no freezer");
        }
        kill_to_stopped(lab, &id);
        let r = exec(lab, &[&id, "true"]);
        assert_exec_fails(lab, &r, "", "exec in a stopped container");
        assert!(!r.stderr.trim().is_empty(), "{}", show(&r));
        if lab.strict() {
            assert!(r.stderr.contains("stopped"), "{}", show(&r));
        }
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
        let r = exec(lab, &[&id, "true"]);
        assert_exec_fails(lab, &r, "does not exist", "exec of a deleted container");
    });
}

#[test]
fn exec_preserve_fds() {
    each("exec-fds", Who::All, |lab| {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let id = lab.id("x");
        lab.sleeper(&id);
        let f3 = lab.dir.join("fd3");
        let f4 = lab.dir.join("fd4");
        fs::write(&f3, "three\n").unwrap();
        fs::write(&f4, "four\n").unwrap();
        let script = "cat <&3 2>/dev/null || echo no3; cat <&4 2>/dev/null || echo no4; \
                      ls /proc/self/fd | sort -n | tr '\\n' ' '";
        let with = |preserve: Option<&str>| {
            let mut a = vec!["exec"];
            if let Some(n) = preserve {
                a.extend(["--preserve-fds", n]);
            }
            a.extend([id.as_str(), "sh", "-c", script]);
            let mut c = lab.rt.cmd(&lab.dir, &a);
            // Copies at 100 and above (close-on-exec): neither can be 3 or 4 already, so
            // each dup2 below makes a new fd without close-on-exec and clobbers no source.
            let high = |p: &Path| {
                let f = fs::File::open(p).unwrap();
                // SAFETY: fcntl on an open fd; the new fd is owned by the OwnedFd.
                let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
                assert!(
                    fd >= 100,
                    "F_DUPFD_CLOEXEC: {}",
                    std::io::Error::last_os_error()
                );
                // SAFETY: fd is a new fd of ours.
                unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
            };
            let (a3, a4) = (high(&f3), high(&f4));
            let (r3, r4) = (a3.as_raw_fd(), a4.as_raw_fd());
            // SAFETY: dup2 in the child before exec (the new fds lose close-on-exec).
            unsafe {
                c.pre_exec(move || {
                    if libc::dup2(r3, 3) < 0 || libc::dup2(r4, 4) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let r = common::run_command(c);
            drop((a3, a4));
            r
        };
        let r = with(Some("1"));
        assert_ok(&r, "exec --preserve-fds 1");
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.get(..2), Some(&["three", "no4"][..]), "{}", show(&r));
        let r = with(Some("2"));
        assert_ok(&r, "exec --preserve-fds 2");
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.get(..2), Some(&["three", "four"][..]), "{}", show(&r));
        let r = with(None);
        assert_ok(&r, "exec without --preserve-fds");
        let l: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(l.get(..2), Some(&["no3", "no4"][..]), "{}", show(&r));
        // Only 0-2 (and ls's own directory fd, 3).
        assert_eq!(l.get(2).copied(), Some("0 1 2 3 "), "{}", show(&r));
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_tty_console_socket_detached() {
    each("exec-tty", Who::All, |lab| {
        let id = lab.id("x");
        lab.sleeper(&id);
        let sock = ConsoleSocket::bind(&lab.dir.join("exec-console.sock"));
        let pf = lab.dir.join("tty.pid");
        // Pipes on purpose: with a terminal nothing may keep exec's output open.
        let r = exec(
            lab,
            &[
                "--tty",
                "--console-socket",
                sock.path.to_str().unwrap(),
                "--detach",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sh",
            ],
        );
        assert_ok(&r, "exec --tty --console-socket --detach");
        let con = sock
            .take_now()
            .unwrap_or_else(|e| panic!("after exec exited: {e}"));
        assert_eq!(con.nfds, 1, "fds sent over the console socket");
        assert!(
            !con.payload.is_empty() && con.payload.len() < 4096,
            "payload {:?}",
            String::from_utf8_lossy(&con.payload)
        );
        assert!(
            is_pty_master(&con.master),
            "the fd sent is not a pty master"
        );
        let pid: i32 = fs::read_to_string(&pf).unwrap().parse().unwrap();
        assert!(alive(pid));
        let mut n: libc::c_uint = 0;
        {
            use std::os::fd::AsRawFd;
            // SAFETY: TIOCGPTN writes one unsigned int.
            unsafe { libc::ioctl(con.master.as_raw_fd(), libc::TIOCGPTN, &mut n) };
        }
        write_fd(&con.master, b"tty; echo h\"\"i; exit 3\n");
        let out = read_fd_until(&con.master, 15, |o| contains(o, b"hi\r\n"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("hi\r\n"), "terminal output: {text:?}");
        // The slave is the container's /dev/pts/N of the master sent.
        assert!(
            text.contains(&format!("/dev/pts/{n}\r\n")),
            "`tty` did not say /dev/pts/{n}: {text:?}"
        );
        assert!(wait_for(10, || !alive(pid)), "the shell did not exit");
        // The container's own process had none and still runs.
        assert_eq!(lab.status(&id), "running");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_docker_like_form_under_the_default_root() {
    // The docker-like `crab-can exec NAME CMD` (no global option, none of runc's flags) of
    // an OCI container under the default --root: found by its ID, the command's status;
    // a paused one is 125 (the docker-like mode's own failure).
    if !crab_can_oci() {
        return;
    }
    let test = "exec_docker_like_form_under_the_default_root";
    let default_root = Path::new("/run/crab-can-oci");
    let usable = fs::create_dir_all("/run").is_ok()
        && (default_root.is_dir()
            || fs::metadata("/run").is_ok_and(|m| !m.permissions().readonly()));
    if !usable {
        common::skip(test, "/run/crab-can-oci cannot be used");
        return;
    }
    let mut lab = Lab::new("exec-default", Kind::CrabCan);
    lab.rt.root = default_root.to_path_buf();
    let lab = lab;
    let id = lab.id("x");
    lab.sleeper(&id);
    let plain = |args: &[&str]| {
        let mut a = vec!["exec"];
        a.extend_from_slice(args);
        let mut c = common::command_for(&lab.rt.bin, &a);
        c.current_dir(&lab.dir);
        common::run_command(c)
    };
    let r = plain(&[&id, "sh", "-c", "echo $TERM; exit 5"]);
    assert_eq!(
        r.code,
        5,
        "docker-like exec of an OCI container: {}",
        show(&r)
    );
    assert_eq!(r.stdout, "xterm\n");
    let r = plain(&[
        "-e",
        "A=b",
        "-w",
        "/tmp",
        "-u",
        "1000",
        &id,
        "sh",
        "-c",
        "echo $A; pwd; id -u",
    ]);
    assert_ok(&r, "docker-like exec -e -w -u");
    assert_eq!(r.stdout, "b\n/tmp\n1000\n");
    if can_freeze() {
        assert_ok(&lab.run(&["pause", &id]), "pause");
        let r = plain(&[&id, "true"]);
        assert_eq!(
            r.code,
            125,
            "docker-like exec of a paused container: {}",
            show(&r)
        );
        assert_eq!(r.stderr.lines().count(), 1, "{}", show(&r));
        assert!(r.stderr.contains("paused"), "{}", show(&r));
        assert_ok(&lab.run(&["resume", &id]), "resume");
        assert_ok(&plain(&[&id, "true"]), "docker-like exec after resume");
    }
    kill_to_stopped(&lab, &id);
    let r = plain(&[&id, "true"]);
    assert_eq!(
        r.code,
        125,
        "docker-like exec of a stopped container: {}",
        show(&r)
    );
    assert_ok(&lab.run(&["delete", &id]), "delete");
    lab.assert_gone(&id);
}

#[test]
fn exec_foreground_signals_pid_file_and_container_death() {
    each("exec-signals", Who::All, |lab| {
        let id = lab.id("x");
        let b = lab.sleeper(&id);
        let init = lab.pid_file(&b);
        let io = lab.io(&id);
        // A signal to the runtime goes to the process (its trap exits 9).
        let pf = lab.dir.join("fg.pid");
        let bg = common::Bg::start(lab.rt.cmd(
            &lab.dir,
            &[
                "exec",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sh",
                "-c",
                "trap 'exit 9' TERM; touch /tmp/exec-ready; while :; do sleep 1 & wait; done",
            ],
        ));
        assert!(
            wait_for(10, || io.join("exec-ready").exists()),
            "the exec'd shell did not start"
        );
        // The pid file of a foreground exec: the process's host pid, digits only (runc
        // writes it once the process runs: it may come a moment after the shell's file).
        wait_for(10, || fs::metadata(&pf).is_ok_and(|m| m.len() > 0));
        let text = fs::read_to_string(&pf).unwrap_or_default();
        assert!(
            !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()),
            "pid file {text:?}"
        );
        let pid: i32 = text.parse().unwrap();
        assert!(alive(pid) && pid != init && pid != bg.pid());
        bg.signal(libc::SIGTERM);
        let r = bg.wait_within(15);
        assert_eq!(r.code, 9, "exec after SIGTERM to the runtime: {}", show(&r));
        assert_eq!(
            r.signal,
            None,
            "the runtime died of the signal: {}",
            show(&r)
        );
        // The container stops under a running exec: it ends with 137.
        let _ = fs::remove_file(io.join("exec-ready"));
        let bg = common::Bg::start(lab.rt.cmd(
            &lab.dir,
            &[
                "exec",
                &id,
                "sh",
                "-c",
                "touch /tmp/exec-ready; while :; do sleep 1 & wait; done",
            ],
        ));
        assert!(
            wait_for(10, || io.join("exec-ready").exists()),
            "the exec'd shell did not start"
        );
        kill_to_stopped(lab, &id);
        let r = bg.wait_within(15);
        assert_eq!(r.code, 137, "exec when its container stopped: {}", show(&r));
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_into_a_user_namespace() {
    each("exec-userns", Who::All, |lab| {
        use std::os::unix::fs::MetadataExt;
        // A user namespace: the exec'd process is root of its mapping.
        let id = lab.id("u");
        let io = lab.io(&id);
        fs::set_permissions(&io, fs::Permissions::from_mode(0o777)).unwrap();
        let mut cfg = lab.config(&id, Lab::SLEEPER);
        cfg.namespaces.push(Ns {
            kind: "user".into(),
            path: None,
        });
        let map = "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]";
        let b = lab.bundle_text(
            &id,
            &with_json(
                &cfg,
                &[("linux.uidMappings", map), ("linux.gidMappings", map)],
            ),
        );
        assert_ok(&lab.create(&id, &b), "create with a user namespace");
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let init = lab.pid_file(&b);
        let r = exec(
            lab,
            &[
                &id,
                "sh",
                "-c",
                "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; touch /tmp/by-exec",
            ],
        );
        assert_ok(&r, "exec in a user namespace");
        let l: Vec<Vec<&str>> = r
            .stdout
            .lines()
            .map(|x| x.split_whitespace().collect())
            .collect();
        assert_eq!(
            l.first().map(|v| v.as_slice()),
            Some(&["0"][..]),
            "{}",
            show(&r)
        );
        assert_eq!(
            l.get(1).map(|v| v.as_slice()),
            Some(&["0", "100000", "65536"][..]),
            "{}",
            show(&r)
        );
        assert_eq!(
            l.get(2).and_then(|v| v.first()).copied(),
            Some(ns_link(init, "user").as_str()),
            "{}",
            show(&r)
        );
        let md = fs::metadata(io.join("by-exec")).expect("the file made by exec");
        assert_eq!((md.uid(), md.gid()), (100000, 100000), "owner on the host");
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_into_a_cgroup_namespace() {
    each("exec-cgns", Who::All, |lab| {
        // A cgroup namespace: the exec'd process sees the cgroups as the container's own
        // process does (its roots).
        let id = lab.id("c");
        let mut cfg = lab.config(
            &id,
            &format!("cat /proc/self/cgroup > /tmp/cg; {}", Lab::SLEEPER),
        );
        cfg.namespaces.push(Ns {
            kind: "cgroup".into(),
            path: None,
        });
        cfg.resources = Some("{\"pids\": {\"limit\": 64}}".into());
        let b = lab.create_ok(&id, &cfg);
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let init = lab.pid_file(&b);
        let r = exec(lab, &[&id, "cat", "/proc/self/cgroup"]);
        assert_ok(&r, "exec in a cgroup namespace");
        let own = fs::read_to_string(lab.io(&id).join("cg")).unwrap();
        let sorted = |t: &str| {
            let mut v: Vec<String> = t.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(
            sorted(&r.stdout),
            sorted(&own),
            "/proc/self/cgroup of the exec'd process vs the container's"
        );
        assert!(
            sorted(&r.stdout)
                .iter()
                .any(|l| l.contains(":pids:") && l.ends_with(":/")),
            "{}",
            show(&r)
        );
        let r = exec(lab, &[&id, "readlink", "/proc/self/ns/cgroup"]);
        assert_eq!(r.stdout.trim(), ns_link(init, "cgroup"), "{}", show(&r));
        assert_ok(&lab.run(&["delete", "--force", &id]), "delete --force");
        lab.assert_gone(&id);
    });
}

#[test]
fn exec_without_a_pid_namespace() {
    each("exec-nopidns", Who::All, |lab| {
        // No pid namespace of its own: the host's pids, one level.
        let id = lab.id("p");
        let cfg = lab.config(&id, Lab::SLEEPER).without_ns("pid");
        let b = lab.create_ok(&id, &cfg);
        assert_ok(&lab.run(&["start", &id]), "start");
        lab.wait_ready(&id);
        let init = lab.pid_file(&b);
        let r = exec(lab, &[&id, "sh", "-c", "exit 7"]);
        assert_eq!(r.code, 7, "exec without a pid namespace: {}", show(&r));
        let pf = lab.dir.join("nopidns.pid");
        let r = exec_files(
            lab,
            &[
                "--detach",
                "--pid-file",
                pf.to_str().unwrap(),
                &id,
                "sleep",
                "302",
            ],
        );
        assert_ok(&r, "exec --detach without a pid namespace");
        let pid: i32 = fs::read_to_string(&pf).unwrap().parse().unwrap();
        assert!(alive(pid));
        let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert_eq!(
            status_value(&st, "NSpid"),
            Some(pid.to_string().as_str()),
            "NSpid of {pid}"
        );
        assert_eq!(cgroup_lines(pid), cgroup_lines(init), "cgroups of {pid}");
        assert_eq!(ns_link(pid, "mnt"), ns_link(init, "mnt"));
        assert_ok(&lab.run(&["kill", "--all", &id, "KILL"]), "kill --all");
        assert!(wait_for(10, || !alive(pid)), "{pid} outlived kill --all");
        lab.wait_status(&id, "stopped", 10);
        assert_ok(&lab.run(&["delete", &id]), "delete");
        lab.assert_gone(&id);
    });
}
