"""``regionlab keys rotate``: re-key the whole platform with a new pseudonymisation key.

Order (each step says why it is where it is):

1. hold every product's run lock (:func:`regionlab.wap.staging.quiesced`), so no
   run stages rows under the old key meanwhile, and remove staging files left;
2. write the new key to a pending file beside the key file (0600,
   :mod:`.keyfiles`): a crash after the commit must not lose it;
3. build the old→new mapping from the CPR numbers of the source zone
   (:mod:`.mapping`) and plan the rewrite (:mod:`.lake_rekey`); refuse, with
   counts only, when the lake holds persons the mapping lacks (unless the
   operator drops their rows) or when an erased person's suppression entry
   cannot be re-keyed (never overridable: the person would come back);
4. ONE DuckLake transaction: every product and labelled product with person
   keys, the suppression list and the lake's key id — a failure leaves the old
   key current everywhere;
5. expire every older snapshot and delete their files (they hold the old
   person keys), vacuum a SQLite catalogue;
6. re-key the labelling training exports, rebuild every workspace with the new
   key (one that cannot be rebuilt is removed: its project pseudonyms could no
   longer be found by an erasure);
7. back the old key up beside the key file (0600) and make the new key current.

A crash anywhere leaves either the old key current and the lake untouched
(before 4) or a lake keyed with the pending key, which every run refuses
until ``regionlab keys rotate`` is run again and resumes at step 5.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from regionlab import lake
from regionlab.erasure import lake_delete
from regionlab.errors import UserError
from regionlab.lake.connect import transaction
from regionlab.platform.lake_key import KeyMismatch, lake_key_ids, replace_statements
from regionlab.platform.tables import SUPPRESSION_LIST
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.rotation import keyfiles
from regionlab.rotation.exports import rekey_exports
from regionlab.rotation.lake_rekey import Plan, plan, rewrite_sql, suppression_sql
from regionlab.rotation.mapping import build_mapping
from regionlab.settings import get_settings
from regionlab.spec import Registry, load_domains
from regionlab.sql import quote_literal
from regionlab.steps import step
from regionlab.wap import staging
from regionlab.wap.staging import QUIESCE_WAIT, quiesced

Progress = Callable[[str], None]


@dataclass
class RotationReport:
    """What a rotation did: key ids, counts and paths only (never a key or a value)."""

    old_key_id: str
    new_key_id: str
    resumed: bool = False
    persons_mapped: int = 0
    deliveries_read: int = 0
    deliveries_unreadable: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    rows_dropped: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    snapshot_id: int | None = None
    snapshots_expired: int = 0
    files_deleted: int = 0
    vacuum: str = "not needed"
    label_exports: dict[str, int] = field(default_factory=dict)
    workspaces_rebuilt: list[str] = field(default_factory=list)
    workspaces_removed: dict[str, str] = field(default_factory=dict)
    key_file: Path | None = None
    backup: Path | None = None
    #: What the rotation could not re-key itself and who has to act (no values).
    notes: list[str] = field(default_factory=list)


def _refuse_if_incomplete(p: Plan, drop_unmapped: bool) -> None:
    if p.unmapped_suppressed:
        raise UserError(
            f"refusing to rotate: {p.unmapped_suppressed} of {p.suppressed} erased persons on "
            "the suppression list are not in the source zone, so their entries cannot be "
            "re-keyed and they would be published again under the new key. Give their CPR "
            "numbers (from the erasure requests' case files) with --cprs <file>, one per line"
        )
    if p.unmapped_persons and not drop_unmapped:
        tables = ", ".join(f"{ref} ({n} rows)" for ref, n in sorted(p.unmapped_rows.items()))
        raise UserError(
            f"refusing to rotate: {p.unmapped_persons} persons in the lake are not in the source "
            f"zone (rows in {tables}), so their person keys cannot be re-derived. Restore their "
            "deliveries under the sources folder, give their CPR numbers with --cprs <file>, "
            "or pass --drop-unmapped to remove their rows in the rotation"
        )


def _publish_facts(con: duckdb.DuckDBPyConnection, new_key_id: str) -> dict[str, Any]:
    """The newest publish per product, kept in the rotation's snapshot (older ones expire)."""
    facts: dict[str, Any] = {}
    for snap in lake.list_snapshots(con):
        for ref, kept in (snap.info.get("products") or {}).items():
            if isinstance(kept, dict):
                facts[ref] = dict(kept)
        if (ref := snap.published_ref) is not None:
            facts[ref] = {
                "snapshot_id": snap.id,
                "published_at": snap.time.isoformat(),
                "run_id": snap.info.get("run_id"),
            }
    for kept in facts.values():
        kept["key_id"] = new_key_id
    return facts


def _rewrite(
    con: duckdb.DuckDBPyConnection,
    p: Plan,
    old: PseudonymKey,
    new: PseudonymKey,
    drop_unmapped: bool,
    report: RotationReport,
    say: Progress,
) -> int:
    """Step 4: the one transaction; returns its snapshot id."""
    run_id = f"rotate-{uuid.uuid4().hex[:12]}"
    with lake.write_lock(con), transaction(con):
        for n, t in enumerate(p.tables, start=1):
            say(f"[{n}/{len(p.tables)}] re-keying {t.ref}")
            with step(f"rotate.rekey:{t.ref}"):
                con.execute(rewrite_sql(t, drop_unmapped=drop_unmapped))
            report.rows[t.ref] = int(
                con.execute(f"SELECT count(*) FROM {t.qualified}").fetchone()[0]
            )
        if SUPPRESSION_LIST.exists(con):
            say(f"re-keying the suppression list ({p.suppressed} erased persons)")
            with step("rotate.suppression_list"):
                con.execute(*suppression_sql(new.key_id))
            report.suppressed = p.suppressed
        with step("rotate.key_id"):
            for sql, params in replace_statements(new.key_id, run_id):
                con.execute(sql, params)
        info = {
            "kind": "key_rotation",
            "run_id": run_id,
            "old_key_id": old.key_id,
            "key_id": new.key_id,
            "rows": report.rows,
            "rows_dropped": report.rows_dropped,
            "products": _publish_facts(con, new.key_id),
        }
        con.execute(
            "CALL lake.set_commit_message('regionlab', "
            f"{quote_literal(f'key rotation to {new.key_id}')}, "
            f"extra_info => {quote_literal(json.dumps(info, sort_keys=True, default=str))})"
        )
    row = con.execute("SELECT id FROM ducklake_last_committed_snapshot('lake')").fetchone()
    return int(row[0])


def _label_studio_notes(p: Plan) -> list[str]:
    """Label Studio's database is not regionlab's to edit (as for erasure): name the tasks
    whose row keys are person keys, so the labelling team re-pushes them."""
    data = get_settings().labelstudio_dir / "data"
    databases = (
        [f for f in data.rglob("*") if f.suffix in (".sqlite3", ".db")] if data.is_dir() else []
    )
    if not databases:
        return []
    return [
        f"Label Studio tasks of {t.ref} carry person keys under the old key: re-push the task "
        "(`regionlab labeling push`) and delete the old project"
        for t in p.tables
        if t.row_key_parts
    ]


def _workspaces(new: PseudonymKey, report: RotationReport, say: Progress) -> None:
    """Step 6: rebuild each workspace under the new key, or remove it."""
    from regionlab.research.workspace import build_workspace, remove_workspace

    for project_id in sorted(get_settings().workspace_files()):
        say(f"rebuilding workspace {project_id}")
        try:
            build_workspace(project_id, key=new)
            report.workspaces_rebuilt.append(project_id)
        except UserError as exc:
            remove_workspace(project_id)
            report.workspaces_removed[project_id] = str(exc)


def rotate(
    *,
    registry: Registry | None = None,
    extra_cprs: Iterable[str] = (),
    drop_unmapped: bool = False,
    progress: Progress | None = None,
    wait: float = QUIESCE_WAIT,
) -> RotationReport:
    """Re-key every product, the suppression list, labels and workspaces (or refuse)."""
    say = progress or (lambda _line: None)
    key_file = keyfiles.active_key_file()
    old = load_key()
    registry = registry or load_domains()
    settings = get_settings()
    products = [(p.domain, p.id) for p in registry.products.values()]
    with quiesced(settings, products, wait=wait):
        staging.remove_all(settings)
        con = lake.connect()
        try:
            ids = lake_key_ids(con)
            pending = keyfiles.read_pending(key_file)
            resumed = pending is not None and ids == [pending.key_id]
            if not resumed:
                if not ids:
                    raise UserError(
                        "the lake holds no keyed data yet: there is nothing to rotate (a new "
                        "key for an empty lake is `regionlab keys init --force`)"
                    )
                if ids != [old.key_id]:
                    raise KeyMismatch(old.key_id, ids)
            new = pending if pending is not None else keyfiles.write_pending(key_file)
            report = RotationReport(
                old_key_id=old.key_id, new_key_id=new.key_id, resumed=resumed, key_file=key_file
            )
            say(
                "resuming the rotation committed earlier"
                if resumed
                else f"rotating from key {old.key_id} to key {new.key_id}"
            )
            say("mapping person keys from the source zone")
            with step("rotate.mapping"):
                count = build_mapping(con, settings, registry, old, new, extra_cprs)
            report.persons_mapped = count.persons
            report.deliveries_read = count.deliveries_read
            report.deliveries_unreadable = count.deliveries_unreadable
            say(f"{count.persons} persons mapped from {count.deliveries_read} deliveries")
            if resumed:
                report.snapshot_id = lake.current_snapshot(con)
            else:
                p = plan(con, registry)
                try:
                    _refuse_if_incomplete(p, drop_unmapped)
                except UserError:
                    keyfiles.discard_pending(key_file)  # nothing is keyed with it: no trace
                    raise
                report.rows_dropped = dict(p.unmapped_rows) if drop_unmapped else {}
                report.snapshot_id = _rewrite(con, p, old, new, drop_unmapped, report, say)
                report.notes += _label_studio_notes(p)
                say(f"committed snapshot {report.snapshot_id}: the lake is keyed with {new.key_id}")
            say("expiring older snapshots (they hold the old person keys)")
            with step("rotate.expire"):
                forgotten = lake_delete.forget_before(con, report.snapshot_id)
            report.snapshots_expired = len(forgotten.snapshots_expired)
            report.files_deleted = forgotten.files_deleted
            catalog_file = lake_delete.catalog_file_of(con)
            say("re-keying labelling training exports")
            with step("rotate.label_exports"):
                report.label_exports = rekey_exports(con, registry, drop_unmapped=drop_unmapped)
        finally:
            con.close()
        report.vacuum = lake_delete.vacuum_catalog(catalog_file)
        with step("rotate.workspaces"):
            _workspaces(new, report, say)
        with step("rotate.key_file"):
            report.backup = keyfiles.swap(key_file, old)
    say(f"key file {key_file} now holds key {new.key_id}; old key kept in {report.backup}")
    return report
