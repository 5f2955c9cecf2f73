"""One-time move of the old JSONL feasibility log into the audit store.

Before the access service, feasibility wrote ``<var>/research/audit/feasibility.jsonl``
(an unkeyed SHA-256 chain anyone with file access could rewrite). When the
store is opened and that file exists, each of its entries is appended to the
store as a ``legacy.feasibility`` event — its fields unchanged, its old
timestamp and hash kept in the details, whether the old chain still held noted
once — and the file is removed. Nothing else reads or writes the old format.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regionlab.research.audit_store import AuditStore

LEGACY_ACTION = "legacy.feasibility"
#: The only fields the old log held (anything else in a line is dropped, not migrated).
_FIELDS = (
    "timestamp",
    "entry_id",
    "user",
    "cohort_name",
    "cohort_hash",
    "snapshot_id",
    "dimensions",
    "shape",
    "threshold",
    "products",
    "prev_hash",
)


def migrate_jsonl(path: Path, store: AuditStore) -> int:
    """Append every old entry to ``store`` and remove ``path``; returns how many moved."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two processes opening the store at once: one migrates
        if not path.exists():
            return 0
        lines = [ln for ln in path.read_bytes().split(b"\n") if ln.strip()]
        previous, chain_held, moved = "", True, 0
        for line in lines:
            try:
                old = json.loads(line)
            except ValueError:
                chain_held = False
                continue
            chain_held = chain_held and old.get("prev_hash") == previous
            previous = hashlib.sha256(line).hexdigest()
            store.record_event(
                user=str(old.get("user") or "unknown"),
                action=LEGACY_ACTION,
                subject=str(old.get("entry_id") or "-"),
                details={k: old[k] for k in _FIELDS if k in old},
            )
            moved += 1
        store.record_event(
            user="regionlab-service",
            action="legacy.migrated",
            subject=path.name,
            details={"entries": moved, "old_chain_held": chain_held},
        )
        path.unlink()
    finally:
        os.close(fd)
    return moved


__all__ = ["LEGACY_ACTION", "migrate_jsonl"]
