"""What a user asked before: the seam between the audit store and the differencing defence.

The audit store (server side) records every feasibility query with its
normalised cohort definition and the answer as shown; the differencing
defence reads a user's recent series through :class:`QueryHistory` to spot
near-identical queries, enforce the query budget and the lockout. Only
displayed values are held here (what the researcher already saw), never a
hidden count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class PastQuery:
    """One answered (or refused) feasibility query, as the audit store keeps it."""

    at: datetime
    user: str
    project: str | None
    definition: dict[str, Any]
    """The normalised cohort definition (``name`` dropped, ``index_date`` resolved)."""
    dimensions: tuple[str, ...]
    snapshot_id: int
    answer: dict[str, Any] = field(default_factory=dict)
    """Displayed values only: ``{"total": 15 | "<5", "cells": {"K|50-59": 10, ...}}``."""
    refused: str | None = None
    """Why the query was refused, or ``None`` when it was answered."""


class QueryHistory(Protocol):
    """A user's past queries, newest last."""

    def past_queries(self, user: str, *, since: datetime) -> list[PastQuery]: ...


__all__ = ["PastQuery", "QueryHistory"]
