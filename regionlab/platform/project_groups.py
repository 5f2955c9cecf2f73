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
* the manifest and other files: 0640, the encrypted DuckDB file too: a member's
  own process attaches it read-only with the key the access service hands to the
  permit holder (``POST /workspaces/{project}/open``); without that key the bytes
  are useless, and the key itself stays in ``var/secrets/workspaces`` (service only);
  a DuckDB file that is not encrypted (built before workspaces were) stays 0600;
* ``outputs/``: 2770, where members write results for the output check.

Members can write ``outputs/``, so the walk that sets these never follows a
symlink and skips anything that is not a regular file or directory, and hard
links (a planted link must not hand root's chown/chmod to a file elsewhere).

A non-member can neither list nor read the folder. The group is not deleted by
the sweep (deleting groups needs root); ``groupdel rl-<project>`` after the sweep.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
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


_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


#: DuckDB's main header: an 8-byte checksum, ``DUCK``, the version (8 bytes), then the
#: flags, whose lowest bit marks an encrypted database.
_DUCKDB_MAGIC = b"DUCK"
_DUCKDB_HEADER = 28
_DUCKDB_ENCRYPTED = 1


def _plain_duckdb(fd: int) -> bool:
    """True for a DuckDB database file that is not encrypted (read from its header).

    A workspace built before workspaces were encrypted is plain data; giving it to the
    group would let every member read it without the permit holder's key.
    """
    head = os.pread(fd, _DUCKDB_HEADER, 0)
    if len(head) < _DUCKDB_HEADER or head[8:12] != _DUCKDB_MAGIC:
        return False
    return not int.from_bytes(head[20:28], "little") & _DUCKDB_ENCRYPTED


def _file_mode(name: str, in_outputs: bool, plain_duckdb: bool = False) -> int:
    if DUCKDB_SUFFIX in name:
        # The workspace file is encrypted; members attach it with the key the service hands
        # the permit holder. A DuckDB file in outputs/ stays the service's, as before, and
        # so does an unencrypted one (built before workspaces were encrypted).
        return 0o600 if in_outputs or plain_duckdb else 0o640
    return 0o660 if in_outputs else 0o640


def _give_file(name: str, dir_fd: int, in_outputs: bool, uid: int, gid: int) -> None:
    """chown/chmod one regular file through its own descriptor, never through a link.

    Members write ``outputs/``: a symlink there is never followed (O_NOFOLLOW), a
    FIFO or device is never opened, and a hard link (st_nlink > 1) is skipped, since
    it may be a name for a file outside the workspace.
    """
    try:
        if not stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:  # gone, or swapped for a symlink since the listing (ELOOP)
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            return
        os.fchown(fd, uid, gid)
        plain = DUCKDB_SUFFIX in name and _plain_duckdb(fd)
        os.fchmod(fd, _file_mode(name, in_outputs, plain))
    finally:
        os.close(fd)


def _give_tree(folder: Path, outputs: Path, uid: int, gid: int) -> None:
    """Give ``folder`` and everything really inside it to the owner and the project group.

    Runs as root over a tree members can write into, so it walks with
    :func:`os.fwalk` without following symlinks (a planted link to ``/etc`` or
    ``var/secrets`` is neither descended into nor changed) and changes every
    directory through the descriptor fwalk opened for it.
    """
    for root, _dirs, files, root_fd in os.fwalk(folder, follow_symlinks=False):
        here = Path(root)
        os.fchown(root_fd, uid, gid)
        os.fchmod(root_fd, 0o2770 if here == outputs else 0o2750)
        in_outputs = here == outputs or outputs in here.parents
        for name in files:
            _give_file(name, root_fd, in_outputs, uid, gid)


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
    _give_tree(folder, outputs, uid, gid)
    return ProjectAccess(project_id, group, tuple(sorted(set(members))), folder)


__all__ = ["ProjectAccess", "group_name", "provision_project"]
