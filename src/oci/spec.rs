//! What crab-can says about itself in OCI mode: the config.json `crab-can spec` writes,
//! the `features` document (runtime-spec features.md) and the `--version` text. All three
//! are written by hand as compact JSON from crab-can's own tables (plan.rs, security.rs),
//! then indented with tabs like `runc spec`.

use crate::plan::{
    DEFAULT_PATH, DOCKER_CAPS, MASKED_DIRS, MASKED_FILES, MASKED_SYS_DIRS, READONLY_PATHS,
};
use crate::security::CAP_NAMES;

/// The runtime-spec version crab-can implements.
pub const SPEC_VERSION: &str = "1.2.0";

/// `crab-can --version`: exactly one line holds the word "version" and one starts with
/// "commit:" (what dockerd's `docker info` looks for).
pub fn version() -> String {
    let mut s = String::from("crab-can version ");
    s.push_str(env!("CARGO_PKG_VERSION"));
    s.push_str("\ncommit: ");
    s.push_str(env!("CRAB_CAN_COMMIT"));
    s.push_str("\nspec: ");
    s.push_str(SPEC_VERSION);
    s.push('\n');
    s
}

/// `s` appended to `out` (one call where `push_str` would be inlined).
#[inline(never)]
fn put(out: &mut String, s: &str) {
    out.push_str(s);
}

/// `["PREFIXa","PREFIXb"]` from the items of `parts` (plain ASCII names and paths: no
/// escaping needed).
fn list(out: &mut String, prefix: &str, parts: &[&[&str]]) {
    out.push('[');
    for &part in parts {
        for item in part {
            out.push('"');
            put(out, prefix);
            put(out, item);
            put(out, "\",");
        }
    }
    if out.ends_with(',') {
        out.pop();
    }
    out.push(']');
}

/// `{"containerID":0,"hostID":ID,"size":1}` in an array.
fn id_map(out: &mut String, key: &str, id: u32) {
    out.push('"');
    put(out, key);
    put(out, "\":[{\"containerID\":0,\"hostID\":");
    put(out, &id.to_string());
    put(out, ",\"size\":1}],");
}

/// The config.json of `crab-can spec [--rootless]`: a shell in `rootfs` (read-only), with
/// crab-can's docker-like defaults: Docker's capabilities, its masked and read-only
/// kernel paths, private pid, network, ipc, uts, mount and cgroup namespaces.
///
/// Rootless (as `runc spec --rootless`): a user namespace mapping root inside to the
/// caller's effective uid and gid, no network namespace (the caller's), `/sys` bound from
/// the host (sysfs cannot be mounted without a private network namespace), no `gid=`
/// mount options, no cgroup resources.
pub fn default_config(rootless: bool) -> String {
    let mut o = String::with_capacity(2048);
    put(&mut o, "{\"ociVersion\":\"");
    put(&mut o, SPEC_VERSION);
    put(
        &mut o,
        "\",\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],\
         \"env\":[\"PATH=",
    );
    put(&mut o, DEFAULT_PATH);
    put(
        &mut o,
        "\",\"TERM=xterm\"],\"cwd\":\"/\",\"capabilities\":{",
    );
    for &set in &["bounding", "effective", "permitted"] {
        o.push('"');
        put(&mut o, set);
        put(&mut o, "\":");
        list(&mut o, "CAP_", &[&DOCKER_CAPS]);
        o.push(',');
    }
    o.pop();
    put(
        &mut o,
        "},\"noNewPrivileges\":true},\
         \"root\":{\"path\":\"rootfs\",\"readonly\":true},\
         \"hostname\":\"crab-can\",\
         \"mounts\":[\
         {\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},\
         {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\
         \"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},\
         {\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\
         \"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"",
    );
    if !rootless {
        put(&mut o, ",\"gid=5\"");
    }
    put(
        &mut o,
        "]},\
         {\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\
         \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},\
         {\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\
         \"options\":[\"nosuid\",\"noexec\",\"nodev\"]},",
    );
    put(
        &mut o,
        if rootless {
            "{\"destination\":\"/sys\",\"type\":\"none\",\"source\":\"/sys\",\
         \"options\":[\"rbind\",\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
        } else {
            "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\
         \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
        },
    );
    put(
        &mut o,
        "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\
         \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],\
         \"linux\":{",
    );
    if rootless {
        id_map(&mut o, "uidMappings", rustix::process::geteuid().as_raw());
        id_map(&mut o, "gidMappings", rustix::process::getegid().as_raw());
    } else {
        put(
            &mut o,
            "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},",
        );
    }
    put(&mut o, "\"namespaces\":[");
    for &ns in &["pid", "network", "ipc", "uts", "mount", "cgroup", "user"] {
        if (ns == "network" && rootless) || (ns == "user" && !rootless) {
            continue;
        }
        put(&mut o, "{\"type\":\"");
        put(&mut o, ns);
        put(&mut o, "\"},");
    }
    o.pop();
    put(&mut o, "],\"maskedPaths\":");
    list(&mut o, "", &[&MASKED_FILES, &MASKED_DIRS, &MASKED_SYS_DIRS]);
    put(&mut o, ",\"readonlyPaths\":");
    list(&mut o, "", &[&READONLY_PATHS]);
    put(&mut o, "}}");
    pretty(&o)
}

// ---- features: what crab-can promises. Absent = unknown, listed = works: keep every list
// to what the OCI mode really does (CRI turns features on from it). ----------------------

const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount options understood (flags, propagation); anything else is passed as fs data.
const MOUNT_OPTIONS: [&str; 34] = [
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

const NAMESPACES: [&str; 8] = [
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

const SECCOMP_ACTIONS: [&str; 8] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

const SECCOMP_OPERATORS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// The architectures a filter can name: the native one and its compat ABIs.
const SECCOMP_ARCHS: &[&str] = if cfg!(target_arch = "aarch64") {
    &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
} else {
    &["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]
};

/// `crab-can features`.
pub fn features() -> String {
    let mut o = String::with_capacity(2048);
    put(&mut o, "{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"");
    put(&mut o, SPEC_VERSION);
    put(&mut o, "\",\"hooks\":");
    list(&mut o, "", &[&HOOKS]);
    put(&mut o, ",\"mountOptions\":");
    list(&mut o, "", &[&MOUNT_OPTIONS]);
    put(&mut o, ",\"linux\":{\"namespaces\":");
    list(&mut o, "", &[&NAMESPACES]);
    put(&mut o, ",\"capabilities\":");
    list(&mut o, "CAP_", &[&CAP_NAMES]);
    put(
        &mut o,
        ",\"cgroup\":{\"v1\":true,\"v2\":true,\"systemd\":false,\"systemdUser\":false},\
         \"seccomp\":{\"enabled\":true,\"actions\":",
    );
    list(&mut o, "", &[&SECCOMP_ACTIONS]);
    put(&mut o, ",\"operators\":");
    list(&mut o, "", &[&SECCOMP_OPERATORS]);
    put(&mut o, ",\"archs\":");
    list(&mut o, "", &[SECCOMP_ARCHS]);
    put(
        &mut o,
        "},\"apparmor\":{\"enabled\":false},\"selinux\":{\"enabled\":false},\
         \"mountExtensions\":{\"idmap\":{\"enabled\":false}}}}",
    );
    pretty(&o)
}

/// Indent compact JSON with tabs, one member or element a line (as Go's MarshalIndent
/// with "\t"), and end it with a newline. Empty `{}` and `[]` stay on their line.
fn pretty(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_str, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n('\t', depth));
    };
    let bytes = compact.as_bytes();
    for (i, c) in compact.char_indices() {
        if in_str {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if !matches!(bytes.get(i + 1), Some(b'}' | b']')) {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                if !matches!(bytes.get(i.wrapping_sub(1)), Some(b'{' | b'[')) {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => put(&mut out, ": "),
            _ => out.push(c),
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        let v = version();
        let lines: Vec<&str> = v.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            format!("crab-can version {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(lines[1].starts_with("commit: ") && lines[1].len() > 8);
        assert_eq!(lines[2], "spec: 1.2.0");
        assert_eq!(v.matches("version").count(), 1);
        assert!(v.ends_with('\n'));
    }

    #[test]
    fn pretty_indents() {
        assert_eq!(
            pretty(r#"{"a":[1,"x,{y}:\"z"],"b":{},"c":[]}"#),
            "{\n\t\"a\": [\n\t\t1,\n\t\t\"x,{y}:\\\"z\"\n\t],\n\t\"b\": {},\n\t\"c\": []\n}\n"
        );
    }

    #[test]
    fn config_shape() {
        let c = default_config(false);
        assert!(c.starts_with("{\n\t\"ociVersion\": \"1.2.0\",\n\t\"process\": {\n"));
        assert!(c.contains("\"CAP_AUDIT_WRITE\""));
        assert!(!c.contains("CAP_SYS_ADMIN"));
        assert!(c.contains("\"gid=5\""));
        assert!(c.contains("\"type\": \"network\""));
        assert!(c.contains("\"/proc/kcore\""));
        assert!(c.contains("\"/sys/devices/virtual/powercap\""));
        assert!(c.contains("\"/proc/sysrq-trigger\""));
        assert!(!c.contains("uidMappings"));
        assert!(c.contains("\"type\": \"sysfs\""));
        let r = default_config(true);
        assert!(!r.contains("gid=5"));
        assert!(!r.contains("\"network\""));
        assert!(r.contains("\"type\": \"user\""));
        assert!(r.contains("\"rbind\""));
        assert!(!r.contains("resources"));
        let uid = rustix::process::geteuid().as_raw();
        assert!(r.contains(&format!(
            "\"uidMappings\": [\n\t\t\t{{\n\t\t\t\t\"containerID\": 0,\n\t\t\t\t\"hostID\": {uid},"
        )));
        for s in [&c, &r] {
            crate::json::parse(s.as_bytes()).unwrap();
            assert_eq!(s.matches('{').count(), s.matches('}').count());
            assert_eq!(s.matches('[').count(), s.matches(']').count());
            assert!(!s.contains(",\n\t}") && !s.contains(",]"));
        }
    }

    #[test]
    fn features_shape() {
        let f = features();
        crate::json::parse(f.as_bytes()).unwrap();
        assert!(f.contains("\"ociVersionMax\": \"1.2.0\""));
        assert!(f.contains("\"CAP_CHECKPOINT_RESTORE\""));
        assert!(f.contains("\"systemd\": false"));
        assert!(f.contains("\"SCMP_CMP_MASKED_EQ\""));
        assert!(!f.contains("NOTIFY"));
        assert_eq!(f.matches('{').count(), f.matches('}').count());
    }
}
