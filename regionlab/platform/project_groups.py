"""A project's workspace folder belongs to the project: one OS group per project.

In the multi-user profile ``regionlab harden`` gives ``var/research`` to the
service's account alone. A project's members still need a place that is
theirs and nobody else's: the manifest to read, an ``outputs/`` folder to hand
results to the airlock. :func:`provision_project` (run as root by the service's
operator, ``regionlab workspace provision``) creates the group ``rl-<project>``,
adds the members, and sets:

* ``research/`` and ``research/workspaces/``: 0711 (traversable by path, not
  listable; every other folder under ``research/`` stays 0700);
* ``research/workspaces/<project>/``: service account, project group, 2750;
* the manifest and other files: 0640; the DuckDB file and its WAL: 0600, because
  it is opened only by the service's code with a key the group never sees
  (``var/secrets/workspaces``, service only);
* ``outputs/``: 2770, where members write results for the output check.

A non-member can neither list nor read the folder. The group is not deleted by
the sweep (deleting groups needs root); ``groupdel rl-<project>`` after the sweep.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from regionlab.errors import UserError
from regionlab.settings import DUCKDB_SUFFIX, Settings

GROUP_PREFIX = "rl-"
MAX_GROUP = 32  # Linux group names


def group_name(project_id: str) -> str:
    """``rl-<project>``; a long project id is shortened with a digest so names stay unique."""
    name = GROUP_PREFIX + project_id
    if len(name) <= MAX_GROUP:
        return name
    digest = hashlib.sha256(project_id.encode()).hexdigest()[:8]
    return f"{GROUP_PREFIX}{project_id[: MAX_GROUP - len(GROUP_PREFIX) - 9]}-{digest}"


@dataclass(frozen=True)
class ProjectAccess:
    project_id: str
    group: str
    members: tuple[str, ...]
    folder: Path


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"{' '.join(args[:2])} failed: {result.stderr.strip()}")


def _ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run(["groupadd", "--system", name])
        return grp.getgrnam(name).gr_gid


def provision_project(
    settings: Settings, project_id: str, owner: str, members: list[str]
) -> ProjectAccess:
    """Create the project's group, add ``members`` and give it the project's folder."""
    if os.geteuid() != 0:
        raise UserError("provisioning a project group changes groups and ownership: run as root")
    accounts = {}
    for name in [owner, *members]:
        try:
            accounts[name] = pwd.getpwnam(name)
        except KeyError:
            raise UserError(
                f"no OS account {name!r}; create it first (useradd {name}) or fix the name"
            ) from None
    group = group_name(project_id)
    gid = _ensure_group(group)
    current = set(grp.getgrnam(group).gr_mem)
    for member in members:
        if member not in current:
            _run(["gpasswd", "-a", member, group])
    uid = accounts[owner].pw_uid
    for parent in (settings.research_dir, settings.workspaces_dir):
        parent.mkdir(parents=True, exist_ok=True)
        parent.chmod(0o711)
    folder = settings.workspace_dir(project_id)
    outputs = folder / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            path = Path(root) / name
            os.chown(path, uid, gid, follow_symlinks=False)
            path.chmod(0o2770 if path == outputs else 0o2750)
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            os.chown(path, uid, gid)
            inside_outputs = outputs in path.parents
            if DUCKDB_SUFFIX in path.name:
                path.chmod(0o600)
            else:
                path.chmod(0o660 if inside_outputs else 0o640)
    os.chown(folder, uid, gid)
    folder.chmod(0o2750)
    return ProjectAccess(project_id, group, tuple(sorted(set(members))), folder)


__all__ = ["ProjectAccess", "group_name", "provision_project"]
