//! Real engines driving an OCI runtime (../shared/design/OCI.md, section 4 "Real callers on
//! Debian 12, offline"): containerd 1.6 through `ctr`, podman 4.3 through conmon, dockerd
//! 20.10 through containerd's runc shim. Each test starts its own daemon(s) with private
//! state (tests/common/engines.rs `Sandbox`), imports a busybox image made offline, and runs
//! one scenario per runtime of `runtimes()`: runc, the reference, and crab-can
//! (`CRAB_CAN_OCI=1`, or always once `CRAB_CAN_BY_DEFAULT` is true), so that a failure with
//! crab-can alone is crab-can's own. Every wait is bounded; everything a test starts or
//! makes is stopped and removed when it ends, failed or not.
//!
//! Run: `cargo test --release --test engines -- --test-threads=1 --nocapture`.
mod common;

use common::engines::*;
use common::{Run, alive, show};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A shell command that builds a 64 MiB string by doubling (96 MiB at its peak, every page
/// written) and prints its length.
const ALLOC_64M: &str =
    r#"awk 'BEGIN { s = "x"; while (length(s) < 67108864) s = s s; print "held", length(s) }'"#;

/// A shell that writes /vol/ready, ends with `exit 7` on SIGTERM (after writing
/// /vol/marker), and otherwise waits ten minutes.
const TRAP_TERM: &str =
    r#"trap 'echo TERM > /vol/marker; exit 7' TERM; echo ready > /vol/ready; sleep 600 & wait"#;

// ---- containerd -------------------------------------------------------------------------

const IMAGE: &str = "localhost/crab-can-bb:1";

/// A private containerd: root, state, temp and sockets in its sandbox; no CRI, no network,
/// no /opt plugin. `ctr` talks to it in the namespace `sb.id` (so the containers' cgroups
/// are `/<sb.id>/<container>` in every hierarchy).
struct Containerd {
    sb: Sandbox,
    sock: PathBuf,
}

const CONTAINERD_CONFIG: &str = r#"version = 2
root = "@/root"
state = "@/state"
temp = "@/tmp"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]
[grpc]
  address = "@/c.sock"
[ttrpc]
  address = "@/c.sock.ttrpc"
"#;

impl Containerd {
    /// Start containerd in `sb` with `extra` appended to its config and `path_prefix` (if
    /// any) first on its PATH (which its shims inherit); wait until it answers.
    fn start_in(mut sb: Sandbox, extra: &str, path_prefix: Option<&Path>) -> Containerd {
        sb.watch_globals(&[
            "/run/containerd",
            "/run/containerd/s",
            "/run/containerd/fifo",
        ]);
        sb.mkdir("tmp");
        let config = sb.path("config.toml");
        let text = CONTAINERD_CONFIG.replace('@', s(&sb.dir)) + extra;
        std::fs::write(&config, text).unwrap();
        let mut c = Command::new(find_tool("containerd").unwrap());
        c.arg("--config").arg(&config);
        if let Some(p) = path_prefix {
            let path = std::env::var("PATH").unwrap_or_default();
            c.env("PATH", format!("{}:{path}:/usr/sbin:/sbin", s(p)));
        }
        sb.spawn_daemon("containerd", c);
        let sock = sb.path("c.sock");
        let mut d = Containerd { sb, sock };
        let t = Instant::now();
        while run(d.ctr(&["version"]), 20).code != 0 {
            d.sb.check_daemon("containerd");
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "containerd does not answer after 20 s\n{}",
                d.sb.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn start(tag: &str) -> Containerd {
        Containerd::start_in(Sandbox::new(tag), "", None)
    }

    /// `ctr -a SOCK -n NS ARGS...`, not started.
    fn ctr(&self, args: &[&str]) -> Command {
        let mut c = cmd("ctr", &["-a", s(&self.sock), "-n", &self.sb.id]);
        c.current_dir(&self.sb.dir);
        c.args(args);
        c
    }

    fn ctr_run(&self, args: &[&str], secs: u64) -> Run {
        run(self.ctr(args), secs)
    }

    /// `ctr image import` of the OCI image as `IMAGE`.
    fn import(&self) {
        let oci = &images().oci;
        let r = self.ctr_run(
            &[
                "image",
                "import",
                "--base-name",
                "localhost/crab-can-bb",
                s(oci),
            ],
            60,
        );
        expect_code(&r, 0, "ctr image import");
    }

    /// `ctr run` options selecting the runtime: its binary, a private root for its state,
    /// fifos in the sandbox.
    fn rt_opts(&self, rt: &Runtime) -> Vec<String> {
        vec![
            "--runc-binary".into(),
            s(&rt.path).into(),
            "--runc-root".into(),
            s(&self.sb.path(&format!("runtime-root-{}", rt.name))).into(),
            "--fifo-dir".into(),
            s(&self.sb.path("fifo")).into(),
        ]
    }

    /// `ctr run [--rm] RT-OPTS OPTS IMAGE ID ARGV...`, not started.
    fn run_cmd(&self, rt: &Runtime, opts: &[&str], id: &str, argv: &[&str]) -> Command {
        let mut c = self.ctr(&["run"]);
        c.args(self.rt_opts(rt))
            .args(opts)
            .arg(IMAGE)
            .arg(id)
            .args(argv);
        c
    }

    /// The status `ctr task ls` shows for `id` (RUNNING, STOPPED, ...), None if not listed.
    fn task_status(&self, id: &str) -> Option<String> {
        let r = self.ctr_run(&["task", "ls"], 20);
        expect_code(&r, 0, "ctr task ls");
        r.stdout.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f.last().unwrap_or(&"").to_string())
        })
    }

    /// Wait up to `secs` for `id`'s task to show `status`.
    #[track_caller]
    fn wait_status(&self, id: &str, status: &str, secs: u64) {
        let mut last = None;
        let ok = poll(secs, || {
            last = self.task_status(id);
            last.as_deref() == Some(status)
        });
        assert!(
            ok,
            "task {id}: want {status} within {secs} s, ctr task ls shows {last:?}"
        );
    }

    /// After a container is gone: its cgroups are too (the runtime's `delete`).
    #[track_caller]
    fn assert_no_cgroup(&self, id: &str) {
        let left = self.sb.cgroups_named(id);
        assert!(left.is_empty(), "cgroups left after {id} ended: {left:?}");
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks and containers left by a failed test, while containerd still runs.
        // Nothing here may panic: this also runs while a failed test unwinds.
        let ok = |c: Command| try_run(c, 20).is_some_and(|r| r.code == 0);
        let tasks = try_run(self.ctr(&["task", "ls", "-q"]), 20).map(|r| r.stdout);
        for id in tasks.as_deref().unwrap_or("").split_whitespace() {
            let _ = try_run(self.ctr(&["task", "kill", "-s", "SIGKILL", id]), 20);
            poll(10, || {
                ok(self.ctr(&["task", "rm", id])) || ok(self.ctr(&["task", "rm", "-f", id]))
            });
        }
        let cs = try_run(self.ctr(&["containers", "ls", "-q"]), 20).map(|r| r.stdout);
        for id in cs.as_deref().unwrap_or("").split_whitespace() {
            let _ = try_run(self.ctr(&["containers", "rm", id]), 20);
        }
        // The sandbox (dropped next) stops containerd and removes the rest.
    }
}

/// `ctr run --rm`: the command's output and exit code come back (0, 3, and 137 for a
/// command killed by SIGKILL inside), a task killed by `ctr task kill -s SIGKILL` while
/// `ctr run` waits for it makes `ctr run` exit 137, and no container cgroup is left.
#[test]
fn containerd_ctr_run_exit_codes() {
    let test = "containerd_ctr_run_exit_codes";
    if !have_tools(test, &["containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let d = Containerd::start("ctr-exit");
    d.import();
    each_runtime(
        test,
        &rts,
        || d.sb.logs(),
        |rt| {
            for (what, script, code, out) in [
                ("exit0", "echo hello; exit 0", 0, "hello\n"),
                ("exit3", "echo three >&2; exit 3", 3, ""),
                ("kill9", r#"sh -c 'kill -9 $$'; exit $?"#, 137, ""),
            ] {
                let id = format!("{what}-{}", rt.name);
                let r = run(d.run_cmd(rt, &["--rm"], &id, &["sh", "-c", script]), 60);
                expect_code(&r, code, &format!("ctr run {script:?}"));
                assert_eq!(r.stdout, out, "{}", show(&r));
                if what == "exit3" {
                    assert_eq!(r.stderr, "three\n", "{}", show(&r));
                }
                d.assert_no_cgroup(&id);
            }
            // The init killed from outside while ctr run is attached.
            let id = format!("killed-{}", rt.name);
            let mut c = d.run_cmd(rt, &["--rm"], &id, &["sleep", "600"]);
            c.stdin(std::process::Stdio::null());
            let mut bg = common::Bg::start(c);
            d.wait_status(&id, "RUNNING", 20);
            let r = d.ctr_run(&["task", "kill", "-s", "SIGKILL", &id], 20);
            expect_code(&r, 0, "ctr task kill -s SIGKILL");
            let r = bg
                .try_wait_within(20)
                .unwrap_or_else(|| panic!("ctr run still waits 20 s after its task was killed"));
            expect_code(&r, 137, "ctr run of a task killed by SIGKILL");
            poll(10, || d.task_status(&id).is_none());
            d.assert_no_cgroup(&id);
        },
    );
}

/// `ctr run -t` in a terminal: the container's shell has a terminal (`[ -t 0 ]`), shows
/// its prompt, and `exit 5` ends `ctr run` with 5.
#[test]
fn containerd_ctr_run_tty() {
    let test = "containerd_ctr_run_tty";
    if !have_tools(test, &["containerd", "ctr", "tmux"]) {
        return;
    }
    let rts = runtimes();
    let d = Containerd::start("ctr-tty");
    d.import();
    each_runtime(
        test,
        &rts,
        || d.sb.logs(),
        |rt| {
            let id = format!("tty-{}", rt.name);
            let c = d.run_cmd(rt, &["--rm", "-t"], &id, &["sh"]);
            let t = Tmux::start(
                d.sb.path(&format!("tmux-{}.sock", rt.name)),
                &shell_line(&c),
            );
            t.wait_text("/ #", 20);
            // The answer is computed inside, so the typed line itself never matches it.
            t.type_line("[ -t 0 ] && [ -t 1 ] && echo TTY-$((40+2))");
            t.wait_text("TTY-42", 20);
            t.type_line("exit 5");
            assert_eq!(t.wait_exit(20), 5, "ctr run -t after `exit 5`");
            poll(10, || d.task_status(&id).is_none());
            d.assert_no_cgroup(&id);
        },
    );
}

/// `ctr run -d`, then `ctr task ls` shows RUNNING; `ctr task kill` (SIGTERM) reaches the
/// shell's trap, the task shows STOPPED, and `ctr task rm` reports its exit code 7.
#[test]
fn containerd_detached_task_kill() {
    let test = "containerd_detached_task_kill";
    if !have_tools(test, &["containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let d = Containerd::start("ctr-detach");
    d.import();
    each_runtime(
        test,
        &rts,
        || d.sb.logs(),
        |rt| {
            let id = format!("detached-{}", rt.name);
            let vol = d.sb.mkdir(&format!("vol-{}", rt.name));
            let mount = format!("type=bind,src={},dst=/vol,options=rbind:rw", s(&vol));
            let r = run(
                d.run_cmd(
                    rt,
                    &["-d", "--mount", &mount],
                    &id,
                    &["sh", "-c", TRAP_TERM],
                ),
                60,
            );
            expect_code(&r, 0, "ctr run -d");
            assert_eq!(d.task_status(&id).as_deref(), Some("RUNNING"));
            assert!(
                poll(20, || vol.join("ready").exists()),
                "the detached shell did not start"
            );
            let r = d.ctr_run(&["task", "kill", &id], 20);
            expect_code(&r, 0, "ctr task kill");
            d.wait_status(&id, "STOPPED", 20);
            assert_eq!(
                std::fs::read_to_string(vol.join("marker")).unwrap_or_default(),
                "TERM\n",
                "SIGTERM did not reach the shell's trap"
            );
            let r = d.ctr_run(&["task", "rm", &id], 20);
            expect_code(&r, 0, "ctr task rm");
            assert!(
                r.stderr.contains("exit code 7"),
                "ctr task rm should report exit code 7: {}",
                show(&r)
            );
            assert_eq!(d.task_status(&id), None);
            expect_code(&d.ctr_run(&["containers", "rm", &id], 20), 0, "ctr c rm");
            d.assert_no_cgroup(&id);
        },
    );
}

/// `ctr run --memory-limit 32 MiB`: allocating 64 MiB is OOM-killed (exit 137), while the
/// same without the limit holds it.
#[test]
fn containerd_memory_limit() {
    let test = "containerd_memory_limit";
    if !have_tools(test, &["containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let d = Containerd::start("ctr-mem");
    d.import();
    each_runtime(
        test,
        &rts,
        || d.sb.logs(),
        |rt| {
            let id = format!("free-{}", rt.name);
            let r = run(d.run_cmd(rt, &["--rm"], &id, &["sh", "-c", ALLOC_64M]), 60);
            expect_code(&r, 0, "64 MiB without a limit");
            assert_eq!(r.stdout, "held 67108864\n");
            let id = format!("oom-{}", rt.name);
            let limit = (32u64 << 20).to_string();
            let r = run(
                d.run_cmd(
                    rt,
                    &["--rm", "--memory-limit", &limit],
                    &id,
                    &["sh", "-c", ALLOC_64M],
                ),
                60,
            );
            expect_code(&r, 137, "64 MiB under --memory-limit 32 MiB");
            assert!(!r.stdout.contains("held"), "{}", show(&r));
            d.assert_no_cgroup(&id);
        },
    );
}

/// containerd configured to call the runtime without `ctr run --runc-binary`: (1) the v1
/// shim (`containerd-shim`) with config.toml's `[plugins."io.containerd.runtime.v1.linux"]
/// runtime = RUNTIME` and `ctr run --runtime io.containerd.runtime.v1.linux`; (2) the runc
/// v2 shim without a BinaryName, which runs `runc` from the PATH containerd gave it: a
/// directory whose `runc` is the runtime. (config.toml's `runtimes.X.options BinaryName`
/// is the CRI plugin's and reaches only CRI clients, not ctr: containerd issue #4618; no CRI
/// client is packaged in Debian 12.) A wrapper script logs each call to show which runtime
/// was called.
#[test]
fn containerd_configured_runtime() {
    let test = "containerd_configured_runtime";
    if !have_tools(test, &["containerd", "ctr", "containerd-shim"]) {
        return;
    }
    let rts = runtimes();
    each_runtime(test, &rts, String::new, |rt| {
        let sb = Sandbox::new(&format!("ctr-conf-{}", rt.name));
        let bin = sb.mkdir("bin");
        let log = sb.path("runtime-calls.log");
        logging_wrapper(&bin.join("runc"), &rt.path, &log);
        let extra = format!(
            "[plugins.\"io.containerd.runtime.v1.linux\"]\n  shim = \"containerd-shim\"\n  \
             runtime = \"{}\"\n  runtime_root = \"{}\"\n",
            s(&bin.join("runc")),
            s(&sb.path("runtime-root-v1"))
        );
        let d = Containerd::start_in(sb, &extra, Some(&bin));
        d.import();
        let calls = || std::fs::read_to_string(&log).unwrap_or_default();
        // (1) the v1 shim, runtime from config.toml; (2) the v2 shim, `runc` from
        // containerd's PATH.
        let v2_root = d.sb.path("runtime-root-v2");
        let fifo = d.sb.path("fifo");
        let cases: [(&str, [&str; 2], i32, &str, &str); 2] = [
            (
                "v1",
                ["--runtime", "io.containerd.runtime.v1.linux"],
                4,
                "ctr run with the v1 shim",
                "the configured runtime was not called",
            ),
            (
                "v2",
                ["--runc-root", s(&v2_root)],
                6,
                "ctr run with the v2 shim and runc from PATH",
                "`runc` on containerd's PATH was not called",
            ),
        ];
        for (shim, how, code, what, not_called) in cases {
            let id = format!("{shim}-{}", rt.name);
            let say = format!("echo {shim} shim; exit {code}");
            let mut args = vec!["run", "--rm"];
            args.extend(how);
            args.extend(["--fifo-dir", s(&fifo), IMAGE, &id, "sh", "-c", &say]);
            let r = d.ctr_run(&args, 60);
            expect_code(&r, code, what);
            assert_eq!(r.stdout, format!("{shim} shim\n"));
            assert!(
                calls()
                    .lines()
                    .any(|l| l.contains("create") && l.contains(&id)),
                "{not_called} to create {id}; its calls:\n{}\n{}",
                calls(),
                d.sb.logs()
            );
            d.assert_no_cgroup(&id);
        }
    });
}

// ---- podman -----------------------------------------------------------------------------

const PODMAN_IMAGE: &str = "localhost/crab-can-bb:1";

/// podman's global options for a private store in `sb` (root or rootless alike), then
/// `--runtime RT` and `args`.
fn podman_args(c: &mut Command, sb: &Sandbox, rt: Option<&Runtime>, args: &[&str]) {
    c.arg("--root")
        .arg(sb.path("root"))
        .arg("--runroot")
        .arg(sb.path("run"))
        .arg("--tmpdir")
        .arg(sb.path("tmp"))
        .args([
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ]);
    if let Some(rt) = rt {
        c.arg("--runtime").arg(&rt.path);
    }
    c.args(args);
}

/// A private podman: storage, run and temporary directories in its sandbox, cgroupfs with
/// the sandbox as every container's cgroup parent, events to a file, and the busybox tar
/// imported.
struct Podman {
    sb: Sandbox,
    rts: Vec<Runtime>,
}

impl Podman {
    fn start(tag: &str, rts: &[Runtime]) -> Podman {
        // podman 4.3 runs the runtime without --root: runc keeps its state in /run/runc.
        let mut sb = Sandbox::new(tag);
        sb.watch_globals(&["/run/runc", "/run/crab-can", "/run/crab-can/oci"]);
        let p = Podman {
            sb,
            rts: rts.to_vec(),
        };
        let r = run(
            p.podman(None, &["import", s(&images().tar), PODMAN_IMAGE]),
            60,
        );
        expect_code(&r, 0, "podman import");
        p
    }

    /// `podman GLOBALS [--runtime RT] ARGS...`, not started.
    fn podman(&self, rt: Option<&Runtime>, args: &[&str]) -> Command {
        let mut c = cmd("podman", &[]);
        // (conmon leaves a file `oom` in its working directory after an OOM kill)
        c.current_dir(&self.sb.dir);
        podman_args(&mut c, &self.sb, rt, args);
        c
    }

    /// The options of every `podman run` here: no network, the file limits this host
    /// allows, the sandbox as cgroup parent.
    fn run_opts(&self) -> Vec<String> {
        [
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--cgroup-parent=/{}", self.sb.id)])
        .collect()
    }

    /// `podman --runtime RT run RUN-OPTS OPTS IMAGE ARGV...`, not started.
    fn run_cmd(&self, rt: &Runtime, opts: &[&str], argv: &[&str]) -> Command {
        let mut c = self.podman(Some(rt), &["run"]);
        c.args(self.run_opts())
            .args(opts)
            .arg(PODMAN_IMAGE)
            .args(argv);
        c
    }

    /// `podman run --rm ... sh -c SCRIPT`, bounded to 60 s.
    fn sh(&self, rt: &Runtime, opts: &[&str], script: &str) -> Run {
        let mut o = vec!["--rm"];
        o.extend_from_slice(opts);
        run(self.run_cmd(rt, &o, &["sh", "-c", script]), 60)
    }

    /// `podman --runtime RT ARGS...`, bounded to 60 s.
    fn p(&self, rt: &Runtime, args: &[&str]) -> Run {
        run(self.podman(Some(rt), args), 60)
    }

    /// `podman inspect -f FORMAT NAME`, trimmed.
    fn inspect(&self, rt: &Runtime, name: &str, format: &str) -> String {
        let r = self.p(rt, &["inspect", "-f", format, name]);
        expect_code(&r, 0, "podman inspect");
        r.stdout.trim().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers left by a failed test, each through a runtime podman knows.
        // Nothing here may panic: this also runs while a failed test unwinds.
        for rt in &self.rts {
            let _ = try_run(self.podman(Some(rt), &["rm", "-a", "-f", "-t", "0"]), 60);
        }
        let _ = try_run(self.podman(None, &["rmi", "-a", "-f"]), 60);
        // The sandbox (dropped next) unmounts and removes the rest.
    }
}

/// `podman run --rm`: output and exit codes (0, 3, 137 for a command killed by SIGKILL
/// inside), and a missing command is 127 with podman's own words for it.
#[test]
fn podman_run_exit_codes() {
    let test = "podman_run_exit_codes";
    if !have_tools(test, &["podman", "conmon"]) {
        return;
    }
    let rts = runtimes();
    let p = Podman::start("podman-exit", &rts);
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            let r = p.sh(rt, &[], "echo hello; exit 0");
            expect_code(&r, 0, "podman run exit 0");
            assert_eq!(r.stdout, "hello\n");
            let r = p.sh(rt, &[], "echo three >&2; exit 3");
            expect_code(&r, 3, "podman run exit 3");
            assert!(r.stderr.contains("three"), "{}", show(&r));
            let r = p.sh(rt, &[], r#"sh -c 'kill -9 $$'; exit $?"#);
            expect_code(&r, 137, "podman run of a SIGKILLed command");
            let r = run(p.run_cmd(rt, &["--rm"], &["no-such-command"]), 60);
            expect_code(&r, 127, "podman run of a missing command");
            assert!(
                r.stderr
                    .contains("OCI runtime attempted to invoke a command that was not found"),
                "podman's words for a missing command: {}",
                show(&r)
            );
        },
    );
}

/// `podman run -it` in a terminal: a shell with a terminal, and `exit 5` ends podman with 5.
#[test]
fn podman_run_tty() {
    let test = "podman_run_tty";
    if !have_tools(test, &["podman", "conmon", "tmux"]) {
        return;
    }
    let rts = runtimes();
    let p = Podman::start("podman-tty", &rts);
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            let c = p.run_cmd(rt, &["--rm", "-it"], &["sh"]);
            let t = Tmux::start(
                p.sb.path(&format!("tmux-{}.sock", rt.name)),
                &shell_line(&c),
            );
            t.wait_text("/ #", 30);
            t.type_line("[ -t 0 ] && [ -t 1 ] && echo TTY-$((40+2))");
            t.wait_text("TTY-42", 20);
            t.type_line("exit 5");
            assert_eq!(t.wait_exit(30), 5, "podman run -it after `exit 5`");
        },
    );
}

/// `podman run -m 32m`: allocating 64 MiB is OOM-killed (137); without `-m` it is held.
#[test]
fn podman_memory_limit() {
    let test = "podman_memory_limit";
    if !have_tools(test, &["podman", "conmon"]) {
        return;
    }
    let rts = runtimes();
    let p = Podman::start("podman-mem", &rts);
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            let r = p.sh(rt, &[], ALLOC_64M);
            expect_code(&r, 0, "64 MiB without a limit");
            assert_eq!(r.stdout, "held 67108864\n");
            let r = p.sh(rt, &["-m", "32m"], ALLOC_64M);
            expect_code(&r, 137, "64 MiB under -m 32m");
            assert!(!r.stdout.contains("held"), "{}", show(&r));
        },
    );
}

/// `podman stop` sends SIGTERM to the command (its trap writes a marker to a volume and
/// exits 7) well before the stop timeout; `podman rm -f` removes a running container and
/// its process.
#[test]
fn podman_stop_and_rm() {
    let test = "podman_stop_and_rm";
    if !have_tools(test, &["podman", "conmon"]) {
        return;
    }
    let rts = runtimes();
    let p = Podman::start("podman-stop", &rts);
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            let name = format!("stop-{}", rt.name);
            let vol = p.sb.mkdir(&format!("vol-{}", rt.name));
            let v = format!("{}:/vol", s(&vol));
            let r = run(
                p.run_cmd(
                    rt,
                    &["-d", "--name", &name, "-v", &v],
                    &["sh", "-c", TRAP_TERM],
                ),
                60,
            );
            expect_code(&r, 0, "podman run -d");
            assert!(
                poll(20, || vol.join("ready").exists()),
                "the container's shell did not start"
            );
            assert_eq!(p.inspect(rt, &name, "{{.State.Status}}"), "running");
            let t = Instant::now();
            let r = p.p(rt, &["stop", "-t", "30", &name]);
            expect_code(&r, 0, "podman stop");
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "podman stop took {:?}: SIGTERM did not end the command",
                t.elapsed()
            );
            assert_eq!(
                std::fs::read_to_string(vol.join("marker")).unwrap_or_default(),
                "TERM\n",
                "SIGTERM did not reach the shell's trap"
            );
            assert_eq!(p.inspect(rt, &name, "{{.State.Status}}"), "exited");
            assert_eq!(p.inspect(rt, &name, "{{.State.ExitCode}}"), "7");
            expect_code(&p.p(rt, &["rm", &name]), 0, "podman rm");

            let name = format!("rmf-{}", rt.name);
            let r = run(
                p.run_cmd(rt, &["-d", "--name", &name], &["sleep", "600"]),
                60,
            );
            expect_code(&r, 0, "podman run -d sleep");
            let pid: i32 = p
                .inspect(rt, &name, "{{.State.Pid}}")
                .parse()
                .expect("a pid");
            assert!(
                pid > 0 && alive(pid),
                "the container's process {pid} is not running"
            );
            expect_code(&p.p(rt, &["rm", "-f", "-t", "0", &name]), 0, "podman rm -f");
            assert!(
                poll(10, || !alive(pid)),
                "process {pid} still alive after podman rm -f"
            );
            let r = p.p(rt, &["ps", "-a", "--format", "{{.Names}}"]);
            assert!(
                !r.stdout.lines().any(|l| l == name),
                "podman ps -a still lists {name}"
            );
        },
    );
}

/// `--pids-limit`, `--read-only` and `--cap-drop`, each against the same command without it.
#[test]
fn podman_limits_readonly_caps() {
    let test = "podman_limits_readonly_caps";
    if !have_tools(test, &["podman", "conmon"]) {
        return;
    }
    let rts = runtimes();
    let p = Podman::start("podman-opts", &rts);
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            // Ten processes at once: fine by default, a fork fails under --pids-limit 5.
            let forks = "i=0; while [ $i -lt 10 ]; do sleep 5 & i=$((i+1)); done; echo forked $i";
            let r = p.sh(rt, &[], forks);
            expect_code(&r, 0, "ten processes without --pids-limit");
            assert_eq!(r.stdout, "forked 10\n");
            let r = p.sh(rt, &["--pids-limit", "5"], forks);
            assert_ne!(
                r.code,
                0,
                "ten processes under --pids-limit 5: {}",
                show(&r)
            );
            assert!(
                r.stderr.contains("can't fork") && !r.stdout.contains("forked"),
                "{}",
                show(&r)
            );
            // --read-only: / refuses writes, the /tmp podman mounts takes them.
            let ro = "touch /tmp/ok || exit 10; touch /x; echo touch=$?";
            let r = p.sh(rt, &[], ro);
            expect_code(&r, 0, "writes without --read-only");
            assert_eq!(r.stdout, "touch=0\n");
            let r = p.sh(rt, &["--read-only"], ro);
            expect_code(&r, 0, "writes under --read-only");
            assert_eq!(r.stdout, "touch=1\n", "{}", show(&r));
            assert!(r.stderr.contains("Read-only file system"), "{}", show(&r));
            // --cap-drop chown: CAP_CHOWN (bit 0) leaves the sets, chown fails.
            let caps = "grep CapEff /proc/self/status; chown 1 /tmp; echo chown=$?";
            let r = p.sh(rt, &[], caps);
            expect_code(&r, 0, "chown with the default capabilities");
            assert!(r.stdout.contains("chown=0"), "{}", show(&r));
            let eff = cap_eff(&r.stdout);
            assert_eq!(
                eff & 1,
                1,
                "CAP_CHOWN is a default capability: {}",
                show(&r)
            );
            let r = p.sh(rt, &["--cap-drop", "chown"], caps);
            expect_code(&r, 0, "chown under --cap-drop chown");
            assert!(r.stdout.contains("chown=1"), "{}", show(&r));
            assert!(r.stderr.contains("Operation not permitted"), "{}", show(&r));
            assert_eq!(cap_eff(&r.stdout), eff & !1, "{}", show(&r));
        },
    );
}

/// The `CapEff:` mask in `/proc/self/status` text.
fn cap_eff(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no CapEff line in {status:?}"))
}

// ---- dockerd ----------------------------------------------------------------------------

/// Debian's docker client (`/usr/local/bin/docker` may be a newer one).
const DOCKER: &str = "/usr/bin/docker";
const DOCKER_IMAGE: &str = "crab-can-bb:1";

/// A private dockerd on a private containerd (so that it starts no containerd of its own,
/// which would make /opt/containerd): data, exec root, socket, trust key in the sandbox; no
/// iptables, bridge, forwarding or masquerading; cgroupfs with the sandbox as cgroup parent;
/// each runtime under test registered as `rt-<name>`.
struct Docker {
    d: Containerd,
    sock: PathBuf,
}

impl Docker {
    fn start(tag: &str, rts: &[Runtime]) -> Docker {
        let mut sb = Sandbox::new(tag);
        sb.watch_globals(&["/run/docker", "/run/docker/plugins"]);
        let mut d = Containerd::start_in(sb, "", None);
        let key = d.sb.path("key.json");
        let config = d.sb.path("daemon.json");
        std::fs::write(
            &config,
            format!("{{\"deprecated-key-path\": \"{}\"}}\n", s(&key)),
        )
        .unwrap();
        let sock = d.sb.path("docker.sock");
        let mut c = Command::new(find_tool("dockerd").unwrap());
        c.arg("--config-file")
            .arg(&config)
            .arg("--containerd")
            .arg(&d.sock)
            .args(["--containerd-namespace", &d.sb.id])
            .args([
                "--containerd-plugins-namespace",
                &format!("{}-plugins", d.sb.id),
            ])
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--ip-forward=false",
                "--bridge=none",
                "--userland-proxy=false",
                "--storage-driver",
                "overlay2",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
            ])
            .arg("--cgroup-parent")
            .arg(format!("/{}", d.sb.id))
            .arg("--data-root")
            .arg(d.sb.path("docker"))
            .arg("--exec-root")
            .arg(d.sb.path("exec"))
            .arg("--pidfile")
            .arg(d.sb.path("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", s(&sock)));
        for rt in rts {
            c.arg("--add-runtime")
                .arg(format!("rt-{}={}", rt.name, s(&rt.path)));
        }
        d.sb.spawn_daemon("dockerd", c);
        let mut docker = Docker { d, sock };
        let t = Instant::now();
        while run(docker.docker(&["version"]), 20).code != 0 {
            docker.d.sb.check_daemon("dockerd");
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "dockerd does not answer after 30 s\n{}",
                docker.d.sb.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = run(
            docker.docker(&["import", s(&images().tar), DOCKER_IMAGE]),
            60,
        );
        expect_code(&r, 0, "docker import");
        docker
    }

    /// `docker -H unix://SOCK ARGS...`, not started.
    fn docker(&self, args: &[&str]) -> Command {
        let mut c = cmd(DOCKER, &["-H", &format!("unix://{}", s(&self.sock))]);
        c.current_dir(&self.d.sb.dir);
        c.args(args);
        c
    }

    fn dk(&self, args: &[&str]) -> Run {
        run(self.docker(args), 60)
    }

    /// `docker run --runtime rt-NAME --network none OPTS IMAGE ARGV...`, not started.
    fn run_cmd(&self, rt: &Runtime, opts: &[&str], argv: &[&str]) -> Command {
        let runtime = format!("rt-{}", rt.name);
        let mut c = self.docker(&["run", "--runtime", &runtime, "--network", "none"]);
        c.args(opts).arg(DOCKER_IMAGE).args(argv);
        c
    }

    fn sh(&self, rt: &Runtime, opts: &[&str], script: &str) -> Run {
        let mut o = vec!["--rm"];
        o.extend_from_slice(opts);
        run(self.run_cmd(rt, &o, &["sh", "-c", script]), 60)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let r = self.dk(&["inspect", "-f", format, name]);
        expect_code(&r, 0, "docker inspect");
        r.stdout.trim().to_string()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // Nothing here may panic: this also runs while a failed test unwinds.
        let ids = try_run(self.docker(&["ps", "-a", "-q"]), 30).map(|r| r.stdout);
        for id in ids.as_deref().unwrap_or("").split_whitespace() {
            let _ = try_run(self.docker(&["rm", "-f", id]), 30);
        }
        // The containerd (dropped next) and its sandbox stop both daemons, dockerd first.
    }
}

/// `docker run --runtime rt-NAME`: output and exit codes (0, 3, 137), a missing command is
/// 127, and `-m 32m` OOM-kills a 64 MiB allocation (137) that passes without it.
#[test]
fn docker_run_exit_codes_and_memory() {
    let test = "docker_run_exit_codes_and_memory";
    if !have_tools(test, &["dockerd", DOCKER, "containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let dk = Docker::start("docker-run", &rts);
    each_runtime(
        test,
        &rts,
        || dk.d.sb.logs(),
        |rt| {
            let r = dk.sh(rt, &[], "echo hello; exit 0");
            expect_code(&r, 0, "docker run exit 0");
            assert_eq!(r.stdout, "hello\n");
            let r = dk.sh(rt, &[], "echo three >&2; exit 3");
            expect_code(&r, 3, "docker run exit 3");
            assert_eq!(r.stderr, "three\n", "{}", show(&r));
            let r = dk.sh(rt, &[], r#"sh -c 'kill -9 $$'; exit $?"#);
            expect_code(&r, 137, "docker run of a SIGKILLed command");
            let r = run(dk.run_cmd(rt, &["--rm"], &["no-such-command"]), 60);
            expect_code(&r, 127, "docker run of a missing command");
            assert!(
                r.stderr.contains("OCI runtime create failed"),
                "{}",
                show(&r)
            );
            let r = dk.sh(rt, &[], ALLOC_64M);
            expect_code(&r, 0, "64 MiB without a limit");
            assert_eq!(r.stdout, "held 67108864\n");
            let r = dk.sh(rt, &["-m", "32m"], ALLOC_64M);
            expect_code(&r, 137, "64 MiB under -m 32m");
            assert!(!r.stdout.contains("held"), "{}", show(&r));
        },
    );
}

/// `docker stop` delivers SIGTERM to the command (trap: marker on a volume, exit 7) before
/// its timeout; `docker rm` removes it; `docker rm -f` removes a running one and its process.
#[test]
fn docker_stop_and_rm() {
    let test = "docker_stop_and_rm";
    if !have_tools(test, &["dockerd", DOCKER, "containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let dk = Docker::start("docker-stop", &rts);
    each_runtime(
        test,
        &rts,
        || dk.d.sb.logs(),
        |rt| {
            let name = format!("stop-{}", rt.name);
            let vol = dk.d.sb.mkdir(&format!("vol-{}", rt.name));
            let v = format!("{}:/vol", s(&vol));
            let r = run(
                dk.run_cmd(
                    rt,
                    &["-d", "--name", &name, "-v", &v],
                    &["sh", "-c", TRAP_TERM],
                ),
                60,
            );
            expect_code(&r, 0, "docker run -d");
            assert!(
                poll(20, || vol.join("ready").exists()),
                "the container's shell did not start"
            );
            assert_eq!(dk.inspect(&name, "{{.State.Status}}"), "running");
            let t = Instant::now();
            expect_code(&dk.dk(&["stop", "-t", "30", &name]), 0, "docker stop");
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "docker stop took {:?}: SIGTERM did not end the command",
                t.elapsed()
            );
            assert_eq!(
                std::fs::read_to_string(vol.join("marker")).unwrap_or_default(),
                "TERM\n",
                "SIGTERM did not reach the shell's trap"
            );
            assert_eq!(dk.inspect(&name, "{{.State.Status}}"), "exited");
            assert_eq!(dk.inspect(&name, "{{.State.ExitCode}}"), "7");
            expect_code(&dk.dk(&["rm", &name]), 0, "docker rm");

            let name = format!("rmf-{}", rt.name);
            let r = run(
                dk.run_cmd(rt, &["-d", "--name", &name], &["sleep", "600"]),
                60,
            );
            expect_code(&r, 0, "docker run -d sleep");
            let pid: i32 = dk.inspect(&name, "{{.State.Pid}}").parse().expect("a pid");
            assert!(
                pid > 0 && alive(pid),
                "the container's process {pid} is not running"
            );
            let full_id = dk.inspect(&name, "{{.Id}}");
            assert!(
                !dk.d.sb.cgroups_named(&full_id).is_empty(),
                "no cgroup {full_id} under the sandbox's parent"
            );
            expect_code(&dk.dk(&["rm", "-f", &name]), 0, "docker rm -f");
            assert!(
                poll(10, || !alive(pid)),
                "process {pid} still alive after docker rm -f"
            );
            let r = dk.dk(&["ps", "-a", "--format", "{{.Names}}"]);
            assert!(
                !r.stdout.lines().any(|l| l == name),
                "docker ps -a still lists {name}"
            );
            let left = dk.d.sb.cgroups_named(&full_id);
            assert!(left.is_empty(), "cgroups left after docker rm -f: {left:?}");
        },
    );
}

// ---- a pod, built the way containerd's CRI plugin builds one ----------------------------

/// A namespace of a process as the kernel names it: `readlink /proc/PID/ns/KIND`
/// (`net:[4026532201]`).
fn ns_of(pid: i32, kind: &str) -> String {
    let p = format!("/proc/{pid}/ns/{kind}");
    std::fs::read_link(&p)
        .unwrap_or_else(|e| panic!("readlink {p}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The host pids of the processes in the container's cgroup (its first hierarchy's
/// `cgroup.procs`), sorted.
fn cgroup_pids(d: &Containerd, id: &str) -> Vec<i32> {
    let cg = d.sb.cgroups_named(id);
    let cg = cg
        .first()
        .unwrap_or_else(|| panic!("no cgroup {id} under the sandbox's parent"));
    let t = std::fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
    let mut v: Vec<i32> = t
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    v.sort();
    v
}

/// The container's memory limit as its cgroup file on the host says it: `memory.max` on
/// v2, `memory.limit_in_bytes` in the v1 memory hierarchy.
fn memory_limit_file(d: &Containerd, id: &str) -> String {
    let cgs = d.sb.cgroups_named(id);
    let f = cgs
        .iter()
        .map(|c| c.join("memory.max"))
        .chain(cgs.iter().map(|c| c.join("memory.limit_in_bytes")))
        .find(|f| f.exists())
        .unwrap_or_else(|| panic!("no memory limit file in the cgroups of {id}: {cgs:?}"));
    std::fs::read_to_string(&f).unwrap().trim().to_string()
}

impl Containerd {
    /// The host pid of `id`'s task (`ctr task ls`'s PID column).
    #[track_caller]
    fn task_pid(&self, id: &str) -> i32 {
        let r = self.ctr_run(&["task", "ls"], 20);
        expect_code(&r, 0, "ctr task ls");
        r.stdout
            .lines()
            .skip(1)
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&id)).then(|| f.get(1)?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("no pid for {id} in ctr task ls:\n{}", r.stdout))
    }

    /// The pids `ctr task ps ID` lists (what the runtime's `ps --format json` said), sorted.
    #[track_caller]
    fn task_ps(&self, id: &str) -> Vec<i32> {
        let r = self.ctr_run(&["task", "ps", id], 60);
        expect_code(&r, 0, &format!("ctr task ps {id}"));
        let mut v: Vec<i32> = r
            .stdout
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        v.sort();
        v
    }

    /// `ctr task kill [--all] -s SIGKILL ID`, then wait for STOPPED and for every one of
    /// `pids` to be gone (dead or a zombie).
    #[track_caller]
    fn kill_task(&self, id: &str, all: bool, pids: &[i32]) {
        let mut args = vec!["task", "kill", "-s", "SIGKILL"];
        if all {
            args.push("--all");
        }
        args.push(id);
        // Bounds for a loaded CI machine (a shim under load once took over 20 s here).
        expect_code(&self.ctr_run(&args, 60), 0, &args.join(" "));
        self.wait_status(id, "STOPPED", 60);
        assert!(
            poll(10, || pids.iter().all(|&p| !alive(p))),
            "{id}: processes still running 10 s after `{}`: {:?}",
            args.join(" "),
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
    }

    /// CRI's RemoveContainer: `ctr task rm ID` and `ctr container rm ID`; then neither lists
    /// it, and its cgroups and its bundle (with the rootfs mount) are gone.
    #[track_caller]
    fn remove(&self, id: &str) {
        expect_code(&self.ctr_run(&["task", "rm", id], 20), 0, "ctr task rm");
        expect_code(&self.ctr_run(&["container", "rm", id], 20), 0, "ctr c rm");
        assert_eq!(self.task_status(id), None, "ctr task ls still lists {id}");
        let r = self.ctr_run(&["container", "ls", "-q"], 20);
        assert!(
            !r.stdout.lines().any(|l| l == id),
            "ctr container ls still lists {id}"
        );
        self.assert_no_cgroup(id);
        let bundle = self.sb.path(&format!(
            "state/io.containerd.runtime.v2.task/{}/{id}",
            self.sb.id
        ));
        assert!(
            mounts_under(&bundle).is_empty() && !bundle.exists(),
            "{id}'s bundle is left: {} (mounts {:?})",
            bundle.display(),
            mounts_under(&bundle)
        );
    }
}

/// One pod, with one runtime: what containerd's CRI plugin does for a pod of two
/// containers, step by step through `ctr` (no CRI client is packaged in Debian 12).
///
/// 1. RunPodSandbox: the sandbox ("pause") container, busybox `sleep` in network, IPC and
///    UTS namespaces of its own (and PID, which the pod shares when `share_pid`). CRI writes
///    the pod's hostname into its config.json; ctr 1.6 has no `--hostname`, so the sandbox
///    sets it itself (with CAP_SYS_ADMIN) before it becomes `sleep`.
/// 2. CreateContainer and StartContainer, twice: each app container's config.json joins the
///    sandbox's network, IPC and UTS namespaces (and PID when shared) by `/proc/PID/ns/*`
///    path (`ctr run --with-ns`). The kernel must then show the same namespace inodes, new
///    ones where the app has its own, and none of the host's.
/// 3. `ctr task ps` of each app lists exactly its cgroup's processes.
/// 4. StopContainer and RemoveContainer of app2 (`sh` with a child `sleep`): SIGKILL to its
///    init alone. With a PID namespace of its own the child dies with it; in the pod's
///    shared one it does not, and containerd's shim sends the runtime `kill --all` when the
///    init exits (it does so for any container without a PID namespace of its own): the
///    runtime's call log must show that call, and every process must end.
/// 5. ExecSync into app1 (`ctr task exec --exec-id e1`): the process sees the pod's
///    hostname and the sandbox's network namespace, and is in app1's PID namespace.
/// 6. UpdateContainerResources of app1 (created with a 64 MiB limit): the new limit in its
///    cgroup file on the host.
///    ctr 1.6 has no `task update`, so the test sends the runtime the very command the runc
///    shim sends for a task Update (`update --resources - ID`, LinuxResources JSON on
///    stdin).
/// 7. A second exec left running (`-d --exec-id e2 sleep`): `ctr task ps` lists one more
///    process, in app1's PID namespace.
/// 8. StopContainer (forced: `kill --all` SIGKILL, as CRI sends after the grace period),
///    StopPodSandbox (SIGKILL to the sandbox) and the removals; then nothing is left: no
///    process of the pod, no cgroup, no bundle or mount, nothing in the runtime's state
///    directory.
fn pod_scenario(d: &Containerd, rt: &Runtime, share_pid: bool) {
    let tag = if share_pid { "pidns" } else { "pod" };
    let (sb_id, app1, app2) = (
        format!("{tag}-{}-sandbox", rt.name),
        format!("{tag}-{}-app1", rt.name),
        format!("{tag}-{}-app2", rt.name),
    );
    // The runtime behind a wrapper that logs its calls (what the shim asked of it).
    let log = d.sb.path(&format!("calls-{}-{tag}.log", rt.name));
    let wrapper = d.sb.mkdir(&format!("bin-{}-{tag}", rt.name)).join(rt.name);
    logging_wrapper(&wrapper, &rt.path, &log);
    let wrt = Runtime {
        name: rt.name,
        path: wrapper,
    };
    let calls = || std::fs::read_to_string(&log).unwrap_or_default();
    let state_root =
        d.sb.path(&format!("runtime-root-{}", rt.name))
            .join(&d.sb.id);
    let mut pod_pids: Vec<i32> = Vec::new();

    // 1. The sandbox.
    let hostname = format!("{tag}-{}", rt.name);
    // As the pause image does, the sandbox's process reaps what it adopts: in a shared PID
    // namespace a stopped app's orphans become its children, and a zombie left there
    // keeps runc's `delete` waiting (busybox sh reaps every child at each `wait`).
    let set_host = format!("hostname {hostname} && while :; do sleep 1; done");
    let r = run(
        d.run_cmd(
            &wrt,
            &["-d", "--cap-add", "CAP_SYS_ADMIN"],
            &sb_id,
            &["sh", "-c", &set_host],
        ),
        60,
    );
    expect_code(&r, 0, "ctr run -d of the sandbox");
    d.wait_status(&sb_id, "RUNNING", 20);
    let sb_pid = d.task_pid(&sb_id);
    assert!(
        poll(20, || d.task_ps(&sb_id).iter().any(|&p| {
            common::read_proc(p).is_some_and(|s| s.comm == "sleep")
        })),
        "the sandbox did not set its hostname and become `sleep`: {}",
        show(&run(d.ctr(&["task", "ps", &sb_id]), 20))
    );
    pod_pids.extend(d.task_ps(&sb_id));
    let host = |kind: &str| ns_of(std::process::id() as i32, kind);
    for kind in ["net", "ipc", "uts", "pid", "mnt"] {
        assert_ne!(
            ns_of(sb_pid, kind),
            host(kind),
            "the sandbox should have a {kind} namespace of its own"
        );
    }

    // 2. The app containers, joining the sandbox's namespaces by path.
    let mut kinds = vec![("network", "net"), ("ipc", "ipc"), ("uts", "uts")];
    if share_pid {
        kinds.push(("pid", "pid"));
    }
    let with_ns: Vec<String> = kinds
        .iter()
        .map(|(ty, kind)| format!("{ty}:/proc/{sb_pid}/ns/{kind}"))
        .collect();
    let mut opts = vec!["-d"];
    for w in &with_ns {
        opts.extend(["--with-ns", w.as_str()]);
    }
    // app1 has a memory limit from its creation, as a pod with `resources.limits` does
    // (on a v1 or hybrid host crab-can puts a container in the hierarchies of the limits
    // it is created with; step 6 then changes that limit in place).
    let limited = format!("{}", 64u64 << 20);
    for app in [&app1, &app2] {
        let mut o = opts.clone();
        if app == &app1 {
            o.extend(["--memory-limit", limited.as_str()]);
        }
        let r = run(
            d.run_cmd(&wrt, &o, app, &["sh", "-c", "sleep 600 & wait"]),
            60,
        );
        expect_code(&r, 0, &format!("ctr run -d {}", with_ns.join(" ")));
        d.wait_status(app, "RUNNING", 20);
        let pid = d.task_pid(app);
        for kind in ["net", "ipc", "uts"] {
            assert_eq!(
                ns_of(pid, kind),
                ns_of(sb_pid, kind),
                "{app} should be in the sandbox's {kind} namespace"
            );
        }
        if share_pid {
            assert_eq!(ns_of(pid, "pid"), ns_of(sb_pid, "pid"), "{app}: pid");
        } else {
            assert_ne!(ns_of(pid, "pid"), ns_of(sb_pid, "pid"), "{app}: own pid");
            assert_ne!(ns_of(pid, "pid"), host("pid"), "{app}: own pid");
        }
        assert_ne!(ns_of(pid, "mnt"), ns_of(sb_pid, "mnt"), "{app}: own mnt");
    }

    // 3. ctr task ps: the cgroup's processes, the shell and its sleep at least.
    let mut app_pids = Vec::new();
    for app in [&app1, &app2] {
        let want = cgroup_pids(d, app);
        let mut got = Vec::new();
        assert!(
            poll(10, || {
                got = d.task_ps(app);
                got == cgroup_pids(d, app) && got.len() >= 2
            }),
            "ctr task ps {app} lists {got:?}; its cgroup holds {want:?}"
        );
        app_pids.push(got);
    }
    pod_pids.extend(app_pids.iter().flatten());

    // 4. app2 stopped by SIGKILL to its init alone, then removed.
    let before = calls().lines().count();
    d.kill_task(&app2, false, &app_pids[1]);
    let kill_all = calls()
        .lines()
        .skip(before)
        .any(|l| l.contains("kill --all") && l.contains(&app2));
    if share_pid {
        assert!(
            kill_all,
            "containerd's shim should send `kill --all` when {app2}'s init exits in a \
             shared PID namespace; the runtime's calls:\n{}",
            calls()
        );
    }
    d.remove(&app2);

    // 5. An exec into app1.
    let pid1 = d.task_pid(&app1);
    let script = "hostname; for n in net pid uts; do readlink /proc/self/ns/$n; done";
    let fifo = d.sb.path("fifo");
    let r = d.ctr_run(
        &[
            "task",
            "exec",
            "--fifo-dir",
            s(&fifo),
            "--exec-id",
            "e1",
            &app1,
            "sh",
            "-c",
            script,
        ],
        30,
    );
    expect_code(&r, 0, "ctr task exec --exec-id e1");
    let want = format!(
        "{hostname}\n{}\n{}\n{}\n",
        ns_of(sb_pid, "net"),
        ns_of(pid1, "pid"),
        ns_of(sb_pid, "uts")
    );
    assert_eq!(r.stdout, want, "what the exec sees: {}", show(&r));

    // 6. The update of app1's memory limit (see the function's comment).
    let limit: u64 = 48 << 20;
    let mut c = cmd(
        &wrt.path,
        &[
            "--root",
            s(&state_root),
            "update",
            "--resources",
            "-",
            &app1,
        ],
    );
    let json = d.sb.path(&format!("resources-{}-{tag}.json", rt.name));
    std::fs::write(&json, format!("{{\"memory\":{{\"limit\":{limit}}}}}\n")).unwrap();
    c.stdin(std::fs::File::open(&json).unwrap());
    let up = run(c, 20);
    expect_code(&up, 0, "the update of app1's memory limit");
    assert_eq!(memory_limit_file(d, &app1), limit.to_string());

    // 7. A second exec left running: ctr task ps lists it, in app1's PID namespace.
    let r = d.ctr_run(
        &[
            "task",
            "exec",
            "-d",
            "--fifo-dir",
            s(&fifo),
            "--exec-id",
            "e2",
            &app1,
            "sleep",
            "600",
        ],
        30,
    );
    expect_code(&r, 0, "ctr task exec -d --exec-id e2");
    let mut ps = Vec::new();
    assert!(
        poll(10, || {
            ps = d.task_ps(&app1);
            ps.len() == app_pids[0].len() + 1
        }),
        "ctr task ps {app1} lists {ps:?}, before the exec {:?}",
        app_pids[0]
    );
    let e2: Vec<i32> = ps
        .iter()
        .copied()
        .filter(|p| !app_pids[0].contains(p))
        .collect();
    assert_eq!(e2.len(), 1, "one new process in {ps:?}");
    assert_eq!(ns_of(e2[0], "pid"), ns_of(pid1, "pid"), "e2: app1's pid ns");
    assert_eq!(ps, cgroup_pids(d, &app1), "ctr task ps against the cgroup");
    pod_pids.extend(&e2);

    // 8. Stop and remove everything, then check nothing is left.
    d.kill_task(&app1, true, &ps);
    d.remove(&app1);
    d.kill_task(&sb_id, false, &[sb_pid]);
    d.remove(&sb_id);
    let left: Vec<&i32> = pod_pids.iter().filter(|&&p| alive(p)).collect();
    assert!(left.is_empty(), "processes of the pod left: {left:?}");
    let state: Vec<_> = std::fs::read_dir(&state_root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        state.is_empty(),
        "the runtime's state directory {} still holds {state:?}",
        state_root.display()
    );
}

/// A pod as containerd's CRI plugin makes it (see `pod_scenario`): a sandbox and two app
/// containers joining its network, IPC and UTS namespaces, each app with a PID namespace of
/// its own.
#[test]
fn containerd_pod() {
    let test = "containerd_pod";
    if !have_tools(test, &["containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let d = Containerd::start("ctr-pod");
    d.import();
    each_runtime(test, &rts, || d.sb.logs(), |rt| pod_scenario(&d, rt, false));
}

/// The same pod sharing its PID namespace (`shareProcessNamespace: true`): the apps join the
/// sandbox's PID namespace too, and stopping one takes `kill --all`.
#[test]
fn containerd_pod_shared_pid() {
    let test = "containerd_pod_shared_pid";
    if !have_tools(test, &["containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let d = Containerd::start("ctr-pod-pid");
    d.import();
    each_runtime(test, &rts, || d.sb.logs(), |rt| pod_scenario(&d, rt, true));
}

// ---- exec ---------------------------------------------------------------------------------

/// The value of a `Key:` line of a /proc status text, trimmed ("" if none).
fn status_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map_or(String::new(), |v| v.trim().to_string())
}

/// Host processes whose command line is exactly `argv`.
fn procs_with_argv(argv: &[&str]) -> Vec<i32> {
    let want = common::argv_bytes(argv);
    common::procs()
        .into_iter()
        .filter(|p| alive(p.pid) && common::cmdline(p.pid) == want)
        .map(|p| p.pid)
        .collect()
}

/// The container's command `argv` as started by the runtime: `main` (the pid the engine
/// reports: the command itself with runc, crab-can's init otherwise) or its child.
fn payload(main: i32, argv: &[&str]) -> i32 {
    let want = common::argv_bytes(argv);
    if common::cmdline(main) == want {
        return main;
    }
    let mut found = None;
    poll(10, || {
        found = common::children(main)
            .into_iter()
            .find(|c| common::cmdline(*c) == want);
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no {argv:?} at or below {main}"))
}

/// `podman exec` through conmon (runtime `exec --detach --pid-file P --process F ID`, with
/// `--tty --console-socket S` for -t): exit codes (3, 137, a missing command 127), the
/// process's NoNewPrivs, Seccomp and capabilities as the container's main process has them,
/// its namespaces, a terminal from the container's devpts, `exec -d` adopted by conmon; then
/// stop and rm leave nothing.
#[test]
fn podman_exec() {
    let test = "podman_exec";
    if !have_tools(test, &["podman", "conmon", "tmux"]) {
        return;
    }
    let rts = runtimes();
    let p = Podman::start("podman-exec", &rts);
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            let name = format!("exec-{}", rt.name);
            let r = run(
                p.run_cmd(rt, &["-d", "--name", &name], &["sleep", "600"]),
                60,
            );
            expect_code(&r, 0, "podman run -d sleep 600");
            let main: i32 = p
                .inspect(rt, &name, "{{.State.Pid}}")
                .parse()
                .expect("a pid");
            assert!(main > 0 && alive(main), "the container's process {main}");
            let r = p.p(rt, &["exec", &name, "sh", "-c", "exit 3"]);
            expect_code(&r, 3, "podman exec sh -c 'exit 3'");
            let r = p.p(rt, &["exec", &name, "sh", "-c", "kill -9 $$"]);
            expect_code(&r, 137, "podman exec of a SIGKILLed shell");
            let r = p.p(rt, &["exec", &name, "sh", "-c", "echo out; echo err >&2"]);
            expect_code(&r, 0, "podman exec echo");
            assert_eq!(r.stdout, "out\n", "{}", show(&r));
            assert!(r.stderr.contains("err"), "{}", show(&r));
            let r = p.p(rt, &["exec", &name, "no-such-command"]);
            expect_code(&r, 127, "podman exec of a missing command");
            // The exec'd process is confined as the main one.
            let r = p.p(rt, &["exec", &name, "cat", "/proc/self/status"]);
            expect_code(&r, 0, "podman exec cat /proc/self/status");
            let cmd = payload(main, &["sleep", "600"]);
            let mine = std::fs::read_to_string(format!("/proc/{cmd}/status")).unwrap();
            for key in [
                "NoNewPrivs",
                "Seccomp",
                "CapEff",
                "CapPrm",
                "CapBnd",
                "CapInh",
                "CapAmb",
            ] {
                assert_eq!(
                    status_line(&r.stdout, key),
                    status_line(&mine, key),
                    "{key} of the exec'd process vs the container's command ({cmd}): {}",
                    r.stdout
                );
            }
            assert_eq!(status_line(&r.stdout, "Seccomp"), "2", "no seccomp filter");
            // Its namespaces and cgroups: the container's.
            let r = p.p(
                rt,
                &[
                    "exec",
                    &name,
                    "sh",
                    "-c",
                    "for k in pid mnt net ipc uts; do readlink /proc/self/ns/$k; done; cat /proc/self/cgroup",
                ],
            );
            expect_code(&r, 0, "podman exec readlink");
            let l: Vec<&str> = r.stdout.lines().collect();
            for (i, k) in ["pid", "mnt", "net", "ipc", "uts"].iter().enumerate() {
                assert_eq!(
                    l.get(i).copied().unwrap_or(""),
                    ns_of(main, k),
                    "{k} namespace of the exec'd process"
                );
            }
            // podman exec -d: conmon (a subreaper) holds the exec'd process.
            let r = p.p(rt, &["exec", "-d", &name, "sleep", "577"]);
            expect_code(&r, 0, "podman exec -d sleep 577");
            let mut found = Vec::new();
            assert!(
                poll(10, || {
                    // This container's (another half of the test may have left one dying).
                    found = procs_with_argv(&["sleep", "577"]);
                    found.retain(|&p| ns_of(p, "pid") == ns_of(main, "pid"));
                    !found.is_empty()
                }),
                "the process of podman exec -d is not running"
            );
            let ex = found[0];
            let parent = common::read_proc(ex).map(|p| p.ppid).unwrap_or(0);
            assert_eq!(
                common::comm(parent),
                "conmon",
                "the parent ({parent}) of the exec'd {ex}"
            );
            let cg = |pid: i32| {
                let mut v: Vec<String> = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            };
            assert_eq!(cg(ex), cg(main), "cgroups of the exec'd {ex}");
            // A terminal: podman allocates it through the runtime's console socket.
            let c = p.podman(Some(rt), &["exec", "-t", &name, "sh", "-c", "tty; exit 4"]);
            let t = Tmux::start(
                p.sb.path(&format!("tmux-exec-{}.sock", rt.name)),
                &shell_line(&c),
            );
            t.wait_text("/dev/pts/", 30);
            assert_eq!(t.wait_exit(30), 4, "podman exec -t after `exit 4`");
            assert!(!t.screen().contains("not a tty"), "{}", t.screen());
            drop(t);
            // stop and rm: nothing of it left.
            expect_code(&p.p(rt, &["stop", "-t", "1", &name]), 0, "podman stop");
            assert!(
                poll(10, || !alive(main) && !alive(ex)),
                "processes left after podman stop"
            );
            expect_code(&p.p(rt, &["rm", &name]), 0, "podman rm");
            let r = p.p(rt, &["ps", "-a", "--format", "{{.Names}}"]);
            assert!(
                !r.stdout.lines().any(|l| l == name),
                "podman ps -a still lists {name}"
            );
            let left = procs_with_argv(&["sleep", "577"]);
            assert!(left.is_empty(), "exec'd processes left: {left:?}");
        },
    );
}

/// `docker exec` through containerd's runc shim (runtime `exec --process F --detach
/// --pid-file P ID`): exit codes, `id`, `-u`, `-w`, `-e`, a missing command, and the
/// process confined as the main one; rm -f leaves no cgroup.
#[test]
fn docker_exec() {
    let test = "docker_exec";
    if !have_tools(test, &["dockerd", DOCKER, "containerd", "ctr"]) {
        return;
    }
    let rts = runtimes();
    let dk = Docker::start("docker-exec", &rts);
    each_runtime(
        test,
        &rts,
        || dk.d.sb.logs(),
        |rt| {
            let name = format!("exec-{}", rt.name);
            let r = run(
                dk.run_cmd(rt, &["-d", "--name", &name], &["sleep", "600"]),
                60,
            );
            expect_code(&r, 0, "docker run -d sleep 600");
            let main: i32 = dk.inspect(&name, "{{.State.Pid}}").parse().expect("a pid");
            assert!(main > 0 && alive(main), "the container's process {main}");
            let r = dk.dk(&["exec", &name, "sh", "-c", "exit 3"]);
            expect_code(&r, 3, "docker exec sh -c 'exit 3'");
            let r = dk.dk(&["exec", &name, "sh", "-c", "kill -9 $$"]);
            expect_code(&r, 137, "docker exec of a SIGKILLed shell");
            let r = dk.dk(&["exec", &name, "id"]);
            expect_code(&r, 0, "docker exec id");
            assert!(
                r.stdout.starts_with("uid=0(root) gid=0(root)"),
                "{}",
                show(&r)
            );
            let r = dk.dk(&[
                "exec",
                "-u",
                "1000:1000",
                "-w",
                "/tmp",
                "-e",
                "A=b",
                &name,
                "sh",
                "-c",
                "id -u; id -g; pwd; echo $A",
            ]);
            expect_code(&r, 0, "docker exec -u -w -e");
            assert_eq!(r.stdout, "1000\n1000\n/tmp\nb\n", "{}", show(&r));
            let r = dk.dk(&["exec", &name, "no-such-command"]);
            expect_code(&r, 126, "docker exec of a missing command");
            assert!(
                r.stdout.contains("executable file not found in $PATH")
                    || r.stderr.contains("executable file not found in $PATH"),
                "{}",
                show(&r)
            );
            let r = dk.dk(&["exec", &name, "cat", "/proc/self/status"]);
            expect_code(&r, 0, "docker exec cat /proc/self/status");
            let cmd = payload(main, &["sleep", "600"]);
            let mine = std::fs::read_to_string(format!("/proc/{cmd}/status")).unwrap();
            for key in ["NoNewPrivs", "Seccomp", "CapEff", "CapBnd"] {
                assert_eq!(
                    status_line(&r.stdout, key),
                    status_line(&mine, key),
                    "{key} of the exec'd process vs the container's command ({cmd})"
                );
            }
            assert_eq!(ns_of(main, "pid"), {
                let r = dk.dk(&["exec", &name, "readlink", "/proc/self/ns/pid"]);
                expect_code(&r, 0, "docker exec readlink");
                r.stdout.trim().to_string()
            });
            // docker exec -d: the shim (a subreaper) holds the process.
            let r = dk.dk(&["exec", "-d", &name, "sleep", "578"]);
            expect_code(&r, 0, "docker exec -d sleep 578");
            let mut found = Vec::new();
            assert!(
                poll(10, || {
                    // This container's (another half of the test may have left one dying).
                    found = procs_with_argv(&["sleep", "578"]);
                    found.retain(|&p| ns_of(p, "pid") == ns_of(main, "pid"));
                    !found.is_empty()
                }),
                "the process of docker exec -d is not running"
            );
            let ex = found[0];
            let parent = common::read_proc(ex).map(|p| p.ppid).unwrap_or(0);
            assert!(
                common::comm(parent).starts_with("containerd-shim"),
                "the parent ({parent}, {}) of the exec'd {ex}",
                common::comm(parent)
            );
            let full_id = dk.inspect(&name, "{{.Id}}");
            expect_code(&dk.dk(&["rm", "-f", &name]), 0, "docker rm -f");
            assert!(
                poll(10, || !alive(main) && !alive(ex)),
                "processes left after docker rm -f"
            );
            let left = dk.d.sb.cgroups_named(&full_id);
            assert!(left.is_empty(), "cgroups left after docker rm -f: {left:?}");
        },
    );
}

// ---- rootless podman ----------------------------------------------------------------------

/// The unprivileged user rootless podman runs as. Made with `useradd -m` when missing (and
/// kept): that also gives it a range in /etc/subuid and /etc/subgid, which podman maps into
/// its user namespace with newuidmap and newgidmap. It is this test's alone: after `podman
/// rm` the test checks that no process of it is left.
const PODMAN_USER: &str = "crabpod";

/// `(uid, gid)` of `PODMAN_USER`, made if missing.
fn podman_user() -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, PODMAN_USER]).output().ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().parse().ok())?
    };
    if id("-u").is_none() {
        let r = run(cmd("useradd", &["-m", PODMAN_USER]), 30);
        expect_code(&r, 0, "useradd -m");
    }
    let (u, g) = (id("-u"), id("-g"));
    (
        u.unwrap_or_else(|| panic!("cannot make the user {PODMAN_USER}")),
        g.unwrap(),
    )
}

/// The processes (zombies aside) whose real uid is `uid`.
fn live_procs_of(uid: u32) -> Vec<i32> {
    common::procs()
        .into_iter()
        .map(|p| p.pid)
        .filter(|&p| alive(p))
        .filter(|&p| {
            let st = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            status_line(&st, "Uid").split_whitespace().next() == Some(&uid.to_string())
        })
        .collect()
}

/// Podman as `PODMAN_USER`, rootless: storage, run, temporary, config and
/// `$XDG_RUNTIME_DIR` directories of its own in the sandbox, owned by the user; the busybox
/// tar imported. Each runtime is a copy in the sandbox the user can execute (the test's
/// binary may be under a directory other users cannot enter), still named as its runtime
/// (podman tells runtimes by the file's name).
///
/// The cgroup manager is cgroupfs. `--cgroups disabled` is refused for every runtime but
/// crun and krun (podman's `runtime_supports_nocgroups`, by the runtime's file name: "not
/// compatible with NoCgroups"), and the systemd manager needs a systemd user session. On
/// this host's hybrid cgroups (v1 controllers) rootless podman with cgroupfs makes no
/// cgroup and gives the runtime a config without `cgroupsPath` or limits: runc and crab-can
/// then make none either.
struct RootlessPodman {
    sb: Sandbox,
    uid: u32,
    gid: u32,
    rts: Vec<Runtime>,
}

impl RootlessPodman {
    fn start(tag: &str, rts: &[Runtime]) -> RootlessPodman {
        let (uid, gid) = podman_user();
        let sb = Sandbox::new(tag);
        let bin = sb.mkdir("bin");
        for d in ["root", "run", "tmp", "xdg", "home", "config", "bin"] {
            let p = sb.mkdir(d);
            std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
        }
        // podman wants $XDG_RUNTIME_DIR to be its user's alone.
        std::fs::set_permissions(
            sb.path("xdg"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let rts = rts
            .iter()
            .map(|rt| {
                let copy = bin.join(rt.path.file_name().unwrap());
                std::fs::copy(&rt.path, &copy).unwrap();
                std::fs::set_permissions(
                    &copy,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )
                .unwrap();
                Runtime {
                    name: rt.name,
                    path: copy,
                }
            })
            .collect();
        let tar = sb.path("bb.tar");
        std::fs::copy(&images().tar, &tar).unwrap();
        std::fs::set_permissions(&tar, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let p = RootlessPodman { sb, uid, gid, rts };
        let r = run(p.podman(None, &["import", s(&tar), PODMAN_IMAGE]), 60);
        expect_code(&r, 0, "rootless podman import");
        p
    }

    /// `podman GLOBALS [--runtime RT] ARGS...` as the user, with only its environment, not
    /// started.
    fn podman(&self, rt: Option<&Runtime>, args: &[&str]) -> Command {
        use std::os::unix::process::CommandExt;
        let mut c = cmd(find_tool("podman").unwrap(), &[]);
        c.uid(self.uid).gid(self.gid).current_dir(&self.sb.dir);
        c.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("USER", PODMAN_USER)
            .env("LOGNAME", PODMAN_USER)
            .env("HOME", self.sb.path("home"))
            .env("XDG_RUNTIME_DIR", self.sb.path("xdg"))
            .env("XDG_CONFIG_HOME", self.sb.path("config"))
            .env("XDG_DATA_HOME", self.sb.path("home"));
        podman_args(&mut c, &self.sb, rt, args);
        c
    }

    /// `podman --runtime RT ARGS...`, bounded to 60 s.
    fn p(&self, rt: &Runtime, args: &[&str]) -> Run {
        run(self.podman(Some(rt), args), 60)
    }

    /// `podman --runtime RT run OPTS... IMAGE ARGV...` with no network (no slirp4netns or
    /// pasta here) and the file limits this host allows, bounded to 60 s.
    fn run(&self, rt: &Runtime, opts: &[&str], argv: &[&str]) -> Run {
        let mut c = self.podman(Some(rt), &["run", "--network", "none"]);
        c.args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(opts)
        .arg(PODMAN_IMAGE)
        .args(argv);
        run(c, 60)
    }

    /// The pid of podman's pause process (it holds the user namespace podman made for the
    /// user, between commands).
    fn pause_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.sb.path("tmp/pause.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// What the runtime left in its state directory under `$XDG_RUNTIME_DIR` (`runc`,
    /// `crab-can-oci`).
    fn runtime_state(&self, rt: &Runtime) -> Vec<String> {
        let dir = self.sb.path(match rt.name {
            "runc" => "xdg/runc",
            _ => "xdg/crab-can-oci",
        });
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for RootlessPodman {
    fn drop(&mut self) {
        // Nothing here may panic: this also runs while a failed test unwinds.
        for rt in &self.rts {
            let _ = try_run(self.podman(Some(rt), &["rm", "-a", "-f", "-t", "0"]), 60);
        }
        let _ = try_run(self.podman(None, &["rmi", "-a", "-f"]), 60);
        // The pause process, then the sandbox (dropped next) kills what names it.
        if let Some(pid) = self.pause_pid() {
            if live_procs_of(self.uid).contains(&pid) {
                common::kill(pid, libc::SIGKILL);
                poll(5, || !alive(pid));
            }
        }
    }
}

/// Rootless podman (run by an unprivileged user, in a user namespace of its own made with
/// newuidmap and newgidmap) driving each runtime: `id -u` is 0 inside, `exit 3` comes back
/// as 3, a detached `sleep` takes `podman exec`, and after `podman stop` and `rm` nothing of
/// the user runs (podman's pause process aside) and the runtime's state directory under
/// `$XDG_RUNTIME_DIR` is empty.
#[test]
fn podman_rootless() {
    let test = "podman_rootless";
    if !have_tools(
        test,
        &["podman", "conmon", "useradd", "newuidmap", "newgidmap"],
    ) {
        return;
    }
    let rts = runtimes();
    let p = RootlessPodman::start("podman-rootless", &rts);
    let rts = p.rts.clone();
    each_runtime(
        test,
        &rts,
        || p.sb.logs(),
        |rt| {
            let r = p.run(rt, &["--rm"], &["id", "-u"]);
            expect_code(&r, 0, "rootless podman run id -u");
            assert_eq!(r.stdout, "0\n", "{}", show(&r));
            let r = p.run(rt, &["--rm"], &["sh", "-c", "exit 3"]);
            expect_code(&r, 3, "rootless podman run sh -c 'exit 3'");
            let name = format!("rl-{}", rt.name);
            let r = p.run(rt, &["-d", "--name", &name], &["sleep", "600"]);
            expect_code(&r, 0, "rootless podman run -d sleep 600");
            let main: i32 = p
                .p(rt, &["inspect", "-f", "{{.State.Pid}}", &name])
                .stdout
                .trim()
                .parse()
                .expect("a pid");
            assert!(main > 0 && alive(main), "the container's process {main}");
            let r = p.p(rt, &["exec", &name, "sh", "-c", "id -u; exit 4"]);
            expect_code(&r, 4, "rootless podman exec sh -c 'id -u; exit 4'");
            assert_eq!(r.stdout, "0\n", "{}", show(&r));
            assert!(
                !p.runtime_state(rt).is_empty(),
                "{} keeps no state under $XDG_RUNTIME_DIR while {name} runs",
                rt.name
            );
            expect_code(&p.p(rt, &["stop", "-t", "1", &name]), 0, "podman stop");
            expect_code(&p.p(rt, &["rm", &name]), 0, "podman rm");
            let pause = p.pause_pid();
            let mut left = Vec::new();
            assert!(
                poll(10, || {
                    left = live_procs_of(p.uid);
                    left.retain(|&q| Some(q) != pause);
                    left.is_empty()
                }),
                "processes of {PODMAN_USER} left after podman stop and rm: {:?}",
                left.iter()
                    .map(|&q| format!("{q} {}", common::comm(q)))
                    .collect::<Vec<_>>()
            );
            let state = p.runtime_state(rt);
            assert!(
                state.is_empty(),
                "{} state left under $XDG_RUNTIME_DIR: {state:?}",
                rt.name
            );
            let r = p.p(rt, &["ps", "-a", "-q"]);
            expect_code(&r, 0, "podman ps -a");
            assert_eq!(r.stdout, "", "podman ps -a still lists containers");
        },
    );
}
