"""Attrition: how many people are left after each inclusion rule (as OHDSI users ask for).

Consecutive steps are nested cohorts one criterion apart, the textbook
differencing pair, so each step is shown only through
:func:`regionlab.research.disclosure.protect_steps`: a count 1..threshold-1 is
hidden, a drop of fewer than threshold people shows the previous step's value
again (0 and 4 read the same), and every other count carries the keyed noise.
The whole attrition is one query for the guard (budget and lockout, with the
dimension ``attrition``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from regionlab import lake
from regionlab.research import disclosure
from regionlab.research.cohort import Cohort, CohortBuilder, as_cohort
from regionlab.research.cohort_sql import compile_cohort
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
) -> Attrition:
    """Count and protect each attrition step of ``cohort``."""
    model = as_cohort(cohort).resolved()
    decision = disclosure.guard(
        history,
        user=user,
        project=project,
        definition=disclosure.normalise(model),
        dimensions=(ATTRITION_DIMENSION,),
        settings=defence,
    )
    decision.raise_if_refused()
    salt = disclosure.person_salt(secret) if secret else ""
    raw: list[disclosure.Step] = []
    con = lake.connect(read_only=True, snapshot=snapshot)
    try:
        snapshot_id = lake.current_snapshot(con)
        for label, step in steps_of(model):
            compiled = compile_cohort(step)
            compiled.check_lake(con)
            row = con.execute(f"SELECT count(DISTINCT person_key) FROM ({compiled.sql})").fetchone()
            hashes = disclosure.members_hashes(con, compiled, (), salt)
            raw.append(disclosure.Step(label, int(row[0]) if row else 0, hashes.get((), 0)))
    finally:
        con.close()
    shown = disclosure.protect_steps(raw, threshold=threshold, secret=secret, settings=defence)
    del raw  # the only object holding hidden values
    answer = {"total": shown[-1][1], "cells": dict(shown)}
    return Attrition(snapshot_id=snapshot_id, steps=tuple(shown), answer=answer)


__all__ = ["ATTRITION_DIMENSION", "Attrition", "attrition", "steps_of"]
