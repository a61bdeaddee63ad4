//! An OCI `linux.seccomp` object (runtime-spec config-linux.md, "Seccomp") compiled into a
//! program of the general assembler ([`bpf::dispatch`]), with libseccomp's and runc's
//! meanings where the spec is silent:
//!
//! - `defaultAction` for every call no rule decides; `defaultErrnoRet` (EPERM if absent) and
//!   `errnoRet` only with SCMP_ACT_ERRNO (the errno) and SCMP_ACT_TRACE (the tracer's
//!   message data); SCMP_ACT_KILL kills the thread, like SCMP_ACT_KILL_THREAD;
//!   SCMP_ACT_NOTIFY is refused (crab-can runs no seccomp agent);
//! - a rule's `args` must all hold (AND; at most 16), each a 64-bit comparison (high
//!   halves, then low); a call's rules are tried in the order given and the first that
//!   holds decides (OR); a rule without `args` decides the call outright, whatever its
//!   other rules say (libseccomp; of two such rules the first); a rule whose action is the
//!   default one changes nothing and is dropped (runc);
//! - a name this architecture does not have (a typo, another architecture's call, a call
//!   newer than crab-can) is skipped with a warning, as runc skips what libseccomp cannot
//!   resolve;
//! - unless the default action lets calls through (ALLOW, LOG, TRACE), a number above the
//!   highest the profile names, or one that is no call on this architecture, gets ENOSYS:
//!   a profile older than the kernel makes its new calls fail as if absent, so libcs fall
//!   back (runc's stub; the kernel's own answer for a hole);
//! - only the native ABI's calls are filtered: calls through another ABI (i386 and x32 on
//!   x86_64, 32-bit Arm on aarch64) kill the process, listed in `architectures` or not,
//!   since crab-can has no number tables for them (the names are checked, nothing more);
//! - `flags`: SECCOMP_FILTER_FLAG_LOG and _SPEC_ALLOW go to seccomp(2); _TSYNC is
//!   accepted and needs nothing (the container's process has one thread); others are
//!   refused.

use super::Filter;
use super::arch::Arch;
use super::bpf::{
    self, Cmp, Leaf, MAX_CMPS, MAX_INSNS, Op, RET_ALLOW, RET_KILL_PROCESS, RET_KILL_THREAD,
    RET_LOG, RET_TRACE, RET_TRAP, Rule, push, ret_errno,
};
use crate::error::Result;
use crate::json::At;

/// SECCOMP_FILTER_FLAG_* (linux/seccomp.h).
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;

/// The architectures libseccomp names (SCMP_ARCH_*), as the spec lists them.
const ARCHES: &str = "X86 X86_64 X32 ARM AARCH64 MIPS MIPS64 MIPS64N32 MIPSEL MIPSEL64 \
    MIPSEL64N32 PPC PPC64 PPC64LE S390 S390X PARISC PARISC64 RISCV64";

/// What a number has been given by the rules so far.
enum Plan {
    /// Nothing: the default action (or ENOSYS, see `compile`).
    Default,
    /// A rule without arguments.
    Ret(u32),
    /// Rules with arguments, in order.
    Rules(Vec<Rule>),
}

// The message of `too_long` says 4096.
const _: () = assert!(MAX_INSNS == 4096);

/// The filter `spec` describes, for `arch`.
pub fn compile(arch: &Arch, spec: &At<'_>, warn: &mut dyn FnMut(&str)) -> Result<Filter> {
    let default = action(&need(spec, "defaultAction")?, spec.get("defaultErrnoRet")?)?;
    if let Some(list) = spec.get("architectures")? {
        for a in list.array()? {
            let name = a.str()?;
            let known = name.strip_prefix("SCMP_ARCH_");
            if !known.is_some_and(|n| ARCHES.split(' ').any(|a| a == n)) {
                return Err(a.error(format_args!("unknown architecture \"{name}\"")));
            }
        }
    }
    let mut flags = 0;
    if let Some(list) = spec.get("flags")? {
        for f in list.array()? {
            flags |= match f.str()? {
                "SECCOMP_FILTER_FLAG_TSYNC" => 0,
                "SECCOMP_FILTER_FLAG_LOG" => FLAG_LOG,
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FLAG_SPEC_ALLOW,
                other => return Err(f.error(format_args!("unsupported flag \"{other}\""))),
            };
        }
    }

    let mut plans: Vec<Plan> = Vec::new();
    for _ in 0..=arch.max_nr {
        plans.push(Plan::Default);
    }
    // The highest number the profile names.
    let mut top = None;
    let mut conditional = 0;
    let mut syscalls = spec.get("syscalls")?.map(|s| s.array()).transpose()?;
    while let Some(entry) = syscalls.as_mut().and_then(Iterator::next) {
        let names = need(&entry, "names")?.array()?;
        let ret = action(&need(&entry, "action")?, entry.get("errnoRet")?)?;
        let cmps = match entry.get("args")? {
            Some(args) => comparisons(&args)?,
            None => Vec::new(),
        };
        for at in names {
            let name = at.str()?;
            let Some(n) = arch.number(name) else {
                let line = format!(
                    "{}: no system call \"{name}\" on {}: skipped",
                    at.path, arch.name
                );
                warn(&line);
                continue;
            };
            top = top.max(Some(n));
            if ret == default {
                continue;
            }
            let Some(plan) = plans.get_mut(n as usize) else {
                continue;
            };
            let rule = Rule {
                cmps: cmps.clone(),
                ret,
            };
            match plan {
                Plan::Ret(_) => continue,
                _ if cmps.is_empty() => {
                    *plan = Plan::Ret(ret);
                    continue;
                }
                Plan::Rules(rules) => rules.push(rule),
                Plan::Default => *plan = Plan::Rules(vec![rule]),
            }
            // Each rule with arguments takes 4 instructions or more: stop before a huge
            // profile takes much memory.
            conditional += 1;
            if conditional > MAX_INSNS / 4 {
                return Err(too_long(spec));
            }
        }
    }

    // The leaves, merging neighbours with the same return.
    let allowing = matches!(default & 0xffff_0000, RET_ALLOW | RET_LOG | RET_TRACE);
    let enosys = if allowing {
        default
    } else {
        ret_errno(libc::ENOSYS)
    };
    let top = top.unwrap_or(arch.max_nr);
    let mut leaves: Vec<(u32, Leaf)> = Vec::new();
    for (n, plan) in (0..).zip(&plans) {
        let leaf = match plan {
            Plan::Ret(k) => Leaf::Ret(*k),
            Plan::Rules(rules) => Leaf::Rules(rules, default),
            Plan::Default if n > top || arch.unknown(n) => Leaf::Ret(enosys),
            Plan::Default => Leaf::Ret(default),
        };
        push(&mut leaves, n, leaf);
    }
    push(&mut leaves, arch.max_nr + 1, Leaf::Ret(enosys));

    let prog = bpf::dispatch(arch, &leaves);
    if prog.len() > MAX_INSNS {
        return Err(too_long(spec));
    }
    Ok(Filter { prog, flags })
}

fn too_long(spec: &At<'_>) -> crate::error::Error {
    spec.error("too many rules: the filter would be longer than the kernel's 4096 instructions")
}

/// Member `key`, which must be there.
fn need<'a>(at: &At<'a>, key: &str) -> Result<At<'a>> {
    at.get(key)?
        .ok_or_else(|| at.error(format_args!("{key} is required")))
}

/// The return value of the action `at` names, with the errno `errno` gives.
fn action(at: &At<'_>, errno: Option<At<'_>>) -> Result<u32> {
    let data = match &errno {
        Some(e) => match u16::try_from(e.u32()?) {
            Ok(n) => Some(u32::from(n)),
            Err(_) => return Err(e.error("out of range (at most 65535)")),
        },
        None => None,
    };
    let eperm = libc::EPERM as u32;
    let ret = match at.str()? {
        "SCMP_ACT_ERRNO" => return Ok(ret_errno(0) | data.unwrap_or(eperm)),
        "SCMP_ACT_TRACE" => return Ok(RET_TRACE | data.unwrap_or(eperm)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => {
            return Err(at.error("SCMP_ACT_NOTIFY is not supported (no seccomp agent)"));
        }
        other => return Err(at.error(format_args!("unknown action \"{other}\""))),
    };
    match errno {
        Some(e) => Err(e.error("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno")),
        None => Ok(ret),
    }
}

/// A rule's `args`.
fn comparisons(args: &At<'_>) -> Result<Vec<Cmp>> {
    let list = args.array()?;
    if list.len() > MAX_CMPS {
        return Err(args.error(format_args!("more than {MAX_CMPS} comparisons")));
    }
    let mut cmps = Vec::with_capacity(list.len());
    for a in list {
        let index = need(&a, "index")?;
        let arg = match index.u32()? {
            i @ 0..=5 => i as u8,
            i => return Err(index.error(format_args!("{i} is not an argument (0 to 5)"))),
        };
        let value = need(&a, "value")?.u64()?;
        let two = a.u64_or("valueTwo", 0)?;
        let op = need(&a, "op")?;
        let op = match op.str()? {
            "SCMP_CMP_NE" => Op::Ne,
            "SCMP_CMP_LT" => Op::Lt,
            "SCMP_CMP_LE" => Op::Le,
            "SCMP_CMP_EQ" => Op::Eq,
            "SCMP_CMP_GE" => Op::Ge,
            "SCMP_CMP_GT" => Op::Gt,
            "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
            other => return Err(op.error(format_args!("unknown operator \"{other}\""))),
        };
        cmps.push(Cmp {
            arg,
            op,
            value,
            two,
        });
    }
    Ok(cmps)
}
