"""Snapshot history and the maintenance calls that forget it.

Every committed write is a DuckLake snapshot; reads are pinned to one. Expiring
snapshots and cleaning up their files is how an erasure or a retention period
really removes data: until then, time travel can still read the old rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel

from regionlab.lake.config import LAKE_ALIAS
from regionlab.lake.connect import write_lock
from regionlab.sql import quote_literal


class Snapshot(BaseModel):
    """One committed version of the lake."""

    id: int
    time: datetime
    schema_version: int
    #: DuckLake's change summary, e.g. ``{"tables_created": ["clinic.contacts"]}``.
    changes: dict[str, list[str]]
    author: str | None = None
    commit_message: str | None = None
    #: Free-form text; regionlab writes JSON (domain, product, mode, rows, run id).
    extra_info: str | None = None

    @property
    def info(self) -> dict[str, Any]:
        """``extra_info`` parsed as JSON, or empty when it is absent or not JSON."""
        if not self.extra_info:
            return {}
        try:
            value = json.loads(self.extra_info)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def kind(self) -> str:
        """What wrote the snapshot: ``publish``, ``audit_failed``, ``erasure``, ``retention``
        or ``other`` (schema changes, compaction, platform tables, a lake of an older version).

        Readers decide by kind, never by the presence of keys alone: an audit that blocked a
        publish names its product too, and older lakes wrote it without a ``kind``.
        """
        info = self.info
        kind = info.get("kind")
        if isinstance(kind, str):
            return kind
        if info.get("audit") == "failed":
            return "audit_failed"
        if isinstance(info.get("domain"), str) and isinstance(info.get("product"), str):
            return "publish"
        return "other"

    @property
    def published_ref(self) -> str | None:
        """``<domain>/<product>`` of a publish snapshot, else None."""
        info = self.info
        domain, product = info.get("domain"), info.get("product")
        if self.kind != "publish" or not isinstance(domain, str) or not isinstance(product, str):
            return None
        return f"{domain}/{product}"


def list_snapshots(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> list[Snapshot]:
    """All snapshots that still exist, oldest first."""
    rows = con.execute(
        "SELECT snapshot_id, snapshot_time, schema_version, changes, author, commit_message, "
        f"commit_extra_info FROM ducklake_snapshots({quote_literal(alias)}) ORDER BY snapshot_id"
    ).fetchall()  # a literal: a bound parameter makes DuckDB import pandas (issue 23)
    return [
        Snapshot(
            id=row[0],
            time=row[1],
            schema_version=row[2],
            changes={k: list(v or []) for k, v in (row[3] or {}).items()},
            author=row[4],
            commit_message=row[5],
            extra_info=row[6],
        )
        for row in rows
    ]


def current_snapshot(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> int:
    """The snapshot this connection reads (the pinned one for a pinned connection)."""
    row = con.execute(
        f"SELECT id FROM ducklake_current_snapshot({quote_literal(alias)})"
    ).fetchone()
    assert row is not None
    return int(row[0])


def expire_snapshots(
    con: duckdb.DuckDBPyConnection,
    older_than: datetime | None = None,
    versions: Sequence[int] | None = None,
    *,
    dry_run: bool = False,
    alias: str = LAKE_ALIAS,
) -> list[int]:
    """Expire snapshots so time travel can no longer reach them; returns their ids.

    With neither ``older_than`` nor ``versions`` every snapshot but the current
    one is expired — what an erasure needs. DuckLake never expires the current
    snapshot. The files only they referenced are scheduled for deletion;
    :func:`cleanup_files` deletes them.
    """
    args: list[Any] = [alias, dry_run]
    named = ["dry_run => ?"]
    if versions is not None:
        named.append("versions => ?")
        args.append([int(v) for v in versions])
    if older_than is not None:
        named.append("older_than => ?")
        args.append(older_than)
    if versions is None and older_than is None:
        named.append("older_than => now()")
    sql = f"SELECT snapshot_id FROM ducklake_expire_snapshots(?, {', '.join(named)})"
    # fetchall() matters: the table function does its work only while its result is read.
    with write_lock(con, alias):
        rows = con.execute(sql, args).fetchall()
    return sorted(int(row[0]) for row in rows)


def cleanup_files(
    con: duckdb.DuckDBPyConnection,
    *,
    older_than: datetime | None = None,
    orphans: bool = False,
    dry_run: bool = False,
    alias: str = LAKE_ALIAS,
) -> list[Path]:
    """Delete data files no snapshot needs any more; returns the deleted paths.

    By default all files scheduled for deletion go at once (``older_than``
    keeps those scheduled more recently, for readers that may still hold
    them). ``orphans`` also deletes files in the data folder that the
    catalogue never recorded, e.g. Parquet written by a publish that failed
    before its commit — such files can hold personal data too. Without
    ``older_than`` that includes files a publish running right now is still
    writing, so run orphan cleanup when no publish is in flight.
    """
    when = "older_than => ?" if older_than is not None else "cleanup_all => true"
    params: list[Any] = [alias, dry_run] + ([older_than] if older_than is not None else [])
    functions = ["ducklake_cleanup_old_files"] + (["ducklake_delete_orphaned_files"] * orphans)
    deleted: list[Path] = []
    with write_lock(con, alias):
        for function in functions:
            sql = f"SELECT path FROM {function}(?, dry_run => ?, {when})"
            deleted += [Path(row[0]) for row in con.execute(sql, params).fetchall()]
    return deleted
