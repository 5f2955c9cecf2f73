"""The suppression list: persons whose rows ingest must never publish again.

Stored in the lake as ``lake._regionlab.suppression_list(key_digest, key_id,
request_id, added_at)``, written in the erasure's own transaction. It holds
neither CPR numbers nor person keys but ``sha256("regionlab/suppression/v1:"
|| person_key)``: ingest, which computes person keys anyway, compares their
digests (:mod:`pipelines.erasure_hook`), while the list itself cannot be
joined with any product — so the decoding scan after an erasure can include
the list's files and still find nothing.

``key_id`` records which pseudonymisation key the digest belongs to: after a
key rotation the old digests no longer match anything, and the requests in
the erasure register must be re-applied with their CPR numbers (kept by the
region's case handling, not by regionlab).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from regionlab.erasure.resolve import key_digest

SCHEMA = "_regionlab"
TABLE = "suppression_list"
QUALIFIED = f"lake.{SCHEMA}.{TABLE}"

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS lake.{SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {QUALIFIED} (
        key_digest VARCHAR, key_id VARCHAR, request_id VARCHAR,
        added_at TIMESTAMP WITH TIME ZONE)""",
)


def exists(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake' "
        "AND schema_name = ? AND table_name = ?",
        [SCHEMA, TABLE],
    ).fetchone()
    return bool(row and row[0])


def add_statements(
    keys: Sequence[str], key_id: str, request_id: str, at: datetime
) -> list[tuple[str, list[object]]]:
    """Statements for the erasure transaction: create the list if needed, add new digests."""
    digests = sorted({key_digest(k) for k in keys})
    return [(sql, []) for sql in DDL] + [
        (
            f"INSERT INTO {QUALIFIED} SELECT d, ?, ?, ? FROM unnest(?::VARCHAR[]) AS u(d) "
            f"WHERE d NOT IN (SELECT key_digest FROM {QUALIFIED} WHERE key_id = ?)",
            [key_id, request_id, at, digests, key_id],
        )
    ]


def digests_sql(key_id: str | None = None) -> str:
    """SELECT of the suppressed digests (for one key id, if given)."""
    where = f" WHERE key_id = '{key_id}'" if key_id and key_id.isalnum() else ""
    return f"SELECT key_digest FROM {QUALIFIED}{where}"


def count(con: duckdb.DuckDBPyConnection) -> int:
    if not exists(con):
        return 0
    return int(con.execute(f"SELECT count(*) FROM {QUALIFIED}").fetchone()[0])
