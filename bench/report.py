#!/usr/bin/env python3
"""Turn bench/out/ (written by bench/run.sh) into results.md and summary.json, and print
results.md.   bench/report.py OUT_DIR        Standard library only."""
import csv
import json
import os
import statistics as st
import sys

# Targets (the issue's): latency <= 1.3 x the unshare --net --root floor and below bwrap;
# >= 8 x faster than runc; static binary <= 450 KB; parent and init each < 1 MiB VmHWM.
# OCI mode: `run -b BUNDLE ID` >= 8 x faster than runc's (aim 10 x); podman and containerd
# end to end no slower with crab-can than with runc (crab-can / runc <= 1).
FLOOR_MAX = 1.3
RUNC_MIN = 8.0
OCI_RUNC_MIN = 8.0
OCI_RUNC_AIM = 10.0
E2E_MAX = 1.0
SIZE_MAX = 450_000          # bytes (KB = 1000 bytes)
HWM_MAX_KB = 1024           # 1 MiB; /proc/<pid>/status counts in kB = KiB

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
P = lambda name: os.path.join(out, name)


def tsv(name):
    if not os.path.exists(P(name)):
        return []
    with open(P(name), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def fmt_ms(s):
    return "–" if s is None else (f"{s * 1e3:.2f}" if s < 0.1 else f"{s * 1e3:.1f}")


def x(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


lines = []
w = lines.append

# ------------------------------------------------------------------ latency
lat = {}
for r in tsv("latency.tsv"):
    d = {"key": r["key"], "label": r["label"], "command": r["command"],
         "ok": r["status"] == "ok", "error": r["error"]}
    if d["ok"]:
        res = json.load(open(P(f"lat-{r['key']}.json")))["results"][0]
        t = sorted(res["times"])
        d.update(median=res["median"], mean=res["mean"], sd=res["stddev"] or 0.0,
                 min=res["min"], p95=t[min(len(t) - 1, int(0.95 * len(t)))], n=len(t))
    lat[r["key"]] = d
med = lambda k: lat.get(k, {}).get("median")
crab = med("crab-can")
wrap = (med("wrap-noop") - med("true")) if med("wrap-noop") and med("true") else None
wrap_note = ""
if wrap is not None and wrap < 0:  # within the noise: subtract nothing
    wrap, wrap_note = 0.0, " (the wrapper row came out faster than bare /bin/true: noise; nothing subtracted)"

machine = open(P("machine.md")).read().rstrip() if os.path.exists(P("machine.md")) else ""
w("# crab-can benchmark\n")
w(machine + "\n")
n_runs = next((d["n"] for d in lat.values() if d.get("n")), "?")
w(f"## Start-to-exit latency (`/bin/true` in the container; hyperfine -N, {n_runs} runs)\n")
w("| row | median ms | mean ± sd ms | min ms | p95 ms | × crab-can |")
w("|---|---:|---:|---:|---:|---:|")
for d in lat.values():
    if d["ok"]:
        w(f"| {d['label']} | **{fmt_ms(d['median'])}** | {fmt_ms(d['mean'])} ± {fmt_ms(d['sd'])} "
          f"| {fmt_ms(d['min'])} | {fmt_ms(d['p95'])} | {x(d['median'], crab)} |")
    else:
        w(f"| {d['label']} | FAILED | `{d['error']}` | | | |")
w("")
if wrap is not None:
    w(f"The runc and crun rows go through a `/bin/sh` wrapper (a unique container id per run); "
      f"the wrapper itself costs {fmt_ms(wrap)} ms (wrapper row − bare `/bin/true` row){wrap_note}. "
      + (f"runc without it: {fmt_ms(med('runc') - wrap)} ms." if med("runc") else ""))
    w("")
parts = []
if crab and med("crab-can-host"):
    parts.append(f"new network namespace + lo up: {fmt_ms(crab - med('crab-can-host'))} ms "
                 "(default − `--net host`)")
if crab and med("crab-can-cg"):
    parts.append(f"cgroup limits: {fmt_ms(med('crab-can-cg') - crab)} ms "
                 "(`--memory 64M --pids 64` − default)")
if crab and med("unshare-net"):
    parts.append(f"crab-can above the unshare floor: {fmt_ms(crab - med('unshare-net'))} ms")
if med("crab-can-host") and med("unshare"):
    parts.append(f"crab-can's own work without a network namespace: "
                 f"{fmt_ms(med('crab-can-host') - med('unshare'))} ms (`--net host` − unshare without --net)")
if med("unshare-net") and med("unshare"):
    parts.append(f"the floor's own network namespace: {fmt_ms(med('unshare-net') - med('unshare'))} ms")
w("Every row's commands, exactly as timed, are in `bench/out/latency.tsv`; the raw times in "
  "`bench/out/lat-*.json`.\n")

# ------------------------------------------------------------------ OCI mode and engines


def pairs(name):
    """bench/pairs.py's result with the per-pair ratios B/A (A = crab-can), or None."""
    f = P(f"pairs-{name}.json")
    if not os.path.exists(f):
        return None
    r = json.load(open(f))
    if r.get("ok", True) and "times_a_ms" in r:
        ba = sorted(b / a for a, b in zip(r["times_a_ms"], r["times_b_ms"]))
        q = lambda f_: ba[min(len(ba) - 1, int(f_ * len(ba)))]
        r.update(ok=True, speedup=st.median(ba), sp25=q(0.25), sp75=q(0.75))
    return r


OCI = {k: pairs(k) for k in ("oci-run-runc", "oci-life-runc", "oci-run-crun", "oci-life-crun",
                              "podman", "ctr", "exec-nsenter", "exec-runc")}
if any(OCI.values()) or any(k.startswith(("oci-", "life-")) for k in lat):
    n_oci = next((r["pairs"] for r in OCI.values() if r and r.get("ok")), "?")
    w("## OCI mode and engines: crab-can against runc (and crun), as ratios\n")
    w("Alternating pairs (`bench/pairs.py`: crab-can, peer, crab-can, peer, ...; the ratio is "
      "taken per pair, then the median, so the drift of a shared machine hits both sides "
      "alike). **× faster** = peer's time / crab-can's; the end-to-end and exec rows show crab-can's "
      "time / the peer's instead (≤ 1.00 = no slower).\n")
    w("| comparison | crab-can median ms | peer median ms | ratio (median per pair) | p25 .. p75 | pairs |")
    w("|---|---:|---:|---:|---:|---:|")
    desc = {
        "oci-run-runc": "`run -b BUNDLE ID` vs `runc run` (× faster)",
        "oci-life-runc": "`create --pid-file`, `start`, wait (subreaper), `delete` vs runc's (× faster)",
        "oci-run-crun": "`run -b BUNDLE ID` vs `crun run` (× faster)",
        "oci-life-crun": "create, start, wait, delete vs crun's (× faster)",
        "podman": "end to end: `podman --runtime crab-can` vs `--runtime runc`, `run --rm IMAGE true` (crab-can / runc)",
        "ctr": "end to end: `ctr run --rm --runc-binary crab-can` vs `runc`, `IMAGE ID true` (crab-can / runc)",
        "exec-nsenter": "`exec NAME true` vs `nsenter --all -t PID true` into the same container (crab-can / nsenter)",
        "exec-runc": "`exec NAME true` vs `runc exec ID true` into runc's container of the same image (crab-can / runc)",
    }
    for k, d in desc.items():
        r = OCI.get(k)
        if r is None:
            continue
        if not r.get("ok"):
            w(f"| {d} | FAILED | `{r.get('error', '')}` | | | |")
            continue
        if k in ("podman", "ctr", "exec-nsenter", "exec-runc"):
            ratios = sorted(a / b for a, b in zip(r["times_a_ms"], r["times_b_ms"]))
            q = lambda f_: ratios[min(len(ratios) - 1, int(f_ * len(ratios)))]
            w(f"| {d} | {r['median_a_ms']:.1f} | {r['median_b_ms']:.1f} | **{st.median(ratios):.3f}** "
              f"| {q(0.25):.3f} .. {q(0.75):.3f} | {r['pairs']} |")
        else:
            w(f"| {d} | {r['median_a_ms']:.2f} | {r['median_b_ms']:.2f} | **{r['speedup']:.2f}×** "
              f"| {r['sp25']:.2f} .. {r['sp75']:.2f} | {r['pairs']} |")
    w("")
    hf = []
    for m, what in (("oci", "`run -b BUNDLE ID`"), ("life", "create, start, `state` polls, delete")):
        c = lat.get(f"{m}-crab-can")
        for peer in ("runc", "crun"):
            pr = lat.get(f"{m}-{peer}")
            if not c or not pr:
                continue
            if not c["ok"] or not pr["ok"]:
                bad = c if not c["ok"] else pr
                hf.append(f"| {what}: crab-can vs {peer} | FAILED: `{bad['error']}` | | |")
                continue
            if m == "oci" and wrap is not None:
                ca, pa = c["median"] - wrap, pr["median"] - wrap
                hf.append(f"| {what}: crab-can vs {peer} | {fmt_ms(ca)} | {fmt_ms(pa)} | **{pa / ca:.2f}×** "
                          f"(with the wrapper: {pr['median'] / c['median']:.2f}×) |")
            else:
                hf.append(f"| {what}: crab-can vs {peer} | {fmt_ms(c['median'])} | {fmt_ms(pr['median'])} "
                          f"| **{pr['median'] / c['median']:.2f}×** |")
    if hf:
        w(f"The same on the bundle with hyperfine (rows `OCI: ...` above, {n_runs} runs each, run "
          "one row after the other; through `bench/wrap-oci.sh`, which makes the container id: "
          "for `run` the wrapper's cost is subtracted from both sides, the lifecycle wrapper "
          "polls `state` because a shell cannot wait for a process that is not its child):\n")
        w("| comparison | crab-can median ms | peer median ms | × faster |")
        w("|---|---:|---:|---:|")
        for l in hf:
            w(l)
        w("")
    w("The bundle is `runc spec` with `args` [\"/bin/true\"], no terminal, the bench's image as "
      "`root.path`, and no ambient capabilities (see bench/README.md); each runtime has a private "
      "`--root` under `bench/out/oci-root`. podman: private `--root`/`--runroot`, `--cgroup-manager "
      "cgroupfs --events-backend file`, `run --rm --network none --ulimit nofile=1024:1024 "
      "--ulimit nproc=1024:1024` of the busybox tree imported with `podman import`. containerd: "
      "a private daemon started by the bench (no CRI), the image from `tests/mkoci.sh` through "
      "`ctr image import`.\n")

# ------------------------------------------------------------------ throughput
tp = {}
for r in tsv("throughput.tsv"):
    tp.setdefault((r["key"], r["mode"]), []).append(r)
if tp:
    keys = list(dict.fromkeys(k for k, _ in tp))
    seqn = next((r["n"] for (k, m), rs in tp.items() if m == "seq" for r in rs), "?")
    parn = next((r["n"] for (k, m), rs in tp.items() if m == "par" for r in rs), "?")
    reps = max(len(v) for v in tp.values())
    w(f"## Throughput (`/bin/true`; median of {reps} runs each)\n")
    w(f"| tool | {seqn} one after another: s | ms / container | containers/s | CPU ms / container "
      f"| {parn} at once: s | containers/s | failed | × crab-can ({seqn} seq / {parn} par) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def agg(key, mode):
        rs = tp.get((key, mode))
        if not rs:
            return None
        el = st.median(float(r["elapsed_s"]) for r in rs)
        cpu = st.median(float(r["cpu_user_s"]) + float(r["cpu_sys_s"]) for r in rs)
        return {"el": el, "n": int(rs[0]["n"]), "cpu": cpu, "fails": sum(int(r["fails"]) for r in rs)}

    base_s, base_p = agg("crab-can", "seq"), agg("crab-can", "par")
    label = {k: lat[k]["label"] if k in lat else k for k in keys}
    for k in keys:
        s, p = agg(k, "seq"), agg(k, "par")
        rs = [f"{s['el']:.3f}", f"{s['el'] / s['n'] * 1e3:.2f}", f"{s['n'] / s['el']:.0f}",
              f"{s['cpu'] / s['n'] * 1e3:.2f}"] if s else ["–"] * 4
        rp = [f"{p['el']:.3f}", f"{p['n'] / p['el']:.0f}"] if p else ["–"] * 2
        fails = (s["fails"] if s else 0) + (p["fails"] if p else 0)
        ratio = (f"{x(s['el'] if s else None, base_s['el'] if base_s else None)} / "
                 f"{x(p['el'] if p else None, base_p['el'] if base_p else None)}")
        w(f"| {label[k]} | " + " | ".join(rs + rp) + f" | {fails} | {ratio} |")
    w("")
    w("CPU ms / container: user+sys of the whole loop (`/usr/bin/time`) over the number of "
      "containers. Rows that failed their single run above are not timed here.\n")

# ------------------------------------------------------------------ size
sz = tsv("size.tsv")
if sz:
    base = next((int(r["bin_bytes"]) for r in sz if r["key"] == "crab-can"), None)
    w("## Binary size (bytes; KB = 1000 bytes)\n")
    w("| binary | linkage | binary | shared libraries it loads | libs | total | × crab-can |")
    w("|---|---|---:|---|---:|---:|---:|")
    for r in sz:
        b, lb = int(r["bin_bytes"]), int(r["libs_bytes"])
        libs = r["libs"] or "–"
        w(f"| {r['key']} (`{r['path']}`) | {r['linkage']} | {b:,} ({b / 1000:.0f} KB) | {libs} "
          f"| {lb:,} | {b + lb:,} ({(b + lb) / 1000:.0f} KB) | {x(b + lb, base)} |")
    w("")

# ------------------------------------------------------------------ memory
mem = {}
for key in ("crab-can", "bwrap", "runc", "crun"):
    if not os.path.exists(P(f"mem-{key}.jsonl")):
        continue
    runs = [json.loads(l) for l in open(P(f"mem-{key}.jsonl")) if l.strip()]
    okr = [r for r in runs if r["ok"]]
    roles = {}
    for r in okr:
        for pr in r["procs"]:
            cur = roles.setdefault(pr["role"], {"hwm": 0, "rss": 0, "name": pr["name"], "depth": pr["depth"]})
            cur["hwm"] = max(cur["hwm"], pr["vmhwm_kb"])
            cur["rss"] = max(cur["rss"], pr["vmrss_kb"])
    mem[key] = {"ok": bool(okr), "runs": len(runs), "okruns": len(okr), "roles": roles,
                "error": next((r["error"] for r in runs if not r["ok"]), "")}
if mem:
    w("## Peak memory while a container runs `sleep 1` (VmHWM from /proc/<pid>/status; max over runs)\n")
    w("| tool | process | VmHWM kB | VmRSS kB | runtime's own total VmHWM kB |")
    w("|---|---|---:|---:|---:|")
    for key, m in mem.items():
        if not m["ok"]:
            w(f"| {key} | FAILED: `{m['error']}` | | | |")
            continue
        own = sum(v["hwm"] for k, v in m["roles"].items() if not k.startswith("workload"))
        first = True
        for role, v in sorted(m["roles"].items(), key=lambda kv: kv[1]["depth"]):
            w(f"| {key if first else ''} | {role} | {v['hwm']:,} | {v['rss']:,} | {f'{own:,}' if first else ''} |")
            first = False
    w("")
    w("Go's runc shows as one process (its threads share one address space); runc's `runc init` "
      "has exec'd into the workload by then. The workload row is busybox `sleep`, for scale.\n")

# ------------------------------------------------------------------ rootless
RL_ROWS = [("one", "bwrap"), ("one", "unshare"), ("range", "bwrap"), ("range", "unshare"),
           ("range", "unshare-auto")]
RL = {f"{m}-{p}": pairs(f"rootless-{m}-{p}") for m, p in RL_ROWS}
RL_RATIO = {}
if any(RL.values()):
    w("## Rootless: crab-can against bwrap and the `unshare` floor, as ratios\n")
    w("As an unprivileged user (`crabbench`, made with `useradd -m`, so with a subordinate "
      "range), on a copy of the image it owns (`bench/rootless.sh`), in alternating pairs; the "
      "ratio is crab-can's time / the peer's per pair, then the median (< 1.00 = crab-can "
      "faster). Every program runs by its absolute path, both sides with the same `PATH`: "
      "without newuidmap/newgidmap on it crab-can maps the one id, as bwrap and `unshare -r` "
      "do (**one id**, the like-for-like rows); with them, the user's subordinate range too "
      "(**range**), which costs two setuid helpers per run, as it costs `unshare --map-auto`.\n")
    w("| crab-can maps | peer | crab-can median ms | peer median ms | ratio (median per pair) | p25 .. p75 | pairs |")
    w("|---|---|---:|---:|---:|---:|---:|")
    desc = {
        "bwrap": "`bwrap --unshare-all --die-with-parent --bind IMG / --proc /proc --dev /dev /bin/true`",
        "unshare": "`unshare -r --fork --pid --mount --uts --ipc --net --root IMG /bin/true`",
        "unshare-auto": "`unshare --map-auto -r --fork --pid --mount --uts --ipc --net --root IMG /bin/true`",
    }
    for m, p in RL_ROWS:
        r = RL.get(f"{m}-{p}")
        if r is None:
            continue
        what = "one id" if m == "one" else "range"
        if not r.get("ok"):
            w(f"| {what} | {desc[p]} | FAILED | `{r.get('error', '')}` | | | |")
            continue
        RL_RATIO[f"{m}-{p}"] = r["median_ratio"]
        w(f"| {what} | {desc[p]} | {r['median_a_ms']:.2f} | {r['median_b_ms']:.2f} "
          f"| **{r['median_ratio']:.3f}** | {r['ratio_p25']:.3f} .. {r['ratio_p75']:.3f} | {r['pairs']} |")
    w("")

# ------------------------------------------------------------------ targets
T = []
def target(name, value, ok):
    T.append((name, value, "n/a" if ok is None else ("met" if ok else "**MISSED**")))

f = med("unshare-net")
target(f"latency ≤ {FLOOR_MAX} × floor (`unshare ... --net --root`)",
       f"{x(crab, f)} ({fmt_ms(crab)} vs {fmt_ms(f)} ms)" if crab and f else "–",
       (crab <= FLOOR_MAX * f) if crab and f else None)
pf = os.path.join(out, "pairs-floor.json")
if os.path.exists(pf) and json.load(open(pf)).get("ok", True):
    pr = json.load(open(pf))
    target(f"latency ≤ {FLOOR_MAX} × floor, measured in {pr['pairs']} alternating pairs (`bench/pairs.py`)",
           f"{pr['median_ratio']:.2f}× (median of per-pair ratios; {pr['median_a_ms']:.2f} vs {pr['median_b_ms']:.2f} ms, "
           f"spawn cost included on both sides)",
           pr["median_ratio"] <= FLOOR_MAX)
bw = med("bwrap")
target("latency below bwrap's", f"{fmt_ms(crab)} vs {fmt_ms(bw)} ms ({x(crab, bw)})" if crab and bw else "–",
       (crab < bw) if crab and bw else None)
rc = med("runc")
if rc and crab:
    rc_net = rc - wrap if wrap is not None else rc
    target(f"≥ {RUNC_MIN:g} × faster than runc",
           f"{rc_net / crab:.2f}× without the wrapper ({rc / crab:.2f}× as measured)",
           rc_net / crab >= RUNC_MIN)
else:
    target(f"≥ {RUNC_MIN:g} × faster than runc", lat.get("runc", {}).get("error", "–") or "–", None)
r = OCI.get("oci-run-runc")
if r is not None:
    ok = r.get("ok")
    target(f"OCI `run -b BUNDLE ID` ≥ {OCI_RUNC_MIN:g} × faster than runc's (aim {OCI_RUNC_AIM:g} ×), alternating pairs",
           f"{r['speedup']:.2f}× ({r['median_a_ms']:.2f} vs {r['median_b_ms']:.2f} ms)" if ok else r.get("error", "–"),
           (r["speedup"] >= OCI_RUNC_MIN) if ok else None)
r = OCI.get("oci-run-crun")
if r is not None and not r.get("ok"):
    target("OCI `run` against crun", f"crun cannot run here: `{r.get('error', '')}`", None)
for k, name in (("podman", "podman"), ("ctr", "containerd (`ctr run`)")):
    r = OCI.get(k)
    if r is None:
        continue
    if r.get("ok"):
        ratio = st.median(a / b for a, b in zip(r["times_a_ms"], r["times_b_ms"]))
        target(f"end to end under {name} no slower than with runc (crab-can / runc ≤ {E2E_MAX:g})",
               f"{ratio:.3f} ({r['median_a_ms']:.1f} vs {r['median_b_ms']:.1f} ms, {r['pairs']} pairs)",
               ratio <= E2E_MAX)
    else:
        target(f"end to end under {name} no slower than with runc", f"FAILED: {r.get('error', '')}", False)
r = OCI.get("exec-nsenter")
if r is not None:
    if r.get("ok"):
        ratio = st.median(a / b for a, b in zip(r["times_a_ms"], r["times_b_ms"]))
        target("`exec NAME true` at or below `nsenter --all -t PID true` (crab-can / nsenter ≤ 1)",
               f"{ratio:.3f} ({r['median_a_ms']:.2f} vs {r['median_b_ms']:.2f} ms, {r['pairs']} pairs)",
               ratio <= 1.0)
    else:
        target("`exec NAME true` at or below `nsenter`", f"FAILED: {r.get('error', '')}", False)
RL_MAX = 1.1
if any(RL.values()):
    def rl(key, label):
        r = RL.get(key)
        if r is None:
            return label + " –", None
        if not r.get("ok"):
            return f"{label}: FAILED: {r.get('error', '')}", False
        return f"{r['median_ratio']:.3f} × {label}", r["median_ratio"]
    (tb, rb), (tu, ru) = rl("one-bwrap", "bwrap"), rl("one-unshare", "unshare -r")
    target(f"rootless, one id: below bwrap, at most {RL_MAX:g} × the unshare -r floor (alternating pairs)",
           f"{tb}, {tu}",
           (rb < 1.0 and ru <= RL_MAX) if isinstance(rb, float) and isinstance(ru, float)
           else (False if False in (rb, ru) else None))
    (tb, rb), (tu, ru), (ta, ra) = (rl("range-bwrap", "bwrap"), rl("range-unshare", "unshare -r"),
                                    rl("range-unshare-auto", "unshare --map-auto"))
    target("rootless, subordinate range (two setuid helpers a run): at or below `unshare --map-auto`, "
           "which maps the same through the same helpers (bwrap and `unshare -r` map one id)",
           f"{ta}; {tb}, {tu}",
           ra <= 1.0 if isinstance(ra, float) else (False if ra is False else None))
cr = next((r for r in sz if r["key"] == "crab-can"), None)
if cr:
    b = int(cr["bin_bytes"])
    target(f"static binary ≤ {SIZE_MAX // 1000} KB", f"{b:,} bytes ({b / 1000:.0f} KB), {cr['linkage']}",
           b <= SIZE_MAX and cr["linkage"].startswith("static"))
cm = mem.get("crab-can")
for role, name in (("parent (crab-can run)", "parent"), ("init (pid 1 inside)", "init")):
    v = cm["roles"].get(role) if cm and cm["ok"] else None
    target(f"{name} VmHWM < 1 MiB", f"{v['hwm']} kB" if v else "–",
           (v["hwm"] < HWM_MAX_KB) if v else None)

w("## Targets\n")
w("| target | measured | verdict |\n|---|---|---|")
for t in T:
    w(f"| {t[0]} | {t[1]} | {t[2]} |")
missed = [t[0] for t in T if t[2] != "met" and t[2] != "n/a"]
w("")
w(f"**{len(T) - len(missed)} of {len(T)} met.**" + (f" Missed: {'; '.join(missed)}." if missed else "") + "\n")

# ------------------------------------------------------------------ where the time goes
w("## Where crab-can's time goes\n")
if parts:
    w("From the latency rows (differences of medians, no tracing):\n")
    for p_ in parts:
        w(f"- {p_}")
    w("")
if os.path.exists(P("probe.md")):
    w("Host costs every run pays, measured directly (`bench/probe.py`, no tracing):\n")
    w(open(P("probe.md")).read().rstrip() + "\n")
if os.path.exists(P("strace-summary.md")):
    w("One `crab-can run IMG /bin/true` under `strace -f -T -tt` (`bench/out/strace-T.*.txt`):\n")
    w(open(P("strace-summary.md")).read().rstrip() + "\n")
cfile = next((f for f in ("strace-cw.txt", "strace-c.txt") if os.path.exists(P(f))), None)
if cfile:
    rows = [l for l in open(P(cfile)).read().splitlines() if l.strip()]
    body = [l for l in rows if l.lstrip()[:1].isdigit()][:12]
    how = "strace -c -w -f" if cfile == "strace-cw.txt" else "strace -c -f"
    w(f"`{how}` of one run (`bench/out/{cfile}`; plain `strace -c -f` is in "
      "`bench/out/strace-c.txt`), top 12 by time (wait4/waitid/ppoll/read are processes "
      "waiting for their child, not work):\n")
    w("```")
    w("\n".join(rows[:2] + body))
    w("```\n")

# ------------------------------------------------------------------ leftovers
left = open(P("leftovers.txt")).read().strip() if os.path.exists(P("leftovers.txt")) else ""
w("## Left behind\n")
w(("Cleaned up after the runs:\n\n```\n" + left + "\n```\n") if left else
  "Nothing: no container, mount or cgroup of the bench's was left after the runs.\n")

text = "\n".join(lines)
open(P("results.md"), "w").write(text + "\n")
json.dump({"latency": [{"key": d["key"], "label": d["label"], "ok": d["ok"],
                        "median_ms": d["median"] * 1e3 if d["ok"] else None,
                        "error": d["error"]} for d in lat.values()],
           "wrapper_ms": wrap * 1e3 if wrap is not None else None,
           "pairs": {k: ({kk: vv for kk, vv in v.items() if not kk.startswith("times_")} if v else None)
                     for k, v in {**OCI, **{f"rootless-{k}": v for k, v in RL.items()}}.items()},
           "targets": [{"target": t[0], "measured": t[1], "verdict": t[2].strip("*")} for t in T]},
          open(P("summary.json"), "w"), indent=2)
print(text)
