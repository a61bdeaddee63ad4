#!/usr/bin/env python3
"""Time two commands in alternating pairs (A, B, A, B, ...) and report the median of the
per-pair ratios A/B, so that drift of a shared machine (other work, the kernel's deferred
network-namespace cleanup after a row of runs) hits both sides alike. Each run is one
posix_spawn + waitpid, timed with a monotonic clock; the spawn's own cost (the same for
both, about the '/bin/true on the host' row) is included in each side.

usage: pairs.py N OUT.json -- A... -- B...
"""
import json, os, statistics, sys, time

def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    rest = sys.argv[3:]
    i = rest.index("--", 1)
    a, b = rest[1:i], rest[i + 1:]
    devnull = os.open(os.devnull, os.O_RDWR)
    def once(cmd):
        t = time.perf_counter_ns()
        pid = os.posix_spawnp(cmd[0], cmd, os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                            (os.POSIX_SPAWN_DUP2, devnull, 1),
                                            (os.POSIX_SPAWN_DUP2, devnull, 2)])
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"pairs.py: {' '.join(cmd)} failed with {status}")
        return (time.perf_counter_ns() - t) / 1e6
    for _ in range(10):  # warm-up
        once(a); once(b)
    ta, tb = [], []
    for _ in range(n):
        ta.append(once(a)); tb.append(once(b))
    ratios = [x / y for x, y in zip(ta, tb)]
    r = {"pairs": n, "a": a, "b": b, "median_a_ms": statistics.median(ta),
         "median_b_ms": statistics.median(tb), "median_ratio": statistics.median(ratios)}
    json.dump(r, open(out, "w"), indent=2)
    print(f"pairs: A median {r['median_a_ms']:.2f} ms, B median {r['median_b_ms']:.2f} ms, "
          f"median A/B {r['median_ratio']:.2f} over {n} pairs")

main()
