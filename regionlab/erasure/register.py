"""The erasure register: one append-only line per erasure or retention run.

``<var>/erasure/register.jsonl``. Each line holds the run's kind, request id,
time, reason, counts (persons, rows per product, quarantine, labelled,
workspaces), snapshot ids, files deleted, whether verification passed, the
receipt's file name and SHA-256, and the SHA-256 of the previous line, so an
edited, removed or reordered line is noticed by :func:`verify_chain`.

What it deliberately does not hold: CPR numbers and person keys. A person
key is a pseudonym, yet a register of "who objected" is itself sensitive, and
its readers (auditors, the catalogue) need counts. The persons of a request
are identified only by ``key_set_digest`` (a hash over the suppression list
digests), which lets an auditor with the CPR numbers check a request without
the register ever being joinable to data.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from regionlab.erasure.receipt import Receipt
from regionlab.errors import UserError
from regionlab.settings import get_settings

GENESIS = "0" * 64


def register_path() -> Path:
    return get_settings().erasure_register


def entry_of(receipt: Receipt, receipt_file: Path, receipt_sha256: str) -> dict[str, Any]:
    r = receipt.removed
    return {
        "kind": receipt.kind,
        "request_id": receipt.request_id,
        "at": receipt.finished_at.isoformat(),
        "reason": receipt.reason,
        "as_of": receipt.as_of.isoformat() if receipt.as_of else None,
        "persons": receipt.persons,
        "persons_found": receipt.persons_found,
        "key_id": receipt.key_id,
        "key_set_digest": receipt.key_set_digest,
        "rows_by_product": r.lake,
        "labelled_rows": r.labelled,
        "quarantine_rows": r.quarantine,
        "workspaces": {w.project_id: sum(w.rows.values()) for w in r.workspaces},
        "lake_snapshot": receipt.lake_snapshot,
        "snapshots_expired": len(receipt.snapshots_expired),
        "files_deleted": receipt.files_deleted,
        "verified": receipt.verification.passed,
        "receipt": receipt_file.name,
        "receipt_sha256": receipt_sha256,
    }


def _last_hash(handle) -> str:
    handle.seek(0)
    last = ""
    for line in handle:
        if line.strip():
            last = line.rstrip("\n")
    return hashlib.sha256(last.encode("utf-8")).hexdigest() if last else GENESIS


def append(entry: dict[str, Any]) -> dict[str, Any]:
    """Append one entry under an exclusive lock, chained to the previous line; fsynced."""
    path = register_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            full = {**entry, "prev": _last_hash(handle)}
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(full, sort_keys=True, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return full


def read_entries() -> list[dict[str, Any]]:
    path = register_path()
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verify_chain() -> int:
    """Check the hash chain; returns the number of entries or raises UserError at the bad line."""
    path = register_path()
    if not path.is_file():
        return 0
    prev = GENESIS
    n = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line:
            continue
        if json.loads(line).get("prev") != prev:
            raise UserError(
                f"{path} line {number}: the chain is broken (a line before it was edited, "
                "removed or reordered); restore the register from backup"
            )
        prev = hashlib.sha256(line.encode("utf-8")).hexdigest()
        n += 1
    return n
