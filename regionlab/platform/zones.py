"""Who may read which place under ``var/`` when the access service is the trust boundary.

In the multi-user profile the access service runs as its own OS account and is
the only process that holds the lake, the key, the quarantine and the audit
store; researchers reach data through its HTTP API. That promise is kept by the
operating system, not by the client: :func:`harden` gives every place that can
hold person data, a secret or an audit trail to the service account alone
(folders 0700, files 0600) and leaves only the published metadata (catalogue,
DataHub Lite) readable by everyone. ``var/`` itself becomes traversable but not
listable (0711), so a researcher can open the catalogue site's files by path
and nothing else.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from regionlab.errors import UserError
from regionlab.settings import LOCATIONS, Settings

#: The only top-level places anyone may read: metadata with counts, no person rows.
READABLE_BY_ALL: frozenset[str] = frozenset({"catalog", "datahub"})

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
PUBLIC_DIR, PUBLIC_FILE = 0o755, 0o644
VAR_DIR_MODE = 0o711


@dataclass(frozen=True)
class Zone:
    folder: Path
    private: bool


def zones(settings: Settings) -> list[Zone]:
    """Every declared top-level place under ``var/`` with its readability."""
    return [
        Zone(settings.var_dir / loc.folder, loc.folder not in READABLE_BY_ALL) for loc in LOCATIONS
    ]


def _walk(folder: Path) -> Iterator[tuple[Path, bool]]:
    """The folder and everything below it, as (path, is_dir); symlinks are not followed."""
    yield folder, True
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            yield Path(root) / name, True
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                yield path, False


def _file_mode(path: Path, mode: int) -> int:
    """Executables (Label Studio's own virtual environment) keep their execute bits."""
    return mode | ((mode & 0o444) >> 2) if path.stat().st_mode & 0o100 else mode


def harden(settings: Settings, owner: str) -> list[Zone]:
    """Give ``var/`` to the service account ``owner``; private places to it alone.

    Must run as root (it changes ownership). Idempotent: run it again after
    adding a place. Returns the zones it set.
    """
    if os.geteuid() != 0:
        raise UserError("regionlab harden changes file ownership: run it as root (sudo)")
    try:
        account = pwd.getpwnam(owner)
    except KeyError:
        raise UserError(
            f"no OS account {owner!r}; create it first, e.g. useradd --system {owner}"
        ) from None
    var = settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    os.chown(var, account.pw_uid, account.pw_gid)
    var.chmod(VAR_DIR_MODE)
    result = zones(settings)
    for zone in result:
        zone.folder.mkdir(exist_ok=True)
        dir_mode, file_mode = (
            (PRIVATE_DIR, PRIVATE_FILE) if zone.private else (PUBLIC_DIR, PUBLIC_FILE)
        )
        for path, is_dir in _walk(zone.folder):
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
            path.chmod(dir_mode if is_dir else _file_mode(path, file_mode))
    return result


__all__ = ["READABLE_BY_ALL", "Zone", "harden", "zones"]
