"""The quality-history table in the lake: one row per check per run, for trends and summaries.

The engine writes the rows inside the publish transaction (and a blocked run's
rows on their own); the table's shape and row builder are declared in
:mod:`regionlab.platform.tables`, and this module holds the readers the CLI,
catalogue and notebooks use. Rows hold counts and descriptions only, like ``CheckResult``.
"""

from __future__ import annotations

import duckdb
import polars as pl

from regionlab.platform.tables import QUALITY_HISTORY, quality_history_rows

#: The table (declared in :mod:`regionlab.platform.tables`) and its parts, for callers.
TABLE = QUALITY_HISTORY.qualified
COLUMNS = QUALITY_HISTORY.column_names
INSERT = QUALITY_HISTORY.insert
history_rows = quality_history_rows
exists = QUALITY_HISTORY.exists
ensure = QUALITY_HISTORY.ensure


_LATEST_RUN = f"""
    WITH runs AS (
        SELECT product, run_id, max(checked_at) AS last_at FROM {TABLE} GROUP BY ALL
    ), latest AS (
        SELECT product, arg_max(run_id, last_at) AS run_id FROM runs GROUP BY product
    )
    SELECT h.* FROM {TABLE} h JOIN latest USING (product, run_id)
"""


def latest_results(con: duckdb.DuckDBPyConnection, product_ref: str | None = None) -> pl.DataFrame:
    """Every check of each product's most recent run (one row per check)."""
    if not exists(con):
        return pl.DataFrame(schema={c: pl.Utf8 for c in COLUMNS})
    where, params = ("WHERE product = ?", [product_ref]) if product_ref else ("", [])
    return con.execute(
        f'SELECT * FROM ({_LATEST_RUN}) {where} ORDER BY product, category, "check"', params
    ).pl()


def quality_summary(con: duckdb.DuckDBPyConnection, product_ref: str | None = None) -> pl.DataFrame:
    """Pass rate per Kahn category (and ``privacy``) per product, from each product's latest run.

    Columns: product, category, checks, passed, failed, errored, blocking_failures,
    pass_rate (passed / checks), run_id, checked_at.
    """
    if not exists(con):
        return pl.DataFrame(
            schema={
                "product": pl.Utf8,
                "category": pl.Utf8,
                "checks": pl.Int64,
                "passed": pl.Int64,
                "failed": pl.Int64,
                "errored": pl.Int64,
                "blocking_failures": pl.Int64,
                "pass_rate": pl.Float64,
                "run_id": pl.Utf8,
                "checked_at": pl.Datetime(time_zone="UTC"),
            }
        )
    where, params = ("WHERE product = ?", [product_ref]) if product_ref else ("", [])
    return con.execute(
        f"""SELECT product, category, count(*) AS checks,
                   count(*) FILTER (WHERE status = 'passed') AS passed,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   count(*) FILTER (WHERE status = 'errored') AS errored,
                   count(*) FILTER (WHERE status <> 'passed' AND severity = 'blocking')
                       AS blocking_failures,
                   count(*) FILTER (WHERE status = 'passed') / count(*) AS pass_rate,
                   any_value(run_id) AS run_id, max(checked_at) AS checked_at
            FROM ({_LATEST_RUN}) {where}
            GROUP BY product, category ORDER BY product, category""",
        params,
    ).pl()


def trend(con: duckdb.DuckDBPyConnection, product_ref: str) -> pl.DataFrame:
    """Pass rate per run and category over time for one product, oldest run first."""
    if not exists(con):
        return pl.DataFrame()
    return con.execute(
        f"""SELECT run_id, min(checked_at) AS checked_at, any_value(snapshot_id) AS snapshot_id,
                   category, count(*) AS checks,
                   count(*) FILTER (WHERE status = 'passed') AS passed,
                   count(*) FILTER (WHERE status = 'passed') / count(*) AS pass_rate
            FROM {TABLE} WHERE product = ?
            GROUP BY run_id, category ORDER BY checked_at, category""",
        [product_ref],
    ).pl()
