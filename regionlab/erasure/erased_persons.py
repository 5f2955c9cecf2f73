"""The list of erased persons: whose rows ingest must never publish again.

Stored in the lake as ``lake._regionlab.suppression_list(key_digest, key_id,
request_id, added_at)`` (:data:`regionlab.platform.tables.SUPPRESSION_LIST`;
the table keeps its name, this module is named for what it holds so it is not
mistaken for small-cell suppression in :mod:`regionlab.research.suppression`),
written in the erasure's own transaction. It holds neither CPR numbers nor
person keys but ``sha256("regionlab/suppression/v1:" || person_key)``:
ingest, which computes person keys anyway, compares their digests
(:mod:`regionlab.wap.erasure_hook`), while the list itself cannot be joined
with any product — so the decoding scan after an erasure can include the
list's files and still find nothing.

``key_id`` records which pseudonymisation key the digest belongs to. A key
rotation (``regionlab keys rotate``, :mod:`regionlab.rotation`) re-keys every
digest in the transaction that re-keys the products, through the CPR numbers
of the source zone or those the operator gives (kept by the region's case
handling, not by regionlab), and refuses when one cannot be re-keyed: an old
digest would match nothing, and the erased person would be published again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from regionlab.erasure.resolve import key_digest
from regionlab.platform.tables import SUPPRESSION_LIST

QUALIFIED = SUPPRESSION_LIST.qualified


def add_statements(
    keys: Sequence[str], key_id: str, request_id: str, at: datetime
) -> list[tuple[str, list[object]]]:
    """Statements for the erasure transaction: create the list if needed, add new digests."""
    digests = sorted({key_digest(k) for k in keys})
    return [(sql, []) for sql in SUPPRESSION_LIST.ddl] + [
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
    if not SUPPRESSION_LIST.exists(con):
        return 0
    return int(con.execute(f"SELECT count(*) FROM {QUALIFIED}").fetchone()[0])
