"""Proof after an erasure or retention run: scan everything that is left, decoded.

Parquet pages are compressed and DuckDB files use lightweight compression, so
a byte search proves nothing: every Parquet file under the lake's data folder,
every quarantine zone and every workspace is read with DuckDB, row by row as
text, and searched for the persons' keys (and project pseudonyms), for
CPR-shaped text that hashes to their keys, and for the row keys of the
removed rows. Every lake table is queried at every snapshot that can still
be read. Rows DuckLake keeps inside the catalogue database (data inlining:
``ducklake_inlined_data_*`` tables, including those of replaced and dropped
tables that are still kept) and the catalogue's column statistics are decoded
and scanned like the data files, whatever the catalogue's type. The SQLite
catalogue, which stores text uncompressed, is also searched byte-wise for the
keys (its free pages could hold them).

Which data files are decoded after an erasure: every file on disk *except* the
live data files of person-level products whose catalogue statistics prove
they cannot hold the persons (:func:`files_excluded_by_statistics`). That is
still a proof, for these reasons:

* every Parquet file under the data folder is listed from disk, so a file the
  catalogue does not know (an orphan, an expired snapshot's file that was not
  deleted) is decoded, as are the files the erasure wrote and the old files
  should they still exist;
* a skipped file is a live data file of the current snapshot (the only
  snapshot left after the erasure expired the others) of a product schema;
  DuckLake wrote its ``person_key`` min/max from the file's own rows when it
  wrote the file, and every key of the request lies outside that range, so
  no row of the file has the persons' keys;
* the other needles cannot be in such a file either: CPR-shaped text is
  blocked in every text column of a product by the privacy audit's identifier
  scan before anything is published; a person key appears in a product only
  in its ``person_key`` column (the direct-identifier gate); and a removed row's
  row key belongs to a row about the same person, which in a person-level
  product carries that person's key;
* what the catalogue itself keeps (inlined rows, per-file and per-table
  statistics, the SQLite file's bytes) is decoded and scanned as before, and
  every table is queried at every readable snapshot.

The full decoding scan of every file (``full_scan=True``; ``regionlab erasure
audit`` runs it for every erased person) is the independent check of that
argument, and reports how long it took.

Retention runs are verified the same way with a date predicate per product
instead of needles.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
from pydantic import BaseModel, Field

from regionlab import lake
from regionlab.erasure import match
from regionlab.erasure.duckdb_files import FileTable, file_tables, open_file, text_sql
from regionlab.erasure.lake_delete import keys_in_sql, table_columns
from regionlab.lake import inlining
from regionlab.lake.extensions import duckdb_connect
from regionlab.platform.names import is_labelled_ref
from regionlab.privacy.keys import PseudonymKey
from regionlab.research.workspace_crypto import key_for_file
from regionlab.settings import get_settings
from regionlab.spec import Registry
from regionlab.sql import quote_ident, quote_literal, row_key_sql


class Verification(BaseModel):
    """Matches left per place (all zero when ``passed``) and how much was scanned."""

    passed: bool = False
    snapshots_scanned: list[int] = Field(default_factory=list)
    lake_tables_scanned: int = 0
    lake_rows_found: dict[str, int] = Field(default_factory=dict)
    data_files_scanned: int = 0
    #: Live data files not decoded because their person_key statistics exclude every key.
    data_files_excluded_by_statistics: int = 0
    #: Seconds the decoding scan of the data files took.
    data_files_scan_seconds: float = 0.0
    data_file_rows_found: dict[str, int] = Field(default_factory=dict)
    quarantine_files_scanned: int = 0
    quarantine_rows_found: dict[str, int] = Field(default_factory=dict)
    workspace_files_scanned: int = 0
    workspace_rows_found: dict[str, int] = Field(default_factory=dict)
    #: Result files searched (airlock submissions and releases, workspaces' outputs/).
    airlock_files_scanned: int = 0
    label_exports_scanned: int = 0
    label_export_lines_found: dict[str, int] = Field(default_factory=dict)
    catalog_scanned: bool = False
    catalog_matches: int = 0
    catalog_tables_scanned: int = 0
    catalog_rows_found: dict[str, int] = Field(default_factory=dict)
    staging_files_left: int = 0
    #: Matches in the stores that should never hold any (Label Studio, Dagster, logs).
    other_found: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def settle(self) -> Verification:
        found = (
            sum(self.lake_rows_found.values())
            + sum(self.data_file_rows_found.values())
            + sum(self.quarantine_rows_found.values())
            + sum(self.workspace_rows_found.values())
            + sum(self.label_export_lines_found.values())
            + self.catalog_matches
            + sum(self.catalog_rows_found.values())
            + self.staging_files_left
            + sum(self.other_found.values())
        )
        self.passed = found == 0
        return self


def parquet_files(data_dir: Path | None) -> list[Path]:
    if data_dir is None or not data_dir.is_dir():
        return []
    return sorted(p for p in data_dir.rglob("*.parquet") if p.is_file())


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> FileTable:
    rows = con.execute(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
        [str(path)],
    ).fetchall()
    return FileTable("", str(path), {r[0]: r[1] for r in rows})


# --- erasure ---------------------------------------------------------------


def scan_lake_for_persons(
    v: Verification,
    registry: Registry,
    keys: list[str],
    row_keys: dict[str, list[str]],
    derived: dict[str, tuple[str, str]] | None = None,
    by_person_key_except: tuple[str, ...] | None = None,
) -> None:
    """Every snapshot left: no row of the persons, no removed row, no row pointing at one.

    ``derived`` maps a table whose rows point at another product's rows (model
    predictions) to (that product, the pointing column): its rows must not hold a
    key the source product's removal recorded.

    ``by_person_key_except``: when given, every table with a ``person_key`` column
    outside these schemas lost exactly its rows with ``person_key IN (keys)`` (the
    erasure's predicate there, :meth:`Selection.lake_predicate`), so the row keys it
    recorded are those of rows with the persons' keys: a row left with one of them has
    the persons' key and is found by the key condition (or it is another person's row
    sharing the key, which the erasure never removed). Those tables are queried with the
    key condition alone, a constant DuckLake prunes by file statistics; OR-ed with a
    row-key subquery it read every row of the table.
    """
    derived = derived or {}
    con = lake.connect(read_only=True)
    try:
        snapshots = [s.id for s in lake.list_snapshots(con)]
    finally:
        con.close()
    v.snapshots_scanned = snapshots
    for snap in snapshots:
        con = lake.connect(snapshot=snap)
        try:
            match.install(con, keys)
            for ref, cols in table_columns(con).items():
                conds = []
                if "person_key" in cols:
                    # Constants where the keys are plain hex: DuckLake skips files by statistics.
                    literal = keys_in_sql(keys)
                    conds.append(literal or f"person_key IN (SELECT k FROM temp.main.{match.KEYS})")
                own = row_keys.get(ref)
                if (
                    by_person_key_except is not None
                    and "person_key" in cols
                    and keys_in_sql(keys)
                    and ref.split("/")[0] not in by_person_key_except
                ):
                    own = None  # implied by the key condition (see the docstring)
                key_cols = _row_key_columns(ref, cols, registry)
                if own and key_cols:
                    con.execute("CREATE OR REPLACE TEMP TABLE __rl_own (v VARCHAR)")
                    con.execute("INSERT INTO __rl_own SELECT unnest(?::VARCHAR[])", [own])
                    conds.append(f"{row_key_sql(key_cols)} IN (SELECT v FROM temp.main.__rl_own)")
                source, column = derived.get(ref, (None, None))
                if source and column in cols and row_keys.get(source):
                    con.execute("CREATE OR REPLACE TEMP TABLE __rl_src (v VARCHAR)")
                    con.execute(
                        "INSERT INTO __rl_src SELECT unnest(?::VARCHAR[])", [row_keys[source]]
                    )
                    pointing = f"CAST({quote_ident(column)} AS VARCHAR)"
                    conds.append(f"{pointing} IN (SELECT v FROM temp.main.__rl_src)")
                if not conds:
                    continue
                schema, table = ref.split("/")
                v.lake_tables_scanned += 1
                n = con.execute(
                    f"SELECT count(*) FROM lake.{quote_ident(schema)}.{quote_ident(table)} "
                    f"WHERE {' OR '.join(conds)}"
                ).fetchone()[0]
                if n:
                    v.lake_rows_found[f"snapshot {snap}: {ref}"] = int(n)
        finally:
            con.close()


def _row_key_columns(ref: str, cols: dict[str, str], registry: Registry) -> list[str]:
    if ref.startswith("labels/"):
        return ["row_key"] if "row_key" in cols else []
    product = registry.products.get(ref)
    if product and all(k in cols for k in product.row_key):
        return list(product.row_key)
    return []


def files_excluded_by_statistics(keys: list[str], skip_schemas: tuple[str, ...]) -> set[str]:
    """Paths (relative to the data folder, or absolute) of the live data files whose
    ``person_key`` range excludes every key.

    Only tables of product schemas (not ``skip_schemas``) with a ``person_key`` column,
    and only files with both statistics; see the module docstring for why such a file
    cannot hold the persons. Matched by the whole path, so a stray copy of a file elsewhere
    in the data folder is still decoded.
    """
    keys = sorted(set(keys))
    if not keys:
        return set()
    md = quote_ident(inlining.metadata_db())
    con = lake.connect(read_only=True)
    try:
        rows = con.execute(
            f"""SELECT sc.path, sc.path_is_relative, t.path, t.path_is_relative,
                       f.path, f.path_is_relative, s.min_value, s.max_value
                FROM {md}.ducklake_data_file f
                JOIN {md}.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
                JOIN {md}.ducklake_schema sc ON sc.schema_id = t.schema_id
                     AND sc.end_snapshot IS NULL
                JOIN {md}.ducklake_column c ON c.table_id = t.table_id
                     AND c.column_name = 'person_key' AND c.end_snapshot IS NULL
                JOIN {md}.ducklake_file_column_stats s ON s.data_file_id = f.data_file_id
                     AND s.column_id = c.column_id
                WHERE f.end_snapshot IS NULL AND s.min_value IS NOT NULL
                  AND s.max_value IS NOT NULL
                  AND sc.schema_name NOT IN (SELECT unnest(?::VARCHAR[]))""",
            [list(skip_schemas)],
        ).fetchall()
    finally:
        con.close()
    return {_file_path(row[:6]) for row in rows if not any(row[6] <= k <= row[7] for k in keys)}


def _file_path(parts: tuple) -> str:
    """A data file's path as the catalogue records it: relative to the data folder when the
    schema, table and file paths are all relative (the embedded lake), else absolute."""
    schema, _, table, table_rel, file, file_rel = parts
    if not file_rel:
        return str(file)
    if not table_rel:
        return f"{table}{file}"
    return f"{schema}{table}{file}"  # an absolute schema path makes the whole path absolute


def scan_files(
    v: Verification,
    data_dir: Path | None,
    key: PseudonymKey,
    keys: list[str],
    values: list[str],
    excluded: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    # Streamed per file: the file's own row number (no window over the whole file) and a
    # memory cap, so scanning a region-scale lake stays within a few GB. The person key is
    # matched by equality (the needle values include the keys); only the other columns that
    # could hold a key or a CPR number are searched as text (casting every row to text was
    # 85 % of an erasure at region scale).
    started = time.perf_counter()
    con = duckdb_connect(config={"memory_limit": "3GB"})
    try:
        match.install(con, keys, values)
        regex = match.key_regex(keys)
        for path in parquet_files(data_dir):
            rel = str(path.relative_to(data_dir)) if data_dir is not None else str(path)
            if rel in excluded or str(path) in excluded:
                v.data_files_excluded_by_statistics += 1
                continue
            v.data_files_scanned += 1
            table = _parquet_columns(con, path)
            exact = table.varchar_columns
            txt = text_sql(table.text_columns(exclude=("person_key",)))
            selected = "".join(f", t.{quote_ident(c)}" for c in exact)
            source = (
                f"SELECT t.file_row_number AS rid, {txt} AS txt{selected} "
                f"FROM read_parquet({quote_literal(str(path))}, file_row_number=true) t"
            )
            n = match.count_matches(con, source, key, regex, exact)
            if n:
                v.data_file_rows_found[str(path.relative_to(data_dir))] = n
    finally:
        con.close()
        v.data_files_scan_seconds += round(time.perf_counter() - started, 3)


#: Catalogue tables that hold column values besides the inlined rows: min/max statistics.
_STATS_TABLES = ("ducklake_table_column_stats", "ducklake_file_column_stats")


def scan_catalog_tables(
    v: Verification, key: PseudonymKey, keys: list[str], values: list[str]
) -> None:
    """Decode the rows the catalogue database keeps (inlined data, statistics) and scan them."""
    con = lake.connect(read_only=True)
    try:
        md = quote_ident(inlining.metadata_db())
        names = [t for _, _, t in inlining.inlined_tables(con, live_only=False)]
        match.install(con, keys, values)
        regex = match.key_regex(keys)
        for name in [*names, *_STATS_TABLES]:
            table = f"{md}.{quote_ident(name)}"
            columns = con.execute(
                f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {table})"
            ).fetchall()
            v.catalog_tables_scanned += 1
            source = (
                f"SELECT row_number() OVER () AS rid, CAST(t AS VARCHAR) AS txt, * FROM {table} t"
            )
            # Exact row-key matches only on inlined rows, as on the data files; a statistic
            # of any type is text here and could equal a numeric row key by chance.
            varchar = [c for c, t in columns if t == "VARCHAR"] if name in names else []
            n = match.count_matches(con, source, key, regex, varchar)
            if n:
                v.catalog_rows_found[name] = n
    finally:
        con.close()


def _scan_duckdb_file(
    path: Path,
    prepare: Callable[[duckdb.DuckDBPyConnection], None],
    count: Callable[[duckdb.DuckDBPyConnection, FileTable], int],
    *,
    encryption_key: str | None = None,
) -> dict[str, int]:
    found: dict[str, int] = {}
    con = open_file(path, encryption_key, read_only=True)
    try:
        prepare(con)
        for table in file_tables(con):
            n = count(con, table)
            if n:
                found[f"{path.name}:{table.schema}.{table.table}"] = n
    finally:
        con.close()
    return found


def scan_quarantine(
    v: Verification,
    zones: list[Path],
    key: PseudonymKey,
    keys: list[str],
    row_keys: dict[str, list[str]],
) -> None:
    from regionlab.erasure.quarantine import product_of, quarantine_source

    regex = match.key_regex(keys)
    for path in zones:
        v.quarantine_files_scanned += 1
        own = row_keys.get(product_of(path), [])
        v.quarantine_rows_found.update(
            _scan_duckdb_file(
                path,
                lambda con, own=own: match.install(con, keys, own),
                lambda con, t: match.count_matches(
                    con,
                    quarantine_source(t),
                    key,
                    regex,
                    ["record_id"] if "record_id" in t.columns else [],
                ),
            )
        )


def scan_workspaces(v: Verification, key: PseudonymKey, keys: list[str], values: list[str]) -> None:
    # Every table of every workspace, decoded; person keys and re-keyed ids by equality on
    # the needles and their project pseudonyms, the other columns that could hold an
    # identifier as text (see workspaces.table_source for why that is still a proof).
    from regionlab.erasure.workspaces import (
        _manifest,
        hashed_columns,
        install_project_needles,
        project_key_of,
        table_source,
        workspace_files,
    )

    for project_id, path in workspace_files().items():
        v.workspace_files_scanned += 1
        pkey = project_key_of(project_id, key)
        pseudo = [hmac_hex_many(k, pkey) for k in keys]
        regex = match.key_regex(keys + pseudo)
        hashed = hashed_columns(_manifest(path))

        def count(
            con: duckdb.DuckDBPyConnection,
            t: FileTable,
            regex: str | None = regex,
            hashed: dict[str, tuple[str, ...]] = hashed,
        ) -> int:
            source = table_source(t, hashed.get(f"{t.schema}.{t.table}", ("person_key",)))
            return match.count_matches(con, source, key, regex, t.varchar_columns)

        v.workspace_rows_found.update(
            _scan_duckdb_file(
                path,
                lambda con, pkey=pkey: install_project_needles(con, keys, values, pkey),
                count,
                encryption_key=key_for_file(path),
            )
        )


def hmac_hex_many(value: str, pkey: PseudonymKey) -> str:
    from regionlab.privacy.pseudonym import hmac_hex

    return hmac_hex(pkey, value)


def scan_exports(v: Verification, keys: list[str], values: list[str]) -> None:
    from regionlab.erasure.labels import exports_dir

    folder = exports_dir()
    if not folder.is_dir():
        return
    needles = [f'"{x}"' for x in set(values) | set(keys)]
    for path in sorted(folder.glob("*.jsonl")):
        v.label_exports_scanned += 1
        lines = path.read_text(encoding="utf-8").splitlines()
        n = sum(1 for line in lines if any(x in line for x in needles))
        if n:
            v.label_export_lines_found[path.name] = n


def scan_catalog(v: Verification, catalog_file: str | None, keys: list[str]) -> None:
    if catalog_file is None:
        v.notes.append("catalogue is PostgreSQL: not scanned byte-wise")
        return
    v.catalog_scanned = True
    pattern = re.compile("|".join(re.escape(k) for k in keys).encode()) if keys else None
    for suffix in ("", "-wal"):
        path = Path(catalog_file + suffix)
        if pattern is not None and path.is_file():
            v.catalog_matches += len(pattern.findall(path.read_bytes()))


def verify_erasure(
    *,
    registry: Registry,
    key: PseudonymKey,
    keys: list[str],
    row_keys: dict[str, list[str]],
    data_dir: Path | None,
    zones: list[Path],
    staging_dir: Path,
    catalog_file: str | None,
) -> Verification:
    """Zero rows for ``keys`` (and the removed ``row_keys``) in every store that is left."""
    from datetime import UTC, datetime

    from regionlab.erasure.stores import Selection, verify_everywhere

    settings = get_settings().model_copy(update={"var_dir": staging_dir.parent})
    sel = Selection(
        kind="erasure",
        request_id="verify",
        registry=registry,
        settings=settings,
        key=key,
        started=datetime.now(UTC),
        keys=keys,
        row_keys=row_keys,
        catalog_file=catalog_file,
        data_dir=data_dir,
        zones=zones,
    )
    return verify_everywhere(sel)


# --- retention -------------------------------------------------------------


def expired_sql(column: str, cutoff: date) -> str:
    """Rows whose period started before the cutoff day (NULL: kept)."""
    return f"CAST({quote_ident(column)} AS DATE) < DATE '{cutoff.isoformat()}'"


def retention_lake(
    v: Verification,
    registry: Registry,
    cutoffs: dict[str, date],
    removed_row_keys: dict[str, list[str]],
) -> None:
    """No row past its product's cutoff at any readable snapshot; no removed labelled row."""
    con = lake.connect(read_only=True)
    try:
        v.snapshots_scanned = [s.id for s in lake.list_snapshots(con)]
    finally:
        con.close()
    for snap in v.snapshots_scanned:
        con = lake.connect(snapshot=snap)
        try:
            columns = table_columns(con)
            for ref, cutoff in cutoffs.items():
                column = registry.products[ref].retention.from_column
                if column not in columns.get(ref, {}):
                    continue
                schema, table = ref.split("/")
                v.lake_tables_scanned += 1
                n = con.execute(
                    f"SELECT count(*) FROM lake.{quote_ident(schema)}.{quote_ident(table)} "
                    f"WHERE {expired_sql(column, cutoff)}"
                ).fetchone()[0]
                if n:
                    v.lake_rows_found[f"snapshot {snap}: {ref}"] = int(n)
        finally:
            con.close()
    labels = {k: xs for k, xs in removed_row_keys.items() if is_labelled_ref(k)}
    if labels:
        con = lake.connect(read_only=True)
        try:
            for ref, xs in labels.items():
                schema, table = ref.split("/")
                n = con.execute(
                    f"SELECT count(*) FROM lake.{quote_ident(schema)}.{quote_ident(table)} "
                    "WHERE row_key IN (SELECT unnest(?::VARCHAR[]))",
                    [xs],
                ).fetchone()[0]
                if n:
                    v.lake_rows_found[ref] = int(n)
        finally:
            con.close()


def retention_files(
    v: Verification, registry: Registry, cutoffs: dict[str, date], data_dir: Path | None
) -> None:
    """No row past its product's cutoff in any data file left on disk."""
    con = duckdb_connect()
    try:
        for path in parquet_files(data_dir):
            v.data_files_scanned += 1
            rel = path.relative_to(data_dir)
            ref = "/".join(rel.parts[:2]) if len(rel.parts) >= 3 else ""
            if ref not in cutoffs or path.name.endswith("-delete.parquet"):
                continue
            column = registry.products[ref].retention.from_column
            if column not in _parquet_columns(con, path).columns:
                continue
            n = con.execute(
                f"SELECT count(*) FROM read_parquet({quote_literal(str(path))}) "
                f"WHERE {expired_sql(column, cutoffs[ref])}"
            ).fetchone()[0]
            if n:
                v.data_file_rows_found[str(rel)] = int(n)
    finally:
        con.close()


def retention_workspaces(v: Verification, registry: Registry, cutoffs: dict[str, date]) -> None:
    """No row past its product's cutoff in any workspace (where it has the date column)."""
    from regionlab.erasure.workspaces import _manifest, _refs, date_slack, workspace_files

    for path in workspace_files().values():
        v.workspace_files_scanned += 1

        manifest = _manifest(path)
        refs = _refs(manifest)
        slack = timedelta(days=date_slack(manifest))

        def count(c: duckdb.DuckDBPyConnection, t: FileTable, refs=refs, slack=slack) -> int:
            ref = refs.get(f"{t.schema}.{t.table}")
            if ref not in cutoffs:
                return 0
            column = registry.products[ref].retention.from_column
            if column not in t.columns:
                return 0
            return int(
                c.execute(
                    f"SELECT count(*) FROM {t.qualified} "
                    f"WHERE {expired_sql(column, cutoffs[ref] + slack)}"
                ).fetchone()[0]
            )

        v.workspace_rows_found.update(
            _scan_duckdb_file(path, lambda c: None, count, encryption_key=key_for_file(path))
        )
