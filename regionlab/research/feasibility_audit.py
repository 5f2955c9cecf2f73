"""What a feasibility answer puts in the audit store, and the one call that puts it there.

Kept apart from :mod:`regionlab.research.feasibility` so the counting code has a
single call site: the normalised definition (``index_date`` fixed, the
user-chosen ``name`` dropped — renaming a cohort must not make it look new), the
answer exactly as displayed, and the suppression applied (the rule and how
many entries it hid, never which or what values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from regionlab.research.audit_store import AuditStore, open_store
from regionlab.research.cohort import Cohort
from regionlab.research.disclosure import normalise
from regionlab.research.suppression import SuppressedTable


def normalised_definition(cohort: Cohort) -> dict[str, Any]:
    """The definition as audited and compared: the differencing defence's normal form.

    ``index_date`` resolved, no ``name`` or texts, lists sorted, equivalent
    spellings collapsed (:func:`regionlab.research.disclosure.normalise`), so
    the guard's repeat and near-identical checks read the same form it stores.
    """
    return normalise(cohort)


def shown_answer(total: int | str, table: SuppressedTable | None) -> dict[str, Any]:
    """``{"total": 14 | "<5", "cells": {"K|50-59": 10, "K|Total": "<5", ...}}``."""
    cells = {} if table is None else {"|".join(map(str, c.key)): c.display for c in table.cells}
    return {"total": total, "cells": cells}


def applied_suppression(shape: Any) -> dict[str, Any]:
    facts = shape.audit_shape() if hasattr(shape, "audit_shape") else dict(shape)
    return {"rule": "primary+secondary", **facts}


def record_feasibility(
    store: AuditStore | None,
    *,
    user: str,
    cohort: Cohort,
    snapshot_id: int,
    dimensions: Sequence[str],
    total: int | str,
    table: SuppressedTable | None,
    shape: Any,
    threshold: int,
    products: Sequence[str],
    project: str | None = None,
    refused: str | None = None,
    answer: Mapping[str, Any] | None = None,
) -> str:
    """Record one answered (or refused) query; returns the audit entry id.

    ``answer`` is the differencing defence's record of what was shown
    (``Protection.answer``: the displayed values, plus where a reused answer
    came from); without it the displayed ``total``/``table`` are recorded.
    """
    return (store or open_store()).record_query(
        user=user,
        project=project,
        definition=normalised_definition(cohort),
        snapshot_id=snapshot_id,
        dimensions=dimensions,
        answer=dict(answer) if answer is not None else shown_answer(total, table),
        threshold=threshold,
        suppression=applied_suppression(shape),
        products=products,
        refused=refused,
    )


__all__ = ["applied_suppression", "normalised_definition", "record_feasibility", "shown_answer"]
