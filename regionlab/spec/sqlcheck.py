"""Bind a derived product's SQL against its upstreams' published columns.

Parsing (in ``checks.py``) only proves the SQL is SQL. A steward also needs to
know, before any pipeline runs, that every column the SQL reads exists upstream
and that what comes out is exactly the declared ``columns`` with the declared
types, because the catalogue, the quality suite and researchers rely on that
declaration. DuckDB's binder answers both in milliseconds on empty tables, so
no data is needed and no value can leak into a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import duckdb

from regionlab.spec.models import Product
from regionlab.spec.vocab import ColumnType
from regionlab.sql import quote_ident

Finding = tuple[str, str, str]  # (field, message, hint), as in checks.py

_BY_DUCKDB_TYPE = {t.duckdb: t for t in ColumnType}
_ALLOWED_TYPES = ", ".join(t.value for t in ColumnType)


def check_derived_sql(product: Product, upstreams: Sequence[Product]) -> Iterator[Finding]:
    """Findings for ``product.derived.sql`` run over empty copies of ``upstreams``.

    Each upstream becomes an empty table ``<domain>.<product>`` with its
    published column names and DuckDB types, in a private in-memory database
    with file access disabled, so the SQL can neither read nor change anything.
    """
    assert product.derived is not None
    sql = product.derived.sql.strip().rstrip(";").strip()
    con = duckdb.connect(config={"enable_external_access": False})
    try:
        for up in upstreams:
            _create_empty(con, up)
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            yield "derived.sql", f"SQL does not parse in DuckDB: {_error_text(exc)}", ""
            return
        if len(statements) != 1:
            yield (
                "derived.sql",
                f"expected one SELECT statement, found {len(statements)}",
                "remove the extra statements",
            )
            return
        try:
            described = con.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as exc:
            yield (
                "derived.sql",
                f"SQL does not run on the upstream products: {_error_text(exc)}",
                "the SQL can read only the published columns of its upstream products",
            )
            return
    finally:
        con.close()
    yield from _compare(product, [(row[0], row[1]) for row in described])


def _create_empty(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    schema = quote_ident(product.domain)
    columns = ", ".join(f"{quote_ident(c.name)} {c.type.duckdb}" for c in product.published_columns)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(f"CREATE TABLE {schema}.{quote_ident(product.id)} ({columns})")


def _compare(product: Product, actual: list[tuple[str, str]]) -> Iterator[Finding]:
    """Declared columns versus what the SQL outputs: missing, extra, retyped, reordered."""
    declared = [(c.name, c.type) for c in product.published_columns]
    declared_names = [name for name, _ in declared]
    actual_names = [name for name, _ in actual]
    seen: set[str] = set()
    for name in actual_names:
        if name in seen:
            yield (
                "derived.sql",
                f"the SQL outputs column '{name}' more than once",
                "give every output column its own alias",
            )
        seen.add(name)
    actual_types = {name: _shown(sql_type) for name, sql_type in actual}
    extra = [name for name in actual_names if name not in declared_names]
    missing = [name for name in declared_names if name not in actual_types]
    for name in missing:
        yield (
            "derived.sql",
            f"the SQL does not output declared column '{name}'",
            _closest(name, extra) or "add it to the SELECT or remove it from columns",
        )
    for name in dict.fromkeys(extra):
        sql_type = actual_types[name]
        hint = "declare it under columns or remove it from the SELECT"
        if sql_type.upper() not in _BY_DUCKDB_TYPE:
            hint = f"CAST it to one of {_ALLOWED_TYPES} and declare it under columns"
        yield (
            "derived.sql",
            f"the SQL outputs column '{name}' ({sql_type}), which is not declared",
            hint,
        )
    for name, col_type in declared:
        sql_type = actual_types.get(name)
        if sql_type is None or sql_type == col_type.value:
            continue
        mapped = _BY_DUCKDB_TYPE.get(sql_type.upper())
        hint = (
            f"set type: {mapped.value} or CAST the column in the SQL"
            if mapped
            else f"CAST it in the SQL to {col_type.value}"
        )
        yield (
            f"columns[{name}].type",
            f"declared {col_type.value}, but the SQL outputs {sql_type}",
            hint,
        )
    if (
        not missing
        and not extra
        and actual_names != declared_names
        and len(seen) == len(actual_names)
    ):
        yield (
            "derived.sql",
            "the SQL outputs the columns in another order than declared: "
            + ", ".join(actual_names),
            "order the SELECT like the columns list",
        )


def _shown(sql_type: str) -> str:
    """A DuckDB type as the spec spells it (`bigint`), or DuckDB's name if the spec has none."""
    mapped = _BY_DUCKDB_TYPE.get(sql_type)
    return mapped.value if mapped else sql_type


def _closest(name: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, options, n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _error_text(exc: duckdb.Error) -> str:
    """DuckDB's message without the echoed SQL: the lines before its `LINE n:` excerpt."""
    head = str(exc).split("\n\n", 1)[0]
    return " ".join(line.strip() for line in head.splitlines() if line.strip())
