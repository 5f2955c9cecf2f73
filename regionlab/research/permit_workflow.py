"""Permit applications with separation of duties and the EHDS clocks.

A researcher applies; an access officer approves, refuses (with a reason) or
finds the application incomplete; only approval registers the permit
(:func:`regionlab.research.permits.register_permit`), and replacing a
registered permit is part of an officer's approval (``replace=True``), never
the applicant's. The applicant is the caller's identity (from the token), not
a field of the file. Every change is recorded in the audit store.

Clocks (EHDS, Regulation (EU) 2025/327, art. 68): a decision is due within
**3 months** of a complete application; an application found incomplete must be
completed within **4 weeks** (the applicant applies again with the missing
parts, which restarts the 3 months). An application is complete when it
passes every check against the specs, or when the applicant re-applies after
being told it was incomplete.
"""

from __future__ import annotations

import calendar
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from regionlab.errors import UserError
from regionlab.research.audit_store import AuditStore, open_store
from regionlab.research.permits import (
    Permit,
    check_against_specs,
    get_permit,
    register_permit_object,
    registered_path,
)
from regionlab.settings import get_settings

RESEARCHER = "researcher"
ACCESS_OFFICER = "access-officer"
DECISION_MONTHS = 3
COMPLETION_DAYS = 28

Status = Literal["pending", "incomplete", "approved", "refused"]


@dataclass(frozen=True)
class Actor:
    """Who acts: the verified caller's name and role (the service passes its Identity's)."""

    name: str
    role: str


class Application(BaseModel):
    """One project's current application and where it stands."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    applicant: str
    """The identity that applied (from the token)."""
    status: Status
    submitted_on: date
    complete_on: date | None
    """When it became complete: the 3-month clock starts here."""
    incomplete_on: date | None = None
    """When the officer found it incomplete: the 4-week clock starts here."""
    decided_on: date | None = None
    decided_by: str | None = None
    reason: str | None = None
    permit: Permit

    @property
    def due(self) -> date | None:
        """The next deadline: the decision (pending) or the completion (incomplete)."""
        if self.status == "pending" and self.complete_on is not None:
            return add_months(self.complete_on, DECISION_MONTHS)
        if self.status == "incomplete" and self.incomplete_on is not None:
            return self.incomplete_on + timedelta(days=COMPLETION_DAYS)
        return None

    @property
    def due_what(self) -> str:
        return {"pending": "decision", "incomplete": "completion"}.get(self.status, "")

    def overdue(self, today: date | None = None) -> bool:
        return self.due is not None and (today or date.today()) > self.due


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, or the month's last day (30 Nov + 3 months = 28 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def applications_dir() -> Path:
    return get_settings().research_dir / "applications"


def _path(project_id: str) -> Path:
    return applications_dir() / f"{project_id}.json"


def _save(app: Application) -> None:
    folder = applications_dir()
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{app.project_id}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(app.model_dump_json(indent=2))
    os.replace(tmp, _path(app.project_id))


def get_application(project_id: str) -> Application:
    path = _path(project_id)
    if not path.is_file():
        raise UserError(f"no application for project {project_id!r}; see `regionlab permit list`")
    return Application.model_validate(json.loads(path.read_text(encoding="utf-8")))


def _require(actor: Actor, role: str, action: str) -> None:
    if actor.role != role:
        raise UserError(
            f"{actor.name} ({actor.role}) may not {action}: only the {role} role may; "
            "separation of duties keeps applying and deciding apart"
        )


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def _held(project_id: str, day: date) -> bool:
    """A registered permit is in force for the project: its application is its holder's.

    The access service hands the workspace key to that application's applicant
    (:mod:`regionlab.research.workspace_grant`), so another researcher's application
    must not replace it while the permit runs.
    """
    return registered_path(project_id).is_file() and not get_permit(project_id).expired(day)


def apply(
    actor: Actor, permit: Permit, *, today: date | None = None, audit: AuditStore | None = None
) -> Application:
    """Store a researcher's application as pending (checked against the specs first)."""
    _require(actor, RESEARCHER, "apply for a permit")
    day = _today(today)
    check_against_specs(permit, f"application {permit.project_id}")
    if permit.expires <= day:
        raise UserError(
            f"application {permit.project_id}: expires: {permit.expires.isoformat()} is not in "
            "the future; ask for a later expiry"
        )
    previous = get_application(permit.project_id) if _path(permit.project_id).is_file() else None
    submitted = day
    if previous and previous.status == "pending":
        raise UserError(
            f"project {permit.project_id} already has a pending application (since "
            f"{previous.submitted_on.isoformat()}); wait for the access officer's decision"
        )
    if previous and previous.applicant != actor.name and _held(permit.project_id, day):
        raise UserError(
            f"project {permit.project_id}'s permit is held by {previous.applicant} until "
            f"{get_permit(permit.project_id).expires.isoformat()}; only they can apply to "
            "extend or amend it: apply under a new project id"
        )
    if previous and previous.applicant != actor.name and previous.status == "incomplete":
        raise UserError(
            f"project {permit.project_id}'s incomplete application belongs to "
            f"{previous.applicant}; only they can complete it"
        )
    if previous and previous.status == "incomplete":
        submitted = previous.submitted_on  # completing it: the 3 months start now
    app = Application(
        project_id=permit.project_id,
        applicant=actor.name,
        status="pending",
        submitted_on=submitted,
        complete_on=day,
        permit=permit,
    )
    _save(app)
    (audit or open_store()).record_event(
        user=actor.name,
        action="permit.apply",
        subject=permit.project_id,
        details={
            "permit_sha256": permit.fingerprint(),
            "products": [g.product for g in permit.products],
            "expires": permit.expires.isoformat(),
            "completes_earlier": bool(previous and previous.status == "incomplete"),
        },
    )
    return app


def _pending(actor: Actor, project_id: str, action: str) -> Application:
    _require(actor, ACCESS_OFFICER, action)
    app = get_application(project_id)
    if app.status != "pending":
        raise UserError(
            f"project {project_id}'s application is {app.status}, not pending; "
            "only a pending application can be decided"
        )
    if app.applicant == actor.name:
        raise UserError(f"{actor.name} applied for {project_id} and cannot also decide it")
    return app


def approve(
    actor: Actor,
    project_id: str,
    *,
    replace: bool = False,
    today: date | None = None,
    audit: AuditStore | None = None,
) -> Application:
    """Approve and register the permit; ``replace`` a registered one (officer only)."""
    app = _pending(actor, project_id, "approve a permit")
    day = _today(today)
    register_permit_object(app.permit, replace=replace, today=day)
    decided = app.model_copy(
        update={"status": "approved", "decided_on": day, "decided_by": actor.name}
    )
    _save(decided)
    (audit or open_store()).record_event(
        user=actor.name,
        action="permit.replace" if replace else "permit.approve",
        subject=project_id,
        details={
            "applicant": app.applicant,
            "permit_sha256": app.permit.fingerprint(),
            "decided_in_time": not app.overdue(day),
        },
    )
    return decided


def _close(
    actor: Actor,
    project_id: str,
    status: Status,
    reason: str,
    today: date | None,
    audit: AuditStore | None,
) -> Application:
    if not reason.strip():
        raise UserError(f"give a reason (--reason) when marking an application {status}")
    app = _pending(actor, project_id, f"mark an application {status}")
    day = _today(today)
    update: dict[str, object] = {"status": status, "reason": reason, "decided_by": actor.name}
    update |= {"incomplete_on": day} if status == "incomplete" else {"decided_on": day}
    changed = app.model_copy(update=update)
    _save(changed)
    (audit or open_store()).record_event(
        user=actor.name,
        action=f"permit.{'refuse' if status == 'refused' else 'incomplete'}",
        subject=project_id,
        details={"applicant": app.applicant, "reason": reason},
    )
    return changed


def refuse(
    actor: Actor,
    project_id: str,
    *,
    reason: str,
    today: date | None = None,
    audit: AuditStore | None = None,
) -> Application:
    """Refuse with a reason; nothing is registered."""
    return _close(actor, project_id, "refused", reason, today, audit)


def incomplete(
    actor: Actor,
    project_id: str,
    *,
    reason: str,
    today: date | None = None,
    audit: AuditStore | None = None,
) -> Application:
    """Tell the applicant what is missing; they have 4 weeks to complete it."""
    return _close(actor, project_id, "incomplete", reason, today, audit)


def list_applications(actor: Actor) -> list[Application]:
    """An officer sees every application, a researcher their own."""
    folder = applications_dir()
    apps = (
        [get_application(p.stem) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    )
    if actor.role == ACCESS_OFFICER:
        return apps
    if actor.role == RESEARCHER:
        return [a for a in apps if a.applicant == actor.name]
    raise UserError(f"{actor.name} ({actor.role}) may not list permit applications")


__all__ = [
    "ACCESS_OFFICER",
    "COMPLETION_DAYS",
    "DECISION_MONTHS",
    "RESEARCHER",
    "Actor",
    "Application",
    "add_months",
    "applications_dir",
    "apply",
    "approve",
    "get_application",
    "incomplete",
    "list_applications",
    "refuse",
]
