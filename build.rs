//! Bakes the git commit into the binary (`crab-can --version`, "commit: …") as the
//! environment variable CRAB_CAN_COMMIT: `git rev-parse --short HEAD`, or "unknown" when
//! the source is not a git checkout or git is missing.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (out.status.success() && !s.is_empty()).then(|| s.to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CRAB_CAN_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // A commit or a checkout moves HEAD (its reflog records both).
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
}
