"""A pipeline run's DuckDB memory cap: peak RSS and time, capped against uncapped.

    REGIONLAB_VAR=<published var> python -m bench.memory_cap \
        [--product laboratory/lab_results] [--limits 2500MB 19GB] [--rounds 1]

Each round runs the product's whole write–audit–publish (``full_refresh``, the
benchmark's ``source_product`` stage, in a fresh child per run) once per limit,
alternating, so both see the same machine. ``19GB`` is DuckDB's own default on a
24 GB machine (80 % of RAM): the uncapped baseline. Prints one line per run with
the steps that matter for memory (pseudonymise, publish, the whole run), their
peak RSS and the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os

from bench.measure import run_child


def _env(limit: str) -> dict[str, str]:
    var = os.environ["REGIONLAB_VAR"]
    return {
        "REGIONLAB_VAR": var,
        "REGIONLAB_KEY_FILE": os.environ.get("REGIONLAB_KEY_FILE", f"{var}/secrets/pseudonym.key"),
        "DAGSTER_HOME": f"{var}/dagster",
        "REGIONLAB_DUCKDB_MEMORY_LIMIT": limit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", default="laboratory/lab_results")
    parser.add_argument("--limits", nargs="+", default=["2500MB", "19GB"])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for limit in args.limits:
            before = round(os.getloadavg()[0], 1)
            result = run_child("source_product", {"product": args.product}, _env(limit))
            windows = result["windows"]
            line = {
                "limit": limit,
                "status": result.get("status"),
                "rows": result.get("rows"),
                "load": f"{before}→{round(os.getloadavg()[0], 1)}",
                "child_peak_rss_mb": round(result.get("peak_rss_mb", 0)),
            }
            for name in ("total", "pseudonymise", "publish"):
                if name in windows:
                    w = windows[name]
                    line[name] = f"{w['seconds']:.1f} s, {w['peak_rss_mb']:.0f} MB"
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
