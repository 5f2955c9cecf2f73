"""The quality-history table in the lake: one row per check per run, for trends and summaries.

The pipeline writes the rows inside the publish transaction (so a run that does
not publish still records why, when the lead's engine chooses to); this module
owns the table's shape, the row builder and the readers the CLI, catalogue and
notebooks use. Rows hold counts and descriptions only, like ``CheckResult``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from regionlab.results import CheckResult

TABLE = "lake._regionlab.quality_history"

COLUMNS = (
    "product", "snapshot_id", "run_id", "check", "category", "severity", "status",
    "unexpected_count", "element_count", "description", "checked_at",
)  # fmt: skip

DDL = [
    "CREATE SCHEMA IF NOT EXISTS lake._regionlab",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        product VARCHAR, snapshot_id BIGINT, run_id VARCHAR, "check" VARCHAR,
        category VARCHAR, severity VARCHAR, status VARCHAR, unexpected_count BIGINT,
        element_count BIGINT, description VARCHAR, checked_at TIMESTAMP WITH TIME ZONE)""",
]

INSERT = f"INSERT INTO {TABLE} VALUES ({', '.join('?' for _ in COLUMNS)})"


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the table if missing (``con`` has the lake attached read-write)."""
    for statement in DDL:
        con.execute(statement)


def history_rows(
    results: Sequence[CheckResult],
    product_ref: str,
    snapshot_id: int | None,
    run_id: str,
    checked_at: dt.datetime,
) -> list[tuple[Any, ...]]:
    """Parameter tuples for :data:`INSERT`, in :data:`COLUMNS` order.

    ``detail`` is not stored: the description and counts are the durable record.
    """
    return [
        (
            product_ref,
            snapshot_id,
            run_id,
            r.check,
            r.category,
            r.severity,
            r.status.value,
            r.unexpected_count,
            r.element_count,
            r.description,
            checked_at,
        )  # fmt: skip
        for r in results
    ]


def exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake' "
            "AND schema_name = '_regionlab' AND table_name = 'quality_history'"
        ).fetchone()[0]
    )


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
