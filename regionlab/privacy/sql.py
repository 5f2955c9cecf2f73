"""Small SQL text helpers shared by the privacy modules.

The privacy code builds SQL from table and column names that come from
steward-owned specs, so every name is quoted rather than pasted: a column
called ``note text`` or ``order`` must not break (or change) a query.
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote one identifier (column, table or schema name) for DuckDB."""
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
    """A SQL string literal; only for values that are not secret or personal."""
    return "'" + value.replace("'", "''") + "'"
