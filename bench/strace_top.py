#!/usr/bin/env python3
"""What one `crab-can run IMG /bin/true` spends its time on, from `strace -f -T -tt`.

    bench/strace_top.py [N] strace-T.1.txt [strace-T.2.txt ...]   -> markdown on stdout

Phases (wall clock, from the -tt timestamps): the parent's setup before the namespace
clone, the clone itself, the container's setup (child until it execs the command), the
command, and teardown (command exit to crab-can's exit). Then the N slowest syscalls by
their own -T time, split into work and waiting (a parent blocked on its child). strace
slows every syscall down, so read the proportions, not the absolute numbers.
Standard library only.
"""
import os
import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d+):(\d+):(\d+\.\d+)\s+(.*)$")
CALL = re.compile(r"^([a-z_0-9]+)\((.*)")
RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>(.*)")
DUR = re.compile(r"<(\d+\.\d+)>\s*$")
EXITED = re.compile(r"^\+\+\+ exited with (\d+) \+\+\+")
WAITING = {"ppoll", "poll", "epoll_wait", "epoll_pwait", "wait4", "waitid", "read",
           "futex", "select", "pselect6", "nanosleep", "clock_nanosleep"}


def parse(path):
    events = []  # (t, pid, kind, name, args, dur)
    pending = {}  # pid -> (t, name, args) of an <unfinished ...> call
    for raw in open(path, errors="replace"):
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid = int(m.group(1))
        t = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
        rest = m.group(5)
        e = EXITED.match(rest)
        if e:
            events.append((t, pid, "exit", "", e.group(1), 0.0))
            continue
        r = RESUMED.match(rest)
        if r:
            st = pending.pop(pid, (t, r.group(1), ""))
            d = DUR.search(rest)
            events.append((st[0], pid, "call", st[1], st[2] + r.group(2),
                           float(d.group(1)) if d else 0.0))
            continue
        c = CALL.match(rest)
        if not c:
            continue
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (t, c.group(1), c.group(2)[:-len("<unfinished ...>")])
            continue
        d = DUR.search(rest)
        events.append((t, pid, "call", c.group(1), c.group(2), float(d.group(1)) if d else 0.0))
    events.sort(key=lambda e: e[0])
    return events


def analyse(path):
    """Phases, per-(process, syscall) totals and the event list of one trace."""
    ev = parse(path)
    if not ev:
        return None
    first_pid, t_start = ev[0][1], ev[0][0]
    t_end = max(e[0] for e in ev if e[1] == first_pid and e[2] == "exit")
    clone = next((e for e in ev if e[1] == first_pid and e[3] in ("clone3", "clone")
                  and "CLONE_NEW" in e[4]), None)
    exe = [e for e in ev if e[3] == "execve" and e[1] != first_pid]
    cmd = exe[-1] if exe else None
    cmd_exit = next((e for e in ev if cmd and e[1] == cmd[1] and e[2] == "exit"), None)
    role = lambda pid: ("parent" if pid == first_pid else
                        "pid 2 (→ command)" if cmd and pid == cmd[1] else "init")
    phases = {}
    if clone and cmd and cmd_exit:
        c_end = clone[0] + clone[5]
        phases = {
            "parent setup (exec of crab-can .. namespace clone)": clone[0] - t_start,
            f"{clone[3]}() with the new namespaces": clone[5],
            "container setup in the child (.. execve of the command)": cmd[0] - c_end,
            "the command itself (execve .. exit)": cmd_exit[0] - cmd[0],
            "teardown (command exit .. crab-can exit)": t_end - cmd_exit[0],
        }
    totals = {}
    for e in ev:
        if e[2] == "call":
            k = (role(e[1]), e[3])
            n, d = totals.get(k, (0, 0.0))
            totals[k] = (n + 1, d + e[5])
    return {"path": path, "total": t_end - t_start, "phases": phases, "totals": totals,
            "events": ev, "role": role}


def main():
    paths = [a for a in sys.argv[1:] if not a.isdigit()]
    n = next((int(a) for a in sys.argv[1:] if a.isdigit()), 15)
    runs = [r for r in map(analyse, paths) if r]
    if not runs:
        print("(no strace events parsed)")
        return
    ms = lambda s: f"{s * 1000:.3f}"
    mid = sorted(runs, key=lambda r: r["total"])[len(runs) // 2]
    med = lambda xs: sorted(xs)[len(xs) // 2]
    print(f"{len(runs)} traced runs; total under strace {ms(min(r['total'] for r in runs))}"
          f"–{ms(max(r['total'] for r in runs))} ms, median {ms(mid['total'])} ms. strace "
          "slows every syscall down, so the proportions matter, not the absolute times.\n")
    if mid["phases"]:
        print("| phase (median over the traced runs) | ms | share |\n|---|---:|---:|")
        tot = med([r["total"] for r in runs])
        for name in mid["phases"]:
            v = med([r["phases"].get(name, 0.0) for r in runs if r["phases"]])
            print(f"| {name} | {ms(v)} | {100 * v / tot:.0f}% |")
        print()
    keys = set(k for r in runs for k in r["totals"])
    agg = []
    for k in keys:
        d = med([r["totals"].get(k, (0, 0.0))[1] for r in runs])
        c = med([r["totals"].get(k, (0, 0.0))[0] for r in runs])
        agg.append((d, c, k))
    work = sorted((a for a in agg if a[2][1] not in WAITING), reverse=True)[:n]
    print(f"Top {len(work)} syscalls by time spent in them (work, not waiting; median over the "
          "traced runs):\n")
    print("| ms | calls | process | syscall |\n|---:|---:|---|---|")
    for d, c, (who, name) in work:
        print(f"| {ms(d)} | {c} | {who} | `{name}` |")
    ev, role = mid["events"], mid["role"]
    calls = [e for e in ev if e[2] == "call"]
    slow = sorted((e for e in calls if e[3] not in WAITING), key=lambda e: -e[5])[:10]
    print(f"\nSlowest single syscalls of the median run (`{os.path.basename(mid['path'])}`):\n")
    print("| ms | process | syscall |\n|---:|---|---|")
    for e in slow:
        args = re.sub(r"\s*=\s[^=]*<\d+\.\d+>\s*$", "", e[4]).rstrip()
        args = args if len(args) <= 90 else args[:87] + "..."
        args = args.replace("|", "\\|")
        print(f"| {ms(e[5])} | {role(e[1])} | `{e[3]}({args}` |")
    wait = sorted((e for e in calls if e[3] in WAITING), key=lambda e: -e[5])[:3]
    print("\nBlocked, not working (a process waiting for its child), in the same run: " +
          ", ".join(f"{role(e[1])} `{e[3]}` {ms(e[5])} ms" for e in wait) + ".")


if __name__ == "__main__":
    main()
