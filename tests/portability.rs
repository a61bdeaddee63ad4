//! "Where it runs" (../shared/design/CONTRACT.md): inside another engine's container that
//! lets crab-can create namespaces and mounts, with `clone3` filtered by that engine's
//! seccomp profile. The engine is podman from Debian's packages, driving runc (Debian's
//! crun refuses this machine's hybrid cgroups), started with private storage under a
//! temporary directory, no network, and the machine's file limits; its container is
//! `--privileged` (crab-can mounts a fresh /proc, which the kernel refuses where /proc has
//! masked paths) but keeps a seccomp profile: podman's own default, with `clone3`
//! answering ENOSYS as Docker's profile and newer containers-common profiles do.
//! Everything the test makes (podman's storage and cgroups) is removed at the end.
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A private podman: its own storage, run and cgroup parent, all removed on drop.
struct Podman {
    dir: PathBuf,
    cgroup_parent: String,
}

impl Podman {
    fn new() -> Podman {
        require_root();
        for tool in ["podman", "runc", "python3"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .stdout(Stdio::null())
                    .status()
                    .unwrap()
                    .success(),
                "{tool} is missing (tests/deps.sh installs it)"
            );
        }
        let dir = std::env::temp_dir().join(format!("crab-can-podman-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Podman {
            dir,
            cgroup_parent: format!("crab-can-podman-test-{}", std::process::id()),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
                "runc",
            ])
            .stdin(Stdio::null());
        c
    }

    /// Import a busybox image as `localhost/crab-can-bb`.
    fn import(&self, img: &Path) {
        let tar = self.dir.join("img.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(img)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let out = self
            .cmd()
            .arg("import")
            .arg(&tar)
            .arg("localhost/crab-can-bb")
            .output()
            .unwrap();
        assert!(out.status.success(), "podman import: {out:?}");
    }

    /// podman's default seccomp profile with `clone3` answering ENOSYS.
    fn profile_without_clone3(&self) -> PathBuf {
        let out = self.dir.join("seccomp.json");
        let script = r#"
import json, sys
p = json.load(open('/usr/share/containers/seccomp.json'))
for r in p['syscalls']:
    if r.get('action') == 'SCMP_ACT_ALLOW' and 'clone3' in r.get('names', []):
        r['names'].remove('clone3')
p['syscalls'].insert(0, {'names': ['clone3'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38})
json.dump(p, open(sys.argv[1], 'w'))
"#;
        let st = Command::new("python3")
            .args(["-c", script])
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success(), "cannot write the seccomp profile");
        out
    }

    /// `sh -c SCRIPT` in a privileged container with the given seccomp profile; crab-can
    /// at /crab-can, the probe helper at /probe, the busybox image at /img.
    fn sh(&self, profile: &Path, img: &Path, script: &str) -> Run {
        let out = self
            .cmd()
            .args(["run", "--rm", "--privileged", "--network", "none"])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .arg(format!("--cgroup-parent=/{}", self.cgroup_parent))
            .arg("--security-opt")
            .arg(format!("seccomp={}", profile.display()))
            .arg("-v")
            .arg(format!("{}:/crab-can:ro", bin().display()))
            .arg("-v")
            .arg(format!("{}:/probe:ro", probe().display()))
            .arg("-v")
            .arg(format!("{}:/img", img.display()))
            .args(["localhost/crab-can-bb", "sh", "-c", script])
            .output()
            .unwrap();
        Run::new(out.status, &out.stdout, &out.stderr)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-a", "-f"]).output();
        let _ = self.cmd().args(["rmi", "-a", "-f"]).output();
        // The cgroups podman made for its container, deepest first; then its storage.
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Ok(hs) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hs.flatten() {
                let top = h.path().join(&self.cgroup_parent);
                collect_dirs(&top, &mut dirs);
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Inside podman, with clone3 answering ENOSYS: crab-can falls back to clone and runs a
/// container with all its namespaces, its limits are applied (an OOM kill is 137 with the
/// contract's words), a plain run needs no cgroup, and nothing is left in podman's cgroups.
#[test]
fn inside_podman_with_clone3_filtered() {
    let podman = Podman::new();
    let img = fresh_image("podman");
    podman.import(&img);
    let profile = podman.profile_without_clone3();
    let script = r#"
        /probe clone3 | head -n 1
        /crab-can run --hostname inner /img sh -c 'echo "pid $$ host $(hostname)"'
        echo "plain=$?"
        /crab-can run --memory 32M /img awk 'BEGIN{s="x"; while (length(s) < 100000000) s = s s; print length(s)}'
        echo "oom=$?"
        /crab-can run --pids 10 /img sh -c 'echo limited'
        echo "pids=$?"
        find /sys/fs/cgroup -name 'crab-can*' -mindepth 2 -type d | grep -v '^/sys/fs/cgroup/[^/]*/crab-can$' || echo "no cgroup left"
    "#;
    let r = podman.sh(&profile, &img, script);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("clone3: ENOSYS (Function not implemented)"),
        "the engine's profile does not filter clone3: {}",
        show(&r)
    );
    for want in [
        "pid 2 host inner",
        "plain=0",
        "oom=137",
        "limited",
        "pids=0",
        "no cgroup left",
    ] {
        assert!(lines.contains(&want), "missing {want:?}: {}", show(&r));
    }
    assert!(
        r.stderr.contains("crab-can: container") && r.stderr.contains("OOM killer"),
        "{}",
        show(&r)
    );
}
