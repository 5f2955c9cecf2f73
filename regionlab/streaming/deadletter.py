"""Messages the consumer cannot process: quarantined with a reason, not redelivered forever.

A micro-batch that raises is not acknowledged, so the broker would hand the same
messages back after every restart: one poison message would stop the stream for
good. The consumer therefore splits a failing micro-batch in halves until the
failure is pinned to single messages, tries each of those :data:`MAX_ATTEMPTS`
times, and then "dead-letters" it: the message goes to the product's quarantine
zone (reason ``processing_failed``, the error's kind, the raw text — as any
quarantined message; an erased person's text is not kept) and the lake's stream
log records it as quarantined, in one transaction, before it is acknowledged. So
the message is accounted for exactly once, like every other, and a redelivered
copy is skipped.

Failures of the platform rather than of a message (the lake, the disk, the
broker, a wrong key) are not dead-lettered: the consumer stops and the broker
keeps the messages for its restart.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import duckdb
import pika.exceptions

from regionlab import lake
from regionlab.errors import UserError
from regionlab.privacy.keys import PseudonymKey
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.sql import quote_literal
from regionlab.streaming.microbatch import BatchResult, Message
from regionlab.streaming.tables import STREAM_LOG
from regionlab.wap import erasure_hook, quarantine_zone
from regionlab.wap.sources import QUARANTINE_DDL
from regionlab.wap.staging import protect, staging_file

#: Tries of a single message before it is dead-lettered.
MAX_ATTEMPTS = 3
REASON = "processing_failed"


def is_systemic(exc: BaseException) -> bool:
    """A failure of the platform (retrying later may succeed), not of the messages."""
    return isinstance(
        exc,
        (
            OSError,
            UserError,
            duckdb.IOException,
            duckdb.ConnectionException,
            duckdb.TransactionException,
            pika.exceptions.AMQPError,
        ),
    ) or not isinstance(exc, Exception)


def dead_letter(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    product: Product,
    key: PseudonymKey,
    messages: Sequence[Message],
    error: BaseException,
    attempts: int,
) -> BatchResult:
    """Quarantine ``messages`` with the error's kind and log them; the caller acknowledges."""
    result = BatchResult(product=product.ref, batch_id=uuid.uuid4().hex)
    result.received = len(messages)
    detail = f"{type(error).__name__} in {attempts} attempts"  # the kind only: never a value
    with staging_file(settings, product.domain, product.id) as staging:
        con.execute(f"ATTACH {quote_literal(str(staging))} AS staging")
        protect(staging)
        con.execute("USE staging")
        try:
            con.execute(QUARANTINE_DDL)
            con.executemany(
                "INSERT INTO quarantine VALUES (?, NULL, NULL, ?, ?, ?)",
                [(m.message_id, REASON, detail, m.body.decode("utf-8", "replace"))
                 for m in messages],
            )  # fmt: skip
            erasure_hook.quarantine_erased(con, product, key)  # strips an erased person's text
        finally:
            con.execute("USE memory")
            con.execute("DETACH staging")
        quarantine_zone.store(
            settings, product.ref, staging, settings.sources_dir, result.batch_id,
            replacing=[m.message_id for m in messages],
        )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    create = STREAM_LOG.create_statements(con)
    with lake.write_lock(con, lake.LAKE_ALIAS):
        if create:  # its own commit: DDL and an inlined insert do not mix (DuckLake 1.5.5)
            with lake.transaction(con):
                for sql, params in create:
                    con.execute(sql, list(params))
        with lake.transaction(con):
            con.executemany(
                f"INSERT INTO {STREAM_LOG.qualified} VALUES (?, ?, ?, ?, ?, ?)",
                [(product.ref, m.message_id, "quarantined", REASON, result.batch_id, now)
                 for m in messages],
            )  # fmt: skip
    result.quarantined[REASON] = len(messages)
    result.committed_at = now
    return result
