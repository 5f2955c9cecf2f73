"""Delete rows from lake tables in one snapshot, then forget every older snapshot.

DuckLake can ``DELETE``, but a delete of some of a file's rows only writes a
*delete file* beside the data file: the rows stay in the Parquet file the
current snapshot still reads, and the table's column statistics in the
catalogue keep their min/max values (a person key can be a table's minimum).
So the files that hold the rows are rewritten, all tables in one transaction:

* **Erasure, file by file** (:func:`_rewrite_files`): a person-level product is
  published ordered by ``person_key`` in files of a bounded size
  (:func:`regionlab.lake.publishing._person_ordered`), so the catalogue's per-file
  min/max statistics of ``person_key`` name the few files whose key range holds
  a person. Exactly those files are rewritten: their other rows are copied to
  a temp table, *every* row of them is deleted (DuckLake then ends the data
  file instead of writing a delete file) and the kept rows are inserted again,
  ordered, as new files. Files whose range excludes every key cannot hold the
  persons' rows and are left alone. A file without statistics counts as a
  candidate. The cost follows the persons, not the lake.
* **Whole table** (``CREATE OR REPLACE TABLE t AS SELECT * FROM t WHERE NOT
  <predicate>``), which also gives fresh table statistics: retention runs,
  tables without ``person_key`` (labelled products, model predictions), tables
  with inlined rows or delete files on a candidate file, tables where every
  file is a candidate (an old, unsorted lake) or the candidates hold most of
  the rows (a rewrite of the table is then cheaper), and — correctness first — tables
  whose *table-level* statistics would keep something of the persons: a
  min/max that contains a person key, or a min/max of any column that only the
  removed rows attain (table statistics only ever widen, so a file rewrite
  would leave it in the catalogue).

Expiring the older snapshots and cleaning up files then removes the old
files from disk, and ``VACUUM`` removes the old statistics from the free
pages of a SQLite catalogue.

A predicate that is NULL keeps the row (``IS NOT TRUE``): a row whose date
is unknown is not past retention, and a row without a person key is nobody's.
The rows that go are selected with a plain ``WHERE (<predicate>)`` (the same
rows as ``IS TRUE``), which DuckLake can push down to skip files by their
statistics.
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
from regionlab.lake.inlining import inlined_rows, metadata_db
from regionlab.sql import quote_ident, quote_literal

ERASED_ROWS = "__rl_erased_rows"
_GONE = "__rl_gone_rows"
_KEEP = "__rl_kept_rows"
PERSON_KEY = "person_key"


@dataclass(frozen=True)
class TableDeletion:
    """Rows of ``lake.<schema>.<table>`` to delete: those where ``predicate`` is TRUE."""

    schema: str
    table: str
    predicate: str
    #: SQL for the deleted rows' row key (``concat_ws('|', ...)`` for several
    #: columns, like the labelling tasks); None when nothing refers to the rows.
    row_key_sql: str | None = None
    #: The persons' keys when ``predicate`` selects exactly their rows by ``person_key``:
    #: then only the files whose key range holds one of them are rewritten.
    person_keys: tuple[str, ...] = ()

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
    #: ``domain/table`` → data files rewritten (their names); tables rewritten whole
    #: are in :attr:`whole_tables` instead.
    files_rewritten: dict[str, list[str]] = field(default_factory=dict)
    whole_tables: list[str] = field(default_factory=list)


def keys_in_sql(keys: Sequence[str], column: str = PERSON_KEY) -> str | None:
    """``column IN ('k1', ...)`` for hex person keys (constants: DuckLake prunes files by
    their statistics), or None when a key is not plain hex."""
    keys = sorted(set(keys))
    if not keys or not all(k and all(c in "0123456789abcdef" for c in k) for k in keys):
        return None
    return f"{quote_ident(column)} IN ({', '.join(quote_literal(k) for k in keys)})"


@dataclass(frozen=True)
class FilePlan:
    """The data files of one table that may hold the persons (by their statistics)."""

    files: list[str]  # file names (unique: DuckLake names files by UUID)
    ranges: list[tuple[str | None, str | None]]  # their person_key (min, max)
    total_files: int
    reason: str = ""
    rows: int = 0  # rows in the candidate files
    total_rows: int = 0  # why the table is rewritten whole instead ("" = file by file)


def _metadata(alias: str = "lake") -> str:
    return quote_ident(metadata_db(alias))


def plan_files(con: duckdb.DuckDBPyConnection, d: TableDeletion) -> FilePlan:
    """Candidate files of ``d``'s table: live data files whose person_key statistics do not
    exclude every key (no statistics: candidate). Read under the write lock, before the
    transaction, from the catalogue of the current snapshot."""
    md = _metadata()
    rows = con.execute(
        f"""SELECT f.record_count, f.path, s.min_value, s.max_value,
                   (SELECT count(*) FROM {md}.ducklake_delete_file x
                    WHERE x.data_file_id = f.data_file_id AND x.end_snapshot IS NULL) AS deletes
            FROM {md}.ducklake_data_file f
            JOIN {md}.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
            JOIN {md}.ducklake_schema sc ON sc.schema_id = t.schema_id
                 AND sc.end_snapshot IS NULL
            LEFT JOIN {md}.ducklake_column c ON c.table_id = t.table_id
                 AND c.column_name = {quote_literal(PERSON_KEY)} AND c.end_snapshot IS NULL
            LEFT JOIN {md}.ducklake_file_column_stats s ON s.data_file_id = f.data_file_id
                 AND s.column_id = c.column_id
            WHERE f.end_snapshot IS NULL AND sc.schema_name = {quote_literal(d.schema)}
              AND t.table_name = {quote_literal(d.table)}
            ORDER BY f.data_file_id"""
    ).fetchall()
    keys = sorted(set(d.person_keys))
    files, ranges, deletes, candidate_rows, total_rows = [], [], 0, 0, 0
    for count, path, lo, hi, n_deletes in rows:
        total_rows += int(count or 0)
        if not count:
            continue  # an empty file (DuckLake can write one) holds no row
        if lo is None or hi is None or any(lo <= k <= hi for k in keys):
            files.append(str(path).rsplit("/", 1)[-1])
            ranges.append((lo, hi))
            deletes += int(n_deletes)
            candidate_rows += int(count)
    reason = ""
    if deletes:
        reason = "a candidate file has deleted rows"
    elif rows and len(files) == len(rows) and len(rows) > 1:
        reason = "every file may hold the persons (table not ordered by person key)"
    elif any(lo is None or hi is None for lo, hi in ranges):
        reason = "a file has no person_key statistics"
    return FilePlan(files, ranges, len(rows), reason, candidate_rows, total_rows)


def _kept_bounds(
    con: duckdb.DuckDBPyConnection, d: TableDeletion, plan: FilePlan
) -> set[tuple[str, str, str]]:
    """(column, "min"|"max", value) of the files the plan leaves alone: a table statistic
    equal to one of them is still attained by a kept row (those files keep every row)."""
    md = _metadata()
    rows = con.execute(
        f"""SELECT c.column_name, s.min_value, s.max_value, f.path
            FROM {md}.ducklake_file_column_stats s
            JOIN {md}.ducklake_data_file f ON f.data_file_id = s.data_file_id
                 AND f.end_snapshot IS NULL
            JOIN {md}.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
            JOIN {md}.ducklake_schema sc ON sc.schema_id = t.schema_id
                 AND sc.end_snapshot IS NULL
            JOIN {md}.ducklake_column c ON c.table_id = t.table_id
                 AND c.column_id = s.column_id AND c.end_snapshot IS NULL
            WHERE sc.schema_name = {quote_literal(d.schema)}
              AND t.table_name = {quote_literal(d.table)} AND f.record_count > 0"""
    ).fetchall()
    rewritten = set(plan.files)
    out: set[tuple[str, str, str]] = set()
    for column, lo, hi, path in rows:
        if str(path).rsplit("/", 1)[-1] in rewritten:
            continue
        if lo is not None:
            out.add((column, "min", str(lo)))
        if hi is not None:
            out.add((column, "max", str(hi)))
    return out


def _table_stats_keep_persons(
    con: duckdb.DuckDBPyConnection, d: TableDeletion, cols: dict[str, str], plan: FilePlan
) -> str:
    """Why the table-level statistics would keep something of the removed rows ("" = nothing).

    Called with the removed rows in ``temp.main.__rl_gone_rows``. Table statistics only
    widen, so after a file rewrite a min/max stays as it is: it must neither contain a
    person key nor be a value that only the removed rows attain.
    """
    md = _metadata()
    stats = con.execute(
        f"""SELECT c.column_name, s.min_value, s.max_value
            FROM {md}.ducklake_table_column_stats s
            JOIN {md}.ducklake_table t ON t.table_id = s.table_id AND t.end_snapshot IS NULL
            JOIN {md}.ducklake_schema sc ON sc.schema_id = t.schema_id
                 AND sc.end_snapshot IS NULL
            JOIN {md}.ducklake_column c ON c.table_id = t.table_id
                 AND c.column_id = s.column_id AND c.end_snapshot IS NULL
            WHERE sc.schema_name = {quote_literal(d.schema)}
              AND t.table_name = {quote_literal(d.table)}"""
    ).fetchall()
    kept_bounds = _kept_bounds(con, d, plan)
    open_bounds: list[tuple[str, str]] = []  # (column, typed value) no untouched file attains
    for column, lo, hi in stats:
        if any(k in str(v) for v in (lo, hi) if v is not None for k in d.person_keys):
            return f"a table statistic of {column} holds a person key"
        dtype = cols.get(column)
        if dtype is None:
            return f"a table statistic names an unknown column {column}"
        bounds = {(which, str(v)) for which, v in (("min", lo), ("max", hi)) if v is not None}
        for v in sorted({v for which, v in bounds if (column, which, v) not in kept_bounds}):
            open_bounds.append((column, f"TRY_CAST({quote_literal(v)} AS {dtype})"))
    if not open_bounds:
        return ""
    # One pass over the removed rows: which of those bounds does one of them hold?
    hits = con.execute(
        "SELECT ["
        + ", ".join(f"count_if({quote_ident(c)} = {t} OR {t} IS NULL) > 0" for c, t in open_bounds)
        + f"] FROM temp.main.{_GONE}"
    ).fetchone()[0]
    for (column, typed), hit in zip(open_bounds, hits, strict=True):
        if not hit:
            continue
        # A removed row holds the boundary value: fine if a kept row holds it too.
        kept = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {d.qualified} "
            f"WHERE {quote_ident(column)} = {typed} AND ({d.predicate}) IS NOT TRUE LIMIT 1)"
        ).fetchone()[0]
        if not kept:
            return f"a table statistic of {column} comes from a removed row"
    return ""


def _files_filter(plan: FilePlan) -> str:
    """The plan's files, by name: DuckLake reads only those files for this filter."""
    names = ", ".join(quote_literal(f) for f in plan.files)
    return f"parse_filename(filename) IN ({names})"


def _rewrite_files(con: duckdb.DuckDBPyConnection, d: TableDeletion, plan: FilePlan) -> None:
    """Inside the transaction: rewrite the plan's files without the removed rows."""
    files = _files_filter(plan)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_KEEP} AS SELECT * FROM {d.qualified} "
        f"WHERE {files} AND ({d.predicate}) IS NOT TRUE"
    )
    # Every row of the files: DuckLake ends the data files rather than writing deletes.
    con.execute(f"DELETE FROM {d.qualified} WHERE {files}")
    con.execute(f"INSERT INTO {d.qualified} SELECT * FROM temp.main.{_KEEP} ORDER BY {PERSON_KEY}")
    con.execute(f"DROP TABLE temp.main.{_KEEP}")


def _plan(
    con: duckdb.DuckDBPyConnection,
    d: TableDeletion,
    cols: dict[str, str],
    inlined: dict[str, int],
) -> FilePlan | None:
    """How to rewrite ``d``'s table: a file plan, or None for the whole table."""
    if not d.person_keys or PERSON_KEY not in cols:
        return None
    if inlined.get(f"{d.schema}.{d.table}"):
        return None
    plan = plan_files(con, d)
    if plan.reason or not plan.files:
        return plan if not plan.files else None
    if plan.rows * 2 > plan.total_rows:
        return None  # most of the table anyway: one rewrite of it is cheaper
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_GONE} AS SELECT * FROM {d.qualified} "
        f"WHERE ({d.predicate}) AND {_files_filter(plan)}"
    )
    try:
        if _table_stats_keep_persons(con, d, cols, plan):
            return None
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{_GONE}")
    return plan


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
            f"FROM {d.qualified} WHERE ({d.predicate})"
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
    by_file = any(d.person_keys for d in deletions)
    columns = table_columns(con)
    inlined = inlined_rows(con) if by_file else {}
    # Planned before the transaction (the caller's write lock keeps the catalogue still);
    # the statistics are read from the catalogue database, which the transaction does not
    # write.
    plans = {d.ref: _plan(con, d, columns.get(d.ref, {}), inlined) for d in deletions}
    with transaction(con) as tx:
        for d in deletions:
            plan = plans[d.ref]
            if plan is not None and not plan.files:
                continue  # no file's key range holds a person: no row to delete
            n = int(
                con.execute(
                    f"SELECT count(*) FROM {d.qualified} WHERE ({d.predicate})"
                    + (f" AND {_files_filter(plan)}" if plan is not None else "")
                ).fetchone()[0]
            )
            if n and plan is not None:
                _rewrite_files(con, d, plan)
                change.files_rewritten[d.ref] = list(plan.files)
            elif n:
                # In the publish layout (ordered by person key) where the table has one.
                order = f" ORDER BY {PERSON_KEY}" if PERSON_KEY in columns.get(d.ref, {}) else ""
                con.execute(
                    f"CREATE OR REPLACE TABLE {d.qualified} AS SELECT * FROM {d.qualified} "
                    f"WHERE ({d.predicate}) IS NOT TRUE{order}"
                )
                change.whole_tables.append(d.ref)
            if n:
                change.rows[d.ref] = change.rows.get(d.ref, 0) + n
        if not change.rows and not also:
            tx.discard()
            return change
        for sql, params in also:
            con.execute(sql, list(params))
        info = json.dumps(
            {
                **extra_info,
                "rows": change.rows,
                "files_rewritten": {r: len(fs) for r, fs in change.files_rewritten.items()},
                "tables_rewritten": change.whole_tables,
            },
            sort_keys=True,
            default=str,
        )
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
