"""Receipts: what one erasure or retention run removed, and the proof that it is gone.

One JSON file per run under ``<var>/erasure/receipts/``: counts, snapshot
ids, file counts and the verification — never a CPR number and never a
person key (the set of persons is identified by ``key_set_digest``, see
:func:`regionlab.erasure.resolve.key_set_digest`).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from regionlab.erasure.verify import Verification
from regionlab.settings import get_settings


class WorkspaceTouch(BaseModel):
    project_id: str
    rows: dict[str, int]
    rebuilt: bool = False
    pending: str | None = None


class Removed(BaseModel):
    """Rows removed, per place."""

    lake: dict[str, int] = Field(default_factory=dict, description="product ref → rows")
    labelled: dict[str, int] = Field(default_factory=dict, description="labels/<name> → rows")
    quarantine: dict[str, int] = Field(default_factory=dict, description="product ref → rows")
    label_exports: dict[str, int] = Field(default_factory=dict, description="file → lines")
    workspaces: list[WorkspaceTouch] = Field(default_factory=list)
    staging_files: int = 0
    stream_queues: dict[str, int] = Field(
        default_factory=dict,
        description="product ref → queued messages drained through the consumer (the erased "
        "persons' quarantined without values, the rest published)",
    )


class Receipt(BaseModel):
    kind: Literal["erasure", "retention"]
    request_id: str
    reason: str
    started_at: datetime
    finished_at: datetime
    as_of: date | None = None
    persons: int = 0
    persons_found: int = 0
    key_id: str | None = None
    key_set_digest: str | None = None
    suppression_list_size: int | None = None
    retention_cutoffs: dict[str, date] = Field(default_factory=dict)
    removed: Removed
    lake_snapshot: int | None = Field(None, description="the snapshot that removed the rows")
    snapshots_expired: list[int] = Field(default_factory=list)
    files_deleted: int = 0
    catalog_vacuum: str = "not needed"
    not_person_level: list[str] = Field(
        default_factory=list,
        description="aggregate products that may still count the persons until their next run",
    )
    verification: Verification

    @property
    def rows_total(self) -> int:
        r = self.removed
        return (
            sum(r.lake.values())
            + sum(r.quarantine.values())
            + sum(sum(w.rows.values()) for w in r.workspaces)
        )


def receipts_dir() -> Path:
    return get_settings().receipts_dir


def receipt_path(request_id: str) -> Path:
    return get_settings().receipt_file(request_id)


def write_receipt(receipt: Receipt) -> tuple[Path, str]:
    """Write atomically with mode 0600; returns the path and the file's SHA-256."""
    folder = receipts_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = receipt_path(receipt.request_id)
    text = json.dumps(receipt.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path, hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_receipt(request_id: str) -> Receipt:
    return Receipt.model_validate_json(receipt_path(request_id).read_text(encoding="utf-8"))
