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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from regionlab import lake
from regionlab.privacy.keys import PseudonymKey, load_key
from regionlab.settings import Settings
from regionlab.spec import Product
from regionlab.streaming import broker
from regionlab.streaming.batching import BatchPolicy
from regionlab.streaming.deadletter import MAX_ATTEMPTS, dead_letter, is_systemic
from regionlab.streaming.deadletter import REASON as DEAD_REASON
from regionlab.streaming.fhir_rows import model as fhir_model
from regionlab.streaming.microbatch import BatchResult, Message, process_batch
from regionlab.wap.register_names import Register, register_names
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
    max_messages: int | None = None,
) -> ConsumerSummary:
    """Consume ``queue`` (the spec's topic by default) until idle or ``max_seconds`` pass.

    With neither limit the consumer runs until it is stopped. ``max_events`` overrides
    the spec's micro-batch size (tests use small batches). ``on_ready`` is called once
    the consumer is connected and warmed up (a benchmark starts its producer then).
    ``max_messages``: stop once that many messages were taken and committed (an erasure
    drains what was queued when it looked, see :mod:`regionlab.erasure.stream_queues`).
    """
    stream = product.stream
    assert stream is not None
    queue = queue or broker.topic_queue(stream.topic)
    key = key or load_key()
    summary = ConsumerSummary(product=product.ref, queue=queue)
    sweep_stale(settings)
    private_folders(settings)
    register = register_names(settings.sources_dir)
    con = lake.connect()  # one lake connection for the consumer's life
    amqp = broker.connect()
    # One reporting thread: batches are reported in commit order, off the consumer's path.
    reporter = ThreadPoolExecutor(max_workers=1) if on_batch is not None else None
    try:
        channel = amqp.channel()
        broker.declare(channel, queue)
        # Tests pass ``max_events`` to get batches of a known size: no growing then.
        base = max_events or stream.batch.max_events
        policy = BatchPolicy(
            base=base,
            ceiling=base if max_events else max(base, stream.inline_rows),
            max_wait=stream.batch.max_wait_seconds,
        )
        channel.basic_qos(prefetch_count=policy.ceiling * 2)
        warm_up(con, product)
        if on_ready is not None:
            on_ready()
        inlined = False
        started = last_message = last_flush = time.monotonic()  # after the warm-up
        pending: list[Message] = []
        taken = 0
        streak = [0]  # messages dead-lettered in a row (see Batch)
        for method, props, body in channel.consume(queue, inactivity_timeout=0.05):
            now = time.monotonic()
            if method is not None:
                taken += 1
                message_id = message_id_of(props.message_id, body)
                pending.append(Message(method.delivery_tag, message_id, body))
                last_message = now
                policy.received(now, len(pending))
            enough = max_messages is not None and taken >= max_messages
            if (enough and pending) or policy.should_close(now, len(pending), method is None):
                batch = Batch(con, settings, product, key, register, summary.batches + 1, streak)
                results = batch.run(pending)
                fault_point("after_commit", summary.batches + 1)
                channel.basic_ack(delivery_tag=pending[-1].tag, multiple=True)  # after commit
                policy.closed(time.monotonic(), len(pending), channel.get_waiting_message_count())
                pending = []
                for result in results:
                    _count(summary, result)
                    if not inlined and result.snapshot_id is not None:
                        _inline(con, product)
                        inlined = True
                    if reporter is not None:  # Dagster's bookkeeping must not hold the next one
                        reporter.submit(_report, on_batch, product, result)
            if now - last_flush >= stream.flush_every_seconds:
                summary.flushed_rows += flush(con, product)
                last_flush = now
            idle = idle_exit_seconds is not None and now - last_message >= idle_exit_seconds
            timed_out = max_seconds is not None and now - started >= max_seconds
            if (idle or timed_out or enough) and not pending:
                break
        channel.cancel()
        summary.flushed_rows += flush(con, product)
    finally:
        if reporter is not None:
            reporter.shutdown(wait=True)
        if amqp.is_open:
            amqp.close()
        con.close()
    return summary


@dataclass
class Batch:
    """One micro-batch's messages through write–audit–publish, a poison message isolated.

    A failure that is not the platform's (:func:`~regionlab.streaming.deadletter.is_systemic`)
    splits the messages in halves, each published on its own; a single message that
    still fails :data:`~regionlab.streaming.deadletter.MAX_ATTEMPTS` times is
    dead-lettered. Every message has then committed one way or the other, in order, so
    the caller acknowledges them all.

    ``streak`` counts messages dead-lettered in a row across batches: when every message
    fails (a spec that no longer matches the lake, say) that is the platform's fault, not
    the messages', so after :data:`DEAD_STREAK` the consumer stops instead of
    quarantining the whole stream (the messages stay queued for its restart).
    """

    con: duckdb.DuckDBPyConnection
    settings: Settings
    product: Product
    key: PseudonymKey
    register: Register
    number: int
    streak: list[int] = field(default_factory=lambda: [0])

    def run(self, messages: list[Message]) -> list[BatchResult]:
        try:
            return [self._once(messages)]
        except Exception as exc:
            if is_systemic(exc):
                raise
            log.warning(
                "micro-batch of %d messages failed (%s); isolating the failing messages",
                len(messages), type(exc).__name__,
            )  # fmt: skip
            if len(messages) > 1:
                half = len(messages) // 2
                return self.run(messages[:half]) + self.run(messages[half:])
            return [self._retry(messages, exc)]

    def _once(self, messages: list[Message]) -> BatchResult:
        fault_raise(messages)
        result = process_batch(
            self.con, self.settings, self.product, self.key, self.register, messages,
            before_commit=lambda: fault_point("before_commit", self.number),
        )  # fmt: skip
        self.streak[0] = 0
        return result

    def _retry(self, messages: list[Message], error: Exception) -> BatchResult:
        for _ in range(MAX_ATTEMPTS - 1):
            try:
                return self._once(messages)
            except Exception as exc:
                if is_systemic(exc):
                    raise
                error = exc
        if self.streak[0] >= DEAD_STREAK:
            raise RuntimeError(
                f"{DEAD_STREAK} messages in a row failed in every attempt "
                f"({type(error).__name__}): stopping the consumer, the messages stay queued"
            ) from None
        self.streak[0] += 1
        log.error(
            "message dead-lettered after %d attempts (%s): quarantined as %s",
            MAX_ATTEMPTS, type(error).__name__, DEAD_REASON,
        )  # fmt: skip
        return dead_letter(
            self.con, self.settings, self.product, self.key, messages, error, MAX_ATTEMPTS
        )


#: Messages dead-lettered in a row (nothing published between) before the consumer stops.
DEAD_STREAK = 5


def fault_raise(messages: list[Message]) -> None:
    """Test hook: ``REGIONLAB_STREAM_POISON=<message id>`` makes every micro-batch holding
    that message raise, as a message that trips a bug in the audit would; ``*``: every one."""
    poison = os.environ.get("REGIONLAB_STREAM_POISON")
    if poison and any(poison in ("*", m.message_id) for m in messages):
        raise RuntimeError("poison message (test hook)")


def _report(hook: BatchHook, product: Product, result: BatchResult) -> None:
    """Run the hook; a failed report is logged (its kind, no values) and the stream goes on:
    the batch is committed and acknowledged, Dagster only misses one materialisation."""
    try:
        hook(product, result)
    except Exception as exc:  # noqa: BLE001 — reporting must not stop the consumer
        log.warning("micro-batch %s not reported (%s)", result.batch_id, type(exc).__name__)


def _count(summary: ConsumerSummary, result: BatchResult) -> None:
    summary.batches += 1
    summary.received += result.received
    summary.published += result.published
    summary.quarantined += result.quarantined.total()
    summary.skipped += result.skipped
    summary.lags += result.lags
