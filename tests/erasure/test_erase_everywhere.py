"""Erase one person present everywhere, on a region built by the real pipelines.

The checks here are independent of regionlab.erasure.verify: the data files
are decoded with tests.leakscan, DuckDB files are read whole,
quarantine rows are matched with Python regular expressions, and every lake
table is compared row by row (order-independent checksums) before and after.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from regionlab import lake
from regionlab.erasure import erase, make_request
from regionlab.erasure.duckdb_files import open_file
from regionlab.erasure.verify import verify_erasure
from regionlab.errors import UserError
from regionlab.privacy.identifiers import CPR, PERSON_KEY, cprs_in_text, normalise_cpr
from regionlab.privacy.keys import load_key
from regionlab.privacy.pseudonym import hmac_hex, person_key
from regionlab.research.permits import register_permit
from regionlab.research.workspace import build_workspace, project_key, workspace_path
from regionlab.research.workspace_crypto import key_for_file
from regionlab.settings import Settings
from regionlab.spec import load_domains
from regionlab.sql import quote_ident
from regionlab.wap.engine import run_derived_product, run_source_product
from tests.erasure.stores_check import assert_every_writer_has_a_store
from tests.leakscan import parquet_text

REGISTRY = load_domains()
LABELS = "clinical_notes__notes__entities"
PROJECT = "t2d-erasure"


def build_all(settings: Settings, *, full_refresh: bool = False) -> None:
    for product in REGISTRY.batch_order():
        run = (
            run_derived_product(product, settings)
            if product.is_derived
            else run_source_product(product, settings, full_refresh=full_refresh)
        )
        assert run.status in ("published", "up_to_date"), (product.ref, run.blocking_failures)


def cprs_by_key(settings: Settings) -> dict[str, str]:
    key = load_key()
    out = {}
    for path in sorted((settings.sources_dir / "cpr" / "persons").glob("*.csv")):
        frame = pl.read_csv(path, infer_schema_length=0, truncate_ragged_lines=True,
                            ignore_errors=True)  # fmt: skip
        for cpr in frame["cpr"].drop_nulls().to_list():
            with contextlib.suppress(ValueError):
                out[person_key(cpr, key)] = cpr
    return out


class CprFinder:
    """One person's CPR number written with any separator (the shapes come from their owner)."""

    def __init__(self, cpr: str) -> None:
        self.normalised = normalise_cpr(cpr)

    def search(self, text: str) -> bool:
        return self.normalised in cprs_in_text(text)


def cpr_pattern(cpr: str) -> CprFinder:
    return CprFinder(cpr)


def zone_rows(settings: Settings) -> dict[str, list[dict]]:
    out = {}
    for path in sorted(settings.quarantine_dir.glob("*.duckdb")):
        con = duckdb.connect(str(path), read_only=True)
        out[path.name] = con.execute("SELECT * FROM quarantine").pl().to_dicts()
        con.close()
    return out


def is_persons_quarantine_row(row: dict, pattern, pkey: str, row_keys: set[str]) -> bool:
    text = " ".join(str(row.get(c) or "") for c in ("raw", "detail", "record_id"))
    return bool(pattern.search(text)) or pkey in text or (row.get("record_id") in row_keys)


def table_refs(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT schema_name || '/' || table_name, list(column_name) FROM duckdb_columns() "
        "WHERE database_name = 'lake' GROUP BY 1"
    ).fetchall()
    return {r: cols for r, cols in rows}


def not_person_sql(ref: str, cols: list[str], note_ids: list[str]) -> tuple[str, list]:
    if "person_key" in cols:
        return "person_key IS DISTINCT FROM ?", ["PK"]
    if ref.startswith("labels/"):
        return "row_key NOT IN (SELECT unnest(?::VARCHAR[]))", [note_ids]
    return "true", []


def checksums(pkey: str, note_ids: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per table: (all rows, rows of everyone else, checksum of everyone else's rows)."""
    con = lake.connect(read_only=True)
    out = {}
    for ref, cols in table_refs(con).items():
        schema, table = ref.split("/")
        where, params = not_person_sql(ref, cols, note_ids)
        params = [pkey if p == "PK" else p for p in params]
        t = f"lake.{quote_ident(schema)}.{quote_ident(table)}"
        total = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        others, digest = con.execute(
            f"SELECT count(*), coalesce(sum(hash(x)::HUGEINT), 0) FROM {t} x WHERE {where}",
            params,
        ).fetchone()
        out[ref] = (total, others, int(digest))
    con.close()
    return out


def person_row_keys(pkey: str) -> dict[str, set[str]]:
    con = lake.connect(read_only=True)
    out = {}
    for ref, cols in table_refs(con).items():
        product = REGISTRY.products.get(ref)
        if product is None or "person_key" not in cols or len(product.row_key) != 1:
            continue
        rows = con.execute(
            f"SELECT CAST({quote_ident(product.row_key[0])} AS VARCHAR) FROM lake.{product.table} "
            "WHERE person_key = ?",
            [pkey],
        ).fetchall()
        if rows:
            out[ref] = {r[0] for r in rows}
    con.close()
    return out


def open_any(path: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB file, with its key when it is an (encrypted) workspace."""
    return open_file(path, key_for_file(path), read_only=True)


def workspace_counts(project: str) -> dict[str, int]:
    con = open_any(workspace_path(project))
    rows = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database()"
    ).fetchall()
    out = {r[0]: con.execute(f"SELECT count(*) FROM {r[0]}").fetchone()[0] for r in rows}
    con.close()
    return out


def duckdb_file_text(path: Path) -> str:
    con = open_any(path)
    parts = []
    for (name,) in con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database()"
    ).fetchall():
        frame = con.execute(f"SELECT * FROM {name}").pl()
        for column in frame.columns:
            parts += frame[column].cast(pl.Utf8, strict=False).drop_nulls().to_list()
    con.close()
    return "\n".join(parts)


def publish_labels(note_ids: list[str], other_ids: list[str], settings: Settings) -> None:
    rows = [(k, "span", "DIAGNOSE") for k in note_ids + other_ids] + [
        (k, "choice", "stabil") for k in note_ids
    ]
    frame = pl.DataFrame(rows, schema=["row_key", "kind", "label"], orient="row")
    con = lake.connect()
    lake.publish(con, "labels", LABELS, con.from_arrow(frame.to_arrow()))
    con.close()
    export = settings.var_dir / "labeling" / "exports" / f"{LABELS}.jsonl"
    export.parent.mkdir(parents=True)
    export.write_text(
        "".join(json.dumps({"row_key": k, "text": "tekst", "labels": []}) + "\n"
                for k in note_ids + other_ids),
        encoding="utf-8",
    )  # fmt: skip


def build_project_workspace(tmp_path: Path) -> None:
    permit = {
        "project_id": PROJECT,
        "title": "Erasure test project",
        "applicant": {"name": "Karen Forsker", "email": "karen@example.org"},
        "organisation": "Testuniversitetet",
        "purpose": "Testing erasure in workspaces.",
        "legal_basis": "GDPR art. 6(1)(e), 9(2)(j)",
        "products": [
            {"product": "population/persons", "columns": ["person_key", "age_band", "sex"]},
            {"product": "clinical_notes/notes", "columns": ["person_key", "note_id", "note_type"]},
            {"product": "laboratory/lab_results", "columns": ["person_key", "npu_code", "value"]},
            # no person key, no row key: rows cannot be found, the workspace is rebuilt
            {"product": "medication/prescriptions", "columns": ["atc_code", "start_date"]},
        ],
        "cohort": {
            "name": "t2d_all",
            "index_date": "2026-11-01",
            "include": [{"kind": "diagnosis", "codes": ["DE11"]}],
        },
        "expires": (date.today() + timedelta(days=365)).isoformat(),
    }
    path = tmp_path / f"{PROJECT}.yaml"
    path.write_text(yaml.safe_dump(permit), encoding="utf-8")
    register_permit(path)
    build_workspace(PROJECT)


def pick_person(settings: Settings, cprs: dict[str, str]) -> str:
    """A person with a T2D diagnosis, notes, labs and prescriptions, alive, in quarantine."""
    con = lake.connect(read_only=True)
    candidates = [
        r[0]
        for r in con.execute(
            """SELECT person_key FROM lake.research.t2d_cohort
            WHERE person_key IN (SELECT person_key FROM lake.clinical_notes.notes)
              AND person_key IN (SELECT person_key FROM lake.medication.prescriptions)
              AND person_key IN (SELECT person_key FROM lake.population.persons
                                 WHERE death_month IS NULL)
            ORDER BY person_key"""
        ).fetchall()
    ]
    con.close()
    zones = zone_rows(settings)
    for pkey in candidates:
        pattern = cpr_pattern(cprs[pkey])
        if any(pattern.search(r["raw"] or "") for rows in zones.values() for r in rows):
            return pkey
    raise AssertionError("no candidate person in quarantine")


@pytest.mark.slow
def test_erase_a_person_everywhere(platform: Settings, tmp_path: Path) -> None:
    build_all(platform)
    cprs = cprs_by_key(platform)
    pkey = pick_person(platform, cprs)
    cpr = cprs[pkey]
    pattern = cpr_pattern(cpr)
    row_keys = person_row_keys(pkey)
    note_ids = sorted(row_keys["clinical_notes/notes"])
    con = lake.connect(read_only=True)
    other_notes = [
        r[0]
        for r in con.execute(
            "SELECT note_id FROM lake.clinical_notes.notes WHERE person_key <> ? "
            "ORDER BY note_id LIMIT 20",
            [pkey],
        ).fetchall()
    ]
    con.close()
    publish_labels(note_ids, other_notes, platform)
    build_project_workspace(tmp_path)
    pseudonym = hmac_hex(project_key(PROJECT), pkey)
    ws_before = workspace_counts(PROJECT)
    assert pseudonym in duckdb_file_text(workspace_path(PROJECT))

    before = checksums(pkey, note_ids)
    zones_before = zone_rows(platform)
    all_keys = {k for ks in row_keys.values() for k in ks}
    persons_q = {
        name: sum(is_persons_quarantine_row(r, pattern, pkey, all_keys) for r in rows)
        for name, rows in zones_before.items()
    }
    assert sum(persons_q.values()) > 0
    con = lake.connect(read_only=True)
    old_snapshots = [s.id for s in lake.list_snapshots(con)]
    con.close()

    # The scanner can fail: before the erasure it finds the person everywhere.
    control = verify_erasure(
        registry=REGISTRY,
        key=load_key(),
        keys=[pkey],
        row_keys={k: sorted(v) for k, v in row_keys.items()} | {f"labels/{LABELS}": note_ids},
        data_dir=platform.lake_dir / "data",
        zones=sorted(platform.quarantine_dir.glob("*.duckdb")),
        staging_dir=platform.staging_dir,
        catalog_file=str(platform.lake_dir / "catalog.sqlite"),
    )
    assert not control.passed
    assert control.lake_rows_found and control.data_file_rows_found
    assert control.quarantine_rows_found and control.workspace_rows_found
    assert control.label_export_lines_found

    receipt = erase(make_request("R-1", "indsigelse", [cpr]))

    # --- the receipt is complete -------------------------------------------------
    assert receipt.verification.passed, receipt.verification
    assert (receipt.persons, receipt.persons_found) == (1, 1)
    expected_lake = {
        ref: before[ref][0] - before[ref][1]
        for ref in before
        if not ref.startswith(("labels/", "_regionlab/")) and before[ref][0] != before[ref][1]
    }
    assert receipt.removed.lake == expected_lake
    assert {"population/persons", "research/t2d_cohort", "clinical_notes/notes"} <= set(
        expected_lake
    )
    assert receipt.removed.labelled == {f"labels/{LABELS}": 2 * len(note_ids)}
    assert receipt.removed.label_exports == {f"{LABELS}.jsonl": len(note_ids)}
    assert sum(receipt.removed.quarantine.values()) == sum(persons_q.values())
    [ws] = receipt.removed.workspaces
    assert ws.project_id == PROJECT and ws.rebuilt and ws.pending is None
    assert receipt.snapshots_expired == old_snapshots
    assert receipt.files_deleted > 0
    v = receipt.verification
    files_on_disk = sorted((platform.lake_dir / "data").rglob("*.parquet"))
    # Every file on disk is decoded or excluded by its person-key statistics (the small
    # region's products are one file each, so most hold the person and are decoded).
    assert v.data_files_scanned + v.data_files_excluded_by_statistics == len(files_on_disk)
    assert v.data_files_scanned > 0
    assert v.quarantine_files_scanned == len(zones_before)
    assert v.workspace_files_scanned == 1 and v.catalog_scanned
    text = (platform.var_dir / "erasure" / "receipts" / "R-1.json").read_text()
    register = (platform.var_dir / "erasure" / "register.jsonl").read_text()
    for document in (text, register):
        assert not pattern.search(document) and pkey not in document and pseudonym not in document
        assert '"R-1"' in document
        # nothing CPR-shaped at all once hex digests are set aside
        assert not CPR.contains(PERSON_KEY.compiled.sub("", document))

    # --- nobody else was touched -------------------------------------------------
    after = checksums(pkey, note_ids)
    for ref, (_total, others, digest) in before.items():
        assert after[ref][1:] == (others, digest), ref
        assert after[ref][0] == others, ref  # the person's rows are gone, no one else's
    assert after["_regionlab/suppression_list"][0] == 1
    zones_after = zone_rows(platform)
    for name, rows in zones_before.items():
        kept = [r for r in rows if not is_persons_quarantine_row(r, pattern, pkey, all_keys)]
        assert zones_after[name] == kept, name
    ws_after = workspace_counts(PROJECT)
    con = lake.connect(read_only=True)
    gone = {
        "population.persons": 1,
        "clinical_notes.notes": len(note_ids),
        "laboratory.lab_results": len(row_keys["laboratory/lab_results"]),
        "medication.prescriptions": len(row_keys["medication/prescriptions"]),
    }
    con.close()
    assert {t: ws_before[t] - n for t, n in gone.items()} == ws_after

    # --- zero rows anywhere, decoded ----------------------------------------------
    decoded = parquet_text(files_on_disk)
    assert pkey not in decoded and not pattern.search(decoded)
    assert not set(decoded.splitlines()) & all_keys
    for zone in sorted(platform.quarantine_dir.glob("*.duckdb")):
        text = duckdb_file_text(zone)
        assert not pattern.search(text) and pkey not in text, zone.name
    ws_text = duckdb_file_text(workspace_path(PROJECT))
    assert pseudonym not in ws_text and pkey not in ws_text
    catalog = (platform.lake_dir / "catalog.sqlite").read_bytes()
    assert pkey.encode() not in catalog
    export = (platform.var_dir / "labeling" / "exports" / f"{LABELS}.jsonl").read_text()
    assert not set(note_ids) & {json.loads(x)["row_key"] for x in export.splitlines()}
    assert len(export.splitlines()) == len(other_notes)
    con = lake.connect(read_only=True)
    remaining = [s.id for s in lake.list_snapshots(con)]
    con.close()
    assert remaining and min(remaining) == receipt.lake_snapshot
    for snap in remaining:  # every snapshot still readable
        pinned = lake.connect(snapshot=snap)
        for ref, cols in table_refs(pinned).items():
            if "person_key" in cols:
                schema, table = ref.split("/")
                n = pinned.execute(
                    f"SELECT count(*) FROM lake.{schema}.{table} WHERE person_key = ?", [pkey]
                ).fetchone()[0]
                assert n == 0, (snap, ref)
        pinned.close()
    with pytest.raises(UserError, match="no snapshot"):
        lake.connect(snapshot=old_snapshots[-1])

    # --- re-loading the original extracts does not bring the person back -----------
    build_all(platform, full_refresh=True)
    con = lake.connect(read_only=True)
    for ref, cols in table_refs(con).items():
        if "person_key" in cols:
            schema, table = ref.split("/")
            n = con.execute(
                f"SELECT count(*) FROM lake.{schema}.{table} WHERE person_key = ?", [pkey]
            ).fetchone()[0]
            assert n == 0, ref
    con.close()
    decoded = parquet_text(sorted((platform.lake_dir / "data").rglob("*.parquet")))
    assert pkey not in decoded
    erased = 0
    for zone in sorted(platform.quarantine_dir.glob("*.duckdb")):
        text = duckdb_file_text(zone)
        assert not pattern.search(text) and pkey not in text, zone.name
        q = duckdb.connect(str(zone), read_only=True)
        erased += q.execute(
            "SELECT count(*) FROM quarantine WHERE reason = 'erased_person'"
        ).fetchone()[0]
        q.close()
    person_rows = sum(len(v) for k, v in row_keys.items() if k in expected_lake)
    assert erased >= person_rows - len(row_keys.get("research/readmissions_30d", ()))

    # --- every place this platform wrote to has an erasure store ------------------
    assert_every_writer_has_a_store(platform.var_dir)
