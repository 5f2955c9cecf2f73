"""Which extracts each product has loaded, kept in the lake beside the data.

The log is written in the same transaction as the product's rows, so a run
that dies before publishing leaves both untouched and the next run simply
loads the same extracts again. The table is
:data:`regionlab.platform.tables.LOAD_LOG`.
"""

from __future__ import annotations

import duckdb

from regionlab.platform.tables import LOAD_LOG


def loaded(con: duckdb.DuckDBPyConnection, product_ref: str) -> dict[str, str]:
    """Extract name → fingerprint of every extract the product has published."""
    if not LOAD_LOG.exists(con):
        return {}
    rows = con.execute(
        f"SELECT extract, sha256 FROM {LOAD_LOG.qualified} WHERE product = ?", [product_ref]
    )
    return dict(rows.fetchall())


def statements(
    con: duckdb.DuckDBPyConnection,
    product_ref: str,
    rows: list[tuple[str, str, object, str]],
    *,
    replace: bool,
) -> list[tuple[str, list[object]]]:
    """Statements for the publish transaction: ``(name, sha256, date, run id)`` per extract.

    ``replace`` forgets the product's earlier extracts (the table was replaced).
    """
    out = LOAD_LOG.create_statements(con)
    if replace:
        out.append((f"DELETE FROM {LOAD_LOG.qualified} WHERE product = ?", [product_ref]))
    for name, sha, date, run_id in rows:
        out.append(
            (
                f"INSERT INTO {LOAD_LOG.qualified} VALUES (?, ?, ?, ?, NULL, ?, now())",
                [product_ref, name, sha, date, run_id],
            )
        )
    return out
