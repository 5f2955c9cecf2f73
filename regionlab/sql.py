"""SQL text quoting: the one module that turns names and values into SQL text.

Most queries bind their values as parameters. Identifiers (schema, table and
column names from steward-owned specs) and DDL such as ``ATTACH`` cannot take
parameters, so they are quoted here rather than pasted: a column called
``note text`` or ``order`` must not break (or change) a query. The publish
transaction also uses literals: the first parameterised query in a process
makes DuckDB's Python client import numpy and pandas (1–2 s on a busy host),
which should not happen while the catalogue's write lock is held.
"""

from __future__ import annotations

import datetime as dt


def quote_ident(name: str) -> str:
    """One DuckDB identifier (column, table or schema name), quoted so any name is safe."""
    if not name:
        raise ValueError("empty SQL identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_table(table: str) -> str:
    """Quote a possibly qualified table name (``schema.table`` or ``db.schema.table``).

    A name that already contains a double quote is taken as written, so callers
    with exotic names can pass a fully quoted reference themselves.
    """
    if '"' in table:
        return table
    return ".".join(quote_ident(part) for part in table.split("."))


def quote_literal(value: str) -> str:
    """A DuckDB string literal; only for values that are not secret or personal."""
    return "'" + value.replace("'", "''") + "'"


def sql_value(value: object) -> str:
    """A spec value (rule bound, allowed value, reference date) as a typed SQL literal."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return quote_literal(str(value))


def row_key_sql(columns: list[str] | tuple[str, ...]) -> str:
    """A row's key as one VARCHAR: the column itself, or the columns joined with ``|``.

    Labelled products, training exports and workspaces refer to source rows by
    this text, so it is built the same way everywhere.
    """
    parts = [f"CAST({quote_ident(c)} AS VARCHAR)" for c in columns]
    return parts[0] if len(parts) == 1 else f"concat_ws('|', {', '.join(parts)})"
