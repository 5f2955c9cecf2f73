"""The platform's own tables in the lake (schema ``_regionlab``): declared once, here.

The pipelines, the quality layer, the labelling round trip, erasure and the
catalogue all read or write these tables; each used to carry its own copy of
the name, the DDL and an "does it exist" query. Now a table is one
:class:`PlatformTable` and every caller uses its ``qualified`` name,
``ddl`` statements (for a transaction that creates it on first use),
:meth:`~PlatformTable.ensure` and :meth:`~PlatformTable.exists`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from regionlab.lake.config import LAKE_ALIAS
from regionlab.results import CheckResult
from regionlab.sql import quote_ident, quote_literal

#: The lake schema of the platform's bookkeeping tables (never a product domain).
SCHEMA = "_regionlab"


def lake_table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, alias: str = LAKE_ALIAS
) -> bool:
    """True when ``<alias>.<schema>.<table>`` exists in the snapshot ``con`` reads."""
    # Literals, not parameters: the first bound parameter imports pandas (1–4 s), and this
    # is on every command's start-up path (e.g. a no-op `regionlab run`).
    row = con.execute(
        f"SELECT count(*) FROM duckdb_tables() WHERE database_name = {quote_literal(alias)} "
        f"AND schema_name = {quote_literal(schema)} AND table_name = {quote_literal(table)}"
    ).fetchone()
    return bool(row and row[0])


def product_table_exists(con: duckdb.DuckDBPyConnection, ref: str) -> bool:
    """True when the product ``<domain>/<product>`` has a table in the lake."""
    domain, name = ref.split("/")
    return lake_table_exists(con, domain, name)


@dataclass(frozen=True)
class PlatformTable:
    """One bookkeeping table: its name, its columns (in insert order) and their types."""

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def qualified(self) -> str:
        """``lake._regionlab.<name>``: the table's name in every query."""
        return f"{LAKE_ALIAS}.{SCHEMA}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def ddl(self) -> tuple[str, ...]:
        """``CREATE ... IF NOT EXISTS`` statements (schema, then table)."""
        cols = ", ".join(f"{quote_ident(name)} {kind}" for name, kind in self.columns)
        return (
            f"CREATE SCHEMA IF NOT EXISTS {LAKE_ALIAS}.{SCHEMA}",
            f"CREATE TABLE IF NOT EXISTS {self.qualified} ({cols})",
        )

    @property
    def insert(self) -> str:
        """``INSERT`` of one row with a parameter per column, in :attr:`columns` order."""
        return f"INSERT INTO {self.qualified} VALUES ({', '.join('?' for _ in self.columns)})"

    def exists(self, con: duckdb.DuckDBPyConnection) -> bool:
        return lake_table_exists(con, SCHEMA, self.name)

    def ensure(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the table if it is missing (``con`` has the lake attached read-write).

        Checked first, so a connection that finds the table writes nothing.
        """
        if not self.exists(con):
            for statement in self.ddl:
                con.execute(statement)

    def create_statements(self, con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[object]]]:
        """The DDL as ``(sql, params)`` for a publish transaction; none when it exists."""
        return [] if self.exists(con) else [(sql, []) for sql in self.ddl]


#: Which extracts each product has published (written in the publish transaction).
LOAD_LOG = PlatformTable(
    "load_log",
    (
        ("product", "VARCHAR"),
        ("extract", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("extract_date", "DATE"),
        ("rows_read", "BIGINT"),
        ("run_id", "VARCHAR"),
        ("loaded_at", "TIMESTAMP WITH TIME ZONE"),
    ),
)

#: The outcome of every delivery-level check (ok, empty, rejected) with its value-free
#: message: the part of the load log that says why a delivery was not loaded.
DELIVERY_LOG = PlatformTable(
    "delivery_log",
    (
        ("product", "VARCHAR"),
        ("extract", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("outcome", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("message", "VARCHAR"),
        ("run_id", "VARCHAR"),
        ("checked_at", "TIMESTAMP WITH TIME ZONE"),
    ),
)

#: One row per check per run: privacy gates, quality rules, labelling agreement.
QUALITY_HISTORY = PlatformTable(
    "quality_history",
    (
        ("product", "VARCHAR"),
        ("snapshot_id", "BIGINT"),
        ("run_id", "VARCHAR"),
        ("check", "VARCHAR"),
        ("category", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("status", "VARCHAR"),
        ("unexpected_count", "BIGINT"),
        ("element_count", "BIGINT"),
        ("description", "VARCHAR"),
        ("checked_at", "TIMESTAMP WITH TIME ZONE"),
    ),
)

#: Digests of the person keys of erased persons (see :mod:`regionlab.erasure.erased_persons`).
SUPPRESSION_LIST = PlatformTable(
    "suppression_list",
    (
        ("key_digest", "VARCHAR"),
        ("key_id", "VARCHAR"),
        ("request_id", "VARCHAR"),
        ("added_at", "TIMESTAMP WITH TIME ZONE"),
    ),
)

PLATFORM_TABLES = (LOAD_LOG, DELIVERY_LOG, QUALITY_HISTORY, SUPPRESSION_LIST)


def quality_history_rows(
    results: Sequence[CheckResult],
    product_ref: str,
    snapshot_id: int | None,
    run_id: str,
    checked_at: dt.datetime,
) -> list[tuple[Any, ...]]:
    """Parameter tuples for ``QUALITY_HISTORY.insert``, in its column order.

    A result's ``detail`` is not stored: the description and counts are the durable record.
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
