#!/usr/bin/env python3
"""Two host costs that every `crab-can run` pays, measured without strace's overhead:

  1. its state file: create + flock + truncate + pwrite + unlink + close in the state
     directory (/run/crab-can), next to the same in /dev/shm (a tmpfs);
  2. an empty cgroup: mkdir + rmdir in the cgroup v2 tree crab-can uses by default.

    bench/probe.py STATE_DIR CGROUP_PARENT [N]      -> markdown lines on stdout

Works only in directories of its own, next to STATE_DIR (on the same filesystem, so
crab-can's own state directory is left alone) and under CGROUP_PARENT, named
crabbench-probe-*, and removes them. Standard library only.
"""
import fcntl
import os
import subprocess
import sys
import time


def fstype(path):
    try:
        return subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", path], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def state_file(d, n):
    os.makedirs(d, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        p = f"{d}/s{i}"
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"/sys/fs/cgroup/unified/crab-can/0123456789ab", 0)
        os.unlink(p)
        os.close(fd)
    us = (time.perf_counter() - t0) / n * 1e6
    os.rmdir(d)
    return us


def cgroup(d, n):
    os.mkdir(d)
    t0 = time.perf_counter()
    for i in range(n):
        os.mkdir(f"{d}/c{i}")
        os.rmdir(f"{d}/c{i}")
    us = (time.perf_counter() - t0) / n * 1e6
    os.rmdir(d)
    return us


def main():
    state, cg = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    tag = f"crabbench-probe-{os.getpid()}"
    os.makedirs(state, exist_ok=True)
    beside = os.path.dirname(os.path.abspath(state))
    if os.stat(beside).st_dev != os.stat(state).st_dev:
        print(f"- state file: not measured (`{state}` is a filesystem of its own)")
    else:
        a = state_file(f"{beside}/{tag}", n)
        b = state_file(f"/dev/shm/{tag}", n)
        print(f"- state file (create, flock, truncate, pwrite, unlink, close) in `{state}` "
              f"({fstype(state)}): **{a:.0f} µs** per container; the same in /dev/shm "
              f"(tmpfs): {b:.0f} µs")
    if os.path.isdir(cg):
        try:
            c = cgroup(f"{cg}/{tag}", n)
            print(f"- an empty cgroup, mkdir + rmdir in `{cg}` ({fstype(cg)}): **{c:.0f} µs**")
        except OSError as e:
            print(f"- cgroup mkdir + rmdir in `{cg}`: not measured ({e})")


if __name__ == "__main__":
    main()
