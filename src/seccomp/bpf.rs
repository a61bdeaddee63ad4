//! The assembler that makes a classic-BPF program of rules for an architecture
//! ([`dispatch`]): calls through another ABI are killed, the number goes down a balanced
//! tree of `JGE` tests to its range's leaf (a return, or one call's rules, each a list of
//! 64-bit argument comparisons). A jump too far for the 8-bit jt/jf fields goes through
//! `JA`, whose offset is 32 bits, so there is no length limit but the kernel's. The
//! default profile ([`RULES`], [`program`]) and OCI profiles (`oci.rs`) both use it.

use super::arch::Arch;
use super::profile::Act::{CloneFlags, Enosys, Eperm, PersonalityArg, SocketDomain};
use super::profile::{AF_ALG, AF_VSOCK, CLONE_NEW_ANY, PERSONALITIES, RULES};
use libc::sock_filter;

// Classic BPF opcodes (linux/bpf_common.h): load a word of seccomp_data, compare the
// accumulator with a constant, jump, mask the accumulator, return a constant.
pub const LD: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const AND: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const RET: u16 = 0x06; // BPF_RET | BPF_K

// Offsets in struct seccomp_data: nr, arch, then args[] (64-bit, little-endian on both
// architectures).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;

// SECCOMP_RET_* (linux/seccomp.h); ERRNO and TRACE carry 16 bits of data.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const fn ret_errno(e: i32) -> u32 {
    0x0005_0000 | (e as u32 & 0xffff)
}

/// The default profile's program for `arch` and a container holding `caps` (bit N =
/// capability N). The argument checks look at the low 32 bits of the first argument only:
/// all the kernel reads of these arguments (an `int`, or clone's flags where the
/// namespace bits are), and the same on both architectures (only s390 moves clone's
/// flags).
pub fn program(arch: &Arch, caps: u64) -> Vec<sock_filter> {
    let eperm = ret_errno(libc::EPERM);
    let enosys = ret_errno(libc::ENOSYS);
    let low = |mask: u32, two: u32, ret| Rule {
        cmps: vec![Cmp {
            arg: 0,
            op: Op::MaskedEq,
            value: mask.into(),
            two: two.into(),
        }],
        ret,
    };
    let clone = [low(CLONE_NEW_ANY, 0, RET_ALLOW)];
    let socket = [AF_ALG, AF_VSOCK].map(|d| low(u32::MAX, d, eperm));
    let personality = PERSONALITIES.map(|p| low(u32::MAX, p, RET_ALLOW));
    // What each known number gets; None: allowed.
    let mut acts = vec![None; arch.max_nr as usize + 1];
    for r in RULES.iter().filter(|r| caps & r.unless == 0) {
        // A name the architecture lacks does not apply.
        for n in r.calls.iter().filter_map(|&s| (arch.nr)(s)) {
            if let Some(a) = acts.get_mut(n as usize) {
                *a = Some(r.act);
            }
        }
    }
    let mut leaves = Vec::new();
    for (n, act) in (0..).zip(acts) {
        let leaf = match act {
            _ if arch.unknown(n) => Leaf::Ret(enosys),
            None => Leaf::Ret(RET_ALLOW),
            Some(Eperm) => Leaf::Ret(eperm),
            Some(Enosys) => Leaf::Ret(enosys),
            Some(CloneFlags) => Leaf::Rules(&clone, eperm),
            Some(SocketDomain) => Leaf::Rules(&socket, RET_ALLOW),
            Some(PersonalityArg) => Leaf::Rules(&personality, eperm),
        };
        push(&mut leaves, n, leaf);
    }
    push(&mut leaves, arch.max_nr + 1, Leaf::Ret(enosys));
    dispatch(arch, &leaves)
}

/// The kernel's limit on a program's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;
/// The most comparisons in one rule: a rule's code (at most 6 instructions each, and its
/// return) must fit an 8-bit jump to the next rule.
pub const MAX_CMPS: usize = 16;
const _: () = assert!(6 * MAX_CMPS + 1 < FAIL as usize);
/// A jump to the next rule, resolved when the rule is complete.
const FAIL: u8 = u8::MAX;

/// How an argument is compared with `value` (SCMP_CMP_*), both as 64-bit unsigned numbers.
#[derive(Clone, Copy, PartialEq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `arg & value == two`.
    MaskedEq,
}

/// `args[arg] op value`.
#[derive(Clone, Copy)]
pub struct Cmp {
    pub arg: u8,
    pub op: Op,
    pub value: u64,
    pub two: u64,
}

/// The comparisons (at most [`MAX_CMPS`]) that must all hold for the call to get `ret`.
pub struct Rule {
    pub cmps: Vec<Cmp>,
    pub ret: u32,
}

/// What the numbers of a range get: a return, or (a range of one number) the first of the
/// rules that holds, and the second field when none does.
pub enum Leaf<'a> {
    Ret(u32),
    Rules(&'a [Rule], u32),
}

/// Add the leaf of the range from `n` on, or let the range before take `n` when both
/// return the same.
pub fn push<'a>(leaves: &mut Vec<(u32, Leaf<'a>)>, n: u32, leaf: Leaf<'a>) {
    if let (Some((_, Leaf::Ret(last))), Leaf::Ret(k)) = (leaves.last(), &leaf) {
        if last == k {
            return;
        }
    }
    leaves.push((n, leaf));
}

fn ins(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The program for `arch`: other ABIs are killed as in [`program`], then each number gets
/// the leaf of the range it is in. `leaves` are the ranges' first numbers, ascending, the
/// first 0.
pub fn dispatch(arch: &Arch, leaves: &[(u32, Leaf)]) -> Vec<sock_filter> {
    let mut p = vec![
        ins(LD, ARCH, 0, 0),
        ins(JEQ, arch.audit, 1, 0),
        ins(RET, RET_KILL_PROCESS, 0, 0),
        ins(LD, NR, 0, 0),
    ];
    if let Some(from) = arch.abi_from {
        p.extend([
            ins(JGE, from, 0, 3),
            ins(JEQ, u32::MAX, 0, 1),
            ins(RET, ret_errno(libc::ENOSYS), 0, 0),
            ins(RET, RET_KILL_PROCESS, 0, 0),
        ]);
    }
    tree(&mut p, leaves);
    p
}

/// The code that sends the number in the accumulator to its leaf.
fn tree(p: &mut Vec<sock_filter>, leaves: &[(u32, Leaf)]) {
    match leaves {
        [] => {}
        [(_, Leaf::Ret(k))] => p.push(ins(RET, *k, 0, 0)),
        [(_, Leaf::Rules(rules, other))] => {
            for r in rules.iter() {
                rule(p, r);
            }
            p.push(ins(RET, *other, 0, 0));
        }
        _ => {
            let (low, high) = leaves.split_at(leaves.len() / 2);
            let at = p.len();
            p.push(ins(JGE, high[0].0, 0, 0));
            tree(p, low);
            let skip = p.len() - at - 1;
            match u8::try_from(skip) {
                Ok(skip) => p[at].jt = skip,
                Err(_) => {
                    p[at].jf = 1;
                    p.insert(at + 1, ins(JA, skip as u32, 0, 0));
                }
            }
            tree(p, high);
        }
    }
}

/// One rule: its comparisons, each going on when it holds and to the next rule when not,
/// then its return.
fn rule(p: &mut Vec<sock_filter>, r: &Rule) {
    let start = p.len();
    for c in &r.cmps {
        cmp(p, c);
    }
    p.push(ins(RET, r.ret, 0, 0));
    let end = p.len();
    for (pc, i) in p.iter_mut().enumerate().skip(start) {
        // At most 6 * MAX_CMPS + 1 ahead.
        let next = (end - pc - 1) as u8;
        for j in [&mut i.jt, &mut i.jf] {
            if *j == FAIL {
                *j = next;
            }
        }
    }
}

/// One comparison of a 64-bit argument, as two 32-bit halves (high first); jumps marked
/// FAIL leave the rule.
fn cmp(p: &mut Vec<sock_filter>, c: &Cmp) {
    let low = ARG0_LOW + 8 * u32::from(c.arg);
    let high = low + 4;
    let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
    let mut op = |code, k, jt, jf| p.push(ins(code, k, jt, jf));
    let (mh, th) = ((c.value >> 32) as u32, (c.two >> 32) as u32);
    // A mask without high bits, to be matched by none: the low half decides alone.
    if c.op == Op::MaskedEq && mh == 0 && th == 0 {
        op(LD, low, 0, 0);
        op(AND, vl, 0, 0);
        op(JEQ, c.two as u32, 0, FAIL);
        return;
    }
    op(LD, high, 0, 0);
    match c.op {
        Op::Eq => {
            op(JEQ, vh, 0, FAIL);
            op(LD, low, 0, 0);
            op(JEQ, vl, 0, FAIL);
        }
        Op::Ne => {
            op(JEQ, vh, 0, 2);
            op(LD, low, 0, 0);
            op(JEQ, vl, FAIL, 0);
        }
        // Above in the high half: holds; below: fails; equal: the low half decides.
        Op::Gt | Op::Ge => {
            op(JGT, vh, 3, 0);
            op(JEQ, vh, 0, FAIL);
            op(LD, low, 0, 0);
            op(if c.op == Op::Gt { JGT } else { JGE }, vl, 0, FAIL);
        }
        Op::Lt | Op::Le => {
            op(JGT, vh, FAIL, 0);
            op(JEQ, vh, 0, 2);
            op(LD, low, 0, 0);
            op(if c.op == Op::Lt { JGE } else { JGT }, vl, FAIL, 0);
        }
        Op::MaskedEq => {
            op(AND, mh, 0, 0);
            op(JEQ, th, 0, FAIL);
            op(LD, low, 0, 0);
            op(AND, vl, 0, 0);
            op(JEQ, c.two as u32, 0, FAIL);
        }
    }
}
