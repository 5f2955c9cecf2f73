"""``POST /feasibility``: a cohort count, suppressed and audited, for researchers only.

The caller's name is the token's; the threshold floor is the service's
setting. A client may ask for a higher threshold, never a lower one (422).
Access officers and the DPO are not admitted: they review the series of
queries in the audit store, they do not ask counts themselves (separation of
duties), and every other role has no use for cohort counts.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from regionlab.research.answer import FeasibilityAnswer
from service.auth import allow
from service.identity import Identity
from service.roles import Role

router = APIRouter(tags=["research"])

_account_locks: dict[str, threading.Lock] = {}
_account_locks_guard = threading.Lock()


def account_lock(name: str) -> threading.Lock:
    """This process's lock of one account (the first of the two locks a request takes).

    Held from the defence's history read to the audit write: without it,
    requests of one account sent all at once each read the history before any
    of them was recorded, and all passed the lockout and the budget (16
    identical queries were answered against a limit of 10). The audit store's
    own per-account lock (:meth:`AuditStore.account_lock`: SQLite in the
    embedded profile, a PostgreSQL advisory lock in the multi-user one) is taken
    inside it and holds across uvicorn workers and hosts; this in-process lock
    keeps a process's threads from polling the database lock. Other accounts are
    not held up.
    """
    with _account_locks_guard:
        return _account_locks.setdefault(name, threading.Lock())


class CohortQuery(BaseModel):
    """A cohort definition (as in ``cohorts/*.yaml``) and the terms it is counted on."""

    model_config = ConfigDict(extra="forbid")

    cohort: dict[str, Any] = Field(description="The cohort definition, as in cohorts/*.yaml.")
    snapshot: int | None = Field(default=None, description="Lake snapshot (default: newest).")
    threshold: int | None = Field(
        default=None,
        description="Hide counts below this; at least the service's floor (default: the floor).",
    )
    project: str | None = Field(default=None, description="The project the query is for.")


class FeasibilityRequest(CohortQuery):
    """A cohort definition and how to split its count."""

    by: list[str] = Field(
        default_factory=list, description="Split by: sex, age_band, municipality (0 to 3)."
    )


def _policy(request: Request) -> tuple[Any, Any, bytes | None]:
    """The service's settings, its differencing policy (``None``: off) and its noise key."""
    from regionlab.research.disclosure import server_secret

    settings = request.app.state.settings
    defence = settings.disclosure if settings.disclosure.enabled else None
    return settings, defence, server_secret() if defence is not None else None


@router.post("/feasibility", response_model=FeasibilityAnswer)
def feasibility(
    body: FeasibilityRequest,
    request: Request,
    who: Annotated[Identity, Depends(allow(Role.researcher))],
) -> FeasibilityAnswer:
    """Count a cohort's unique persons with small-cell suppression; every query is audited."""
    from regionlab.research.audit_store import open_store
    from regionlab.research.feasibility import feasibility as count

    settings, defence, secret = _policy(request)
    store = open_store()
    with account_lock(who.name), store.account_lock(who.name):
        result = count(
            body.cohort,
            body.by,
            user=who.name,
            floor=settings.min_cell,
            snapshot=body.snapshot,
            threshold=body.threshold,
            rounding=settings.rounding,
            project=body.project,
            audit_store=store,
            connect=request.app.state.lake.connect,
            defence=defence,
            secret=secret,
        )
    return FeasibilityAnswer.from_result(result, user=who.name)


class AttritionStep(BaseModel):
    label: str
    """``person filters``, ``include[i] <kind>`` or ``exclude[j] <kind>``."""
    display: int | str
    """People left after this rule, as shown (hidden marker, or protected like a count)."""


class AttritionAnswer(BaseModel):
    """Displayed attrition only: no hidden count crosses the boundary."""

    user: str
    snapshot_id: int
    threshold: int
    steps: list[AttritionStep]
    audit_entry_id: str | None


@router.post("/feasibility/attrition", response_model=AttritionAnswer)
def attrition(
    body: CohortQuery,
    request: Request,
    who: Annotated[Identity, Depends(allow(Role.researcher))],
) -> AttritionAnswer:
    """People left after each inclusion rule, each step suppressed and guarded; audited."""
    from regionlab import lake
    from regionlab.research.attrition import attrition as steps
    from regionlab.research.audit_store import open_store
    from regionlab.research.feasibility import check_threshold

    settings, defence, secret = _policy(request)
    threshold = check_threshold(body.threshold, settings.min_cell)
    pool = request.app.state.lake

    def read(snapshot: int | None) -> tuple[Any, int]:
        # The lake's own keys (never the in-memory copy's numbers): the noise is keyed by them.
        if snapshot is None:
            shared = pool.lake_read()
            return shared.con, shared.snapshot_id
        con = lake.connect(read_only=True, snapshot=snapshot)
        return con, lake.current_snapshot(con)

    store = open_store()
    with account_lock(who.name), store.account_lock(who.name):
        result = steps(
            body.cohort,
            user=who.name,
            project=body.project,
            snapshot=body.snapshot,
            threshold=threshold,
            defence=defence,
            secret=secret,
            audit_store=store,
            read=read,
            rounding=settings.rounding,
        )
    return AttritionAnswer(
        user=who.name,
        snapshot_id=result.snapshot_id,
        threshold=result.threshold,
        steps=[AttritionStep(label=label, display=shown) for label, shown in result.steps],
        audit_entry_id=result.audit_entry_id,
    )
