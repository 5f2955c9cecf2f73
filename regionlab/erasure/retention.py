"""Retention: delete rows older than each product's period, the same way as an erasure.

A product's spec says ``retention: {years, from_column}``. On ``as_of`` the
cutoff is the same calendar day ``years`` earlier (29 February → 28
February); a row is past retention when its ``from_column`` falls on a day
*before* the cutoff. A row dated exactly on the cutoff day is kept (it turns
``years`` old that day and goes on the next run). A row whose
``from_column`` is NULL is kept: its age is unknown (e.g. ``death_month``
of a living person), and deleting unknowns would delete the living.

Rows go from the lake (one snapshot for all products; older snapshots are
expired and their files deleted), from labelled products of those rows,
from training exports and from workspaces (by the date where the workspace
has the column, else by row key). Quarantine zones are not touched here:
they hold raw, unparsed lines without a reliable date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from regionlab import lake
from regionlab.erasure import labels, lake_delete, register
from regionlab.erasure.duckdb_files import FileTable
from regionlab.erasure.receipt import Receipt, Removed, WorkspaceTouch, write_receipt
from regionlab.erasure.verify import expired_sql, verify_retention
from regionlab.erasure.workspaces import process_workspaces, workspace_files
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.spec import Product, Registry, load_domains
from regionlab.sql import row_key_sql


def cutoff(as_of: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February → 28 February)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return as_of.replace(year=as_of.year - years, day=28)


def cutoffs(registry: Registry, columns: dict[str, dict[str, str]], as_of: date) -> dict[str, date]:
    """Products in the lake whose retention column is present → their cutoff day."""
    out = {}
    for ref, product in registry.products.items():
        if product.retention.from_column in columns.get(ref, {}):
            out[ref] = cutoff(as_of, product.retention.years)
    return out


def _deletion(product: Product, cols: dict[str, str], day: date) -> lake_delete.TableDeletion:
    keys = list(product.row_key)
    row_key = row_key_sql(keys) if all(k in cols for k in keys) else None
    return lake_delete.TableDeletion(
        product.domain,
        product.id,
        expired_sql(product.retention.from_column, day),
        row_key,
    )


def apply_retention(
    as_of: date | None = None,
    *,
    registry: Registry | None = None,
    key: PseudonymKey | None = None,
) -> Receipt:
    """Enforce every product's retention period as of ``as_of`` (default today)."""
    started = datetime.now(UTC)
    as_of = as_of or started.date()
    registry = registry or load_domains()
    run_id = f"retention-{as_of.isoformat()}-{started.strftime('%Y%m%dT%H%M%S%f')}"

    con = lake.connect()
    try:
        columns = lake_delete.table_columns(con)
        days = cutoffs(registry, columns, as_of)
        products = [_deletion(registry.products[r], columns[r], d) for r, d in days.items()]
        label_dels = labels.label_deletions(
            columns,
            registry,
            lambda p: expired_sql(p.retention.from_column, days[p.ref]) if p.ref in days else None,
        )
        deletions = label_dels + products
        with lake.write_lock(con):
            lake_delete.collect_row_keys(con, deletions)
            change = lake_delete.apply(
                con,
                deletions,
                message=f"retention as of {as_of.isoformat()}",
                extra_info={"kind": "retention", "run_id": run_id, "as_of": as_of.isoformat()},
            )
        rows = con.execute(
            f"SELECT product, list(DISTINCT row_key) FROM temp.main.{lake_delete.ERASED_ROWS} "
            "WHERE row_key IS NOT NULL GROUP BY product"
        ).fetchall()
        row_keys = {str(p): list(ks) for p, ks in rows}
        exports = labels.scrub_exports(con)
        forgotten = lake_delete.Forgotten()
        if change.snapshot_id is not None:
            forgotten = lake_delete.forget_before(con, change.snapshot_id)
        catalog_file = lake_delete.catalog_file_of(con)
    finally:
        con.close()
    vacuum = lake_delete.vacuum_catalog(catalog_file) if change.snapshot_id else "not needed"

    ws = {}
    if workspace_files():

        def by_date(table: FileTable, ref: str | None) -> str | None:
            if ref not in days:
                return None
            column = registry.products[ref].retention.from_column
            return expired_sql(column, days[ref]) if column in table.columns else None

        ws = process_workspaces(
            key=key or load_key(),
            registry=registry,
            keys=[],
            values=sorted({k for r, ks in row_keys.items() if r in days for k in ks}),
            lake_rows=change.rows,
            request_id=run_id,
            extra_predicate=by_date,
        )

    verification = verify_retention(
        registry=registry,
        cutoffs=days,
        data_dir=lake_delete.data_folder(),
        removed_row_keys=row_keys,
    )
    receipt = Receipt(
        kind="retention",
        request_id=run_id,
        reason="retention periods from the product specs",
        started_at=started,
        finished_at=datetime.now(UTC),
        as_of=as_of,
        retention_cutoffs=days,
        removed=Removed(
            lake={r: n for r, n in change.rows.items() if not r.startswith("labels/")},
            labelled={r: n for r, n in change.rows.items() if r.startswith("labels/")},
            label_exports=exports,
            workspaces=[
                WorkspaceTouch(project_id=p, rows=w.rows, rebuilt=w.rebuilt, pending=w.flagged)
                for p, w in ws.items()
            ],
        ),
        lake_snapshot=change.snapshot_id,
        snapshots_expired=forgotten.snapshots_expired,
        files_deleted=forgotten.files_deleted,
        catalog_vacuum=vacuum,
        verification=verification,
    )
    path, sha = write_receipt(receipt)
    register.append(register.entry_of(receipt, path, sha))
    return receipt
