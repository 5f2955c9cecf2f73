"""When the consumer closes a micro-batch, and how large the next one may grow.

A micro-batch has a fixed cost (staging file, identifier tests, the lake
transaction: about half a second on a quiet machine) and a cost per event (FHIR
validation, about a millisecond). The policy keeps the lag low at the steady rate
and the throughput high in a burst:

* a batch closes when it is **full**, or when its oldest message has waited
  ``max_wait`` seconds (an idle consumer gathers a little before paying the
  fixed cost);
* a batch that starts with messages that were already **waiting** when the
  previous batch committed closes as soon as the broker has nothing more at
  hand: those messages have waited through a whole batch already, and what
  arrives while this one is written forms the next ("group commit"), so the
  batch size follows the arrival rate by itself;
* after a batch closed full (a backlog) the next may be twice as large, up to
  ``ceiling`` — the fixed cost is paid once for more events, so a backlog drains
  faster; after one that closed otherwise the size falls back towards the spec's
  ``max_events``. The ceiling is the product's inlining limit, so micro-batches
  stay inlined in the catalogue (no Parquet file per batch).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BatchPolicy:
    base: int
    ceiling: int
    max_wait: float
    size: int = 0
    opened: float | None = None  # when the current batch's oldest message was known to wait
    backlog: bool = False  # messages were waiting when the previous batch committed

    def __post_init__(self) -> None:
        self.ceiling = max(self.ceiling, self.base)
        self.size = self.base

    def received(self, now: float, pending: int) -> None:
        """A message joined the batch (``pending`` messages now)."""
        if pending == 1 and self.opened is None:
            self.opened = now

    def should_close(self, now: float, pending: int, drained: bool) -> bool:
        """``drained``: the broker had no message at hand on the last look."""
        if not pending or self.opened is None:
            return False
        if pending >= self.size:
            return True
        if self.backlog and drained:
            return True
        return now - self.opened >= self.max_wait

    def closed(self, now: float, pending: int, waiting: int) -> None:
        """The batch of ``pending`` messages committed; ``waiting`` are at hand for the next."""
        full = pending >= self.size
        self.size = min(self.ceiling, self.size * 2) if full else max(self.base, self.size // 2)
        self.backlog = waiting > 0
        self.opened = now if self.backlog else None
