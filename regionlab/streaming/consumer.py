"""The consumer of a streaming product: receive, micro-batch, publish, acknowledge, flush.

Messages are acknowledged only after the micro-batch's lake transaction has
committed, so a consumer killed at any point loses nothing (the broker redelivers
what was not acknowledged) and duplicates nothing (a redelivered message that was
committed is in the lake's stream log and is skipped). Inlined rows are written
out to Parquet every ``flush_every_seconds`` and when the consumer stops.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.streaming import broker
from regionlab.streaming.fhir_rows import model as fhir_model
from regionlab.streaming.microbatch import BatchResult, Message, process_batch
from regionlab.wap.register_names import register_names
from regionlab.wap.staging import private_folders, sweep_stale

log = logging.getLogger(__name__)

BatchHook = Callable[[Product, BatchResult], None]


@dataclass
class ConsumerSummary:
    product: str
    queue: str
    batches: int = 0
    received: int = 0
    published: int = 0
    quarantined: int = 0
    skipped: int = 0
    flushed_rows: int = 0
    lags: list[float] = field(default_factory=list)


def message_id_of(message_id: str | None, body: bytes) -> str:
    """The producer's message id, else a digest of the body.

    The id is what makes a redelivered message a duplicate, so it must be stable
    across redeliveries and unique across messages. A delivery tag is neither: tags
    restart at 1 on every channel, so after a restart a new message would collide
    with a logged one and be skipped (lost). A body digest is stable; two messages
    with identical bytes count as one, which for a message without an id is the
    only reading a redelivery allows anyway.
    """
    if message_id:
        return message_id
    return "sha256-" + hashlib.sha256(body).hexdigest()


def _inline(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """Small micro-batches of this product stay in the catalogue until the next flush."""
    assert product.stream is not None
    lake.set_inlining(con, product.stream.inline_rows, schema=product.domain, table=product.id)


def warm_up(con: duckdb.DuckDBPyConnection, product: Product) -> None:
    """Pay the one-off costs before the first event waits on them: the FHIR models are
    built on first use, and DuckDB's first bound parameter imports pandas (seconds)."""
    assert product.stream is not None
    for kind in product.stream.resource_types:
        fhir_model(kind.value)
    con.execute("SELECT ?::INTEGER", [1]).fetchall()


def flush(con: duckdb.DuckDBPyConnection, product: Product) -> int:
    """Write the product's inlined rows to Parquet (guarded against ducklake#1368 and #650)."""
    done = lake.flush_inlined_data(con, schema=product.domain, table=product.id)
    return sum(done.values())


def fault_point(point: str, batch: int) -> None:
    """Crash-test hook: ``REGIONLAB_STREAM_FAULT=<point>:<batch>:<file>`` makes the consumer
    write its pid to ``file`` and sleep when it reaches ``point`` (``before_commit`` or
    ``after_commit``) in its ``batch``-th micro-batch, so a test can SIGKILL it there."""
    spec = os.environ.get("REGIONLAB_STREAM_FAULT", "")
    parts = spec.split(":", 2)
    if len(parts) == 3 and parts[0] == point and parts[1] == str(batch):
        Path(parts[2]).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(600)


def consume(
    product: Product,
    settings: Settings,
    *,
    queue: str | None = None,
    key: PseudonymKey | None = None,
    idle_exit_seconds: float | None = None,
    max_seconds: float | None = None,
    on_batch: BatchHook | None = None,
    max_events: int | None = None,
    on_ready: Callable[[], None] | None = None,
) -> ConsumerSummary:
    """Consume ``queue`` (the spec's topic by default) until idle or ``max_seconds`` pass.

    With neither limit the consumer runs until it is stopped. ``max_events`` overrides
    the spec's micro-batch size (tests use small batches). ``on_ready`` is called once
    the consumer is connected and warmed up (a benchmark starts its producer then).
    """
    stream = product.stream
    assert stream is not None
    queue = queue or stream.topic
    key = key or load_key()
    summary = ConsumerSummary(product=product.ref, queue=queue)
    sweep_stale(settings)
    private_folders(settings)
    register = register_names(settings.sources_dir)
    con = lake.connect()
    amqp = broker.connect()
    try:
        channel = amqp.channel()
        broker.declare(channel, queue)
        size = max_events or stream.batch.max_events
        channel.basic_qos(prefetch_count=size * 2)
        warm_up(con, product)
        if on_ready is not None:
            on_ready()
        inlined = False
        started = last_message = last_flush = time.monotonic()  # after the warm-up
        pending: list[Message] = []
        opened = 0.0
        for method, props, body in channel.consume(queue, inactivity_timeout=0.05):
            now = time.monotonic()
            if method is not None:
                message_id = message_id_of(props.message_id, body)
                pending.append(Message(method.delivery_tag, message_id, body))
                last_message = now
                if len(pending) == 1:
                    opened = now
            full = len(pending) >= size
            due = pending and now - opened >= stream.batch.max_wait_seconds
            if full or due:
                result = process_batch(
                    con, settings, product, key, register, pending,
                    before_commit=lambda n=summary.batches + 1: fault_point("before_commit", n),
                )  # fmt: skip
                fault_point("after_commit", summary.batches + 1)
                channel.basic_ack(delivery_tag=pending[-1].tag, multiple=True)  # after commit
                pending = []
                _count(summary, result)
                if not inlined and result.snapshot_id is not None:
                    _inline(con, product)
                    inlined = True
                if on_batch is not None:
                    on_batch(product, result)
            if now - last_flush >= stream.flush_every_seconds:
                summary.flushed_rows += flush(con, product)
                last_flush = now
            idle = idle_exit_seconds is not None and now - last_message >= idle_exit_seconds
            if (idle or (max_seconds is not None and now - started >= max_seconds)) and not pending:
                break
        channel.cancel()
        summary.flushed_rows += flush(con, product)
    finally:
        if amqp.is_open:
            amqp.close()
        con.close()
    return summary


def _count(summary: ConsumerSummary, result: BatchResult) -> None:
    summary.batches += 1
    summary.received += result.received
    summary.published += result.published
    summary.quarantined += result.quarantined.total()
    summary.skipped += result.skipped
    summary.lags += result.lags
