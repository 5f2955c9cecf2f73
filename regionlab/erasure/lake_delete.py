"""Delete rows from lake tables in one snapshot, then forget every older snapshot.

DuckLake can ``DELETE``, but a delete only writes a *delete file* beside the
data file: the rows stay in the Parquet file the current snapshot still
reads, and the table's column statistics in the catalogue keep their min/max
values (a person key can be a table's minimum). So each affected table is
rewritten instead — ``CREATE OR REPLACE TABLE t AS SELECT * FROM t WHERE NOT
<predicate>`` — all in one transaction, which gives new files and fresh
statistics. Expiring the older snapshots and cleaning up files then removes
the old files from disk, and ``VACUUM`` removes the old statistics from the
free pages of a SQLite catalogue.

A predicate that is NULL keeps the row (``IS NOT TRUE``): a row whose date
is unknown is not past retention, and a row without a person key is nobody's.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.config import current
from regionlab.lake.connect import catalog_lock, sqlite_catalog_file, transaction
from regionlab.sql import quote_ident, quote_literal

ERASED_ROWS = "__rl_erased_rows"


@dataclass(frozen=True)
class TableDeletion:
    """Rows of ``lake.<schema>.<table>`` to delete: those where ``predicate`` is TRUE."""

    schema: str
    table: str
    predicate: str
    #: SQL for the deleted rows' row key (``concat_ws('|', ...)`` for several
    #: columns, like the labelling tasks); None when nothing refers to the rows.
    row_key_sql: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.schema}/{self.table}"

    @property
    def qualified(self) -> str:
        return f"lake.{quote_ident(self.schema)}.{quote_ident(self.table)}"


@dataclass
class LakeChange:
    snapshot_id: int | None = None
    rows: dict[str, int] = field(default_factory=dict)


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """``domain/table`` → column → type, for every table of the current snapshot."""
    rows = con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = 'lake' ORDER BY schema_name, table_name, column_index"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for schema, table, column, dtype in rows:
        out.setdefault(f"{schema}/{table}", {})[column] = dtype
    return out


def collect_row_keys(con: duckdb.DuckDBPyConnection, deletions: Sequence[TableDeletion]) -> None:
    """Temp table ``__rl_erased_rows(product, row_key)`` of the rows about to go.

    Labelled products and workspaces refer to source rows by row key, so the keys
    are read before the rows are deleted.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ERASED_ROWS} (product VARCHAR, row_key VARCHAR)")
    for d in deletions:
        if d.row_key_sql is None:
            continue
        con.execute(
            f"INSERT INTO temp.main.{ERASED_ROWS} SELECT {quote_literal(d.ref)}, {d.row_key_sql} "
            f"FROM {d.qualified} WHERE ({d.predicate}) IS TRUE"
        )


def apply(
    con: duckdb.DuckDBPyConnection,
    deletions: Sequence[TableDeletion],
    *,
    message: str,
    extra_info: dict[str, object],
    also: Sequence[tuple[str, Sequence[object]]] = (),
) -> LakeChange:
    """Rewrite every table with matching rows, plus ``also``, in one snapshot.

    The caller holds :func:`regionlab.lake.write_lock`. Nothing is committed
    when no table has matching rows and ``also`` is empty.
    """
    change = LakeChange()
    with transaction(con) as tx:
        for d in deletions:
            n = int(
                con.execute(
                    f"SELECT count(*) FROM {d.qualified} WHERE ({d.predicate}) IS TRUE"
                ).fetchone()[0]
            )
            if n:
                con.execute(
                    f"CREATE OR REPLACE TABLE {d.qualified} AS SELECT * FROM {d.qualified} "
                    f"WHERE ({d.predicate}) IS NOT TRUE"
                )
                change.rows[d.ref] = change.rows.get(d.ref, 0) + n
        if not change.rows and not also:
            tx.discard()
            return change
        for sql, params in also:
            con.execute(sql, list(params))
        info = json.dumps({**extra_info, "rows": change.rows}, sort_keys=True, default=str)
        con.execute(
            f"CALL lake.set_commit_message('regionlab', {quote_literal(message)}, "
            f"extra_info => {quote_literal(info)})"
        )
    row = con.execute("SELECT id FROM ducklake_last_committed_snapshot('lake')").fetchone()
    # ``also`` may change nothing (a person erased before is already on the suppression
    # list): DuckLake then commits no snapshot, and there is none to name.
    change.snapshot_id = int(row[0]) if row and row[0] is not None else None
    return change


@dataclass
class Forgotten:
    snapshots_expired: list[int] = field(default_factory=list)
    files_deleted: int = 0
    catalog_vacuumed: str = "not needed"


def forget_before(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> Forgotten:
    """Expire every snapshot older than ``snapshot_id`` and delete the files only they held.

    Orphaned files (written by a publish that never committed) go too: they can
    hold the same rows. Orphan cleanup runs under the lake's write lock, so it
    cannot race a publish on this host; do not run an erasure while another
    host writes to a shared lake.
    """
    older = [s.id for s in lake.list_snapshots(con) if s.id < snapshot_id]
    expired = lake.expire_snapshots(con, versions=older) if older else []
    deleted = lake.cleanup_files(con, orphans=True)
    return Forgotten(snapshots_expired=expired, files_deleted=len(deleted))


def vacuum_catalog(catalog_file: str | None) -> str:
    """Rewrite a SQLite catalogue so deleted statistics leave its free pages and WAL.

    Call with no DuckDB connection to the lake open in this process. A
    PostgreSQL catalogue needs ``VACUUM FULL`` of its ``ducklake_*`` tables by
    its administrator; that is reported, not done.
    """
    if catalog_file is None:
        return "not done: PostgreSQL catalogue (run VACUUM FULL on the ducklake_* tables)"
    with catalog_lock(catalog_file):
        db = sqlite3.connect(catalog_file, timeout=60)
        try:
            db.execute("PRAGMA secure_delete = ON")
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
    return "vacuumed"


def catalog_file_of(con: duckdb.DuckDBPyConnection) -> str | None:
    return sqlite_catalog_file(con)


def data_folder() -> Path | None:
    config = current().lake
    return Path(config.data_path) if config.is_local_data else None
