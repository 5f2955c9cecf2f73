"""Person keys: HMAC-SHA256(key, normalised CPR), computed inside DuckDB.

A product row must never carry a CPR number, yet rows about the same person
must join across products. The person key does both: a keyed hash that only
the key holder can recompute from a CPR number.

DuckDB has no HMAC function, but HMAC is two plain hashes (RFC 2104):

    HMAC(K, m) = H((K' xor opad) || H((K' xor ipad) || m))

with K' the key zero-padded to SHA-256's 64-byte block. The two padded keys
are computed in Python and bound as query *parameters* (never pasted into the
SQL text, which may end up in logs or error messages); DuckDB's ``sha256``
accepts BLOBs and ``||`` concatenates them, so the whole computation is
vectorised. It runs once per distinct CPR and is joined back to the rows,
because a large extract repeats each person many times.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

import duckdb

from regionlab.privacy.identifiers import install_cpr_macros, normalise_cpr
from regionlab.privacy.keys import PseudonymKey
from regionlab.sql import quote_ident, quote_table

_BLOCK = 64  # SHA-256 block size in bytes
# The staging path's CPR → person key mapping (``build_staged``), a temp table of the run's
# connection. It stays until the connection closes: the erasure hook finds the suppressed
# persons' ``raw`` rows through it, since ``raw`` has no key column.
PERSON_KEYS = "__rl_person_keys"


@dataclass(frozen=True)
class KeyingStats:
    """Counts from a keying run (never values): for the audit and the quarantine balance."""

    rows: int
    distinct_keys: int
    rows_without_key: int


def hmac_hex(key: PseudonymKey, message: str) -> str:
    """HMAC-SHA256 of ``message``'s UTF-8 bytes as lowercase hex (the Python reference)."""
    return hmac.new(key.secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def person_key(cpr: str, key: PseudonymKey) -> str:
    """The person key of one CPR number (written with any separator).

    Raises ``ValueError`` (without the value) when ``cpr`` has no CPR shape.
    """
    normalised = normalise_cpr(cpr)
    if normalised is None:
        raise ValueError("not a CPR number (expected DDMMYY-SSSS)")
    return hmac_hex(key, normalised)


def hmac_params(key: PseudonymKey) -> dict[str, bytes]:
    """The padded inner and outer keys, to bind as ``$rl_ipad`` / ``$rl_opad``."""
    secret = key.secret
    if len(secret) > _BLOCK:
        secret = hashlib.sha256(secret).digest()
    padded = secret.ljust(_BLOCK, b"\x00")
    return {
        "rl_ipad": bytes(b ^ 0x36 for b in padded),
        "rl_opad": bytes(b ^ 0x5C for b in padded),
    }


def hmac_sql(message_sql: str) -> str:
    """SQL for HMAC-SHA256 hex of a VARCHAR expression; bind ``hmac_params(key)``.

    ``encode`` gives the UTF-8 bytes (a cast to BLOB would interpret ``\\x``
    escapes), so the result equals ``hmac_hex`` for any text.
    """
    return f"sha256($rl_opad || unhex(sha256($rl_ipad || encode({message_sql}))))"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {quote_table(table)}").fetchall()]


def _temp_name(prefix: str) -> str:
    return f"__rl_{prefix}_{uuid.uuid4().hex[:12]}"


def _apply_mapping(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source_column: str,
    target_column: str,
    mapping_sql: str,
    params: dict[str, bytes],
) -> KeyingStats:
    """Build ``__rl_raw → __rl_value`` once per distinct input, then write it into ``table``.

    An UPDATE keeps the table's row order and other columns untouched and was
    faster than rebuilding the table with a join (5M rows: 3.6 s vs 6.5 s). A caller
    that builds a new table from ``table`` anyway should join the mapping in that
    statement instead (:func:`person_key_mapping`), which saves the UPDATE altogether.
    """
    mapping = _temp_name("map")
    t, src, dst = quote_table(table), quote_ident(source_column), quote_ident(target_column)
    try:
        con.execute(f"CREATE TEMP TABLE {mapping} AS {mapping_sql}", params)
        con.execute(
            f"UPDATE {t} AS __rl_t SET {dst} = m.__rl_value FROM temp.main.{mapping} AS m "
            f"WHERE __rl_t.{src} = m.__rl_raw"
        )
        # Distinct keys from the small mapping, not from every row's 64-character key.
        counts = con.execute(
            f"SELECT count(*), (SELECT count(DISTINCT __rl_value) FROM temp.main.{mapping}), "
            f"count(*) - count({dst}) FROM {t}"
        ).fetchone()
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{mapping}")
    assert counts is not None
    rows, distinct_keys, without = counts
    return KeyingStats(rows=rows, distinct_keys=distinct_keys, rows_without_key=without)


def _person_key_mapping_sql(table: str, cpr_column: str) -> str:
    """SQL of the ``__rl_raw → __rl_value`` mapping: one HMAC per distinct normalised CPR.

    ``norm`` is read twice (the distinct values to hash, the join back to each
    spelling), so it is materialised rather than normalised twice.
    """
    t, src = quote_table(table), quote_ident(cpr_column)
    return f"""
        WITH raw AS (SELECT DISTINCT {src} AS raw FROM {t} WHERE {src} IS NOT NULL),
             norm AS MATERIALIZED (SELECT raw, cpr_normalise(raw) AS norm FROM raw),
             keyed AS (
                 SELECT norm, {hmac_sql("norm")} AS value
                 FROM (SELECT DISTINCT norm FROM norm WHERE norm IS NOT NULL)
             )
        SELECT norm.raw AS __rl_raw, keyed.value AS __rl_value
        FROM norm JOIN keyed USING (norm)"""


def person_key_mapping(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: PseudonymKey,
    cpr_column: str = "cpr",
    name: str | None = None,
) -> str:
    """Create a temporary table ``__rl_raw`` (a CPR as written) → ``__rl_value`` (its person key).

    For a caller that builds a new table from ``table``: joining this mapping
    (``LEFT JOIN temp.main.<name> ON <cpr> = __rl_raw``) gives the same keys as
    :func:`add_person_key` without adding a column and updating every row of
    ``table``. Returns the table's name (in ``temp.main``; ``name`` or a fresh one,
    replaced if it exists); the caller drops it. CPRs without CPR shape (and NULL)
    have no entry, so a LEFT JOIN gives NULL.
    """
    if cpr_column not in _columns(con, table):
        raise ValueError(f"table {table} has no column {cpr_column!r}")
    install_cpr_macros(con)
    mapping = name or _temp_name("map")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {mapping} AS {_person_key_mapping_sql(table, cpr_column)}",
        hmac_params(key),
    )
    return mapping


def add_person_key(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: PseudonymKey,
    cpr_column: str = "cpr",
    out_column: str = "person_key",
) -> KeyingStats:
    """Add ``out_column`` = HMAC(key, normalised CPR) to ``table`` in place.

    Rows whose CPR has no CPR shape (or is NULL) get NULL; the caller
    quarantines invalid CPRs before this step and drops ``cpr_column`` after.
    The CPR column itself is left unchanged.
    """
    columns = _columns(con, table)
    if cpr_column not in columns:
        raise ValueError(f"table {table} has no column {cpr_column!r}")
    if out_column in columns:
        raise ValueError(f"table {table} already has a column {out_column!r}")
    install_cpr_macros(con)
    mapping_sql = _person_key_mapping_sql(table, cpr_column)
    con.execute(f"ALTER TABLE {quote_table(table)} ADD COLUMN {quote_ident(out_column)} VARCHAR")
    return _apply_mapping(con, table, cpr_column, out_column, mapping_sql, hmac_params(key))


def pseudonymise_keys(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    key: PseudonymKey,
    out_column: str | None = None,
) -> KeyingStats:
    """Re-key a person-key column: HMAC(key, person_key), once per distinct value.

    For research workspaces: pass ``derive_key(main_key, project)`` so the
    same person gets a different pseudonym in each project. Without
    ``out_column`` the column is replaced in place (the old keys are gone).
    """
    columns = _columns(con, table)
    if column not in columns:
        raise ValueError(f"table {table} has no column {column!r}")
    target = out_column or column
    if out_column is not None:
        if out_column in columns:
            raise ValueError(f"table {table} already has a column {out_column!r}")
        con.execute(
            f"ALTER TABLE {quote_table(table)} ADD COLUMN {quote_ident(out_column)} VARCHAR"
        )
    src = quote_ident(column)
    mapping_sql = f"""
        SELECT raw AS __rl_raw, {hmac_sql("CAST(raw AS VARCHAR)")} AS __rl_value
        FROM (SELECT DISTINCT {src} AS raw FROM {quote_table(table)} WHERE {src} IS NOT NULL)"""
    return _apply_mapping(con, table, column, target, mapping_sql, hmac_params(key))
