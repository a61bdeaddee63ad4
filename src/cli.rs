//! The command line: argv → [`Spec`] (what the user asked for), with every value checked
//! here, before anything is created. Help and version text live here too.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

pub const USAGE: &str = "\
Usage: crab-can run [OPTIONS] IMAGE [COMMAND [ARG...]]
       crab-can exec [-e K=V] [-w DIR] [-u USER[:GROUP]] [--no-tty] [-d] NAME COMMAND [ARG...]
       crab-can ps [--format table|json]
       crab-can kill [-s SIGNAL] NAME
       crab-can --help | --version

Run COMMAND (default /bin/sh) isolated inside IMAGE, a root filesystem directory.

Options (before IMAGE; everything after IMAGE is the command, untouched):
      --name NAME            container name [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (default: random id)
      --hostname NAME        hostname inside (default: the container name)
  -e, --env KEY[=VALUE]      set a variable; KEY alone copies it from the caller (repeatable)
  -w, --workdir DIR          working directory inside (default /)
  -u, --user USER[:GROUP]    run as this user (number or name in IMAGE's /etc/passwd)
  -v, --volume SRC:DST[:ro]  bind-mount host path SRC at DST inside (repeatable)
      --read-only            mount the container's root read-only
      --net none|host        private network with lo up (default), or the caller's
  -m, --memory SIZE          memory limit, e.g. 64m, 1g, 512KiB (binary units; no swap)
      --cpus N               CPU limit as a number of CPUs, e.g. 0.5
      --pids N               most tasks alive at once inside
      --cgroup-parent PATH   cgroup path for the container, under the root (default crab-can)
      --cap-add CAP          add a capability (NET_ADMIN, CAP_NET_ADMIN, ALL) (repeatable)
      --cap-drop CAP         drop a capability (repeatable); drops apply before adds
      --seccomp PROFILE      default | unconfined (default: default)
      --no-tty               never give the command a pseudo-terminal
  -h, --help                 print this help
  -V, --version              print the version

Exit status: the command's own; 128+N if killed by signal N; 125 crab-can failed;
126 the command cannot be executed; 127 the command was not found.
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seccomp {
    Default,
    Unconfined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub src: String,
    pub dst: String,
    pub read_only: bool,
}

/// What the user asked for, checked but not yet resolved against IMAGE or the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub image: OsString,
    pub command: Vec<OsString>,
    pub name: Option<String>,
    pub hostname: Option<String>,
    /// `-e` entries in order: `(KEY, Some(VALUE))`, or `(KEY, None)` to copy from the caller.
    pub env: Vec<(OsString, Option<OsString>)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub volumes: Vec<Volume>,
    pub read_only: bool,
    pub net: Net,
    pub memory: Option<u64>,
    /// CPU quota in microseconds per 100 ms period.
    pub cpu_quota: Option<u64>,
    pub pids: Option<u64>,
    /// `--cgroup-parent`, when given (the default parent is [`DEFAULT_CGROUP_PARENT`]).
    pub cgroup_parent: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub seccomp: Seccomp,
    pub no_tty: bool,
}

/// `exec`: what to run in which running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    pub name: String,
    pub command: Vec<OsString>,
    pub env: Vec<(OsString, Option<OsString>)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub no_tty: bool,
    pub detach: bool,
}

pub enum Command {
    Help,
    Version,
    Run(Box<Spec>),
    Exec(Box<ExecSpec>),
    /// `ps`: as JSON (else a table).
    Ps(bool),
    /// `kill`: the name and the signal.
    Kill(String, i32),
}

use crate::cgroup::{CPU_PERIOD_US, MAX_PIDS};

/// The options of `run` and `exec`, found through [`RUN_OPTS`] and [`EXEC_OPTS`].
#[derive(Clone, Copy)]
enum Opt {
    Help,
    Version,
    Name,
    Hostname,
    Env,
    Workdir,
    User,
    Volume,
    ReadOnly,
    Net,
    Memory,
    Cpus,
    Pids,
    CgroupParent,
    CapAdd,
    CapDrop,
    Seccomp,
    NoTty,
    Detach,
    Interactive,
}

/// Each option as its letter (`'\0'`: none) and its long name.
type Opts = [(char, &'static str, Opt)];

const RUN_OPTS: &Opts = &[
    ('h', "--help", Opt::Help),
    ('V', "--version", Opt::Version),
    ('\0', "--name", Opt::Name),
    ('\0', "--hostname", Opt::Hostname),
    ('e', "--env", Opt::Env),
    ('w', "--workdir", Opt::Workdir),
    ('u', "--user", Opt::User),
    ('v', "--volume", Opt::Volume),
    ('\0', "--read-only", Opt::ReadOnly),
    ('\0', "--net", Opt::Net),
    ('m', "--memory", Opt::Memory),
    ('\0', "--cpus", Opt::Cpus),
    ('\0', "--pids", Opt::Pids),
    ('\0', "--cgroup-parent", Opt::CgroupParent),
    ('\0', "--cap-add", Opt::CapAdd),
    ('\0', "--cap-drop", Opt::CapDrop),
    ('\0', "--seccomp", Opt::Seccomp),
    ('\0', "--no-tty", Opt::NoTty),
];

const EXEC_OPTS: &Opts = &[
    ('e', "--env", Opt::Env),
    ('w', "--workdir", Opt::Workdir),
    ('u', "--user", Opt::User),
    ('\0', "--no-tty", Opt::NoTty),
    ('d', "--detach", Opt::Detach),
    ('i', "--interactive", Opt::Interactive),
    ('t', "--interactive", Opt::Interactive),
];

/// The option `arg` names in `opts`, and its long name (for messages).
#[inline(never)]
fn find(arg: &lexopt::Arg, opts: &Opts) -> Option<(Opt, &'static str)> {
    let &(_, name, opt) = opts.iter().find(|(c, l, _)| match arg {
        lexopt::Arg::Short(s) => s == c,
        lexopt::Arg::Long(s) => l[2..] == **s,
        lexopt::Arg::Value(_) => false,
    })?;
    Some((opt, name))
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let first = match p.next().map_err(lexerr)? {
        None => return Err(Error::new("no command given; try 'crab-can --help'")),
        Some(a) => a,
    };
    match first {
        Short('h') | Long("help") => return Ok(Command::Help),
        Short('V') | Long("version") => return Ok(Command::Version),
        Value(v) if v == "run" => {}
        Value(v) if v == "exec" => return parse_exec(&mut p),
        Value(v) if v == "ps" => return parse_ps(&mut p),
        Value(v) if v == "kill" => return parse_kill(&mut p),
        Value(v) => {
            return Err(Error::msg(format_args!(
                "unknown command '{}' (run, exec, ps, kill; try 'crab-can --help')",
                v.to_string_lossy()
            )));
        }
        other => return Err(lexerr(other.unexpected())),
    }

    let mut s = Spec {
        image: OsString::new(),
        command: Vec::new(),
        name: None,
        hostname: None,
        env: Vec::new(),
        workdir: None,
        user: None,
        volumes: Vec::new(),
        read_only: false,
        net: Net::None,
        memory: None,
        cpu_quota: None,
        pids: None,
        cgroup_parent: None,
        cap_add: Vec::new(),
        cap_drop: Vec::new(),
        seccomp: Seccomp::Default,
        no_tty: false,
    };
    let mut image = None;
    while let Some(arg) = p.next().map_err(lexerr)? {
        let (opt, name) = match arg {
            Value(v) => {
                image = Some(v);
                // Options stop at IMAGE: the rest is the command, passed through untouched.
                for a in p.raw_args().map_err(lexerr)? {
                    s.command.push(a);
                }
                break;
            }
            a => match find(&a, RUN_OPTS) {
                Some(o) => o,
                None => return Err(lexerr(a.unexpected())),
            },
        };
        match opt {
            Opt::Help => return Ok(Command::Help),
            Opt::Version => return Ok(Command::Version),
            Opt::ReadOnly => s.read_only = true,
            Opt::NoTty => s.no_tty = true,
            Opt::Env => s.env.push(parse_env(p.value().map_err(lexerr)?)?),
            _ => {
                let v = text(&mut p, name)?;
                match opt {
                    Opt::Name => {
                        check_name(&v)?;
                        s.name = Some(v)
                    }
                    Opt::Hostname => {
                        check_label(&v, name)?;
                        s.hostname = Some(v)
                    }
                    Opt::Workdir => {
                        check_workdir(&v)?;
                        s.workdir = Some(v)
                    }
                    Opt::User => {
                        check_user(&v)?;
                        s.user = Some(v)
                    }
                    Opt::Volume => s.volumes.push(parse_volume(&v)?),
                    Opt::Net => {
                        s.net = match v.as_str() {
                            "none" => Net::None,
                            "host" => Net::Host,
                            v => return Err(invalid(name, v, "expected 'none' or 'host'")),
                        }
                    }
                    Opt::Memory => s.memory = Some(parse_size(&v)?),
                    Opt::Cpus => s.cpu_quota = Some(parse_cpus(&v, crate::cgroup::online_cpus())?),
                    Opt::Pids => s.pids = Some(parse_pids(&v)?),
                    Opt::CgroupParent => s.cgroup_parent = Some(check_cgroup_parent(&v)?),
                    Opt::CapAdd => s.cap_add.push(v),
                    Opt::CapDrop => s.cap_drop.push(v),
                    Opt::Seccomp => {
                        s.seccomp = match v.as_str() {
                            "default" => Seccomp::Default,
                            "unconfined" => Seccomp::Unconfined,
                            v => {
                                return Err(invalid(name, v, "expected 'default' or 'unconfined'"));
                            }
                        }
                    }
                    // The options without a value, handled above.
                    _ => {}
                }
            }
        }
    }
    s.image = match image {
        Some(i) if !i.is_empty() => i,
        Some(_) => return Err(Error::new("IMAGE is an empty string")),
        None => {
            return Err(Error::new(
                "missing IMAGE: usage: crab-can run [OPTIONS] IMAGE [COMMAND [ARG...]]",
            ));
        }
    };
    if s.command.is_empty() {
        s.command.push("/bin/sh".into());
    }
    if s.command[0].is_empty() {
        return Err(Error::new("the command is an empty string"));
    }
    Ok(Command::Run(Box::new(s)))
}

/// `exec [-e K=V] [-w DIR] [-u USER[:GROUP]] [--no-tty] [-d] NAME COMMAND [ARG...]`
/// (`-i` and `-t` are accepted as `docker exec` users type them: the terminal follows
/// the caller's, as for `run`).
fn parse_exec(p: &mut lexopt::Parser) -> Result<Command> {
    use lexopt::prelude::*;
    let mut s = ExecSpec {
        name: String::new(),
        command: Vec::new(),
        env: Vec::new(),
        workdir: None,
        user: None,
        no_tty: false,
        detach: false,
    };
    while let Some(arg) = p.next().map_err(lexerr)? {
        let (opt, name) = match arg {
            Value(v) => {
                s.name = v.to_string_lossy().into_owned();
                check_ref(&s.name)?;
                for a in p.raw_args().map_err(lexerr)? {
                    s.command.push(a);
                }
                break;
            }
            a => match find(&a, EXEC_OPTS) {
                Some(o) => o,
                None => return Err(lexerr(a.unexpected())),
            },
        };
        match opt {
            Opt::Env => s.env.push(parse_env(p.value().map_err(lexerr)?)?),
            Opt::Workdir => {
                let v = text(p, name)?;
                check_workdir(&v)?;
                s.workdir = Some(v)
            }
            Opt::User => {
                let v = text(p, name)?;
                check_user(&v)?;
                s.user = Some(v)
            }
            Opt::NoTty => s.no_tty = true,
            Opt::Detach => s.detach = true,
            // `-i`, `-t`, and whatever is not in EXEC_OPTS.
            _ => {}
        }
    }
    if s.name.is_empty() || s.command.is_empty() || s.command[0].is_empty() {
        return Err(Error::new(
            "usage: crab-can exec [OPTIONS] NAME COMMAND [ARG...]",
        ));
    }
    Ok(Command::Exec(Box::new(s)))
}

/// `ps [--format table|json]`.
fn parse_ps(p: &mut lexopt::Parser) -> Result<Command> {
    use lexopt::prelude::*;
    let mut json = false;
    while let Some(arg) = p.next().map_err(lexerr)? {
        match arg {
            Long("format") | Short('f') => {
                json = match text(p, "--format")?.as_str() {
                    "json" => true,
                    "table" => false,
                    v => return Err(invalid("--format", v, "expected 'table' or 'json'")),
                }
            }
            other => return Err(lexerr(other.unexpected())),
        }
    }
    Ok(Command::Ps(json))
}

/// `kill [-s SIGNAL] NAME` (default TERM; a name or a number).
fn parse_kill(p: &mut lexopt::Parser) -> Result<Command> {
    use lexopt::prelude::*;
    let (mut sig, mut name) = (libc::SIGTERM, None);
    while let Some(arg) = p.next().map_err(lexerr)? {
        match arg {
            Short('s') | Long("signal") => sig = crate::signal::parse(&text(p, "--signal")?)?,
            Value(v) if name.is_none() => {
                let n = v.to_string_lossy().into_owned();
                check_ref(&n)?;
                name = Some(n)
            }
            other => return Err(lexerr(other.unexpected())),
        }
    }
    let name = name.ok_or_else(|| Error::new("usage: crab-can kill [-s SIGNAL] NAME"))?;
    Ok(Command::Kill(name, sig))
}

/// A command-line error in words, for both command lines. Every kind is spelled here
/// (lexopt's own words quote values with Rust's debug escapes, and bring them along).
pub fn lexerr(e: lexopt::Error) -> Error {
    use lexopt::Error as E;
    Error::new(match e {
        E::MissingValue { option: Some(o) } => format!("option '{o}' needs a value"),
        E::MissingValue { option: None } => "a value is missing".to_string(),
        E::UnexpectedOption(o) => format!("unknown option '{o}' (try 'crab-can --help')"),
        E::UnexpectedArgument(a) => format!("unexpected argument '{}'", a.to_string_lossy()),
        E::UnexpectedValue { option, value } => format!(
            "option '{option}' takes no value (given '{}')",
            value.to_string_lossy()
        ),
        E::NonUnicodeValue(v) => format!("'{}' is not valid UTF-8", v.to_string_lossy()),
        // crab-can parses values itself: lexopt never makes these for it.
        E::ParsingFailed { value, .. } => format!("invalid value '{value}'"),
        E::Custom(_) => "invalid command line".to_string(),
    })
}

/// `invalid OPT 'VALUE': WHY`: the words for every option value this module refuses.
#[inline(never)]
fn invalid(opt: &str, v: &str, why: &str) -> Error {
    Error::msg(format_args!("invalid {opt} '{v}': {why}"))
}

/// An option's value as UTF-8 text (names, paths of options, numbers).
#[inline(never)]
fn text(p: &mut lexopt::Parser, opt: &str) -> Result<String> {
    let v = p.value().map_err(lexerr)?;
    v.into_string()
        .map_err(|v| invalid(opt, &v.to_string_lossy(), "not valid UTF-8"))
}

fn check_name(n: &str) -> Result<()> {
    check_label(n, "--name")
}

/// The container `exec` and `kill` name: also `uUID/NAME`, a rootless user's (root only).
fn check_ref(n: &str) -> Result<()> {
    match crate::state::is_ref(n) {
        true => Ok(()),
        false => check_name(n),
    }
}

/// A container name, or a hostname: it takes the same characters.
fn check_label(v: &str, opt: &str) -> Result<()> {
    if crate::state::is_name(v) {
        return Ok(());
    }
    Err(invalid(
        opt,
        v,
        "use 1 to 64 of A-Z a-z 0-9 _ . - starting with a letter or digit",
    ))
}

fn check_workdir(w: &str) -> Result<()> {
    if !w.starts_with('/') || w.contains('\0') {
        return Err(invalid("--workdir", w, "it must be an absolute path"));
    }
    Ok(())
}

fn check_user(u: &str) -> Result<()> {
    let (user, group) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    if user.is_empty() || group == Some("") || u.contains('\0') {
        return Err(invalid("--user", u, "expected USER or USER:GROUP"));
    }
    Ok(())
}

fn parse_env(v: OsString) -> Result<(OsString, Option<OsString>)> {
    let b = v.into_vec();
    let (key, val) = match b.iter().position(|&c| c == b'=') {
        Some(i) => (
            b[..i].to_vec(),
            Some(OsString::from_vec(b[i + 1..].to_vec())),
        ),
        None => (b, None),
    };
    if key.is_empty()
        || key.contains(&0)
        || val
            .as_ref()
            .is_some_and(|v| v.as_encoded_bytes().contains(&0))
    {
        return Err(invalid(
            "--env",
            &String::from_utf8_lossy(&key),
            "expected KEY=VALUE or KEY",
        ));
    }
    Ok((OsString::from_vec(key), val))
}

fn parse_volume(v: &str) -> Result<Volume> {
    let bad = |why: &str| invalid("--volume", v, why);
    let mut parts = v.split(':');
    let (src, dst, read_only) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(d), None, _) => (s, d, false),
        (Some(s), Some(d), Some("ro"), None) => (s, d, true),
        (Some(s), Some(d), Some("rw"), None) => (s, d, false),
        (Some(_), Some(_), Some(o), None) => {
            return Err(bad(&format!("unknown mode '{o}' (use 'ro' or 'rw')")));
        }
        _ => return Err(bad("expected SRC:DST or SRC:DST:ro")),
    };
    if !src.starts_with('/') {
        return Err(bad("SRC must be an absolute host path"));
    }
    if !dst.starts_with('/') {
        return Err(bad("DST must be an absolute path inside the container"));
    }
    if dst.trim_end_matches('/').is_empty() {
        return Err(bad("cannot mount over the container's root"));
    }
    if v.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    Ok(Volume {
        src: src.to_string(),
        dst: dst.to_string(),
        read_only,
    })
}

/// SIZE: a whole positive number with an optional binary unit `b`, `k`, `m`, `g`, the
/// last three optionally followed by `b` or `ib`, in any case (`64m` = `64MB` = `64MiB`).
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = |why: &str| invalid("--memory", s, why);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad(
            "expected a whole positive number with an optional unit b, k, m or g",
        ));
    }
    let n: u64 = s[..digits].parse().map_err(|_| bad("number too large"))?;
    // The unit, in any case: none, `b`, or `k`, `m`, `g` followed by nothing, `b` or `ib`.
    let unit = &s.as_bytes()[digits..];
    let suffix_ok = || {
        [&b""[..], b"b", b"ib"]
            .iter()
            .any(|t| unit[1..].eq_ignore_ascii_case(t))
    };
    let shift = match unit.first().map(u8::to_ascii_lowercase) {
        None => 0,
        Some(b'b') if unit.len() == 1 => 0,
        Some(b'k') if suffix_ok() => 10,
        Some(b'm') if suffix_ok() => 20,
        Some(b'g') if suffix_ok() => 30,
        _ => {
            return Err(bad(
                "unknown unit (use b, k, m or g, optionally followed by b or ib)",
            ));
        }
    };
    if n == 0 {
        return Err(bad("must be greater than 0"));
    }
    let v = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| bad("number too large"))?;
    if v < crate::cgroup::MIN_MEMORY {
        return Err(bad(&format!(
            "the smallest limit is {} (the container's init and a shell need that much)",
            crate::cgroup::mib(crate::cgroup::MIN_MEMORY)
        )));
    }
    Ok(v)
}

/// `--cpus N`: a decimal number of CPUs → the quota in µs per 100 ms period.
pub fn parse_cpus(s: &str, online: u64) -> Result<u64> {
    let bad = |why: &str| invalid("--cpus", s, why);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits_only = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty())
        || !digits_only(int)
        || !digits_only(frac)
        || s.ends_with('.')
    {
        return Err(bad("expected a decimal number of CPUs such as 0.5 or 2"));
    }
    if frac.len() > 5 {
        return Err(bad(
            "at most 5 decimal places (the quota is counted in microseconds per 100 ms)",
        ));
    }
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad("number too large"))?
    };
    let mut frac_us: u64 = 0;
    for (i, c) in frac.bytes().enumerate() {
        frac_us += u64::from(c - b'0') * 10u64.pow(4 - i as u32);
    }
    let quota = int
        .checked_mul(CPU_PERIOD_US)
        .and_then(|q| q.checked_add(frac_us))
        .ok_or_else(|| bad("number too large"))?;
    if quota == 0 {
        return Err(bad("must be greater than 0"));
    }
    if quota < 1000 {
        return Err(bad(
            "must be at least 0.01 (the kernel's smallest quota is 1 ms per period)",
        ));
    }
    if quota > online * CPU_PERIOD_US {
        return Err(bad(&format!("this machine has only {online} online CPUs")));
    }
    Ok(quota)
}

/// `--pids N`: crab-can's init is one of the N tasks, so 1 could never start the command;
/// the kernel takes at most [`MAX_PIDS`].
fn parse_pids(s: &str) -> Result<u64> {
    let why = match s.parse::<u64>() {
        Ok(1) => "at least 2 (crab-can's init inside the container counts as one task)",
        Ok(n) if n > MAX_PIDS => &format!("at most {MAX_PIDS} (the kernel's limit)"),
        Ok(n) if n >= 2 && s.bytes().all(|c| c.is_ascii_digit()) => return Ok(n),
        _ => "expected a whole number of at least 2",
    };
    Err(invalid("--pids", s, why))
}

pub fn check_cgroup_parent(p: &str) -> Result<String> {
    let bad = |why: &str| invalid("--cgroup-parent", p, why);
    if p.starts_with('/') {
        return Err(bad("must be relative to the cgroup root, not absolute"));
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad("must not be empty"));
    }
    for c in trimmed.split('/') {
        if c.is_empty() || c == "." || c == ".." {
            return Err(bad("no empty, '.' or '..' components"));
        }
        if c.contains('\0') || c.contains('\n') {
            return Err(bad("contains a NUL or newline"));
        }
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Spec> {
        let mut v: Vec<OsString> = vec!["run".into()];
        v.extend(args.iter().map(OsString::from));
        match parse(v)? {
            Command::Run(s) => Ok(*s),
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn sizes() {
        for (s, v) in [
            ("4194304", 4 << 20),
            ("4194304b", 4 << 20),
            ("4096k", 4 << 20),
            ("4096KB", 4 << 20),
            ("4096KiB", 4 << 20),
            ("64m", 64 << 20),
            ("64M", 64 << 20),
            ("64MiB", 64 << 20),
            ("2g", 2 << 30),
            ("2Gb", 2 << 30),
        ] {
            assert_eq!(parse_size(s).unwrap(), v, "{s}");
        }
        for s in [
            "0",
            "0m",
            "-1",
            "1.5m",
            "1t",
            "m",
            "",
            "1 m",
            "1mbb",
            "99999999999999999999",
            "17179869184g",
            "1k",
            "3m",
        ] {
            let e = parse_size(s).unwrap_err();
            assert!(e.msg.contains(&format!("'{s}'")), "{s}: {}", e.msg);
            assert_eq!(e.code, 125);
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5", 2).unwrap(), 50_000);
        assert_eq!(parse_cpus("2", 2).unwrap(), 200_000);
        assert_eq!(parse_cpus(".25", 2).unwrap(), 25_000);
        assert_eq!(parse_cpus("1.00001", 2).unwrap(), 100_001);
        assert_eq!(parse_cpus("0.01", 2).unwrap(), 1_000);
        for s in [
            "0", "0.0", "3", "-1", "1.", "abc", "0.001", "1.000001", "", "1e3",
        ] {
            assert!(parse_cpus(s, 2).is_err(), "{s}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("a").is_ok());
        assert!(check_name("web_1.prod-2").is_ok());
        assert!(check_name(&"a".repeat(64)).is_ok());
        for n in ["", "-a", "_a", ".a", "a/b", "a b", &"a".repeat(65), "é"] {
            assert!(check_name(n).is_err(), "{n}");
        }
    }

    #[test]
    fn cgroup_parent() {
        assert_eq!(check_cgroup_parent("a/b/").unwrap(), "a/b");
        for p in ["/abs", "../x", "a/../b", "a//b", "", ".", "/"] {
            assert!(check_cgroup_parent(p).is_err(), "{p}");
        }
    }

    #[test]
    fn options_stop_at_image() {
        let s = run(&["--name", "x", "img", "ls", "-la", "--name", "y"]).unwrap();
        assert_eq!(s.name.as_deref(), Some("x"));
        assert_eq!(s.image, "img");
        assert_eq!(s.command, ["ls", "-la", "--name", "y"]);
    }

    #[test]
    fn value_forms() {
        let s = run(&[
            "--name=x",
            "-m64M",
            "--memory=1g",
            "-eA=1",
            "-e",
            "B",
            "--cpus=1",
            "img",
        ])
        .unwrap();
        assert_eq!(s.name.as_deref(), Some("x"));
        assert_eq!(s.memory, Some(1 << 30));
        assert_eq!(s.env, [("A".into(), Some("1".into())), ("B".into(), None)]);
        assert_eq!(s.command, ["/bin/sh"]);
    }

    #[test]
    fn bad_input_is_125_and_names_the_value() {
        for (args, needle) in [
            (&["--net", "bridge", "img"][..], "bridge"),
            (&["--name", "-x", "img"][..], "-x"),
            (&["--bogus", "img"][..], "--bogus"),
            (&["--name"][..], "--name"),
            (&[][..], "IMAGE"),
            (&["-w", "rel", "img"][..], "rel"),
            (&["-v", "/a", "img"][..], "/a"),
            (&["-v", "a:/b", "img"][..], "a:/b"),
            (&["-v", "/a:/b:xx", "img"][..], "xx"),
            (&["--pids", "0", "img"][..], "0"),
            (&["--pids", "1", "img"][..], "init"),
            (&["--pids", "4194305", "img"][..], "4194304"),
            (&["--seccomp", "strict", "img"][..], "strict"),
            (&["-e", "=x", "img"][..], "--env"),
            (&["-u", ":g", "img"][..], ":g"),
        ] {
            let e = run(args).unwrap_err();
            assert_eq!(e.code, 125);
            assert!(e.msg.contains(needle), "{args:?}: {}", e.msg);
            assert!(!e.msg.contains('\n'));
        }
    }

    #[test]
    fn help_and_version() {
        let p = |a: &[&str]| parse(a.iter().map(OsString::from));
        assert!(matches!(p(&["--help"]), Ok(Command::Help)));
        assert!(matches!(p(&["-h"]), Ok(Command::Help)));
        assert!(matches!(p(&["-V"]), Ok(Command::Version)));
        assert!(matches!(p(&["run", "--version"]), Ok(Command::Version)));
        assert!(p(&["walk"]).is_err());
    }
}
