"""Erase persons everywhere: every person store of :mod:`regionlab.erasure.stores`.

Order of one request (:func:`erase`), the stores' order:

1. resolve CPR numbers to person keys (the CPR numbers are not used after this);
2. under the lake's write lock, read the row keys of the rows about to go,
   then in ONE transaction rewrite the files that hold the persons (or whole
   tables, :mod:`.lake_delete`)
   (source and derived products, labelled products) and add their digests
   to the suppression list: one snapshot;
3. expire every older snapshot and delete the files only they held
   (orphans included), then vacuum a SQLite catalogue;
4. remove the persons' rows from the quarantine zones, the labelling
   training exports and project workspaces (rewriting those files), and
   delete the pipelines' staging files (scratch copies of raw extracts);
5. verify by scanning every store, decoded (:mod:`.verify`: the lake's data files
   whose person-key statistics may hold the persons, every other file on disk, the
   catalogue), including
   Label Studio's database, Dagster's run storage and the platform's logs;
6. write the receipt and append to the erasure register.

Steps 2 to 5 run holding every product's run lock (:func:`regionlab.wap.staging.quiesced`):
the erasure first waits (bounded) for in-flight runs to finish, and a run
that starts meanwhile waits for the erasure. So no run's staging file is
deleted under it, and no run that staged or computed rows before step 2
publishes them after it; the run that follows reads the updated suppression
list and leaves the erased persons out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from regionlab.erasure import register
from regionlab.erasure.receipt import Receipt, Removed, WorkspaceTouch, receipt_path, write_receipt
from regionlab.erasure.requests import ErasureRequest
from regionlab.erasure.resolve import key_set_digest, person_keys
from regionlab.erasure.stores import PERSON_KEY, Selection, execute
from regionlab.erasure.stream_queues import drain_stream_queues
from regionlab.errors import UserError
from regionlab.platform.names import is_labelled_ref
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.settings import get_settings
from regionlab.spec import Registry, load_domains
from regionlab.wap.staging import QUIESCE_WAIT, quiesced


def _check_lake_key(key: PseudonymKey) -> None:
    """Another key would compute person keys that match nothing: the erasure would remove
    no one and still look done. Refuse it, as ingest does."""
    from regionlab import lake
    from regionlab.platform.lake_key import check_key

    con = lake.connect()
    try:
        check_key(con, key.key_id)
    finally:
        con.close()


def erase(
    request: ErasureRequest,
    *,
    key: PseudonymKey | None = None,
    registry: Registry | None = None,
    wait: float = QUIESCE_WAIT,
    stream_queues: Mapping[str, str] | None = None,
    full_scan: bool = False,
) -> Receipt:
    """Carry out one erasure request; returns the receipt (also written and registered).

    ``wait``: seconds to wait for in-flight pipeline runs before giving up (nothing erased).
    ``stream_queues``: product ref → broker queue, where a streaming product's queue is not
    its topic (tests use private queues).
    ``full_scan``: decode every data file in the verification, not only those the
    person-key statistics do not exclude (:mod:`regionlab.erasure.verify`).
    """
    started = datetime.now(UTC)
    previous = receipt_path(request.request_id)
    if previous.is_file() and '"passed": true' in previous.read_text(encoding="utf-8"):
        raise UserError(
            f"request {request.request_id} was already carried out and verified (receipt "
            f"{previous}); use a new request id for a new request"
        )
    key = key or load_key()
    _check_lake_key(key)
    registry = registry or load_domains()
    settings = get_settings()
    selection = Selection(
        kind="erasure",
        request_id=request.request_id,
        registry=registry,
        settings=settings,
        key=key,
        started=started,
        keys=person_keys(request.cprs, key),
        cprs=list(request.cprs),
        full_scan=full_scan,
    )
    products = [(p.domain, p.id) for p in registry.products.values()]
    with quiesced(settings, products, wait=wait):
        out, verification = execute(selection)
    # After the suppression list committed and outside the products' locks (the consumer
    # takes its product's lock per micro-batch): the persons' messages still in the broker.
    drained = drain_stream_queues(registry, settings, key, stream_queues)
    if drained.notes:
        verification.notes += drained.notes
        verification.passed = False
    pending = sorted(p for p, w in out.workspaces.items() if w.flagged)
    if pending:
        # The scan cannot see rows it cannot identify: a workspace that could not be
        # rebuilt may still hold the persons, so the request is not verified.
        verification.notes.append(f"workspaces not rebuilt, may hold rows: {', '.join(pending)}")
        verification.passed = False
    change, columns = out.change, out.columns
    receipt = Receipt(
        kind="erasure",
        request_id=request.request_id,
        reason=request.reason,
        started_at=started,
        finished_at=datetime.now(UTC),
        persons=len(selection.keys),
        persons_found=out.persons_found,
        key_id=key.key_id,
        key_set_digest=key_set_digest(selection.keys),
        suppression_list_size=out.listed,
        removed=Removed(
            lake={r: n for r, n in change.rows.items() if not is_labelled_ref(r)},
            labelled={r: n for r, n in change.rows.items() if is_labelled_ref(r)},
            quarantine=out.quarantine,
            label_exports=out.label_exports,
            workspaces=[
                WorkspaceTouch(project_id=p, rows=w.rows, rebuilt=w.rebuilt, pending=w.flagged)
                for p, w in out.workspaces.items()
            ],
            staging_files=out.staging_files,
            stream_queues=drained.messages,
        ),
        lake_snapshot=change.snapshot_id,
        snapshots_expired=out.forgotten.snapshots_expired,
        files_deleted=out.forgotten.files_deleted,
        catalog_vacuum=out.vacuum,
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
