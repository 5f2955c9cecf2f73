"""Quarantine zones: rows of the erased persons, found by raw text, key or record id.

A quarantined row can hold a raw source line (with the CPR number in any
format, possibly in free text), a staged row as JSON (with the person key),
or just the record id of a row the person owns. All three are matched; see
:mod:`regionlab.erasure.match`. Rows of *other* persons whose raw text
mentions an erased person's CPR number go too: they contain it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from regionlab.erasure import match
from regionlab.erasure.duckdb_files import FileTable, purge
from regionlab.privacy.keys import PseudonymKey
from regionlab.settings import Settings


def zone_files(settings: Settings) -> list[Path]:
    return settings.quarantine_files()


def product_of(path: Path) -> str:
    """``diagnoses.diagnoses.duckdb`` → ``diagnoses/diagnoses``."""
    return Settings.quarantine_product(path)


def quarantine_source(table: FileTable) -> str:
    text = [c for c in ("raw", "detail", "record_id") if c in table.columns]
    txt = f"concat_ws(' ', {', '.join(text)})" if text else "NULL::VARCHAR"
    return f"SELECT rowid AS rid, {txt} AS txt, * FROM {table.qualified}"


def erase_from_quarantine(
    settings: Settings,
    keys: list[str],
    row_keys: dict[str, list[str]],
    key: PseudonymKey,
) -> dict[str, int]:
    """Delete the persons' quarantined rows in every zone; returns rows removed per product."""
    regex = match.key_regex(keys)
    removed: dict[str, int] = {}
    for path in zone_files(settings):
        ref = product_of(path)
        own = row_keys.get(ref, [])

        def prepare(con: duckdb.DuckDBPyConnection, own: list[str] = own) -> None:
            match.install(con, keys, own)

        def matcher(con: duckdb.DuckDBPyConnection, table: FileTable) -> str:
            values = ["record_id"] if "record_id" in table.columns else []
            return match.matching_rows(con, quarantine_source(table), key, regex, values)

        n = sum(purge(path, prepare, matcher).values())
        if n:
            removed[ref] = n
    return removed
