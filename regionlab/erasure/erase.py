"""Erase persons everywhere: lake products, labelled products, quarantine, workspaces.

Order of one request (:func:`erase`):

1. resolve CPR numbers to person keys (the CPR numbers are not used after this);
2. under the lake's write lock, read the row keys of the rows about to go,
   then in ONE transaction rewrite every table that holds the persons
   (source and derived products, labelled products) and add their digests
   to the suppression list: one snapshot;
3. expire every older snapshot and delete the files only they held
   (orphans included), then vacuum a SQLite catalogue;
4. remove the persons' rows from the quarantine zones, the labelling
   training exports and project workspaces (rewriting those files), and
   delete the pipelines' staging files (scratch copies of raw extracts);
5. verify by scanning everything left, decoded (:mod:`.verify`);
6. write the receipt and append to the erasure register.

Do not run an erasure while pipelines run: a derived product computed from
the lake before step 2 and published after it would bring rows back (the
verification would then fail, and the erasure must be repeated).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from regionlab import lake
from regionlab.erasure import erased_persons, labels, lake_delete, match, quarantine, register
from regionlab.erasure.receipt import Receipt, Removed, WorkspaceTouch, receipt_path, write_receipt
from regionlab.erasure.requests import ErasureRequest
from regionlab.erasure.resolve import key_set_digest, person_keys
from regionlab.erasure.verify import staging_files, verify_erasure
from regionlab.erasure.workspaces import process_workspaces
from regionlab.errors import UserError
from regionlab.platform.names import LABELS_SCHEMA
from regionlab.platform.tables import SCHEMA as PLATFORM_SCHEMA
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.settings import Settings, get_settings
from regionlab.spec import Registry, load_domains
from regionlab.sql import row_key_sql

PERSON_KEY = "person_key"
SKIP_SCHEMAS = (PLATFORM_SCHEMA, LABELS_SCHEMA)


def _person_deletions(
    columns: dict[str, dict[str, str]], registry: Registry
) -> list[lake_delete.TableDeletion]:
    predicate = f"person_key IN (SELECT k FROM temp.main.{match.KEYS})"
    out = []
    for ref, cols in columns.items():
        schema, table = ref.split("/")
        if schema in SKIP_SCHEMAS or PERSON_KEY not in cols:
            continue
        product = registry.products.get(ref)
        keys = list(product.row_key) if product else []
        row_key = row_key_sql(keys) if keys and all(k in cols for k in keys) else None
        out.append(lake_delete.TableDeletion(schema, table, predicate, row_key))
    return out


def _persons_found(con: duckdb.DuckDBPyConnection, deletions: list) -> int:
    if not deletions:
        return 0
    union = " UNION ".join(
        f"SELECT person_key FROM {d.qualified} WHERE ({d.predicate}) IS TRUE" for d in deletions
    )
    return int(con.execute(f"SELECT count(DISTINCT person_key) FROM ({union})").fetchone()[0])


def _publish_facts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """The newest publish per product (key id, run id): kept in the erasure snapshot's
    extra info, because the publish snapshots themselves are about to be expired."""
    facts: dict[str, dict[str, Any]] = {}
    for snap in lake.list_snapshots(con):
        info = snap.info
        if "domain" in info and "product" in info:
            facts[f"{info['domain']}/{info['product']}"] = {
                "snapshot_id": snap.id,
                "published_at": snap.time.isoformat(),
                "key_id": info.get("key_id"),
                "run_id": info.get("run_id"),
            }
    return facts


def _row_keys(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        f"SELECT product, list(DISTINCT row_key ORDER BY row_key) FROM "
        f"temp.main.{lake_delete.ERASED_ROWS} WHERE row_key IS NOT NULL GROUP BY product"
    ).fetchall()
    return {str(p): list(ks) for p, ks in rows}


def remove_staging(settings: Settings) -> int:
    """Staging files are scratch copies of raw extracts (CPR numbers included)."""
    files = staging_files(settings.staging_dir)
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def erase(
    request: ErasureRequest,
    *,
    key: PseudonymKey | None = None,
    registry: Registry | None = None,
) -> Receipt:
    """Carry out one erasure request; returns the receipt (also written and registered)."""
    started = datetime.now(UTC)
    previous = receipt_path(request.request_id)
    if previous.is_file() and '"passed": true' in previous.read_text(encoding="utf-8"):
        raise UserError(
            f"request {request.request_id} was already carried out and verified (receipt "
            f"{previous}); use a new request id for a new request"
        )
    settings = get_settings()
    key = key or load_key()
    keys = person_keys(request.cprs, key)
    registry = registry or load_domains()

    con = lake.connect()
    try:
        columns = lake_delete.table_columns(con)
        persons = _person_deletions(columns, registry)
        person_refs = {d.ref for d in persons}
        label_dels = labels.label_deletions(
            columns,
            registry,
            lambda p: persons[0].predicate if p.ref in person_refs else None,
        )
        deletions = label_dels + persons  # labels first: they read the source rows
        match.install(con, keys)
        found = _persons_found(con, persons)
        extra = {
            "kind": "erasure",
            "request_id": request.request_id,
            "persons": len(keys),
            "products": _publish_facts(con),
        }
        with lake.write_lock(con):
            lake_delete.collect_row_keys(con, deletions)
            change = lake_delete.apply(
                con,
                deletions,
                message=f"erasure {request.request_id}",
                extra_info=extra,
                also=erased_persons.add_statements(keys, key.key_id, request.request_id, started),
            )
        row_keys = _row_keys(con)
        exports = labels.scrub_exports(con)
        assert change.snapshot_id is not None
        forgotten = lake_delete.forget_before(con, change.snapshot_id)
        listed = erased_persons.count(con)
        catalog_file = lake_delete.catalog_file_of(con)
    finally:
        con.close()
    vacuum = lake_delete.vacuum_catalog(catalog_file)

    zones = quarantine.zone_files(settings)
    q_removed = quarantine.erase_from_quarantine(settings, keys, row_keys, key)
    all_row_keys = sorted({k for ks in row_keys.values() for k in ks})
    ws = process_workspaces(
        key=key,
        registry=registry,
        keys=keys,
        values=all_row_keys,
        lake_rows=change.rows,
        request_id=request.request_id,
    )
    staging = remove_staging(settings)

    verification = verify_erasure(
        registry=registry,
        key=key,
        keys=keys,
        row_keys=row_keys,
        data_dir=lake_delete.data_folder(),
        zones=zones,
        staging_dir=settings.staging_dir,
        catalog_file=catalog_file,
    )
    pending = sorted(p for p, w in ws.items() if w.flagged)
    if pending:
        # The scan cannot see rows it cannot identify: a workspace that could not be
        # rebuilt may still hold the persons, so the request is not verified.
        verification.notes.append(f"workspaces not rebuilt, may hold rows: {', '.join(pending)}")
        verification.passed = False
    receipt = Receipt(
        kind="erasure",
        request_id=request.request_id,
        reason=request.reason,
        started_at=started,
        finished_at=datetime.now(UTC),
        persons=len(keys),
        persons_found=found,
        key_id=key.key_id,
        key_set_digest=key_set_digest(keys),
        suppression_list_size=listed,
        removed=Removed(
            lake={r: n for r, n in change.rows.items() if not r.startswith("labels/")},
            labelled={r: n for r, n in change.rows.items() if r.startswith("labels/")},
            quarantine=q_removed,
            label_exports=exports,
            workspaces=[
                WorkspaceTouch(project_id=p, rows=w.rows, rebuilt=w.rebuilt, pending=w.flagged)
                for p, w in ws.items()
            ],
            staging_files=staging,
        ),
        lake_snapshot=change.snapshot_id,
        snapshots_expired=forgotten.snapshots_expired,
        files_deleted=forgotten.files_deleted,
        catalog_vacuum=vacuum,
        not_person_level=sorted(
            ref
            for ref in columns
            if ref in registry.products
            and registry.products[ref].is_derived
            and PERSON_KEY not in columns[ref]
        ),
        verification=verification,
    )
    path, sha = write_receipt(receipt)
    register.append(register.entry_of(receipt, path, sha))
    return receipt
