//! OCI profiles: compiled from JSON text, then checked by the BPF interpreter of
//! `tests.rs` on both architectures (against a plain model of the rules for random
//! profiles), and loaded for real in forked children.

use super::Filter;
use super::arch::{AARCH64, Arch, NATIVE, X86_64};
use super::bpf::{RET_LOG, RET_TRACE, RET_TRAP, ret_errno};
use super::tests::{ALLOW, ARCHES, ENOSYS, EPERM, KILL, fails, in_child, require_root, run_arch};
use crate::json::{At, parse};

const KILL_THREAD: u32 = 0;

/// `text` compiled for `arch` as config.json's `linux.seccomp`, and the warnings.
fn compile(arch: &Arch, text: &str) -> crate::error::Result<(Filter, Vec<String>)> {
    let doc = format!("{{\"linux\":{{\"seccomp\":{text}}}}}");
    let v = parse(doc.as_bytes()).unwrap_or_else(|e| panic!("bad test JSON: {e}\n{text}"));
    let linux = At::root(&v).get("linux").unwrap().unwrap();
    let spec = linux
        .get("seccomp")
        .unwrap()
        .expect("linux.seccomp is null");
    let mut warnings = Vec::new();
    let f = super::oci::compile(arch, &spec, &mut |w: &str| warnings.push(w.to_string()))?;
    Ok((f, warnings))
}

fn filter(arch: &Arch, text: &str) -> Filter {
    match compile(arch, text) {
        Ok((f, _)) => f,
        Err(e) => panic!("{}: {e}\n{text}", arch.name),
    }
}

fn error(text: &str) -> String {
    match compile(&X86_64, text) {
        Ok(_) => panic!("compiled: {text}"),
        Err(e) => e.to_string(),
    }
}

/// A native call of `arch` by name.
fn call(f: &Filter, arch: &Arch, name: &str, args: [u64; 6]) -> u32 {
    let n = arch
        .number(name)
        .unwrap_or_else(|| panic!("{}: no {name}", arch.name));
    run_arch(f, arch.audit, n, args)
}

fn a0(v: u64) -> [u64; 6] {
    [v, 0, 0, 0, 0, 0]
}

#[test]
fn allow_by_default_with_a_deny_list() {
    let text = r#"{"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getcwd", "fchmodat"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#;
    for arch in ARCHES {
        let f = filter(arch, text);
        assert_eq!(call(&f, arch, "getcwd", [0; 6]), EPERM);
        assert_eq!(call(&f, arch, "fchmodat", [0; 6]), EPERM);
        assert_eq!(call(&f, arch, "uname", [0; 6]), ENOSYS);
        for name in [
            "read",
            "write",
            "getpid",
            "mount",
            "clone3",
            "removexattrat",
        ] {
            assert_eq!(call(&f, arch, name, [0; 6]), ALLOW, "{name}");
        }
        // Allowing by default, numbers no call has are allowed too (the kernel answers).
        for n in [arch.max_nr + 1, 999, 0x3fff_ffff, arch.holes[0].0] {
            assert_eq!(run_arch(&f, arch.audit, n, [0; 6]), ALLOW, "{n}");
        }
    }
}

#[test]
fn deny_by_default_with_an_allow_list() {
    let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "syscalls": [{"names": ["read", "write", "exit_group", "pidfd_open"],
                      "action": "SCMP_ACT_ALLOW"}]}"#;
    for arch in ARCHES {
        let f = filter(arch, text);
        for name in ["read", "write", "exit_group", "pidfd_open"] {
            assert_eq!(call(&f, arch, name, [0; 6]), ALLOW, "{name}");
        }
        for name in ["getpid", "openat", "clone", "mount", "pidfd_send_signal"] {
            assert_eq!(call(&f, arch, name, [0; 6]), EPERM, "{name}");
        }
        // Above the highest number named (pidfd_open, 434), and numbers that are no call,
        // get ENOSYS.
        for n in [
            435,
            436,
            466,
            arch.max_nr + 1,
            9999,
            0x3fff_ffff,
            arch.holes[0].1,
        ] {
            assert_eq!(run_arch(&f, arch.audit, n, [0; 6]), ENOSYS, "{n}");
        }
    }
    // Without any name, the default for every known number.
    let f = filter(&X86_64, r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS"}"#);
    assert_eq!(run_arch(&f, X86_64.audit, 0, [0; 6]), KILL);
    assert_eq!(run_arch(&f, X86_64.audit, 466, [0; 6]), KILL);
    assert_eq!(run_arch(&f, X86_64.audit, 467, [0; 6]), ENOSYS);
    assert_eq!(run_arch(&f, X86_64.audit, 400, [0; 6]), ENOSYS);
}

#[test]
fn every_action() {
    let cases: &[(&str, &str, u32)] = &[
        ("SCMP_ACT_KILL", "", KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", "", KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", "", KILL),
        ("SCMP_ACT_TRAP", "", RET_TRAP),
        ("SCMP_ACT_ERRNO", "", EPERM),
        ("SCMP_ACT_ERRNO", r#", "errnoRet": 0"#, ret_errno(0)),
        ("SCMP_ACT_ERRNO", r#", "errnoRet": 4095"#, ret_errno(4095)),
        ("SCMP_ACT_TRACE", "", RET_TRACE | 1),
        (
            "SCMP_ACT_TRACE",
            r#", "errnoRet": 65535"#,
            RET_TRACE | 0xffff,
        ),
        ("SCMP_ACT_LOG", "", RET_LOG),
        ("SCMP_ACT_ALLOW", "", ALLOW),
    ];
    for &(act, errno, want) in cases {
        // As a rule's action, and as the default action.
        let rule = format!(
            r#"{{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 99,
                "syscalls": [{{"names": ["getpid"], "action": "{act}"{errno}}}]}}"#
        );
        let default = format!(
            r#"{{"defaultAction": "{act}"{}, "syscalls": [
                {{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}}]}}"#,
            errno.replace("errnoRet", "defaultErrnoRet")
        );
        for arch in ARCHES {
            let f = filter(arch, &rule);
            assert_eq!(call(&f, arch, "getpid", [0; 6]), want, "{act}{errno}");
            assert_eq!(call(&f, arch, "read", [0; 6]), ret_errno(99));
            let f = filter(arch, &default);
            assert_eq!(
                call(&f, arch, "getpid", [0; 6]),
                want,
                "default {act}{errno}"
            );
            assert_eq!(call(&f, arch, "getppid", [0; 6]), ret_errno(99));
        }
    }
}

/// The comparison `op` of the spec, on 64-bit values.
fn holds(op: &str, arg: u64, value: u64, two: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => arg & value == two,
        _ => panic!("{op}"),
    }
}

const OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// Values around the edges of both halves of a 64-bit number.
const EDGES: [u64; 14] = [
    0,
    1,
    5,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0004,
    0x1_0000_0005,
    0x1_0000_0006,
    0x1_ffff_ffff,
    0x2_0000_0005,
    0x8000_0000_0000_0000,
    0xffff_ffff_0000_0005,
    u64::MAX - 1,
    u64::MAX,
];

/// Every operator, on each argument, against values whose high half decides as well as
/// values whose low half does: the filter agrees with 64-bit arithmetic.
#[test]
fn every_operator_on_64_bit_values() {
    for arch in ARCHES {
        for op in OPS {
            for (i, &value) in EDGES.iter().enumerate() {
                let two = EDGES[(i * 5 + 3) % EDGES.len()] & value;
                let index = i % 6;
                let text = format!(
                    r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                        {{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                          "args": [{{"index": {index}, "value": {value},
                                    "valueTwo": {two}, "op": "{op}"}}]}}]}}"#
                );
                let f = filter(arch, &text);
                for &arg in &EDGES {
                    let mut args = [0x5555_5555_5555_5555; 6];
                    args[index] = arg;
                    let want = if holds(op, arg, value, two) {
                        ret_errno(7)
                    } else {
                        ALLOW
                    };
                    assert_eq!(
                        call(&f, arch, "getppid", args),
                        want,
                        "{}: args[{index}] = {arg:#x} {op} {value:#x} ({two:#x})",
                        arch.name
                    );
                }
            }
        }
    }
}

#[test]
fn masked_eq_uses_both_halves() {
    // (args[1] & 0xff00_0000_0000_00ff) == 0x1200_0000_0000_0034: the top byte and the
    // bottom byte decide, the bits between do not.
    let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 1, "value": 18374686479671623935, "valueTwo": 1297036692682702900,
             "op": "SCMP_CMP_MASKED_EQ"}]}]}"#;
    for arch in ARCHES {
        let f = filter(arch, text);
        let with = |a1: u64| call(&f, arch, "getppid", [0, a1, 0, 0, 0, 0]);
        assert_eq!(with(0x1200_0000_0000_0034), EPERM);
        assert_eq!(with(0x12ff_ffff_ffff_ff34), EPERM);
        assert_eq!(with(0x1300_0000_0000_0034), ALLOW);
        assert_eq!(with(0x0000_0000_0000_0034), ALLOW);
        assert_eq!(with(0x1200_0000_0000_0035), ALLOW);
        assert_eq!(with(0x1200_0000_0000_0134), EPERM);
    }
    // A missing valueTwo is 0: (arg & mask) == 0.
    let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#;
    let f = filter(&X86_64, text);
    assert_eq!(call(&f, &X86_64, "clone", a0(0x11)), EPERM);
    assert_eq!(call(&f, &X86_64, "clone", a0(0x1000_0011)), ALLOW); // CLONE_NEWUSER
}

#[test]
fn args_and_rules_or() {
    // socket: ERRNO 1 for (AF_INET, SOCK_RAW) or for AF_PACKET; ERRNO 2 for any domain
    // above 40; the first rule that holds wins.
    let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [
            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [
            {"index": 0, "value": 17, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket", "socketpair"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
         "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3, "args": [
            {"index": 0, "value": 17, "op": "SCMP_CMP_GE"},
            {"index": 0, "value": 50, "op": "SCMP_CMP_LE"}]}]}"#;
    for arch in ARCHES {
        let f = filter(arch, text);
        let socket = |d: u64, t: u64| call(&f, arch, "socket", [d, t, 0, 0, 0, 0]);
        assert_eq!(socket(2, 3), ret_errno(1));
        assert_eq!(socket(2, 1), ALLOW);
        assert_eq!(socket(10, 3), ALLOW);
        assert_eq!(socket(17, 3), ret_errno(1));
        assert_eq!(socket(41, 1), ret_errno(2));
        assert_eq!(socket(30, 1), ret_errno(3));
        assert_eq!(socket(51, 1), ret_errno(2));
        assert_eq!(socket(1 << 32, 1), ret_errno(2));
        let pair = |d: u64| call(&f, arch, "socketpair", a0(d));
        assert_eq!((pair(41), pair(30)), (ret_errno(2), ALLOW));
    }
}

#[test]
fn a_rule_without_args_decides_outright() {
    // The unconditional rule wins wherever it stands; a rule with the default action is
    // dropped (so it hides nothing behind it).
    let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["clone"], "action": "SCMP_ACT_LOG"},
        {"names": ["clone"], "action": "SCMP_ACT_TRAP", "args": [
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#;
    for arch in ARCHES {
        let f = filter(arch, text);
        let personality = |v: u64| call(&f, arch, "personality", a0(v));
        assert_eq!(personality(0), ALLOW);
        assert_eq!(personality(8), ALLOW);
        assert_eq!(personality(9), EPERM);
        for v in [0, 1, 0x1000_0000, u64::MAX] {
            assert_eq!(call(&f, arch, "clone", a0(v)), ALLOW, "{v:#x}");
        }
    }
}

#[test]
fn unknown_names_are_skipped_with_a_warning() {
    let text = r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "fstat64", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["no_such_call", "arch_prctl"], "action": "SCMP_ACT_ALLOW"}]}"#;
    let (f, w) = compile(&X86_64, text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        w,
        [
            "linux.seccomp.syscalls[0].names[1]: no system call \"fstat64\" on x86_64: skipped",
            "linux.seccomp.syscalls[1].names[0]: no system call \"no_such_call\" on x86_64: \
             skipped",
        ]
    );
    assert_eq!(call(&f, &X86_64, "write", [0; 6]), ALLOW);
    assert_eq!(call(&f, &X86_64, "arch_prctl", [0; 6]), ALLOW);
    let (f, w) = compile(&AARCH64, text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w[2].ends_with("\"arch_prctl\" on aarch64: skipped"),
        "{w:?}"
    );
    assert_eq!(call(&f, &AARCH64, "write", [0; 6]), ALLOW);
}

#[test]
fn notify_is_refused() {
    assert_eq!(
        error(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#),
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported (no seccomp agent)"
    );
    assert_eq!(
        error(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]}"#
        ),
        "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported (no seccomp agent)"
    );
}

#[test]
fn malformed_profiles_are_named() {
    let cases: &[(&str, &str)] = &[
        ("[]", "linux.seccomp: expected an object"),
        ("{}", "linux.seccomp: defaultAction is required"),
        (
            r#"{"defaultAction": 1}"#,
            "linux.seccomp.defaultAction: expected a string",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_DENY"}"#,
            r#"linux.seccomp.defaultAction: unknown action "SCMP_ACT_DENY""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#,
            "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}"#,
            "linux.seccomp.defaultErrnoRet: -1 is out of range",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}"#,
            "linux.seccomp.defaultErrnoRet: out of range (at most 65535)",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": "SCMP_ARCH_X86_64"}"#,
            "linux.seccomp.architectures: expected an array",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}"#,
            r#"linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_Z80""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#,
            r#"linux.seccomp.flags[0]: unsupported flag "SECCOMP_FILTER_FLAG_NEW_LISTENER""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}"#,
            "linux.seccomp.syscalls: expected an array",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read"}]}"#,
            "linux.seccomp.syscalls[0].names: expected an array",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read"}]}"#,
            "linux.seccomp.syscalls[0]: names is required",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}"#,
            "linux.seccomp.syscalls[0]: action is required",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ERRNO"}]}"#,
            "linux.seccomp.syscalls[0].names[1]: expected a string",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}"#,
            "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take \
             an errno",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": {}}]}"#,
            "linux.seccomp.syscalls[0].args: expected an array",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6,
                 "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index: 6 is not an argument (0 to 5)",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0,
                 "op": "SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0]: value is required",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0,
                 "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].value: 18446744073709551616 is out of range",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0,
                 "value": 1, "valueTwo": "1", "op": "SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].valueTwo: expected a number",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0,
                 "value": 1, "op": "SCMP_CMP_BETWEEN"}]}]}"#,
            r#"linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_BETWEEN""#,
        ),
    ];
    for &(text, want) in cases {
        assert_eq!(error(text), want, "{text}");
    }
    // More comparisons in one rule than its jumps can span.
    let arg = r#"{"index": 0, "value": 1, "op": "SCMP_CMP_NE"}"#;
    let args = |n: usize| vec![arg; n].join(",");
    let text = |n: usize| {
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{}]}}]}}"#,
            args(n)
        )
    };
    assert!(compile(&X86_64, &text(16)).is_ok());
    assert_eq!(
        error(&text(17)),
        "linux.seccomp.syscalls[0].args: more than 16 comparisons"
    );
}

#[test]
fn flags() {
    let with = |flags: &str| {
        compile(
            &X86_64,
            &format!(r#"{{"defaultAction": "SCMP_ACT_ALLOW", "flags": [{flags}]}}"#),
        )
        .map(|(f, _)| f.flags)
    };
    assert_eq!(with("").ok(), Some(0));
    assert_eq!(with(r#""SECCOMP_FILTER_FLAG_TSYNC""#).ok(), Some(0));
    assert_eq!(with(r#""SECCOMP_FILTER_FLAG_LOG""#).ok(), Some(2));
    assert_eq!(
        with(r#""SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG""#).ok(),
        Some(6)
    );
}

/// Calls through the other ABIs are killed, whatever `architectures` lists.
#[test]
fn foreign_abis_are_killed() {
    let text = r#"{"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}"#;
    for arch in ARCHES {
        let f = filter(arch, text);
        let others = ARCHES.iter().filter(|a| a.audit != arch.audit);
        for audit in arch
            .compat
            .iter()
            .map(|c| c.1)
            .chain(others.map(|a| a.audit))
        {
            for n in [0, 1, 20, 400, u32::MAX] {
                assert_eq!(run_arch(&f, audit, n, [0; 6]), KILL, "{}", arch.name);
            }
        }
        if let Some(x32) = arch.abi_from {
            assert_eq!(run_arch(&f, arch.audit, x32 | 39, [0; 6]), KILL);
            assert_eq!(run_arch(&f, arch.audit, u32::MAX, [0; 6]), ENOSYS);
        }
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
    /// An edge value, or one near it.
    fn value(&mut self) -> u64 {
        let e = self.pick(&EDGES);
        match self.below(4) {
            0 => e.wrapping_add(1),
            1 => e.wrapping_sub(1),
            2 => self.next(),
            _ => e,
        }
    }
}

/// A rule of a generated profile, and what it means (the model `expected` reads).
struct Gen {
    names: Vec<&'static str>,
    action: &'static str,
    errno: Option<u32>,
    cmps: Vec<(usize, &'static str, u64, u64)>,
}

const ACTIONS: [&str; 6] = [
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
];

fn ret_of(action: &str, errno: Option<u32>) -> u32 {
    match action {
        "SCMP_ACT_ALLOW" => ALLOW,
        "SCMP_ACT_ERRNO" => ret_errno(errno.unwrap_or(1) as i32),
        "SCMP_ACT_KILL_PROCESS" => KILL,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_TRACE" => RET_TRACE | errno.unwrap_or(1),
        _ => panic!("{action}"),
    }
}

/// A generated profile as the spec, read as `oci.rs` documents it, means it on one
/// architecture: each rule's numbers, and the highest number named.
struct Model<'a> {
    arch: &'a Arch,
    default: u32,
    rules: Vec<(Vec<u32>, &'a Gen)>,
    top: u32,
}

impl<'a> Model<'a> {
    fn new(arch: &'a Arch, default: u32, rules: &'a [Gen]) -> Model<'a> {
        let rules: Vec<(Vec<u32>, &Gen)> = rules
            .iter()
            .map(|r| (r.names.iter().filter_map(|n| arch.number(n)).collect(), r))
            .collect();
        let top = rules.iter().flat_map(|r| r.0.iter().copied()).max();
        Model {
            arch,
            default,
            top: top.unwrap_or(arch.max_nr),
            rules,
        }
    }

    /// What a native call gets.
    fn expected(&self, nr: u32, args: [u64; 6]) -> u32 {
        let mine: Vec<&Gen> = (self.rules.iter())
            .filter(|(nrs, r)| nrs.contains(&nr) && ret_of(r.action, r.errno) != self.default)
            .map(|r| r.1)
            .collect();
        if let Some(r) = mine.iter().find(|r| r.cmps.is_empty()) {
            return ret_of(r.action, r.errno);
        }
        let hold = |r: &&&Gen| (r.cmps.iter()).all(|&(i, op, v, two)| holds(op, args[i], v, two));
        if let Some(r) = mine.iter().find(hold) {
            return ret_of(r.action, r.errno);
        }
        let d = self.default;
        let allowing = [ALLOW, RET_LOG].contains(&d) || d & 0xffff_0000 == RET_TRACE;
        if !allowing && (nr > self.top || self.arch.unknown(nr)) {
            ENOSYS
        } else {
            d
        }
    }
}

fn json_of(default: &str, default_errno: Option<u32>, rules: &[Gen]) -> String {
    let errno =
        |key: &str, e: Option<u32>| e.map_or(String::new(), |e| format!(r#", "{key}": {e}"#));
    let mut out = format!(
        r#"{{"defaultAction": "{default}"{}, "syscalls": ["#,
        errno("defaultErrnoRet", default_errno)
    );
    for (i, r) in rules.iter().enumerate() {
        let names: Vec<String> = r.names.iter().map(|n| format!("\"{n}\"")).collect();
        let args: Vec<String> = r
            .cmps
            .iter()
            .map(|&(index, op, value, two)| {
                format!(
                    r#"{{"index": {index}, "value": {value}, "valueTwo": {two}, "op": "{op}"}}"#
                )
            })
            .collect();
        out += &format!(
            r#"{}{{"names": [{}], "action": "{}"{}, "args": [{}]}}"#,
            if i > 0 { ", " } else { "" },
            names.join(", "),
            r.action,
            errno("errnoRet", r.errno),
            args.join(", ")
        );
    }
    out + "]}"
}

/// Random profiles (names from both tables, so some are skipped; 0 to 4 comparisons per
/// rule; rules sharing calls) against the model, for calls with arguments near the
/// values compared. Large profiles make trees whose far jumps go through JA.
#[test]
fn random_profiles_match_the_model() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut pool: Vec<&'static str> = Vec::new();
    for arch in ARCHES {
        for &(_, names) in arch.names {
            pool.extend(names.split(' '));
        }
    }
    pool.sort();
    pool.dedup();
    let mut ja = 0;
    for round in 0..60 {
        let default = rng.pick(&ACTIONS);
        let default_errno = (default.ends_with("ERRNO") || default.ends_with("TRACE"))
            .then(|| rng.pick(&[None, Some(1), Some(38), Some(0)]))
            .flatten();
        let big = round % 6 == 0;
        let nrules = if big { 60 } else { 1 + rng.below(30) };
        let mut rules = Vec::new();
        for _ in 0..nrules {
            let most = if rng.below(4) == 0 { 40 } else { 3 };
            let n = 1 + rng.below(most);
            let names = (0..n).map(|_| rng.pick(&pool)).collect();
            let action = rng.pick(&ACTIONS);
            let errno = (action.ends_with("ERRNO") || action.ends_with("TRACE"))
                .then(|| rng.pick(&[None, Some(1), Some(22), Some(38)]))
                .flatten();
            let cmps = (0..rng.below(if big { 3 } else { 5 }))
                .map(|_| (rng.below(6), rng.pick(&OPS), rng.value(), rng.value()))
                .collect();
            rules.push(Gen {
                names,
                action,
                errno,
                cmps,
            });
        }
        let text = json_of(default, default_errno, &rules);
        let default = ret_of(default, default_errno);
        for arch in ARCHES {
            let f = filter(arch, &text);
            let model = Model::new(arch, default, &rules);
            ja += f.prog.iter().filter(|i| i.code == super::bpf::JA).count();
            // Every number, with arguments drawn from the values the rules compare.
            for nr in (0..=arch.max_nr + 2).chain([9999, 0x3fff_ffff]) {
                for _ in 0..3 {
                    let mut args = [0; 6];
                    for a in &mut args {
                        *a = match rules.get(rng.below(rules.len())) {
                            Some(r) if !r.cmps.is_empty() && rng.below(3) > 0 => {
                                let c = r.cmps[rng.below(r.cmps.len())];
                                if rng.below(2) == 0 {
                                    c.2
                                } else {
                                    c.3 | rng.value()
                                }
                            }
                            _ => rng.value(),
                        };
                    }
                    assert_eq!(
                        run_arch(&f, arch.audit, nr, args),
                        model.expected(nr, args),
                        "{} round {round}: nr {nr} args {args:x?}\n{text}",
                        arch.name
                    );
                }
            }
        }
    }
    assert!(ja > 0, "no profile was large enough to need JA");
}

#[test]
fn too_long_a_program_is_refused() {
    // The first 80 calls, each with 16 comparisons: 65 instructions each.
    let names: Vec<String> = X86_64.names[0]
        .1
        .split(' ')
        .take(80)
        .map(|n| format!("\"{n}\""))
        .collect();
    let arg = r#"{"index": 1, "value": 1, "op": "SCMP_CMP_NE"}"#;
    let args = vec![arg; 16].join(",");
    let text = format!(
        r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {{"names": [{}],
              "action": "SCMP_ACT_ERRNO", "args": [{args}]}}]}}"#,
        names.join(", ")
    );
    let too_long = "linux.seccomp: too many rules: the filter would be longer than the \
                    kernel's 4096 instructions";
    assert_eq!(error(&text), too_long);
    // Many small rules (5 instructions each): too many for the program, and past 1024
    // stopped before they take much memory.
    let rule = r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}"#;
    let text = |n: usize| {
        format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{}]}}"#,
            vec![rule; n].join(",")
        )
    };
    assert!(compile(&X86_64, &text(800)).is_ok());
    assert_eq!(error(&text(1000)), too_long);
    assert_eq!(error(&text(1025)), too_long);
}

/// A profile shaped like Docker's default (written here, not copied): an allow list of
/// most of both architectures' calls and some other architectures' names, the default
/// refusing with EPERM, argument rules on personality (several values), clone (no
/// namespace flags) and socket (no AF_VSOCK), clone3 answered ENOSYS.
fn docker_like() -> String {
    let refused: Vec<String> = super::profile::RULES
        .iter()
        .flat_map(|r| r.calls.iter().map(|s| format!("{s:?}")))
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for arch in ARCHES {
        for &(_, list) in arch.names {
            names.extend(list.split(' ').filter(|n| !refused.iter().any(|r| r == n)));
        }
    }
    names.extend([
        "_llseek",
        "fstat64",
        "socketcall",
        "arm_fadvise64_64",
        "ugetrlimit",
    ]);
    names.sort();
    names.dedup();
    let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let mut out = format!(
        r#"{{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{{"names": [{}], "action": "SCMP_ACT_ALLOW"}}"#,
        list.join(", ")
    );
    for p in [0, 8, 0x20000, 0x20008, 0xffff_ffffu64] {
        out += &format!(
            r#", {{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                  "args": [{{"index": 0, "value": {p}, "valueTwo": 0, "op": "SCMP_CMP_EQ"}}]}}"#
        );
    }
    out + r#", {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_NE"}]},
              {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#
}

#[test]
fn a_docker_like_profile_compiles() {
    let text = docker_like();
    for arch in ARCHES {
        let (f, warnings) = compile(arch, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.len() < 1024, "{}: {} instructions", arch.name, f.len());
        // The other architectures' names, and nothing else, are skipped.
        assert!(warnings.len() >= 5, "{warnings:?}");
        assert!(warnings.iter().all(|w| w.contains(": no system call \"")));
        for &(name, n) in super::tests::everyday(arch) {
            let want = if name == "chroot" { EPERM } else { ALLOW };
            assert_eq!(run_arch(&f, arch.audit, n, [0; 6]), want, "{name}");
        }
        assert_eq!(call(&f, arch, "mount", [0; 6]), EPERM);
        assert_eq!(call(&f, arch, "keyctl", [0; 6]), EPERM);
        assert_eq!(call(&f, arch, "clone3", [0; 6]), ENOSYS);
        assert_eq!(call(&f, arch, "clone", a0(0x1200011)), ALLOW);
        assert_eq!(call(&f, arch, "clone", a0(0x1200011 | 0x1000_0000)), EPERM);
        assert_eq!(call(&f, arch, "socket", a0(2)), ALLOW);
        assert_eq!(call(&f, arch, "socket", a0(40)), EPERM);
        assert_eq!(call(&f, arch, "personality", a0(8)), ALLOW);
        assert_eq!(call(&f, arch, "personality", a0(0xffff_ffff)), ALLOW);
        assert_eq!(call(&f, arch, "personality", a0(0x40000)), EPERM);
        assert_eq!(run_arch(&f, arch.audit, arch.max_nr + 1, [0; 6]), ENOSYS);
        assert_eq!(run_arch(&f, arch.audit, arch.holes[0].0, [0; 6]), ENOSYS);
    }
}

/// The kernel's answers with filters from OCI profiles, in forked children: errnos of
/// our choosing, every operator on a 64-bit argument (getppid ignores its arguments, so
/// only the filter decides), an allow list, the kill actions and the flags.
#[test]
fn real_filters_in_children() {
    require_root();
    fn native(text: &str) -> Filter {
        filter(NATIVE, text)
    }
    fn exited(status: i32) -> i32 {
        assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
        libc::WEXITSTATUS(status)
    }

    // A deny list with an errno of our own, and every operator (the getppid rules refuse
    // with errno 100 + the operator's index when the argument holds).
    let mut text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}"#
        .to_string();
    let value = 0x1_0000_0005u64;
    for (i, op) in OPS.iter().enumerate() {
        text += &format!(
            r#", {{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": {},
                "args": [{{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}},
                         {{"index": 1, "value": {i}, "op": "SCMP_CMP_EQ"}},
                         {{"index": 2, "value": {value}, "valueTwo": 5, "op": "{op}"}}]}}"#,
            100 + i
        );
    }
    text += "]}";
    let f = native(&text);
    assert_eq!(f.flags, 2);
    let status = in_child(&f, || {
        use crate::sys::testing::syscall;
        let mut buf = [0u8; 64];
        if !fails(
            libc::SYS_getcwd,
            &[buf.as_mut_ptr() as usize, buf.len()],
            42,
        ) {
            return 1;
        }
        let Ok(ppid) = syscall(libc::SYS_getppid, &[]) else {
            return 2;
        };
        for (i, op) in OPS.iter().enumerate() {
            for arg in EDGES {
                let got = syscall(libc::SYS_getppid, &[2, i, arg as usize]);
                let want = if holds(op, arg, 0x1_0000_0005, 5) {
                    Err(100 + i as i32)
                } else {
                    Ok(ppid)
                };
                if got != want {
                    return 10 + i as i32;
                }
                // The rule needs all three arguments.
                if syscall(libc::SYS_getppid, &[3, i, arg as usize]) != Ok(ppid) {
                    return 20;
                }
            }
        }
        0
    });
    assert_eq!(exited(status), 0, "check {} failed", exited(status));

    // An allow list: what is not on it gets EPERM, numbers no call has ENOSYS.
    let f = native(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["exit_group", "exit", "getpid", "getppid", "gettid"],
             "action": "SCMP_ACT_ALLOW"},
            {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}"#,
    );
    let status = in_child(&f, || {
        let mut u = [0u8; std::mem::size_of::<libc::utsname>()];
        let checks = [
            crate::sys::testing::syscall(libc::SYS_getpid, &[]).is_ok(),
            fails(libc::SYS_uname, &[u.as_mut_ptr() as usize], 95),
            fails(libc::SYS_getuid, &[], libc::EPERM),
            fails(999, &[], libc::ENOSYS),
            fails(libc::SYS_clone3, &[0, 0], libc::ENOSYS),
        ];
        match checks.iter().position(|ok| !ok) {
            Some(i) => i as i32 + 1,
            None => 0,
        }
    });
    assert_eq!(exited(status), 0, "check {} failed", exited(status));

    // Killing and trapping actions end the child with SIGSYS.
    for act in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let f = native(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{{"names": ["getppid"], "action": "{act}"}}]}}"#
        ));
        let status = in_child(&f, || {
            let _ = crate::sys::testing::syscall(libc::SYS_getppid, &[]);
            0
        });
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
            "{act}: {status:#x}"
        );
    }
}
