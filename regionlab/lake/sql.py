"""Quoting for the few places where SQL text must be built rather than parameterised.

Inside a DuckLake write transaction a prepared statement with parameters can
stall for seconds on its first use in a process (seen with DuckDB 1.4.4 and a
SQLite catalogue), so the publish transaction uses literals, quoted here.
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A DuckDB identifier, quoted so any name is safe in SQL text."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"
