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
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import duckdb

from quality.outcomes import count_detail, result
from quality.runner import scrub
from regionlab.results import CheckResult, Status
from regionlab.spec import Product
from regionlab.spec.rules import ForeignKey, Freshness, NotAfterDeath

LOAD_LOG = "lake._regionlab.load_log"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(ref: str) -> str:
    domain, name = ref.split("/")
    return f"lake.{_q(domain)}.{_q(name)}"


def _lake_has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake' "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


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
    rules = [
        r
        for r in (rules if rules is not None else product.quality)
        if isinstance(r, ForeignKey | NotAfterDeath | Freshness)
    ]
    if not rules:
        return []
    alias = f"qc_{uuid.uuid4().hex[:8]}"
    needs_staging = any(not isinstance(r, Freshness) for r in rules)
    if needs_staging:
        con.execute(f"ATTACH '{Path(staging).resolve()}' AS {alias} (READ_ONLY)")
    try:
        staged = f"{alias}.main.staged"
        return [_run_one(con, staged, product, rule, reference_date) for rule in rules]
    finally:
        if needs_staging:
            con.execute(f"DETACH {alias}")


def _run_one(
    con: duckdb.DuckDBPyConnection, staged: str, product: Product, rule: Any, day: dt.date
) -> CheckResult:
    try:
        if isinstance(rule, ForeignKey):
            return foreign_key(con, staged, product, rule)
        if isinstance(rule, NotAfterDeath):
            return not_after_death(con, staged, product, rule)
        return freshness(con, product, rule, day)
    except duckdb.Error as exc:
        words = {
            product.id,
            product.domain,
            *rule.columns_used(),
            *(getattr(rule, a, "") for a in ("reference_column", "death_column")),
        }
        return result(rule, Status.errored, detail=f"check could not run: {scrub(str(exc), words)}")


def _reference(product: Product, staged: str, ref: str) -> str | None:
    """The table holding ``ref``: the staged rows for a self-reference, else the lake's."""
    if ref == product.ref:
        return staged
    return None


def _missing_reference(con: duckdb.DuckDBPyConnection, ref: str) -> bool:
    domain, name = ref.split("/")
    return not _lake_has(con, domain, name)


def _judge(rule: Any, unexpected: int, total: int) -> Status:
    """Pass when the failing share is within the threshold (exactly at it passes)."""
    return Status.passed if unexpected <= rule.threshold * total + 1e-9 else Status.failed


def foreign_key(
    con: duckdb.DuckDBPyConnection, staged: str, product: Product, rule: ForeignKey
) -> CheckResult:
    """Share of non-null ``column`` values with no match in the referenced product."""
    target = _reference(product, staged, rule.references)
    if target is None:
        if _missing_reference(con, rule.references):
            return result(
                rule,
                Status.errored,
                detail=f"check could not run: {rule.references} is not in the lake yet",
            )
        target = _table(rule.references)
    col, ref_col = _q(rule.column), _q(rule.reference_column)
    total, unexpected = con.execute(
        f"""SELECT count(s.{col}), count(s.{col}) FILTER (WHERE r.k IS NULL)
            FROM {staged} s
            LEFT JOIN (SELECT DISTINCT {ref_col} AS k FROM {target}) r ON s.{col} = r.k"""
    ).fetchone()
    return result(
        rule,
        _judge(rule, unexpected, total),
        unexpected_count=unexpected,
        element_count=total,
        detail=count_detail(unexpected, total, rule.threshold),
    )


def not_after_death(
    con: duckdb.DuckDBPyConnection, staged: str, product: Product, rule: NotAfterDeath
) -> CheckResult:
    """Rows whose event month lies after the person's death month.

    Death is known to the month only, so an event in the month of death passes.
    Rows without a date or person are not judged (other rules cover them).
    """
    target = _reference(product, staged, rule.population)
    if target is None:
        if _missing_reference(con, rule.population):
            return result(
                rule,
                Status.errored,
                detail=f"check could not run: {rule.population} is not in the lake yet",
            )
        target = _table(rule.population)
    col, person = _q(rule.column), _q(rule.person_column)
    death = _q(rule.death_column)
    total, unexpected = con.execute(
        f"""SELECT count(*) FILTER (WHERE s.{col} IS NOT NULL AND s.{person} IS NOT NULL),
                   count(*) FILTER (WHERE d.death IS NOT NULL
                                    AND date_trunc('month', s.{col}) > d.death)
            FROM {staged} s
            LEFT JOIN (SELECT person_key AS k, max(date_trunc('month', {death})) AS death
                       FROM {target} GROUP BY 1) d ON s.{person} = d.k"""
    ).fetchone()
    return result(
        rule,
        _judge(rule, unexpected, total),
        unexpected_count=unexpected,
        element_count=total,
        detail=count_detail(unexpected, total, rule.threshold),
    )


def _newest_loaded(con: duckdb.DuckDBPyConnection, product_ref: str) -> dt.date | None:
    if not _lake_has(con, "_regionlab", "load_log"):
        return None
    row = con.execute(
        f"SELECT max(extract_date) FROM {LOAD_LOG} WHERE product = ?", [product_ref]
    ).fetchone()
    return row[0] if row else None


def freshness(
    con: duckdb.DuckDBPyConnection, product: Product, rule: Freshness, reference_date: dt.date
) -> CheckResult:
    """Days between this delivery and the newest one loaded before it (see module docstring)."""
    if product.source is None:
        return result(
            rule,
            Status.errored,
            detail="check could not run: freshness applies to products loaded from "
            "extracts, not derived products",
        )
    previous = _newest_loaded(con, product.ref)
    if previous is None:
        return result(
            rule,
            Status.passed,
            detail=f"first delivery ({reference_date}); nothing to compare with",
        )
    gap = max(0, (reference_date - previous).days)
    status = Status.passed if gap <= rule.max_age_days else Status.failed
    return result(
        rule,
        status,
        detail=(
            f"previous extract {previous}, this delivery {reference_date}: {gap} days apart; "
            f"allowed {rule.max_age_days}"
        ),
    )


def freshness_as_of(
    con: duckdb.DuckDBPyConnection, product: Product, rule: Freshness, as_of: dt.date
) -> CheckResult:
    """Monitoring view: the newest loaded extract is at most ``max_age_days`` old on ``as_of``."""
    newest = _newest_loaded(con, product.ref)
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
