"""The erasure verification's data-file scan against the whole-row text scan it replaced (issue 23).

Usage::

    .tools/bin/uv run --frozen python -m bench.erasure_scan [--rows 5000000]

One Parquet file shaped like lab results (person key, sample id, NPU code,
timestamp, value, a short comment) is scanned for one person three ways in the
same process, medians of three: ``scan_files`` as it is now; the previous scan
(every row cast to text, regex and CPR tokens over all of it); and the floor,
an equality filter on ``person_key`` alone (no proof for text columns).
All three must find the same rows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from regionlab.erasure import match
from regionlab.erasure.verify import Verification, scan_files
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import hmac_params, hmac_sql
from regionlab.sql import quote_literal

KEY = PseudonymKey(b"b" * 32)


def _write(path: Path, rows: int) -> str:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT CAST(i % 100000 AS VARCHAR) AS m, i FROM range(?) r(i)", [rows]
    )
    con.execute(
        f"""COPY (SELECT {hmac_sql("m")} AS person_key,
                 'S' || CAST(i AS VARCHAR) AS sample_id, 'NPU' || CAST(i % 900 AS VARCHAR) AS npu,
                 TIMESTAMP '2020-01-01' + to_seconds(i) AS sampled_at,
                 (i % 97) / 10.0 AS value,
                 CASE WHEN i % 5 = 0 THEN 'hæmolyseret prøve' END AS comment
             FROM t) TO {quote_literal(str(path))} (FORMAT parquet)""",
        hmac_params(KEY),
    )
    key = con.execute(f"SELECT {hmac_sql(quote_literal('42'))}", hmac_params(KEY)).fetchone()[0]
    con.close()
    return str(key)


def _previous(path: Path, key: str) -> int:
    con = duckdb.connect(config={"memory_limit": "3GB"})
    match.install(con, [key])
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]
    varchar = [c for c in cols if c != "value" and c != "sampled_at"]
    source = (
        f"SELECT t.file_row_number AS rid, CAST(t AS VARCHAR) AS txt, * "
        f"FROM read_parquet({quote_literal(str(path))}, file_row_number=true) t"
    )
    n = match.count_matches(con, source, KEY, match.key_regex([key]), varchar)
    con.close()
    return n


def _floor(path: Path, key: str) -> int:
    con = duckdb.connect()
    n = con.execute(
        f"SELECT count(*) FROM read_parquet({quote_literal(str(path))}) WHERE person_key = ?", [key]
    ).fetchone()[0]
    con.close()
    return int(n)


def _current(path: Path, key: str) -> int:
    v = Verification()
    scan_files(v, path.parent, KEY, [key], [])
    return sum(v.data_file_rows_found.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lab.parquet"
        key = _write(path, args.rows)
        results: dict[str, tuple[float, int]] = {}
        for name, fn in (("scan_files now", _current), ("previous scan", _previous),
                         ("floor: person_key equality", _floor)):  # fmt: skip
            runs, found = [], 0
            for _ in range(3):
                start = time.perf_counter()
                found = fn(path, key)
                runs.append(time.perf_counter() - start)
            results[name] = (statistics.median(runs), found)
    assert len({found for _, found in results.values()}) == 1, results
    now = results["scan_files now"][0]
    for name, (seconds, found) in results.items():
        print(f"{name:28} {seconds:6.2f} s  rows found {found}  now/this {now / seconds:.2f}")


if __name__ == "__main__":
    main()
