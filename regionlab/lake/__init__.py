"""The DuckLake lakehouse: connections, publishing, snapshots and maintenance.

Typical use::

    from regionlab import lake

    con = lake.connect()                                   # read-write, newest snapshot
    snap = lake.publish(con, "clinic", "contacts", "staging.main.contacts")
    ro = lake.connect(read_only=True, snapshot=snap)       # repeatable reads
    ro.sql('FROM lake.clinic.contacts')

Several processes on one SQLite catalogue: readers run freely beside a writer
(WAL journal; each query reads one whole snapshot). Writers are serialised
per host by a lock file next to the catalogue (``catalog.sqlite.lock``),
because SQLite fails a commit whose read went stale with "database is
locked"; publish also retries such errors and DuckLake transaction
conflicts. Hosts sharing a lake must use the PostgreSQL catalogue. Opening a
connection costs about 0.5 s (DuckDB verifies the extensions' signatures),
so reuse connections in loops.

Products are written as Parquet; small inserts into the platform's own tables
(and, when they opt in, streaming products) are inlined in the catalogue and
flushed to Parquet explicitly (:mod:`regionlab.lake.inlining`,
:mod:`regionlab.lake.compaction`).
"""

from regionlab.lake.compaction import Compaction, compact_bookkeeping, merge_adjacent_files
from regionlab.lake.config import LAKE_ALIAS, LakeConfig
from regionlab.lake.connect import (
    catalog_lock,
    connect,
    init_lake,
    transaction,
    write_lock,
)
from regionlab.lake.extensions import duckdb_connect, extension_directory, load_extensions
from regionlab.lake.inlining import (
    BOOKKEEPING_SCHEMA,
    FlushIntegrityError,
    flush_inlined_data,
    inlined_rows,
    set_inlining,
)
from regionlab.lake.publishing import publish
from regionlab.lake.snapshots import (
    Snapshot,
    cleanup_files,
    current_snapshot,
    expire_snapshots,
    list_snapshots,
)
from regionlab.lake.tables import data_files, list_tables, table_name, table_row_counts
from regionlab.sql import quote_ident, quote_literal

__all__ = [
    "BOOKKEEPING_SCHEMA",
    "Compaction",
    "FlushIntegrityError",
    "LAKE_ALIAS",
    "LakeConfig",
    "Snapshot",
    "catalog_lock",
    "cleanup_files",
    "compact_bookkeeping",
    "connect",
    "current_snapshot",
    "data_files",
    "duckdb_connect",
    "expire_snapshots",
    "extension_directory",
    "flush_inlined_data",
    "init_lake",
    "inlined_rows",
    "list_snapshots",
    "list_tables",
    "load_extensions",
    "merge_adjacent_files",
    "publish",
    "quote_ident",
    "quote_literal",
    "set_inlining",
    "table_name",
    "transaction",
    "table_row_counts",
    "write_lock",
]
