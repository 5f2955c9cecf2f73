"""Which extracts each product has loaded, kept in the lake beside the data.

The log is written in the same transaction as the product's rows, so a run
that dies before publishing leaves both untouched and the next run simply
loads the same extracts again. The table is
:data:`regionlab.platform.tables.LOAD_LOG`.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from regionlab.platform.tables import DELIVERY_LOG, LOAD_LOG
from regionlab.sql import quote_literal


def loaded(con: duckdb.DuckDBPyConnection, product_ref: str) -> dict[str, str]:
    """Extract name → fingerprint of every extract the product has published."""
    if not LOAD_LOG.exists(con):
        return {}
    rows = con.execute(  # a literal: a bound parameter would import pandas (see sql.py)
        f"SELECT extract, sha256 FROM {LOAD_LOG.qualified} "
        f"WHERE product = {quote_literal(product_ref)}"
    )
    return dict(rows.fetchall())


def statements(
    con: duckdb.DuckDBPyConnection,
    product_ref: str,
    rows: list[tuple[str, str, object, str]],
    *,
    replace: bool,
    rows_read: int | None = None,
) -> list[tuple[str, list[object]]]:
    """Statements for the publish transaction: ``(name, sha256, date, run id)`` per extract.

    ``replace`` forgets the product's earlier extracts (the table was replaced);
    ``rows_read`` is stored with each row when known (0 for an empty delivery).
    """
    out = LOAD_LOG.create_statements(con)
    if replace:
        out.append((f"DELETE FROM {LOAD_LOG.qualified} WHERE product = ?", [product_ref]))
    for name, sha, date, run_id in rows:
        out.append(
            (
                f"INSERT INTO {LOAD_LOG.qualified} VALUES (?, ?, ?, ?, ?, ?, now())",
                [product_ref, name, sha, date, rows_read, run_id],
            )
        )
    return out


def outcome_statements(
    con: duckdb.DuckDBPyConnection,
    product_ref: str,
    outcomes: list[tuple[str, str, str, str, str]],
    run_id: str,
) -> list[tuple[str, list[object]]]:
    """Statements recording delivery checks: ``(name, sha256, outcome, reason, message)``.

    Messages are value-free by construction (:mod:`regionlab.wap.delivery_checks`).
    """
    now = dt.datetime.now(dt.UTC)
    out = DELIVERY_LOG.create_statements(con)
    for name, sha, outcome, reason, message in outcomes:
        out.append(
            (DELIVERY_LOG.insert, [product_ref, name, sha, outcome, reason, message, run_id, now])
        )
    return out


def last_outcomes(con: duckdb.DuckDBPyConnection, product_ref: str) -> dict[str, tuple[str, str]]:
    """Delivery name → (outcome, message) of its most recent check."""
    if not DELIVERY_LOG.exists(con):
        return {}
    rows = con.execute(
        f"SELECT extract, outcome, message FROM {DELIVERY_LOG.qualified} "
        f"WHERE product = {quote_literal(product_ref)} "
        "QUALIFY row_number() OVER (PARTITION BY extract ORDER BY checked_at DESC) = 1"
    )
    return {name: (outcome, message) for name, outcome, message in rows.fetchall()}
