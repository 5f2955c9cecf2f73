"""Which extracts each product has loaded, kept in the lake beside the data.

The log is written in the same transaction as the product's rows, so a run
that dies before publishing leaves both untouched and the next run simply
loads the same extracts again.
"""

from __future__ import annotations

import duckdb

TABLE = "lake._regionlab.load_log"

DDL = [
    "CREATE SCHEMA IF NOT EXISTS lake._regionlab",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        product VARCHAR, extract VARCHAR, sha256 VARCHAR, extract_date DATE,
        rows_read BIGINT, run_id VARCHAR, loaded_at TIMESTAMP WITH TIME ZONE)""",
]


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake' "
        "AND schema_name = '_regionlab' AND table_name = 'load_log'"
    ).fetchone()[0]
    if not exists:
        for statement in DDL:
            con.execute(statement)


def loaded(con: duckdb.DuckDBPyConnection, product_ref: str) -> dict[str, str]:
    """Extract name → fingerprint of every extract the product has published."""
    ensure(con)
    rows = con.execute(f"SELECT extract, sha256 FROM {TABLE} WHERE product = ?", [product_ref])
    return dict(rows.fetchall())
