"""The publish step alone: a product of ``--rows`` rows plus a publish's bookkeeping inserts.

Like a pipeline's publish: one transaction writes the product and ``--checks``
single-row INSERTs into ``_regionlab`` (the quality history). Runs on whichever
DuckDB the environment has, so running it alternately from two checkouts gives
a same-minute A/B comparison on a shared machine::

    uv run python -m bench.publish_cost [--rows 100000] [--checks 20] [--publishes 8]

Prints one JSON object: DuckDB version, load averages, seconds per publish
(median and all) and the Parquet files left under ``_regionlab``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument("--publishes", type=int, default=8)
    parser.add_argument("--var", type=Path, default=Path("/tmp/rl-publish-cost"))
    args = parser.parse_args()
    shutil.rmtree(args.var, ignore_errors=True)
    os.environ["REGIONLAB_VAR"] = str(args.var)
    from regionlab import lake

    load_before = os.getloadavg()
    con = lake.connect()
    times = []
    for run in range(args.publishes):
        also = [
            ("CREATE SCHEMA IF NOT EXISTS lake._regionlab", []),
            ("CREATE TABLE IF NOT EXISTS lake._regionlab.history (run INT, c INT)", []),
        ] + [
            (f"INSERT INTO lake._regionlab.history VALUES ({run}, {i})", [])
            for i in range(args.checks)
        ]
        start = time.perf_counter()
        lake.publish(
            con,
            "bench",
            f"p{run % 4}",
            f"SELECT range AS x, 'v' || range AS s FROM range({args.rows})",
            also=also,
        )
        times.append(time.perf_counter() - start)
    con.close()
    files = len(list((args.var / "lake" / "data" / "_regionlab").rglob("*.parquet")))
    shutil.rmtree(args.var, ignore_errors=True)
    print(
        json.dumps(
            {
                "duckdb": duckdb.__version__,
                "load_before": load_before,
                "load_after": os.getloadavg(),
                "median_publish_s": round(statistics.median(times), 3),
                "publish_s": [round(t, 3) for t in times],
                "bookkeeping_files": files,
            }
        )
    )


if __name__ == "__main__":
    main()
