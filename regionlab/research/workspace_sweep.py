"""Deleting workspaces whose permit ended, with a receipt.

``open_workspace`` already refuses an expired permit, but the file itself
would stay on disk (and in backups) for good. The sweep deletes, for every
workspace folder under ``var/research/workspaces``:

* ``permit-expired``: the registered permit's ``expires`` is before today;
* ``permit-missing``: no registered permit (withdrawn, or a leftover folder).

It deletes the folder (file, manifest, outputs), the project's workspace key
in ``var/secrets/workspaces`` (so any copy of the file is unreadable for
good) and the catalogue's copy of the manifest, then writes a receipt to
``var/erasure/workspaces/``: the project, the rule, when, by whom, and each
deleted file's name and size. Never a value from the files.

Run by ``regionlab workspace sweep`` and by the daily Dagster schedule
``workspace_sweep_daily`` (``pipelines/schedules.py``).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel

from regionlab.errors import UserError
from regionlab.platform.private_files import write_private
from regionlab.research.permits import get_permit, registered_path
from regionlab.research.workspace_crypto import destroy_key, key_file
from regionlab.settings import get_settings

RULE_EXPIRED = "permit-expired"
RULE_MISSING = "permit-missing"


class DeletedFile(BaseModel):
    path: str
    """Relative to ``var/`` (never an absolute path of the machine)."""
    bytes: int


class SweepReceipt(BaseModel):
    project_id: str
    rule: str
    permit_expires: date | None
    deleted_at: datetime
    deleted_by: str
    """``cli``, ``schedule`` or the caller's name."""
    files: list[DeletedFile]
    key_destroyed: bool
    receipt_file: str


class _Unreadable(Exception):
    """A registered permit the current rules cannot read: its workspace is kept."""


def _rule(project_id: str, today: date) -> tuple[str | None, date | None]:
    if not registered_path(project_id).is_file():
        return RULE_MISSING, None
    try:
        permit = get_permit(project_id)
    except UserError as exc:
        # A permit file that is there but fails today's validation (an older rule, a hand
        # edit) says nothing about expiry: deleting on it would destroy a valid project.
        raise _Unreadable(str(exc)) from None
    return (RULE_EXPIRED if permit.expired(today) else None), permit.expires


def _files(folder: Path, var: Path) -> list[DeletedFile]:
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        out.append(DeletedFile(path=str(path.relative_to(var)), bytes=path.stat().st_size))
    return out


def sweep_workspaces(
    *, today: date | None = None, by: str = "cli", dry_run: bool = False
) -> list[SweepReceipt]:
    """Delete every workspace whose permit expired or is gone; one receipt each."""
    settings = get_settings()
    today = today or date.today()
    root = settings.workspaces_dir
    folders = sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    # A key whose workspace folder is gone (a crash mid-sweep) is swept too.
    keys = settings.workspace_keys_dir
    orphans = (
        sorted(k.stem for k in keys.glob("*.key") if not settings.workspace_dir(k.stem).is_dir())
        if keys.is_dir()
        else []
    )
    receipts = []
    kept: list[str] = []
    for project_id in [d.name for d in folders] + orphans:
        try:
            rule, expires = _rule(project_id, today)
        except _Unreadable as exc:
            kept.append(f"{project_id}: {exc}")
            continue
        if rule is None:
            continue
        folder = settings.workspace_dir(project_id)
        files = _files(folder, settings.var_dir) if folder.is_dir() else []
        catalogue = settings.catalog_workspace_manifest(project_id)
        if catalogue.is_file():
            files.append(
                DeletedFile(
                    path=str(catalogue.relative_to(settings.var_dir)),
                    bytes=catalogue.stat().st_size,
                )
            )
        now = datetime.now(UTC)
        receipt_path = settings.workspace_receipts_dir / (
            f"{now:%Y%m%dT%H%M%S%fZ}-{project_id}.json"
        )
        receipt = SweepReceipt(
            project_id=project_id,
            rule=rule,
            permit_expires=expires,
            deleted_at=now,
            deleted_by=by,
            files=files,
            key_destroyed=key_file(project_id).is_file(),
            receipt_file=str(receipt_path.relative_to(settings.var_dir)),
        )
        if not dry_run:
            destroy_key(project_id)  # first: from here on no copy of the file can be read
            shutil.rmtree(folder, ignore_errors=True)
            catalogue.unlink(missing_ok=True)
            if folder.exists():
                raise UserError(
                    f"could not delete the workspace folder of {project_id} ({folder}); check "
                    "that the service's account owns it, then run the sweep again"
                )
            write_private(
                receipt_path, json.dumps(receipt.model_dump(mode="json"), indent=2) + "\n"
            )
        receipts.append(receipt)
    if kept:
        done = f"; {len(receipts)} other workspace(s) swept, receipts written" if receipts else ""
        raise UserError(
            "kept workspace(s) whose registered permit cannot be read — nothing of them was "
            "deleted; fix or re-register the permit, then run the sweep again"
            f"{done}:\n  " + "\n  ".join(kept)
        )
    return receipts


__all__ = ["RULE_EXPIRED", "RULE_MISSING", "DeletedFile", "SweepReceipt", "sweep_workspaces"]
