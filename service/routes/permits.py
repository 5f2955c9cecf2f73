"""Permit applications over HTTP, with separation of duties.

A researcher applies and lists their own applications; an access officer
lists all, approves (only approval registers the permit; ``replace=true``
replaces a registered one), refuses with a reason or marks an application
incomplete. The applicant and the decider are the token's identities; the
workflow and its EHDS clocks are :mod:`regionlab.research.permit_workflow`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from regionlab.errors import UserError
from regionlab.research import permit_workflow as wf
from regionlab.research.audit_store import AuditStore
from regionlab.research.permits import Permit
from service.auth import allow
from service.identity import Identity
from service.roles import Role
from service.routes.audit import audit_store

router = APIRouter(prefix="/permits", tags=["permits"])

Researcher = Annotated[Identity, Depends(allow(Role.researcher))]
Officer = Annotated[Identity, Depends(allow(Role.access_officer))]
ResearcherOrOfficer = Annotated[Identity, Depends(allow(Role.researcher, Role.access_officer))]
Store = Annotated[AuditStore, Depends(audit_store)]

T = TypeVar("T")


class ApplicationView(BaseModel):
    """An application with its next deadline (EHDS clocks) and whether it has passed."""

    project_id: str
    applicant: str
    status: wf.Status
    submitted_on: date
    complete_on: date | None
    incomplete_on: date | None
    decided_on: date | None
    decided_by: str | None
    reason: str | None
    due: date | None
    due_what: str
    overdue: bool
    permit: Permit


class Reason(BaseModel):
    reason: str = Field(min_length=1, description="Why, in words the applicant reads.")


def _view(app: wf.Application) -> ApplicationView:
    return ApplicationView(
        **app.model_dump(exclude={"permit"}),
        permit=app.permit,
        due=app.due,
        due_what=app.due_what,
        overdue=app.overdue(),
    )


def _actor(who: Identity) -> wf.Actor:
    return wf.Actor(who.name, who.role.value)


def _run(call: Callable[[], T]) -> T:
    """The workflow's refusals (wrong state, unknown project, specs) as 409 with its message."""
    try:
        return call()
    except UserError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.post("/applications", response_model=ApplicationView)
def apply(permit: Permit, who: Researcher, store: Store) -> ApplicationView:
    """Apply for a permit; the cohort must be inline (the service reads no client paths)."""
    if isinstance(permit.cohort, str):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, "cohort: send the cohort inline, not a path"
        )
    return _view(_run(lambda: wf.apply(_actor(who), permit, audit=store)))


@router.get("/applications", response_model=list[ApplicationView])
def applications(who: ResearcherOrOfficer) -> list[ApplicationView]:
    """A researcher's own applications, or every application for an access officer."""
    return [_view(a) for a in _run(lambda: wf.list_applications(_actor(who)))]


@router.post("/applications/{project_id}/approve", response_model=ApplicationView)
def approve(project_id: str, who: Officer, store: Store, replace: bool = False) -> ApplicationView:
    """Approve and register the permit (``replace=true`` replaces a registered one)."""
    return _view(_run(lambda: wf.approve(_actor(who), project_id, replace=replace, audit=store)))


@router.post("/applications/{project_id}/refuse", response_model=ApplicationView)
def refuse(project_id: str, body: Reason, who: Officer, store: Store) -> ApplicationView:
    """Refuse with a reason; nothing is registered."""
    return _view(_run(lambda: wf.refuse(_actor(who), project_id, reason=body.reason, audit=store)))


@router.post("/applications/{project_id}/incomplete", response_model=ApplicationView)
def incomplete(project_id: str, body: Reason, who: Officer, store: Store) -> ApplicationView:
    """Ask for the missing parts; the applicant has 4 weeks to complete the application."""
    return _view(
        _run(lambda: wf.incomplete(_actor(who), project_id, reason=body.reason, audit=store))
    )
