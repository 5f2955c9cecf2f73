"""Opening a workspace from the researcher's own process: the key, under a valid permit.

In the multi-user profile a researcher's account cannot read the workspace
keys (``var/secrets`` is the service's). ``POST /workspaces/{project}/open``
hands the permit holder what their client needs to attach the encrypted file
read-only — its path and key — after checking that the caller holds the
project's approved, unexpired permit; every hand-over is audited
(``workspace.open``). The checks and the trade-off are
:mod:`regionlab.research.workspace_grant`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status

from regionlab.errors import UserError
from regionlab.research.audit_store import AuditStore
from regionlab.research.workspace_grant import (
    NoSuchProject,
    PermitRefused,
    WorkspaceGrant,
    grant_workspace,
)
from service.auth import allow
from service.identity import Identity
from service.roles import Role
from service.routes.audit import audit_store

router = APIRouter(prefix="/workspaces", tags=["workspaces"])

Researcher = Annotated[Identity, Depends(allow(Role.researcher))]
Store = Annotated[AuditStore, Depends(audit_store)]


@router.post("/{project_id}/open", response_model=WorkspaceGrant)
def open_workspace(
    project_id: str, who: Researcher, store: Store, response: Response
) -> WorkspaceGrant:
    """The path and key of the project's encrypted workspace, for its permit holder only.

    403 when the caller does not hold the project's approved, unexpired permit; 404
    when the project has no permit application; 409 when there is no workspace built
    for the current permit.
    """
    try:
        grant = grant_workspace(who.name, who.role.value, project_id, audit=store)
    except PermitRefused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except NoSuchProject as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except UserError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    response.headers["Cache-Control"] = "no-store"
    return grant
