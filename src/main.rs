//! crab-can: a container runtime in one static binary.
//!
//! `main` blocks the signals crab-can handles, reads the command line, and turns the
//! result of a run into an exit status and at most one line on stderr. The modules are
//! named after the kernel concepts they drive; see README.md.
#![deny(unsafe_code)]
// A panic is never how crab-can fails: outside the tests, no unwrap or expect.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// The C entry point is sys::main: std's runtime start and cleanup are not linked.
#![cfg_attr(not(test), no_main)]

// The OCI parts (Placement::oci, signal_all, ...) are used once the OCI commands land.
mod cgroup;
mod cli;
mod container;
mod devices;
mod error;
mod exec;
mod init;
mod json;
mod net;
mod oci;
mod plan;
mod rootfs;
mod running;
mod seccomp;
mod security;
mod signal;
mod state;
#[allow(unsafe_code)]
mod sys;
mod tty;
mod user;
mod userns;

#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: sys::Arena = sys::Arena::new();

/// The program, from the arguments after its own name (sys::main collects them).
#[cfg_attr(test, allow(dead_code))]
fn main(args: Vec<std::ffi::OsString>) -> ! {
    // First of all: the signals crab-can handles wait in a queue from here on (a run reads
    // them through a signalfd and passes them on to the command once it runs), so even a
    // signal in crab-can's first microseconds never kills it halfway through.
    if let Err(e) = signal::block() {
        let code = error::print(&error::Error::sys("cannot block signals", e));
        sys::exit(i32::from(code));
    }
    // runc's command line (an engine driving crab-can) or the docker-like one.
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("");
    if oci::is_oci(first) || (first == "run" && oci::is_oci_run(&args)) || oci::is_oci_form(&args) {
        sys::exit(i32::from(oci::main(args)));
    }
    let code = match cli::parse(args) {
        Ok(cli::Command::Help) => {
            let _ = sys::write_all(rustix::stdio::stdout(), cli::USAGE.as_bytes());
            0
        }
        Ok(cli::Command::Version) => {
            let _ = sys::write_all(rustix::stdio::stdout(), oci::version().as_bytes());
            0
        }
        Ok(cli::Command::Run(spec)) => {
            match plan::from_cli(&spec).and_then(|plan| container::run(&plan)) {
                Ok(code) => code,
                Err(e) => error::print(&e),
            }
        }
        Ok(cli::Command::Exec(spec)) => running::exec(&spec).unwrap_or_else(|e| error::print(&e)),
        Ok(cli::Command::Ps(json)) => running::ps(json).unwrap_or_else(|e| error::print(&e)),
        Ok(cli::Command::Kill(name, sig)) => {
            running::kill(&name, sig).unwrap_or_else(|e| error::print(&e))
        }
        Err(e) => error::print(&e),
    };
    sys::exit(i32::from(code));
}
