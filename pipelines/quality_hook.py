"""The checks each product's asset reports: the privacy gates and the product's quality rules.

``check_names`` declares them (Dagster AssetCheckSpecs); ``quality_hook`` is the
audit step's call into ``quality/``, which runs the rules against the staging
file and returns one CheckResult per rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from regionlab.results import CheckResult
from regionlab.spec import Product

PRIVACY_CHECKS = [
    (
        "privacy_identifier_scan",
        "No CPR numbers, phone numbers, e-mail addresses, addresses or register names in text "
        "columns.",
    ),
    ("privacy_direct_identifiers", "Direct identifiers are dropped or replaced by the person key."),
]
K_ANONYMITY = ("privacy_k_anonymity", "Quasi-identifier classes are at least the minimum k.")


def check_names(product: Product) -> list[tuple[str, str, bool]]:
    """(check name, description, blocking) of every check the product's asset reports."""
    from quality.outcomes import describe

    checks = [(name, text, True) for name, text in PRIVACY_CHECKS]
    if product.quasi_identifiers:
        checks.append((*K_ANONYMITY, product.k_anonymous))
    checks += [
        (rule.id, describe(rule), rule.severity.value == "blocking") for rule in product.quality
    ]
    return checks


def quality_hook(
    con: duckdb.DuckDBPyConnection, staging: Path, product: Product, reference_date: dt.date
) -> list[CheckResult]:
    """Run the product's quality rules on ``staging`` (detached from ``con``)."""
    from quality.audit import audit

    return audit(con, staging, product, reference_date)
