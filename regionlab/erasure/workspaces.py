"""Project workspaces: delete rows through the project pseudonyms, or rebuild, or flag.

A workspace file (:mod:`regionlab.research.workspace`) holds person keys and
``*_id`` row ids re-keyed as ``HMAC(derive_key(key, "project:<id>"), value)``.
The needles are therefore the erased person keys and row keys *and* their
project pseudonyms, computed in DuckDB with the project key. A table whose
rows cannot be told apart (a person-level product copied without its person
key or row key) cannot be edited; such a workspace is rebuilt from the lake
(which no longer holds the rows) when its permit allows, and otherwise
flagged in ``erasures.json`` beside its manifest so nobody opens it unaware.
Every affected workspace gets an entry in that file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from regionlab.erasure import match
from regionlab.erasure.duckdb_files import FileTable, purge, text_sql
from regionlab.errors import UserError
from regionlab.privacy.keys import PseudonymKey, derive_key
from regionlab.privacy.pseudonym import hmac_params, hmac_sql
from regionlab.research.workspace_crypto import key_for_file
from regionlab.settings import get_settings
from regionlab.spec import Registry
from regionlab.sql import quote_ident

FLAG_FILE = "erasures.json"


def workspace_files() -> dict[str, Path]:
    """project id → workspace DuckDB file (see ``Settings.workspace_file``)."""
    return get_settings().workspace_files()


def project_key_of(project_id: str, key: PseudonymKey) -> PseudonymKey:
    return derive_key(key, f"project:{project_id}")


def _manifest(path: Path) -> dict[str, Any]:
    manifest = path.parent / "manifest.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@dataclass
class WorkspaceResult:
    rows: dict[str, int] = field(default_factory=dict)
    rebuilt: bool = False
    flagged: str | None = None

    def touched(self) -> bool:
        return bool(self.rows) or self.rebuilt or self.flagged is not None


def install_project_needles(
    con: duckdb.DuckDBPyConnection, keys: list[str], values: list[str], pkey: PseudonymKey
) -> None:
    """Needles plus their project pseudonyms (HMAC with the project key, in SQL)."""
    match.install(con, keys, values)
    con.execute(
        f"INSERT INTO temp.main.{match.VALUES} SELECT {hmac_sql('v')} "
        f"FROM (SELECT DISTINCT v FROM temp.main.{match.VALUES})",
        hmac_params(pkey),
    )


def _identifiable(table: FileTable, registry: Registry, ref: str | None) -> bool:
    """Can rows of a person-level product be found in this table?"""
    if ref is None or ref not in registry.products:
        return True
    product = registry.products[ref]
    if product.published("person_key") is None:
        return True  # not person-level: nothing of a person to find
    return "person_key" in table.columns or any(k in table.columns for k in product.row_key)


def date_slack(manifest: dict[str, Any]) -> int:
    """Days a workspace date may lie after the true date (its per-person date shift).

    Retention by date inside a shifted workspace must treat every row that could
    be past the cutoff as past it: the cutoff moves later by the largest shift.
    Coarsened dates are shifted first too (then truncated, which only moves them
    earlier), so they need the same slack.
    """
    dates = manifest.get("dates")
    if not isinstance(dates, dict) or dates.get("method") not in ("shift", "coarsen"):
        return 0
    return int(dates.get("max_shift_days") or 0)


def _refs(manifest: dict[str, Any]) -> dict[str, str]:
    """workspace table (``schema.table``) → product ref."""
    return {p.get("table", ""): p.get("product", "") for p in manifest.get("products", [])}


def hashed_columns(manifest: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """workspace table → its ``person_key`` and re-keyed columns (project pseudonyms).

    :func:`regionlab.research.workspace.build_workspace` writes an HMAC digest into
    each of them, so a value there is an identifier only when it *equals* a needle.
    """
    out: dict[str, tuple[str, ...]] = {}
    for p in manifest.get("products", []):
        rekeyed = [str(c) for c in p.get("rekeyed_columns") or ()]
        out[p.get("table", "")] = tuple(dict.fromkeys(["person_key", *rekeyed]))
    return out


def table_source(table: FileTable, hashed: tuple[str, ...] = ("person_key",)) -> str:
    """A workspace table's rows for :func:`match.matching_rows`: ``rid``, the text of the
    columns that could hold an identifier, and the VARCHAR columns (compared exactly).

    Why this is enough (and what the erasure's proof relies on): every VARCHAR column is
    compared exactly with the needles and their project pseudonyms, so a person key, row
    key or pseudonym held as a whole value is found; the ``hashed`` columns (the person
    key and the re-keyed ids, HMAC digests written by the build) cannot hold one any other
    way; every other column whose type can spell a key or a CPR-shaped run of digits
    (:meth:`FileTable.text_columns`) is still searched as text. Dates, timestamps,
    booleans and small integers cannot, and are not cast to text for every row — casting
    whole rows was most of a workspace's erasure and of its verification.
    """
    exact = table.varchar_columns
    skip = tuple(c for c in hashed if table.columns.get(c) == "VARCHAR")
    txt = text_sql(table.text_columns(exclude=skip))
    selected = "".join(f", t.{quote_ident(c)}" for c in exact)
    return f"SELECT t.rowid AS rid, {txt} AS txt{selected} FROM {table.qualified} t"


def process_workspaces(
    *,
    key: PseudonymKey,
    registry: Registry,
    keys: list[str],
    values: list[str],
    lake_rows: dict[str, int],
    request_id: str,
    extra_predicate: Callable[[FileTable, str | None, int], str | None] | None = None,
) -> dict[str, WorkspaceResult]:
    """Delete matching rows from every workspace; rebuild or flag where rows cannot be found.

    ``extra_predicate(table, product_ref, slack_days)`` adds a row predicate (retention
    dates; ``slack_days`` from :func:`date_slack`).
    ``lake_rows`` are the rows removed from the lake per product: a product
    that lost rows there and cannot be matched here makes the workspace stale.
    """
    results: dict[str, WorkspaceResult] = {}
    for project_id, path in workspace_files().items():
        pkey = project_key_of(project_id, key)
        manifest = _manifest(path)
        refs = _refs(manifest)
        hashed = hashed_columns(manifest)
        slack = date_slack(manifest)
        stale: list[str] = []

        def prepare(con: duckdb.DuckDBPyConnection, pkey: PseudonymKey = pkey) -> None:
            install_project_needles(con, keys, values, pkey)
            # the persons' project pseudonyms are hex too: search them as text as well
            con.execute(
                f"INSERT INTO temp.main.{match.KEYS} SELECT {hmac_sql('k')} "
                f"FROM (SELECT DISTINCT k FROM temp.main.{match.KEYS})",
                hmac_params(pkey),
            )

        def matcher(
            con: duckdb.DuckDBPyConnection,
            table: FileTable,
            refs: dict[str, str] = refs,
            stale: list[str] = stale,
            slack: int = slack,
            hashed: dict[str, tuple[str, ...]] = hashed,
        ) -> str | None:
            qualified = f"{table.schema}.{table.table}"
            ref = refs.get(qualified)
            if not _identifiable(table, registry, ref) and lake_rows.get(ref or "", 0):
                stale.append(ref or table.table)
            found = con.execute(f"SELECT k FROM temp.main.{match.KEYS}").fetchall()
            needles = [r[0] for r in found]
            source = table_source(table, hashed.get(qualified, ("person_key",)))
            name = match.matching_rows(
                con, source, key, match.key_regex(needles), table.varchar_columns
            )
            extra = extra_predicate(table, ref, slack) if extra_predicate else None
            if extra:
                con.execute(
                    f"INSERT INTO temp.main.{name} SELECT rowid FROM {table.qualified} "
                    f"WHERE ({extra}) IS TRUE AND rowid NOT IN (SELECT rid FROM temp.main.{name})"
                )
            return name

        result = WorkspaceResult(
            rows=purge(path, prepare, matcher, encryption_key=key_for_file(path))
        )
        if stale:
            result = _rebuild_or_flag(project_id, result, stale)
        if result.touched():
            _record_flag(path, request_id, result, stale)
            results[project_id] = result
    return results


def _rebuild_or_flag(project_id: str, result: WorkspaceResult, stale: list[str]) -> WorkspaceResult:
    from regionlab.research.workspace import build_workspace

    try:
        build_workspace(project_id)
        result.rebuilt = True
    except UserError as exc:
        result.flagged = (
            f"could not rebuild ({exc}); tables {', '.join(sorted(set(stale)))} may still hold "
            "removed rows: delete the workspace or rebuild it once the permit allows"
        )
    return result


def _record_flag(path: Path, request_id: str, result: WorkspaceResult, stale: list[str]) -> None:
    flag = path.parent / FLAG_FILE
    try:
        entries = json.loads(flag.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = []
    entries.append(
        {
            "request_id": request_id,
            "at": datetime.now(UTC).isoformat(),
            "rows_removed": result.rows,
            "rebuilt": result.rebuilt,
            "pending": result.flagged,
        }
    )
    tmp = flag.with_name(f".{flag.name}.tmp")
    tmp.write_text(json.dumps(entries, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, flag)
