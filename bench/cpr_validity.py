"""CPR validity in SQL: the macro against normalising once into a column (issue 23).

Usage::

    .tools/bin/uv run --frozen python -m bench.cpr_validity [--values 2000000]

Before the macros bound their argument once, ``cpr_is_valid(x)`` expanded the
regex normalisation about ten times per value; normalising into a column and
checking the date on it was measured 16–18 s → 0.9 s on 15.6M lab rows. This
runs both on the same values in the same process (median of three) and prints
the ratio; both must find the same number of invalid values.
"""

from __future__ import annotations

import argparse
import statistics
import time

import duckdb

from regionlab.privacy.identifiers import install_cpr_macros

QUERIES = {
    "cpr_is_valid macro": "SELECT count(*) FROM raw WHERE NOT cpr_is_valid(v)",
    "baseline: normalise once, then date": (
        "SELECT count(*) FROM (SELECT cpr_normalise(v) AS n FROM raw) "
        "WHERE cpr_birth_date_normalised(n) IS NULL"
    ),
}


def _values(con: duckdb.DuckDBPyConnection, n: int) -> None:
    """Synthetic CPR-shaped strings: most have impossible dates, some have separators/spaces."""
    con.execute(
        "CREATE TABLE raw AS SELECT CASE WHEN i % 3 = 0 THEN ' ' ELSE '' END"
        " || lpad(CAST((i * 7919) % 311299 AS VARCHAR), 6, '0')"
        " || CASE WHEN i % 2 = 0 THEN '-' ELSE '' END || lpad(CAST(i % 10000 AS VARCHAR), 4, '0')"
        " AS v FROM range(?) t(i)",
        [n],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=2_000_000)
    args = parser.parse_args()
    con = duckdb.connect()
    install_cpr_macros(con)
    _values(con, args.values)
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, sql in QUERIES.items():
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            counts[name] = con.execute(sql).fetchone()[0]  # type: ignore[index]
            runs.append(time.perf_counter() - start)
        timings[name] = statistics.median(runs)
    assert len(set(counts.values())) == 1, counts
    macro, baseline = timings.values()
    for name, seconds in timings.items():
        print(f"{name:40} {seconds:6.2f} s")
    print(f"ratio macro/baseline: {macro / baseline:.2f} ({args.values:,} values)")


if __name__ == "__main__":
    main()
