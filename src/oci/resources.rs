//! OCI `linux.resources` (config.json, and `update --resources`) read into the limits of
//! the container's cgroup. Every key read is applied or refused with its JSON path; keys
//! the spec has and crab-can does not read are none of these. A zero or empty value is
//! "not set", as runc reads it (`"shares": 0`, `"cpus": ""`, `"blockIO": {}` are stubs
//! that callers send), and -1 is "no limit".

use crate::cgroup::{self, Amount, Limits, Throttle};
use crate::devices::{self, Kind, Rule};
use crate::error::{Error, Result};
use crate::json::At;

/// The limits `at` (the `linux.resources` object; null or absent reads as `{}`) asks for.
/// The device rules are always set: those given, then the devices every container gets
/// (`devices::with_defaults`), as runc does.
pub fn parse(at: At<'_>) -> Result<Limits> {
    let mut l = Limits::default();
    let mut rules = Vec::new();
    if let Some(d) = at.get("devices")? {
        for r in d.array()? {
            rules.push(device(&r)?);
        }
    }
    l.devices = Some(devices::with_defaults(rules));
    if let Some(m) = at.get("memory")? {
        memory(&m, &mut l)?;
    }
    if let Some(c) = at.get("cpu")? {
        cpu(&c, &mut l)?;
    }
    if let Some(p) = at.get("pids")? {
        if let Some(v) = p.get("limit")? {
            // 0 is unset (runc); any negative, no limit.
            l.pids = match v.i64()? {
                0 => None,
                n if n < 0 => Some(Amount::Max),
                n => Some(Amount::Of(n as u64)),
            };
        }
    }
    if let Some(h) = at.get("hugepageLimits")? {
        for e in h.array()? {
            let size = match e.get("pageSize")? {
                Some(s) => (s.str()?, s),
                None => return Err(e.error("pageSize is missing")),
            };
            let ok = !size.0.is_empty()
                && size.0.len() <= 16
                && size.0.bytes().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                return Err(size.1.error(format_args!(
                    "'{}' is not a page size (such as 2MB or 1GB)",
                    size.0
                )));
            }
            let limit = e.u64_or("limit", 0)?;
            l.hugepages.push((size.0.to_string(), limit));
        }
    }
    if let Some(b) = at.get("blockIO")? {
        block_io(&b, &mut l)?;
    }
    if let Some(n) = at.get("network")? {
        let class = n.u32_or("classID", 0)?;
        let prios = match n.get("priorities")? {
            Some(p) => p.array()?.len(),
            None => 0,
        };
        if class != 0 || prios != 0 {
            return Err(unsupported(&n));
        }
    }
    if let Some(r) = at.get("rdma")? {
        if !r.object()?.is_empty() {
            return Err(unsupported(&r));
        }
    }
    if let Some(u) = at.get("unified")? {
        for (k, v) in u.object()? {
            // A control file of the container's own directory; not the files that move
            // processes in (a host process into the container's cgroup) or kill them.
            let ok = !k.is_empty()
                && !k.contains('/')
                && k.contains('.')
                && !k.starts_with('.')
                && !matches!(k, "cgroup.procs" | "cgroup.threads" | "cgroup.kill");
            if !ok {
                return Err(
                    v.error("not a cgroup v2 control file of the container's own that can be set")
                );
            }
            l.unified.push((k.to_string(), v.str()?.to_string()));
        }
    }
    cgroup::swap_v2(l.memory, l.memory_swap)?;
    Ok(l)
}

fn unsupported(at: &At<'_>) -> Error {
    Error::msg(format_args!("{} is not supported", at.path))
}

/// A byte limit: 0 unset, -1 none.
fn amount(at: &At<'_>) -> Result<Option<Amount>> {
    match at.i64()? {
        0 => Ok(None),
        -1 => Ok(Some(Amount::Max)),
        n if n > 0 => Ok(Some(Amount::Of(n as u64))),
        n => Err(at.error(format_args!("{n} is not a limit (-1 is no limit)"))),
    }
}

#[inline(never)]
fn memory(m: &At<'_>, l: &mut Limits) -> Result<()> {
    if let Some(v) = m.get("limit")? {
        l.memory = amount(&v)?;
    }
    if let Some(v) = m.get("reservation")? {
        l.memory_low = amount(&v)?;
    }
    if let Some(v) = m.get("swap")? {
        l.memory_swap = amount(&v)?;
    }
    for &key in &["kernel", "kernelTCP"] {
        if let Some(v) = m.get(key)? {
            if v.i64()? != 0 {
                crate::error::warn(&format!(
                    "{} is ignored: kernel memory limits are deprecated (runc ignores them too)",
                    v.path
                ));
            }
        }
    }
    if let Some(v) = m.get("swappiness")? {
        let s = v.u64()?;
        if s > 100 {
            return Err(v.error(format_args!("{s} is out of range (0 to 100)")));
        }
        l.swappiness = Some(s);
    }
    if let Some(v) = m.get("disableOOMKiller")? {
        l.oom_kill_disable = v.bool()?;
    }
    Ok(())
}

#[inline(never)]
fn cpu(c: &At<'_>, l: &mut Limits) -> Result<()> {
    let nonzero = |key: &str| -> Result<Option<u64>> {
        Ok(match c.get(key)? {
            Some(v) => Some(v.u64()?).filter(|&n| n != 0),
            None => None,
        })
    };
    l.cpu_shares = nonzero("shares")?;
    l.cpu_period = nonzero("period")?;
    l.cpu_burst = nonzero("burst")?;
    if let Some(v) = c.get("quota")? {
        l.cpu_quota = match v.i64()? {
            0 => None,
            n if n < 0 => Some(Amount::Max),
            n => Some(Amount::Of(n as u64)),
        };
    }
    if let Some(v) = c.get("idle")? {
        l.cpu_idle = Some(v.i64()?).filter(|&n| n != 0);
    }
    for &key in &["realtimeRuntime", "realtimePeriod"] {
        if let Some(v) = c.get(key)? {
            if v.i64()? != 0 {
                return Err(unsupported(&v));
            }
        }
    }
    for (key, slot) in [("cpus", &mut l.cpus), ("mems", &mut l.mems)] {
        if let Some(v) = c.get(key)? {
            let s = v.str()?;
            let ok = s
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b',' || b == b'-' || b == b' ');
            if !ok {
                return Err(v.error(format_args!(
                    "'{s}' is not a list of numbers and ranges (such as 0-3,6)"
                )));
            }
            *slot = Some(s.trim().to_string()).filter(|s| !s.is_empty());
        }
    }
    Ok(())
}

#[inline(never)]
fn block_io(b: &At<'_>, l: &mut Limits) -> Result<()> {
    for &key in &["weight", "leafWeight"] {
        if let Some(v) = b.get(key)? {
            if v.u64()? != 0 {
                return Err(unsupported(&v));
            }
        }
    }
    if let Some(v) = b.get("weightDevice")? {
        if !v.array()?.is_empty() {
            return Err(unsupported(&v));
        }
    }
    const KEYS: [&str; 4] = [
        "throttleReadBpsDevice",
        "throttleWriteBpsDevice",
        "throttleReadIOPSDevice",
        "throttleWriteIOPSDevice",
    ];
    for (which, key) in KEYS.iter().enumerate() {
        let Some(list) = b.get(key)? else {
            continue;
        };
        for d in list.array()? {
            let num = |k: &str| -> Result<u32> {
                match d.get(k)? {
                    Some(v) => v.u32(),
                    None => Err(d.error(format_args!("{k} is missing"))),
                }
            };
            l.throttles.push(Throttle {
                which: which as u8,
                major: num("major")?,
                minor: num("minor")?,
                rate: d.u64_or("rate", 0)?,
            });
        }
    }
    Ok(())
}

/// One `linux.resources.devices` rule.
#[inline(never)]
fn device(r: &At<'_>) -> Result<Rule> {
    let allow = match r.get("allow")? {
        Some(v) => v.bool()?,
        None => false,
    };
    let kind = match r.get("type")? {
        None => Kind::All,
        Some(t) => match t.str()? {
            "" | "a" => Kind::All,
            "c" => Kind::Char,
            "b" => Kind::Block,
            other => return Err(t.error(format_args!("'{other}' is not a, b or c"))),
        },
    };
    let number = |k: &str| -> Result<Option<u32>> {
        let Some(v) = r.get(k)? else {
            return Ok(None);
        };
        match v.i64()? {
            -1 => Ok(None),
            _ => v.u32().map(Some),
        }
    };
    let access = match r.get("access")? {
        Some(a) => {
            let s = a.str()?;
            let mut bits = 0;
            for c in s.bytes() {
                bits |= match c {
                    b'r' => devices::READ,
                    b'w' => devices::WRITE,
                    b'm' => devices::MKNOD,
                    _ => {
                        return Err(a.error(format_args!("'{s}' is not a set of r, w and m")));
                    }
                };
            }
            if bits == 0 {
                return Err(a.error("cannot be empty (give some of r, w and m)"));
            }
            bits
        }
        None => return Err(r.error("access is missing (give some of r, w and m)")),
    };
    Ok(Rule {
        allow,
        kind,
        major: number("major")?,
        minor: number("minor")?,
        access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    /// `linux.resources` = `res`.
    fn read(res: &str) -> Result<Limits> {
        let text = format!(r#"{{"ociVersion":"1.2.0","linux":{{"resources":{res}}}}}"#);
        let v = json::parse(text.as_bytes()).expect("test JSON");
        let linux = At::root(&v).get("linux").unwrap().unwrap();
        match linux.get("resources")? {
            Some(r) => parse(r),
            None => parse(At::root(&json::Value::Null)),
        }
    }

    fn err(res: &str) -> String {
        match read(res) {
            Ok(_) => panic!("accepted: {res}"),
            Err(e) => e.msg.clone(),
        }
    }

    fn defaults() -> Vec<Rule> {
        devices::with_defaults(Vec::new())
    }

    #[test]
    fn empty_and_stubs_are_unset() {
        let none = Limits {
            devices: Some(defaults()),
            ..Limits::default()
        };
        assert_eq!(read("null").unwrap(), none);
        assert_eq!(read("{}").unwrap(), none);
        // What Docker, containerd and podman send when nothing is limited.
        let stubs = r#"{
            "memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0,
                       "disableOOMKiller": false},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "burst": 0, "idle": 0,
                    "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""},
            "pids": {"limit": 0},
            "blockIO": {"weight": 0, "leafWeight": 0, "weightDevice": [],
                        "throttleReadBpsDevice": null},
            "hugepageLimits": [],
            "network": {"classID": 0, "priorities": []},
            "rdma": {},
            "unified": {},
            "unknownKey": {"whatever": 1}
        }"#;
        assert_eq!(read(stubs).unwrap(), none);
    }

    #[test]
    fn limits() {
        let l = read(
            r#"{
            "memory": {"limit": 134217728, "reservation": 67108864, "swap": 268435456,
                       "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 200000, "burst": 1000,
                    "idle": 1, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 100},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 10}]},
            "unified": {"memory.high": "100000000", "io.max": "8:0 rbps=1\n8:16 wbps=2"}
        }"#,
        )
        .unwrap();
        assert_eq!(l.memory, Some(Amount::Of(128 << 20)));
        assert_eq!(l.memory_low, Some(Amount::Of(64 << 20)));
        assert_eq!(l.memory_swap, Some(Amount::Of(256 << 20)));
        assert_eq!(l.swappiness, Some(10));
        assert!(l.oom_kill_disable);
        assert_eq!(l.cpu_shares, Some(512));
        assert_eq!(l.cpu_quota, Some(Amount::Of(50_000)));
        assert_eq!(l.cpu_period, Some(200_000));
        assert_eq!(l.cpu_burst, Some(1000));
        assert_eq!(l.cpu_idle, Some(1));
        assert_eq!(l.cpus.as_deref(), Some("0-1"));
        assert_eq!(l.mems.as_deref(), Some("0"));
        assert_eq!(l.pids, Some(Amount::Of(100)));
        assert_eq!(l.hugepages, [("2MB".to_string(), 4 << 20)]);
        assert_eq!(
            l.throttles,
            [
                Throttle {
                    which: 0,
                    major: 8,
                    minor: 0,
                    rate: 1 << 20
                },
                Throttle {
                    which: 3,
                    major: 8,
                    minor: 16,
                    rate: 10
                }
            ]
        );
        assert_eq!(l.unified.len(), 2);
        assert_eq!(l.unified[1].0, "io.max");
    }

    #[test]
    fn minus_one_is_no_limit() {
        let l = read(
            r#"{"memory": {"limit": -1, "swap": -1, "reservation": -1},
                "cpu": {"quota": -1}, "pids": {"limit": -1}}"#,
        )
        .unwrap();
        assert_eq!(l.memory, Some(Amount::Max));
        assert_eq!(l.memory_swap, Some(Amount::Max));
        assert_eq!(l.memory_low, Some(Amount::Max));
        assert_eq!(l.cpu_quota, Some(Amount::Max));
        assert_eq!(l.pids, Some(Amount::Max));
        // Unlimited memory, a swap total: fine (swap as given).
        assert!(read(r#"{"memory": {"limit": -1, "swap": 100}}"#).is_ok());
    }

    #[test]
    fn errors_name_the_path() {
        for (res, want) in [
            (
                r#"{"memory": {"limit": -2}}"#,
                "linux.resources.memory.limit: -2 is not a limit (-1 is no limit)",
            ),
            (
                r#"{"memory": {"limit": "1g"}}"#,
                "linux.resources.memory.limit: expected a number",
            ),
            (
                r#"{"memory": {"limit": 100, "swap": 50}}"#,
                "linux.resources.memory.swap: 50 is below the memory limit (100); swap is the limit of memory and swap together",
            ),
            (
                r#"{"memory": {"swap": 50}}"#,
                "linux.resources.memory.swap: a swap limit needs a memory limit (linux.resources.memory.limit)",
            ),
            (
                r#"{"memory": {"swappiness": 101}}"#,
                "linux.resources.memory.swappiness: 101 is out of range (0 to 100)",
            ),
            (
                r#"{"cpu": {"shares": -2}}"#,
                "linux.resources.cpu.shares: -2 is out of range",
            ),
            (
                r#"{"cpu": {"cpus": "0-1;rm"}}"#,
                "linux.resources.cpu.cpus: '0-1;rm' is not a list of numbers and ranges (such as 0-3,6)",
            ),
            (
                r#"{"cpu": {"realtimeRuntime": 950000}}"#,
                "linux.resources.cpu.realtimeRuntime is not supported",
            ),
            (
                r#"{"pids": {"limit": 1.5}}"#,
                "linux.resources.pids.limit: 1.5 is not an integer",
            ),
            (
                r#"{"blockIO": {"weight": 500}}"#,
                "linux.resources.blockIO.weight is not supported",
            ),
            (
                r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}}"#,
                "linux.resources.blockIO.weightDevice is not supported",
            ),
            (
                r#"{"blockIO": {"throttleReadBpsDevice": [{"minor": 0, "rate": 1}]}}"#,
                "linux.resources.blockIO.throttleReadBpsDevice[0]: major is missing",
            ),
            (
                r#"{"network": {"classID": 1048577}}"#,
                "linux.resources.network is not supported",
            ),
            (
                r#"{"rdma": {"mlx5_1": {"hcaHandles": 3}}}"#,
                "linux.resources.rdma is not supported",
            ),
            (
                r#"{"hugepageLimits": [{"pageSize": "../2MB", "limit": 1}]}"#,
                "linux.resources.hugepageLimits[0].pageSize: '../2MB' is not a page size (such as 2MB or 1GB)",
            ),
            (
                r#"{"unified": {"cgroup.procs": "1"}}"#,
                "linux.resources.unified[\"cgroup.procs\"]: not a cgroup v2 control file of the container's own that can be set",
            ),
            (
                r#"{"unified": {"../memory.max": "1"}}"#,
                "linux.resources.unified[\"../memory.max\"]: not a cgroup v2 control file of the container's own that can be set",
            ),
            (
                r#"{"unified": {"memory.high": 5}}"#,
                "linux.resources.unified[\"memory.high\"]: expected a string",
            ),
            (
                r#"{"devices": [{"allow": true, "type": "x", "access": "r"}]}"#,
                "linux.resources.devices[0].type: 'x' is not a, b or c",
            ),
            (
                r#"{"devices": [{"allow": true}, {"allow": true, "access": ""}]}"#,
                "linux.resources.devices[0]: access is missing (give some of r, w and m)",
            ),
            (
                r#"{"devices": [{"allow": true, "access": ""}]}"#,
                "linux.resources.devices[0].access: cannot be empty (give some of r, w and m)",
            ),
            (
                r#"{"devices": [{"allow": true, "access": "rwx"}]}"#,
                "linux.resources.devices[0].access: 'rwx' is not a set of r, w and m",
            ),
            (
                r#"{"devices": [{"allow": true, "major": -2, "access": "r"}]}"#,
                "linux.resources.devices[0].major: -2 is out of range",
            ),
            (
                r#"{"devices": {}}"#,
                "linux.resources.devices: expected an array",
            ),
            (r#"[]"#, "linux.resources: expected an object"),
        ] {
            assert_eq!(err(res), want, "{res}");
        }
    }

    #[test]
    fn device_rules() {
        let l = read(
            r#"{"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": true, "type": "b", "major": 8, "minor": -1, "access": "m"},
                {"type": "a", "access": "w"}
            ]}"#,
        )
        .unwrap();
        let given = [
            Rule {
                allow: false,
                kind: Kind::All,
                major: None,
                minor: None,
                access: devices::READ | devices::WRITE | devices::MKNOD,
            },
            Rule {
                allow: true,
                kind: Kind::Char,
                major: Some(1),
                minor: Some(3),
                access: devices::READ | devices::WRITE,
            },
            Rule {
                allow: true,
                kind: Kind::Block,
                major: Some(8),
                minor: None,
                access: devices::MKNOD,
            },
            Rule {
                allow: false,
                kind: Kind::All,
                major: None,
                minor: None,
                access: devices::WRITE,
            },
        ];
        assert_eq!(l.devices, Some(devices::with_defaults(given.to_vec())));
    }
}
