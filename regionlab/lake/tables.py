"""Names, sizes and files of the products stored in the lake.

Products are tables ``lake.<domain>.<product>``: one DuckLake schema per
domain, so a domain's products can be listed, granted or dropped together.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from regionlab.errors import UserError
from regionlab.lake.config import LAKE_ALIAS
from regionlab.sql import quote_ident, quote_literal

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(kind: str, name: str) -> str:
    """Refuse domain/product names that would not be plain lower-case identifiers."""
    if not _NAME.match(name):
        raise UserError(
            f"{kind} name {name!r} is not valid for the lake: use lower-case letters, digits "
            "and underscores, starting with a letter (e.g. 'lab_results')."
        )
    return name


def table_name(domain: str, product: str, alias: str = LAKE_ALIAS) -> str:
    """The qualified, quoted table of a product, e.g. ``lake."clinic"."contacts"``."""
    return ".".join(
        quote_ident(part)
        for part in (alias, check_name("Domain", domain), check_name("Product", product))
    )


def list_tables(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> list[tuple[str, str]]:
    """``(domain, product)`` of every table in the snapshot the connection reads."""
    # Names as literals, not bound parameters: DuckDB's Python client imports pandas on
    # the first bound parameter of a process (≈1 s; issue 23), and these are no values.
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
        f"{quote_literal(alias)} ORDER BY schema_name, table_name"
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def table_row_counts(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> dict[str, int]:
    """Rows per table, keyed ``domain.product``, all read in one query (one snapshot)."""
    tables = list_tables(con, alias)
    if not tables:
        return {}
    parts = [
        f"SELECT {quote_literal(f'{schema}.{table}')} AS name, count(*) AS n FROM "
        f"{quote_ident(alias)}.{quote_ident(schema)}.{quote_ident(table)}"
        for schema, table in tables
    ]
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    return {str(name): int(n) for name, n in rows}


def data_files(
    con: duckdb.DuckDBPyConnection,
    domain: str,
    product: str,
    *,
    snapshot: int | None = None,
    alias: str = LAKE_ALIAS,
) -> list[Path]:
    """The Parquet data files that make up a product (at ``snapshot``, default current).

    Delete files (row deletions DuckLake keeps beside a data file) are not
    included: the data files are what a scan for a person's rows must open.
    """
    check_name("Domain", domain)
    check_name("Product", product)
    sql = "SELECT data_file FROM ducklake_list_files(?, ?, schema => ?"
    params: list[object] = [alias, product, domain]
    if snapshot is not None:
        sql += ", snapshot_version => ?"
        params.append(int(snapshot))
    rows = con.execute(sql + ") ORDER BY data_file", params).fetchall()
    return [Path(r[0]) for r in rows]
