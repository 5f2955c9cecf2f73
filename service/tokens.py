"""The built-in token issuer of the embedded profile.

A token is shown once, when it is issued; the store keeps only its SHA-256
digest (tokens are 256 random bits, so a plain digest is enough — there is
nothing to brute-force). The store is a SQLite file in the service's own
folder, which in the multi-user profile only the service's OS user can read.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from regionlab.errors import UserError
from service.roles import Role

TOKEN_PREFIX = "rl_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    issued_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    issued_at: datetime
    revoked: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Users of the built-in issuer: one current token per user."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with closing(sqlite3.connect(self.path)) as db:
            db.execute(_SCHEMA)
            with db:
                yield db
        self.path.chmod(0o600)

    def issue(self, name: str, role: Role, *, replace: bool = False) -> str:
        """A new token for ``name``; the old one stops working. Returned once, stored hashed."""
        if not name.strip() or any(c.isspace() for c in name):
            raise UserError("a user name is one word without spaces, e.g. anna.jensen")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC).isoformat()
        with self._db() as db:
            exists = db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise UserError(
                    f"user {name} exists; give --replace to issue a new token (the old one stops)"
                )
            db.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, NULL)",
                (name, role.value, _digest(token), now),
            )
        return token

    def revoke(self, name: str) -> None:
        with self._db() as db:
            cur = db.execute(
                "UPDATE users SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), name),
            )
            if cur.rowcount == 0:
                raise UserError(f"no active user {name}; see regionlab users list")

    def lookup(self, token: str) -> User | None:
        """The active user a token belongs to, or ``None`` (unknown or revoked)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, issued_at, revoked_at FROM users WHERE token_sha256 = ?",
                (_digest(token),),
            ).fetchone()
        if row is None or row[3] is not None:
            return None
        return User(row[0], Role(row[1]), datetime.fromisoformat(row[2]), False)

    def users(self) -> list[User]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name, role, issued_at, revoked_at FROM users ORDER BY name"
            ).fetchall()
        return [User(n, Role(r), datetime.fromisoformat(i), v is not None) for n, r, i, v in rows]


__all__ = ["TOKEN_PREFIX", "TokenStore", "User"]
