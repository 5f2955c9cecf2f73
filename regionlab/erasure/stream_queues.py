"""Erasure and the broker: an erased person's events still queued for a streaming product.

The suppression list stops an erased person's events at the consumer, but until
a consumer takes them, queued messages hold the CPR number in RabbitMQ. RabbitMQ
cannot delete single messages from a queue, so three ways were weighed:

* a bounded message TTL on the queue: everyone's messages would expire — a
  consumer stopped for longer than the TTL loses data — and an erasure would have
  to wait out the TTL before it could say the messages are gone;
* taking every message and republishing the others: it reorders the stream and,
  after a crash between the two, doubles or loses messages;
* **draining the queue through the consumer** (chosen): after the suppression
  list has committed, the erasure consumes each streaming product's queue with the
  product's own consumer. Every message goes through write–audit–publish as it
  would have anyway: the erased persons' events are quarantined without their
  values (the suppression list), everyone else's are published, nothing is lost
  and nothing is acknowledged before its commit. The erasure takes the messages
  that were queued when it looked (a queue is first in, first out: those are the
  ones published before the suppression list changed) and then reports how many
  are left; anything published later meets the updated suppression list in
  whichever consumer takes it.

A running consumer shares the queue meanwhile (the broker hands each message to
one of them); its prefetched messages are audited against the updated list at its
next micro-batch, because the erasure waits for any micro-batch in flight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from regionlab.errors import UserError
from regionlab.privacy.keys import PseudonymKey
from regionlab.settings import Settings
from regionlab.spec import Registry


@dataclass
class Drained:
    """Messages taken from each streaming product's queue, and problems (no values)."""

    messages: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def drain_stream_queues(
    registry: Registry,
    settings: Settings,
    key: PseudonymKey,
    queues: Mapping[str, str] | None = None,
) -> Drained:
    """Drain each streaming product's queue (``queues``: product ref → queue, default its topic)."""
    from regionlab.streaming import broker
    from regionlab.streaming.consumer import consume

    out = Drained()
    for product in registry.streams():
        assert product.stream is not None
        queue = (queues or {}).get(product.ref) or broker.topic_queue(product.stream.topic)
        try:
            depth = broker.queue_depth(queue)
            if not depth:  # no queue, or an empty one
                out.messages[product.ref] = 0
                continue
            summary = consume(
                product, settings, queue=queue, key=key, idle_exit_seconds=2.0,
                max_messages=depth,
            )  # fmt: skip
            out.messages[product.ref] = summary.received + summary.skipped
            out.left[product.ref] = broker.queue_depth(queue) or 0
        except UserError as exc:  # the broker cannot be reached: the queue was not checked
            out.notes.append(f"stream queue of {product.ref} not drained: {exc}")
    return out
