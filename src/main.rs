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
    // First of all: the signals crab-can handles wait in a queue from here on (a run reads
    // them through a signalfd and passes them on to the command once it runs), so even a
    // signal in crab-can's first microseconds never kills it halfway through.
    if let Err(e) = sys::sigprocmask(libc::SIG_BLOCK, &init::handled_signals()) {
        std::process::exit(i32::from(error_line(error::Error::sys(
            "cannot block signals",
            e,
        ))));
    }
    let code = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Command::Help) => {
            let _ = std::io::stdout().write_all(cli::USAGE.as_bytes());
            0
        }
        Ok(cli::Command::Version) => {
            let v = format!(
                "crab-can {} ({})\n",
                env!("CARGO_PKG_VERSION"),
                cgroup::detect().words()
            );
            let _ = std::io::stdout().write_all(v.as_bytes());
            0
        }
        Ok(cli::Command::Run(spec)) => match container::run(&spec) {
            Ok(code) => code,
            Err(e) => error_line(e),
        },
        Err(e) => error_line(e),
    };
    std::process::exit(i32::from(code));
}

/// The one line a failure gets. A closed or broken stderr is no reason to panic.
fn error_line(e: error::Error) -> u8 {
    let _ = std::io::stderr().write_all(error::one_line("", &e.msg).as_bytes());
    e.code
}

/// A `crab-can: warning: ...` line.
pub fn warn(msg: &str) {
    let _ = std::io::stderr().write_all(error::one_line("warning: ", msg).as_bytes());
}
