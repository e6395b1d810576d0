#!/usr/bin/env bash
#  pins.sh - what an operator's pin or priority costs and buys, measured:
#  the 10 most requested m-small units of servegen-dev pinned, or given
#  priority high, against the plain catalog, at budget 0 and at 2097152 MB,
#  for predictive, keepalive:600 and ollama; prints a markdown table (the
#  catalogs and the JSON stay in OUT, default build/pins/). About 5 minutes.
#
#  Usage: bench/pins.sh [OUT]
#  Env:   WARMUP_EVAL (default build/bin/warmup-eval)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${WARMUP_EVAL:-build/bin/warmup-eval}
OUT=${1:-build/pins}
D=data/servegen-dev
mkdir -p "$OUT"
zcat $D/trace.csv.gz | awk -F, 'NR > 1 && $3 ~ /^m-small\// {n[$3]++}
    END {for (m in n) print n[m], m}' | sort -k1,1nr -k2,2 | head -10 | cut -d' ' -f2 \
    > "$OUT/top10.txt"
cp $D/catalog.csv "$OUT/catalog-plain.csv"
for v in "pin 1" "priority high"; do
    set -- $v
    awk -F, -v col="$1" -v val="$2" 'NR == FNR {top [$1] = 1; next}
        FNR == 1 {print $0 "," col; next} {print $0 "," (($1 in top) ? val : "")}' \
        "$OUT/top10.txt" $D/catalog.csv > "$OUT/catalog-$1.csv"
done
echo "| budget | policy | catalog | cold_starts | cold_wait_s | resident_gb_s | 10 units: cold + delayed | 10 units: cold_wait_s | 10 units: resident_gb_s | rest: cold_wait_s |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for budget in 0 2097152; do
    for c in plain pin priority; do
        "$BIN" --trace $D/trace.csv.gz --catalog "$OUT/catalog-$c.csv" --budget-mb $budget \
            --policy predictive --policy keepalive:600 --policy ollama --json --quiet \
            > "$OUT/$c-$budget.json"
        python3 - "$OUT/$c-$budget.json" "$budget" "$c" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))
budget, catalog = sys.argv[2], sys.argv[3]
for p in run["policies"]:
    if catalog == "plain" and p["name"] == "ollama":
        continue
    units = rest = None
    if "by_class" in p:
        key = "pinned" if catalog == "pin" else "high"
        units, rest = p["by_class"][key], p["by_class"]["normal"]
    cells = ["-"] * 4
    if units:
        cells = [f"{units['cold_starts']} + {units['delayed']}", f"{units['cold_wait_s']:.3f}",
                 f"{units['resident_gb_s']:.3f}", f"{rest['cold_wait_s']:.3f}"]
    print(f"| {budget} | `{p['name']}` | {catalog} | {p['cold_starts']} | {p['cold_wait_s']:.3f} "
          f"| {p['resident_gb_s']:.3f} | " + " | ".join(cells) + " |")
EOF
    done
done
