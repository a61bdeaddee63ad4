//! OCI bundles and runc-style runtimes for tests/oci.rs: a config.json builder (`Config`),
//! a small JSON reader and writer (`Json`), a runtime driven by runc's command line with a
//! private `--root` (`Runtime`), a per-test laboratory that owns the containers it made
//! and removes whatever they left (`Lab`), the "nothing left behind" check
//! (`Lab::leftovers`), a console-socket receiver (`ConsoleSocket`) and an RFC 3339 reader.
//!
//! Runtimes under test: runc (`/usr/sbin/runc`, or `$RUNC`) always; crab-can (`bin()`, i.e.
//! `$CRAB_CAN`) only when `CRAB_CAN_OCI=1` or when `CRAB_CAN_OCI_ALWAYS` below is true.

use super::{Bg, Run, alive, command_for, image, run_command, wait_for};
use std::collections::BTreeSet;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// THE switch: `true` runs every OCI test against crab-can too, without `CRAB_CAN_OCI=1`.
pub const CRAB_CAN_OCI_ALWAYS: bool = true;

/// Whether the OCI tests also run against crab-can.
pub fn crab_can_oci() -> bool {
    CRAB_CAN_OCI_ALWAYS || std::env::var_os("CRAB_CAN_OCI").is_some_and(|v| v == "1")
}

/// `OCI_STRICT_RUNC=1`: hold runc to what OCI.md asks of crab-can only (`Lab::strict`), to
/// see where runc differs.
pub fn strict_runc() -> bool {
    std::env::var_os("OCI_STRICT_RUNC").is_some_and(|v| v == "1")
}

/// The reference runtime: `$RUNC`, else /usr/sbin/runc.
pub fn runc_bin() -> PathBuf {
    std::env::var_os("RUNC").map_or(PathBuf::from("/usr/sbin/runc"), PathBuf::from)
}

/// Which runtimes a test of tests/oci.rs or tests/oci_config.rs is for.
#[derive(Clone, Copy, PartialEq)]
pub enum Who {
    /// runc and crab-can: runc does what OCI.md asks here.
    All,
    /// crab-can only: OCI.md asks something runc 1.1.5 does not do (said at the test).
    CrabCanOnly,
}

/// Run `f` once per runtime under test, each in a fresh `Lab`.
pub fn each(tag: &str, who: Who, f: impl Fn(&Lab)) {
    use std::io::Write;
    // Not eprintln!: the harness captures that for a passing test.
    let note = |m: &str| {
        let _ = writeln!(std::io::stderr().lock(), "NOTE: {tag}: {m}");
    };
    let mut kinds = Vec::new();
    if who == Who::All || strict_runc() {
        if runc_bin().exists() {
            kinds.push(Kind::Runc);
        } else if crab_can_oci() {
            note("runc (the reference) is not installed: crab-can only");
        } else {
            super::skip(tag, "runc is not installed (apt-get install runc)");
        }
    }
    if crab_can_oci() {
        kinds.push(Kind::CrabCan);
    } else if who == Who::CrabCanOnly && !strict_runc() {
        note("crab-can only, and CRAB_CAN_OCI=1 is not set: nothing to run");
    }
    for k in kinds {
        eprintln!("==== {tag} with {}", k.name());
        let lab = Lab::new(tag, k);
        f(&lab);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Runc,
    CrabCan,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Runc => "runc",
            Kind::CrabCan => "crab-can",
        }
    }
}

// ---- JSON ----------------------------------------------------------------------------------

/// A JSON value; numbers are kept as their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// `s` as a JSON string literal.
pub fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A JSON array of strings.
pub fn js_list<S: AsRef<str>>(v: &[S]) -> String {
    let items: Vec<String> = v.iter().map(|s| js(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("JSON: {what} at byte {}", self.i))
    }
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn eat(&mut self, lit: &str) -> bool {
        if self.b[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        self.depth += 1;
        if self.depth > 200 {
            return self.err("nested too deep");
        }
        let v = match self.b.get(self.i) {
            None => return self.err("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if !self.eat("}") {
                    loop {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return self.err("expected a key");
                        }
                        let k = self.string()?;
                        self.ws();
                        if !self.eat(":") {
                            return self.err("expected ':'");
                        }
                        let v = self.value()?;
                        m.push((k, v));
                        self.ws();
                        if self.eat(",") {
                            continue;
                        }
                        if self.eat("}") {
                            break;
                        }
                        return self.err("expected ',' or '}'");
                    }
                }
                Json::Obj(m)
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if !self.eat("]") {
                    loop {
                        a.push(self.value()?);
                        self.ws();
                        if self.eat(",") {
                            continue;
                        }
                        if self.eat("]") {
                            break;
                        }
                        return self.err("expected ',' or ']'");
                    }
                }
                Json::Arr(a)
            }
            Some(b'"') => Json::Str(self.string()?),
            Some(b't') if self.eat("true") => Json::Bool(true),
            Some(b'f') if self.eat("false") => Json::Bool(false),
            Some(b'n') if self.eat("null") => Json::Null,
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number()?,
            Some(_) => return self.err("unexpected character"),
        };
        self.depth -= 1;
        Ok(v)
    }
    fn digits(&mut self) -> usize {
        let s = self.i;
        while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - s
    }
    fn number(&mut self) -> Result<Json, String> {
        let s = self.i;
        self.eat("-");
        if self.eat("0") {
            if self.b.get(self.i).is_some_and(|c| c.is_ascii_digit()) {
                return self.err("leading zero");
            }
        } else if self.digits() == 0 {
            return self.err("bad number");
        }
        if self.eat(".") && self.digits() == 0 {
            return self.err("bad fraction");
        }
        if self.eat("e") || self.eat("E") {
            let _ = self.eat("+") || self.eat("-");
            if self.digits() == 0 {
                return self.err("bad exponent");
            }
        }
        Ok(Json::Num(
            String::from_utf8_lossy(&self.b[s..self.i]).into_owned(),
        ))
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .and_then(|h| u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match h {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return self.err("unterminated escape");
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut u = self.hex4()?;
                            if (0xd800..0xdc00).contains(&u) {
                                if !self.eat("\\u") {
                                    return self.err("lone surrogate");
                                }
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return self.err("bad surrogate pair");
                                }
                                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                            }
                            match char::from_u32(u) {
                                Some(c) => c,
                                None => return self.err("bad code point"),
                            }
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return self.err("control character in a string"),
                c => out.push(c),
            }
        }
        String::from_utf8(out).or_else(|_| self.err("string is not UTF-8"))
    }
}

impl Json {
    /// Parse one JSON document (surrounding white space allowed, nothing else).
    pub fn parse(s: &str) -> Result<Json, String> {
        let mut p = Parser {
            b: s.as_bytes(),
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return p.err("trailing data");
        }
        Ok(v)
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a path of object keys.
    pub fn at(&self, path: &[&str]) -> Option<&Json> {
        path.iter().try_fold(self, |v, k| v.get(k))
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn arr(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// The keys of an object, in order (empty for anything else).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Set the value at a path of object keys, making the objects on the way.
    pub fn set(&mut self, path: &[&str], v: Json) {
        let Some((first, rest)) = path.split_first() else {
            *self = v;
            return;
        };
        if !matches!(self, Json::Obj(_)) {
            *self = Json::Obj(Vec::new());
        }
        let Json::Obj(m) = self else { unreachable!() };
        let i = match m.iter().position(|(k, _)| k == first) {
            Some(i) => i,
            None => {
                m.push((first.to_string(), Json::Null));
                m.len() - 1
            }
        };
        m[i].1.set(rest, v);
    }

    /// Remove the key at a path of object keys (if it is there).
    pub fn remove(&mut self, path: &[&str]) {
        let Some((last, init)) = path.split_last() else {
            return;
        };
        let mut v = self;
        for k in init {
            match v {
                Json::Obj(m) => match m.iter_mut().find(|(kk, _)| kk == k) {
                    Some((_, x)) => v = x,
                    None => return,
                },
                _ => return,
            }
        }
        if let Json::Obj(m) = v {
            m.retain(|(k, _)| k != last);
        }
    }

    /// Compact JSON text.
    pub fn dump(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Num(n) => n.clone(),
            Json::Str(s) => js(s),
            Json::Arr(a) => format!(
                "[{}]",
                a.iter().map(Json::dump).collect::<Vec<_>>().join(",")
            ),
            Json::Obj(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{}:{}", js(k), v.dump()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

// ---- RFC 3339 ------------------------------------------------------------------------------

/// A timestamp read from RFC 3339 text.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// Seconds since the epoch (UTC).
    pub secs: i64,
    pub nanos: u32,
    /// How many digits the fraction had (0: none).
    pub frac_digits: usize,
    /// Whether the zone was `Z`.
    pub utc: bool,
}

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.F…](Z|±HH:MM)`, checked field by field; None if it is not that.
pub fn rfc3339(s: &str) -> Option<Stamp> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = b.get(r)?;
        if !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(t).ok()?.parse().ok()
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-')
        && sep(7, b'-')
        && (sep(10, b'T') || sep(10, b't'))
        && sep(13, b':')
        && sep(16, b':'))
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    let mut frac_digits = 0;
    if sep(i, b'.') {
        i += 1;
        let st = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac_digits = i - st;
        if frac_digits == 0 {
            return None;
        }
        let mut f = String::from_utf8_lossy(&b[st..i.min(st + 9)]).into_owned();
        while f.len() < 9 {
            f.push('0');
        }
        nanos = f.parse().ok()?;
    }
    let (off, utc) = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => (0, true),
        Some(c @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b':') => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            (if *c == b'-' { -o } else { o }, false)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - off;
    Some(Stamp {
        secs,
        nanos,
        frac_digits,
        utc,
    })
}

/// Now, in seconds since the epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

// ---- config.json ---------------------------------------------------------------------------

/// One entry of `mounts`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub dest: String,
    pub typ: String,
    pub source: String,
    pub options: Vec<String>,
}

impl Mount {
    pub fn new(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
        Mount {
            dest: dest.into(),
            typ: typ.into(),
            source: source.into(),
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One entry of `linux.namespaces`: a private one (`path` None) or one joined by path.
#[derive(Debug, Clone)]
pub struct Ns {
    pub kind: String,
    pub path: Option<String>,
}

/// One hook: `hooks.<kind>[]`.
#[derive(Debug, Clone)]
pub struct Hook {
    /// prestart createRuntime createContainer startContainer poststart poststop
    pub kind: String,
    pub path: String,
    pub args: Vec<String>,
    pub env: Option<Vec<String>>,
    pub timeout: Option<u32>,
}

/// The six kinds of hooks, in the order they run.
pub const HOOK_KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A config.json, written by `json()`.
#[derive(Debug, Clone)]
pub struct Config {
    pub oci_version: String,
    pub terminal: bool,
    pub uid: u32,
    pub gid: u32,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// Capabilities given in every set but ambient.
    pub caps: Vec<String>,
    pub no_new_privileges: bool,
    pub root: String,
    pub readonly: bool,
    pub hostname: Option<String>,
    pub mounts: Vec<Mount>,
    pub hooks: Vec<Hook>,
    pub annotations: Vec<(String, String)>,
    pub cgroups_path: Option<String>,
    /// `linux.resources` as JSON text.
    pub resources: Option<String>,
    pub namespaces: Vec<Ns>,
    pub masked: Vec<String>,
    pub readonly_paths: Vec<String>,
}

impl Config {
    /// A minimal valid config: `args` run as root in `/` of the root filesystem at `root`
    /// (read-only), the usual mounts (proc, /dev tmpfs, devpts, /dev/shm, mqueue, sysfs),
    /// private pid, mount, ipc, uts and network namespaces, the usual masked and read-only
    /// paths (one masked path that does not exist: to be skipped silently).
    pub fn new(root: &str, args: &[&str]) -> Config {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Config {
            oci_version: "1.0.2".into(),
            terminal: false,
            uid: 0,
            gid: 0,
            args: s(args),
            env: s(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ]),
            cwd: "/".into(),
            caps: s(&[
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_NET_BIND_SERVICE",
                "CAP_AUDIT_WRITE",
            ]),
            no_new_privileges: true,
            root: root.into(),
            readonly: true,
            hostname: Some("oci-test".into()),
            mounts: vec![
                Mount::new("/proc", "proc", "proc", &[]),
                Mount::new(
                    "/dev",
                    "tmpfs",
                    "tmpfs",
                    &["nosuid", "strictatime", "mode=755", "size=65536k"],
                ),
                Mount::new(
                    "/dev/pts",
                    "devpts",
                    "devpts",
                    &[
                        "nosuid",
                        "noexec",
                        "newinstance",
                        "ptmxmode=0666",
                        "mode=0620",
                        "gid=5",
                    ],
                ),
                Mount::new(
                    "/dev/shm",
                    "tmpfs",
                    "shm",
                    &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
                ),
                Mount::new(
                    "/dev/mqueue",
                    "mqueue",
                    "mqueue",
                    &["nosuid", "noexec", "nodev"],
                ),
                Mount::new(
                    "/sys",
                    "sysfs",
                    "sysfs",
                    &["nosuid", "noexec", "nodev", "ro"],
                ),
            ],
            hooks: Vec::new(),
            annotations: Vec::new(),
            cgroups_path: None,
            resources: None,
            namespaces: ["pid", "network", "ipc", "uts", "mount"]
                .iter()
                .map(|k| Ns {
                    kind: k.to_string(),
                    path: None,
                })
                .collect(),
            masked: s(&[
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/timer_list",
                "/proc/scsi",
                "/sys/firmware",
                "/proc/crab-can-no-such-path",
            ]),
            readonly_paths: s(&[
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]),
        }
    }

    /// Drop the namespace of `kind` (the container shares the runtime's).
    pub fn without_ns(mut self, kind: &str) -> Config {
        self.namespaces.retain(|n| n.kind != kind);
        if kind == "uts" {
            self.hostname = None;
        }
        self
    }

    /// Join the namespace of `kind` at `path` instead of making one.
    pub fn join_ns(mut self, kind: &str, path: &str) -> Config {
        self.namespaces.retain(|n| n.kind != kind);
        self.namespaces.push(Ns {
            kind: kind.into(),
            path: Some(path.into()),
        });
        if kind == "uts" {
            self.hostname = None;
        }
        self
    }

    /// Add a hook.
    pub fn hook(mut self, kind: &str, path: &str, args: &[&str]) -> Config {
        self.hooks.push(Hook {
            kind: kind.into(),
            path: path.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: None,
            timeout: None,
        });
        self
    }

    /// The config.json text.
    pub fn json(&self) -> String {
        let mut o = String::new();
        o.push_str("{\n");
        o.push_str(&format!("  \"ociVersion\": {},\n", js(&self.oci_version)));
        o.push_str("  \"process\": {\n");
        o.push_str(&format!("    \"terminal\": {},\n", self.terminal));
        o.push_str(&format!(
            "    \"user\": {{\"uid\": {}, \"gid\": {}}},\n",
            self.uid, self.gid
        ));
        o.push_str(&format!("    \"args\": {},\n", js_list(&self.args)));
        o.push_str(&format!("    \"env\": {},\n", js_list(&self.env)));
        o.push_str(&format!("    \"cwd\": {},\n", js(&self.cwd)));
        let caps = js_list(&self.caps);
        o.push_str(&format!(
            "    \"capabilities\": {{\"bounding\": {caps}, \"effective\": {caps}, \"permitted\": {caps}}},\n"
        ));
        o.push_str(
            "    \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n",
        );
        o.push_str(&format!(
            "    \"noNewPrivileges\": {}\n",
            self.no_new_privileges
        ));
        o.push_str("  },\n");
        o.push_str(&format!(
            "  \"root\": {{\"path\": {}, \"readonly\": {}}},\n",
            js(&self.root),
            self.readonly
        ));
        if let Some(h) = &self.hostname {
            o.push_str(&format!("  \"hostname\": {},\n", js(h)));
        }
        let mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|m| {
                format!(
                    "    {{\"destination\": {}, \"type\": {}, \"source\": {}, \"options\": {}}}",
                    js(&m.dest),
                    js(&m.typ),
                    js(&m.source),
                    js_list(&m.options)
                )
            })
            .collect();
        o.push_str(&format!("  \"mounts\": [\n{}\n  ],\n", mounts.join(",\n")));
        if !self.hooks.is_empty() {
            let mut kinds: Vec<String> = Vec::new();
            for k in HOOK_KINDS {
                let hs: Vec<String> = self
                    .hooks
                    .iter()
                    .filter(|h| h.kind == k)
                    .map(|h| {
                        let mut e = format!(
                            "{{\"path\": {}, \"args\": {}",
                            js(&h.path),
                            js_list(&h.args)
                        );
                        if let Some(env) = &h.env {
                            e.push_str(&format!(", \"env\": {}", js_list(env)));
                        }
                        if let Some(t) = h.timeout {
                            e.push_str(&format!(", \"timeout\": {t}"));
                        }
                        e.push('}');
                        e
                    })
                    .collect();
                if !hs.is_empty() {
                    kinds.push(format!("    {}: [{}]", js(k), hs.join(", ")));
                }
            }
            o.push_str(&format!("  \"hooks\": {{\n{}\n  }},\n", kinds.join(",\n")));
        }
        if !self.annotations.is_empty() {
            let a: Vec<String> = self
                .annotations
                .iter()
                .map(|(k, v)| format!("{}: {}", js(k), js(v)))
                .collect();
            o.push_str(&format!("  \"annotations\": {{{}}},\n", a.join(", ")));
        }
        o.push_str("  \"linux\": {\n");
        if let Some(p) = &self.cgroups_path {
            o.push_str(&format!("    \"cgroupsPath\": {},\n", js(p)));
        }
        if let Some(r) = &self.resources {
            o.push_str(&format!("    \"resources\": {r},\n"));
        }
        let ns: Vec<String> = self
            .namespaces
            .iter()
            .map(|n| match &n.path {
                None => format!("{{\"type\": {}}}", js(&n.kind)),
                Some(p) => format!("{{\"type\": {}, \"path\": {}}}", js(&n.kind), js(p)),
            })
            .collect();
        o.push_str(&format!("    \"namespaces\": [{}],\n", ns.join(", ")));
        o.push_str(&format!(
            "    \"maskedPaths\": {},\n",
            js_list(&self.masked)
        ));
        o.push_str(&format!(
            "    \"readonlyPaths\": {}\n",
            js_list(&self.readonly_paths)
        ));
        o.push_str("  }\n}\n");
        o
    }
}

// ---- the runtime ---------------------------------------------------------------------------

/// A runtime driven by runc's command line; every call passes `--root root` first.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub kind: Kind,
    pub bin: PathBuf,
    pub root: PathBuf,
}

impl Runtime {
    /// `bin --root ROOT ARGS...`: stdin /dev/null, stdout and stderr piped, cwd `cwd`.
    pub fn cmd(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut a: Vec<&str> = vec!["--root", self.root.to_str().unwrap()];
        a.extend_from_slice(args);
        let mut c = command_for(&self.bin, &a);
        c.current_dir(cwd);
        c
    }
}

/// Run a prepared command whose stdout and stderr go to the files `<out>.stdout` and
/// `<out>.stderr` (for `create` and `run`: the container inherits them, so pipes would stay
/// open), bounded to 60 s.
pub fn run_to_files(mut c: Command, out: &Path) -> Run {
    let so = out.with_extension("stdout");
    let se = out.with_extension("stderr");
    c.stdout(Stdio::from(fs::File::create(&so).unwrap()))
        .stderr(Stdio::from(fs::File::create(&se).unwrap()));
    let mut r = Bg::start(c).wait();
    r.stdout = fs::read_to_string(&so).unwrap_or_default();
    r.stderr = fs::read_to_string(&se).unwrap_or_default();
    r
}

// ---- the laboratory ------------------------------------------------------------------------

/// One test against one runtime: a private directory (bundles, the runtime's `--root`, the
/// files bound into containers), a private cgroup parent (`/crab-can-oci-test-PID-TAG-RT`
/// under every hierarchy), and the ids of the containers it made. Dropping it force-deletes
/// them and removes anything they left: processes of its cgroups, the cgroups, mounts under
/// its directory, the directory.
pub struct Lab {
    pub rt: Runtime,
    pub tag: String,
    pub dir: PathBuf,
    /// The cgroup parent of this lab's containers, e.g. `/crab-can-oci-test-123-kill-runc`.
    pub cg_parent: String,
    ids: Mutex<Vec<String>>,
    n: Mutex<u32>,
}

/// Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, named ones, unified;
/// or the one v2 tree).
pub fn hierarchies() -> Vec<PathBuf> {
    if super::fs_magic(super::CG) == Some(super::CGROUP2_MAGIC) {
        return vec![PathBuf::from(super::CG)];
    }
    let mut v: Vec<PathBuf> = fs::read_dir(super::CG)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    !p.is_symlink()
                        && matches!(
                            super::fs_magic(p.to_str().unwrap_or("")),
                            Some(super::CGROUP1_MAGIC) | Some(super::CGROUP2_MAGIC)
                        )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Directories below `dir`, deepest first.
fn subdirs_deepest_first(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(subdirs_deepest_first(&e.path()));
                out.push(e.path());
            }
        }
    }
    out
}

fn pids_in(cg: &Path) -> Vec<i32> {
    fs::read_to_string(cg.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Kill every process of the cgroup tree at `top` (thawing it first) and remove it.
fn remove_cgroup_tree(top: &Path) {
    if !top.is_dir() {
        return;
    }
    let mut dirs = subdirs_deepest_first(top);
    dirs.push(top.to_path_buf());
    for d in &dirs {
        if d.join("freezer.state").exists() {
            let _ = fs::write(d.join("freezer.state"), "THAWED");
        }
        if d.join("cgroup.freeze").exists() {
            let _ = fs::write(d.join("cgroup.freeze"), "0");
        }
    }
    for _ in 0..100 {
        // Listed again each time: a cgroup made below after the first listing (a runtime
        // still finishing) must not keep its parent forever.
        let mut dirs = subdirs_deepest_first(top);
        dirs.push(top.to_path_buf());
        let mut left = false;
        for d in &dirs {
            for p in pids_in(d) {
                super::kill(p, libc::SIGKILL);
            }
            if d.exists() && fs::remove_dir(d).is_err() {
                left = true;
            }
        }
        if !left {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Unmount (lazily) every mount of this process's namespace at or below `dir`.
fn unmount_below(dir: &Path) {
    let d = dir.to_str().unwrap_or("/nonexistent");
    let mut points: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p == d || p.starts_with(&format!("{d}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: umount2 with a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Lab {
    pub fn new(tag: &str, kind: Kind) -> Lab {
        super::require_root();
        let _ = image();
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("crab-can-oci-{pid}-{tag}-{}", kind.name()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        let bin = match kind {
            Kind::Runc => runc_bin(),
            Kind::CrabCan => super::bin(),
        };
        Lab {
            rt: Runtime { kind, bin, root },
            tag: tag.into(),
            cg_parent: format!("/crab-can-oci-test-{pid}-{tag}-{}", kind.name()),
            dir,
            ids: Mutex::new(Vec::new()),
            n: Mutex::new(0),
        }
    }

    pub fn is_crab(&self) -> bool {
        self.rt.kind == Kind::CrabCan
    }

    /// What a `create` killed right after taking `id` leaves in the root: runc's empty
    /// directory, crab-can's empty claim file.
    pub fn half_made(&self, id: &str) {
        fs::create_dir_all(&self.rt.root).unwrap();
        let e = self.rt.root.join(id);
        match self.rt.kind {
            Kind::Runc => fs::create_dir_all(e).unwrap(),
            Kind::CrabCan => drop(fs::File::create(e).unwrap()),
        }
    }

    /// Whether to check what OCI.md asks beyond runc 1.1.5: for crab-can, and for runc
    /// with `OCI_STRICT_RUNC=1`.
    pub fn strict(&self) -> bool {
        self.is_crab() || strict_runc()
    }

    /// Remember `id` for the clean-up.
    pub fn own(&self, id: &str) {
        let mut v = self.ids.lock().unwrap();
        if !v.iter().any(|x| x == id) {
            v.push(id.to_string());
        }
    }

    /// A new container id of this lab (`PFX<n>-<test pid>`: unique on the host, as the
    /// leftover check also looks for top-level cgroups of that name), owned.
    pub fn id(&self, pfx: &str) -> String {
        let mut n = self.n.lock().unwrap();
        *n += 1;
        let id = format!("{pfx}{}-{}", *n, std::process::id());
        self.own(&id);
        id
    }

    /// The unique word in every process command line of container `id`.
    pub fn marker(&self, id: &str) -> String {
        format!(
            "ocimark-{}-{}-{}-{id}",
            std::process::id(),
            self.tag,
            self.rt.kind.name()
        )
    }

    /// The container's cgroupsPath: `<cg_parent>/<id>`.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("{}/{id}", self.cg_parent)
    }

    /// The directory bound at `/tmp` in container `id` (made on first use).
    pub fn io(&self, id: &str) -> PathBuf {
        let d = self.dir.join(format!("io-{id}"));
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// The bundle directory of container `id` (made on first use).
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        let d = self.dir.join(format!("bundle-{id}"));
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// The default config of container `id`: `/bin/sh -c SCRIPT MARKER` on the shared
    /// read-only image, its io directory bound read-write at `/tmp`, cgroupsPath in this
    /// lab's parent.
    pub fn config(&self, id: &str, script: &str) -> Config {
        let m = self.marker(id);
        let mut c = Config::new(image().to_str().unwrap(), &["/bin/sh", "-c", script, &m]);
        c.mounts.push(Mount::new(
            "/tmp",
            "bind",
            self.io(id).to_str().unwrap(),
            &["rbind", "rw"],
        ));
        c.cgroups_path = Some(self.cgroups_path(id));
        c
    }

    /// A script that stays until SIGTERM (or SIGKILL); `/tmp/ready` says its trap is set
    /// (before that, SIGTERM to a pid namespace's init is dropped).
    pub const SLEEPER: &'static str =
        "trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 1 & wait; done";

    /// Wait (up to 10 s) for container `id`'s script to touch /tmp/ready.
    #[track_caller]
    pub fn wait_ready(&self, id: &str) {
        let f = self.io(id).join("ready");
        assert!(
            wait_for(10, || f.exists()),
            "{id} did not get ready within 10 s"
        );
    }

    /// Create and start container `id` running `SLEEPER`, ready for SIGTERM; the bundle.
    #[track_caller]
    pub fn sleeper(&self, id: &str) -> PathBuf {
        let b = self.up(id, Self::SLEEPER);
        self.wait_ready(id);
        b
    }

    /// Write `cfg` as the config.json of container `id`'s bundle; the bundle's path.
    pub fn bundle(&self, id: &str, cfg: &Config) -> PathBuf {
        self.bundle_text(id, &cfg.json())
    }

    /// Write `text` as the config.json of container `id`'s bundle.
    pub fn bundle_text(&self, id: &str, text: &str) -> PathBuf {
        let b = self.bundle_dir(id);
        fs::write(b.join("config.json"), text).unwrap();
        b
    }

    /// `RUNTIME --root R ARGS...` in the lab's directory, stdout/stderr piped.
    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.rt.cmd(&self.dir, args))
    }

    /// Like `run`, stdout/stderr into files (for commands whose container inherits them).
    pub fn run_files(&self, args: &[&str]) -> Run {
        let n = {
            let mut n = self.n.lock().unwrap();
            *n += 1;
            *n
        };
        run_to_files(
            self.rt.cmd(&self.dir, args),
            &self.dir.join(format!("out-{n}")),
        )
    }

    /// `create --bundle B --pid-file B/init.pid ID`.
    pub fn create(&self, id: &str, bundle: &Path) -> Run {
        self.own(id);
        let pf = bundle.join("init.pid");
        self.run_files(&[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pf.to_str().unwrap(),
            id,
        ])
    }

    /// Write the bundle, create and check it succeeded; the bundle.
    #[track_caller]
    pub fn create_ok(&self, id: &str, cfg: &Config) -> PathBuf {
        let b = self.bundle(id, cfg);
        let r = self.create(id, &b);
        assert_eq!(
            r.code,
            0,
            "{} create {id}: {}",
            self.rt.kind.name(),
            super::show(&r)
        );
        b
    }

    /// Create and start container `id` running `script`; the bundle.
    #[track_caller]
    pub fn up(&self, id: &str, script: &str) -> PathBuf {
        let b = self.create_ok(id, &self.config(id, script));
        let r = self.run(&["start", id]);
        assert_eq!(r.code, 0, "start {id}: {}", super::show(&r));
        b
    }

    /// The pid file `B/init.pid` as written by `create`.
    pub fn pid_file(&self, bundle: &Path) -> i32 {
        let s = fs::read_to_string(bundle.join("init.pid")).unwrap_or_default();
        s.parse()
            .unwrap_or_else(|_| panic!("pid file {:?} is not a pid", s))
    }

    /// `state ID`, parsed; None when the runtime fails.
    pub fn state(&self, id: &str) -> Option<Json> {
        let r = self.run(&["state", id]);
        if r.code != 0 {
            return None;
        }
        Some(
            Json::parse(&r.stdout)
                .unwrap_or_else(|e| panic!("state {id} printed no JSON ({e}): {:?}", r.stdout)),
        )
    }

    /// The `status` of `state ID` ("" when the runtime fails).
    pub fn status(&self, id: &str) -> String {
        self.state(id)
            .and_then(|s| s.get("status").and_then(Json::str).map(str::to_string))
            .unwrap_or_default()
    }

    /// Wait up to `secs` for `state ID` to say `want`.
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str, secs: u64) {
        let mut last = String::new();
        let ok = wait_for(secs, || {
            last = self.status(id);
            last == want
        });
        assert!(ok, "{id}: status {last:?} after {secs} s, want {want:?}");
    }

    /// The host pids of container `id`'s cgroup (from the first hierarchy that has it).
    pub fn cgroup_pids(&self, id: &str) -> Vec<i32> {
        let rel = self.cgroups_path(id);
        for h in hierarchies() {
            let d = h.join(rel.trim_start_matches('/'));
            if d.join("cgroup.procs").exists() {
                return pids_in(&d);
            }
        }
        Vec::new()
    }

    /// Running processes whose command line holds container `id`'s marker.
    pub fn marked_processes(&self, id: &str) -> Vec<i32> {
        let m = self.marker(id);
        super::procs()
            .into_iter()
            .filter(|p| alive(p.pid))
            .filter(|p| {
                let c = super::cmdline(p.pid);
                c.windows(m.len()).any(|w| w == m.as_bytes())
            })
            .map(|p| p.pid)
            .collect()
    }

    /// What container `id` left behind: an entry in the runtime's root, a cgroup named after
    /// it (in this lab's parent or at the top of a hierarchy), a running process with its
    /// marker or in its cgroup, a mount under the lab's directory or of the image.
    pub fn leftovers(&self, id: &str) -> Vec<String> {
        let mut v = Vec::new();
        // runc's directory `ID`; crab-can's claim `ID`, its files `ID:NAME`, their
        // `.ID:NAME.crab-can` while written, and the start socket of a long ID `.INODE:start`.
        if let Ok(rd) = fs::read_dir(&self.rt.root) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let tmp_gate = n.strip_prefix('.').and_then(|r| r.strip_suffix(":start"));
                if n == id
                    || n.starts_with(&format!("{id}:"))
                    || n.starts_with(&format!(".{id}:"))
                    || tmp_gate
                        .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
                {
                    v.push(format!("state entry {}", e.path().display()));
                }
            }
        }
        let rel = self.cgroups_path(id);
        for h in hierarchies() {
            for d in [h.join(rel.trim_start_matches('/')), h.join(id)] {
                if d.exists() {
                    v.push(format!("cgroup {}", d.display()));
                }
            }
        }
        for p in self.marked_processes(id) {
            v.push(format!(
                "process {p} {:?}",
                String::from_utf8_lossy(&super::cmdline(p))
            ));
        }
        let cg_suffix = format!("{rel}\n");
        let cg_top = format!(":/{id}\n");
        for p in super::procs() {
            if !alive(p.pid) {
                continue;
            }
            let cg = fs::read_to_string(format!("/proc/{}/cgroup", p.pid)).unwrap_or_default();
            if cg.lines().any(|l| {
                let l = format!("{l}\n");
                l.ends_with(&cg_suffix) || l.ends_with(&cg_top)
            }) {
                v.push(format!("process {} ({}) in its cgroup", p.pid, p.comm));
            }
        }
        let d = self.dir.to_str().unwrap();
        let img = image().to_str().unwrap();
        for l in fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
        {
            if l.contains(d) || l.split(' ').nth(4).is_some_and(|mp| mp.starts_with(img)) {
                v.push(format!("mount {l}"));
            }
        }
        v
    }

    /// Nothing of container `id` is left (waiting up to 5 s for dying processes).
    #[track_caller]
    pub fn assert_gone(&self, id: &str) {
        let mut left = Vec::new();
        let ok = wait_for(5, || {
            left = self.leftovers(id);
            left.is_empty()
        });
        assert!(
            ok,
            "{}: container {id} left behind:\n  {}",
            self.rt.kind.name(),
            left.join("\n  ")
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let ids: Vec<String> = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        for id in &ids {
            let mut c = self.rt.cmd(&self.dir, &["delete", "--force", id]);
            c.stdout(Stdio::null()).stderr(Stdio::null());
            let _ = Bg::start(c).wait_bounded(20);
            for p in self.marked_processes(id) {
                super::kill(p, libc::SIGKILL);
            }
        }
        for h in hierarchies() {
            remove_cgroup_tree(&h.join(self.cg_parent.trim_start_matches('/')));
        }
        unmount_below(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---- the console socket --------------------------------------------------------------------

/// The caller's end of `--console-socket`: a listening AF_UNIX stream socket at a path.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

/// What came over the console socket.
pub struct Console {
    /// The first fd received (the pty master).
    pub master: OwnedFd,
    /// How many fds came in SCM_RIGHTS messages.
    pub nfds: usize,
    pub payload: Vec<u8>,
}

impl ConsoleSocket {
    pub fn bind(path: &Path) -> ConsoleSocket {
        let _ = fs::remove_file(path);
        let listener = UnixListener::bind(path).unwrap();
        ConsoleSocket {
            path: path.to_path_buf(),
            listener,
        }
    }

    /// The connection and its one message, already there (no waiting): what the runtime
    /// must have sent before `create` exited.
    pub fn take_now(&self) -> Result<Console, String> {
        self.listener.set_nonblocking(true).unwrap();
        let (conn, _) = self
            .listener
            .accept()
            .map_err(|e| format!("no connection on the console socket: {e}"))?;
        let mut payload = vec![0u8; 8192];
        let mut cbuf = [0u64; 64]; // 512 bytes of aligned control space
        let mut iov = libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        // SAFETY: a zeroed msghdr is valid; its pointers are set to live buffers below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        // SAFETY: recvmsg into the buffers described by msg, all alive for the call.
        let n = unsafe {
            libc::recvmsg(
                conn.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if n < 0 {
            return Err(format!(
                "no message on the console socket: {}",
                std::io::Error::last_os_error()
            ));
        }
        payload.truncate(n as usize);
        let mut fds: Vec<OwnedFd> = Vec::new();
        // SAFETY: walking the control messages recvmsg filled in, with the libc macros.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c) as *const i32;
                    let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    for i in 0..len / 4 {
                        fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err("control data truncated: too many fds".into());
        }
        let nfds = fds.len();
        let master = fds
            .into_iter()
            .next()
            .ok_or_else(|| "no fd in the console socket's message".to_string())?;
        Ok(Console {
            master,
            nfds,
            payload,
        })
    }
}

/// Whether `fd` is a pty master (TIOCGPTN works on it).
pub fn is_pty_master(fd: &OwnedFd) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) == 0 }
}

/// Write all of `b` to `fd`.
pub fn write_fd(fd: &OwnedFd, b: &[u8]) {
    let mut off = 0;
    while off < b.len() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd.as_raw_fd(), b[off..].as_ptr().cast(), b.len() - off) };
        assert!(n > 0, "write: {}", std::io::Error::last_os_error());
        off += n as usize;
    }
}

/// Read `fd` until EOF or EIO (the pty's last slave closed) or `until` returns true on
/// what was read, at most `secs`.
pub fn read_fd_until(fd: &OwnedFd, secs: u64, until: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    loop {
        if until(&out) {
            return out;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().clamp(1, 60_000) as i32) };
        if r <= 0 {
            continue;
        }
        let mut b = [0u8; 4096];
        // SAFETY: reading into a live buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&b[..n as usize]);
    }
}

// ---- small things --------------------------------------------------------------------------

/// The namespace link of a process (`net:[4026531840]`), "" if gone.
pub fn ns_link(pid: i32, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The lines of a file ("" if missing).
pub fn lines_of(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A set of strings.
pub fn set_of<S: AsRef<str>>(v: &[S]) -> BTreeSet<String> {
    v.iter().map(|s| s.as_ref().to_string()).collect()
}
