"""The DuckDB file the data contracts' ``duckdb`` server names, written from the lake.

datacontract-cli opens a ``duckdb`` server's ``database`` as a path to a DuckDB
file (through ibis, which makes the path absolute), so a ``ducklake:`` URI
never reaches DuckLake, and a DuckDB file cannot carry an ``ATTACH``. What a
consumer's tool can open is a plain DuckDB file with the lake's tables as
``<domain>.<product>`` — the layout the contracts declare (server ``schema`` =
domain, ``physicalName`` = product). :func:`write_contract_db` copies the
published columns of every product from one lake snapshot into such a file.

The file holds row-level data as the lake does. It is written only where the
caller says (a consumer's workspace, a test's temporary folder), never into
the catalogue folder, which holds no person data.
"""

from __future__ import annotations

from pathlib import Path

from regionlab.lake.config import LakeConfig
from regionlab.lake.connect import connect
from regionlab.platform.tables import lake_table_exists
from regionlab.spec import Registry
from regionlab.sql import quote_ident, quote_literal

_ALIAS = "contract_db"


def write_contract_db(
    out: Path, registry: Registry, lake: LakeConfig | None = None
) -> dict[str, int]:
    """Write ``out`` afresh from the lake's newest snapshot; rows per product written.

    Products not yet in the lake are left out (their contracts' tests then
    report the table missing, as they should).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in (out, out.with_name(out.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = connect(lake, read_only=True)
    written: dict[str, int] = {}
    try:
        alias = (lake.alias if lake else None) or "lake"
        con.execute(f"ATTACH {quote_literal(str(out))} AS {_ALIAS}")
        for product in sorted(registry.products.values(), key=lambda p: p.ref):
            if not lake_table_exists(con, product.domain, product.id, alias):
                continue
            schema = f"{_ALIAS}.{quote_ident(product.domain)}"
            columns = ", ".join(quote_ident(c.name) for c in product.published_columns)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(
                f"CREATE TABLE {schema}.{quote_ident(product.id)} AS SELECT {columns} "
                f"FROM {alias}.{quote_ident(product.domain)}.{quote_ident(product.id)}"
            )
            row = con.execute(f"SELECT count(*) FROM {schema}.{quote_ident(product.id)}").fetchone()
            written[product.ref] = int(row[0]) if row else 0
        con.execute(f"DETACH {_ALIAS}")
    finally:
        con.close()
    return written
