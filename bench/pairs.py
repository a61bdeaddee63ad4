#!/usr/bin/env python3
"""Time two commands in alternating pairs (A, B, A, B, ...) and report the median of the
per-pair ratios A/B, so that drift of a shared machine (other work, the kernel's deferred
network-namespace cleanup after a row of runs) hits both sides alike. Each run is one
posix_spawn + waitpid, timed with a monotonic clock; the spawn's own cost (the same for
both, about the '/bin/true on the host' row) is included in each side.

usage: pairs.py [--warmup K] N OUT.json -- A... -- B...

A side is one command, or several separated by a lone ':::' that run one after another and
are timed together (each must exit 0). In every argument `{id}` becomes an id unique to the
run (`crabbench-<pid>-<n>`, the same in all steps of one run). A step `@wait FILE` reads a
pid from FILE (a runtime's `--pid-file`) and waits until that process has exited: pairs.py
makes itself a child subreaper, as containerd's shim and conmon are, so a container's first
process becomes its child once `create` has exited and is reaped here.

On a failure OUT.json holds {"ok": false, "error": ...} (the failing command's last stderr
line) and the exit status is 1.
"""
import ctypes, json, os, statistics, sys, tempfile, time

PR_SET_CHILD_SUBREAPER = 36


class Failed(Exception):
    pass


def main():
    args = sys.argv[1:]
    warmup = 10
    if args[:1] == ["--warmup"]:
        warmup, args = int(args[1]), args[2:]
    n, out = int(args[0]), args[1]
    rest = args[2:]
    i = rest.index("--", 1)
    a, b = rest[1:i], rest[i + 1:]

    def steps(side):
        s, cur = [], []
        for w in side:
            if w == ":::":
                s.append(cur)
                cur = []
            else:
                cur.append(w)
        s.append(cur)
        return [x for x in s if x]

    sa, sb = steps(a), steps(b)
    if any(st[0] == "@wait" for st in sa + sb):
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            sys.exit("pairs.py: prctl(PR_SET_CHILD_SUBREAPER) failed")
    devnull = os.open(os.devnull, os.O_RDWR)
    errf = tempfile.TemporaryFile()  # the stderr of the last step run
    seq = [0]

    def spawn(cmd):
        os.ftruncate(errf.fileno(), 0)
        os.lseek(errf.fileno(), 0, os.SEEK_SET)
        try:
            pid = os.posix_spawnp(cmd[0], cmd, os.environ,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                                (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                (os.POSIX_SPAWN_DUP2, errf.fileno(), 2)])
        except OSError as e:
            raise Failed(f"{' '.join(cmd)}: {e}")
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            os.lseek(errf.fileno(), 0, os.SEEK_SET)
            lines = [l for l in os.read(errf.fileno(), 65536).decode(errors="replace").splitlines() if l.strip()]
            raise Failed(f"{' '.join(cmd)}: exit {code}" + (f": {lines[-1]}" if lines else ""))

    def wait_pidfile(path):
        try:
            pid = int(open(path).read().strip())
        except (OSError, ValueError) as e:
            raise Failed(f"@wait {path}: {e}")
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # not ours after all: poll until it is gone
            while os.path.exists(f"/proc/{pid}"):
                time.sleep(0.0002)

    def once(side):
        seq[0] += 1
        uid = f"crabbench-{os.getpid()}-{seq[0]}"
        t = time.perf_counter_ns()
        for st in side:
            st = [w.replace("{id}", uid) for w in st]
            if st[0] == "@wait":
                wait_pidfile(st[1])
            else:
                spawn(st)
        dt = (time.perf_counter_ns() - t) / 1e6
        while True:  # reap anything else a runtime left to us (subreaper); untimed
            try:
                p, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if p == 0:
                break
        return dt

    ta, tb = [], []
    try:
        for _ in range(warmup):
            once(sa); once(sb)
        for _ in range(n):
            ta.append(once(sa)); tb.append(once(sb))
    except Failed as e:
        json.dump({"ok": False, "a": a, "b": b, "error": str(e)}, open(out, "w"), indent=2)
        print(f"pairs: FAILED: {e}")
        sys.exit(1)
    ratios = sorted(x / y for x, y in zip(ta, tb))
    q = lambda f: ratios[min(len(ratios) - 1, int(f * len(ratios)))]
    r = {"ok": True, "pairs": n, "a": a, "b": b, "median_a_ms": statistics.median(ta),
         "median_b_ms": statistics.median(tb), "median_ratio": statistics.median(ratios),
         "ratio_p25": q(0.25), "ratio_p75": q(0.75), "times_a_ms": ta, "times_b_ms": tb}
    json.dump(r, open(out, "w"), indent=2)
    print(f"pairs: A median {r['median_a_ms']:.2f} ms, B median {r['median_b_ms']:.2f} ms, "
          f"median A/B {r['median_ratio']:.3f} (p25..p75 {r['ratio_p25']:.3f}..{r['ratio_p75']:.3f}) over {n} pairs")


main()
