#!/usr/bin/env python3
"""cost_frontier.py - EVAL.md section 6 from warmup-eval's JSON: for each
trace and price W, the cost of predictive:W and of oracle over the cost of
the best fixed keep-alive with hindsight (the lowest of the keepalive:K
sweep at that W), as a markdown table and an SVG chart.

    cost(W) = cold_wait_s x W + resident_gb_s

Usage: cost_frontier.py [--svg OUT.svg] [--md OUT.md] LABEL=SWEEP.json[,ORACLE.json] ...
  SWEEP.json   warmup-eval --policy keepalive --policy predictive --sweep --json
  ORACLE.json  warmup-eval --policy oracle --no-baselines --json (optional)
Exits 1 when an input lacks keepalive or predictive points; the numbers
themselves are reported, never judged here (the docs say what they mean).
Python's standard library only."""
import json
import sys

PRICES = [100, 300, 1000, 3000, 10000]
TARGETS = "at most 1.00 everywhere; 0.70 where arrivals can be foreseen; 0.97 at W 3000 and 10000 where they cannot"


def cost(point, price):
    return point["cold_wait_s"] * price + point["resident_gb_s"]


def load(spec):
    label, _, files = spec.partition("=")
    if not files:
        sys.exit(f"cost_frontier: '{spec}' is not LABEL=SWEEP.json[,ORACLE.json]")
    paths = files.split(",")
    points = []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        points += data.get("sweep", []) + data.get("policies", [])
    keepalive = [p for p in points if p["name"].startswith("keepalive")]
    predictive = {}
    for p in points:
        if p["name"].startswith("predictive"):
            price = float(p["name"].split(":")[1]) if ":" in p["name"] else 1000.0
            predictive[price] = p
    oracle = [p for p in points if p["name"] == "oracle"]
    if not keepalive or not predictive:
        sys.exit(f"cost_frontier: {files}: needs keepalive and predictive points")
    row = {"label": label, "predictive": {}, "oracle": {}, "best_k": {}, "fp_rate": None}
    for price in PRICES:
        best = min(keepalive, key=lambda p: cost(p, price))
        row["best_k"][price] = best["name"].split(":")[1] if ":" in best["name"] else "600"
        if price in predictive:
            row["predictive"][price] = cost(predictive[price], price) / cost(best, price)
        if oracle:
            row["oracle"][price] = cost(oracle[0], price) / cost(best, price)
    if 1000.0 in predictive:
        row["fp_rate"] = predictive[1000.0]["fp_rate"]
        row["prewarms"] = predictive[1000.0]["prewarms"]
    return row


def markdown(rows):
    out = ["| trace | " + " | ".join(f"W={w}" for w in PRICES) + " | fp_rate at W=1000 |",
           "|---|" + "---|" * (len(PRICES) + 1)]
    for r in rows:
        cells = []
        for w in PRICES:
            p = r["predictive"].get(w)
            o = r["oracle"].get(w)
            cell = f"**{p:.3f}**" if p is not None else "-"
            if o is not None:
                cell += f" ({o:.2f})"
            cells.append(cell)
        fp = "-" if r["fp_rate"] is None else f"{r['fp_rate']:.3f} of {r['prewarms']}"
        out.append(f"| {r['label']} | " + " | ".join(cells) + f" | {fp} |")
    out.append("")
    out.append("Cost of `predictive:W` over the best `keepalive:K` at W (K chosen with "
               "hindsight per trace and W); in brackets the oracle's.")
    return "\n".join(out) + "\n"


def svg(rows):
    width, height, left, right, top, bottom = 760, 420, 70, 230, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    lows = [v for r in rows for v in list(r["predictive"].values()) + list(r["oracle"].values())]
    y_min = min(0.2, min(lows) - 0.05) if lows else 0.2
    y_max = max(1.1, max(lows) + 0.05) if lows else 1.1

    def x_of(i):
        return left + plot_w * i / (len(PRICES) - 1)

    def y_of(v):
        return top + plot_h * (y_max - v) / (y_max - y_min)

    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">Cost over the best fixed keep-alive '
             f'(hindsight), budget 0: predictive (solid), oracle (dashed)</text>']
    tick = 0.1 if y_max - y_min <= 1.2 else 0.2
    v = round(y_min / tick) * tick
    while v <= y_max + 1e-9:
        y = y_of(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                     f'stroke="{"#888" if abs(v - 1) < 1e-9 else "#eee"}"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}</text>')
        v += tick
    for i, w in enumerate(PRICES):
        x = x_of(i)
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{w}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">'
                 f'W: GiB-seconds of residency one second of cold wait is worth</text>')
    for k, r in enumerate(rows):
        color = colors[k % len(colors)]
        for key, dash in (("predictive", ""), ("oracle", ' stroke-dasharray="5,4"')):
            pts = [(x_of(i), y_of(r[key][w])) for i, w in enumerate(PRICES) if w in r[key]]
            if len(pts) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                             f'stroke-width="2"{dash}/>')
            for x, y in pts:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
        parts.append(f'<rect x="{width - right + 15}" y="{top + 18 * k}" width="12" height="3" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{width - right + 32}" y="{top + 18 * k + 5}">{r["label"]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv):
    svg_path = md_path = None
    specs = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--svg", "--md") and i + 1 < len(argv):
            if argv[i] == "--svg":
                svg_path = argv[i + 1]
            else:
                md_path = argv[i + 1]
            i += 2
        elif argv[i] in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            specs.append(argv[i])
            i += 1
    if not specs:
        print(__doc__, file=sys.stderr)
        return 2
    rows = [load(s) for s in specs]
    table = markdown(rows)
    if md_path:
        with open(md_path, "w") as f:
            f.write(table)
    else:
        sys.stdout.write(table)
    if svg_path:
        with open(svg_path, "w") as f:
            f.write(svg(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
