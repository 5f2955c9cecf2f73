"""The key files of a rotation: the pending new key, the backup of the old one, the swap.

Order, so that no crash can lose the key the lake is keyed with:

1. the new key is written to ``<key file>.rotating`` (0600) *before* the lake
   transaction — were it only in memory, a crash after the commit would leave a
   lake keyed with a key nobody has;
2. the lake transaction commits (person keys, suppression list, key id);
3. after the work that follows the commit, the old key is copied to
   ``<key file>.<old key id>.bak`` (0600, beside the key file) and the pending
   file replaces the key file atomically.

A re-run finds the pending file: if the lake already records its key id, the
commit happened and the rotation resumes after it; otherwise nothing was
committed and the same pending key is used again.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from regionlab.errors import UserError
from regionlab.platform.private_files import write_private
from regionlab.privacy.keys import (
    KEY_ENV,
    KEY_FILE_ENV,
    NEW_KEY_BYTES,
    PseudonymKey,
    decode_key_text,
    default_key_path,
)

PENDING_SUFFIX = ".rotating"


def active_key_file() -> Path:
    """The key file the active key comes from; refuses a key given as a value."""
    key_file = os.environ.get(KEY_FILE_ENV, "").strip()
    if key_file:
        return Path(key_file).expanduser()
    if KEY_ENV in os.environ:
        raise UserError(
            f"the pseudonymisation key comes from the environment variable {KEY_ENV}: a "
            "rotation writes the new key to a key file, so put the current key in a file "
            f"(0600) and point {KEY_FILE_ENV} at it, then run `regionlab keys rotate` again"
        )
    return default_key_path()


def pending_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + PENDING_SUFFIX)


def backup_path(key_file: Path, old_key_id: str) -> Path:
    return key_file.with_name(f"{key_file.name}.{old_key_id}.bak")


def read_pending(key_file: Path) -> PseudonymKey | None:
    path = pending_path(key_file)
    if not path.is_file():
        return None
    secret = decode_key_text(path.read_text(encoding="utf-8"))
    return PseudonymKey(secret=secret, source=f"file {path}")


def write_pending(key_file: Path) -> PseudonymKey:
    """A new random key in the pending file (the key file itself is untouched)."""
    path = pending_path(key_file)
    secret = secrets.token_bytes(NEW_KEY_BYTES)
    write_private(path, secret.hex() + "\n")
    return PseudonymKey(secret=secret, source=f"file {path}")


def discard_pending(key_file: Path) -> None:
    pending_path(key_file).unlink(missing_ok=True)


def swap(key_file: Path, old: PseudonymKey) -> Path:
    """Back the old key up (0600, beside the key file), then make the pending key current.

    Returns the backup's path. Idempotent: an existing backup of the same key is kept.
    """
    backup = backup_path(key_file, old.key_id)
    owner = key_file.stat() if key_file.exists() else None
    if not backup.exists():
        write_private(backup, old.secret.hex() + "\n")
    os.chmod(backup, 0o600)
    os.replace(pending_path(key_file), key_file)
    os.chmod(key_file, 0o600)
    if owner is not None and os.geteuid() == 0:
        # Run as root on a hardened var/: the service account must keep reading its key.
        for path in (key_file, backup):
            os.chown(path, owner.st_uid, owner.st_gid)
    return backup
