#!/usr/bin/env python3
"""Cost growth: per-operation time against the table's row count N.

Reads the `results.json` of several runs of the SQL runner made at
different `--rows` (e.g. ci = 200k, full = 1M, 10M) and writes a table
(Markdown, to stdout) and a chart (SVG): for each workload, the median time
of one operation — one lookup (point, index), one range scan of 100 rows,
one row (loads, scans, aggregate, count(*), CREATE INDEX) — per engine,
on log-log axes, with a dotted "log N" guide for the lookups and a "flat"
guide for the per-row workloads, both through sealdb-aes256's first point.

    python3 bench/sql/growth.py --out growth.svg RUN_DIR [RUN_DIR ...]

Per-row costs that stay flat, and lookups that grow no faster than log N,
are what issue 19 asks for; the chart shows whether they do. Standard
library only (the machine has no plotting package).
"""

import argparse
import json
import math
import os
import sys

# workload -> (operations per run as a function of the result, unit label)
PER_OP = {
    "load_1txn": (lambda r: r["rows"], "per row"),
    "point_lookup": (lambda r: 100_000, "per lookup"),
    "range_scan": (lambda r: 1000, "per scan of 100 rows"),
    "aggregate": (lambda r: r["rows"], "per row"),
    "count_star": (lambda r: r["rows"], "per row"),
    "full_scan": (lambda r: r["rows"], "per row"),
    "create_index": (lambda r: r["rows"], "per row"),
    "index_lookup": (lambda r: 10_000, "per lookup"),
}
LOOKUPS = {"point_lookup", "index_lookup", "range_scan"}
ENGINES = ["sealdb-aes256", "sealdb-plain", "sqlite", "sqlcipher"]
COLORS = {
    "sealdb-aes256": "#1f6fb4",
    "sealdb-plain": "#6aa7dd",
    "sqlite": "#d9541e",
    "sqlcipher": "#7a7a7a",
}


def load(dirs):
    runs = []
    for d in dirs:
        with open(os.path.join(d, "results.json")) as f:
            runs.append(json.load(f))
    runs.sort(key=lambda r: r["rows"])
    return runs


def per_op(run, engine, workload):
    res = run["results"].get(engine, {}).get(workload)
    if not res:
        return None
    ops, _ = PER_OP[workload]
    return res["median"] / ops(run)


def fmt_time(s):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def table(runs):
    engines = [e for e in ENGINES if any(e in r["results"] for r in runs)]
    out = ["| workload (per op) | engine | " + " | ".join(f"N = {r['rows']:,}" for r in runs) + " | last ÷ first |",
           "|---|---|" + "---:|" * (len(runs) + 1)]
    for w, (_, unit) in PER_OP.items():
        for e in engines:
            vals = [per_op(r, e, w) for r in runs]
            if all(v is None for v in vals):
                continue
            cells = [fmt_time(v) if v is not None else "—" for v in vals]
            growth = (f"{vals[-1] / vals[0]:.2f}" if vals[0] and vals[-1] else "—")
            out.append(f"| {w} ({unit}) | {e} | " + " | ".join(cells) + f" | {growth} |")
    return "\n".join(out)


def svg(runs):
    ws = list(PER_OP)
    cols, cell_w, cell_h, pad = 4, 300, 230, 50
    rows_n = math.ceil(len(ws) / cols)
    width, height = cols * cell_w, rows_n * cell_h + 40
    ns = [r["rows"] for r in runs]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    # Legend.
    x = 10
    for e in ENGINES:
        parts.append(f'<rect x="{x}" y="10" width="12" height="12" fill="{COLORS[e]}"/>'
                     f'<text x="{x + 16}" y="20">{e}</text>')
        x += 130
    parts.append(f'<text x="{x}" y="20" fill="#555">dotted: log N (lookups) / flat (per row), '
                 'through sealdb-aes256\'s first point</text>')
    lx0, lx1 = math.log10(min(ns)), math.log10(max(ns))
    if lx1 == lx0:
        lx1 = lx0 + 1
    for i, w in enumerate(ws):
        ox, oy = (i % cols) * cell_w, 40 + (i // cols) * cell_h
        pw, ph = cell_w - pad - 15, cell_h - pad - 20
        px, py = ox + pad, oy + 20
        series = {e: [(r["rows"], per_op(r, e, w)) for r in runs] for e in ENGINES}
        vals = [v for s in series.values() for _, v in s if v]
        if not vals:
            continue
        a = series["sealdb-aes256"][0][1]
        guide = []
        if a:
            base = math.log(ns[0])
            for n in ns:
                guide.append((n, a * (math.log(n) / base if w in LOOKUPS else 1.0)))
            vals += [v for _, v in guide]
        ly0, ly1 = math.log10(min(vals)) - 0.1, math.log10(max(vals)) + 0.1

        def pt(n, v):
            return (px + (math.log10(n) - lx0) / (lx1 - lx0) * pw,
                    py + ph - (math.log10(v) - ly0) / (ly1 - ly0) * ph)

        _, unit = PER_OP[w]
        parts.append(f'<text x="{ox + pad}" y="{oy + 12}" font-weight="bold">{w} ({unit})</text>')
        parts.append(f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>')
        for n in ns:
            x, _ = pt(n, vals[0])
            label = f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k"
            parts.append(f'<text x="{x:.1f}" y="{py + ph + 14}" text-anchor="middle">{label}</text>')
        for v in (min(vals), max(vals)):
            _, y = pt(ns[0], v)
            parts.append(f'<text x="{px - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="9">'
                         f'{fmt_time(v)}</text>')
        if guide:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in (pt(n, v) for n, v in guide))
            parts.append(f'<polyline points="{d}" fill="none" stroke="#999" stroke-dasharray="3,3"/>')
        for e, s in series.items():
            s = [(n, v) for n, v in s if v]
            if not s:
                continue
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in (pt(n, v) for n, v in s))
            parts.append(f'<polyline points="{d}" fill="none" stroke="{COLORS[e]}" stroke-width="2"/>')
            for n, v in s:
                x, y = pt(n, v)
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[e]}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="SVG file to write")
    ap.add_argument("dirs", nargs="+", help="runner output directories (results.json)")
    args = ap.parse_args()
    runs = load(args.dirs)
    if len(runs) < 2:
        sys.exit("need at least two runs of different sizes")
    with open(args.out, "w") as f:
        f.write(svg(runs))
    print(table(runs))


if __name__ == "__main__":
    main()
