"""100 single-row inserts → how many data files: DuckLake's defaults and regionlab's publish path.

Runs on whichever DuckDB the environment has (1.4.4 on an older checkout, 1.5.x
here), so the same file measures before and after::

    uv run python -m bench.inlining_files [--inserts 100] [--var /tmp/rl-inlining]

Prints one JSON object: DuckDB version, the load average, and per case the
Parquet files written, the files left after an explicit flush (where the lake
has one) and the median seconds per insert or publish.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import duckdb


def _files(folder: Path) -> int:
    return len(list(folder.rglob("*.parquet"))) if folder.is_dir() else 0


def plain_ducklake(var: Path, inserts: int) -> dict[str, Any]:
    """A lake attached with DuckLake's defaults; one INSERT of one row at a time."""
    from regionlab.lake import duckdb_connect, load_extensions

    con = duckdb_connect()
    load_extensions(con, "ducklake", "sqlite")
    con.execute(
        f"ATTACH 'ducklake:sqlite:{var}/plain.sqlite' AS lake (DATA_PATH '{var}/plain-data/')"
    )
    con.execute("CREATE TABLE lake.t (i INTEGER, s VARCHAR)")
    times = []
    for i in range(inserts):
        start = time.perf_counter()
        con.execute(f"INSERT INTO lake.t VALUES ({i}, 'event {i}')")
        times.append(time.perf_counter() - start)
    out: dict[str, Any] = {
        "files": _files(var / "plain-data"),
        "median_insert_s": round(statistics.median(times), 4),
    }
    functions = {
        r[0] for r in con.execute("SELECT function_name FROM duckdb_functions()").fetchall()
    }
    if "ducklake_flush_inlined_data" in functions:
        con.execute("CALL ducklake_flush_inlined_data('lake')")
        out["files_after_flush"] = _files(var / "plain-data")
    out["rows"] = con.execute("SELECT count(*) FROM lake.t").fetchone()[0]
    con.close()
    return out


def regionlab_publish(var: Path, inserts: int) -> dict[str, Any]:
    """``lake.publish`` of one product row plus one bookkeeping row, ``inserts`` times."""
    os.environ["REGIONLAB_VAR"] = str(var / "rl")
    from regionlab import lake

    con = lake.connect()
    also = [("CREATE SCHEMA IF NOT EXISTS lake._regionlab", []),
            ("CREATE TABLE IF NOT EXISTS lake._regionlab.log (i INTEGER)", [])]  # fmt: skip
    times = []
    for i in range(inserts):
        start = time.perf_counter()
        log_row = (f"INSERT INTO lake._regionlab.log VALUES ({i})", [])
        lake.publish(con, "stream", "events", f"SELECT {i} AS i", mode="append",
                     also=[*also, log_row])  # fmt: skip
        times.append(time.perf_counter() - start)
    data = var / "rl" / "lake" / "data"
    out: dict[str, Any] = {
        "product_files": _files(data / "stream"),
        "bookkeeping_files": _files(data / "_regionlab"),
        "median_publish_s": round(statistics.median(times), 4),
    }
    if hasattr(lake, "compact_bookkeeping"):
        from datetime import timedelta

        lake.compact_bookkeeping(con, grace=timedelta(0))
        out["bookkeeping_files_after_compaction"] = _files(data / "_regionlab")
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inserts", type=int, default=100)
    parser.add_argument("--var", type=Path, default=Path("/tmp/rl-inlining"))
    args = parser.parse_args()
    shutil.rmtree(args.var, ignore_errors=True)
    args.var.mkdir(parents=True)
    result = {
        "duckdb": duckdb.__version__,
        "inserts": args.inserts,
        "load_before": os.getloadavg(),
        "plain_ducklake": plain_ducklake(args.var, args.inserts),
        "regionlab_publish": regionlab_publish(args.var, args.inserts),
        "load_after": os.getloadavg(),
    }
    shutil.rmtree(args.var, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
