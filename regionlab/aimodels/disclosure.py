"""Training counts as they may be published: the platform's small-cell rule applied.

A model file keeps the exact training ``rows`` and ``positives`` (the model store
is not public); the validation report and the catalogue show them only through
:func:`regionlab.research.suppression.suppress_count`. ``rows`` and ``positives``
together give the negatives, so ``positives`` is hidden too when those are small.
Kept apart from the metric code so the catalogue can use it without loading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regionlab.research.suppression import DEFAULT_THRESHOLD, hidden_marker, suppress_count


def public_training(
    training: Mapping[str, Any], min_cell: int = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """``training`` with ``rows`` and ``positives`` suppressed; other facts unchanged."""
    out = dict(training)
    rows, positives = training.get("rows"), training.get("positives")
    if isinstance(rows, int):
        out["rows"] = suppress_count(rows, min_cell)
    if isinstance(positives, int):
        out["positives"] = suppress_count(positives, min_cell)
        if isinstance(rows, int) and 0 < rows - positives < min_cell:
            out["positives"] = hidden_marker(min_cell)
    return out
