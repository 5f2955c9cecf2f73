"""Vectorised matching of rows against an erasure's needles, in DuckDB.

The needles of one request are its person keys (64 hex characters) and the
row keys of the rows deleted for them. A row matches when

* any text of it contains a person key (e.g. ``to_json`` of a quarantined
  staged row), or
* any CPR-shaped text in it hashes, with the pseudonymisation key, to one
  of the person keys (raw source lines in quarantine: the CPR number itself
  never enters a query — only the HMAC pads, bound as parameters), or
* one of its columns equals a needle value exactly (row keys, pseudonyms).

Everything runs as set operations: CPR-shaped tokens are extracted once,
hashed once per distinct token and joined back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import duckdb

from regionlab.privacy.identifiers import install_cpr_macros
from regionlab.privacy.keys import PseudonymKey
from regionlab.privacy.pseudonym import hmac_params, hmac_sql
from regionlab.sql import quote_ident

KEYS = "__rl_erase_keys"
VALUES = "__rl_erase_values"


def install(
    con: duckdb.DuckDBPyConnection, keys: Iterable[str], values: Iterable[str] = ()
) -> None:
    """Temp tables ``__rl_erase_keys(k)`` and ``__rl_erase_values(v)`` on ``con``."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {KEYS} (k VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {VALUES} (v VARCHAR)")
    keys = sorted(set(keys))
    values = sorted(set(values) | set(keys))
    if keys:
        con.execute(f"INSERT INTO {KEYS} SELECT unnest(?::VARCHAR[])", [keys])
    if values:
        con.execute(f"INSERT INTO {VALUES} SELECT unnest(?::VARCHAR[])", [values])


def key_regex(keys: Iterable[str]) -> str | None:
    """An alternation of hex keys (no escaping needed: hex has no metacharacters)."""
    keys = sorted({k for k in keys if k and all(c in "0123456789abcdef" for c in k)})
    return "|".join(keys) if keys else None


def matching_rows(
    con: duckdb.DuckDBPyConnection,
    source_sql: str,
    key: PseudonymKey | None,
    regex: str | None,
    value_columns: list[str] = (),  # type: ignore[assignment]
) -> str:
    """Create a temp table of the ``rid`` values of ``source_sql`` rows that match; return its name.

    ``source_sql`` must yield ``rid`` (a row id), ``txt`` (the row's text) and the
    ``value_columns`` (compared exactly with the needle values).
    """
    name = f"__rl_hits_{uuid.uuid4().hex[:10]}"
    install_cpr_macros(con)
    parts: list[str] = []
    params: dict[str, object] = {}
    if regex:
        parts.append("SELECT rid FROM src WHERE regexp_matches(txt, $rl_regex)")
        params["rl_regex"] = regex
    if key is not None:
        params.update(hmac_params(key))
        parts.append(
            f"""SELECT toks.rid FROM toks JOIN (
                    SELECT tok FROM (SELECT DISTINCT tok FROM toks)
                    WHERE {hmac_sql("tok")} IN (SELECT k FROM temp.main.{KEYS})
                ) AS hit USING (tok)"""
        )
    for column in value_columns:
        parts.append(
            f"SELECT rid FROM src WHERE CAST({quote_ident(column)} AS VARCHAR) IN "
            f"(SELECT v FROM temp.main.{VALUES})"
        )
    if not parts:
        con.execute(f"CREATE TEMP TABLE {name} (rid BIGINT)")
        return name
    con.execute(
        f"""CREATE TEMP TABLE {name} AS
        WITH src AS ({source_sql}),
             toks AS (
                 SELECT rid, unnest(cpr_candidates(txt)) AS tok
                 FROM src WHERE txt IS NOT NULL
             )
        SELECT DISTINCT rid FROM ({" UNION ALL ".join(parts)})""",
        params or None,
    )
    return name


def count_matches(
    con: duckdb.DuckDBPyConnection,
    source_sql: str,
    key: PseudonymKey | None,
    regex: str | None,
    value_columns: list[str] = (),  # type: ignore[assignment]
) -> int:
    name = matching_rows(con, source_sql, key, regex, value_columns)
    try:
        return int(con.execute(f"SELECT count(*) FROM temp.main.{name}").fetchone()[0])
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
