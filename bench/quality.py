"""Benchmark: GX validation of the contacts product's rules vs one hand-written DuckDB query.

Not part of the test run. Builds a synthetic ``staged`` contacts table in a
DuckDB file with SQL only (``range()`` + hashing, a few planted defects), then in
the same process times:

* GX: the product's GX-expressible rules in one ``validate_duckdb`` run (what
  the audit step does), best of ``--repeat``;
* SQL: the same rules as ONE hand-written aggregate query, best of ``--repeat``;
* GX per expectation: each expectation alone in its own run, minus the fixed
  per-run overhead (a run of one trivial row-count expectation), so the table
  says where the time goes.

The cross-table rules (foreign key, not after death, freshness) are SQL on both
sides and left out. Usage::

    uv run python bench/quality.py --rows 1000000 --rows 10000000

Results are printed and written to ``bench/results/quality.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would
# shadow the ``quality`` package: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import duckdb  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

from quality import suites  # noqa: E402
from quality.runner import validate_duckdb  # noqa: E402
from regionlab.spec import load_domains  # noqa: E402

REFERENCE_DATE = dt.date(2026, 11, 1)
RESULTS = Path(__file__).parent / "results" / "quality.md"


def build_table(path: Path, rows: int) -> None:
    """A staged contacts table with the published columns and ~0.1–2% defects per rule."""
    con = duckdb.connect(str(path))
    con.execute(
        f"""CREATE TABLE staged AS
        WITH base AS (SELECT i, hash(i) AS h, hash(i * 7919 + 1) AS g FROM range({rows}) t(i))
        SELECT
          -- every 100 000th row repeats the previous row's key: a duplicate row key
          printf('K%09d', CASE WHEN i % 100000 = 7 THEN i - 1 ELSE i END) AS contact_id,
          sha256(CAST(i // 3 AS VARCHAR)) AS person_key,
          '26503' || CAST(h % 10 AS VARCHAR) AS hospital_code,
          CASE WHEN g % 500 = 0 THEN NULL ELSE '265031' || CAST(h % 40 AS VARCHAR) END
            AS department_code,
          list_element(['fysisk fremmøde', 'virtuel', 'hjemmebesøg'], CAST(h % 3 AS INT) + 1)
            AS contact_type,
          CASE WHEN g % 997 = 0 THEN 'ukendt' WHEN g % 2 = 0 THEN 'akut' ELSE 'planlagt' END
            AS priority,
          CASE WHEN i % 2000 = 11 THEN TIMESTAMP '2027-01-15 10:00'
               ELSE TIMESTAMP '2016-11-01' + to_seconds(CAST(h % 315360000 AS BIGINT)) END
            AS start_time,
          CASE WHEN g % 20 = 0 THEN NULL
               WHEN i % 1000 = 3 THEN start_time - INTERVAL 2 HOUR
               ELSE start_time + to_minutes(CAST(g % 7200 AS BIGINT)) END AS end_time
        FROM base"""
    )
    con.close()


def hand_written_sql(product, reference_date: dt.date) -> str:
    """All of the product's GX rules as one aggregate query (counts of failing rows)."""
    allowed = {r.id: r for r in product.quality}
    types = ", ".join(f"'{v}'" for v in allowed["contact_type_valid"].values)
    priorities = ", ".join(f"'{v}'" for v in allowed["priority_valid"].values)
    next_day = reference_date + dt.timedelta(days=1)
    return f"""
        SELECT
          count(*) AS has_rows,
          (SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM staged
             WHERE contact_id IS NOT NULL GROUP BY contact_id HAVING count(*) > 1))
             AS contact_id_unique,
          count(*) FILTER (WHERE contact_id IS NULL) AS contact_id_not_null,
          count(*) FILTER (WHERE person_key IS NULL) AS person_key_not_null,
          count(*) FILTER (WHERE start_time IS NULL) AS start_time_not_null,
          count(*) FILTER (WHERE end_time < start_time) AS end_after_start,
          count(*) FILTER (WHERE contact_type NOT IN ({types})) AS contact_type_valid,
          count(*) FILTER (WHERE priority NOT IN ({priorities})) AS priority_valid,
          count(*) FILTER (WHERE start_time >= TIMESTAMP '{next_day}') AS start_not_in_future,
          count(*) FILTER (WHERE end_time IS NULL) AS end_time_complete,
          count(*) FILTER (WHERE department_code IS NULL) AS department_complete
        FROM staged"""


def _best(fn, repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def bench(rows: int, repeat: int, workdir: Path) -> dict:
    product = load_domains().product("patient_administration/contacts")
    items = suites.expectations(product, REFERENCE_DATE)
    expectations = [i.expectation for i in items]
    path = workdir / f"contacts_{rows}.duckdb"
    start = time.perf_counter()
    build_table(path, rows)
    build_s = time.perf_counter() - start

    gx_s, outcomes = _best(
        lambda: validate_duckdb(path, "staged", expectations, suite_name="bench"), repeat
    )

    def run_sql():
        con = duckdb.connect(str(path), read_only=True)
        try:
            cur = con.execute(hand_written_sql(product, REFERENCE_DATE))
            return dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        finally:
            con.close()

    sql_s, sql_counts = _best(run_sql, repeat)

    # Both sides must agree, or the comparison is meaningless.
    mismatches = []
    for item, outcome in zip(items, outcomes, strict=True):
        gx_count = (
            outcome.element_count
            if item.rule.type == "row_count_between"
            else (outcome.unexpected_count)
        )
        if outcome.status == "errored" or gx_count != sql_counts[item.rule.id]:
            mismatches.append((item.rule.id, gx_count, sql_counts[item.rule.id]))

    trivial = [gxe.ExpectTableRowCountToBeBetween(min_value=0)]
    overhead_s, _ = _best(
        lambda: validate_duckdb(path, "staged", trivial, suite_name="bench"), repeat
    )
    per_expectation = []
    for item in items:
        alone_s, _ = _best(
            lambda e=item.expectation: validate_duckdb(path, "staged", [e], suite_name="bench"),
            repeat,
        )
        per_expectation.append((item.rule.id, item.expectation.expectation_type, alone_s))
    path.unlink(missing_ok=True)
    return {
        "rows": rows, "build_s": build_s, "gx_s": gx_s, "sql_s": sql_s,
        "overhead_s": overhead_s, "per_expectation": per_expectation,
        "mismatches": mismatches, "counts": sql_counts,
    }  # fmt: skip


def report(results: list[dict]) -> str:
    lines = [
        "# Quality benchmark: GX vs hand-written SQL (contacts rules)",
        "",
        f"Run {dt.datetime.now():%Y-%m-%d %H:%M} on {platform.machine()}, Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}. Best of repeats; "
        "the staged table is built with SQL (`bench/quality.py`).",
        "",
        "| rows | GX suite (s) | one SQL query (s) | GX / SQL | GX fixed overhead (s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['gx_s']:.2f} | {r['sql_s']:.2f} | "
            f"{r['gx_s'] / r['sql_s']:.1f}× | {r['overhead_s']:.2f} |"
        )
    for r in results:
        lines += [
            "",
            f"## Per expectation at {r['rows']:,} rows (each alone; fixed overhead subtracted)",
            "",
            "| rule | expectation | seconds |",
            "|---|---|---:|",
        ]
        for rule_id, kind, seconds in sorted(r["per_expectation"], key=lambda x: -x[2]):
            lines.append(f"| {rule_id} | {kind} | {max(0.0, seconds - r['overhead_s']):.2f} |")
        status = "all counts agree" if not r["mismatches"] else f"MISMATCH {r['mismatches']}"
        lines += ["", f"GX and SQL counts: {status}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="table sizes (repeatable)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sizes = args.rows or [1_000_000, 10_000_000]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_quality_") as tmp:
        for rows in sizes:
            r = bench(rows, args.repeat, Path(tmp))
            results.append(r)
            print(
                f"{rows:>12,} rows: GX {r['gx_s']:.2f}s, SQL {r['sql_s']:.2f}s, "
                f"ratio {r['gx_s'] / r['sql_s']:.1f}x (build {r['build_s']:.1f}s)",
                flush=True,
            )
    text = report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
