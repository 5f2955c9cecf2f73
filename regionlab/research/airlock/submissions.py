"""The airlock's workflow: submit, auto-release when safe by class, else an output checker decides.

A researcher submits a result file for a project whose permit they hold and
that has not expired. The service checks it (:mod:`regionlab.research.output_check`
plus differencing against the project's earlier released outputs) and

- **releases** it at once when every rule passes (verdict ``pass``);
- otherwise **queues** it (``pending``) for an output checker, who approves
  or refuses with a reason. The checker may not be the submitter.

Every step is an entry in the audit store (``airlock.submit``,
``airlock.release``, ``airlock.refuse``), and a released file carries a
manifest: the checks run with their parameters, the verdict and findings, the
decision, who made it and when, and SHA-256 of the file as submitted and as
released (the ``sdc_*`` dominance evidence columns are stripped on release).

Files live under ``<var>/research/airlock/<project>/<submission>/``, which only
the service writes; a refused file is deleted (its hash stays in the record and
the audit store); findings name columns and rows, never values.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from regionlab.errors import UserError
from regionlab.research import permit_workflow as wf
from regionlab.research.airlock.columns import EVIDENCE_PREFIX
from regionlab.research.airlock.differencing import LongCounts, compare, long_counts
from regionlab.research.airlock.read import ReadTable, read_bytes
from regionlab.research.airlock.rules import NK_K, NK_N, P_RATIO, SAFE_DOF, Zeros
from regionlab.research.audit_store import AuditStore
from regionlab.research.output_check import OutputCheckReport, check_table, check_threshold
from regionlab.research.permits import PROJECT_ID, get_permit
from regionlab.settings import get_settings

RESEARCHER = "researcher"
OUTPUT_CHECKER = "output-checker"
AUTO = "airlock (auto)"
MAX_BYTES = 20 * 1024 * 1024
Status = Literal["released", "pending", "refused"]
_SAFE_NAME = r"[A-Za-z0-9][A-Za-z0-9._ -]{0,120}\.(csv|tsv|txt|parquet|pq)"


@dataclass(frozen=True)
class Actor:
    """The verified caller (the service passes its token's identity)."""

    name: str
    role: str


class FindingView(BaseModel):
    kind: str
    severity: str
    column: str
    problem: str
    fix: str
    rows: list[int]
    n_rows: int


class Submission(BaseModel):
    """One submitted output and where it stands."""

    model_config = ConfigDict(frozen=True)

    id: str
    project_id: str
    filename: str
    submitted_by: str
    submitted_at: datetime
    sha256: str
    size: int
    threshold: int
    zeros: str = "review"
    table_class: str
    verdict: Literal["pass", "review", "fail"]
    findings: list[FindingView] = Field(default_factory=list)
    status: Status
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    released_sha256: str | None = None
    compared_with: list[str] = Field(default_factory=list)
    """Earlier released outputs of the project this one was compared with (differencing)."""


def airlock_dir() -> Path:
    return get_settings().research_dir / "airlock"


def _folder(project_id: str, sub_id: str) -> Path:
    return airlock_dir() / project_id / sub_id


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write(path: Path, data: bytes) -> None:
    _private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _save(sub: Submission) -> None:
    _write(
        _folder(sub.project_id, sub.id) / "submission.json",
        sub.model_dump_json(indent=2).encode("utf-8"),
    )


def _all() -> list[Submission]:
    root = airlock_dir()
    if not root.is_dir():
        return []
    subs = [
        Submission.model_validate_json(p.read_text(encoding="utf-8"))
        for p in root.glob("*/*/submission.json")
    ]
    return sorted(subs, key=lambda s: s.submitted_at)


def get_submission(sub_id: str) -> Submission:
    for sub in _all():
        if sub.id == sub_id:
            return sub
    raise UserError(f"no submitted output {sub_id!r}; see `regionlab output list`")


def list_submissions(actor: Actor, status: Status | None = None) -> list[Submission]:
    """A researcher's own submissions; every submission for an output checker."""
    subs = _all()
    if actor.role != OUTPUT_CHECKER:
        subs = [s for s in subs if s.submitted_by == actor.name]
    return [s for s in subs if status is None or s.status == status]


@contextmanager
def _project_lock(project_id: str) -> Iterator[None]:
    """Hold the project's airlock lock (a file lock, so across workers and processes).

    Submit and approve each compare a file with the project's released outputs and
    then release it; without the lock two submissions checked at once are each
    compared with the outputs released before either, and both leave uncompared.
    """
    folder = _private_dir(airlock_dir() / project_id)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _permit_valid(project_id: str) -> wf.Application:
    """The project's permit is in force: approved, or registered while an extension is decided.

    An extension application (pending, incomplete or refused) leaves the permit
    registered before it in force until its own expiry; only its holder can apply
    while it runs (``permit_workflow.apply``), so the applicant is still the holder.
    """
    application = wf.get_application(project_id)
    expires = application.permit.expires
    if application.status != "approved":
        try:
            expires = get_permit(project_id).expires
        except UserError:
            raise UserError(
                f"project {project_id}: the permit is {application.status}, not approved; "
                "nothing leaves a project without a valid permit"
            ) from None
    if date.today() > expires:
        raise UserError(
            f"project {project_id}: the permit expired on {expires.isoformat()}; "
            "nothing leaves an expired project"
        )
    return application


def _permit_holder(actor: Actor, project_id: str) -> None:
    """The caller holds the project's permit in force (the applicant of its application)."""
    if actor.role != RESEARCHER:
        raise UserError(f"{actor.name} ({actor.role}) may not submit outputs; researchers do")
    application = _permit_valid(project_id)
    if application.applicant != actor.name:
        raise UserError(
            f"project {project_id}: {actor.name} does not hold its permit; "
            "only the permit holder submits its outputs"
        )


def _released_tables(project_id: str) -> list[tuple[str, LongCounts]]:
    out = []
    for sub in _all():
        if sub.project_id != project_id or sub.status != "released":
            continue
        path = _folder(project_id, sub.id) / "released" / sub.filename
        table = read_bytes(path.read_bytes(), sub.filename)
        out.append((f"{sub.filename} ({sub.id})", long_counts(table.df, table.delimiter == ";")))
    return out


def check_bytes(
    filename: str,
    data: bytes,
    *,
    threshold: int,
    earlier: Sequence[tuple[str, LongCounts]] = (),
    zeros: Zeros = "review",
    known_names: Iterable[str] = (),
) -> tuple[ReadTable, OutputCheckReport]:
    """The airlock's verdict on one file: the rule set plus differencing against ``earlier``."""
    table = read_bytes(data, filename)
    extra = compare(long_counts(table.df, table.delimiter == ";"), earlier, threshold)
    report = check_table(
        table,
        Path(filename),
        threshold=threshold,
        known_names=known_names,
        zeros=zeros,
        extra=extra,
    )
    return table, report


def _finding_views(findings: Iterable[Any]) -> list[FindingView]:
    return [
        FindingView(
            kind=f.kind,
            severity=f.severity,
            column=f.column,
            problem=f.problem,
            fix=f.fix,
            rows=list(f.rows),
            n_rows=f.n_rows,
        )
        for f in findings
    ]


def submit(
    actor: Actor,
    project_id: str,
    filename: str,
    data: bytes,
    *,
    audit: AuditStore,
    floor: int,
    threshold: int | None = None,
    zeros: Zeros = "review",
    known_names: Iterable[str] = (),
) -> Submission:
    """Check an output; release it when it passes, else queue it for an output checker."""
    if not re.fullmatch(PROJECT_ID, project_id):
        raise UserError(f"project id {project_id!r}: not a project id (e.g. t2d-hba1c)")
    _permit_holder(actor, project_id)
    if not re.fullmatch(_SAFE_NAME, filename):
        raise UserError(
            f"file name {filename!r}: use letters, digits, '.', '_', '-' and a .csv or "
            ".parquet suffix"
        )
    if len(data) > MAX_BYTES:
        raise UserError(
            f"{filename}: larger than {MAX_BYTES // (1024 * 1024)} MB; results are aggregates"
        )
    applied = check_threshold(threshold, floor)
    with _project_lock(project_id):
        return _check_and_file(
            actor, project_id, filename, data, audit, applied, zeros, known_names
        )


def _check_and_file(
    actor: Actor,
    project_id: str,
    filename: str,
    data: bytes,
    audit: AuditStore,
    applied: int,
    zeros: Zeros,
    known_names: Iterable[str],
) -> Submission:
    """Check ``data`` against the project's released outputs, then release or queue it
    (under the project's lock)."""
    earlier = _released_tables(project_id)
    table, report = check_bytes(
        filename, data, threshold=applied, earlier=earlier, zeros=zeros, known_names=known_names
    )
    sub = Submission(
        id=uuid.uuid4().hex[:12],
        project_id=project_id,
        filename=filename,
        submitted_by=actor.name,
        submitted_at=datetime.now(UTC),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        threshold=applied,
        zeros=zeros,
        table_class=report.table_class,
        verdict=report.verdict,
        findings=_finding_views(report.findings + report.notes),
        status="pending",
        compared_with=[name for name, _ in earlier],
    )
    _write(_folder(project_id, sub.id) / "submitted" / filename, data)
    audit.record_event(
        user=actor.name,
        action="airlock.submit",
        project=project_id,
        subject=sub.id,
        details={
            "project": project_id,
            "file": filename,
            "sha256": sub.sha256,
            "verdict": sub.verdict,
            "class": sub.table_class,
            "threshold": applied,
            "findings": sorted({f"{f.severity}:{f.kind}" for f in sub.findings}),
        },
    )
    if report.verdict == "pass":
        return _release(sub, AUTO, "every rule passed", table, data, audit)
    _save(sub)
    return sub


def _strip_evidence(table: ReadTable, data: bytes) -> bytes:
    evidence = [c for c in table.df.columns if c.strip().lower().startswith(EVIDENCE_PREFIX)]
    if not evidence:
        return data
    kept = table.df.drop(evidence)
    out = io.BytesIO()
    if table.delimiter:
        kept.write_csv(out, separator=table.delimiter)
    else:
        kept.write_parquet(out)
    return out.getvalue()


def manifest(sub: Submission) -> dict[str, Any]:
    """What travels with a released file: checks, decision, who, hashes."""
    return {
        "submission": sub.id,
        "project": sub.project_id,
        "file": sub.filename,
        "submitted_by": sub.submitted_by,
        "submitted_at": sub.submitted_at.isoformat(),
        "sha256_submitted": sub.sha256,
        "sha256_released": sub.released_sha256,
        "table_class": sub.table_class,
        "checks": {
            "rules": "regionlab.research.airlock.rules (see docs/airlock.md)",
            "threshold": sub.threshold,
            "zeros": sub.zeros,
            "nk_rule": {"n": NK_N, "k": NK_K},
            "p_ratio": P_RATIO,
            "min_residual_dof": SAFE_DOF,
            "differencing_against": sub.compared_with,
        },
        "verdict": sub.verdict,
        "findings": [f.model_dump() for f in sub.findings],
        "decision": {
            "status": sub.status,
            "by": sub.decided_by,
            "at": sub.decided_at.isoformat() if sub.decided_at else None,
            "reason": sub.reason,
        },
    }


def _release(
    sub: Submission,
    who: str,
    reason: str,
    table: ReadTable,
    data: bytes,
    audit: AuditStore,
) -> Submission:
    released = _strip_evidence(table, data)
    sub = sub.model_copy(
        update={
            "status": "released",
            "decided_by": who,
            "decided_at": datetime.now(UTC),
            "reason": reason,
            "released_sha256": hashlib.sha256(released).hexdigest(),
        }
    )
    folder = _folder(sub.project_id, sub.id) / "released"
    _write(folder / sub.filename, released)
    _write(
        folder / "manifest.json",
        (json.dumps(manifest(sub), indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    )
    _save(sub)
    audit.record_event(
        user=who if who != AUTO else sub.submitted_by,
        action="airlock.release",
        project=sub.project_id,
        subject=sub.id,
        details={
            "project": sub.project_id,
            "file": sub.filename,
            "decided_by": who,
            "reason": reason,
            "sha256_released": sub.released_sha256,
        },
    )
    return sub


def _pending(actor: Actor, sub_id: str, what: str) -> Submission:
    if actor.role != OUTPUT_CHECKER:
        raise UserError(f"{actor.name} ({actor.role}) may not {what} outputs; output checkers do")
    sub = get_submission(sub_id)
    if sub.status != "pending":
        raise UserError(f"output {sub_id} is {sub.status}; only pending outputs are decided")
    if sub.submitted_by == actor.name:
        raise UserError(f"{actor.name} submitted output {sub_id}; another checker decides it")
    return sub


def approve(actor: Actor, sub_id: str, *, reason: str, audit: AuditStore) -> Submission:
    """An output checker releases a queued output, with a reason.

    The permit is checked again (a file queued before the permit expired or was
    revoked does not leave after), and so is differencing against the outputs
    released since the file was queued: those the checker has not seen findings
    for. New findings keep the file queued, recorded on it for the checker.
    """
    sub = _pending(actor, sub_id, "approve")
    if not reason.strip():
        raise UserError("give a reason for releasing an output the rules did not pass")
    with _project_lock(sub.project_id):
        sub = _pending(actor, sub_id, "approve")  # decided meanwhile by another checker?
        _permit_valid(sub.project_id)
        path = _folder(sub.project_id, sub.id) / "submitted" / sub.filename
        data = path.read_bytes()
        table = read_bytes(data, sub.filename)
        _recheck(sub, table, audit, actor)
        return _release(sub, actor.name, reason, table, data, audit)


def _recheck(sub: Submission, table: ReadTable, audit: AuditStore, actor: Actor) -> None:
    """Differencing against outputs released after ``sub`` was checked; raise when it fails."""
    released_now = _released_tables(sub.project_id)
    unseen = [(name, counts) for name, counts in released_now if name not in sub.compared_with]
    if not unseen:
        return
    found = compare(long_counts(table.df, table.delimiter == ";"), unseen, sub.threshold)
    if not found:
        return
    held = sub.model_copy(
        update={
            "verdict": "fail",
            "findings": sub.findings + _finding_views(found),
            "compared_with": [name for name, _ in released_now],
        }
    )
    _save(held)
    audit.record_event(
        user=actor.name,
        action="airlock.recheck",
        project=sub.project_id,
        subject=sub.id,
        details={
            "project": sub.project_id,
            "file": sub.filename,
            "verdict": "fail",
            "findings": sorted({f"{f.severity}:{f.kind}" for f in found}),
        },
    )
    raise UserError(
        f"output {sub.id} stays queued: it fails differencing against "
        f"{len(unseen)} output(s) of project {sub.project_id} released after it was checked "
        f"({'; '.join(f.problem for f in found)}); see its findings, refuse it or ask the "
        "researcher to resubmit"
    )


def refuse(actor: Actor, sub_id: str, *, reason: str, audit: AuditStore) -> Submission:
    """An output checker refuses a queued output, with a reason for the researcher."""
    sub = _pending(actor, sub_id, "refuse")
    if not reason.strip():
        raise UserError("give the researcher a reason for the refusal")
    with _project_lock(sub.project_id):
        return _refuse(actor, _pending(actor, sub_id, "refuse"), reason, audit)


def _refuse(actor: Actor, sub: Submission, reason: str, audit: AuditStore) -> Submission:
    sub = sub.model_copy(
        update={
            "status": "refused",
            "decided_by": actor.name,
            "decided_at": datetime.now(UTC),
            "reason": reason,
        }
    )
    _save(sub)
    # A refused file never leaves, and may hold row-level data: only its hash is kept.
    (_folder(sub.project_id, sub.id) / "submitted" / sub.filename).unlink(missing_ok=True)
    audit.record_event(
        user=actor.name,
        action="airlock.refuse",
        project=sub.project_id,
        subject=sub.id,
        details={"project": sub.project_id, "file": sub.filename, "reason": reason},
    )
    return sub


def submitted(actor: Actor, sub_id: str) -> tuple[Submission, bytes]:
    """A queued file as submitted, for the output checker who must look at it."""
    if actor.role != OUTPUT_CHECKER:
        raise UserError(f"{actor.name} ({actor.role}) may not read queued outputs")
    sub = get_submission(sub_id)
    if sub.status != "pending":
        raise UserError(f"output {sub_id} is {sub.status}; only pending outputs are shown")
    return sub, (_folder(sub.project_id, sub.id) / "submitted" / sub.filename).read_bytes()


def released(actor: Actor, sub_id: str) -> tuple[Submission, bytes, dict[str, Any]]:
    """A released file and its manifest, for its submitter or an output checker."""
    sub = get_submission(sub_id)
    if actor.role != OUTPUT_CHECKER and sub.submitted_by != actor.name:
        raise UserError(f"output {sub_id} is not yours")
    if sub.status != "released":
        raise UserError(f"output {sub_id} is {sub.status}; only released outputs leave")
    folder = _folder(sub.project_id, sub.id) / "released"
    data = (folder / sub.filename).read_bytes()
    return sub, data, json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


__all__ = [
    "AUTO",
    "Actor",
    "Submission",
    "approve",
    "check_bytes",
    "get_submission",
    "list_submissions",
    "manifest",
    "refuse",
    "released",
    "submit",
    "submitted",
]
