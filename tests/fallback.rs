//! "Where it runs": inside another container that lets crab-can create namespaces but
//! filters `clone3` (Docker's seccomp profile answers ENOSYS), crab-can falls back to
//! `clone` and still puts the child in its cgroup before it runs. The probe helper's
//! `no-clone3` installs exactly that filter and execs crab-can under it.

mod common;
use common::*;

/// `crab-can ARGS...` under the probe's filter that answers ENOSYS to `clone3`.
fn under_no_clone3(args: &[&str]) -> Run {
    let bin = bin().to_str().unwrap().to_string();
    let mut a: Vec<&str> = vec!["no-clone3", &bin];
    a.extend_from_slice(args);
    run_command(command_for(probe(), &a))
}

#[test]
fn clone3_filtered_falls_back_to_clone() {
    require_root();
    let img = img();
    // The filter is really there: clone3 gives ENOSYS to the helper itself.
    let p = probe().to_str().unwrap().to_string();
    let r = std::process::Command::new(&p)
        .args(["no-clone3", &p, "clone3"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&r.stdout).contains("ENOSYS"),
        "{r:?}"
    );
    // And crab-can still runs a container with all its namespaces.
    let r = under_no_clone3(&[
        "run",
        "--hostname",
        "fb",
        img,
        "/bin/sh",
        "-c",
        "echo $$ $(hostname)",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "2 fb");
}

#[test]
fn clone3_filtered_still_applies_limits() {
    require_root();
    let img = img();
    let n = name("fallback");
    // Joined to the memory cgroup before running: an allocation past the limit is OOM-killed.
    let r = under_no_clone3(&[
        "run",
        "--name",
        &n,
        "-m",
        "32M",
        img,
        "/bin/sh",
        "-c",
        "head -c 64m /dev/zero | tail > /dev/null",
    ]);
    assert_eq!(r.code, 137, "{}", r.stderr);
    assert!(
        r.stderr.contains("OOM killer") && r.stderr.contains("32 MiB"),
        "{}",
        r.stderr
    );
    // The pids limit holds from the start too.
    let r = under_no_clone3(&[
        "run",
        "--pids",
        "5",
        img,
        "/bin/sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait",
    ]);
    assert!(
        r.stderr.contains("fork") || r.stderr.contains("Resource temporarily unavailable"),
        "{}",
        r.stderr
    );
}
