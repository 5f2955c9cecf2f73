"""Rules that need more than the staged table: foreign keys, dates after death, freshness.

They run as one SQL aggregate each, in DuckDB, over the staging file attached
read-only next to the lake, and return the same counts-only ``CheckResult`` as
the GX rules.

Why not GX: GX 1.24's only multi-table tool is ``UnexpectedRowsExpectation``
(a SQL query whose rows are the failures). It does not fit here because
(1) it fetches the failing rows themselves into Python (metric
``unexpected_rows_query.table``; BASIC only hides them from the result), and
for these rules the rows are pseudonyms and clinical dates; (2) it passes
only when zero rows come back, so it cannot honour a rule's threshold or report
an element count; (3) the query would need the DuckLake catalogue attached
inside GX's own SQLAlchemy connection, and duckdb_engine offers no per-connection
init SQL to do that (it would mean another patch in the shim). A count query
here answers the same question with counts only.

Freshness: at audit time the question is "how stale had this product become
when this delivery arrived?" — the days between this run's newest extract (the
reference date the engine passes) and the newest extract loaded before it (the
lake's load log, which the engine updates only at publish). Measuring the age
of the newest extract *including* this run against the reference date would
always be 0 days, and measuring it against the wall clock would make a demo
with fixed synthetic dates (as_of 2026-11-01) pass or fail depending on the day
it is run. :func:`freshness_as_of` answers the monitoring question ("how old is
the newest extract on date X") with an explicit date, never an implicit clock.

The SQL of each cross-table rule lives with its rule type (its ``cross_check``
projection in :mod:`regionlab.spec.rules`); this module attaches the staged
rows, runs them and turns what they found into check results.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import duckdb

from quality.outcomes import result
from quality.runner import scrub
from regionlab.results import CheckResult, Status
from regionlab.spec import Product
from regionlab.spec.rule_kinds import CrossContext, is_cross_rule
from regionlab.spec.rules import Freshness
from regionlab.sql import quote_literal


def run_cross_checks(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    product: Product,
    reference_date: dt.date,
    rules: list[Any] | None = None,
) -> list[CheckResult]:
    """Results of the product's cross-table rules (or ``rules``), in spec order.

    ``con`` must have the lake attached as ``lake`` (the engine's connection or
    ``regionlab.lake.connect(read_only=True)``) and must not have ``staging``
    attached; the file is attached read-only for the duration and detached after.
    """
    rules = [r for r in (rules if rules is not None else product.quality) if is_cross_rule(r)]
    if not rules:
        return []
    alias = f"qc_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH {quote_literal(str(Path(staging).resolve()))} AS {alias} (READ_ONLY)")
    try:
        ctx = CrossContext(con, f"{alias}.main.staged", product, reference_date)
        return [run_rule(ctx, rule) for rule in rules]
    finally:
        con.execute(f"DETACH {alias}")


def run_rule(ctx: CrossContext, rule: Any) -> CheckResult:
    try:
        found = rule.cross_check(ctx)
    except duckdb.Error as exc:
        product = ctx.product
        words = {
            product.id,
            product.domain,
            *rule.columns_used(),
            *(getattr(rule, a, "") for a in ("reference_column", "death_column")),
        }
        return result(rule, Status.errored, detail=f"check could not run: {scrub(str(exc), words)}")
    return result(
        rule,
        found.status,
        unexpected_count=found.unexpected,
        element_count=found.total,
        detail=found.detail,
    )


def freshness_as_of(
    con: duckdb.DuckDBPyConnection, product: Product, rule: Freshness, as_of: dt.date
) -> CheckResult:
    """Monitoring view: the newest loaded extract is at most ``max_age_days`` old on ``as_of``."""
    newest = CrossContext(con, "", product, as_of).newest_loaded(product.ref)
    if newest is None:
        return result(rule, Status.failed, detail="no extract loaded yet")
    age = (as_of - newest).days
    status = Status.passed if age <= rule.max_age_days else Status.failed
    return result(
        rule,
        status,
        detail=(
            f"newest extract {newest} is {age} days old on {as_of}; allowed {rule.max_age_days}"
        ),
    )
