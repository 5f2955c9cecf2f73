"""Keep the platform's bookkeeping tables at a bounded number of files.

Every publish adds rows to ``_regionlab.quality_history`` and ``load_log``. On
DuckDB 1.4 each of those small inserts became its own Parquet file (about ten
per publish, never compacted). Now they are inlined in the catalogue
(:mod:`regionlab.lake.inlining`); once enough rows have gathered there,
:func:`compact_bookkeeping` flushes them to Parquet and merges the table's
small files into one (``ducklake_merge_adjacent_files``, which keeps time
travel: the merged file remembers each row's snapshot range). The merged-away
files are deleted once they have been unused for ``grace`` — long enough for a
reader that opened them before the merge to finish.

:func:`compact_bookkeeping_if_due` is what :func:`regionlab.lake.publish` calls
after each commit, so the bound holds however often products are published.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from regionlab.lake.config import LAKE_ALIAS
from regionlab.lake.connect import write_lock
from regionlab.lake.inlining import (
    BOOKKEEPING_SCHEMA,
    flush_inlined_data,
    inlined_rows,
    metadata_db,
)
from regionlab.lake.snapshots import cleanup_files
from regionlab.lake.tables import list_tables
from regionlab.sql import quote_ident, quote_literal

log = logging.getLogger(__name__)

#: Flush the bookkeeping tables once this many of their rows are inlined.
FLUSH_AFTER_ROWS = 5000
#: Where nothing is inlined (PostgreSQL catalogue): merge once they have this many files.
MERGE_AFTER_FILES = 200
#: How long a merged-away file stays on disk for readers that may still hold it.
GRACE = timedelta(minutes=10)


@dataclass
class Compaction:
    """What one compaction did."""

    flushed: dict[str, int] = field(default_factory=dict)
    #: ``schema.table`` → (files merged, files written).
    merged: dict[str, tuple[int, int]] = field(default_factory=dict)
    files_deleted: list[Path] = field(default_factory=list)


def merge_adjacent_files(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, *, alias: str = LAKE_ALIAS
) -> tuple[int, int]:
    """Merge a table's small Parquet files; returns (files merged, files written)."""
    sql = (
        "SELECT files_processed, files_created FROM ducklake_merge_adjacent_files("
        f"{quote_literal(alias)}, {quote_literal(table)}, schema => {quote_literal(schema)})"
    )
    with write_lock(con, alias):
        rows = con.execute(sql).fetchall()
    return sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)


def compact_bookkeeping(
    con: duckdb.DuckDBPyConnection,
    *,
    grace: timedelta | None = None,
    alias: str = LAKE_ALIAS,
) -> Compaction:
    """Flush the bookkeeping tables' inlined rows, merge their files, delete what is unused
    for longer than ``grace`` (default :data:`GRACE`)."""
    grace = GRACE if grace is None else grace
    result = Compaction(flushed=flush_inlined_data(con, schema=BOOKKEEPING_SCHEMA, alias=alias))
    for schema, table in list_tables(con, alias):
        if schema != BOOKKEEPING_SCHEMA:
            continue
        merged, written = merge_adjacent_files(con, schema, table, alias=alias)
        if merged:
            result.merged[f"{schema}.{table}"] = (merged, written)
    if result.merged:
        result.files_deleted = cleanup_files(con, older_than=datetime.now(UTC) - grace, alias=alias)
    return result


def _bookkeeping_files(con: duckdb.DuckDBPyConnection, alias: str) -> int:
    """Live data files of the bookkeeping tables, from DuckLake's own bookkeeping."""
    md = quote_ident(metadata_db(alias))
    row = con.execute(
        f"""SELECT count(*) FROM {md}.ducklake_data_file f
            JOIN {md}.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
            JOIN {md}.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
            WHERE f.end_snapshot IS NULL AND s.schema_name = {quote_literal(BOOKKEEPING_SCHEMA)}"""
    ).fetchone()
    return int(row[0])


def compact_bookkeeping_if_due(
    con: duckdb.DuckDBPyConnection, *, alias: str = LAKE_ALIAS
) -> Compaction | None:
    """Compact when :data:`FLUSH_AFTER_ROWS` bookkeeping rows wait in the catalogue, or
    (where they are not inlined) the tables have :data:`MERGE_AFTER_FILES` files."""
    waiting = sum(inlined_rows(con, alias, schema=BOOKKEEPING_SCHEMA).values())
    if waiting < FLUSH_AFTER_ROWS and _bookkeeping_files(con, alias) < MERGE_AFTER_FILES:
        return None
    result = compact_bookkeeping(con, alias=alias)
    log.info(
        "compacted the bookkeeping tables: %d rows flushed, %d files merged, %d deleted",
        sum(result.flushed.values()),
        sum(m for m, _ in result.merged.values()),
        len(result.files_deleted),
    )
    return result
