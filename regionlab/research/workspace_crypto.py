"""Workspace files encrypted at rest: one random key per project, held with the service.

A workspace file is a DuckDB database written through ``ATTACH … (ENCRYPTION_KEY …)``
(AES-GCM; writing needs the crypto module of the httpfs extension, which
:func:`regionlab.lake.extensions.duckdb_connect` loads offline from its pip
package). Without the key, ``duckdb.connect`` on the file or on any copy of it
fails.

The key is 32 random bytes in ``var/secrets/workspaces/<project>.key`` (0600,
folder 0700): not derived from the pseudonymisation key, so a rotation does not
touch it, and destroying the file at expiry makes every copy of the workspace
unreadable for good (crypto-shredding). It is never written inside the
workspace folder. Only the platform itself reads it: the build, the erasure
and retention runs that rewrite workspace files, :func:`open_workspace
<regionlab.research.workspace.open_workspace>` under a valid permit, and the
access service, which hands it to the permit holder's own process in the
multi-user profile (:mod:`regionlab.research.workspace_grant`, audited).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from regionlab.errors import UserError
from regionlab.lake.extensions import duckdb_connect
from regionlab.research.audit_keys import create_secret
from regionlab.settings import get_settings
from regionlab.sql import quote_ident, quote_literal

KEY_BYTES = 32


def key_file(project_id: str) -> Path:
    return get_settings().workspace_key_file(project_id)


def ensure_key(project_id: str) -> str:
    """The project's workspace key (hex), created 0600 on first use; first writer wins."""
    path = key_file(project_id)
    if not path.is_file():
        create_secret(path)  # 0600 in a 0700 folder; atomic, the first writer wins
    return read_key(project_id)


def read_key(project_id: str) -> str:
    """The project's workspace key (hex); a UserError when it is gone (workspace shredded)."""
    path = key_file(project_id)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise UserError(
            f"the workspace key of project {project_id} does not exist (deleted at expiry or "
            f"never built); the workspace cannot be opened — rebuild it with "
            f"`regionlab workspace build {project_id}` while the permit is valid"
        ) from None
    except OSError:
        raise UserError(
            f"cannot read the workspace key of project {project_id} ({path}): only the access "
            "service's account may read it (0600)"
        ) from None
    try:
        if len(bytes.fromhex(text)) < KEY_BYTES:
            raise ValueError
    except ValueError:
        raise UserError(
            f"the workspace key {path} is damaged; remove the workspace and rebuild it"
        ) from None
    return text


def destroy_key(project_id: str) -> bool:
    """Delete the key file (every copy of the workspace file becomes unreadable)."""
    path = key_file(project_id)
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed


def attach(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    key: str,
    alias: str,
    *,
    read_only: bool,
) -> None:
    """Attach an encrypted workspace file (the key is hex, so quoting cannot break out)."""
    if not all(c in "0123456789abcdef" for c in key):
        raise ValueError("a workspace key is lowercase hex")
    mode = ", READ_ONLY" if read_only else ""
    con.execute(
        f"ATTACH {quote_literal(str(path))} AS {quote_ident(alias)} "
        f"(ENCRYPTION_KEY {quote_literal(key)}{mode})"
    )


def connect_file(path: Path, key: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A platform connection whose default database is the encrypted file (for rewrites)."""
    con = duckdb_connect()
    try:
        attach(con, path, key, "ws", read_only=read_only)
        con.execute("USE ws")
    except BaseException:
        con.close()
        raise
    return con


def key_for_file(path: Path) -> str | None:
    """The key of a workspace file under ``var/research/workspaces``, or None (plain file)."""
    settings = get_settings()
    try:
        project_id = path.resolve().parent.relative_to(settings.workspaces_dir.resolve()).name
    except ValueError:
        return None
    if not project_id or not settings.workspace_key_file(project_id).is_file():
        return None
    return read_key(project_id)


__all__ = [
    "attach",
    "connect_file",
    "destroy_key",
    "ensure_key",
    "key_file",
    "key_for_file",
    "read_key",
]
