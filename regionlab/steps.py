"""Named steps of a product run, for whoever wants to watch them (the benchmark, a profiler).

The engine, the pseudonymisation and the quality layer mark their steps with
``with step("ingest"): ...``. Nobody watches by default and a step costs a
context-variable lookup. :func:`observe` installs an observer for the calls
made inside it — a callable that takes the step name and returns a context
manager (e.g. a timer) — so the benchmark times the production code path
without replacing any of its functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from contextvars import ContextVar

Observer = Callable[[str], AbstractContextManager[object]]

_observer: ContextVar[Observer | None] = ContextVar("regionlab_step_observer", default=None)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Mark a step; the active observer (if any) wraps it."""
    observer = _observer.get()
    if observer is None:
        yield
        return
    with observer(name):
        yield


@contextlib.contextmanager
def observe(observer: Observer) -> Iterator[None]:
    """Let ``observer`` wrap every step run inside this block (in this context)."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)
