#!/usr/bin/env python3
"""SVG bar chart of the median start-to-exit latency per tool, values labelled.

    bench/chart.py [bench/out/summary.json] [bench/out/latency.svg]

Reads the summary that bench/report.py writes. Python standard library only.
"""
import json
import math
import os
import sys
from xml.sax.saxutils import escape

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "out", "summary.json")
dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "out", "latency.svg")
rows = json.load(open(src))["latency"]


def colour(key):
    if key.startswith("crab-can"):
        return "#d9572b"          # crab-can
    if key in ("unshare-net", "unshare", "chroot"):
        return "#7f8c8d"          # the kernel floor
    if key in ("wrap-noop", "true"):
        return "#bdc3c7"          # references
    return "#2e6da4"              # peers


def nice_step(top):
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


LABEL_W, BAR_W, ROW_H, TOP, RIGHT = 400, 430, 26, 66, 90
width = LABEL_W + BAR_W + RIGHT
height = TOP + ROW_H * len(rows) + 40
vmax = max([r["median_ms"] for r in rows if r["ok"]] or [1.0])
step = nice_step(vmax)
top = step * math.ceil(vmax / step)
sx = lambda v: LABEL_W + BAR_W * v / top

svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
       f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
       f'<rect width="{width}" height="{height}" fill="white"/>',
       f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
       'Median start-to-exit latency of /bin/true in a container (ms, lower is better)</text>',
       f'<text x="{width / 2}" y="40" text-anchor="middle" fill="#555">hyperfine -N; same busybox '
       'image; runc/crun rows include a /bin/sh wrapper (see the wrapper row)</text>']
# grid and axis ticks
t = 0.0
while t <= top + 1e-9:
    x = sx(t)
    svg.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{TOP + ROW_H * len(rows)}" '
               'stroke="#e3e3e3"/>')
    svg.append(f'<text x="{x:.1f}" y="{TOP + ROW_H * len(rows) + 16}" text-anchor="middle" '
               f'fill="#555">{t:g}</text>')
    t += step
svg.append(f'<text x="{LABEL_W + BAR_W / 2}" y="{height - 6}" text-anchor="middle" fill="#555">ms</text>')
floor = next((r["median_ms"] for r in rows if r["key"] == "unshare-net" and r["ok"]), None)
if floor:  # the latency target: 1.3 x the unshare --net --root floor
    tx = sx(1.3 * floor)
    svg.append(f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{TOP + ROW_H * len(rows)}" '
               'stroke="#d9572b" stroke-dasharray="4 3"/>')
    svg.append(f'<text x="{tx + 3:.1f}" y="{TOP - 6}" fill="#d9572b" font-size="11">'
               f'target: 1.3 × floor = {1.3 * floor:.2f} ms</text>')
for i, r in enumerate(rows):
    y = TOP + i * ROW_H
    label = r["label"] if len(r["label"]) <= 60 else r["label"][:57] + "..."
    svg.append(f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4}" text-anchor="end">{escape(label)}</text>')
    if r["ok"]:
        v = r["median_ms"]
        svg.append(f'<rect x="{LABEL_W}" y="{y + 4}" width="{max(1.0, sx(v) - LABEL_W):.1f}" '
                   f'height="{ROW_H - 8}" fill="{colour(r["key"])}"/>')
        svg.append(f'<text x="{sx(v) + 5:.1f}" y="{y + ROW_H / 2 + 4}" font-weight="bold" '
                   'stroke="white" stroke-width="3" paint-order="stroke">'
                   f'{v:.2f} ms</text>')
    else:
        err = r["error"] if len(r["error"]) <= 70 else r["error"][:67] + "..."
        svg.append(f'<text x="{LABEL_W + 4}" y="{y + ROW_H / 2 + 4}" fill="#b03a2e">'
                   f'failed: {escape(err)}</text>')
svg.append("</svg>")
open(dst, "w").write("\n".join(svg) + "\n")
print(f"chart: {dst}")
