"""Open DuckDB connections with the lake attached as ``lake``.

Every read gets a version: a read-write or plain read-only connection sees the
newest snapshot at the start of each transaction, and ``snapshot=`` pins a
read-only connection to one snapshot (DuckLake's ``SNAPSHOT_VERSION`` attach
option), which is how researchers and workspaces get repeatable reads.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb

from regionlab.errors import UserError
from regionlab.lake.config import LAKE_ALIAS, LakeConfig
from regionlab.lake.extensions import duckdb_connect, load_extensions

#: DuckLake retries a commit that lost a race against another writer when the
#: changes do not conflict; a busy shared catalogue deserves more patience
#: than the defaults (10 attempts from 100 ms).
RETRY_SETTINGS: dict[str, Any] = {
    "ducklake_max_retry_count": 20,
    "ducklake_retry_wait_ms": 50,
    "ducklake_retry_backoff": 1.5,
}


@contextlib.contextmanager
def catalog_lock(catalog_file: str | Path) -> Iterator[None]:
    """Serialise writers of one SQLite catalogue across processes on this host.

    A DuckLake transaction reads the SQLite catalogue when it starts and
    writes it at commit. If another writer committed in between, SQLite (WAL
    mode) cannot upgrade the stale read to a write and fails the commit with
    "database is locked" at once — the busy timeout does not apply. Holding an
    advisory lock around each whole write transaction keeps writers from
    overlapping; readers never take it. It does not work across hosts (NFS):
    use the PostgreSQL catalogue for that.
    """
    lock_path = Path(f"{catalog_file}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sqlite_catalog_file(con: duckdb.DuckDBPyConnection, alias: str = LAKE_ALIAS) -> str | None:
    """The SQLite file behind the attached lake, or None for another catalogue type."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = ? AND type = 'sqlite'",
        [f"__ducklake_metadata_{alias}"],
    ).fetchone()
    return str(row[0]) if row else None


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
            raise UserError(
                f"REGIONLAB_LAKE_DATA ({config.data_path}) is not the data folder recorded in "
                f"the lake catalogue {config.describe()}; unset it or set it to the recorded "
                "folder."
            ) from exc
        raise


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
    except BaseException:
        con.close()
        raise
    return con
