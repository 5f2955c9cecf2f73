"""The audit store over HTTP: verify, review and checkpoint (access officer and DPO only).

Researchers never read the audit store: a series of other users' definitions
is itself sensitive, and a researcher's own history is what the differencing
defence reads on the server. The store is a dependency (:func:`audit_store`)
so tests and deployments can hand in another one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from regionlab.research.audit_store import AuditEntry, AuditStore, VerifyReport, open_store
from service.auth import allow
from service.identity import Identity
from service.roles import Role

router = APIRouter(prefix="/audit", tags=["audit"])

Reviewer = Annotated[Identity, Depends(allow(Role.access_officer, Role.dpo))]


def audit_store() -> AuditStore:
    """The configured audit store (SQLite embedded, PostgreSQL multi-user)."""
    return open_store()


Store = Annotated[AuditStore, Depends(audit_store)]


class CheckpointWritten(BaseModel):
    file: str


@router.get("/verify", response_model=VerifyReport)
def verify(who: Reviewer, store: Store) -> VerifyReport:
    """Every problem in the MAC chain and the signed checkpoints (empty list: intact)."""
    return store.verify()


@router.get("/entries", response_model=list[AuditEntry])
def entries(
    who: Reviewer, store: Store, user: str | None = None, since: datetime | None = None
) -> list[AuditEntry]:
    """Entries oldest first, optionally of one user and since a time (UTC)."""
    return store.entries(user=user, since=since)


@router.post("/checkpoint", response_model=CheckpointWritten)
def checkpoint(who: Reviewer, store: Store) -> CheckpointWritten:
    """Write a signed checkpoint of the chain's head now."""
    name = store.checkpoint()
    store.record_event(user=who.name, action="audit.checkpoint-requested", subject=name, details={})
    return CheckpointWritten(file=name)
