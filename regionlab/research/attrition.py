"""Attrition: how many people are left after each inclusion rule (as OHDSI users ask for).

Consecutive steps are nested cohorts one criterion apart, the textbook
differencing pair, so each step is shown only through
:func:`regionlab.research.disclosure.protect_steps`: a count 1..threshold-1 is
hidden, a drop of fewer than threshold people shows the previous step's value
again (0 and 4 read the same), and every other count carries the keyed noise.
The whole attrition is one query for the guard (budget and lockout, with the
dimension ``attrition``) and one entry in the audit store (answered or refused).
Researchers ask for it through the access service (``POST /feasibility/attrition``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from regionlab import lake
from regionlab.research import disclosure
from regionlab.research.audit_store import AuditStore
from regionlab.research.cohort import Cohort, CohortBuilder, as_cohort
from regionlab.research.cohort_sql import compile_cohort
from regionlab.research.feasibility import round_shown
from regionlab.research.feasibility_audit import record_feasibility
from regionlab.research.query_history import QueryHistory
from regionlab.research.suppression import DEFAULT_THRESHOLD

ATTRITION_DIMENSION = "attrition"


@dataclass(frozen=True)
class Attrition:
    """Displayed attrition steps; holds no hidden count."""

    snapshot_id: int
    steps: tuple[tuple[str, int | str], ...]
    answer: dict[str, Any]
    """What the audit store records (``{"total": last step, "cells": {label: shown}}``)."""
    threshold: int = DEFAULT_THRESHOLD
    audit_entry_id: str | None = None


def steps_of(cohort: Cohort) -> list[tuple[str, Cohort]]:
    """The cohort cut after each rule: person filters, then each include, then each exclude."""
    out = [("person filters", cohort.model_copy(update={"include": [], "exclude": []}))]
    for i, criterion in enumerate(cohort.include):
        label = f"include[{i}] {criterion.kind}"
        out.append(
            (label, cohort.model_copy(update={"include": cohort.include[: i + 1], "exclude": []}))
        )
    for i, criterion in enumerate(cohort.exclude):
        label = f"exclude[{i}] {criterion.kind}"
        out.append((label, cohort.model_copy(update={"exclude": cohort.exclude[: i + 1]})))
    return out


def _lake_read(snapshot: int | None) -> tuple[duckdb.DuckDBPyConnection, int]:
    con = lake.connect(read_only=True, snapshot=snapshot)
    return con, lake.current_snapshot(con)


def attrition(
    cohort: Cohort | CohortBuilder | Mapping[str, Any],
    *,
    user: str,
    project: str | None = None,
    snapshot: int | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    history: QueryHistory | None = None,
    defence: disclosure.DisclosureSettings | None = None,
    secret: bytes | None = None,
    audit_store: AuditStore | None = None,
    read: Callable[[int | None], tuple[duckdb.DuckDBPyConnection, int]] | None = None,
    rounding: int = 1,
) -> Attrition:
    """Count and protect each attrition step of ``cohort``.

    With ``audit_store`` the query is recorded there (refusals too) and is the
    guard's history unless ``history`` is given. ``read(snapshot)`` gives a lake
    connection and the snapshot it reads (the service passes its shared lake
    connection; default: a new one); it must hold the lake's own person keys,
    since the noise is keyed by them. ``rounding`` (the server's policy) rounds shown
    counts as :func:`regionlab.research.feasibility.feasibility` does: not when the
    defence perturbs them.
    """
    model = as_cohort(cohort).resolved()
    dims = (ATTRITION_DIMENSION,)
    decision = disclosure.guard(
        history if history is not None else audit_store,
        user=user,
        project=project,
        definition=disclosure.normalise(model),
        dimensions=dims,
        settings=defence,
    )
    whole = compile_cohort(model)

    def record(snapshot_id: int | None, answer: dict[str, Any], refused: str | None) -> str | None:
        if audit_store is None:
            return None
        cells = answer.get("cells") or {}
        hidden = sum(isinstance(v, str) for v in cells.values())
        return record_feasibility(
            audit_store,
            user=user,
            cohort=whole.cohort,
            snapshot_id=snapshot_id,  # type: ignore[arg-type]
            dimensions=dims,
            total=answer.get("total", ""),
            table=None,
            shape={"cells": len(cells), "hidden": hidden},
            threshold=threshold,
            products=whole.products,
            project=project,
            refused=refused,
            answer=answer,
        )

    try:
        decision.raise_if_refused()
    except disclosure.Refused as refused:
        record(None, {}, refused.reason)
        raise
    salt = disclosure.person_salt(secret) if secret else ""
    raw: list[disclosure.Step] = []
    con, snapshot_id = (read or _lake_read)(snapshot)
    try:
        for label, step in steps_of(model):
            compiled = compile_cohort(step)
            compiled.check_lake(con)
            row = con.execute(f"SELECT count(DISTINCT person_key) FROM ({compiled.sql})").fetchone()
            hashes = disclosure.members_hashes(con, compiled, (), salt)
            raw.append(disclosure.Step(label, int(row[0]) if row else 0, hashes.get((), 0)))
    finally:
        con.close()
    shown = disclosure.protect_steps(raw, threshold=threshold, secret=secret, settings=defence)
    if rounding > 1 and (defence is None or not defence.perturbs):
        shown = [(label, round_shown(value, rounding, threshold)) for label, value in shown]
    del raw  # the only object holding hidden values
    answer = {"total": shown[-1][1], "cells": dict(shown)}
    entry = record(snapshot_id, answer, None)
    return Attrition(
        snapshot_id=snapshot_id,
        steps=tuple(shown),
        answer=answer,
        threshold=threshold,
        audit_entry_id=entry,
    )


__all__ = ["ATTRITION_DIMENSION", "Attrition", "attrition", "steps_of"]
