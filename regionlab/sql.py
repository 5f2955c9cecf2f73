"""Quoting for the few places where SQL text must be built rather than parameterised.

Identifiers (schema and table names) and DDL such as ``ATTACH`` cannot take
parameters. The publish transaction also uses literals: the first
parameterised query in a process makes DuckDB's Python client import numpy
and pandas (1–2 s on a busy host), which should not happen while the
catalogue's write lock is held.
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A DuckDB identifier, quoted so any name is safe in SQL text."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"
