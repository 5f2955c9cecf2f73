"""The server-side audit store: every feasibility query and every permit decision, chained.

Only the access service writes here. Each entry holds who asked (from the
token), when (UTC), the action, and for a feasibility query the normalised
cohort definition, the snapshot, the dimensions, the answer *as shown* (the
displayed values only — a hidden count is refused), the threshold and the
suppression applied, the products read, or why the query was refused.

Tamper evidence, in three layers:

- **digest**: each row carries the SHA-256 of its own content, so an edited
  field is named as ``edited``;
- **keyed chain**: ``mac = HMAC-SHA256(key, prev_mac || digest)``; the key is
  the service's (``var/secrets/audit-mac.key``), so a row whose digest was
  recomputed, or a chain recomputed end to end with any other key, fails as
  ``rechained``; ``prev_mac`` names the row before, so a removed or moved row is
  ``dropped`` or ``reordered``;
- **signed checkpoints** elsewhere (:mod:`regionlab.research.audit_checkpoints`):
  the newest entries dropped, or the whole table emptied, leaves a chain that
  is consistent in itself but shorter than a checkpoint says (``truncated``,
  ``emptied``); a checkpoint whose head no longer matches is
  ``checkpoint-mismatch``; a forged or edited checkpoint ``checkpoint-signature``;
  a checkpoint the chain records but the folder lacks ``checkpoint-missing``.

Appends are serialised by the backend's write lock, so concurrent writers
extend one chain (:mod:`regionlab.research.audit_backends`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from regionlab.errors import UserError
from regionlab.privacy.identifiers import CPR_STRICT
from regionlab.research.audit_backends import Backend, Row, backend_for
from regionlab.research.audit_checkpoints import CheckpointFolder, sign, signature_valid
from regionlab.research.audit_keys import key_id, read_secret, signing_key
from regionlab.research.query_history import PastQuery

FEASIBILITY = "feasibility"
CHECKPOINT_EVENT = "audit.checkpoint"
_MAC_PREFIX = b"regionlab/audit-chain/v1\x00"
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: text order is time order

ProblemKind = Literal[
    "edited",
    "rechained",
    "dropped",
    "reordered",
    "truncated",
    "emptied",
    "checkpoint-mismatch",
    "checkpoint-signature",
    "checkpoint-missing",
]


class Problem(BaseModel):
    """One thing wrong with the store: where (entry id or checkpoint file) and what kind."""

    model_config = ConfigDict(frozen=True)

    entry: str
    kind: ProblemKind
    detail: str

    def line(self) -> str:
        return f"{self.entry} {self.kind}: {self.detail}"


class VerifyReport(BaseModel):
    """What ``verify`` found: entries and checkpoints checked, and every problem."""

    entries: int
    checkpoints: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditEntry(BaseModel):
    """One entry as read back: the stored columns, ``data`` parsed."""

    model_config = ConfigDict(frozen=True)

    seq: int
    id: str
    at: datetime
    user: str
    action: str
    project: str | None
    subject: str | None
    data: dict[str, Any]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(
    row_id: str, at: str, who: str, action: str, project: Any, subject: Any, data: str
) -> str:
    content = _canonical([row_id, at, who, action, project, subject, data])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _row_digest(row: Row) -> str:
    return _digest(row.id, row.at, row.who, row.action, row.project, row.subject, row.data)


def _mac(key: bytes, prev_mac: str, digest: str) -> str:
    message = _MAC_PREFIX + prev_mac.encode("ascii") + b"\x00" + digest.encode("ascii")
    return hmac.new(key, message, "sha256").hexdigest()


def _at_text(at: datetime) -> str:
    """A naive time is taken as UTC (the store's clock), never as the host's local time."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime(_AT_FORMAT)


def _at_parse(text: str) -> datetime:
    return datetime.strptime(text, _AT_FORMAT).replace(tzinfo=UTC)


def _hidden_count_in(answer: Mapping[str, Any], threshold: int) -> bool:
    """Whether an answer holds a number a researcher could not have been shown."""
    values = [answer.get("total")]
    cells = answer.get("cells")
    if isinstance(cells, Mapping):
        values += list(cells.values())
    return any(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v < threshold for v in values
    )


class AuditStore:
    """The append-only audit store of the access service; implements ``QueryHistory``."""

    def __init__(
        self,
        backend: Backend,
        *,
        mac_key_file: Path,
        signing_key_file: Path,
        checkpoints_dir: Path,
        checkpoint_every: int = 100,
    ) -> None:
        self.backend = backend
        self.mac_key_file = Path(mac_key_file)
        self.signing_key_file = Path(signing_key_file)
        self.checkpoints = CheckpointFolder(checkpoints_dir)
        self.checkpoint_every = checkpoint_every

    # ------------------------------------------------------------------ writing

    def _append(
        self,
        *,
        user: str,
        action: str,
        project: str | None,
        subject: str | None,
        data: Mapping[str, Any],
    ) -> Row:
        if not user or not user.strip():
            raise UserError("an audit entry needs the caller's name (from the token)")
        text = _canonical(dict(data))
        if any(CPR_STRICT.contains(t) for t in (user, action, project or "", subject or "", text)):
            raise UserError(
                f"audit entry ({action}) refused: a field holds a CPR-number-shaped value; "
                "the audit store holds no identifiers"
            )
        key = read_secret(
            self.mac_key_file, create=self.mac_key_file.exists() or not self.backend.rows()
        )  # a new key for a store with entries would make every entry look re-chained
        row_id = uuid.uuid4().hex

        def make(head_seq: int, head_mac: str) -> Row:
            at = _at_text(datetime.now(UTC))  # stamped under the lock: chain order = time order
            digest = _digest(row_id, at, user, action, project, subject, text)
            return Row(
                seq=head_seq + 1,
                id=row_id,
                at=at,
                who=user,
                action=action,
                project=project,
                subject=subject,
                data=text,
                digest=digest,
                prev_mac=head_mac,
                mac=_mac(key, head_mac, digest),
            )

        row = self.backend.append(make)
        self._after_append(row)
        return row

    def _after_append(self, row: Row) -> None:
        skey = signing_key(self.signing_key_file)
        cp = sign(skey, count=row.seq, head_id=row.id, head_mac=row.mac, at=_at_parse(row.at))
        self.checkpoints.advance_latest(skey, cp)
        if row.seq % self.checkpoint_every == 0 and row.action != CHECKPOINT_EVENT:
            self._keep(skey, row)

    def _keep(self, skey: Any, row: Row) -> str:
        cp = sign(skey, count=row.seq, head_id=row.id, head_mac=row.mac, at=datetime.now(UTC))
        path = self.checkpoints.keep(skey, cp)
        self._append(
            user="regionlab-service",
            action=CHECKPOINT_EVENT,
            project=None,
            subject=path.name,
            data={"details": {"count": row.seq, "head_id": row.id}},
        )
        return path.name

    def record_query(
        self,
        *,
        user: str,
        project: str | None,
        definition: Mapping[str, Any],
        snapshot_id: int | None,
        dimensions: Sequence[str],
        answer: Mapping[str, Any],
        threshold: int,
        suppression: Mapping[str, Any],
        products: Sequence[str],
        refused: str | None = None,
    ) -> str:
        """Record one feasibility query (answered or refused); returns the entry id.

        ``answer`` holds the displayed values only (``{"total": 14 | "<5", "cells":
        {"K|50-59": 10, ...}}``); a number between 1 and ``threshold - 1`` in it
        is a hidden count and is refused, so a caller's mistake cannot put one here.
        """
        if _hidden_count_in(answer, threshold):
            raise UserError(
                "audit entry refused: the answer holds a count below the threshold; record "
                "the values as shown (hidden counts as their marker)"
            )
        data = {
            "definition": dict(definition),
            "snapshot_id": snapshot_id,
            "dimensions": list(dimensions),
            "answer": dict(answer),
            "threshold": threshold,
            "suppression": dict(suppression),
            "products": list(products),
            "refused": refused,
        }
        return self._append(
            user=user, action=FEASIBILITY, project=project, subject=None, data=data
        ).id

    def record_event(
        self,
        *,
        user: str,
        action: str,
        subject: str,
        details: Mapping[str, Any],
        project: str | None = None,
    ) -> str:
        """Record a permit change, a lockout lift, a user change or an airlock decision;
        returns the entry id. ``project`` fills the entry's project column."""
        if action == FEASIBILITY:
            raise UserError("feasibility queries are recorded with record_query")
        return self._append(
            user=user,
            action=action,
            project=project,
            subject=subject,
            data={"details": dict(details)},
        ).id

    def checkpoint(self) -> str:
        """Write a kept checkpoint of the current head now; returns its file name."""
        rows = self.backend.rows()
        if not rows:
            raise UserError("the audit store is empty; there is nothing to checkpoint yet")
        return self._keep(signing_key(self.signing_key_file), rows[-1])

    # ------------------------------------------------------------------ reading

    def entries(
        self, user: str | None = None, since: datetime | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Entries oldest first, optionally of one user, since a time, of one action."""
        rows = self.backend.rows(who=user, since=_at_text(since) if since else None, action=action)
        return [
            AuditEntry(
                seq=r.seq,
                id=r.id,
                at=_at_parse(r.at),
                user=r.who,
                action=r.action,
                project=r.project,
                subject=r.subject,
                data=json.loads(r.data),
            )
            for r in rows
        ]

    def past_queries(self, user: str, *, since: datetime) -> list[PastQuery]:
        """The user's feasibility queries since ``since``, newest last (``QueryHistory``)."""
        return [
            PastQuery(
                at=e.at,
                user=e.user,
                project=e.project,
                definition=e.data["definition"],
                dimensions=tuple(e.data["dimensions"]),
                snapshot_id=e.data["snapshot_id"],
                answer=e.data["answer"],
                refused=e.data["refused"],
            )
            for e in self.entries(user, since, FEASIBILITY)
        ]

    def describe(self) -> str:
        return self.backend.describe()

    def account_lock(self, name: str) -> AbstractContextManager[None]:
        """The backend's per-account lock, held across processes (see the backends module)."""
        return self.backend.account_lock(name)

    # ------------------------------------------------------------------ verifying

    def verify(self) -> VerifyReport:
        """Check every entry and checkpoint; each problem is one :class:`Problem`."""
        key = read_secret(self.mac_key_file, create=False) if self.mac_key_file.exists() else None
        rows = self.backend.rows()
        problems: list[Problem] = []
        if rows and key is None:
            read_secret(self.mac_key_file, create=False)  # raises: names the missing key
        macs = {r.mac for r in rows}
        previous = ""
        for row in rows:
            if _row_digest(row) != row.digest:
                problems.append(Problem(entry=row.id, kind="edited", detail="content changed"))
            elif key is not None and not hmac.compare_digest(
                _mac(key, row.prev_mac, row.digest), row.mac
            ):
                problems.append(
                    Problem(entry=row.id, kind="rechained", detail="MAC not made with the key")
                )
            if row.prev_mac != previous:
                if row.prev_mac in macs:
                    problems.append(
                        Problem(entry=row.id, kind="reordered", detail="out of chain order")
                    )
                else:
                    problems.append(
                        Problem(
                            entry=row.id, kind="dropped", detail="the entry before it is missing"
                        )
                    )
            previous = row.mac
        checkpoints = self.checkpoints.all()
        problems += self._check_checkpoints(rows, checkpoints)
        unique = list(dict.fromkeys(problems))
        return VerifyReport(entries=len(rows), checkpoints=len(checkpoints), problems=unique)

    def _check_checkpoints(self, rows: list[Row], checkpoints: list[Any]) -> list[Problem]:
        problems: list[Problem] = []
        if not self.signing_key_file.exists():
            if checkpoints:
                problems.append(
                    Problem(entry="-", kind="checkpoint-signature", detail="signing key missing")
                )
            return problems
        skey = signing_key(self.signing_key_file, create=False)
        by_seq = {r.seq: r for r in rows}
        head = rows[-1].seq if rows else 0
        for cp in checkpoints:
            if not signature_valid(skey, cp):
                problems.append(
                    Problem(entry=cp.file, kind="checkpoint-signature", detail="signature invalid")
                )
            elif not rows:
                problems.append(
                    Problem(
                        entry=cp.head_id,
                        kind="emptied",
                        detail=f"the store is empty; checkpoint {cp.file} saw {cp.count}",
                    )
                )
            elif head < cp.count:
                problems.append(
                    Problem(
                        entry=cp.head_id,
                        kind="truncated",
                        detail=f"{cp.count - head} entries after the head are gone ({cp.file})",
                    )
                )
            elif cp.count not in by_seq or by_seq[cp.count].mac != cp.head_mac:
                problems.append(
                    Problem(
                        entry=cp.head_id,
                        kind="checkpoint-mismatch",
                        detail=f"chain up to {cp.file} was rewritten",
                    )
                )
        on_file = self.checkpoints.names()
        for row in rows:
            if row.action == CHECKPOINT_EVENT and row.subject not in on_file:
                problems.append(
                    Problem(
                        entry=row.id,
                        kind="checkpoint-missing",
                        detail=f"{row.subject} is not in the checkpoint folder",
                    )
                )
        return problems

    def key_id(self) -> str:
        return key_id(read_secret(self.mac_key_file))

    def count_matches(self, needles: Sequence[bytes]) -> int:
        """How many entries contain any of ``needles`` (erasure's check for person keys)."""
        texts = [
            _canonical([r.who, r.project, r.subject, r.data]).encode("utf-8")
            for r in self.backend.rows()
        ]
        return sum(any(n in t for n in needles) for t in texts)


def open_store() -> AuditStore:
    """The audit store of the active configuration (its profile picks the backend)."""
    from regionlab.config import current

    config = current()
    settings, profile = config.settings, config.profile
    store = AuditStore(
        backend_for(profile.audit_store, settings.audit_store_file),
        mac_key_file=settings.audit_mac_key_file,
        signing_key_file=settings.audit_signing_key_file,
        checkpoints_dir=Path(profile.audit_checkpoints or settings.audit_checkpoints_dir),
        checkpoint_every=profile.audit_checkpoint_every,
    )
    legacy = settings.legacy_feasibility_log
    if legacy.is_file():
        from regionlab.research.audit_migrate import migrate_jsonl

        migrate_jsonl(legacy, store)
    return store


__all__ = [
    "CHECKPOINT_EVENT",
    "FEASIBILITY",
    "AuditEntry",
    "AuditStore",
    "Problem",
    "VerifyReport",
    "open_store",
]
