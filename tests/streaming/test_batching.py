"""The micro-batch policy: full, waited long enough, or a backlog drained; size adapts."""

from __future__ import annotations

from regionlab.streaming.batching import BatchPolicy


def test_an_idle_consumer_gathers_until_full_or_max_wait() -> None:
    policy = BatchPolicy(base=4, ceiling=16, max_wait=1.0)
    policy.received(10.0, 1)
    assert not policy.should_close(10.5, 1, drained=True)  # no backlog: wait for more
    assert policy.should_close(11.0, 1, drained=True)  # the oldest waited max_wait
    assert policy.should_close(10.1, 4, drained=False)  # full


def test_a_backlog_closes_when_drained_and_the_size_grows_then_falls_back() -> None:
    policy = BatchPolicy(base=4, ceiling=16, max_wait=1.0)
    policy.received(0.0, 1)
    assert policy.should_close(0.1, 4, drained=False)
    policy.closed(2.0, 4, waiting=30)  # closed full with messages waiting
    assert (policy.size, policy.backlog) == (8, True)
    policy.received(2.0, 1)
    assert policy.opened == 2.0  # the wait counts from the commit they waited through
    assert policy.should_close(2.01, 3, drained=True)  # nothing more at hand: go now
    policy.closed(3.0, 3, waiting=0)
    assert (policy.size, policy.backlog, policy.opened) == (4, False, None)
    for _ in range(5):
        policy.closed(4.0, policy.size, waiting=100)
    assert policy.size == 16  # never above the ceiling (the inlining limit)
