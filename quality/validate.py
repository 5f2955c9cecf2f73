"""Run all of a product's quality rules against its staging file: GX first, then cross-checks.

This is what the engine's audit step calls (through ``pipelines.quality_hook``).
Results come back in the spec's rule order, one ``CheckResult`` per rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from quality import cross_checks, suites
from quality.outcomes import from_outcome
from quality.runner import validate_duckdb
from regionlab.results import CheckResult
from regionlab.spec import Product
from regionlab.steps import step

STAGED_TABLE = "staged"


def gx_results(staging: Path, product: Product, reference_date: dt.date) -> list[CheckResult]:
    """The GX-expressible rules, validated in one GX run over ``staged``.

    No connection to ``staging`` may be open in this process (GX opens it read-only).
    """
    items = suites.expectations(product, reference_date)
    outcomes = validate_duckdb(
        staging, STAGED_TABLE, [i.expectation for i in items], suite_name=suites.suite_name(product)
    )
    return [from_outcome(i.rule, o, i.declared) for i, o in zip(items, outcomes, strict=True)]


def audit(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    product: Product,
    reference_date: dt.date,
) -> list[CheckResult]:
    """Every quality rule of ``product`` as a CheckResult, in spec order.

    ``con`` has the lake attached as ``lake`` and the staging file detached.
    """
    with step("audit_gx"):
        by_id = {r.check: r for r in gx_results(staging, product, reference_date)}
    with step("audit_cross_checks"):
        crossed = cross_checks.run_cross_checks(con, staging, product, reference_date)
    by_id.update({r.check: r for r in crossed})
    return [by_id[rule.id] for rule in product.quality if rule.id in by_id]
