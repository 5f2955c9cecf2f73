"""Compare two ``bench.json`` files stage by stage (e.g. DuckDB 1.4.4 against 1.5.5).

Usage::

    uv run python -m bench.compare bench/results/bench-duckdb-1.4.4.json bench/results/bench.json

Prints a Markdown table per scale present in both: the median seconds of each
stage before and after, the ratio after/before (below 1 is faster), the peak
RSS, and the load averages around each side's run — on a shared machine the
load explains much of a difference, so read ratios near 1 as "no change".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

#: (label, stage key prefix, window summed over the matching stages)
STAGES: tuple[tuple[str, str, str], ...] = (
    ("source products: write–audit–publish", "source:", "total"),
    ("· ingest", "source:", "ingest"),
    ("· quarantine", "source:", "quarantine"),
    ("· pseudonymise", "source:", "pseudonymise"),
    ("· audit (privacy)", "source:", "audit_privacy"),
    ("· audit (GX)", "source:", "audit_gx"),
    ("· lake connections", "source:", "lake_connect"),
    ("· publish", "source:", "publish"),
    ("baseline: plain DuckDB load", "plain_load:", "plain_load"),
    ("derived products", "derived:", "total"),
    ("GX on staged contacts", "gx_vs_sql", "gx"),
    ("hand-written SQL on staged contacts", "gx_vs_sql", "sql"),
    ("catalogue emission", "catalog", "total"),
    ("· DataHub Lite sink", "catalog", "sink_datahub_lite"),
    ("feasibility count", "feasibility", "feasibility"),
    ("workspace build", "workspace", "workspace"),
    ("erasure of one person", "erasure", "erasure"),
    ("· verification scan", "erasure", "verify"),
)


def _seconds(median: dict[str, Any], prefix: str, window: str) -> tuple[float, float]:
    """Summed median seconds and the largest peak RSS (MB) of a window over matching stages."""
    seconds = peak = 0.0
    for key, result in median.items():
        if key == prefix or (prefix.endswith(":") and key.startswith(prefix)):
            w = result.get("windows", {}).get(window)
            if w:
                seconds += float(w["seconds"])
                peak = max(peak, float(w.get("peak_rss_mb", 0.0)))
    return seconds, peak


def _load(median: dict[str, Any]) -> str:
    before = [r["load_before"] for r in median.values() if "load_before" in r]
    after = [r["load_after"] for r in median.values() if "load_after" in r]
    return f"{min(before + after):.1f}–{max(before + after):.1f}" if before else "–"


def table(old: dict[str, Any], new: dict[str, Any], scale: str) -> str:
    o, n = old["scales"][scale], new["scales"][scale]
    om, nm = o["median"], n["median"]
    lines = [
        f"**{int(scale):,} persons** — before: {o['repeat']} run(s) "
        f"{o['started']}–{o['finished']}, load {_load(om)}; after: {n['repeat']} run(s) "
        f"{n['started']}–{n['finished']}, load {_load(nm)}",
        "",
        "| stage | before (s) | after (s) | after/before | peak RSS before → after (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, prefix, window in STAGES:
        (b, bp), (a, ap) = _seconds(om, prefix, window), _seconds(nm, prefix, window)
        if not b and not a:
            continue
        ratio = f"{a / b:.2f}" if a and b else "–"
        lines.append(f"| {label} | {b:.2f} | {a:.2f} | {ratio} | {bp:,.0f} → {ap:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    old = json.loads(args.before.read_text())
    new = json.loads(args.after.read_text())
    versions = old["machine"].get("duckdb"), new["machine"].get("duckdb")
    print(f"before: DuckDB {versions[0]}, after: DuckDB {versions[1]}")
    for scale in sorted(set(old["scales"]) & set(new["scales"]), key=int):
        print()
        print(table(old, new, scale))


if __name__ == "__main__":
    main()
