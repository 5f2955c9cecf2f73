"""Where audit entries are kept: SQLite (embedded profile) or PostgreSQL (multi-user).

A backend knows storage and locking only; the chain, the MACs and the
checkpoints are :mod:`regionlab.research.audit_store`'s. Appending is one
transaction that holds the store's write lock while it reads the head and
inserts the next row (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction
advisory lock), so two writers can never both extend the same head. The
``prev_mac`` column is UNIQUE as well: even a writer that bypassed the lock
could not fork the chain.

Each backend also gives the service a per-account lock
(:meth:`SQLiteBackend.account_lock`, :meth:`PostgresBackend.account_lock`) that
holds across processes: the service's feasibility route keeps it from the
differencing defence's history read to the audit write, so one account's
concurrent requests are answered one after another however many uvicorn
workers (or service hosts, with PostgreSQL) share the store.

Both stores refuse UPDATE and DELETE with a trigger. That stops mistakes, not
an attacker with the database's owner rights; the MAC chain and the
checkpoints are what catch those.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, Protocol

from regionlab.errors import UserError

TABLE = "audit_entries"
COLUMNS = (
    "seq",
    "id",
    "at",
    "who",
    "action",
    "project",
    "subject",
    "data",
    "digest",
    "prev_mac",
    "mac",
)
#: Any constant: the PostgreSQL advisory lock that serialises appends (and the DDL).
PG_LOCK = 0x72656761756474  # "regaudt"
#: First key of the two-key advisory locks per account (a lock space apart from ``PG_LOCK``).
PG_ACCOUNT_LOCKS = 0x72676C6B  # "rglk"
#: How long a request waits for its account's lock before it is refused (seconds).
ACCOUNT_LOCK_WAIT = 120


def account_digest(name: str) -> bytes:
    """A fixed-size stand-in for an account name in lock names (any length, any characters)."""
    return hashlib.sha256(name.encode("utf-8")).digest()


def _busy(name: str) -> UserError:
    return UserError(
        f"another request of account {name!r} has been running for over {ACCOUNT_LOCK_WAIT} s; "
        "wait for it to finish and ask again"
    )


_APPEND_ONLY = "the audit store is append-only"


@dataclass(frozen=True)
class Row:
    """One stored entry, exactly as its columns hold it."""

    seq: int
    id: str
    at: str
    who: str
    action: str
    project: str | None
    subject: str | None
    data: str
    """Canonical JSON of the action's fields."""
    digest: str
    """SHA-256 of the entry's canonical content (everything above)."""
    prev_mac: str
    mac: str


Make = Callable[[int, str], Row]
"""Builds the next row from the head's ``seq`` (0 when empty) and ``mac`` ("" when empty)."""


class Backend(Protocol):
    def append(self, make: Make) -> Row: ...

    def rows(
        self, *, who: str | None = None, since: str | None = None, action: str | None = None
    ) -> list[Row]: ...

    def describe(self) -> str: ...

    def account_lock(self, name: str) -> AbstractContextManager[None]: ...


def _filters(
    who: str | None, since: str | None, action: str | None, mark: str
) -> tuple[str, list[Any]]:
    where, params = [], []
    for column, op, value in (("who", "=", who), ("at", ">=", since), ("action", "=", action)):
        if value is not None:
            where.append(f"{column} {op} {mark}")
            params.append(value)
    return (" WHERE " + " AND ".join(where) if where else ""), params


_INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({{marks}})"
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
_HEAD = f"SELECT seq, mac FROM {TABLE} ORDER BY seq DESC LIMIT 1"

_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    project TEXT,
    subject TEXT,
    data TEXT NOT NULL,
    digest TEXT NOT NULL,
    prev_mac TEXT NOT NULL UNIQUE,
    mac TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_who_at ON {TABLE} (who, at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END;
"""


class SQLiteBackend:
    """One SQLite file, 0600, in a 0700 folder (the service's own)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._ready = False

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            if not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(self.path.parent, 0o700)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as db:
            if not self._ready:
                db.executescript(_SQLITE_SCHEMA)
                self._ready = True
            yield db

    def append(self, make: Make) -> Row:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock, taken before the head is read
            try:
                head = db.execute(_HEAD).fetchone()
                row = make(*(head or (0, "")))
                db.execute(_INSERT.format(marks=", ".join("?" * len(COLUMNS))), astuple(row))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return row

    def rows(
        self, *, who: str | None = None, since: str | None = None, action: str | None = None
    ) -> list[Row]:
        if not self.path.exists():
            return []
        where, params = _filters(who, since, action, "?")
        with self._db() as db:
            found = db.execute(f"{_SELECT}{where} ORDER BY seq", params).fetchall()
        return [Row(*r) for r in found]

    @contextmanager
    def account_lock(self, name: str) -> Iterator[None]:
        """Hold ``name``'s lock: a write transaction on that account's own lock file.

        One small SQLite file per account (``locks/<sha256>.sqlite`` beside the
        store) so accounts do not wait for each other; ``BEGIN IMMEDIATE`` takes
        SQLite's write lock, which other processes and other connections of this
        process wait for. The operating system drops it when the holder dies.
        """
        folder = self.path.parent / "locks"
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
        path = folder / f"{account_digest(name).hex()[:32]}.sqlite"
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        with closing(sqlite3.connect(path, timeout=ACCOUNT_LOCK_WAIT, isolation_level=None)) as db:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                raise _busy(name) from None
            try:
                yield
            finally:
                db.execute("ROLLBACK")


_PG_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    project TEXT,
    subject TEXT,
    data TEXT NOT NULL,
    digest TEXT NOT NULL,
    prev_mac TEXT NOT NULL UNIQUE,
    mac TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_who_at ON {TABLE} (who, at);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$;
CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON {TABLE}
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE}
FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""


class PostgresBackend:
    """A table in a PostgreSQL database (libpq connection string, no password in it)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._ready = False

    def describe(self) -> str:
        return f"postgres:{self.conninfo}"

    def _connect(self, autocommit: bool = False) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.conninfo, connect_timeout=10, autocommit=autocommit)
        except psycopg.OperationalError:
            raise UserError(
                "cannot connect to the audit store's PostgreSQL database (profile key "
                "audit_store); check that it is running and that the database exists"
            ) from None

    @contextmanager
    def _db(self) -> Iterator[Any]:
        with self._connect() as db:
            if not self._ready:
                with db.transaction():
                    db.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
                    db.execute(_PG_SCHEMA)
                self._ready = True
            yield db

    def append(self, make: Make) -> Row:
        with self._db() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
            head = db.execute(_HEAD).fetchone()
            row = make(*(head or (0, "")))
            db.execute(_INSERT.format(marks=", ".join(["%s"] * len(COLUMNS))), astuple(row))
        return row

    def rows(
        self, *, who: str | None = None, since: str | None = None, action: str | None = None
    ) -> list[Row]:
        where, params = _filters(who, since, action, "%s")
        with self._db() as db:
            found = db.execute(f"{_SELECT}{where} ORDER BY seq", params).fetchall()
        return [Row(*r) for r in found]

    @contextmanager
    def account_lock(self, name: str) -> Iterator[None]:
        """Hold ``name``'s lock: a session advisory lock on a connection of its own.

        Two-key lock ``(PG_ACCOUNT_LOCKS, hash of the name)``; two accounts whose
        hashes collide only wait for each other. PostgreSQL releases the lock when
        the connection ends, so a crashed worker cannot leave an account locked.
        """
        import psycopg

        key = int.from_bytes(account_digest(name)[:4], "big", signed=True)
        with self._connect(autocommit=True) as db:
            try:
                db.execute(f"SET lock_timeout = '{ACCOUNT_LOCK_WAIT}s'")
                db.execute("SELECT pg_advisory_lock(%s, %s)", (PG_ACCOUNT_LOCKS, key))
            except psycopg.errors.LockNotAvailable:
                raise _busy(name) from None
            try:
                yield
            finally:
                db.execute("SELECT pg_advisory_unlock(%s, %s)", (PG_ACCOUNT_LOCKS, key))


def backend_for(spec: str, default_file: Path) -> Backend:
    """``""`` → SQLite at ``default_file``; ``sqlite:<path>``; ``postgres:<libpq string>``."""
    spec = spec.strip()
    if not spec:
        return SQLiteBackend(default_file)
    kind, sep, rest = spec.partition(":")
    if sep and kind == "sqlite":
        return SQLiteBackend(Path(rest))
    if sep and kind in ("postgres", "postgresql"):
        return PostgresBackend(rest)
    raise UserError(
        "audit_store must be empty (SQLite under var/service), sqlite:<path> or "
        "postgres:<libpq connection string>"
    )


__all__ = [
    "ACCOUNT_LOCK_WAIT",
    "COLUMNS",
    "TABLE",
    "Backend",
    "PostgresBackend",
    "Row",
    "SQLiteBackend",
    "account_digest",
    "backend_for",
]
