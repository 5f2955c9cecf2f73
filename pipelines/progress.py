"""In-process progress reporting: the CLI listens, the assets report.

`regionlab run` executes the Dagster definitions in this process, so a plain
callback is enough to drive a progress display and collect the summary table
without parsing Dagster's event log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Listener = Callable[[str, str, Any], None]  # (event, product ref, payload)

_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def emit(event: str, ref: str, payload: Any = None) -> None:
    for listener in list(_listeners):
        listener(event, ref, payload)
