"""Open DuckDB connections with the lake attached as ``lake``.

Every read gets a version: a read-write or plain read-only connection sees the
newest snapshot at the start of each transaction, and ``snapshot=`` pins a
read-only connection to one snapshot (DuckLake's ``SNAPSHOT_VERSION`` attach
option), which is how researchers and workspaces get repeatable reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb

from regionlab.errors import UserError
from regionlab.lake.config import LAKE_ALIAS, LakeConfig
from regionlab.lake.extensions import duckdb_connect, load_extensions

log = logging.getLogger(__name__)

#: DuckLake retries a commit that lost a race against another writer when the
#: changes do not conflict; a busy shared catalogue deserves more patience
#: than the defaults (10 attempts from 100 ms).
RETRY_SETTINGS: dict[str, Any] = {
    "ducklake_max_retry_count": 20,
    "ducklake_retry_wait_ms": 50,
    "ducklake_retry_backoff": 1.5,
}


#: Locks this process holds, per (lock file, thread), so a holder can take it again.
_held: dict[tuple[str, int], int] = {}


@contextlib.contextmanager
def catalog_lock(catalog_file: str | Path) -> Iterator[None]:
    """Serialise writers of one SQLite catalogue across processes on this host.

    A DuckLake transaction reads the SQLite catalogue when it starts and
    writes it at commit. If another writer committed in between, SQLite (WAL
    mode) cannot upgrade the stale read to a write and fails the commit with
    "database is locked" at once — the busy timeout does not apply. Holding an
    advisory lock around each whole write transaction keeps writers from
    overlapping; readers never take it. It does not work across hosts (NFS):
    use the PostgreSQL catalogue for that. Re-entrant within a thread (e.g. a
    flush that runs while its caller holds the lock).
    """
    lock_path = Path(f"{catalog_file}.lock")
    key = (str(lock_path.resolve()), threading.get_ident())
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sqlite_catalog_file(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> str | None:
    """The SQLite file behind the attached lake, or None for another catalogue type.

    DuckDB 1.5 lists the lake itself (type ``ducklake``, path ``sqlite:<file>``)
    and no longer its metadata database, which DuckDB 1.4 listed as type ``sqlite``.
    """
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = ? AND type = 'ducklake'",
        [alias],
    ).fetchone()
    if row is None or row[0] is None:
        return None
    kind, sep, rest = str(row[0]).partition(":")
    return rest if sep and kind == "sqlite" else None


def write_lock(
    con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS
) -> contextlib.AbstractContextManager[None]:
    """The lock every lake write of this connection should hold: :func:`catalog_lock`
    for a SQLite catalogue; nothing for PostgreSQL, whose row locks DuckLake uses."""
    catalog_file = sqlite_catalog_file(con, alias)
    return catalog_lock(catalog_file) if catalog_file else contextlib.nullcontext()


def _configured() -> LakeConfig:
    """The lake of the active configuration (:func:`regionlab.config.current`)."""
    from regionlab.config import current

    return current().lake


class Transaction:
    """An open lake transaction; :meth:`discard` ends it with a rollback instead of a commit."""

    def __init__(self) -> None:
        self.discarded = False

    def discard(self) -> None:
        self.discarded = True


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[Transaction]:
    """``BEGIN`` … ``COMMIT``, rolled back on any error.

    A DuckLake transaction is the unit every writer relies on (a publish and its
    bookkeeping, an erasure's rewrites, a flush): all of it lands in one snapshot or
    none of it. A failed ``COMMIT`` has already ended the transaction, so the
    rollback after it may fail and is not what the caller needs to hear about.
    """
    state = Transaction()
    con.execute("BEGIN TRANSACTION")
    try:
        yield state
        con.execute("ROLLBACK" if state.discarded else "COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def _catalog_extension(config: LakeConfig) -> str:
    return "sqlite" if config.catalog_type == "sqlite" else "postgres"


def _attach(
    con: duckdb.DuckDBPyConnection,
    config: LakeConfig,
    *,
    read_only: bool,
    snapshot: int | None,
) -> None:
    try:
        con.execute(config.attach_sql(read_only=read_only, snapshot=snapshot))
    except duckdb.Error as exc:
        message = str(exc)
        if "No snapshot found" in message:
            raise UserError(
                f"Lake {config.describe()} has no snapshot {snapshot}; "
                "pick one from `list_snapshots` (it may have been expired)."
            ) from exc
        if "does not match existing data path" in message:
            raise UserError(_moved_data_message(config, message)) from exc
        if "catalog version mismatch" in message:
            if read_only:
                raise UserError(
                    f"The lake catalogue {config.describe()} was written by an older DuckDB "
                    "(an older DuckLake format); open it once read-write to upgrade it, e.g. "
                    "`regionlab run`. After that, DuckDB 1.4 can no longer open it."
                ) from exc
            _migrate(con, config)
            return
        raise


def _moved_data_message(config: LakeConfig, message: str) -> str:
    """Name both folders: the usual cause is a var/ moved or restored elsewhere.

    DuckLake keeps the data folder's absolute path in its catalogue, so a lake only opens
    with the folder it was created with; the paths are configuration, not data.
    """
    found = re.search(r'existing data path in the catalog "([^"]*)"', message)
    recorded = found.group(1) if found else "another folder"
    return (
        f"The lake catalogue {config.describe()} records its data folder as {recorded}, "
        f"but this configuration uses {config.data_path}. If var/ was moved or restored "
        f"elsewhere, move it back or set REGIONLAB_LAKE_DATA={recorded}; if "
        "REGIONLAB_LAKE_DATA is set by mistake, unset it."
    )


def _migrate(con: duckdb.DuckDBPyConnection, config: LakeConfig) -> None:
    """Upgrade a catalogue written by DuckDB 1.4 (DuckLake 0.3) to this DuckLake's format."""
    lock = (
        catalog_lock(config.catalog)
        if config.catalog_type == "sqlite"
        else contextlib.nullcontext()
    )
    with lock:
        con.execute(config.attach_sql(migrate=True))
    log.warning(
        "upgraded the lake catalogue %s to the DuckLake format of DuckDB %s; "
        "older DuckDB versions can no longer open it",
        config.describe(),
        duckdb.__version__,
    )


def _ensure_policy(con: duckdb.DuckDBPyConnection, config: LakeConfig) -> None:
    # Imported here: the inlining module builds on this one's write lock.
    from regionlab.lake.inlining import ensure_policy

    ensure_policy(con, config.alias)


def init_lake(config: LakeConfig | None = None) -> LakeConfig:
    """Create the data folder and the catalogue if they do not exist yet.

    Safe to call from several processes at once: creation of a SQLite
    catalogue happens under :func:`catalog_lock`.
    """
    config = config or _configured()
    if config.is_local_data:
        Path(config.data_path).mkdir(parents=True, exist_ok=True)
    con = duckdb_connect()
    try:
        load_extensions(con, "ducklake", _catalog_extension(config))
        if config.catalog_type == "sqlite":
            with catalog_lock(config.catalog):
                _attach(con, config, read_only=False, snapshot=None)
        else:
            _attach(con, config, read_only=False, snapshot=None)
        _ensure_policy(con, config)
    finally:
        con.close()
    return config


def connect(
    config: LakeConfig | None = None,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
    duckdb_config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached as ``config.alias`` (``lake``).

    ``snapshot`` pins the connection to that snapshot and implies read-only.
    A read-write connection creates the lake on first use; a read-only one
    refuses a lake that does not exist instead of silently creating it.
    """
    config = config or _configured()
    read_only = read_only or snapshot is not None
    if read_only:
        if config.catalog_type == "sqlite" and not Path(config.catalog).exists():
            raise UserError(
                f"No lake catalogue at {config.catalog}; publish a product first "
                "(`regionlab run`) or set REGIONLAB_LAKE_CATALOG."
            )
    elif config.catalog_type == "sqlite" and not Path(config.catalog).exists():
        init_lake(config)
    elif config.is_local_data:
        Path(config.data_path).mkdir(parents=True, exist_ok=True)

    con = duckdb_connect(config=duckdb_config)
    try:
        load_extensions(con, "ducklake", _catalog_extension(config))
        for name, value in RETRY_SETTINGS.items():
            con.execute(f"SET {name} = {value}")
        _attach(con, config, read_only=read_only, snapshot=snapshot)
        if not read_only:
            _ensure_policy(con, config)
    except BaseException:
        con.close()
        raise
    return con
