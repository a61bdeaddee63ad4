//! The small assembler that turns the default profile ([`RULES`]) and an architecture's
//! facts ([`Arch`]) into a classic-BPF program: the arch check, ascending range checks,
//! three argument checks and the returns. Below it, the general assembler for OCI
//! profiles ([`dispatch`]).

use super::arch::{AARCH64, Arch, X86_64};
use super::profile::Act::{self, CloneFlags, Enosys, Eperm, PersonalityArg, SocketDomain};
use super::profile::{AF_ALG, AF_VSOCK, CLONE_NEW_ANY, PERSONALITIES, RULES};
use libc::sock_filter;

// Classic BPF opcodes (linux/bpf_common.h): load a word of seccomp_data, compare the
// accumulator with a constant, return a constant.
pub const LD: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub const JSET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub const RET: u16 = 0x06; // BPF_RET | BPF_K

// Offsets in struct seccomp_data: nr, arch, then args[] (64-bit, little-endian on both
// architectures).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const fn ret_errno(e: i32) -> u32 {
    0x0005_0000 | (e as u32 & 0xffff)
}

/// Jump targets: fall through, skip one instruction, or a labelled place.
#[derive(Clone, Copy, PartialEq)]
enum To {
    Next,
    Over,
    Allow,
    Eperm,
    Enosys,
    Kill,
    Clone,
    Socket,
    Personality,
}
const LABELS: usize = To::Personality as usize + 1;

/// The most holes an architecture may have.
const MAX_HOLES: usize = 2;
const _: () = assert!(X86_64.holes.len() <= MAX_HOLES && AARCH64.holes.len() <= MAX_HOLES);

/// Longest program: header, two instructions per range (at most one range per name in
/// RULES, plus the holes and the numbers above the highest), the argument checks and the
/// returns. Every jump is forward and shorter than the program, so it fits the 8-bit
/// jt/jf fields.
pub const MAX_LEN: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < RULES.len() {
        n += RULES[i].calls.len();
        i += 1;
    }
    5 + 2 * (n + MAX_HOLES + 1) + 2 + 4 + (1 + PERSONALITIES.len()) + 4
};
const _: () = assert!(MAX_LEN <= 256);

/// Instructions whose jumps name targets, resolved into offsets by `finish`.
struct Asm {
    code: Vec<(u16, u32, To, To)>,
    at: [usize; LABELS],
}

impl Asm {
    fn op(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, k, jt, jf));
    }
    fn label(&mut self, l: To) {
        self.at[l as usize] = self.code.len();
    }
    fn finish(self) -> Vec<sock_filter> {
        let at = self.at;
        let off = |pc: usize, to: To| -> u8 {
            let target = match to {
                To::Next => pc + 1,
                To::Over => pc + 2,
                l => at[l as usize],
            };
            // Forward by construction and shorter than MAX_LEN (checked above).
            target.saturating_sub(pc + 1) as u8
        };
        let code = self.code.iter().enumerate();
        code.map(|(pc, &(code, k, jt, jf))| sock_filter {
            code,
            jt: off(pc, jt),
            jf: off(pc, jf),
            k,
        })
        .collect()
    }
}

/// The program for `arch` and a container holding `caps` (bit N = capability N).
pub fn program(arch: &Arch, caps: u64) -> Vec<sock_filter> {
    // What each known number gets; None: allowed.
    let mut acts = vec![None; arch.max_nr as usize + 1];
    for &(lo, hi) in arch.holes {
        if let Some(hole) = acts.get_mut(lo as usize..=hi as usize) {
            hole.fill(Some(Enosys));
        }
    }
    for r in RULES.iter().filter(|r| caps & r.unless == 0) {
        // A name the architecture lacks does not apply.
        for n in r.calls.iter().filter_map(|&s| (arch.nr)(s)) {
            if let Some(a) = acts.get_mut(n as usize) {
                *a = Some(r.act);
            }
        }
    }
    // The numbers not allowed, as ascending ranges of one action (an argument check
    // covers a single number), then all numbers above the highest (up to the other ABI's).
    let mut runs: Vec<(u32, u32, Act)> = Vec::new();
    for (n, act) in (0..).zip(acts) {
        let Some(act) = act else { continue };
        match runs.last_mut() {
            Some(run) if run.1 + 1 == n && run.2 == act && matches!(act, Eperm | Enosys) => {
                run.1 = n
            }
            _ => runs.push((n, n, act)),
        }
    }
    let top = arch.abi_from.map_or(u32::MAX, |from| from - 1);
    runs.push((arch.max_nr + 1, top, Enosys));

    let mut a = Asm {
        code: Vec::with_capacity(MAX_LEN),
        at: [0; LABELS],
    };
    // Only native calls; another ABI's calls kill. Number -1, "no call" for tracers, is
    // none of the other ABI's: it gets ENOSYS as the kernel would give.
    a.op(LD, ARCH, To::Next, To::Next);
    a.op(JEQ, arch.audit, To::Next, To::Kill);
    a.op(LD, NR, To::Next, To::Next);
    if let Some(from) = arch.abi_from {
        a.op(JGE, from, To::Next, To::Over);
        a.op(JEQ, u32::MAX, To::Enosys, To::Kill);
    }
    // Ascending ranges: past `hi`, go on; else from `lo` on it is this range's.
    let last = runs.len().saturating_sub(1);
    for (i, &(lo, hi, act)) in runs.iter().enumerate() {
        let past = if i == last { To::Allow } else { To::Over };
        a.op(JGT, hi, past, To::Next);
        let to = match act {
            Eperm => To::Eperm,
            Enosys => To::Enosys,
            CloneFlags => To::Clone,
            SocketDomain => To::Socket,
            PersonalityArg => To::Personality,
        };
        a.op(JGE, lo, to, To::Allow);
    }
    // Argument checks, all on the first argument on both architectures (clone's flags too:
    // only s390 moves them). The low 32 bits are all the kernel reads of these arguments.
    a.label(To::Clone);
    a.op(LD, ARG0_LOW, To::Next, To::Next);
    a.op(JSET, CLONE_NEW_ANY, To::Eperm, To::Allow);
    a.label(To::Socket);
    a.op(LD, ARG0_LOW, To::Next, To::Next);
    a.op(JEQ, AF_ALG, To::Eperm, To::Next);
    a.op(JEQ, AF_VSOCK, To::Eperm, To::Allow);
    a.label(To::Personality);
    a.op(LD, ARG0_LOW, To::Next, To::Next);
    for (i, p) in PERSONALITIES.iter().enumerate() {
        let no = if i + 1 == PERSONALITIES.len() {
            To::Eperm
        } else {
            To::Next
        };
        a.op(JEQ, *p, To::Allow, no);
    }
    for (l, k) in [
        (To::Allow, RET_ALLOW),
        (To::Eperm, ret_errno(libc::EPERM)),
        (To::Enosys, ret_errno(libc::ENOSYS)),
        (To::Kill, RET_KILL_PROCESS),
    ] {
        a.label(l);
        a.op(RET, k, To::Next, To::Next);
    }
    a.finish()
}

// The general assembler, for OCI profiles: any rules on any call, with 64-bit argument
// comparisons. The numbers go through a balanced tree of `JGE` tests down to a leaf per
// range of numbers (a return, or the rules of one call); a jump too far for the 8-bit
// fields goes through `JA`, whose offset is 32 bits, so there is no length limit but the
// kernel's.

pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const AND: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K

pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;

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
            op(AND, vh, 0, 0);
            op(JEQ, (c.two >> 32) as u32, 0, FAIL);
            op(LD, low, 0, 0);
            op(AND, vl, 0, 0);
            op(JEQ, c.two as u32, 0, FAIL);
        }
    }
}
