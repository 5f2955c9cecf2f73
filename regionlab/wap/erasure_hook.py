"""Ingest honours the erasure suppression list: erased persons never come back.

The engine (``regionlab.wap.engine.run_source_product``) calls :func:`quarantine_erased`
right after ``build_staged(...)`` (the staging database is the default
database, the lake is attached as ``lake``). It

* moves staged rows whose person key is on the suppression list to the
  quarantine with reason ``erased_person`` — without their values: the row
  is counted (rows in = published + quarantined still holds) but nothing of
  it is kept;
* strips the raw text from quarantine rows already collected in this run
  (duplicates, malformed lines, type errors) that contain a CPR number of a
  suppressed person — found by hashing CPR-shaped text with the key, like
  :mod:`regionlab.erasure.match` — and files them as ``erased_person`` too;
* deletes the persons' rows from ``raw``.

The list stores digests of person keys (see
:mod:`regionlab.erasure.erased_persons`); entries made with another key id
are ignored (they cannot match).
"""

from __future__ import annotations

import duckdb

from regionlab.erasure import erased_persons
from regionlab.erasure.resolve import key_digest_sql
from regionlab.platform.names import DELIVERY_COLUMN
from regionlab.platform.tables import SUPPRESSION_LIST
from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import PERSON_KEYS, hmac_params, hmac_sql
from regionlab.spec import Product
from regionlab.sql import quote_ident

REASON = "erased_person"
DETAIL = "person on the erasure suppression list; values not kept"


def suppressed_keys(con: duckdb.DuckDBPyConnection, key_id: str | None = None) -> str | None:
    """SQL selecting the suppressed key digests, or None when nobody was ever erased.

    Compare with ``key_digest_sql('person_key')`` (see :mod:`regionlab.erasure.resolve`).
    """
    if not SUPPRESSION_LIST.exists(con):
        return None
    return erased_persons.digests_sql(key_id)


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? AND column_name = ?",
        [table, column],
    ).fetchone()
    return bool(row and row[0])


def _mapping_installed(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [PERSON_KEYS]
    ).fetchone()
    return bool(row and row[0])


def quarantine_erased(
    con: duckdb.DuckDBPyConnection, product: Product, key: PseudonymKey | None
) -> int:
    """Quarantine (valueless) the suppressed persons' rows of this run; returns rows affected."""
    digests = suppressed_keys(con, key.key_id if key else None)
    if digests is None or key is None:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rl_suppressed AS {digests}")
    if not con.execute("SELECT count(*) FROM __rl_suppressed").fetchone()[0]:
        return 0
    hit = f"{key_digest_sql('person_key')} IN (SELECT key_digest FROM temp.main.__rl_suppressed)"
    moved = 0
    if _has_column(con, "staged", "person_key"):
        moved = con.execute(f"SELECT count(*) FROM staged WHERE {hit}").fetchone()[0]
        delivery = (
            quote_ident(DELIVERY_COLUMN) if _has_column(con, "staged", DELIVERY_COLUMN) else "NULL"
        )
        con.execute(
            f"INSERT INTO quarantine SELECT {delivery}, NULL, NULL, '{REASON}', '{DETAIL}', NULL "
            f"FROM staged WHERE {hit}"
        )
        con.execute(f"DELETE FROM staged WHERE {hit}")
    if _has_column(con, "raw", "person_key"):
        con.execute(f"DELETE FROM raw WHERE {hit}")
    elif product.person_column and _mapping_installed(con):
        # build_staged joined the key from its mapping; the raw rows go by their CPR.
        con.execute(
            f"DELETE FROM raw WHERE {quote_ident(product.person_column)} IN (SELECT __rl_raw "
            f"FROM (SELECT __rl_raw, __rl_value AS person_key FROM temp.main.{PERSON_KEYS}) "
            f"WHERE {hit})"
        )
    # Rows quarantined earlier in this run keep their raw line: find suppressed CPRs in it.
    token_key = hmac_sql("tok")
    install_cpr_macros(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __rl_erased_q AS
        WITH toks AS (
            SELECT rowid AS rid, unnest(cpr_candidates(raw)) AS tok
            FROM quarantine WHERE raw IS NOT NULL
        ),
        keyed AS (
            SELECT tok, {token_key} AS person_key FROM (SELECT DISTINCT tok FROM toks)
        )
        SELECT DISTINCT rid FROM toks JOIN keyed USING (tok) WHERE {hit}""",
        hmac_params(key),
    )
    con.execute(
        f"UPDATE quarantine SET reason = '{REASON}', detail = '{DETAIL}', raw = NULL, "
        "record_id = NULL WHERE rowid IN (SELECT rid FROM temp.main.__rl_erased_q)"
    )
    stripped = con.execute("SELECT count(*) FROM __rl_erased_q").fetchone()[0]
    return int(moved) + int(stripped)
