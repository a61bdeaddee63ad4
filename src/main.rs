//! crab-can: a container runtime in one static binary.
//!
//! `main` turns the result of a run into an exit status and at most one line on stderr.
//! The modules are named after the kernel concepts they drive; see README.md.

mod cgroup;
mod cli;
mod container;
mod error;
mod init;
mod net;
mod plan;
mod rootfs;
mod seccomp;
mod security;
mod state;
mod sys;
mod tty;
mod user;

use std::io::Write;

fn main() {
    let code = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Command::Help) => {
            let _ = std::io::stdout().write_all(cli::USAGE.as_bytes());
            0
        }
        Ok(cli::Command::Version) => {
            println!("crab-can {} ({})", env!("CARGO_PKG_VERSION"), container::layout_words());
            0
        }
        Ok(cli::Command::Run(spec)) => match container::run(&spec) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("crab-can: {e}");
                e.code
            }
        },
        Err(e) => {
            eprintln!("crab-can: {e}");
            e.code
        }
    };
    std::process::exit(i32::from(code));
}
