"""Which pseudonymisation key the lake is keyed with, and the refusal to mix in another.

Every person key in the lake, every digest on the erasure suppression list and
every label is keyed with one secret. A run with another ``REGIONLAB_KEY``
would publish person keys that join nothing next to the old ones, and the
suppression list (kept per key id) would no longer match, so an erased person
would be published again. So the lake records its key id
(``lake._regionlab.pseudonym_key``, written in the transaction of the first
keyed publish), and whatever keys rows or reads person keys (ingest, erasure)
calls :func:`check_key` first and refuses a different key with a message that
names both key ids (ids, never the key) and the way out.

A lake from before the table existed is judged by the key ids it already
records: the ``key_id`` of its publish snapshots (and the publish facts an
erasure snapshot keeps) and the key ids of the suppression list.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from regionlab.errors import UserError
from regionlab.lake.snapshots import list_snapshots
from regionlab.platform.tables import SUPPRESSION_LIST, PlatformTable

#: The lake's pseudonymisation key id: one row, replaced only by a key rotation.
PSEUDONYM_KEY = PlatformTable(
    "pseudonym_key",
    (
        ("key_id", "VARCHAR"),
        ("registered_at", "TIMESTAMP WITH TIME ZONE"),
        ("run_id", "VARCHAR"),
    ),
)


class KeyMismatch(UserError):
    """The active pseudonymisation key is not the key the lake is keyed with."""

    def __init__(self, active: str, lake_ids: list[str]) -> None:
        self.active, self.lake_ids = active, lake_ids
        ids = ", ".join(lake_ids)
        super().__init__(
            f"refusing to run: the pseudonymisation key (id {active}) is not the key the lake is "
            f"keyed with (id {ids}). Rows keyed with it could not be joined with the lake's, and "
            "persons erased under the lake's key would be published again. Use the lake's key "
            "(REGIONLAB_KEY_FILE or REGIONLAB_KEY; `regionlab keys show` prints the active key "
            "id), or re-key the lake with `regionlab keys rotate` (every product, the "
            "suppression list, labels and workspaces in one transaction)."
        )


def lake_key_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The key ids the lake's person data is keyed with (empty for a lake without any)."""
    if PSEUDONYM_KEY.exists(con):
        rows = con.execute(f"SELECT DISTINCT key_id FROM {PSEUDONYM_KEY.qualified}").fetchall()
        return sorted(r[0] for r in rows if r[0])
    ids: set[str] = set()
    for snap in list_snapshots(con):
        info = snap.info
        ids.add(info.get("key_id") or "")
        for facts in (info.get("products") or {}).values():
            if isinstance(facts, dict):
                ids.add(facts.get("key_id") or "")
    if SUPPRESSION_LIST.exists(con):
        rows = con.execute(f"SELECT DISTINCT key_id FROM {SUPPRESSION_LIST.qualified}").fetchall()
        ids.update(r[0] or "" for r in rows)
    return sorted(i for i in ids if i)


def check_key(con: duckdb.DuckDBPyConnection, key_id: str) -> None:
    """Raise :class:`KeyMismatch` unless the lake has no key yet or is keyed with ``key_id``."""
    ids = lake_key_ids(con)
    if ids and ids != [key_id]:
        raise KeyMismatch(key_id, ids)


def register_statements(
    con: duckdb.DuckDBPyConnection, key_id: str, run_id: str
) -> list[tuple[str, list[object]]]:
    """Statements for a keyed publish: record the lake's key id if none is recorded yet.

    In the publish's own transaction, so a lake never holds keyed rows without its key id.
    """
    if PSEUDONYM_KEY.exists(con):
        recorded = con.execute(f"SELECT count(*) FROM {PSEUDONYM_KEY.qualified}").fetchone()
        if recorded and recorded[0]:
            return []
        return [(PSEUDONYM_KEY.insert, [key_id, dt.datetime.now(dt.UTC), run_id])]
    return [(sql, []) for sql in PSEUDONYM_KEY.ddl] + [
        (PSEUDONYM_KEY.insert, [key_id, dt.datetime.now(dt.UTC), run_id])
    ]


def replace_statements(key_id: str, run_id: str) -> list[tuple[str, list[object]]]:
    """Statements for a key rotation: the lake's key id becomes ``key_id``.

    In the rotation's own transaction, with the rewritten products, so a failure
    leaves the old key id (and the old person keys) current everywhere.
    """
    cols = ", ".join(f"{name} {kind}" for name, kind in PSEUDONYM_KEY.columns)
    return [
        (PSEUDONYM_KEY.ddl[0], []),
        (f"CREATE OR REPLACE TABLE {PSEUDONYM_KEY.qualified} ({cols})", []),
        (PSEUDONYM_KEY.insert, [key_id, dt.datetime.now(dt.UTC), run_id]),
    ]
