#!/usr/bin/env python3
"""Peak memory of a container runtime's own processes while a container runs.

    bench/peakmem.py TOOL CMD...     (CMD must run `sleep 1` inside the container)

Starts CMD, walks its process tree through /proc (ppid links) until a `sleep` appears in
it, waits a little, then reads VmHWM and VmRSS from /proc/<pid>/status of every process
in the tree. Prints one JSON object: {"tool", "ok", "error", "procs": [...]} where each
proc has pid, ppid, depth, name, role, vmhwm_kb, vmrss_kb. Standard library only.
"""
import json
import os
import subprocess
import sys
import time


def stat(pid):
    """(ppid, comm) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    lp, rp = s.index("("), s.rindex(")")
    return int(s[rp + 2:].split()[1]), s[lp + 1:rp]


def tree(root):
    """[(pid, ppid, depth, comm)] of root and its descendants (processes, not threads)."""
    info = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(int(d))
            if st:
                info[int(d)] = st
    kids = {}
    for pid, (ppid, _) in info.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [(root, 0)]
    while todo:
        pid, depth = todo.pop(0)
        if pid not in info:
            continue
        out.append((pid, info[pid][0], depth, info[pid][1]))
        todo += [(k, depth + 1) for k in sorted(kids.get(pid, []))]
    return out


def status(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    vals[k] = int(v.split()[0])
    except OSError:
        pass
    return vals


def role(tool, depth, name):
    if name == "sleep":
        return "workload (sleep 1)"
    if depth == 0:
        return {"crab-can": "parent (crab-can run)", "runc": "runc run",
                "crun": "crun run", "bwrap": "parent (bwrap)"}.get(tool, "parent")
    if tool == "crab-can" and name == "crab-can":
        return "init (pid 1 inside)"
    if tool == "bwrap" and name == "bwrap":
        return "init (pid 1 inside)"
    return f"child ({name})"


def main():
    tool, cmd = sys.argv[1], sys.argv[2:]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    procs, deadline = [], time.monotonic() + 5
    while time.monotonic() < deadline and p.poll() is None:
        t = tree(p.pid)
        if any(name == "sleep" and depth > 0 for _, _, depth, name in t):
            time.sleep(0.3)  # the container is up; read while `sleep 1` still runs
            for pid, ppid, depth, name in tree(p.pid):
                s = status(pid)
                if "VmHWM" in s:
                    procs.append({"pid": pid, "ppid": ppid, "depth": depth, "name": name,
                                  "role": role(tool, depth, name),
                                  "vmhwm_kb": s["VmHWM"], "vmrss_kb": s.get("VmRSS", 0)})
            break
        time.sleep(0.005)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    lines = [l for l in err.decode(errors="replace").splitlines() if l.strip()]
    ok = p.returncode == 0 and bool(procs)
    error = ""
    if not ok:
        error = lines[-1] if lines else (f"exit status {p.returncode}" if p.returncode
                                         else "the container's sleep was never seen")
    print(json.dumps({"tool": tool, "ok": ok, "error": error, "procs": procs}))


if __name__ == "__main__":
    main()
