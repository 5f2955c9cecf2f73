"""Retention: delete rows older than each product's period, the same way as an erasure.

A product's spec says ``retention: {years, from_column}``. On ``as_of`` the
cutoff is the same calendar day ``years`` earlier (29 February → 28
February); a row is past retention when its ``from_column`` falls on a day
*before* the cutoff. A row dated exactly on the cutoff day is kept (it turns
``years`` old that day and goes on the next run). A row whose
``from_column`` is NULL is kept: its age is unknown (e.g. ``death_month``
of a living person), and deleting unknowns would delete the living.

Rows go from every person store (:mod:`regionlab.erasure.stores`), as in an
erasure but selected by date: the lake (one snapshot for all products; older
snapshots are expired and their files deleted), labelled products of those
rows, training exports and workspaces (by the date where the workspace has
the column, else by row key). Quarantine zones are not touched here: they
hold raw, unparsed lines without a reliable date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from regionlab import lake
from regionlab.erasure import lake_delete, register
from regionlab.erasure.receipt import Receipt, Removed, WorkspaceTouch, write_receipt
from regionlab.erasure.stores import Selection, execute
from regionlab.platform.names import is_labelled_ref
from regionlab.privacy.keys import PseudonymKey
from regionlab.settings import get_settings
from regionlab.spec import Registry, load_domains


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
    con = lake.connect(read_only=True)
    try:
        columns = lake_delete.table_columns(con)
    finally:
        con.close()
    selection = Selection(
        kind="retention",
        request_id=run_id,
        registry=registry,
        settings=get_settings(),
        key=key,
        started=started,
        cutoffs=cutoffs(registry, columns, as_of),
        as_of=as_of,
    )
    out, verification = execute(selection)
    change = out.change
    receipt = Receipt(
        kind="retention",
        request_id=run_id,
        reason="retention periods from the product specs",
        started_at=started,
        finished_at=datetime.now(UTC),
        as_of=as_of,
        retention_cutoffs=selection.cutoffs,
        removed=Removed(
            lake={r: n for r, n in change.rows.items() if not is_labelled_ref(r)},
            labelled={r: n for r, n in change.rows.items() if is_labelled_ref(r)},
            label_exports=out.label_exports,
            workspaces=[
                WorkspaceTouch(project_id=p, rows=w.rows, rebuilt=w.rebuilt, pending=w.flagged)
                for p, w in out.workspaces.items()
            ],
        ),
        lake_snapshot=change.snapshot_id,
        snapshots_expired=out.forgotten.snapshots_expired,
        files_deleted=out.forgotten.files_deleted,
        catalog_vacuum=out.vacuum,
        verification=verification,
    )
    path, sha = write_receipt(receipt)
    register.append(register.entry_of(receipt, path, sha))
    return receipt
