"""``regionlab synth stream``: publish FHIR events to the broker at a rate, with a ledger.

Each declared streaming product gets events of its resource types on its topic
(or on ``queue``, for tests that need a private queue). The broker accepts the
messages in transactions (one per group of due messages: one commit, one disk write)
and only committed messages are written to the ledger, so the ledger is exactly what
the broker accepted: the reference a consumer is compared against (nothing lost,
nothing twice). The ledger holds ids, kinds and defect labels —
never a CPR number or any other resource value.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pika

from regionlab.errors import UserError
from regionlab.spec import Product
from regionlab.streaming import broker
from regionlab.synth.fhir_events import EventFactory, Population, body

#: Messages per broker transaction at most (each commit waits for the broker's disk).
MAX_GROUP = 200


@dataclass(frozen=True)
class Rate:
    """Events per second over time: ``rate``, times ``burst`` inside the burst window."""

    rate: float = 32.0
    seconds: float = 30.0
    burst: float = 1.0
    burst_seconds: float = 10.0

    @property
    def burst_start(self) -> float:
        return self.seconds / 3

    def at(self, elapsed: float) -> float:
        in_burst = self.burst_start <= elapsed < self.burst_start + self.burst_seconds
        return self.rate * (self.burst if in_burst and self.burst > 1 else 1.0)


@dataclass
class FeedSummary:
    feed_id: str
    sent: int = 0
    by_queue: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def _check(rate: Rate, defect_rate: float, duplicate_rate: float) -> None:
    if rate.rate <= 0:
        raise UserError(f"--rate must be above 0 events per second (got {rate.rate})")
    if rate.seconds <= 0:
        raise UserError(f"--seconds must be above 0 (got {rate.seconds})")
    if rate.burst < 1:
        raise UserError(f"--burst is a factor of at least 1 (got {rate.burst}); 10 = ten times")
    for name, value in (("--defect-rate", defect_rate), ("--duplicate-rate", duplicate_rate)):
        if not 0 <= value <= 0.5:
            raise UserError(f"{name} must be between 0 and 0.5 (got {value})")


def publish_feed(
    products: Sequence[Product],
    sources: Path,
    ledger: Path,
    *,
    rate: Rate | None = None,
    count: int | None = None,
    seed: int = 42,
    defect_rate: float = 0.02,
    duplicate_rate: float = 0.01,
    queue: str | None = None,
    population: Population | None = None,
    progress: Callable[[int], None] | None = None,
) -> FeedSummary:
    """Publish events for ``products`` until ``rate.seconds`` pass (or ``count`` are sent)."""
    rate = rate or Rate()
    _check(rate, defect_rate, duplicate_rate)
    streams = [p for p in products if p.stream is not None]
    if not streams:
        raise UserError("no streaming product is declared; add one with a `stream:` section")
    factory = EventFactory(population or Population.load(sources), seed, defect_rate)
    targets = [
        (queue or broker.topic_queue(p.stream.topic), kind.value)
        for p in streams
        if p.stream is not None
        for kind in p.stream.resource_types
    ]
    summary = FeedSummary(feed_id=uuid.uuid4().hex[:12])
    ledger.parent.mkdir(parents=True, exist_ok=True)
    con = broker.connect()
    channel = con.channel()
    channel.tx_select()  # a group of messages is confirmed by one commit, then ledgered
    for name in {q for q, _ in targets}:
        broker.declare(channel, name)
    started = time.monotonic()
    due = 0.0
    group: list[dict[str, object]] = []
    try:
        with ledger.open("a", encoding="utf-8") as out:
            while True:
                elapsed = time.monotonic() - started
                if (count is not None and summary.sent + len(group) >= count) or (
                    count is None and elapsed >= rate.seconds
                ):
                    break
                if due > elapsed or len(group) >= MAX_GROUP:
                    _commit(channel, out, summary, group)
                    if progress is not None:
                        progress(summary.sent)
                    elapsed = time.monotonic() - started
                    if due > elapsed:
                        time.sleep(due - elapsed)
                due += 1.0 / rate.at(due)
                target, kind = targets[(summary.sent + len(group)) % len(targets)]
                now = dt.datetime.now(dt.UTC)
                defect = factory.defect()
                resource = factory.resource(kind, now, defect)
                _send(channel, summary, group, target, resource, defect)
                if factory.rng.random() < duplicate_rate and defect != "invalid_resource":
                    _send(channel, summary, group, target, resource, "duplicate")
            _commit(channel, out, summary, group)
    finally:
        if con.is_open:
            con.close()
    summary.seconds = time.monotonic() - started
    return summary


def _send(
    channel: pika.adapters.blocking_connection.BlockingChannel,
    summary: FeedSummary,
    group: list[dict[str, object]],
    queue: str,
    resource: dict[str, object],
    defect: str | None,
) -> None:
    message_id = f"{summary.feed_id}-{summary.sent + len(group):08d}"
    sent_at = dt.datetime.now(dt.UTC)
    channel.basic_publish(
        exchange="",
        routing_key=queue,
        body=body(resource),
        properties=pika.BasicProperties(
            content_type="application/fhir+json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            type=str(resource["resourceType"]),
            timestamp=int(sent_at.timestamp()),
        ),
    )
    group.append(
        {
            "message_id": message_id,
            "queue": queue,
            "resource_type": resource["resourceType"],
            "resource_id": resource["id"],
            "defect": defect,
            "sent_at": sent_at.isoformat(),
        }
    )


def _commit(
    channel: pika.adapters.blocking_connection.BlockingChannel,
    out: TextIO,
    summary: FeedSummary,
    group: list[dict[str, object]],
) -> None:
    """Commit the broker transaction; only then are its messages in the ledger."""
    if not group:
        return
    channel.tx_commit()
    for line in group:
        out.write(json.dumps(line) + "\n")
        summary.by_queue[str(line["queue"])] += 1
        if line["defect"]:
            summary.defects[str(line["defect"])] += 1
    out.flush()
    summary.sent += len(group)
    group.clear()


def read_ledger(path: Path) -> list[dict[str, object]]:
    """The ledger's lines (one per confirmed message)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
