"""Delete rows from a plain DuckDB file and rewrite the file so they are really gone.

DuckDB marks deleted rows and reuses their blocks later; until then the old
values stay in the file. After deleting, the whole database is copied into a
fresh file (``COPY FROM DATABASE``) that replaces the old one, keeping its
permissions. An encrypted file (a project workspace) is opened and rewritten
with its key, so the fresh copy is encrypted too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from regionlab.sql import quote_ident, quote_literal


@dataclass(frozen=True)
class FileTable:
    schema: str
    table: str
    columns: dict[str, str]  # name → DuckDB type

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    @property
    def varchar_columns(self) -> list[str]:
        return [c for c, t in self.columns.items() if t == "VARCHAR"]

    def text_columns(self, exclude: tuple[str, ...] = ()) -> list[str]:
        """Columns whose text could hold a person key or a CPR-shaped run of digits."""
        return [
            c
            for c, t in self.columns.items()
            if c not in exclude and not t.startswith(_CANNOT_HOLD_IDENTIFIER)
        ]


#: Types whose text has no run of nine digits and no hex key: scanning them as text finds nothing.
_CANNOT_HOLD_IDENTIFIER = (
    "BOOLEAN", "DATE", "TIME", "TIMESTAMP", "INTERVAL",
    "TINYINT", "SMALLINT", "UTINYINT", "USMALLINT",
)  # fmt: skip


def text_sql(columns: list[str], alias: str = "t") -> str:
    """One text per row from ``columns`` (NULL when there are none), for the matchers' ``txt``."""
    if not columns:
        return "CAST(NULL AS VARCHAR)"
    parts = ", ".join(f"CAST({alias}.{quote_ident(c)} AS VARCHAR)" for c in columns)
    return f"concat_ws(chr(10), {parts})"


def file_tables(con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[FileTable]:
    database = database or con.execute("SELECT current_database()").fetchone()[0]
    rows = con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? ORDER BY schema_name, table_name, column_index",
        [database],
    ).fetchall()
    out: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, dtype in rows:
        out.setdefault((schema, table), {})[column] = dtype
    return [FileTable(s, t, cols) for (s, t), cols in out.items()]


#: Given a connection and a table, the name of a temp table of matching ``rid``s (or None).
Matcher = Callable[[duckdb.DuckDBPyConnection, FileTable], str | None]


def open_file(
    path: Path, encryption_key: str | None, *, read_only: bool
) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is ``path`` (attached with its key when encrypted)."""
    if encryption_key is None:
        return duckdb.connect(str(path), read_only=read_only)
    from regionlab.research.workspace_crypto import connect_file

    return connect_file(path, encryption_key, read_only=read_only)


def purge(
    path: Path,
    prepare: Callable[[duckdb.DuckDBPyConnection], None],
    match: Matcher,
    *,
    encryption_key: str | None = None,
) -> dict[str, int]:
    """Delete matching rows from every table of ``path``; returns rows deleted per table."""
    removed: dict[str, int] = {}
    con = open_file(path, encryption_key, read_only=False)
    try:
        prepare(con)
        for table in file_tables(con):
            hits = match(con, table)
            if hits is None:
                continue
            n = int(con.execute(f"SELECT count(*) FROM temp.main.{hits}").fetchone()[0])
            if n:
                con.execute(
                    f"DELETE FROM {table.qualified} WHERE rowid IN "
                    f"(SELECT rid FROM temp.main.{hits})"
                )
                removed[f"{table.schema}.{table.table}"] = n
            con.execute(f"DROP TABLE temp.main.{hits}")
    finally:
        con.close()
    if removed:
        compact(path, encryption_key=encryption_key)
    return removed


def compact(path: Path, *, encryption_key: str | None = None) -> None:
    """Copy the database into a new file and put it in place of the old one."""
    tmp = path.with_name(f".{path.name}.compact")
    tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    if encryption_key is None:
        con = duckdb.connect()
    else:
        from regionlab.lake.extensions import duckdb_connect

        con = duckdb_connect()
    try:
        if encryption_key is None:
            con.execute(f"ATTACH {quote_literal(str(path))} AS old (READ_ONLY)")
            con.execute(f"ATTACH {quote_literal(str(tmp))} AS new")
        else:
            from regionlab.research.workspace_crypto import attach

            attach(con, path, encryption_key, "old", read_only=True)
            attach(con, tmp, encryption_key, "new", read_only=False)
        con.execute("COPY FROM DATABASE old TO new")
        con.execute("DETACH new")
        con.execute("DETACH old")
    finally:
        con.close()
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    Path(f"{path}.wal").unlink(missing_ok=True)
