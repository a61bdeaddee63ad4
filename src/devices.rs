//! Which device nodes a container may make and open (OCI `linux.resources.devices`).
//!
//! The rules are kept in order, as the OCI runtime spec and cgroup v1 read them: each rule
//! allows or denies some accesses (read, write, mknod) to the devices it names, a later
//! rule overrides an earlier one, and a rule for every device with every access (`a *:*
//! rwm`) resets the list. What no rule decides is denied.
//!
//! cgroup v1 reads these rules from lines written to `devices.deny` and `devices.allow`.
//! cgroup v2 has no such file: the kernel asks an eBPF program attached to the cgroup
//! (`BPF_PROG_TYPE_CGROUP_DEVICE`) about every open and mknod of a device node, so
//! [`program`] compiles the rules into one. Without either, root in the container with
//! the default `CAP_MKNOD` could make the node of a host disk and open it.

use crate::error::{Error, Result};
use rustix::fd::BorrowedFd;

/// The devices a rule names: every device, character devices or block devices.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Kind {
    All,
    Char,
    Block,
}

/// One OCI device rule: `None` for a major or minor number is the wildcard (`*`, OCI's
/// absent or -1); `access` is a set of [`READ`], [`WRITE`] and [`MKNOD`].
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Rule {
    pub allow: bool,
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const MKNOD: u8 = 4;
const RWM: u8 = READ | WRITE | MKNOD;

/// More rules than this are refused: the program's jumps must stay within 16-bit offsets
/// (each rule compiles to at most 5 instructions).
pub const MAX_RULES: usize = 4096;

const fn char_dev(major: u32, minor: Option<u32>, access: u8) -> Rule {
    Rule {
        allow: true,
        kind: Kind::Char,
        major: Some(major),
        minor,
        access,
    }
}

/// What every container may do whatever its rules say, appended after them as runc does:
/// mknod of any character or block device, and full use of /dev/null, random, full, tty,
/// zero, urandom, the pseudo-terminals (136:*), /dev/ptmx (5:2) and /dev/net/tun (10:200,
/// which runc keeps for compatibility).
const DEFAULTS: [Rule; 11] = [
    Rule {
        allow: true,
        kind: Kind::Char,
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule {
        allow: true,
        kind: Kind::Block,
        major: None,
        minor: None,
        access: MKNOD,
    },
    char_dev(1, Some(3), RWM),
    char_dev(1, Some(8), RWM),
    char_dev(1, Some(7), RWM),
    char_dev(5, Some(0), RWM),
    char_dev(1, Some(5), RWM),
    char_dev(1, Some(9), RWM),
    char_dev(136, None, RWM),
    char_dev(5, Some(2), RWM),
    char_dev(10, Some(200), RWM),
];

/// `rules` followed by the devices every container gets (see [`DEFAULTS`]).
pub fn with_defaults(mut rules: Vec<Rule>) -> Vec<Rule> {
    rules.extend_from_slice(&DEFAULTS);
    rules
}

/// A rule for every device and every access: it decides everything, so the rules before it
/// no longer matter.
fn is_reset(r: &Rule) -> bool {
    r.kind == Kind::All && r.major.is_none() && r.minor.is_none() && r.access & RWM == RWM
}

/// cgroup v1: `dir` is the container's directory in the devices hierarchy. Denies every
/// device, then writes the rules in order (`c 1:3 rwm` to `devices.allow`, `b *:* m` to
/// `devices.deny`; a reset as `a`). v1 keeps a list of exceptions rather than an ordered
/// list, so a deny only takes back what an allow with the same type and numbers gave.
pub fn apply_v1(dir: BorrowedFd<'_>, rules: &[Rule]) -> Result<()> {
    write_v1(dir, "devices.deny", "a")?;
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        for line in v1_lines(r) {
            write_v1(dir, file, &line)?;
        }
    }
    Ok(())
}

fn write_v1(dir: BorrowedFd<'_>, file: &str, line: &str) -> Result<()> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::openat(
        dir,
        file,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| Error::sys_msg(format_args!("cannot open {file}"), e))?;
    match rustix::io::write(&fd, line.as_bytes()) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::sys_msg(
            format_args!("cannot write \"{line}\" to {file}"),
            e,
        )),
    }
}

/// The v1 lines for one rule. The kernel reads `a` as a reset whatever follows it, so a
/// rule for all devices that is not a reset becomes a `c` and a `b` line.
fn v1_lines(r: &Rule) -> Vec<String> {
    if r.access & RWM == 0 {
        return Vec::new();
    }
    if is_reset(r) {
        return vec!["a".to_string()];
    }
    let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
    let mut access = String::new();
    for &(bit, c) in &[(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
        if r.access & bit != 0 {
            access.push(c);
        }
    }
    let kinds: &[char] = match r.kind {
        Kind::All => &['c', 'b'],
        Kind::Char => &['c'],
        Kind::Block => &['b'],
    };
    let mut out = Vec::new();
    for k in kinds {
        out.push(format!("{k} {}:{} {access}", num(r.major), num(r.minor)));
    }
    out
}

/// cgroup v2: compile `rules` into a device program, load it and attach it to `dir`, the
/// container's cgroup. It is attached with `BPF_F_ALLOW_MULTI`, so a runtime nested in the
/// container can attach its own programs below it, which can only deny more.
pub fn apply_v2(dir: BorrowedFd<'_>, rules: &[Rule]) -> Result<()> {
    if rules.len() > MAX_RULES {
        return Err(Error::msg(format_args!(
            "too many device rules ({}, at most {MAX_RULES})",
            rules.len()
        )));
    }
    let prog = crate::sys::bpf_load_device_filter(&program(rules)).map_err(|e| {
        let what = if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS {
            "cannot load the device filter (bpf; it needs a kernel with cgroup device programs, Linux 4.15 and CONFIG_CGROUP_BPF)"
        } else {
            "cannot load the device filter (bpf)"
        };
        Error::sys(what, e)
    })?;
    crate::sys::bpf_attach_device_filter(dir, &prog)
        .map_err(|e| Error::sys("cannot attach the device filter to the cgroup (bpf)", e))
}

// eBPF instruction fields (linux/bpf.h, linux/bpf_common.h).
const LDX_W_MEM: u8 = 0x61; // BPF_LDX | BPF_W | BPF_MEM
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JA: u8 = 0x05; // BPF_JMP | BPF_JA
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// Registers: r1 points at struct bpf_cgroup_dev_ctx { u32 access_type, major, minor } on
// entry; the program keeps the device type in r2, the accesses still undecided in r3, the
// major number in r4 and the minor in r5; r0 is the answer (1 allow, 0 deny).
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const PENDING: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

/// The instructions that read the context into the registers above.
const PROLOGUE: usize = 6;

/// One `struct bpf_insn` as the kernel reads it from memory: the opcode, the destination
/// register in the low 4 bits of the second byte (on little-endian machines), the source
/// register, a 16-bit offset and a 32-bit immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    let regs = if cfg!(target_endian = "little") {
        dst | src << 4
    } else {
        dst << 4 | src
    };
    let o = off.to_ne_bytes();
    let i = imm.to_ne_bytes();
    u64::from_ne_bytes([code, regs, o[0], o[1], i[0], i[1], i[2], i[3]])
}

/// The kernel's access bits (`BPF_DEVCG_ACC_MKNOD` 1, `_READ` 2, `_WRITE` 4) for ours.
fn kernel_access(access: u8) -> i32 {
    let mut a = 0;
    if access & MKNOD != 0 {
        a |= 1;
    }
    if access & READ != 0 {
        a |= 2;
    }
    if access & WRITE != 0 {
        a |= 4;
    }
    a
}

/// The comparisons a rule needs: (register, value) pairs that must all be equal.
fn conditions(r: &Rule) -> Vec<(u8, u32)> {
    let kind = match r.kind {
        Kind::All => None,
        Kind::Block => Some(1), // BPF_DEVCG_DEV_BLOCK
        Kind::Char => Some(2),  // BPF_DEVCG_DEV_CHAR
    };
    let mut out = Vec::new();
    for (reg, v) in [(TYPE, kind), (MAJOR, r.major), (MINOR, r.minor)] {
        if let Some(v) = v {
            out.push((reg, v));
        }
    }
    out
}

/// The `BPF_PROG_TYPE_CGROUP_DEVICE` program for `rules`, as 8-byte instructions.
///
/// Each access asked for (an open for reading and writing asks for two) is decided by the
/// last rule that names the device and that access: the rules are tested from the last
/// one back; a matching deny rule that names any access still undecided denies, a matching
/// allow rule settles the accesses it names, and the request is allowed once all of its
/// accesses are. Whatever no rule settles is denied, unless the last reset rule allowed
/// everything. Rules before the last reset are left out, and so are exits no rule jumps
/// to (the verifier refuses unreachable code). More than [`MAX_RULES`] rules give a
/// program that denies everything.
///
/// Shaped for the verifier, whose time is most of the cost of loading (it walks every
/// path until it meets a state it has seen): the rules are a chain of one test each (the
/// first condition of the rule) that falls through to the next rule when it fails and
/// jumps out to the rest of that rule when it holds. The verifier walks the chain first,
/// knowing nothing of the request, and a rule's block that comes back to the chain with
/// more knowledge then meets a state it has seen, instead of walking the rest again.
///
/// Major and minor numbers are compared as 64-bit values with a sign-extended immediate,
/// so a number above `i32::MAX` (no Linux device has one) never matches.
pub fn program(rules: &[Rule]) -> Vec<u64> {
    if rules.len() > MAX_RULES {
        return vec![insn(MOV64_K, R0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)];
    }
    let reset = rules.iter().rposition(is_reset);
    let default = reset.is_some_and(|i| rules[i].allow);
    let mut live: Vec<&Rule> = Vec::new();
    for r in rules[reset.map_or(0, |i| i + 1)..].iter().rev() {
        if r.access & RWM != 0 {
            live.push(r);
        }
    }
    let decision_len = |r: &Rule| if r.allow { 2 } else { 1 };
    // Where each rule's test in the chain is (`chain[k]`; the last one is the default
    // exit, right after the chain), and where its block starts among the blocks (none
    // for a rule without conditions, decided in the chain).
    let mut chain = vec![PROLOGUE];
    let mut block_at = Vec::with_capacity(live.len());
    let mut block_len = 0;
    for r in &live {
        let n = conditions(r).len();
        let here = chain[chain.len() - 1];
        if n == 0 {
            chain.push(here + decision_len(r));
            block_at.push(None);
        } else {
            chain.push(here + 1);
            block_at.push(Some(block_len));
            block_len += n - 1 + decision_len(r) + 1;
        }
    }
    let exit_default = chain[live.len()];
    let exit_other = exit_default + 2 + block_len;

    let mut p = Vec::with_capacity(exit_other + 2);
    p.push(insn(LDX_W_MEM, TYPE, R1, 0, 0));
    p.push(insn(MOV32_X, PENDING, TYPE, 0, 0));
    p.push(insn(RSH32_K, PENDING, 0, 0, 16));
    p.push(insn(AND32_K, TYPE, 0, 0, 0xffff));
    p.push(insn(LDX_W_MEM, MAJOR, R1, 4, 0));
    p.push(insn(LDX_W_MEM, MINOR, R1, 8, 0));
    // A jump from the instruction about to be pushed to `to`.
    fn jump(p: &mut Vec<u64>, code: u8, reg: u8, to: usize, imm: i32) {
        let off = to as isize - p.len() as isize - 1;
        p.push(insn(code, reg, 0, off as i16, imm));
    }
    // A rule's verdict once it matches.
    let decide = |p: &mut Vec<u64>, r: &Rule| {
        let exit = if r.allow == default {
            exit_default
        } else {
            exit_other
        };
        let a = kernel_access(r.access);
        if r.allow {
            p.push(insn(AND32_K, PENDING, 0, 0, !a));
            jump(p, JEQ_K, PENDING, exit, 0);
        } else {
            jump(p, JSET_K, PENDING, exit, a);
        }
    };
    let blocks = exit_default + 2;
    for (r, at) in live.iter().zip(&block_at) {
        match (conditions(r).first(), at) {
            (Some(&(reg, v)), Some(at)) => jump(&mut p, JEQ_K, reg, blocks + at, v as i32),
            _ => decide(&mut p, r),
        }
    }
    p.push(insn(MOV64_K, R0, 0, 0, default as i32));
    p.push(insn(EXIT, 0, 0, 0, 0));
    for (k, r) in live.iter().enumerate() {
        if block_at[k].is_none() {
            continue;
        }
        let next = chain[k + 1];
        for &(reg, v) in conditions(r).get(1..).unwrap_or_default() {
            jump(&mut p, JNE_K, reg, next, v as i32);
        }
        decide(&mut p, r);
        jump(&mut p, JA, 0, next, 0);
    }
    if live.iter().any(|r| r.allow != default) {
        p.push(insn(MOV64_K, R0, 0, 0, !default as i32));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    const DENY_ALL: Rule = Rule {
        allow: false,
        kind: Kind::All,
        major: None,
        minor: None,
        access: RWM,
    };
    const ALLOW_ALL: Rule = Rule {
        allow: true,
        ..DENY_ALL
    };

    /// Run `prog` the way the kernel would on one request: `kind` 1 block / 2 char,
    /// `access` in the kernel's bits. Panics on anything the generator should never emit
    /// (an unknown opcode, a jump out of the program, falling off its end).
    fn run(prog: &[u64], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [kind | access << 16, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let b = prog[pc].to_ne_bytes();
            let (code, dst, src) = (b[0], (b[1] & 15) as usize, (b[1] >> 4) as usize);
            let off = i16::from_ne_bytes([b[2], b[3]]);
            let imm = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
            let k = imm as i64 as u64;
            let jump = |taken: bool| if taken { off as isize } else { 0 };
            let mut next = 1isize;
            match code {
                LDX_W_MEM => {
                    assert_eq!(src, 1);
                    r[dst] = ctx[off as usize / 4] as u64;
                }
                MOV32_X => r[dst] = r[src] as u32 as u64,
                RSH32_K => r[dst] = ((r[dst] as u32) >> imm) as u64,
                AND32_K => r[dst] = ((r[dst] as u32) & imm as u32) as u64,
                MOV64_K => r[dst] = k,
                JEQ_K => next += jump(r[dst] == k),
                JNE_K => next += jump(r[dst] != k),
                JSET_K => next += jump(r[dst] & k != 0),
                JA => next += off as isize,
                EXIT => return r[0],
                _ => panic!("unknown opcode {code:#x}"),
            }
            pc = usize::try_from(pc as isize + next).unwrap();
            assert!(pc < prog.len(), "jump out of the program");
        }
    }

    /// Is `access` (our bits) to the device allowed by `rules`?
    fn allowed(rules: &[Rule], kind: Kind, access: u8, major: u32, minor: u32) -> bool {
        let t = if kind == Kind::Block { 1 } else { 2 };
        let a = kernel_access(access) as u32;
        match run(&program(rules), t, a, major, minor) {
            0 => false,
            1 => true,
            v => panic!("returned {v}"),
        }
    }

    /// Every instruction is reached by some path (the verifier refuses dead code).
    fn all_reachable(prog: &[u64]) -> bool {
        let mut seen = vec![false; prog.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if pc >= prog.len() || seen[pc] {
                continue;
            }
            seen[pc] = true;
            let b = prog[pc].to_ne_bytes();
            let off = i16::from_ne_bytes([b[2], b[3]]) as isize;
            match b[0] {
                EXIT => {}
                JA => todo.push((pc as isize + 1 + off) as usize),
                JEQ_K | JNE_K | JSET_K => {
                    todo.push(pc + 1);
                    todo.push((pc as isize + 1 + off) as usize);
                }
                _ => todo.push(pc + 1),
            }
        }
        seen.iter().all(|&s| s)
    }

    #[test]
    fn encoding() {
        let p = program(&[]);
        // r2 = *(u32 *)(r1 + 0); w3 = w2; w3 >>= 16; w2 &= 0xffff; r4 = *(r1 + 4); r5 = *(r1 + 8)
        assert_eq!(p[0], 0x0000_0000_0000_1261);
        assert_eq!(p[1], 0x0000_0000_0000_23bc);
        assert_eq!(p[2], 0x0000_0010_0000_0374);
        assert_eq!(p[3], 0x0000_ffff_0000_0254);
        assert_eq!(p[4], 0x0000_0000_0004_1461);
        assert_eq!(p[5], 0x0000_0000_0008_1561);
        // r0 = 0; exit
        assert_eq!(&p[6..], &[0xb7, 0x95]);
        // The chain: if r4 == 1 goto +2 (the rule's block; type is any), then the default
        // exit: r0 = 0; exit.
        let p = program(&[rule(false, Kind::All, Some(1), Some(3), READ)]);
        assert_eq!(p[6], 0x0000_0001_0002_0415);
        assert_eq!(&p[7..9], &[0xb7, 0x95]);
        // The block: if r5 != 3 goto -3 (the next rule: here the default exit); if r3 & 2
        // goto -4 (the deny exit is the default exit); goto -5 (the next rule).
        assert_eq!(p[9], 0x0000_0003_fffd_0555);
        assert_eq!(p[10], 0x0000_0002_fffc_0345);
        assert_eq!(p[11], 0x0000_0000_fffb_0005);
        assert_eq!(p.len(), 12);
    }

    #[test]
    fn only_listed_devices() {
        let rules = [DENY_ALL, rule(true, Kind::Char, Some(1), Some(3), RWM)];
        assert!(allowed(&rules, Kind::Char, READ, 1, 3));
        assert!(allowed(&rules, Kind::Char, READ | WRITE, 1, 3));
        assert!(allowed(&rules, Kind::Char, MKNOD, 1, 3));
        assert!(!allowed(&rules, Kind::Block, READ, 1, 3));
        assert!(!allowed(&rules, Kind::Char, READ, 1, 5));
        assert!(!allowed(&rules, Kind::Char, READ, 8, 3));
        assert!(!allowed(&rules, Kind::Block, MKNOD, 8, 0));
        assert!(!allowed(&[], Kind::Char, READ, 1, 3));
    }

    #[test]
    fn last_rule_decides_each_access() {
        let c13 = |allow, access| rule(allow, Kind::Char, Some(1), Some(3), access);
        let rules = [c13(true, RWM), c13(false, WRITE)];
        assert!(allowed(&rules, Kind::Char, READ, 1, 3));
        assert!(!allowed(&rules, Kind::Char, WRITE, 1, 3));
        assert!(!allowed(&rules, Kind::Char, READ | WRITE, 1, 3));
        // Two allows for one access each allow both together.
        let rules = [c13(true, READ), c13(true, WRITE)];
        assert!(allowed(&rules, Kind::Char, READ | WRITE, 1, 3));
        assert!(!allowed(&rules, Kind::Char, MKNOD, 1, 3));
        // A later allow overrides an earlier deny.
        let rules = [ALLOW_ALL, c13(false, RWM), c13(true, READ)];
        assert!(allowed(&rules, Kind::Char, READ, 1, 3));
        assert!(!allowed(&rules, Kind::Char, WRITE, 1, 3));
        assert!(allowed(&rules, Kind::Char, WRITE, 1, 5));
        // A wildcard minor and an all-kinds rule.
        let rules = [rule(true, Kind::All, Some(8), None, READ)];
        assert!(allowed(&rules, Kind::Block, READ, 8, 17));
        assert!(allowed(&rules, Kind::Char, READ, 8, 0));
        assert!(!allowed(&rules, Kind::Block, WRITE, 8, 17));
        // A partial all-devices rule is not a reset.
        let rules = [rule(true, Kind::All, None, None, READ)];
        assert!(allowed(&rules, Kind::Block, READ, 8, 0));
        assert!(!allowed(&rules, Kind::Block, WRITE, 8, 0));
    }

    #[test]
    fn resets() {
        let c13 = rule(true, Kind::Char, Some(1), Some(3), RWM);
        assert!(allowed(&[DENY_ALL, ALLOW_ALL], Kind::Block, WRITE, 8, 0));
        assert!(!allowed(
            &[c13, ALLOW_ALL, DENY_ALL],
            Kind::Char,
            READ,
            1,
            3
        ));
        let deny_sda = rule(false, Kind::Block, Some(8), None, RWM);
        let rules = [ALLOW_ALL, deny_sda];
        assert!(!allowed(&rules, Kind::Block, READ, 8, 1));
        assert!(allowed(&rules, Kind::Block, READ, 9, 1));
        // Rules before the reset are left out.
        assert_eq!(program(&[c13, deny_sda, DENY_ALL]).len(), PROLOGUE + 2);
    }

    #[test]
    fn defaults_over_deny_all() {
        let rules = with_defaults(vec![DENY_ALL]);
        assert_eq!(rules.len(), 12);
        assert!(allowed(&rules, Kind::Char, READ | WRITE, 1, 5));
        assert!(allowed(&rules, Kind::Char, READ, 136, 4));
        assert!(allowed(&rules, Kind::Char, WRITE, 5, 2));
        assert!(allowed(&rules, Kind::Block, MKNOD, 8, 0));
        assert!(!allowed(&rules, Kind::Block, READ, 8, 0));
        assert!(!allowed(&rules, Kind::Char, READ, 1, 1)); // /dev/mem
        assert!(!allowed(&rules, Kind::Char, READ, 5, 1)); // /dev/console
    }

    #[test]
    fn no_dead_code() {
        let c13 = rule(true, Kind::Char, Some(1), Some(3), RWM);
        let deny = rule(false, Kind::Block, None, Some(0), READ);
        let sets: [&[Rule]; 7] = [
            &[],
            &[DENY_ALL],
            &[ALLOW_ALL],
            &[c13],
            &[deny],
            &[ALLOW_ALL, deny, c13],
            &[DENY_ALL, c13, deny],
        ];
        for s in sets {
            assert!(all_reachable(&program(s)), "{s:?}");
        }
        assert!(all_reachable(&program(&with_defaults(vec![DENY_ALL]))));
        // Too many rules: deny everything.
        let many = vec![ALLOW_ALL; MAX_RULES + 1];
        assert!(!allowed(&many, Kind::Char, READ, 1, 3));
    }

    #[test]
    fn v1_lines_() {
        let lines = |r| v1_lines(&r).join("|");
        assert_eq!(lines(DENY_ALL), "a");
        assert_eq!(
            lines(rule(true, Kind::Char, Some(1), Some(3), RWM)),
            "c 1:3 rwm"
        );
        assert_eq!(lines(rule(true, Kind::Block, None, None, MKNOD)), "b *:* m");
        assert_eq!(
            lines(rule(false, Kind::All, Some(8), None, WRITE)),
            "c 8:* w|b 8:* w"
        );
        assert_eq!(lines(rule(true, Kind::Char, None, Some(1), 0)), "");
    }

    // Real tests: they need root, a v1 devices hierarchy and a v2 one (this host's hybrid
    // layout), and skip with a note otherwise.

    use std::os::fd::AsFd;

    /// A cgroup of the test's own, removed on drop (its processes have exited by then).
    struct Scratch(String);

    impl Scratch {
        fn new(root: &str, test: &str) -> Option<Scratch> {
            let probe = if root.ends_with("unified") {
                "cgroup.procs"
            } else {
                "devices.allow"
            };
            if !rustix::process::geteuid().is_root()
                || !std::path::Path::new(&format!("{root}/{probe}")).exists()
            {
                eprintln!("skipped: needs root and {root}");
                return None;
            }
            let path = format!("{root}/crab-can-{test}-{}", crate::sys::testing::pid());
            std::fs::create_dir(&path).unwrap();
            Some(Scratch(path))
        }

        fn dir(&self) -> std::fs::File {
            std::fs::File::open(&self.0).unwrap()
        }

        /// Run `cmd` with sh in this cgroup; (exit status, stderr).
        fn run(&self, cmd: &str) -> (i32, String) {
            let script = format!("echo $$ > {}/cgroup.procs || exit 99; exec {cmd}", self.0);
            let script = std::ffi::CString::new(script).unwrap();
            let null = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .unwrap();
            let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
            let pid =
                crate::sys::testing::spawn_sh(&script, [null.as_fd(), null.as_fd(), err_w.as_fd()]);
            drop(err_w);
            let mut stderr = Vec::new();
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = rustix::io::read(&err_r, &mut buf) {
                stderr.extend_from_slice(&buf[..n]);
            }
            let (_, st) =
                rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                    .unwrap()
                    .unwrap();
            let code = st.exit_status().unwrap_or(-1);
            assert_ne!(code, 99, "cannot move into {}", self.0);
            (code, String::from_utf8_lossy(&stderr).into_owned())
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            for _ in 0..50 {
                if std::fs::remove_dir(&self.0).is_ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            eprintln!("cannot remove {}", self.0);
        }
    }

    /// A scratch directory for device nodes, removed on drop.
    struct Nodes(std::path::PathBuf);

    impl Nodes {
        fn new(test: &str) -> Nodes {
            let d = std::env::temp_dir()
                .join(format!("crab-can-{test}-{}", crate::sys::testing::pid()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir(&d).unwrap();
            Nodes(d)
        }
    }

    impl Drop for Nodes {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const DENIED: &str = "Operation not permitted";

    /// Only c 1:3 rwm: /dev/null works, /dev/zero and any mknod of a disk do not.
    fn only_null(cg: &Scratch, test: &str) {
        let nodes = Nodes::new(test);
        assert_eq!(cg.run("head -c1 /dev/null"), (0, String::new()));
        let (code, err) = cg.run("head -c1 /dev/zero");
        assert!(
            code != 0 && err.contains("/dev/zero") && err.contains(DENIED),
            "{err}"
        );
        let node = nodes.0.join("sda");
        let (code, err) = cg.run(&format!("mknod {} b 8 0", node.display()));
        assert!(code != 0 && err.contains(DENIED), "{err}");
        assert!(!node.exists());
    }

    /// With the defaults: /dev/zero works, a disk's node can be made but not opened.
    fn defaults(cg: &Scratch, test: &str) {
        let nodes = Nodes::new(test);
        assert_eq!(cg.run("head -c1 /dev/zero").0, 0);
        let node = nodes.0.join("loop0");
        let (code, err) = cg.run(&format!("mknod {} b 7 0", node.display()));
        assert_eq!(code, 0, "{err}");
        let (code, err) = cg.run(&format!("head -c1 {}", node.display()));
        assert!(code != 0 && err.contains(DENIED), "{err}");
    }

    #[test]
    fn v2_filter_on_this_host() {
        let Some(cg) = Scratch::new("/sys/fs/cgroup/unified", "devices-v2") else {
            return;
        };
        let null = rule(true, Kind::Char, Some(1), Some(3), RWM);
        apply_v2(cg.dir().as_fd(), &[DENY_ALL, null]).unwrap();
        only_null(&cg, "devices-v2");
        drop(cg);

        let Some(cg) = Scratch::new("/sys/fs/cgroup/unified", "devices-v2d") else {
            return;
        };
        apply_v2(cg.dir().as_fd(), &with_defaults(vec![DENY_ALL])).unwrap();
        defaults(&cg, "devices-v2d");
    }

    #[test]
    fn v2_kernel_accepts_programs() {
        let Some(cg) = Scratch::new("/sys/fs/cgroup/unified", "devices-v2k") else {
            return;
        };
        let c13 = rule(true, Kind::Char, Some(1), Some(3), RWM);
        let deny = rule(false, Kind::Block, None, Some(0), READ);
        for s in [&[][..], &[ALLOW_ALL], &[ALLOW_ALL, deny, c13], &[deny, c13]] {
            let prog = crate::sys::bpf_load_device_filter(&program(s));
            assert!(prog.is_ok(), "{s:?}: {prog:?}");
        }
        let e = apply_v2(cg.dir().as_fd(), &vec![ALLOW_ALL; MAX_RULES + 1]).unwrap_err();
        assert_eq!(e.to_string(), "too many device rules (4097, at most 4096)");
    }

    #[test]
    fn v1_rules_on_this_host() {
        let Some(cg) = Scratch::new("/sys/fs/cgroup/devices", "devices-v1") else {
            return;
        };
        let null = rule(true, Kind::Char, Some(1), Some(3), RWM);
        apply_v1(cg.dir().as_fd(), &[DENY_ALL, null]).unwrap();
        let list = std::fs::read_to_string(format!("{}/devices.list", cg.0)).unwrap();
        assert_eq!(list, "c 1:3 rwm\n");
        only_null(&cg, "devices-v1");
        drop(cg);

        let Some(cg) = Scratch::new("/sys/fs/cgroup/devices", "devices-v1d") else {
            return;
        };
        apply_v1(cg.dir().as_fd(), &with_defaults(vec![DENY_ALL])).unwrap();
        defaults(&cg, "devices-v1d");
    }
}
