"""Append-only audit log of feasibility queries.

Every feasibility answer is logged: who asked, about which cohort (name and a
hash of its definition), at which lake snapshot, split by which dimensions, and
the *shape* of the answer (how many cells, how many hidden). Never a count:
the log is read by more people than the answers are, and a hidden count in a
log would undo the suppression. ``record`` takes no free-form extras for the
same reason.

Storage is a JSONL file: one line per query, appended under an exclusive
``flock`` (several processes may answer queries at once), flushed and fsynced
before ``record`` returns. Each line carries the SHA-256 of the line before it,
so :meth:`AuditLog.verify` notices an edited, removed or reordered entry.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regionlab.errors import UserError
from regionlab.privacy.identifiers import CPR_STRICT

_TAIL_CHUNK = 4096


class QueryShape(BaseModel):
    """How big an answer was and how much of it was hidden; nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cells: int = Field(ge=0)
    hidden: int = Field(ge=0)

    @model_validator(mode="after")
    def _hidden_within_cells(self) -> QueryShape:
        if self.hidden > self.cells:
            raise ValueError("hidden cannot exceed cells")
        return self


class AuditEntry(BaseModel):
    """One logged feasibility query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: datetime
    entry_id: str
    user: str = Field(min_length=1)
    cohort_name: str = Field(min_length=1)
    cohort_hash: str = Field(min_length=1)
    snapshot_id: int | str
    dimensions: tuple[str, ...]
    shape: QueryShape
    threshold: int = Field(ge=1)
    products: tuple[str, ...] = ()
    prev_hash: str
    """SHA-256 (hex) of the previous line of the log; empty for the first entry."""

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
            raise ValueError("timestamp must be in UTC")
        return value

    @field_validator("user", "cohort_name", "cohort_hash", "dimensions", "products")
    @classmethod
    def _no_cpr(cls, value: Any) -> Any:
        texts = [value] if isinstance(value, str) else list(value)
        if any(CPR_STRICT.contains(t) for t in texts):
            raise ValueError(
                "contains a CPR-number-shaped value; an audit log holds no identifiers"
            )
        return value


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _last_line(fd: int) -> bytes:
    """The last non-empty line of an open file, read from the end."""
    size = os.fstat(fd).st_size
    if size == 0:
        return b""
    chunk = _TAIL_CHUNK
    while True:
        start = max(0, size - chunk)
        data = os.pread(fd, size - start, start).rstrip(b"\n")
        cut = data.rfind(b"\n")
        if cut >= 0:
            return data[cut + 1 :]
        if start == 0:
            return data
        chunk *= 2


class AuditLog:
    """The audit log in one JSONL file; there is no way to change or drop an entry."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def record(
        self,
        user: str,
        cohort_name: str,
        cohort_hash: str,
        snapshot_id: int | str,
        dimensions: Sequence[str],
        shape: Mapping[str, int] | QueryShape | Any,
        *,
        threshold: int = 5,
        products: Sequence[str] = (),
    ) -> AuditEntry:
        """Append one query and return the stored entry.

        ``shape`` is ``{"cells": ..., "hidden": ...}`` or anything with an
        ``audit_shape()`` method (a suppressed table). Any other key is refused,
        so no count can slip into the log by way of the shape.
        """
        if hasattr(shape, "audit_shape"):
            shape = shape.audit_shape()
        if isinstance(dimensions, str):
            dimensions = [dimensions]
        try:  # validate before touching the file, so a refused entry leaves no trace
            draft = AuditEntry.model_validate(
                {
                    "timestamp": datetime.now(UTC),
                    "entry_id": uuid.uuid4().hex,
                    "user": user,
                    "cohort_name": cohort_name,
                    "cohort_hash": cohort_hash,
                    "snapshot_id": snapshot_id,
                    "dimensions": tuple(dimensions),
                    "shape": shape if isinstance(shape, QueryShape) else dict(shape),
                    "threshold": threshold,
                    "products": tuple(products),
                    "prev_hash": "",
                }
            )
        except (ValidationError, TypeError, ValueError) as exc:
            raise UserError(f"Audit entry for {self.path} refused: {_brief(exc)}") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _last_line(fd)
            entry = draft.model_copy(  # stamped under the lock: file order = time order
                update={
                    "timestamp": datetime.now(UTC),
                    "prev_hash": _line_hash(last) if last else "",
                }
            )
            os.write(fd, entry.model_dump_json().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        if created:
            _fsync_dir(self.path.parent)
        return entry

    def _lines(self) -> list[bytes]:
        if not self.path.exists():
            return []
        return [ln for ln in self.path.read_bytes().split(b"\n") if ln.strip()]

    def entries(self) -> list[AuditEntry]:
        """All entries, oldest first."""
        out = []
        for number, line in enumerate(self._lines(), start=1):
            try:
                out.append(AuditEntry.model_validate_json(line))
            except ValidationError:
                raise UserError(
                    f"{self.path} line {number}: not a valid audit entry. The log is append-only; "
                    "restore the file from backup instead of editing it."
                ) from None
        return out

    def verify(self) -> int:
        """Check the hash chain; returns the number of entries or names the first bad line."""
        lines = self._lines()
        entries = self.entries()
        previous = ""
        for number, (line, entry) in enumerate(zip(lines, entries, strict=True), start=1):
            if entry.prev_hash != previous:
                raise UserError(
                    f"{self.path} line {number}: hash chain broken (an entry before it was "
                    "changed, removed or reordered); restore the log from backup."
                )
            previous = _line_hash(line)
        return len(entries)


def _brief(exc: Exception) -> str:
    """Field names and reasons only: pydantic's default text would echo the input."""
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        return "; ".join(parts)
    return str(exc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["AuditEntry", "AuditLog", "QueryShape"]
