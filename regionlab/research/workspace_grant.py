"""Handing a workspace to a researcher's own process: the key, only under a valid permit.

In the embedded profile the researcher's process is the platform's and reads
the project's workspace key from ``var/secrets/workspaces`` itself. In the
multi-user profile it cannot (``var/secrets`` is the service account's, 0700),
so the access service hands it over: :func:`grant_workspace` is what
``POST /workspaces/{project}/open`` runs. It gives the key and the path of the
encrypted file only to a researcher who holds the project's permit — the
applicant of an approved application whose permit has not expired and is the
one registered — and only for a workspace built for that very permit. Each
grant is an audit entry (``workspace.open``) naming the project, the lake
snapshot and a fingerprint of the key (never the key).

The client (:func:`regionlab.research.workspace.attach_granted`) attaches the
file read-only with the key and then locks the connection exactly as the
embedded ``open_workspace`` does, so no other file is reachable from it.

The trade-off, stated in ``docs/airlock.md`` and ``docs/architecture.md``: a
client that received the key could keep it, and a member of the project
group can copy the encrypted file. What bounds that: only members of the
per-project OS group ``rl-<project>`` can read the file at all (the folder
is 2750, the file 0640, other accounts get nothing); every hand-over is
audited; and at expiry the sweep deletes the file, and the key with it, so a
kept key opens nothing that is left on the platform. A copy taken out of the
workspace folder before expiry is the same risk as any extract a permit
holder makes, and is what the permit's terms (not the software) forbid.
"""

from __future__ import annotations

import hashlib
from datetime import date

from pydantic import BaseModel, Field

from regionlab.errors import UserError
from regionlab.research import permit_workflow as wf
from regionlab.research.audit_store import AuditStore
from regionlab.research.permits import get_permit
from regionlab.research.workspace import read_manifest, workspace_path
from regionlab.research.workspace_crypto import read_key
from regionlab.settings import get_settings

WORKSPACE_OPEN = "workspace.open"
RESEARCHER = "researcher"


class PermitRefused(UserError):
    """The caller may not open this project's workspace (the service answers 403)."""


class NoSuchProject(UserError):
    """No permit application for this project at all (the service answers 404)."""


class WorkspaceGrant(BaseModel):
    """What a permit holder's process needs to attach its workspace read-only."""

    project_id: str
    path: str = Field(description="Absolute path of the encrypted workspace file.")
    key: str = Field(description="The file's encryption key (hex); never stored by the client.")
    expires: date = Field(description="The permit's last valid day.")
    lake_snapshot: int
    permit_hash: str
    tables: list[str] = Field(description="Tables in the file, e.g. laboratory.lab_results.")


def _refuse(project_id: str, why: str) -> PermitRefused:
    return PermitRefused(f"project {project_id}: {why}; nothing opens without a valid permit")


def _check_holder(user: str, role: str, project_id: str, today: date | None) -> None:
    """The caller is the researcher holding the approved, unexpired, registered permit.

    The holder is the applicant of the project's application; while its registered
    permit runs, nobody else can replace that application.
    """
    if role != RESEARCHER:
        raise _refuse(project_id, f"{user} ({role}) may not open workspaces; researchers do")
    try:
        application = wf.get_application(project_id)
    except UserError:
        raise NoSuchProject(
            f"project {project_id}: no permit application exists; check the project id "
            "(`regionlab permit list`)"
        ) from None
    if application.applicant != user:
        raise _refuse(project_id, f"{user} does not hold its permit")
    try:
        permit = get_permit(project_id)
    except UserError:
        why = (
            "the permit is not registered (withdrawn)"
            if application.status == "approved"
            else f"the application is {application.status}, not approved"
        )
        raise _refuse(project_id, why) from None
    # A later application by the holder (an extension, pending, incomplete or refused)
    # leaves the permit approved before it registered and in force: the registered
    # permit's expiry is what counts then. Only its holder can apply while it runs
    # (permit_workflow.apply), so the applicant is still the holder.
    approved = application.status == "approved"
    for expires in (application.permit.expires, permit.expires) if approved else (permit.expires,):
        if (today or date.today()) > expires:
            raise _refuse(
                project_id,
                f"the permit expired on {expires.isoformat()} (the workspace is deleted by the "
                "sweep); apply for an extension with `regionlab permit apply`",
            )


def grant_workspace(
    user: str,
    role: str,
    project_id: str,
    *,
    audit: AuditStore,
    today: date | None = None,
) -> WorkspaceGrant:
    """The key and path of ``project_id``'s workspace for its permit holder; audited.

    :class:`PermitRefused` when the caller does not hold a valid permit; a plain
    :class:`UserError` when the workspace is not (or no longer) there to open.
    """
    _check_holder(user, role, project_id, today)
    permit = get_permit(project_id)
    manifest = read_manifest(project_id)
    if manifest.permit_hash != permit.fingerprint() or not manifest.encrypted:
        raise UserError(
            f"the workspace of {project_id} was built for an earlier version of its permit; "
            f"the platform operator rebuilds it with `regionlab workspace build {project_id}`"
        )
    key = read_key(project_id)
    path = workspace_path(project_id)
    audit.record_event(
        user=user,
        action=WORKSPACE_OPEN,
        project=project_id,
        subject=project_id,
        details={
            "project": project_id,
            "file": str(path.relative_to(get_settings().var_dir)),
            "lake_snapshot": manifest.lake_snapshot,
            "permit_hash": manifest.permit_hash,
            "key_fingerprint": hashlib.sha256(key.encode("ascii")).hexdigest()[:16],
        },
    )
    return WorkspaceGrant(
        project_id=project_id,
        path=str(path),
        key=key,
        expires=permit.expires,
        lake_snapshot=manifest.lake_snapshot,
        permit_hash=manifest.permit_hash,
        tables=[p.table for p in manifest.products],
    )


__all__ = ["WORKSPACE_OPEN", "NoSuchProject", "PermitRefused", "WorkspaceGrant", "grant_workspace"]
