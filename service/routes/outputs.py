"""The airlock over HTTP: researchers submit outputs, output checkers decide the queued ones.

A researcher submits a result file for a project whose permit they hold
(approved, not expired); the service checks it with the server's floor
(``min_cell``; a submission may ask for a higher threshold, never a lower
one) and releases it when every rule passes, otherwise queues it. An output
checker lists the queue and approves or refuses with a reason. The workflow,
the manifest and the audit entries are :mod:`regionlab.research.airlock.submissions`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from regionlab.errors import UserError
from regionlab.research.airlock import submissions as airlock
from regionlab.research.airlock.submissions import Submission
from regionlab.research.audit_store import AuditStore
from service.auth import allow
from service.identity import Identity
from service.roles import Role
from service.routes.audit import audit_store

router = APIRouter(prefix="/outputs", tags=["airlock"])

Researcher = Annotated[Identity, Depends(allow(Role.researcher))]
Checker = Annotated[Identity, Depends(allow(Role.output_checker))]
Either = Annotated[Identity, Depends(allow(Role.researcher, Role.output_checker))]
Store = Annotated[AuditStore, Depends(audit_store)]

T = TypeVar("T")


class OutputUpload(BaseModel):
    project_id: str = Field(description="The project whose permit the submitter holds.")
    filename: str = Field(description="File name with .csv, .tsv, .txt or .parquet suffix.")
    content_base64: str = Field(description="The file's bytes, base64-encoded.")
    threshold: int | None = Field(
        None, description="Smallest count allowed; default and minimum: the service's floor."
    )


class Reason(BaseModel):
    reason: str = Field(min_length=1, description="Why, in words the researcher reads.")


class SubmittedOutput(BaseModel):
    submission: Submission
    content_base64: str


class ReleasedOutput(BaseModel):
    submission: Submission
    content_base64: str
    manifest: dict[str, Any]


def _actor(who: Identity) -> airlock.Actor:
    return airlock.Actor(who.name, who.role.value)


def _run(call: Callable[[], T]) -> T:
    """The workflow's refusals (no permit, wrong state, below the floor) as 409."""
    try:
        return call()
    except UserError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


def _known_names() -> list[str]:
    from regionlab import codelists

    try:
        return codelists.load("names")["name"].to_list()
    except (UserError, OSError):
        return []


@router.post("", response_model=Submission)
def submit(body: OutputUpload, request: Request, who: Researcher, store: Store) -> Submission:
    """Submit a result file: released at once when every rule passes, else queued."""
    try:
        data = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, "content_base64: not valid base64"
        ) from None
    settings = request.app.state.settings
    return _run(
        lambda: airlock.submit(
            _actor(who),
            body.project_id,
            body.filename,
            data,
            audit=store,
            floor=settings.min_cell,
            threshold=body.threshold,
            zeros=settings.airlock_zeros,
            known_names=_known_names(),
        )
    )


@router.get("", response_model=list[Submission])
def outputs(who: Either, state: airlock.Status | None = None) -> list[Submission]:
    """A researcher's own submissions, or all for an output checker (``state`` filters)."""
    return airlock.list_submissions(_actor(who), state)


@router.post("/{submission_id}/approve", response_model=Submission)
def approve(submission_id: str, body: Reason, who: Checker, store: Store) -> Submission:
    """Release a queued output with a reason (output checker; not one's own)."""
    return _run(
        lambda: airlock.approve(_actor(who), submission_id, reason=body.reason, audit=store)
    )


@router.post("/{submission_id}/refuse", response_model=Submission)
def refuse(submission_id: str, body: Reason, who: Checker, store: Store) -> Submission:
    """Refuse a queued output with a reason for the researcher."""
    return _run(lambda: airlock.refuse(_actor(who), submission_id, reason=body.reason, audit=store))


@router.get("/{submission_id}/submitted", response_model=SubmittedOutput)
def submitted(submission_id: str, who: Checker) -> SubmittedOutput:
    """A queued file as submitted, for the output checker deciding it."""
    sub, data = _run(lambda: airlock.submitted(_actor(who), submission_id))
    return SubmittedOutput(submission=sub, content_base64=base64.b64encode(data).decode("ascii"))


@router.get("/{submission_id}/released", response_model=ReleasedOutput)
def released(submission_id: str, who: Either) -> ReleasedOutput:
    """A released file and its manifest (its submitter, or an output checker)."""
    sub, data, manifest = _run(lambda: airlock.released(_actor(who), submission_id))
    return ReleasedOutput(
        submission=sub, content_base64=base64.b64encode(data).decode("ascii"), manifest=manifest
    )
