"""Publish a product into the lake as one snapshot.

The publish step of write–audit–publish: the audited staging rows become a
new lake snapshot in a single transaction, so a reader sees either the
previous version or the new one, and a failure leaves the previous snapshot
current. Each snapshot records which product and run made it.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import duckdb

from regionlab.lake.config import LAKE_ALIAS
from regionlab.lake.connect import transaction, write_lock
from regionlab.lake.tables import check_name, table_name
from regionlab.sql import quote_ident, quote_literal

log = logging.getLogger(__name__)

Source = str | duckdb.DuckDBPyRelation
Mode = Literal["append", "replace"]
Statement = tuple[str, Sequence[object]]

_TABLE_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}$")

#: Errors after which the whole publish is simply tried again: lock contention
#: on a SQLite catalogue and commit races DuckLake did not settle itself. A
#: failed DuckLake commit rolls the whole transaction back, so it is always safe
#: to retry; DuckLake 1.5 on PostgreSQL can fail a raced commit without saying
#: "conflict" (its own retry then referenced a ``ducklake_inlined_data_<t>_<v>``
#: table that was never created, seen with two workers creating ``_regionlab``
#: tables at once); the next attempt sees the other writer's tables.
_RETRYABLE = (
    "database is locked",
    "database table is locked",
    "conflict",
    "failed to commit ducklake transaction",
)
MAX_ATTEMPTS = 6

#: The column that orders a person-level product's rows (see :func:`_person_ordered`).
PERSON_KEY = "person_key"
#: The lake's layout options, set once per lake (where unset): a person-level product is
#: written as files of about one row group each, every file covering a contiguous range of
#: person keys. Smaller files make an erasure rewrite and decode less (it rewrites the files
#: whose range holds a person: about ``persons × tables`` files); larger ones make fewer
#: files for a query to open. 32,768 rows (DuckDB's default is 122,880) gives about 1,000
#: files for the region's 32M rows. A file is at least one row group: DuckDB closes a
#: file once it has reached ``target_file_size``.
LAYOUT_OPTIONS = {"parquet_row_group_size": "32768", "target_file_size": "512KB"}


def _is_ddl(statement: Statement) -> bool:
    return statement[0].lstrip().upper().startswith("CREATE ")


def _create_first(con: duckdb.DuckDBPyConnection, ddl: Sequence[Statement]) -> None:
    """Commit the ``CREATE ... IF NOT EXISTS`` statements of ``also`` on their own.

    DuckLake 1.5.5 fails a commit that creates a table in a schema with inlining
    on and inlines an insert into another table of that schema ("Table with name
    ducklake_inlined_data_<t>_<v> does not exist"): the first publish after a
    failed audit (which wrote the quality history but no load log) hit it every
    time. Created first, the tables are there when the publish inserts; an empty
    bookkeeping table left by a publish that then fails is harmless.
    """
    with transaction(con):
        for sql, params in ddl:
            con.execute(sql, list(params))


def _person_ordered(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """``query`` ordered by person key, when it has one.

    Written in that order and split into files by :data:`LAYOUT_OPTIONS`, each data file covers a
    contiguous range of person keys, and the catalogue's per-file min/max statistics of
    ``person_key`` (which DuckLake keeps for every file anyway) say which few files can
    hold a person: the index an erasure uses to rewrite and verify only those files
    (:mod:`regionlab.erasure.lake_delete`). Readers never rely on the order.
    """
    columns = {r[0] for r in con.execute(f"DESCRIBE {query}").fetchall()}
    if PERSON_KEY not in columns:
        return query
    return f"SELECT * FROM ({query}) ORDER BY {quote_ident(PERSON_KEY)}"


def _ensure_layout(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Persist :data:`LAYOUT_OPTIONS` as the lake's global options where none is set."""
    names = ", ".join(quote_literal(n) for n in LAYOUT_OPTIONS)
    have = {
        r[0]
        for r in con.execute(
            f"SELECT option_name FROM ducklake_options({quote_literal(alias)}) "
            f"WHERE option_name IN ({names}) AND upper(scope) = 'GLOBAL'"
        ).fetchall()
    }
    for name, value in LAYOUT_OPTIONS.items():
        if name not in have:
            con.execute(
                f"CALL {quote_ident(alias)}.set_option({quote_literal(name)}, "
                f"{quote_literal(value)})"
            )


def _retryable(exc: duckdb.Error) -> bool:
    message = str(exc).lower()
    return any(marker in message for marker in _RETRYABLE)


def _publish_once(
    con: duckdb.DuckDBPyConnection,
    *,
    alias: str,
    domain: str,
    product: str,
    query: str,
    mode: Mode,
    author: str,
    message: str,
    info: dict[str, Any],
    also: Sequence[Statement],
) -> int:
    target = table_name(domain, product, alias)
    query = _person_ordered(con, query)
    with transaction(con):
        # The bookkeeping goes first (its tables were created by _create_first): once
        # DDL in the transaction has bumped the schema version, an inlined insert into
        # an existing bookkeeping table looks for an inlined-data table of the new
        # version that DuckLake 1.5.5 has not created ("ducklake_inlined_data_<t>_<v>
        # does not exist": a replace after a blocked audit failed).
        for sql, params in also:
            con.execute(sql, list(params))
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(alias)}.{quote_ident(domain)}")
        if mode == "replace":
            row = con.execute(f"CREATE OR REPLACE TABLE {target} AS {query}").fetchone()
        else:
            # Decided inside the transaction, so a concurrent first publish is a
            # commit conflict (retried) rather than a check-then-create race.
            con.execute(f"CREATE TABLE IF NOT EXISTS {target} AS {query} WITH NO DATA")
            row = con.execute(f"INSERT INTO {target} BY NAME {query}").fetchone()
        info = {**info, "rows": int(row[0]) if row else None}
        extra = json.dumps(info, sort_keys=True, default=str)
        con.execute(
            f"CALL {quote_ident(alias)}.set_commit_message({quote_literal(author)}, "
            f"{quote_literal(message)}, extra_info => {quote_literal(extra)})"
        )
    row = con.execute("SELECT id FROM ducklake_last_committed_snapshot(?)", [alias]).fetchone()
    assert row is not None and row[0] is not None, "DuckLake reported no committed snapshot"
    return int(row[0])


def _maintain(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Compact the bookkeeping tables when due; the publish has committed either way."""
    # Imported here: compaction builds on this package's modules, publishing among them.
    from regionlab.lake.compaction import compact_bookkeeping_if_due
    from regionlab.lake.inlining import FlushIntegrityError, ensure_policy

    try:
        ensure_policy(con, alias)
        compact_bookkeeping_if_due(con, alias=alias)
    except FlushIntegrityError as exc:
        log.error("compacting the bookkeeping tables failed: %s", exc)
    except duckdb.Error as exc:
        log.warning(
            "compacting the bookkeeping tables failed (%s); the next publish tries again",
            type(exc).__name__,
        )


def publish(
    con: duckdb.DuckDBPyConnection,
    domain: str,
    product: str,
    source: Source,
    *,
    mode: Mode = "replace",
    commit_message: str | None = None,
    author: str = "regionlab",
    extra_info: Mapping[str, Any] | None = None,
    also: Sequence[Statement] = (),
    alias: str = LAKE_ALIAS,
) -> int:
    """Write ``source`` to ``lake.<domain>.<product>`` in one transaction; return the snapshot id.

    ``source`` is a SELECT statement, a (qualified) table name such as
    ``staging.main.contacts`` in another database attached to ``con``, or a
    relation of ``con``. ``replace`` swaps the whole table (schema may
    change); ``append`` adds rows by column name, creating the table first
    if needed. The snapshot's commit message and JSON extra info name the
    domain, product, mode, row count and whatever ``extra_info`` adds (e.g.
    the run id) — never row values. ``also`` holds further ``(sql, params)``
    statements run in the same transaction after the product is written, e.g.
    bookkeeping rows in ``lake._regionlab``; like the product they must write
    to the lake only (a DuckDB transaction writes one database).

    On a SQLite catalogue writers from several processes on this host are
    serialised by a lock file; lock contention and commit conflicts are
    retried with backoff, because a rolled-back attempt leaves no trace.

    The product is written as Parquet whatever its size; the bookkeeping rows of
    ``also`` stay inlined in the catalogue until enough have gathered, and then
    :func:`~regionlab.lake.compaction.compact_bookkeeping_if_due` flushes and
    merges them after the commit (a failure there is logged, not raised: the
    publish has committed, and the next publish tries again).
    """
    check_name("Domain", domain)
    check_name("Product", product)
    if mode not in ("append", "replace"):
        raise ValueError(f"mode must be 'append' or 'replace', not {mode!r}")
    info: dict[str, Any] = {"kind": "publish", "domain": domain, "product": product, "mode": mode}
    info.update(extra_info or {})
    message = commit_message or f"publish {domain}.{product} ({mode})"

    view: str | None = None
    if isinstance(source, duckdb.DuckDBPyRelation):
        # A relation may scan Python objects that only exist in this process; a
        # temporary view makes it addressable by SQL. It is created outside the
        # transaction because a transaction may only write to one database.
        view = f"__regionlab_publish_{uuid.uuid4().hex}"
        source.create_view(view, replace=True)
        query = f"SELECT * FROM {quote_ident(view)}"
    elif _TABLE_REF.match(source.strip()):
        query = f"SELECT * FROM {source.strip()}"
    else:
        query = source.strip().rstrip(";")

    ddl = [statement for statement in also if _is_ddl(statement)]
    rest = [statement for statement in also if not _is_ddl(statement)]
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with write_lock(con, alias):
                    _ensure_layout(con, alias)
                    if ddl:
                        _create_first(con, ddl)
                    snapshot = _publish_once(
                        con,
                        alias=alias,
                        domain=domain,
                        product=product,
                        query=query,
                        mode=mode,
                        author=author,
                        message=message,
                        info=info,
                        also=rest,
                    )
                _maintain(con, alias)
                return snapshot
            except duckdb.Error as exc:
                if attempt == MAX_ATTEMPTS or not _retryable(exc):
                    raise
                wait = 0.05 * 2**attempt * (1 + random.random())
                log.warning(
                    "publish %s.%s attempt %d hit a catalogue conflict; retrying in %.2fs",
                    domain,
                    product,
                    attempt,
                    wait,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")
    finally:
        if view is not None:
            con.execute(f"DROP VIEW IF EXISTS {quote_ident(view)}")
