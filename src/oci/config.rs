//! An OCI bundle's `config.json` → the plan, the same [`Plan`] the docker-like command
//! line builds. Every key crab-can reads is applied or refused with the JSON path in the
//! message (`process.user.uid: expected a number`); unknown keys are ignored, as the
//! runtime spec says. Where the spec and runc differ, this follows runc: the engines
//! were written against it.

use crate::error::{Error, Result};
use crate::json::{self, At};
use crate::oci::hooks::{self, Hooks};
use crate::plan::{
    self, CStrings, CgroupPlan, ContainerPlan, Extras, Plan, ProcessPlan, Rlimit, Terminal,
};
use crate::rootfs::{self, CgroupPart, MountOp};
use crate::security::{CAP_NAMES, Capabilities, Privileges};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::thread::LinkNameSpaceType as Ns;
use std::ffi::{CString, OsStr};

/// What `create` knows of a bundle: the plan, and what only the OCI steps use.
pub struct Bundle {
    pub plan: Plan,
    pub hooks: Hooks,
    /// The annotations as a JSON object's text (`{}` when none).
    pub annotations: String,
    pub bundle: String,
    pub rootfs: String,
    /// The bundle directory, for the hooks' working directory.
    pub dir: OwnedFd,
    /// `config.json` as read.
    pub text: Vec<u8>,
}

/// The largest config.json crab-can reads.
const MAX_CONFIG: usize = 16 << 20;

pub struct Options<'a> {
    pub id: &'a str,
    pub systemd_cgroup: bool,
}

/// Read and plan `BUNDLE/config.json`.
pub fn load(bundle: &str, opts: &Options<'_>) -> Result<Bundle> {
    let bundle_abs = absolute(bundle)?;
    let dir = rustix::fs::openat(
        rustix::fs::CWD,
        bundle_abs.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys_msg(format_args!("cannot open the bundle {bundle}"), e))?;
    let text = crate::sys::read_small(dir.as_fd(), "config.json", MAX_CONFIG).ok_or_else(|| {
        Error::msg(format_args!(
            "cannot read {bundle_abs}/config.json (missing, not a regular file, or over 16 MiB)"
        ))
    })?;
    let v = json::parse(&text).map_err(|e| Error::msg(format_args!("config.json: {}", e.msg)))?;
    let at = At::root(&v);
    let (plan, rootfs) = build(&at, &bundle_abs, opts)?;
    let hooks = match at.get("hooks")? {
        Some(h) => hooks::parse_hooks(h)?,
        None => Hooks::default(),
    };
    let annotations = match at.get("annotations")? {
        Some(a) => a.string_object()?,
        None => "{}".to_string(),
    };
    Ok(Bundle {
        plan,
        hooks,
        annotations,
        bundle: bundle_abs,
        rootfs,
        dir,
        text,
    })
}

/// `path` made absolute against the current directory (the caller's).
pub fn absolute(path: &str) -> Result<String> {
    if path.starts_with('/') {
        return Ok(path.to_string());
    }
    let cwd = rustix::process::getcwd(Vec::new())
        .map_err(|e| Error::sys("cannot read the current directory", e))?;
    let mut s = cwd.to_string_lossy().into_owned();
    if path != "." && !path.is_empty() {
        if !s.ends_with('/') {
            s.push('/');
        }
        s.push_str(path.strip_prefix("./").unwrap_or(path));
    }
    Ok(s)
}

fn need<'a>(at: &At<'a>, key: &str) -> Result<At<'a>> {
    at.get(key)?.ok_or_else(|| {
        let p = if at.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", at.path)
        };
        Error::msg(format_args!("{p}: missing"))
    })
}

fn opt_bool(at: &At<'_>, key: &str) -> Result<bool> {
    Ok(match at.get(key)? {
        Some(v) => v.bool()?,
        None => false,
    })
}

fn cs(at: &At<'_>, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| at.error("holds a NUL byte"))
}

/// The namespaces of `linux.namespaces`: the type, its clone flag, its kind, its name
/// under /proc/PID/ns.
const NAMESPACES: [(&str, i32, Ns, &str); 8] = [
    ("pid", libc::CLONE_NEWPID, Ns::ProcessID, "pid"),
    ("network", libc::CLONE_NEWNET, Ns::Network, "net"),
    ("mount", libc::CLONE_NEWNS, Ns::Mount, "mnt"),
    (
        "ipc",
        libc::CLONE_NEWIPC,
        Ns::InterProcessCommunication,
        "ipc",
    ),
    (
        "uts",
        libc::CLONE_NEWUTS,
        Ns::HostNameAndNISDomainName,
        "uts",
    ),
    ("user", libc::CLONE_NEWUSER, Ns::User, "user"),
    ("cgroup", libc::CLONE_NEWCGROUP, Ns::ControlGroup, "cgroup"),
    ("time", libc::CLONE_NEWTIME, Ns::Time, "time"),
];

fn build(at: &At<'_>, bundle: &str, opts: &Options<'_>) -> Result<(Plan, String)> {
    let version = need(at, "ociVersion")?;
    if !version.str()?.starts_with("1.") {
        return Err(version.error(format_args!(
            "unsupported version {} (crab-can reads 1.x)",
            version.str()?
        )));
    }
    let linux = at.get("linux")?;
    let get_linux = |k: &str| -> Result<Option<At<'_>>> {
        match &linux {
            Some(l) => l.get(k),
            None => Ok(None),
        }
    };
    for &refused in &["intelRdt", "personality"] {
        if let Some(v) = get_linux(refused)? {
            return Err(v.error("is not supported"));
        }
    }

    // The namespaces: new ones as clone flags, joined ones as open handles.
    let mut namespaces = 0u64;
    let mut join: Vec<(Ns, OwnedFd)> = Vec::new();
    let mut seen = 0u64;
    let mut has_mnt = false;
    if let Some(list) = get_linux("namespaces")? {
        for ns in list.array()? {
            let t = need(&ns, "type")?;
            let name = t.str()?;
            let &(_, flag, kind, proc_name) = NAMESPACES
                .iter()
                .find(|n| n.0 == name)
                .ok_or_else(|| t.error(format_args!("unknown namespace type '{name}'")))?;
            let flag = flag as u64;
            if seen & flag != 0 {
                return Err(t.error(format_args!("namespace '{name}' listed twice")));
            }
            seen |= flag;
            match ns.get("path")? {
                Some(p) if !p.str()?.is_empty() => {
                    if matches!(kind, Ns::Mount | Ns::User | Ns::Time) {
                        return Err(p.error(format_args!(
                            "joining a {name} namespace by path is not supported"
                        )));
                    }
                    join.push((kind, open_ns(&p, proc_name)?));
                }
                _ => {
                    if kind == Ns::Mount {
                        has_mnt = true;
                    }
                    // The time namespace is made by the parent (see container::clone_init).
                    if kind != Ns::Time {
                        namespaces |= flag;
                    }
                }
            }
        }
    }
    if !has_mnt {
        return Err(Error::new(
            "linux.namespaces: a mount namespace of the container's own is required (crab-can never pivots the host's root)",
        ));
    }
    // Root of a user namespace that is not the host's (rootless podman runs its runtime
    // so, see `super::rootless`) with a config that asks for no user namespace: there the
    // kernel refuses mknod, and mounts proc and sysfs only while a full view of them is
    // visible (before `pivot_root`), which is how crab-can builds a root in a user
    // namespace of the container's own. So the container gets one, nested in crab-can's,
    // with every id of crab-can's mapped to itself: the same ids, the same powers, and the
    // namespaces made with it are its. Not when a namespace is joined by path (it belongs
    // to crab-can's user namespace, which the nested one's root cannot enter).
    let nested = seen & libc::CLONE_NEWUSER as u64 == 0
        && join.is_empty()
        && super::rootless()
        && !crate::userns::rootless();
    let nested_maps = match nested {
        true => Some([
            identity_map("/proc/self/uid_map")?,
            identity_map("/proc/self/gid_map")?,
        ]),
        false => None,
    };
    if nested {
        namespaces |= libc::CLONE_NEWUSER as u64;
    }

    // The root.
    let root_at = need(at, "root")?;
    let path_at = need(&root_at, "path")?;
    let rootfs = if path_at.str()?.starts_with('/') {
        path_at.str()?.to_string()
    } else {
        format!("{bundle}/{}", path_at.str()?)
    };
    let (root, _) = plan::open_image(OsStr::new(&rootfs), path_at.str()?)?;

    let mut extra = Extras {
        join,
        ..Extras::default()
    };
    let process = process(at, &root, &mut extra)?;

    // The hostname needs a UTS namespace of the container's own.
    let hostname = match at.get("hostname")? {
        Some(h) => h.str()?.as_bytes().to_vec(),
        None => Vec::new(),
    };
    if let Some(d) = at.get("domainname")? {
        extra.domainname = d.str()?.as_bytes().to_vec();
    }
    if (!hostname.is_empty() || !extra.domainname.is_empty())
        && namespaces & libc::CLONE_NEWUTS as u64 == 0
    {
        return Err(Error::new(
            "hostname: cannot set the hostname or domainname without a UTS namespace of the container's own",
        ));
    }

    // The cgroup: always one (kill --all, the engines' stats and OOM reports need it).
    let mut limits = match get_linux("resources")? {
        Some(r) => crate::oci::resources::parse(r)?,
        None => crate::cgroup::Limits::default(),
    };
    // Rootless (as runc): no cgroup at all unless a limit is asked for, which needs cgroup
    // v2 delegation; device rules are the user namespace's business (mknod is refused).
    let rootless = super::rootless();
    if rootless {
        limits.devices = None;
        if limits.any() {
            return Err(Error::new(
                "linux.resources: limits need root in OCI mode (a rootless container gets no cgroup)",
            ));
        }
    }
    let cgroups_path = get_linux("cgroupsPath")?.map(|p| p.str()).transpose()?;
    let path = crate::cgroup::oci_path(cgroups_path, opts.systemd_cgroup, opts.id)?;
    let placement = crate::cgroup::Placement::oci(&path, &limits)?;
    // The hierarchies it will be in: a `cgroup` mount shows those only.
    let mut placed: Vec<String> = Vec::new();
    for p in placement.paths() {
        if let Some(rest) = p
            .strip_prefix(crate::cgroup::ROOT)
            .and_then(|r| r.strip_prefix('/'))
        {
            placed.push(rest.split('/').next().unwrap_or(rest).to_string());
        }
    }
    let cgroup = (!rootless).then_some(CgroupPlan {
        parent: String::new(),
        limits,
        placement: Some(placement),
    });

    // The mounts, in order, then devices, masks and read-only paths, as runc does them.
    let mut mounts = Vec::new();
    let mut dev_is_tmpfs = false;
    if let Some(list) = at.get("mounts")? {
        for m in list.array()? {
            let dst = need(&m, "destination")?.str()?.to_string();
            if dst == "/dev" {
                dev_is_tmpfs = m
                    .get("type")?
                    .map(|t| t.str().ok() == Some("tmpfs"))
                    .unwrap_or(false);
            }
            mount(&root.image, &m, bundle, &dst, &placed, &mut mounts)?;
        }
    }
    let userns = namespaces & libc::CLONE_NEWUSER as u64 != 0;
    devices(get_linux("devices")?, dev_is_tmpfs, userns, &mut mounts)?;
    // Sysctls before /proc/sys turns read-only (runc's order too).
    if let Some(s) = get_linux("sysctl")? {
        for (k, v) in s.object()? {
            check_sysctl(&s, k, namespaces, &extra)?;
            let path = format!("/proc/sys/{}", k.replace('.', "/"));
            mounts.push(MountOp::Sysctl {
                path: cs(&s, &path)?,
                value: v.str()?.as_bytes().to_vec(),
            });
        }
    }
    if let Some(l) = get_linux("maskedPaths")? {
        for p in l.strings()? {
            mounts.push(MountOp::Mask { path: cs(&l, p)? });
        }
    }
    if let Some(l) = get_linux("readonlyPaths")? {
        for p in l.strings()? {
            mounts.push(MountOp::ReadOnly { path: cs(&l, p)? });
        }
    }
    if let Some(p) = get_linux("rootfsPropagation")? {
        let flags = propagation(p.str()?).ok_or_else(|| p.error("unknown propagation"))?;
        mounts.push(MountOp::Propagation {
            path: c"/".into(),
            flags,
        });
    }
    if opt_bool(&root_at, "readonly")? {
        mounts.push(MountOp::RemountRoot {
            flags: rootfs::RDONLY,
        });
    }
    // The working directory, made when missing (runc does too).
    mounts.push(MountOp::Workdir {
        path: process.cwd.clone(),
        parents: plan::parents(&process.cwd.to_string_lossy()),
    });

    match nested_maps {
        Some(lines) => extra.id_maps = Some(crate::userns::from_lines(lines)),
        None => id_maps(
            get_linux("uidMappings")?,
            get_linux("gidMappings")?,
            namespaces,
            &mut extra,
        )?,
    }
    if let Some(t) = get_linux("timeOffsets")? {
        if seen & libc::CLONE_NEWTIME as u64 == 0 {
            return Err(t.error("needs a time namespace"));
        }
        let mut text = String::new();
        for (clock, v) in t.object()? {
            if clock != "monotonic" && clock != "boottime" {
                return Err(v.error("unknown clock (monotonic or boottime)"));
            }
            let secs = v.get("secs")?.map(|s| s.i64()).transpose()?.unwrap_or(0);
            let nanos = v.u32_or("nanosecs", 0)?;
            text += &format!("{clock} {secs} {nanos}\n");
        }
        extra.time_offsets = Some(text);
    } else if seen & libc::CLONE_NEWTIME as u64 != 0 {
        extra.time_offsets = Some(String::new());
    }

    let plan = Plan {
        container: ContainerPlan {
            name: opts.id.to_string(),
            namespaces,
            hostname,
            root,
            mounts,
            cgroup,
            extra,
        },
        process,
    };
    Ok((plan, rootfs))
}

/// Open a namespace to join, and check it is of the kind asked for (its nsfs link reads
/// `net:[...]`).
#[inline(never)]
fn open_ns(p: &At<'_>, proc_name: &str) -> Result<OwnedFd> {
    let path = p.str()?;
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys_msg(format_args!("{}: cannot open {path}", p.path), e))?;
    use rustix::fd::AsRawFd;
    let link = rustix::fs::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()), Vec::new())
        .map_err(|e| Error::sys_msg(format_args!("{}: {path}", p.path), e))?;
    if !link
        .to_bytes()
        .starts_with(format!("{proc_name}:[").as_bytes())
    {
        return Err(p.error(format_args!("{path} is not a {proc_name} namespace")));
    }
    Ok(fd)
}

/// What `exec ID CMD...` changes of the container's own process (runc's exec flags).
#[derive(Default)]
pub struct ExecFlags {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    /// `UID[:GID]`.
    pub user: Option<String>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub tty: bool,
}

fn member<'v>(obj: &'v mut json::Value, key: &str) -> Option<&'v mut json::Value> {
    match obj {
        json::Value::Object(m) => {
            if !m.iter().any(|(k, _)| k == key) {
                m.push((key.to_string(), json::Value::Null));
            }
            m.iter_mut().rev().find(|(k, _)| k == key).map(|(_, v)| v)
        }
        _ => None,
    }
}

fn strings(v: &[String]) -> json::Value {
    let mut out = Vec::new();
    push_strings(&mut out, v);
    json::Value::Array(out)
}

/// Append each of `v` to `out` as a JSON string.
#[inline(never)]
fn push_strings(out: &mut Vec<json::Value>, v: &[String]) {
    for s in v {
        out.push(json::Value::String(s.clone()));
    }
}

/// The process half of an OCI `exec`: `--process`'s spec Process (`process`), or else the
/// container's own process with runc's exec flags over it; the seccomp filter is always
/// the container's (a Process has none).
pub fn exec_process(
    config: &[u8],
    given: Option<&[u8]>,
    flags: &ExecFlags,
    root: &rootfs::Root,
) -> Result<ProcessPlan> {
    let mut c =
        json::parse(config).map_err(|e| Error::msg(format_args!("config.json: {}", e.msg)))?;
    let mut p = match given {
        Some(text) => {
            json::parse(text).map_err(|e| Error::msg(format_args!("process: {}", e.msg)))?
        }
        None => {
            let mut p = member(&mut c, "process").map_or(json::Value::Null, std::mem::take);
            let num = |n: &str| json::Value::Number(n.to_string());
            if let Some(v) = member(&mut p, "args") {
                *v = strings(&flags.args);
            }
            if let Some(json::Value::Array(env)) = member(&mut p, "env") {
                push_strings(env, &flags.env);
            }
            if let (Some(cwd), Some(v)) = (&flags.cwd, member(&mut p, "cwd")) {
                *v = json::Value::String(cwd.clone());
            }
            if let Some(u) = &flags.user {
                let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
                if let Some(user) = member(&mut p, "user") {
                    *user = json::Value::Object(vec![
                        ("uid".into(), num(uid)),
                        ("gid".into(), num(gid)),
                    ]);
                }
            }
            if let Some(v) = member(&mut p, "terminal") {
                *v = json::Value::Bool(flags.tty);
            }
            if flags.no_new_privs {
                if let Some(v) = member(&mut p, "noNewPrivileges") {
                    *v = json::Value::Bool(true);
                }
            }
            if let Some(caps) = member(&mut p, "capabilities") {
                // Ambient ones only next to inheritable ones (the kernel refuses the rest),
                // as runc does.
                let inheritable = matches!(member(caps, "inheritable"), Some(json::Value::Array(l)) if !l.is_empty());
                let sets: &[&str] = match inheritable {
                    true => &["bounding", "effective", "permitted", "ambient"],
                    false => &["bounding", "effective", "permitted"],
                };
                for &set in sets {
                    if let Some(json::Value::Array(list)) = member(caps, set) {
                        push_strings(list, &flags.caps);
                    } else if let Some(v) = member(caps, set) {
                        *v = strings(&flags.caps);
                    }
                }
            }
            p
        }
    };
    let linux = member(&mut c, "linux").map_or(json::Value::Null, std::mem::take);
    let whole = json::Value::Object(vec![
        ("process".into(), std::mem::take(&mut p)),
        ("linux".into(), linux),
    ]);
    process(&At::root(&whole), root, &mut Extras::default())
}

#[inline(never)]
fn process(at: &At<'_>, root: &rootfs::Root, extra: &mut Extras) -> Result<ProcessPlan> {
    let p = need(at, "process")?;
    let args_at = need(&p, "args")?;
    let args = args_at.strings()?;
    if args.is_empty() {
        return Err(args_at.error("must name a command"));
    }
    let mut env: Vec<CString> = Vec::new();
    let mut path: Option<String> = None;
    let mut has_home = false;
    if let Some(e) = p.get("env")? {
        for kv in e.strings()? {
            if let Some(v) = kv.strip_prefix("PATH=") {
                path = Some(v.to_string());
            }
            has_home |= kv.starts_with("HOME=");
            env.push(cs(&e, kv)?);
        }
    }
    let cwd_at = need(&p, "cwd")?;
    let cwd = cwd_at.str()?;
    if !cwd.starts_with('/') {
        return Err(cwd_at.error("must be an absolute path"));
    }
    let (mut uid, mut gid, mut umask, mut groups) = (0u32, 0u32, None, Vec::new());
    if let Some(u) = p.get("user")? {
        uid = u.u32_or("uid", 0)?;
        gid = u.u32_or("gid", 0)?;
        umask = u.get("umask")?.map(|v| v.u32()).transpose()?;
        if let Some(g) = u.get("additionalGids")? {
            for x in g.array()? {
                groups.push(rustix::process::Gid::from_raw(x.u32()?));
            }
        }
        if u.get("username")?.is_some() {
            return Err(Error::new(
                "process.user.username is for Windows containers",
            ));
        }
    }
    if !has_home {
        // runc adds HOME when the config has none: the user's from the image, or "/".
        let home = home_of(root, uid).unwrap_or_else(|| "/".into());
        env.push(cs(&p, &format!("HOME={home}"))?);
    }
    // The five sets, in this order.
    let mut sets = [0u64; 5];
    if let Some(c) = p.get("capabilities")? {
        const SETS: [&str; 5] = [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ];
        for (set, &name) in sets.iter_mut().zip(&SETS) {
            if let Some(list) = c.get(name)? {
                for n in list.strings()? {
                    let bare = n.strip_prefix("CAP_").unwrap_or(n);
                    // A name unknown to this build (newer than it) is skipped, as runc does.
                    if let Some(i) = CAP_NAMES.iter().position(|k| k.eq_ignore_ascii_case(bare)) {
                        *set |= 1 << i;
                    }
                }
            }
        }
    }
    let [bounding, effective, permitted, inheritable, ambient] = sets;
    let caps = Capabilities {
        bounding,
        effective,
        permitted,
        inheritable,
        ambient,
    };
    let mut rlimits = Vec::new();
    if let Some(l) = p.get("rlimits")? {
        let mut seen = Vec::new();
        for r in l.array()? {
            let t = need(&r, "type")?;
            let name = t.str()?;
            let resource = rlimit_resource(name)
                .ok_or_else(|| t.error(format_args!("unknown rlimit {name}")))?;
            if seen.contains(&name) {
                return Err(t.error(format_args!("rlimit {name} given twice")));
            }
            seen.push(name);
            let val = |k: &str| -> Result<Option<u64>> {
                let v = need(&r, k)?.u64()?;
                Ok((v != u64::MAX).then_some(v))
            };
            rlimits.push(Rlimit {
                resource,
                limit: rustix::process::Rlimit {
                    current: val("soft")?,
                    maximum: val("hard")?,
                },
            });
        }
    }
    let terminal = if opt_bool(&p, "terminal")? {
        let size = match p.get("consoleSize")? {
            Some(s) => Some(rustix::termios::Winsize {
                ws_row: need(&s, "height")?.u32()?.min(u16::MAX as u32) as u16,
                ws_col: need(&s, "width")?.u32()?.min(u16::MAX as u32) as u16,
                ws_xpixel: 0,
                ws_ypixel: 0,
            }),
            None => None,
        };
        Some(Terminal { size })
    } else {
        None
    };
    extra.oom_score_adj = p.get("oomScoreAdj")?.map(|v| v.i32()).transpose()?;
    let lsm_exec = lsm(&p)?;
    for &refused in &["ioPriority", "scheduler", "execCPUAffinity"] {
        if let Some(v) = p.get(refused)? {
            return Err(v.error("is not supported"));
        }
    }
    let path = path.unwrap_or_else(|| plan::DEFAULT_PATH.to_string());
    let mut argv = Vec::new();
    for a in &args {
        argv.push(cs(&args_at, a)?);
    }
    Ok(ProcessPlan {
        exec_candidates: plan::exec_candidates(args[0].as_bytes(), path.as_bytes()),
        command_display: args[0].to_string(),
        path_display: path,
        argv: CStrings::new(argv),
        envp: CStrings::new(env),
        cwd: cs(&cwd_at, cwd)?,
        privileges: Privileges {
            uid,
            gid,
            groups,
            caps,
            no_new_privs: opt_bool(&p, "noNewPrivileges")?,
        },
        rlimits,
        seccomp: seccomp(at)?,
        terminal,
        umask,
        lsm_exec,
    })
}

#[inline(never)]
fn seccomp(at: &At<'_>) -> Result<Option<crate::seccomp::Filter>> {
    let Some(linux) = at.get("linux")? else {
        return Ok(None);
    };
    let Some(s) = linux.get("seccomp")? else {
        return Ok(None);
    };
    // Names this architecture does not have are skipped quietly, as libseccomp (and so
    // runc) does: engines send one profile for every architecture, and conmon reads
    // the runtime's stderr as its error message.
    let mut warn = |_: &str| {};
    crate::seccomp::Filter::from_oci(s, &mut warn).map(Some)
}

/// AppArmor and SELinux labels: set for the exec when the host runs that LSM, skipped as
/// runc does when it does not (Docker on Ubuntu always sends `docker-default`).
#[inline(never)]
fn lsm(p: &At<'_>) -> Result<Option<(CString, Vec<u8>)>> {
    if let Some(a) = p.get("apparmorProfile")? {
        let profile = a.str()?;
        let enabled = crate::sys::read_text("/sys/module/apparmor/parameters/enabled")
            .is_some_and(|v| v.starts_with('Y'));
        if enabled && !profile.is_empty() {
            let file = if rustix::fs::statat(
                rustix::fs::CWD,
                "/proc/self/attr/apparmor/exec",
                rustix::fs::AtFlags::empty(),
            )
            .is_ok()
            {
                c"/proc/self/attr/apparmor/exec"
            } else {
                c"/proc/self/attr/exec"
            };
            return Ok(Some((file.into(), format!("exec {profile}").into_bytes())));
        }
    }
    if let Some(s) = p.get("selinuxLabel")? {
        let label = s.str()?;
        if !label.is_empty()
            && rustix::fs::statat(
                rustix::fs::CWD,
                "/sys/fs/selinux/enforce",
                rustix::fs::AtFlags::empty(),
            )
            .is_ok()
        {
            return Ok(Some((
                c"/proc/self/attr/exec".into(),
                label.as_bytes().to_vec(),
            )));
        }
    }
    Ok(None)
}

/// HOME of `uid` in the image's /etc/passwd, opened the checked way the docker-like
/// front end opens it (a FIFO, a device or a huge file is never read); None when there
/// is none.
fn home_of(root: &rootfs::Root, uid: u32) -> Option<String> {
    let mut file = plan::open_in_image(&root.image, &root.display, "etc/passwd").ok()??;
    let mut line = Vec::new();
    // Up to the first line that cannot be read or is not UTF-8, each without its "\n" or
    // "\r\n" (as std's `BufRead::lines` gave them).
    while file.next(&mut line).ok()? {
        let l = std::str::from_utf8(&line).ok()?;
        let l = match l.strip_suffix('\n') {
            Some(l) => l.strip_suffix('\r').unwrap_or(l),
            None => l,
        };
        // The third field (the uid) and the sixth (the home), of at least six.
        let mut f = l.split(':');
        let (uid_f, home) = (f.nth(2), f.nth(2));
        if let (Some(u), Some(home)) = (uid_f, home) {
            if crate::user::parse_u32(u) == Some(uid) && !home.is_empty() {
                return Some(home.to_string());
            }
        }
    }
    None
}

fn rlimit_resource(name: &str) -> Option<rustix::process::Resource> {
    use rustix::process::Resource as R;
    const RLIMITS: [(&str, R); 16] = [
        ("CPU", R::Cpu),
        ("FSIZE", R::Fsize),
        ("DATA", R::Data),
        ("STACK", R::Stack),
        ("CORE", R::Core),
        ("RSS", R::Rss),
        ("NPROC", R::Nproc),
        ("NOFILE", R::Nofile),
        ("MEMLOCK", R::Memlock),
        ("AS", R::As),
        ("LOCKS", R::Locks),
        ("SIGPENDING", R::Sigpending),
        ("MSGQUEUE", R::Msgqueue),
        ("NICE", R::Nice),
        ("RTPRIO", R::Rtprio),
        ("RTTIME", R::Rttime),
    ];
    let bare = name.strip_prefix("RLIMIT_")?;
    RLIMITS.iter().find(|(n, _)| *n == bare).map(|&(_, r)| r)
}

fn propagation(word: &str) -> Option<u32> {
    const KINDS: [(&str, u64); 4] = [
        ("private", libc::MS_PRIVATE),
        ("shared", libc::MS_SHARED),
        ("slave", libc::MS_SLAVE),
        ("unbindable", libc::MS_UNBINDABLE),
    ];
    // `rKIND`: the same, recursive.
    let (bare, rec) = match word.strip_prefix('r') {
        Some(b) => (b, libc::MS_REC),
        None => (word, 0),
    };
    let &(_, flag) = KINDS.iter().find(|k| k.0 == bare)?;
    Some((flag | rec) as u32)
}

/// A mount option's flag: (set, clear) bits of MS_*. None: not a flag (fs data).
fn mount_flag(opt: &str) -> Option<(u32, u32)> {
    use libc::*;
    const fn f(v: u64) -> u32 {
        v as u32
    }
    const FLAGS: [(&str, u32, u32); 27] = [
        ("ro", f(MS_RDONLY), 0),
        ("rw", 0, f(MS_RDONLY)),
        ("nosuid", f(MS_NOSUID), 0),
        ("suid", 0, f(MS_NOSUID)),
        ("nodev", f(MS_NODEV), 0),
        ("dev", 0, f(MS_NODEV)),
        ("noexec", f(MS_NOEXEC), 0),
        ("exec", 0, f(MS_NOEXEC)),
        ("sync", f(MS_SYNCHRONOUS), 0),
        ("async", 0, f(MS_SYNCHRONOUS)),
        ("dirsync", f(MS_DIRSYNC), 0),
        ("remount", f(MS_REMOUNT), 0),
        ("mand", f(MS_MANDLOCK), 0),
        ("nomand", 0, f(MS_MANDLOCK)),
        ("atime", 0, f(MS_NOATIME)),
        ("noatime", f(MS_NOATIME), 0),
        ("diratime", 0, f(MS_NODIRATIME)),
        ("nodiratime", f(MS_NODIRATIME), 0),
        ("relatime", f(MS_RELATIME), 0),
        ("norelatime", 0, f(MS_RELATIME)),
        ("strictatime", f(MS_STRICTATIME), 0),
        ("nostrictatime", 0, f(MS_STRICTATIME)),
        ("bind", f(MS_BIND), 0),
        ("rbind", f(MS_BIND | MS_REC), 0),
        ("defaults", 0, 0),
        ("silent", f(MS_SILENT), 0),
        ("loud", 0, f(MS_SILENT)),
    ];
    let &(_, set, clear) = FLAGS.iter().find(|(name, ..)| *name == opt)?;
    Some((set, clear))
}

/// Whether `path` inside the image is an empty directory, or nothing.
fn dir_is_empty(image: &OwnedFd, path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    let fd = match rustix::fs::openat2(
        image,
        if rel.is_empty() { "." } else { rel },
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        rustix::fs::ResolveFlags::IN_ROOT | rustix::fs::ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return true,
        Err(_) => return false,
    };
    let Ok(mut d) = rustix::fs::Dir::read_from(&fd) else {
        return false;
    };
    while let Some(Ok(e)) = d.next() {
        if !matches!(e.file_name().to_bytes(), b"." | b"..") {
            return false;
        }
    }
    true
}

#[inline(never)]
fn mount(
    image: &OwnedFd,
    m: &At<'_>,
    bundle: &str,
    dst: &str,
    placed: &[String],
    out: &mut Vec<MountOp>,
) -> Result<()> {
    let dst_at = need(m, "destination")?;
    if !dst.starts_with('/') || dst.split('/').any(|c| c == "..") {
        return Err(dst_at.error("must be an absolute path without '..'"));
    }
    let kind = m.str_or("type", "")?;
    let source = m.str_or("source", "")?;
    let (mut set, mut clear, mut prop) = (0u32, 0u32, 0u32);
    let mut data: Vec<&str> = Vec::new();
    if let Some(o) = m.get("options")? {
        for opt in o.strings()? {
            if let Some((s, c)) = mount_flag(opt) {
                set = (set | s) & !c;
                clear |= c;
            } else if let Some(p) = propagation(opt) {
                prop = p;
            } else if opt == "tmpcopyup" {
                // Copying the image's files into the new tmpfs: nothing to copy when that
                // directory is empty or missing (podman's --read-only sends it for /tmp,
                // /var/tmp and /run); anything else is refused rather than dropped.
                if !dir_is_empty(image, dst) {
                    return Err(o.error(format_args!(
                        "mount option 'tmpcopyup' over the non-empty {dst} is not supported"
                    )));
                }
            } else if opt.starts_with("idmap") || opt.starts_with("rro") {
                return Err(o.error(format_args!("mount option '{opt}' is not supported")));
            } else {
                data.push(opt);
            }
        }
    }
    let bind = kind == "bind" || set & libc::MS_BIND as u32 != 0;
    let dst_c = cs(&dst_at, dst)?;
    if bind {
        let src = if source.starts_with('/') {
            source.to_string()
        } else {
            format!("{bundle}/{source}")
        };
        let recursive = set & libc::MS_REC as u32 != 0;
        let (tree, st, vfs_flags) = plan::host_tree(&src, recursive)
            .map_err(|e| Error::sys_msg(format_args!("{}: cannot bind-mount {src}", m.path), e))?;
        let remount_flags = set & !(libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY) as u32;
        out.push(MountOp::Volume(rootfs::Volume {
            tree,
            src: plan::cstring(src.as_bytes()),
            src_display: src,
            src_is_dir: FileType::from_raw_mode(st.st_mode) == FileType::Directory,
            // The flags the source's mount locks (a remount cannot clear them).
            src_flags: vfs_flags
                & (rootfs::NOSUID | rootfs::NODEV | rootfs::NOEXEC | rootfs::RDONLY)
                & !clear,
            dst: dst_c.clone(),
            dst_parents: plan::parents(dst),
            read_only: set & libc::MS_RDONLY as u32 != 0,
            ro_tree: false,
            flags: remount_flags,
            propagation: prop,
        }));
        return Ok(());
    }
    out.push(MountOp::Mkdir {
        path: dst_c.clone(),
        parents: plan::parents(dst),
    });
    let data = (!data.is_empty()).then(|| data.join(","));
    match kind {
        "proc" | "sysfs" | "tmpfs" | "devpts" | "mqueue" | "cgroup2" | "ramfs" | "overlay" => {
            out.push(MountOp::Fs {
                fstype: cs(m, kind)?,
                target: dst_c.clone(),
                flags: set,
                data: data.map(|d| cs(m, &d)).transpose()?,
                make_target: false,
            });
        }
        "cgroup" => out.push(cgroup_mount(m, dst_c.clone(), set, placed)?),
        "" => return Err(m.error("type: missing (and not a bind mount)")),
        other => return Err(m.error(format_args!("mount type '{other}' is not supported"))),
    }
    if prop != 0 {
        out.push(MountOp::Propagation {
            path: dst_c,
            flags: prop,
        });
    }
    Ok(())
}

/// An OCI `cgroup` mount as the host's hierarchies: cgroup2 alone on a pure v2 host; on
/// v1 or hybrid hosts a tmpfs with each v1 hierarchy (and `unified`) and the host's
/// links (`cpu` → `cpu,cpuacct`).
#[inline(never)]
fn cgroup_mount(m: &At<'_>, target: CString, flags: u32, placed: &[String]) -> Result<MountOp> {
    let info = crate::sys::read_text("/proc/self/mountinfo")
        .ok_or_else(|| m.error("cannot read /proc/self/mountinfo"))?;
    let mut parts = Vec::new();
    let base = crate::cgroup::ROOT;
    for line in info.lines() {
        // The fields before " - " and those after it.
        let Some(i) = line.as_bytes().windows(3).position(|w| w == b" - ") else {
            continue;
        };
        let (left, right) = (&line[..i], &line[i + 3..]);
        let mp = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let (fstype, _src, opts) = (r.next().unwrap_or(""), r.next(), r.next().unwrap_or(""));
        if mp == base && fstype == "cgroup2" {
            parts = vec![CgroupPart {
                dir: CString::default(),
                fstype: c"cgroup2".into(),
                data: None,
            }];
            break;
        }
        let Some(name) = mp.strip_prefix(base).and_then(|n| n.strip_prefix('/')) else {
            continue;
        };
        // Only the hierarchies the container is in: in the others its cgroup namespace's
        // root would be the host's root cgroup.
        if name.contains('/') || !placed.iter().any(|p| p == name) {
            continue;
        }
        match fstype {
            "cgroup" => {
                let mut ctrls: Vec<&str> = Vec::new();
                for o in opts.split(',') {
                    if !matches!(o, "rw" | "ro") && !o.starts_with("release_agent") {
                        ctrls.push(o);
                    }
                }
                parts.push(CgroupPart {
                    dir: cs(m, name)?,
                    fstype: c"cgroup".into(),
                    data: Some(cs(m, &ctrls.join(","))?),
                });
            }
            "cgroup2" => parts.push(CgroupPart {
                dir: cs(m, name)?,
                fstype: c"cgroup2".into(),
                data: None,
            }),
            _ => {}
        }
    }
    let mut links = Vec::new();
    if let Ok(fd) = rustix::fs::openat(
        rustix::fs::CWD,
        base,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        if let Ok(mut d) = rustix::fs::Dir::read_from(&fd) {
            while let Some(Ok(e)) = d.next() {
                if e.file_type() != FileType::Symlink {
                    continue;
                }
                let Ok(to) = rustix::fs::readlinkat(&fd, e.file_name(), Vec::new()) else {
                    continue;
                };
                let to = to.to_string_lossy();
                if placed.iter().any(|p| *p == *to) {
                    links.push((cs(m, &to)?, cs(m, &e.file_name().to_string_lossy())?));
                }
            }
        }
    }
    Ok(MountOp::Cgroup {
        target,
        flags: flags | (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC) as u32,
        parts,
        links,
    })
}

/// The devices every container gets (runc's), then the config's `linux.devices`, and the
/// links of `/dev` — on a `/dev` of the container's own only.
#[inline(never)]
fn devices(
    list: Option<At<'_>>,
    dev_is_tmpfs: bool,
    userns: bool,
    out: &mut Vec<MountOp>,
) -> Result<()> {
    // In a user namespace the kernel refuses mknod of devices: the host's node of the same
    // path is bound instead (as runc does), a detached copy made here.
    let node = |path: &str, kind: FileType, major: u32, minor: u32, mode: u32, uid, gid| {
        if userns && kind != FileType::Fifo {
            let (tree, _, vfs_flags) = plan::host_tree(path, false)
                .map_err(|e| Error::sys_msg(format_args!("cannot bind the host's {path}"), e))?;
            return Ok(MountOp::Volume(rootfs::Volume {
                tree,
                src: plan::cstring(path.as_bytes()),
                src_display: path.to_string(),
                src_is_dir: false,
                src_flags: vfs_flags
                    & (rootfs::NOSUID | rootfs::NODEV | rootfs::NOEXEC | rootfs::RDONLY),
                dst: plan::cstring(path.as_bytes()),
                dst_parents: Vec::new(),
                read_only: false,
                ro_tree: false,
                flags: 0,
                propagation: 0,
            }));
        }
        Ok(MountOp::Node {
            path: plan::cstring(path.as_bytes()),
            kind,
            dev: rustix::fs::makedev(major, minor),
            mode,
            uid,
            gid,
        })
    };
    if dev_is_tmpfs {
        // The nodes and links the docker-like front end gives its `/dev` (plan.rs).
        for (name, major, minor) in plan::DEVICES {
            out.push(node(
                &format!("/dev/{name}"),
                FileType::CharacterDevice,
                major,
                minor,
                0o666,
                0,
                0,
            )?);
        }
        // runc makes /dev/ptmx (the docker-like list's first link) last.
        let mut links = plan::DEV_LINKS;
        links.rotate_left(1);
        for (link, to) in links {
            out.push(MountOp::Symlink {
                target: plan::cstring(to.as_bytes()),
                link: plan::cstring(link.as_bytes()),
            });
        }
    }
    let Some(list) = list else {
        return Ok(());
    };
    for d in list.array()? {
        let path_at = need(&d, "path")?;
        let path = path_at.str()?;
        if !path.starts_with("/dev/") || path.split('/').any(|c| c == "..") {
            return Err(path_at.error("must be a path under /dev"));
        }
        let t = need(&d, "type")?;
        let kind = match t.str()? {
            "c" | "u" => FileType::CharacterDevice,
            "b" => FileType::BlockDevice,
            "p" => FileType::Fifo,
            other => return Err(t.error(format_args!("unknown device type '{other}'"))),
        };
        let num = |k: &str| -> Result<u32> {
            Ok(match d.get(k)? {
                Some(v) => v.u32()?,
                None if kind == FileType::Fifo => 0,
                None => return Err(d.error(format_args!("{k}: missing"))),
            })
        };
        let (major, minor) = (num("major")?, num("minor")?);
        let mode = d.u32_or("fileMode", 0o666)? & 0o7777;
        let uid = d.u32_or("uid", 0)?;
        let gid = d.u32_or("gid", 0)?;
        if let Some(parent) = crate::sys::split_last(path, b'/')
            .map(|(p, _)| p)
            .filter(|p| *p != "/dev")
        {
            out.push(MountOp::Mkdir {
                path: plan::cstring(parent.as_bytes()),
                parents: plan::parents(parent),
            });
        }
        out.push(node(path, kind, major, minor, mode, uid, gid)?);
    }
    Ok(())
}

/// Only namespaced sysctls, and `net.*` only with a network namespace of the container's.
#[inline(never)]
fn check_sysctl(s: &At<'_>, key: &str, namespaces: u64, extra: &Extras) -> Result<()> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let own_net = namespaces & libc::CLONE_NEWNET as u64 != 0
        || extra.join.iter().any(|(k, _)| *k == Ns::Network);
    let ok = if key.as_bytes().windows(2).any(|w| w == b"..") || key.contains('/') {
        false
    } else if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        namespaces & libc::CLONE_NEWIPC as u64 != 0
    } else if key.starts_with("net.") {
        own_net
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        namespaces & libc::CLONE_NEWUTS as u64 != 0
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(s.error(format_args!(
            "sysctl '{key}' is not namespaced for this container (or its namespace is not the container's own)"
        )))
    }
}

/// Every id of crab-can's user namespace (`/proc/self/uid_map` or `gid_map`) mapped to
/// itself, as a nested namespace's map.
fn identity_map(file: &str) -> Result<String> {
    let text = crate::sys::read_text(file)
        .ok_or_else(|| Error::msg(format_args!("cannot read {file}")))?;
    let mut out = String::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_ascii_whitespace().collect();
        if let [inside, _, count] = f[..] {
            out.push_str(&format!("{inside} {inside} {count}\n"));
        }
    }
    Ok(out)
}

#[inline(never)]
fn id_maps(
    uid: Option<At<'_>>,
    gid: Option<At<'_>>,
    namespaces: u64,
    extra: &mut Extras,
) -> Result<()> {
    let userns = namespaces & libc::CLONE_NEWUSER as u64 != 0;
    let text = |m: Option<At<'_>>| -> Result<String> {
        let mut t = String::new();
        if let Some(m) = m {
            for e in m.array()? {
                use std::fmt::Write;
                // Writing to a String cannot fail.
                let _ = writeln!(
                    t,
                    "{} {} {}",
                    need(&e, "containerID")?.u32()?,
                    need(&e, "hostID")?.u32()?,
                    need(&e, "size")?.u32()?
                );
            }
        }
        Ok(t)
    };
    let (u, g) = (text(uid)?, text(gid)?);
    match (userns, u.is_empty() && g.is_empty()) {
        (false, true) => Ok(()),
        (false, false) => Err(Error::new(
            "linux.uidMappings: mappings need a user namespace of the container's own",
        )),
        (true, _) if u.is_empty() || g.is_empty() => Err(Error::new(
            "linux.uidMappings: a user namespace needs uidMappings and gidMappings",
        )),
        (true, _) => {
            extra.id_maps = Some(crate::userns::from_lines([u, g]));
            Ok(())
        }
    }
}

/// The error `create` gives for a command that is not there, in runc's words (podman
/// turns "executable file not found in $PATH" and "no such file or directory" into 127).
pub fn exec_error(p: &ProcessPlan, errno: Errno) -> Error {
    let cmd = &p.command_display;
    match errno {
        Errno::NOENT | Errno::NOTDIR if !cmd.contains('/') => Error::msg(format_args!(
            "exec: \"{cmd}\": executable file not found in $PATH"
        )),
        Errno::NOENT | Errno::NOTDIR => Error::msg(format_args!(
            "exec: \"{cmd}\": stat {cmd}: no such file or directory"
        )),
        Errno::ACCESS => Error::msg(format_args!("exec: \"{cmd}\": permission denied")),
        e => Error::sys_msg(format_args!("exec: \"{cmd}\""), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundle in a scratch directory: `rootfs/` (with etc/passwd) and `config.json`.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn bundle(tag: &str, config: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "crab-can-config-{tag}-{}",
            crate::sys::testing::pid()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("rootfs/etc")).unwrap();
        std::fs::write(
            d.join("rootfs/etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nu:x:7:7::/home/u:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(d.join("config.json"), config).unwrap();
        Scratch(d)
    }

    const NS: &str =
        r#"[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"ipc"},{"type":"network"}]"#;

    fn config(process: &str, linux_extra: &str, top_extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"process":{process},
                "linux":{{"namespaces":{NS}{linux_extra}}}{top_extra}}}"#
        )
    }

    const PROC: &str = r#"{"args":["sh","-c","true"],"cwd":"/","env":["PATH=/bin"]}"#;

    fn load_plan(tag: &str, text: &str) -> Result<Bundle> {
        let b = bundle(tag, text);
        let r = load(
            b.0.to_str().unwrap(),
            &Options {
                id: "t",
                systemd_cgroup: false,
            },
        );
        drop(b);
        r
    }

    fn err(tag: &str, text: &str) -> String {
        match load_plan(tag, text) {
            Ok(_) => panic!("{tag}: accepted"),
            Err(e) => e.msg.clone(),
        }
    }

    fn kinds(b: &Bundle) -> Vec<String> {
        let l = |c: &CString| c.to_string_lossy().into_owned();
        b.plan
            .container
            .mounts
            .iter()
            .map(|op| match op {
                MountOp::Fs { fstype, target, .. } => format!("{} {}", l(fstype), l(target)),
                MountOp::Mkdir { path, .. } => format!("mkdir {}", l(path)),
                MountOp::Node { path, .. } => format!("node {}", l(path)),
                MountOp::Symlink { link, .. } => format!("link {}", l(link)),
                MountOp::Mask { path } => format!("mask {}", l(path)),
                MountOp::ReadOnly { path } => format!("ro {}", l(path)),
                MountOp::Sysctl { path, .. } => format!("sysctl {}", l(path)),
                MountOp::RemountRoot { .. } => "remount /".into(),
                MountOp::Workdir { path, .. } => format!("workdir {}", l(path)),
                MountOp::Volume(v) => format!("bind {}", l(&v.dst)),
                MountOp::Propagation { path, .. } => format!("propagation {}", l(path)),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn errors_name_the_json_path() {
        let bad_uid = r#"{"args":["sh"],"cwd":"/","user":{"uid":"0"}}"#;
        assert_eq!(
            err("uid", &config(bad_uid, "", "")),
            "process.user.uid: expected a number"
        );
        let rel_cwd = r#"{"args":["sh"],"cwd":"tmp"}"#;
        assert!(err("cwd", &config(rel_cwd, "", "")).starts_with("process.cwd: "));
        let no_args = r#"{"args":[],"cwd":"/"}"#;
        assert!(err("args", &config(no_args, "", "")).starts_with("process.args: "));
        assert!(err("json", "{").starts_with("config.json: line 1"));
        assert!(
            err("ver", &config(PROC, "", "").replace("1.0.2", "2.0.0")).starts_with("ociVersion: ")
        );
        let dup_rlimit = r#"{"args":["sh"],"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","soft":1,"hard":2},{"type":"RLIMIT_NOFILE","soft":1,"hard":2}]}"#;
        assert!(err("rlim", &config(dup_rlimit, "", "")).contains("given twice"));
        let m = err(
            "sysctl",
            &config(PROC, r#","sysctl":{"vm.swappiness":"1"}"#, ""),
        );
        assert!(
            m.starts_with("linux.sysctl: ") && m.contains("vm.swappiness"),
            "{m}"
        );
        let m = err(
            "ns",
            &config(PROC, "", "").replace(r#"{"type":"ipc"}"#, r#"{"type":"ipc"},{"type":"ipc"}"#),
        );
        assert!(m.contains("listed twice"), "{m}");
        let m = err(
            "nsk",
            &config(PROC, "", "").replace(r#"{"type":"ipc"}"#, r#"{"type":"nope"}"#),
        );
        assert!(m.contains("unknown namespace type"), "{m}");
        let m = err(
            "seccomp",
            &config(
                PROC,
                r#","seccomp":{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
                "",
            ),
        );
        assert!(m.contains("NOTIFY"), "{m}");
        let m = err(
            "blkio",
            &config(PROC, r#","resources":{"blockIO":{"weight":10}}"#, ""),
        );
        assert!(m.contains("linux.resources.blockIO.weight"), "{m}");
    }

    #[test]
    fn a_mount_namespace_of_its_own_is_required() {
        let text = config(PROC, "", "").replace(r#"{"type":"mount"},"#, "");
        assert!(err("nomnt", &text).contains("mount namespace"));
        let text = config(PROC, "", "").replace(
            r#"{"type":"mount"}"#,
            r#"{"type":"mount","path":"/proc/1/ns/mnt"}"#,
        );
        assert!(err("joinmnt", &text).contains("by path is not supported"));
    }

    #[test]
    fn hostname_needs_its_own_uts_namespace() {
        let text = config(PROC, "", r#","hostname":"h""#).replace(r#"{"type":"uts"},"#, "");
        assert!(err("uts", &text).starts_with("hostname: "));
        let b = load_plan(
            "uts-ok",
            &config(PROC, "", r#","hostname":"h","domainname":"d""#),
        )
        .unwrap();
        assert_eq!(b.plan.container.hostname, b"h");
        assert_eq!(b.plan.container.extra.domainname, b"d");
    }

    #[test]
    fn mounts_then_devices_sysctls_masks_and_the_root_in_runc_order() {
        let text = config(
            r#"{"args":["sh"],"cwd":"/work"}"#,
            r#","maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"sysctl":{"kernel.shmmax":"1"},
               "devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438}]"#,
            r#","root":{"path":"rootfs","readonly":true},
               "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                         {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]}]"#,
        );
        // The second "root" key wins (as Go's encoding/json).
        let b = load_plan("order", &text).unwrap();
        let got = kinds(&b);
        let want = [
            "mkdir /proc",
            "proc /proc",
            "mkdir /dev",
            "tmpfs /dev",
            "node /dev/null",
            "node /dev/zero",
            "node /dev/full",
            "node /dev/random",
            "node /dev/urandom",
            "node /dev/tty",
            "link /dev/fd",
            "link /dev/stdin",
            "link /dev/stdout",
            "link /dev/stderr",
            "link /dev/ptmx",
            "node /dev/fuse",
            "sysctl /proc/sys/kernel/shmmax",
            "mask /proc/kcore",
            "ro /proc/sys",
            "remount /",
            "workdir /work",
        ];
        assert_eq!(got, want);
        match &b.plan.container.mounts[3] {
            MountOp::Fs { flags, data, .. } => {
                assert_eq!(*flags, libc::MS_NOSUID as u32);
                assert_eq!(data.as_deref(), Some(c"mode=755"));
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn process_half() {
        let p = r#"{"args":["ls","-l"],"cwd":"/","env":["A=1"],
            "user":{"uid":7,"gid":8,"umask":63,"additionalGids":[9,10]},
            "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],"ambient":["CAP_KILL"],"inheritable":["CAP_NEW_IN_2030"]},
            "rlimits":[{"type":"RLIMIT_NOFILE","soft":100,"hard":200}],
            "noNewPrivileges":true,"oomScoreAdj":-500,
            "terminal":true,"consoleSize":{"height":40,"width":120}}"#;
        let b = load_plan("proc", &config(p, "", "")).unwrap();
        let pr = &b.plan.process;
        assert_eq!((pr.privileges.uid, pr.privileges.gid), (7, 8));
        let groups: Vec<u32> = pr.privileges.groups.iter().map(|g| g.as_raw()).collect();
        assert_eq!(groups, [9, 10]);
        assert_eq!(pr.umask, Some(63));
        let c = pr.privileges.caps;
        assert_eq!(
            (
                c.bounding,
                c.effective,
                c.permitted,
                c.ambient,
                c.inheritable
            ),
            (1 | 1 << 5, 1 << 5, 1 << 5, 1 << 5, 0)
        );
        assert!(pr.privileges.no_new_privs);
        assert_eq!(b.plan.container.extra.oom_score_adj, Some(-500));
        assert_eq!(pr.rlimits.len(), 1);
        assert_eq!(pr.rlimits[0].limit.current, Some(100));
        let size = pr.terminal.as_ref().unwrap().size.unwrap();
        assert_eq!((size.ws_row, size.ws_col), (40, 120));
        // No PATH: the default one; no HOME: the user's from the image's passwd.
        assert_eq!(pr.path_display, plan::DEFAULT_PATH);
        assert_eq!(pr.envp.strings(), ["A=1", "HOME=/home/u"]);
        assert!(pr.seccomp.is_none());
    }

    #[test]
    fn user_namespace_and_time_offsets() {
        let ns = r#",{"type":"user"},{"type":"time"}]"#;
        let text = config(
            PROC,
            r#","uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
               "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
               "timeOffsets":{"monotonic":{"secs":86400,"nanosecs":0}}"#,
            "",
        )
        .replace(
            r#"{"type":"network"}]"#,
            &format!(r#"{{"type":"network"}}{ns}"#),
        );
        let b = load_plan("userns", &text).unwrap();
        let x = &b.plan.container.extra;
        assert_eq!(x.id_maps.as_ref().unwrap().lines[0], "0 100000 65536\n");
        assert_eq!(x.time_offsets.as_deref(), Some("monotonic 86400 0\n"));
        assert!(b.plan.container.namespaces & libc::CLONE_NEWUSER as u64 != 0);
        // The time namespace is the parent's to make, not the clone's.
        assert_eq!(b.plan.container.namespaces & libc::CLONE_NEWTIME as u64, 0);
        let text = config(
            PROC,
            r#","uidMappings":[{"containerID":0,"hostID":1,"size":1}]"#,
            "",
        );
        assert!(err("maps-no-userns", &text).contains("user namespace"));
    }

    #[test]
    fn runc_words_for_a_missing_command() {
        let b = load_plan("exec", &config(PROC, "", "")).unwrap();
        assert_eq!(
            exec_error(&b.plan.process, Errno::NOENT).msg,
            "exec: \"sh\": executable file not found in $PATH"
        );
    }
}
