"""Feasibility counts: how many people a cohort has, without showing anyone.

A count leaves this module only after small-cell suppression (primary and
secondary, :mod:`regionlab.research.suppression`) and only once its audit entry
is stored: if the audit store cannot be written, the researcher gets an error,
not an answer. The result object holds displayed values only; hidden counts
are dropped before it is built, so nothing downstream (notebook, CLI, log) can
leak them.

This runs inside the access service only (``POST /feasibility``): the caller's
name comes from the verified token and the threshold floor from the service's
settings (:mod:`service.settings`), never from the researcher's environment.
Researchers call it through :mod:`regionlab.research.client`, which receives
:class:`~regionlab.research.answer.FeasibilityAnswer` — displayed values only.

Differencing across overlapping queries (ask for a cohort, then the same
cohort minus one criterion) is the job of :mod:`regionlab.research.disclosure`
when the service passes its policy (``defence``): near-identical queries get
the same answer, shown counts carry keyed noise, a budget and a lockout cap
the series. The audit store records every query with its normalised
definition so that such series can be reviewed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from regionlab import codelists, lake
from regionlab.errors import UserError
from regionlab.research import disclosure
from regionlab.research.audit_store import AuditStore, open_store
from regionlab.research.cohort import AGE_BANDS, SEXES, Cohort, CohortBuilder, as_cohort
from regionlab.research.cohort_pass import DIMENSIONS, MISSING_LEVEL, MemberCache, evaluate
from regionlab.research.cohort_sql import compile_cohort
from regionlab.research.feasibility_audit import record_feasibility
from regionlab.research.query_history import QueryHistory
from regionlab.research.suppression import (
    DEFAULT_THRESHOLD,
    SuppressedTable,
    hidden_marker,
    suppress,
    suppress_count,
)


@dataclass(frozen=True)
class LakeRead:
    """A connection a request reads the cohort on, with the snapshot it reads.

    The service hands these out (``connect``): a cursor of its in-memory copy of
    one snapshot, whose ``release`` lets the copy go once its last reader is done,
    or a cursor of the lake itself. A plain connection is accepted as well; its
    snapshot is then asked of the lake.
    """

    con: duckdb.DuckDBPyConnection
    snapshot_id: int
    release: Callable[[], None] | None = None
    person_hashes: str | None = None
    """A table of ``person_key`` and ``_ph`` (the keyed person hash) when this
    connection's keys are not the lake's (the service's copy numbers persons)."""
    hash_salt: str | None = None
    """The salt ``person_hashes`` were computed with."""
    members: MemberCache | None = None
    """Member sets of cohorts evaluated on this snapshot (the service's copy only)."""

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            if self.release is not None:
                self.release()


def check_threshold(threshold: int | None, floor: int) -> int:
    """The threshold to apply: ``floor`` when none is asked, else the asked one if not lower."""
    if threshold is None:
        return floor
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < floor:
        raise UserError(
            f"threshold {threshold!r} is below the platform minimum of {floor}; "
            "counts smaller than that are never shown (ask for the same or a higher threshold)"
        )
    return threshold


def round_shown(display: int | str, base: int, threshold: int = 1) -> int | str:
    """A shown count rounded half up to a multiple of ``base``; hidden markers and 0 as they
    are. A shown count is never rounded below ``threshold`` (it would read as a small count):
    it goes up to the first multiple at or above it instead. Rounding only adds uncertainty on
    top of suppression, which was decided on the exact counts."""
    if isinstance(display, str) or display == 0 or base <= 1:
        return display
    rounded = (display + base // 2) // base * base
    return max(rounded, -(-max(threshold, 1) // base) * base)


def parse_dimensions(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"sex,age_band"`` or a list → validated dimension names."""
    if by is None:
        return ()
    items = [p.strip() for p in (by.split(",") if isinstance(by, str) else by)]
    items = [p for p in items if p]
    unknown = [p for p in items if p not in DIMENSIONS]
    if unknown:
        raise UserError(
            f"--by: unknown dimension(s) {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}"
        )
    if len(set(items)) != len(items):
        raise UserError("--by: a dimension is listed twice; list each once")
    return tuple(items)


@dataclass(frozen=True)
class FeasibilityResult:
    """A suppressed answer plus what it was computed from; holds no hidden count."""

    cohort_name: str
    cohort_hash: str
    snapshot_id: int
    dimensions: tuple[str, ...]
    threshold: int
    total: int | str
    """The number of unique persons, or the hidden marker (e.g. ``"<5"``)."""
    table: SuppressedTable | None
    """The stratified table with all margins; ``None`` without dimensions."""
    notes: tuple[str, ...]
    products: tuple[str, ...]
    audit_entry_id: str
    seconds: float
    rounding: int = 1
    """Shown counts are multiples of this (1: exact)."""
    protection: disclosure.Protection | None = None
    """What the differencing defence did; ``protection.answer`` is what the audit store keeps."""

    @property
    def marker(self) -> str:
        return hidden_marker(self.threshold)

    def to_frame(self) -> pl.DataFrame:
        """One row per cell and margin (``Total``); ``count`` is null where hidden."""
        if self.table is None:
            hidden = isinstance(self.total, str)
            return pl.DataFrame(
                {"count": [None if hidden else self.total], "display": [str(self.total)]},
                schema={"count": pl.Int64(), "display": pl.Utf8()},
            )
        return self.table.to_frame()


def _levels(dimension: str, cohort: Cohort, present: list[str]) -> list[str]:
    """Declared levels, so empty strata show as 0 instead of vanishing."""
    if dimension == "sex":
        declared = list(cohort.sex or SEXES)
    elif dimension == "age_band":
        declared = cohort.age.bands() if cohort.age is not None else list(AGE_BANDS)
    else:
        declared = list(cohort.municipality or codelists.load("municipalities")["code"].to_list())
    extra = sorted(v for v in set(present) if v not in declared)
    return declared + extra


def _connect(snapshot: int | None) -> duckdb.DuckDBPyConnection:
    return lake.connect(read_only=True, snapshot=snapshot)


def _open(
    connect: Callable[[int | None], duckdb.DuckDBPyConnection | LakeRead], snapshot: int | None
) -> LakeRead:
    opened = connect(snapshot)
    if isinstance(opened, LakeRead):
        return opened
    try:
        return LakeRead(opened, lake.current_snapshot(opened))
    except BaseException:
        opened.close()
        raise


def feasibility(
    cohort: Cohort | CohortBuilder | Path | str | Mapping[str, Any],
    by: str | Sequence[str] | None = None,
    *,
    user: str,
    floor: int = DEFAULT_THRESHOLD,
    snapshot: int | None = None,
    threshold: int | None = None,
    rounding: int = 1,
    project: str | None = None,
    audit_store: AuditStore | None = None,
    connect: Callable[[int | None], duckdb.DuckDBPyConnection | LakeRead] | None = None,
    history: QueryHistory | None = None,
    defence: disclosure.DisclosureSettings | None = None,
    secret: bytes | None = None,
) -> FeasibilityResult:
    """Count a cohort's unique persons, optionally by sex, age_band and/or municipality.

    ``user`` is the verified caller (the service passes the token's name) and
    ``floor`` the service's threshold floor; ``threshold`` (default: the floor)
    may be higher, never lower. Runs at ``snapshot`` (default: the newest),
    suppresses small cells, rounds the shown counts to ``rounding`` (the
    service's policy; 1 = exact) and records the query, as shown, before returning.
    ``connect(snapshot)`` gives the lake connection or a :class:`LakeRead` (the
    service passes its pool's; default: a new read-only connection); it is
    closed after counting. The cohort is read once (:mod:`.cohort_pass`): the
    counts, the defence's member comparisons and its noise hashes all come from
    that one read.

    With ``defence`` (the service's policy), ``history`` (the user's past
    queries; default: ``audit_store``) and ``secret`` (the service's noise key)
    the differencing defence of :mod:`regionlab.research.disclosure` guards and
    post-processes the answer (its own keyed noise and rounding replace
    ``rounding``), and a refusal is audited too; without ``defence`` it is off.
    """
    started = time.perf_counter()
    if not user.strip():
        raise UserError("a feasibility query needs the caller's name (from the token)")
    definition = as_cohort(cohort)
    dims = parse_dimensions(by)
    threshold = check_threshold(threshold, floor)
    compiled = compile_cohort(definition)
    # Differencing defence (helper "disclosure"), 1/3: definition-only checks, before counting.
    if defence is not None and history is None and audit_store is None:
        audit_store = open_store()  # the history the guard reads is the store answers go to
    decision = disclosure.guard(
        history if history is not None else audit_store,
        user=user,
        project=project,
        definition=disclosure.normalise(compiled.cohort),
        dimensions=dims,
        settings=defence,
    )
    snapshot_id: int | None = None
    try:
        decision.raise_if_refused()
        read = _open(connect or _connect, snapshot)
        try:
            snapshot_id, con = read.snapshot_id, read.con
            compiled.check_lake(con)
            salt = disclosure.noise_salt(decision, secret)
            with evaluate(
                con,
                compiled,
                dims,
                salt=salt,
                person_hashes=read.person_hashes,
                hash_salt=read.hash_salt,
            ) as members:
                counts = members.counts
                # Differencing defence (helper "disclosure"), 2/3: membership comparisons
                # against the members just read, same connection.
                evidence = disclosure.measure(
                    decision,
                    con,
                    compiled,
                    members=members.table,
                    hashes=members.hashes,
                    snapshot_id=snapshot_id,
                    threshold=threshold,
                    cache=read.members,
                )
        finally:
            read.close()
    except disclosure.Refused as refused:
        record_feasibility(
            audit_store,
            user=user,
            cohort=compiled.cohort,
            snapshot_id=snapshot_id,
            dimensions=dims,
            total="",
            table=None,
            shape={"cells": 0, "hidden": 0},
            threshold=threshold,
            products=compiled.products,
            project=project,
            refused=refused.reason,
        )
        raise

    table: SuppressedTable | None = None
    if dims:
        levels = {d: _levels(d, compiled.cohort, counts[d].to_list()) for d in dims}
        table = suppress(counts, dims, threshold=threshold, levels=levels)
        total = table.cell(*(["Total"] * len(dims))).display
        shape: Any = table
    else:
        n = int(counts["count"][0])
        total = suppress_count(n, threshold)
        shape = {"cells": 1, "hidden": int(isinstance(total, str))}
    del counts  # the only object holding hidden values
    # Differencing defence (helper "disclosure"), 3/3: reuse a near-identical answer or perturb.
    total, table, protection = disclosure.protect(
        decision, evidence, total=total, table=table, threshold=threshold, secret=secret
    )
    if rounding > 1 and not protection.perturbed:
        total = round_shown(total, rounding, threshold)
        if table is not None:
            table = replace(
                table,
                cells=tuple(
                    replace(c, display=round_shown(c.display, rounding, threshold))
                    for c in table.cells
                ),
            )
    shape = table if table is not None else {"cells": 1, "hidden": int(isinstance(total, str))}

    entry_id = record_feasibility(
        audit_store,
        user=user,
        cohort=compiled.cohort,
        snapshot_id=snapshot_id,
        dimensions=dims,
        total=total,
        table=table,
        shape=shape,
        threshold=threshold,
        products=compiled.products,
        project=project,
        answer={**protection.answer, **disclosure.answer_of(total, table)},
    )
    return FeasibilityResult(
        cohort_name=compiled.cohort.name,
        cohort_hash=compiled.fingerprint,
        snapshot_id=snapshot_id,
        dimensions=dims,
        threshold=threshold,
        total=total,
        table=table,
        rounding=rounding,
        notes=compiled.notes + protection.notes,
        products=compiled.products,
        audit_entry_id=entry_id,
        seconds=time.perf_counter() - started,
        protection=protection,
    )


__all__ = [
    "DIMENSIONS",
    "FeasibilityResult",
    "LakeRead",
    "MISSING_LEVEL",
    "check_threshold",
    "feasibility",
    "parse_dimensions",
    "round_shown",
]
