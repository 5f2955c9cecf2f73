"""The checks each product's asset reports: the privacy gates and the product's quality rules.

``check_names`` declares them (Dagster AssetCheckSpecs); ``quality_hook`` is the
audit step's call into ``quality/``, which runs the rules against the staging
file and returns one CheckResult per rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from regionlab.platform.names import (
    DELIVERY_VOLUME,
    DIRECT_IDENTIFIERS,
    IDENTIFIER_SCAN,
    K_ANONYMITY,
    SMALL_CELLS,
)
from regionlab.results import CheckResult
from regionlab.spec import Product

PRIVACY_CHECKS = (IDENTIFIER_SCAN, DIRECT_IDENTIFIERS)


def check_names(product: Product) -> list[tuple[str, str, bool]]:
    """(check name, description, blocking) of every check the product's asset reports."""
    from quality.outcomes import describe

    checks = [(check.name, check.summary, True) for check in PRIVACY_CHECKS]
    if product.quasi_identifiers:
        checks.append((K_ANONYMITY.name, K_ANONYMITY.summary, product.k_anonymous))
    if product.privacy.small_cells is not None:
        checks.append((SMALL_CELLS.name, SMALL_CELLS.summary, True))
    if product.source is not None:
        # A replacing run reports it: every run of a `load: replace` product, and a full
        # refresh of any source product (the demo's first run), which replaces the table.
        checks.append((DELIVERY_VOLUME.name, DELIVERY_VOLUME.summary, True))
    checks += [
        (rule.id, describe(rule), rule.severity.value == "blocking") for rule in product.quality
    ]
    return checks


def quality_hook(
    con: duckdb.DuckDBPyConnection, staging: Path, product: Product, reference_date: dt.date
) -> list[CheckResult]:
    """Run the product's quality rules on ``staging`` (detached from ``con``)."""
    from quality.validate import audit

    return audit(con, staging, product, reference_date)
