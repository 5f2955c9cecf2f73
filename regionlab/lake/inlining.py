"""Data inlining: which writes stay inside the catalogue database, and flushing them out.

DuckLake 1.0 (DuckDB 1.5) writes an insert of at most ``data_inlining_row_limit``
rows into a table of the catalogue database instead of a Parquet file (default
limit 10). The platform's policy, persisted in the catalogue so it holds for
every client that attaches the lake:

* **products: no inlining** (global limit 0). A batch publish writes Parquet as
  before, whatever its size, so the files, their statistics and the file-level
  tools (erasure's decoding scan, ``data_files``) see every product row.
* **the platform's bookkeeping** (schema ``_regionlab``: quality history, load
  log, suppression list): inserts of up to :data:`BOOKKEEPING_INLINE_ROWS` rows
  are inlined, so a publish no longer leaves a handful of one-row Parquet files.
  On a SQLite catalogue only, for now: with the PostgreSQL catalogue, two Celery
  workers publishing their domains' first snapshots at once failed every commit
  with ``relation "ducklake_inlined_data_<t>_<v>" does not exist`` (DuckLake
  1.5.5; not reproduced sequentially), so the multi-user profile keeps writing
  bookkeeping as Parquet, compacted by :mod:`regionlab.lake.compaction`.
* **streaming products** opt in per schema or table with :func:`set_inlining`
  and flush on a schedule with :func:`flush_inlined_data`.

Precedence (measured on 1.5.5): a table option beats a schema option beats the
global option, and a persisted option beats the ``DATA_INLINING_ROW_LIMIT``
attach option and the ``ducklake_default_data_inlining_row_limit`` setting.

Known DuckLake bugs this module guards against:

* duckdb/ducklake#1368 — ``CHECKPOINT`` is documented to flush inlined data, but
  does not in the reported setup (on 1.5.5 a bare ``CHECKPOINT`` checkpoints the
  default database, not the lake). Nothing here relies on it: flushing is always
  an explicit ``ducklake_flush_inlined_data`` call.
* duckdb/ducklake#650 — a flush racing an insert could duplicate rows (made a
  retriable conflict upstream, ducklake#901). A flush holds the lake's write lock
  (so no regionlab writer on this host inserts meanwhile), runs in one
  transaction that is rolled back if the row count moved, and afterwards checks
  that each flushed table has the same rows as in the snapshot before the flush
  and no duplicated row ids — :class:`FlushIntegrityError` if not.
"""

from __future__ import annotations

import logging

import duckdb

from regionlab.lake.config import LAKE_ALIAS
from regionlab.lake.connect import sqlite_catalog_file, transaction, write_lock
from regionlab.sql import quote_ident, quote_literal

log = logging.getLogger(__name__)

OPTION = "data_inlining_row_limit"
#: The schema of the platform's own tables.
BOOKKEEPING_SCHEMA = "_regionlab"
#: Inserts into bookkeeping tables of at most this many rows stay in the catalogue
#: (a publish's quality history is one row per check, its load log one per extract).
BOOKKEEPING_INLINE_ROWS = 1000
#: Products write Parquet whatever their size.
PRODUCT_INLINE_ROWS = 0


class FlushIntegrityError(RuntimeError):
    """A flush changed what a table holds (rows lost or duplicated)."""


def metadata_db(alias: str = LAKE_ALIAS) -> str:
    """The name DuckLake attaches the lake's catalogue database under."""
    return f"__ducklake_metadata_{alias}"


def _options(con: duckdb.DuckDBPyConnection, alias: str) -> set[tuple[str, str, str | None]]:
    rows = con.execute(
        f"SELECT value, scope, scope_entry FROM ducklake_options({quote_literal(alias)}) "
        f"WHERE option_name = {quote_literal(OPTION)}"
    ).fetchall()
    return {(str(v), str(s).upper(), e) for v, s, e in rows}


def _schema_exists(con: duckdb.DuckDBPyConnection, alias: str, schema: str) -> bool:
    # Literals, not parameters: a process's first bound parameter imports pandas (~1 s).
    row = con.execute(
        "SELECT count(*) FROM duckdb_schemas() "
        f"WHERE database_name = {quote_literal(alias)} AND schema_name = {quote_literal(schema)}"
    ).fetchone()
    return bool(row and row[0])


def ensure_policy(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> None:
    """Persist the platform's inlining policy in the lake's catalogue where it is missing.

    An option someone set on purpose (e.g. ``set_inlining(con, 0, schema="_regionlab")``)
    is left alone: only scopes without any option get the platform's value.

    Setting options makes no snapshot. The bookkeeping schema's option can only
    be set once the schema exists (the first publish creates it, so that
    publish's bookkeeping rows are still written as Parquet); it is checked
    again after every publish. Cheap when the policy is in place: one read.
    """
    scopes = {(scope, entry) for _, scope, entry in _options(con, alias)}
    missing_global = ("GLOBAL", None) not in scopes
    missing_schema = (
        ("SCHEMA", BOOKKEEPING_SCHEMA) not in scopes
        and sqlite_catalog_file(con, alias) is not None
        and _schema_exists(con, alias, BOOKKEEPING_SCHEMA)
    )
    if not (missing_global or missing_schema):
        return
    with write_lock(con, alias):
        if missing_global:
            con.execute(
                f"CALL {quote_ident(alias)}.set_option({quote_literal(OPTION)}, "
                f"{PRODUCT_INLINE_ROWS})"
            )
        if missing_schema:
            set_inlining(con, BOOKKEEPING_INLINE_ROWS, schema=BOOKKEEPING_SCHEMA, alias=alias)


def set_inlining(
    con: duckdb.DuckDBPyConnection,
    rows: int,
    *,
    schema: str,
    table: str | None = None,
    alias: str = LAKE_ALIAS,
) -> None:
    """Inline inserts of at most ``rows`` rows into ``schema`` (or one table of it); 0 = never.

    Prefer the schema level for a streaming product: a table option belongs to
    the table's id, and ``CREATE OR REPLACE`` (a ``replace`` publish, an
    erasure's rewrite) makes a new table without it.
    """
    if rows < 0:
        raise ValueError("rows must be 0 or more")
    args = [quote_literal(OPTION), str(int(rows)), f"schema => {quote_literal(schema)}"]
    if table is not None:
        args.append(f"table_name => {quote_literal(table)}")
    con.execute(f"CALL {quote_ident(alias)}.set_option({', '.join(args)})")


def _registered(
    con: duckdb.DuckDBPyConnection, alias: str, live_only: bool, schema: str | None
) -> list[tuple[str | None, str | None, str]]:
    md = quote_ident(metadata_db(alias))
    join = "JOIN" if live_only else "LEFT JOIN"
    where = f"WHERE s.schema_name = {quote_literal(schema)}" if schema is not None else ""
    rows = con.execute(
        f"""SELECT s.schema_name, t.table_name, i.table_name
            FROM {md}.ducklake_inlined_data_tables i
            {join} {md}.ducklake_table t ON t.table_id = i.table_id AND t.end_snapshot IS NULL
            {join} {md}.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
            {where} ORDER BY i.table_id, i.schema_version"""
    ).fetchall()
    return [(a, b, str(c)) for a, b, c in rows]


def inlined_tables(
    con: duckdb.DuckDBPyConnection,
    alias: str = LAKE_ALIAS,
    *,
    live_only: bool = True,
    schema: str | None = None,
) -> list[tuple[str | None, str | None, str]]:
    """``(schema, table, inlined data table)`` from DuckLake's registry, one per table version.

    ``live_only`` keeps the tables of the current snapshot (of ``schema``, if given);
    otherwise dropped and replaced tables whose inlined rows are still kept come too
    (schema and table None). DuckDB 1.5 hides the metadata tables from
    ``duckdb_tables()``, and a registered table may already be gone, so each is probed.
    """
    md = quote_ident(metadata_db(alias))
    out = []
    for entry in _registered(con, alias, live_only, schema):
        try:
            con.execute(f"SELECT 1 FROM {md}.{quote_ident(entry[2])} LIMIT 0")
        except duckdb.CatalogException:
            continue
        out.append(entry)
    return out


def inlined_rows(
    con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS, *, schema: str | None = None
) -> dict[str, int]:
    """Rows of the current snapshot that live in the catalogue, per ``schema.table``.

    Read from DuckLake's ``ducklake_inlined_data_<table>_<version>`` tables, where
    a live row has no ``end_snapshot``: one query over all of them (it runs after
    every publish), probing them one by one only when one has gone.
    """
    md = quote_ident(metadata_db(alias))
    tables = _registered(con, alias, True, schema)
    if not tables:
        return {}
    parts = [
        f"SELECT {quote_literal(f'{s}.{t}')} AS name, count(*) AS n "
        f"FROM {md}.{quote_ident(inlined)} WHERE end_snapshot IS NULL"
        for s, t, inlined in tables
    ]
    try:
        rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    except duckdb.CatalogException:
        tables = inlined_tables(con, alias, schema=schema)
        rows = [
            (
                f"{s}.{t}",
                con.execute(
                    f"SELECT count(*) FROM {md}.{quote_ident(i)} WHERE end_snapshot IS NULL"
                ).fetchone()[0],
            )
            for s, t, i in tables
        ]
    out: dict[str, int] = {}
    for name, n in rows:
        if n:
            out[str(name)] = out.get(str(name), 0) + int(n)
    return out


def _count(con: duckdb.DuckDBPyConnection, table: str, at: int | None = None) -> tuple[int, int]:
    version = f" AT (VERSION => {int(at)})" if at is not None else ""
    row = con.execute(f"SELECT count(*), count(DISTINCT rowid) FROM {table}{version}").fetchone()
    return int(row[0]), int(row[1])


def _qualified(alias: str, name: str) -> str:
    schema, table = name.split(".", 1)
    return ".".join(quote_ident(p) for p in (alias, schema, table))


def _previous_snapshot(con: duckdb.DuckDBPyConnection, alias: str, snapshot: int) -> int:
    row = con.execute(
        f"SELECT max(snapshot_id) FROM ducklake_snapshots({quote_literal(alias)}) "
        f"WHERE snapshot_id < {int(snapshot)}"
    ).fetchone()
    return int(row[0])


def flush_inlined_data(
    con: duckdb.DuckDBPyConnection,
    *,
    schema: str | None = None,
    table: str | None = None,
    alias: str = LAKE_ALIAS,
) -> dict[str, int]:
    """Write inlined rows to Parquet (all tables, one schema, or one table); rows per table.

    An explicit ``ducklake_flush_inlined_data`` (never ``CHECKPOINT``, #1368),
    under the write lock, in one transaction checked before commit, and
    verified against the previous snapshot after it (#650). Time travel keeps
    working: the rows keep their snapshot ranges and row ids in the files.
    """
    pending = inlined_rows(con, alias)
    targets = [
        name
        for name in pending
        if (schema is None or name.split(".", 1)[0] == schema)
        and (table is None or name.split(".", 1)[1] == table)
    ]
    if not targets:
        return {}
    named = []
    if schema is not None:
        named.append(f"schema_name => {quote_literal(schema)}")
    if table is not None:
        named.append(f"table_name => {quote_literal(table)}")
    call = ", ".join([quote_literal(alias), *named])
    with write_lock(con, alias):
        with transaction(con):
            before = {name: _count(con, _qualified(alias, name)) for name in targets}
            rows = con.execute(
                "SELECT schema_name, table_name, rows_flushed "
                f"FROM ducklake_flush_inlined_data({call})"
            ).fetchall()
            flushed = {f"{s}.{t}": int(n) for s, t, n in rows}
            for name in flushed:
                if name in before and _count(con, _qualified(alias, name)) != before[name]:
                    raise FlushIntegrityError(
                        f"flushing {name} changed its row count inside the transaction "
                        f"(before: {before[name][0]} rows); rolled back, nothing changed"
                    )
        if flushed:
            _verify_flush(con, alias, flushed)
    return flushed


def _verify_flush(con: duckdb.DuckDBPyConnection, alias: str, flushed: dict[str, int]) -> None:
    """The flush's snapshot must hold what the snapshot before it held, once per row id."""
    snapshot = int(
        con.execute(
            f"SELECT id FROM ducklake_last_committed_snapshot({quote_literal(alias)})"
        ).fetchone()[0]
    )
    previous = _previous_snapshot(con, alias, snapshot)
    for name in flushed:
        table = _qualified(alias, name)
        rows, distinct = _count(con, table, snapshot)
        rows_before, _ = _count(con, table, previous)
        if rows != rows_before or rows != distinct:
            raise FlushIntegrityError(
                f"flush snapshot {snapshot} of {name} holds {rows} rows ({distinct} distinct row "
                f"ids) where snapshot {previous} held {rows_before}: the flush lost or duplicated "
                f"rows (duckdb/ducklake#650). Read the table at snapshot {previous} to recover it."
            )
    log.info("flushed inlined rows to Parquet at snapshot %d: %s", snapshot, flushed)
