"""Every place that can hold data about a person, as one registry erasure and retention share.

A :class:`PersonStore` is one such place — the lake, the training exports of
labelled products, the quarantine zones, project workspaces, staging files,
Label Studio's database, Dagster's run storage, the platform's logs — and
says which ``var/`` locations it covers (:data:`regionlab.settings.LOCATIONS`),
how to delete what a :class:`Selection` selects there, and how to verify that
nothing selected is left. An erasure and a retention run are the same
:func:`execute` over :data:`STORES` with a different selection: the persons'
keys, or each product's retention cutoff. A new place where person data lands
is one new store in this list; ``tests/erasure/test_stores.py`` fails for a
location that holds person data and has no store.

Stores run in order and may use what earlier ones found: the lake store
records the row keys of the rows it removed, which labelled exports and
workspaces use to find the same rows.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb

from regionlab import lake
from regionlab.erasure import erased_persons, labels, lake_delete, match, predictions, quarantine
from regionlab.erasure.duckdb_files import FileTable
from regionlab.erasure.verify import (
    Verification,
    expired_sql,
    files_excluded_by_statistics,
    parquet_files,
    retention_files,
    retention_lake,
    retention_workspaces,
    scan_catalog,
    scan_catalog_tables,
    scan_exports,
    scan_files,
    scan_lake_for_persons,
    scan_quarantine,
    scan_workspaces,
)
from regionlab.erasure.workspaces import WorkspaceResult, process_workspaces, workspace_files
from regionlab.platform.names import LABELS_SCHEMA, is_labelled_ref
from regionlab.platform.tables import SCHEMA as PLATFORM_SCHEMA
from regionlab.privacy.keys import PseudonymKey
from regionlab.settings import Settings
from regionlab.spec import Registry
from regionlab.sql import row_key_sql
from regionlab.steps import step
from regionlab.wap import staging

PERSON_KEY = "person_key"
SKIP_SCHEMAS = (PLATFORM_SCHEMA, LABELS_SCHEMA)


@dataclass
class Selection:
    """What one run removes: persons (``erasure``) or rows past retention (``retention``)."""

    kind: Literal["erasure", "retention"]
    request_id: str
    registry: Registry
    settings: Settings
    key: PseudonymKey | None
    started: datetime
    #: erasure: the persons' keys.
    keys: list[str] = field(default_factory=list)
    #: erasure: the persons' CPR numbers (10 digits), for stores searched as text (airlock).
    cprs: list[str] = field(default_factory=list, repr=False)
    #: retention: product ref → cutoff day (rows dated before it go), and the day.
    cutoffs: dict[str, date] = field(default_factory=dict)
    as_of: date | None = None
    #: erasure: decode every data file, not only those the statistics do not exclude.
    full_scan: bool = False
    #: Filled by the lake store: row keys of the removed rows per product ref.
    row_keys: dict[str, list[str]] = field(default_factory=dict)
    #: Set by the lake store (or a caller verifying by hand).
    catalog_file: str | None = None
    data_dir: Path | None = None
    zones: list[Path] | None = None

    @property
    def values(self) -> list[str]:
        """Every removed row key (for exact matches in exports and workspaces)."""
        return sorted({v for vs in self.row_keys.values() for v in vs})

    def lake_predicate(self, ref: str, cols: dict[str, str]) -> str | None:
        """The rows of a lake table this selection removes (None: none of them)."""
        schema = ref.split("/")[0]
        if self.kind == "erasure":
            if schema in SKIP_SCHEMAS or PERSON_KEY not in cols:
                return None
            # Constants where the keys are plain hex: DuckLake skips files by statistics.
            literal = lake_delete.keys_in_sql(self.keys)
            return literal or f"person_key IN (SELECT k FROM temp.main.{match.KEYS})"
        product = self.registry.products.get(ref)
        if ref not in self.cutoffs or product is None:
            return None
        return expired_sql(product.retention.from_column, self.cutoffs[ref])


@dataclass
class Outcome:
    """What the stores removed, for the receipt."""

    change: lake_delete.LakeChange = field(default_factory=lake_delete.LakeChange)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    persons_found: int = 0
    listed: int | None = None
    forgotten: lake_delete.Forgotten = field(default_factory=lake_delete.Forgotten)
    vacuum: str = "not needed"
    label_exports: dict[str, int] = field(default_factory=dict)
    quarantine: dict[str, int] = field(default_factory=dict)
    workspaces: dict[str, WorkspaceResult] = field(default_factory=dict)
    staging_files: int = 0


class PersonStore(Protocol):
    """One place that can hold data about a person."""

    #: Name in the step observer and the verification notes.
    name: str
    #: Top-level ``var/`` folders it covers (see ``regionlab.settings.LOCATIONS``).
    locations: tuple[str, ...]

    def delete(self, sel: Selection, out: Outcome) -> None: ...

    def verify(self, sel: Selection, v: Verification) -> None: ...


# --- the lake ------------------------------------------------------------------------


def _deletions(sel: Selection, columns: dict[str, dict[str, str]]) -> list[Any]:
    """Labelled products first (they read the source rows), then the products."""
    out = []
    for ref, cols in columns.items():
        predicate = sel.lake_predicate(ref, cols)
        if predicate is None:
            continue
        schema, table = ref.split("/")
        product = sel.registry.products.get(ref)
        keys = list(product.row_key) if product else []
        row_key = row_key_sql(keys) if keys and all(k in cols for k in keys) else None
        persons = tuple(sel.keys) if sel.kind == "erasure" and PERSON_KEY in cols else ()
        out.append(lake_delete.TableDeletion(schema, table, predicate, row_key, persons))
    by_ref = {d.ref: d.predicate for d in out}
    label_dels = labels.label_deletions(columns, sel.registry, lambda p: by_ref.get(p.ref))
    known = predictions.sources(sel.settings, sel.registry)
    pred_dels = predictions.prediction_deletions(columns, known, lambda p: by_ref.get(p.ref))
    return label_dels + pred_dels + out


def _persons_found(con: duckdb.DuckDBPyConnection, deletions: list[Any]) -> int:
    person_level = [
        d for d in deletions if d.schema not in (LABELS_SCHEMA, predictions.MODELS_SCHEMA)
    ]
    if not person_level:
        return 0
    union = " UNION ".join(
        f"SELECT person_key FROM {d.qualified} WHERE ({d.predicate})" for d in person_level
    )
    return int(con.execute(f"SELECT count(DISTINCT person_key) FROM ({union})").fetchone()[0])


def _publish_facts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """The newest publish per product (key id, run id): kept in the erasure snapshot's
    extra info, because the publish snapshots themselves are about to be expired."""
    facts: dict[str, dict[str, Any]] = {}
    for snap in lake.list_snapshots(con):
        info = snap.info
        if (ref := snap.published_ref) is not None:
            facts[ref] = {
                "snapshot_id": snap.id,
                "published_at": snap.time.isoformat(),
                "key_id": info.get("key_id"),
                "run_id": info.get("run_id"),
            }
    return facts


class LakeStore:
    """Products and labelled products, rewritten in one snapshot; older snapshots forgotten."""

    name = "lake"
    locations = ("lake",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        con = lake.connect()
        try:
            out.columns = columns = lake_delete.table_columns(con)
            deletions = _deletions(sel, columns)
            if sel.kind == "erasure":
                match.install(con, sel.keys)
                out.persons_found = _persons_found(con, deletions)
                extra: dict[str, Any] = {
                    "kind": "erasure",
                    "request_id": sel.request_id,
                    "persons": len(sel.keys),
                    "products": _publish_facts(con),
                }
                assert sel.key is not None
                also = erased_persons.add_statements(
                    sel.keys, sel.key.key_id, sel.request_id, sel.started
                )
                message = f"erasure {sel.request_id}"
            else:
                as_of = sel.as_of.isoformat() if sel.as_of else ""
                extra = {"kind": "retention", "run_id": sel.request_id, "as_of": as_of}
                also = []
                message = f"retention as of {as_of}"
            with lake.write_lock(con), step("lake_rewrite"):
                lake_delete.collect_row_keys(con, deletions)
                out.change = lake_delete.apply(
                    con, deletions, message=message, extra_info=extra, also=also
                )
            rows = con.execute(
                f"SELECT product, list(DISTINCT row_key ORDER BY row_key) FROM "
                f"temp.main.{lake_delete.ERASED_ROWS} WHERE row_key IS NOT NULL GROUP BY product"
            ).fetchall()
            sel.row_keys = {str(p): list(ks) for p, ks in rows}
            if out.change.snapshot_id is not None:
                with step("expire_snapshots"):
                    out.forgotten = lake_delete.forget_before(con, out.change.snapshot_id)
            if sel.kind == "erasure":
                out.listed = erased_persons.count(con)
            sel.catalog_file = lake_delete.catalog_file_of(con)
        finally:
            con.close()
        if out.change.snapshot_id is not None:
            with step("vacuum_catalog"):
                out.vacuum = lake_delete.vacuum_catalog(sel.catalog_file)
        sel.data_dir = lake_delete.data_folder()

    def verify(self, sel: Selection, v: Verification) -> None:
        known = predictions.sources(sel.settings, sel.registry)
        derived = {ref: (src.product.ref, src.key) for ref, src in known.items()}
        if sel.kind == "erasure":
            scan_lake_for_persons(
                v,
                sel.registry,
                sel.keys,
                sel.row_keys,
                derived,
                by_person_key_except=(*SKIP_SCHEMAS, predictions.MODELS_SCHEMA),
            )
            assert sel.key is not None
            excluded = (
                set()
                if sel.full_scan
                else files_excluded_by_statistics(
                    sel.keys, (*SKIP_SCHEMAS, predictions.MODELS_SCHEMA)
                )
            )
            scan_files(v, sel.data_dir, sel.key, sel.keys, sel.values, excluded)
            scan_catalog_tables(v, sel.key, sel.keys, sel.values)
            scan_catalog(v, sel.catalog_file, sel.keys)
        else:
            retention_lake(v, sel.registry, sel.cutoffs, sel.row_keys)
            retention_files(v, sel.registry, sel.cutoffs, sel.data_dir)


class ModelTestSetsStore:
    """Validation test sets of model cards: the row keys they drew (no person data)."""

    name = "model_test_sets"
    locations = ("models",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        gone = {k for r, ks in sel.row_keys.items() if not is_labelled_ref(r) for k in ks}
        predictions.scrub_test_sets(sel.settings, gone)

    def verify(self, sel: Selection, v: Verification) -> None:
        gone = {k for r, ks in sel.row_keys.items() if not is_labelled_ref(r) for k in ks}
        v.other_found.update(predictions.test_set_matches(sel.settings, gone))


class LabelExportsStore:
    """Training exports of labelled products: lines of removed labelled rows."""

    name = "label_exports"
    locations = ("labeling",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        out.label_exports = labels.scrub_exports(
            {r: set(ks) for r, ks in sel.row_keys.items() if is_labelled_ref(r)}
        )

    def verify(self, sel: Selection, v: Verification) -> None:
        if sel.kind == "erasure":
            scan_exports(v, sel.keys, sel.values)
        else:
            scan_exports(
                v, [], [k for r, ks in sel.row_keys.items() if is_labelled_ref(r) for k in ks]
            )


class QuarantineStore:
    """Quarantine zones: rows found by raw text, person key or record id.

    Retention leaves them: they hold raw, unparsed lines without a reliable date.
    """

    name = "quarantine"
    locations = ("quarantine",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        if sel.zones is None:
            sel.zones = quarantine.zone_files(sel.settings)
        if sel.kind == "erasure":
            assert sel.key is not None
            out.quarantine = quarantine.erase_from_quarantine(
                sel.settings, sel.keys, sel.row_keys, sel.key
            )

    def verify(self, sel: Selection, v: Verification) -> None:
        if sel.kind == "erasure":
            assert sel.key is not None
            zones = sel.zones if sel.zones is not None else quarantine.zone_files(sel.settings)
            scan_quarantine(v, zones, sel.key, sel.keys, sel.row_keys)


class WorkspacesStore:
    """Project workspaces: rows found through the project pseudonyms; rebuilt or flagged."""

    name = "workspaces"
    locations = ("research",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        if sel.kind == "erasure":
            assert sel.key is not None
            out.workspaces = process_workspaces(
                key=sel.key,
                registry=sel.registry,
                keys=sel.keys,
                values=sel.values,
                lake_rows=out.change.rows,
                request_id=sel.request_id,
            )
            return
        if not workspace_files():
            return
        days, registry = sel.cutoffs, sel.registry

        def by_date(table: FileTable, ref: str | None, slack: int) -> str | None:
            if ref not in days:
                return None
            column = registry.products[ref].retention.from_column
            cutoff = days[ref] + timedelta(days=slack)  # shifted dates: every row that may be
            return expired_sql(column, cutoff) if column in table.columns else None

        from regionlab.privacy.keys import load_key

        out.workspaces = process_workspaces(
            key=sel.key or load_key(),
            registry=registry,
            keys=[],
            values=sorted({k for r, ks in sel.row_keys.items() if r in days for k in ks}),
            lake_rows=out.change.rows,
            request_id=sel.request_id,
            extra_predicate=by_date,
        )

    def verify(self, sel: Selection, v: Verification) -> None:
        if sel.kind == "erasure":
            assert sel.key is not None
            scan_workspaces(v, sel.key, sel.keys, sel.values)
        else:
            retention_workspaces(v, sel.registry, sel.cutoffs)


class StagingStore:
    """Staging files: scratch copies of raw extracts (CPR numbers included) a run left.

    Only files no run is using: :func:`regionlab.erasure.erase.erase` holds every
    product's run lock (:func:`regionlab.wap.staging.quiesced`) while the stores run.
    """

    name = "staging"
    locations = ("staging",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        if sel.kind != "erasure":
            return
        out.staging_files = staging.remove_all(sel.settings)

    def verify(self, sel: Selection, v: Verification) -> None:
        if sel.kind == "erasure":
            v.staging_files_left = len(sel.settings.staging_files())


def _byte_matches(paths: list[Path], needles: list[str]) -> dict[str, int]:
    """Occurrences of ``needles`` in the raw bytes of each file (text stores: SQLite, JSON)."""
    if not needles:
        return {}
    pattern = re.compile("|".join(re.escape(n) for n in needles).encode())
    found: dict[str, int] = {}
    for path in paths:
        try:
            n = len(pattern.findall(path.read_bytes()))
        except OSError:
            continue
        if n:
            found[str(path)] = n
    return found


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


class LabelStudioStore:
    """Label Studio's database: tasks carry a sampled row's key and (scrubbed) text.

    Regionlab does not edit another application's database, so deletion is the
    labelling team's: the store finds the removed rows' tasks and fails the
    verification, naming the database, until they are deleted in Label Studio.
    """

    name = "labelstudio"
    locations = ("labelstudio",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        return None

    def verify(self, sel: Selection, v: Verification) -> None:
        data = sel.settings.labelstudio_dir / "data"
        databases = [p for p in _files_under(data) if p.suffix in (".sqlite3", ".db")]
        source_keys = [k for r, ks in sel.row_keys.items() if not is_labelled_ref(r) for k in ks]
        needles = [f'"row_key": "{k}"' for k in source_keys] + [
            f'"row_key":"{k}"' for k in source_keys
        ]
        for path, n in _byte_matches(databases, needles).items():
            v.other_found[f"labelstudio:{Path(path).name}"] = n
            v.notes.append(
                "Label Studio still holds tasks of removed rows: delete them in the project "
                "(the labelled product itself is already clean)"
            )


class DagsterStorageStore:
    """Dagster's run storage (event logs, run records, compute logs): counts and names only
    by design; verified by searching it for the persons' keys."""

    name = "dagster"
    locations = ("dagster",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        return None

    def verify(self, sel: Selection, v: Verification) -> None:
        homes = {sel.settings.dagster_home}
        if os.environ.get("DAGSTER_HOME"):
            homes.add(Path(os.environ["DAGSTER_HOME"]))
        files = [f for home in sorted(homes) for f in _files_under(home)]
        for path, n in _byte_matches(files, sel.keys).items():
            v.other_found[f"dagster:{Path(path).name}"] = n


class LogsStore:
    """The platform's own logs — the access service's audit store, the erasure register and
    receipts — hold cohort definitions, counts as shown, hashes and ids only; verified by
    searching them for the persons' keys. The audit store is append-only by design (an
    erasure must not break its chain), so a key found there fails the verification."""

    name = "logs"
    locations = ("erasure",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        return None

    def verify(self, sel: Selection, v: Verification) -> None:
        from regionlab.research.audit_store import open_store

        s = sel.settings
        files = [s.erasure_register, *_files_under(s.receipts_dir)]
        for path, n in _byte_matches([f for f in files if f.is_file()], sel.keys).items():
            v.other_found[f"logs:{Path(path).name}"] = n
        found = open_store().count_matches([k.encode() for k in sel.keys])
        if found:
            v.other_found["logs:audit-store"] = found


class AirlockStore:
    """Results: files submitted to or released by the airlock, and workspaces' ``outputs/``.

    A result should hold no person's key (the airlock's rules), but a checker can
    approve with a reason and members write ``outputs/`` freely. Regionlab does not
    edit a result, so the store deletes nothing and an erasure's verification names
    every file that holds one of the persons' keys, project pseudonyms (or their
    16-character prefixes) or CPR numbers (:mod:`regionlab.erasure.airlock_scan`).
    """

    name = "airlock"
    locations = ("research",)

    def delete(self, sel: Selection, out: Outcome) -> None:
        return None

    def verify(self, sel: Selection, v: Verification) -> None:
        if sel.kind != "erasure":
            return
        from regionlab.erasure.airlock_scan import scan_results

        scanned, found = scan_results(sel.settings, sel.key, sel.keys, sel.cprs)
        v.airlock_files_scanned += scanned
        for path, n in found.items():
            v.other_found[f"airlock:{path}"] = n
        if found:
            v.notes.append(
                "result files hold an erased person's key, project pseudonym or CPR number: an "
                "output checker withdraws them (refuse a queued one; recall a released one from "
                "the researcher and delete it), then verify again"
            )


#: Every store, in the order an erasure or retention run visits them.
STORES: tuple[PersonStore, ...] = (
    LakeStore(),
    LabelExportsStore(),
    ModelTestSetsStore(),
    QuarantineStore(),
    WorkspacesStore(),
    AirlockStore(),
    StagingStore(),
    LabelStudioStore(),
    DagsterStorageStore(),
    LogsStore(),
)


def delete_everywhere(sel: Selection, stores: tuple[PersonStore, ...] = STORES) -> Outcome:
    out = Outcome()
    for store in stores:
        with step(store.name):
            store.delete(sel, out)
    return out


def verify_everywhere(sel: Selection, stores: tuple[PersonStore, ...] = STORES) -> Verification:
    v = Verification()
    with step("verify"):
        for store in stores:
            with step(f"verify.{store.name}"):
                store.verify(sel, v)
    return v.settle()


def execute(sel: Selection) -> tuple[Outcome, Verification]:
    """Delete what ``sel`` selects from every store, then verify every store."""
    out = delete_everywhere(sel)
    return out, verify_everywhere(sel)


__all__ = [
    "STORES",
    "Outcome",
    "PersonStore",
    "Selection",
    "execute",
    "parquet_files",
]
