//! The docker-like commands on running containers: `exec`, `ps` and `kill`. A container
//! is found by its name socket (see `state`): the record it sends, with its init's pidfd
//! and cgroup directories, is all these commands use; nothing is looked up by pid. A name
//! no `run` holds may be an OCI container's ID under the default `--root` (`oci`).

use crate::cli::ExecSpec;
use crate::error::{Error, Result};
use crate::state::{self, Running};
use crate::{exec, json, oci, plan, sys};
use rustix::fd::{AsFd, OwnedFd};

fn unknown(name: &str) -> Error {
    Error::msg(format_args!("no container named {name}"))
}

/// `exec`: run a command in the running container NAME; the exit status as for `run`.
pub fn exec(spec: &ExecSpec) -> Result<u8> {
    exec_named(spec)
        .or_else(|| oci::exec_by_name(spec))
        .unwrap_or_else(|| Err(unknown(&spec.name)))
}

/// [`exec`] into a container of a docker-like `run`; None when no `run` holds the name.
pub fn exec_named(spec: &ExecSpec) -> Option<Result<u8>> {
    let (r, fds) = match state::ask(&spec.name) {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    Some(exec_in(spec, r, fds))
}

fn exec_in(spec: &ExecSpec, r: Running, mut fds: Vec<OwnedFd>) -> Result<u8> {
    // A rootless container's root and namespaces come last: its owner joins them (root
    // joins through the pidfd, as for any container).
    let mut ns = match r.rootless && fds.len() > crate::init::NS_FILES.len() {
        true => fds.split_off(fds.len() - crate::init::NS_FILES.len()),
        false => Vec::new(),
    };
    if rustix::process::geteuid().is_root() {
        ns.clear();
    }
    let mut fds = fds.into_iter();
    let pidfd = fds.next().ok_or_else(|| unknown(&spec.name))?;
    let root = match ns.is_empty() {
        true => exec::container_root(r.pid, pidfd.as_fd(), &spec.name),
        false => Some(crate::rootfs::Root {
            image: ns.remove(0),
            display: spec.name.clone(),
        }),
    }
    .ok_or_else(|| Error::msg(format_args!("container {} is not running", spec.name)))?;
    let p = plan::exec_process(&r, spec, &root)?;
    let target = exec::Target {
        name: spec.name.clone(),
        pid: r.pid,
        pidfd,
        cgroups: {
            let mut rest = Vec::new();
            for fd in fds {
                rest.push(fd);
            }
            rest
        },
        pids: {
            let mut pids = None;
            for w in r.limits.split(' ') {
                if let Some(Ok(n)) = w.strip_prefix("pids=").map(str::parse) {
                    pids = Some(n);
                    break;
                }
            }
            pids
        },
        ns,
    };
    let started = exec::start(&target, &p, 0, spec.detach)?;
    let fail = |f| exec::failure(&target, &p, f);
    if spec.detach {
        return exec::detach(started).map(|_| 0).map_err(fail);
    }
    exec::wait(started).map_err(fail)
}

/// `kill`: a signal to NAME's command, through its init (which passes it on, as a signal
/// to `crab-can run` is passed on).
pub fn kill(name: &str, sig: i32) -> Result<u8> {
    let Some((_, fds)) = state::ask(name)? else {
        return oci::kill_by_name(name, sig).unwrap_or_else(|| Err(unknown(name)));
    };
    let pidfd = fds.first().ok_or_else(|| unknown(name))?;
    sys::pidfd_signal(pidfd.as_fd(), sig)
        .map_err(|e| Error::sys_msg(format_args!("cannot signal container {name}"), e))?;
    Ok(0)
}

fn uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

/// `ps`: every running container, as a table or a JSON array.
pub fn ps(as_json: bool) -> Result<u8> {
    let now = sys::clock_time(libc::CLOCK_BOOTTIME).0 as u64;
    let mut out = String::new();
    let mut first = true;
    if as_json {
        out.push('[');
    } else {
        out.push_str("NAME\tPID\tUPTIME\tIMAGE\tCOMMAND\tLIMITS\n");
    }
    for name in state::names()? {
        // A container that ended meanwhile, or a name held by another user, is not listed.
        let Ok(Some((r, _))) = state::ask(&name) else {
            continue;
        };
        let up = now.saturating_sub(r.started);
        if as_json {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str("{\"name\":");
            json::quote(&mut out, &name);
            out.push_str(&format!(",\"pid\":{},\"uptime\":{up},\"image\":", r.pid));
            json::quote(&mut out, &r.image);
            out.push_str(",\"command\":");
            json::quote(&mut out, &r.command);
            out.push_str(",\"limits\":");
            json::quote(&mut out, &r.limits);
            out.push('}');
        } else {
            out.push_str(&format!(
                "{name}\t{}\t{}\t{}\t{}\t{}\n",
                r.pid,
                uptime(up),
                r.image,
                r.command,
                r.limits
            ));
        }
    }
    if as_json {
        out.push_str("]\n");
    }
    crate::tty::write_all(rustix::stdio::stdout(), out.as_bytes())
        .map_err(|e| Error::sys("cannot write the list", e))?;
    Ok(0)
}
