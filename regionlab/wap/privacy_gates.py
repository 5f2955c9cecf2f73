"""The privacy gates of the audit step, run on ``staged`` before anything is published.

These are hard gates: a product whose staged rows still contain CPR-shaped
values, register names or phone numbers, a direct identifier, or a
quasi-identifier class smaller than its minimum k is not published.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from regionlab.platform.names import (
    DIRECT_IDENTIFIERS,
    IDENTIFIER_SCAN,
    K_ANONYMITY,
    PRIVACY_CATEGORY,
)
from regionlab.privacy import kanon, scrub
from regionlab.results import CheckResult, Status
from regionlab.spec import Product, PublishedColumn
from regionlab.spec.vocab import Classification, ColumnType, Pseudonymisation


def _result(
    check: str, ok: bool, description: str, unexpected: int, total: int, detail: str = ""
) -> CheckResult:
    return CheckResult(
        check=check,
        category=PRIVACY_CATEGORY,
        severity="blocking",
        status=Status.passed if ok else Status.failed,
        description=description,
        unexpected_count=unexpected,
        element_count=total,
        detail=detail,
    )


def _is_person_key(column: PublishedColumn) -> bool:
    """Person keys are 64-hex pseudonyms: their digit runs are not phone numbers or CPRs."""
    return column.classification is Classification.pseudonym


def identifier_scan(
    con: duckdb.DuckDBPyConnection, product: Product, names: Sequence[str]
) -> CheckResult:
    """No text column may hold a CPR-shaped value, a phone number or a register name."""
    columns = [
        c.name
        for c in product.published_columns
        if c.type is ColumnType.varchar and not _is_person_key(c)
    ]
    person_data = bool(product.source and product.source.person_column) or product.is_derived
    total = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    counts = scrub.find_identifier_shapes(con, "staged", columns, names if person_data else [])
    found = {f"{col}:{kind}": n for col, kinds in counts.items() for kind, n in kinds.items() if n}
    detail = ", ".join(f"{k}={v}" for k, v in sorted(found.items()))
    return _result(
        IDENTIFIER_SCAN.name,
        not found,
        "No CPR numbers, phone numbers or names from the register in any text column.",
        sum(found.values()),
        total,
        detail,
    )


def direct_identifiers_absent(con: duckdb.DuckDBPyConnection, product: Product) -> CheckResult:
    """Only the person key may stand in for a direct identifier in the published table."""
    staged = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE staged)").fetchall()}
    leaked = [
        c.name
        for c in product.columns
        if c.classification is Classification.direct_identifier
        and c.pseudonymisation is not Pseudonymisation.person_key
        and (c.output or c.name) in staged
    ]
    return _result(
        DIRECT_IDENTIFIERS.name,
        not leaked,
        "Direct identifiers are dropped or replaced by the person key.",
        len(leaked),
        len(staged),
        f"columns present: {', '.join(leaked)}" if leaked else "",
    )


def k_anonymity(con: duckdb.DuckDBPyConnection, product: Product) -> CheckResult | None:
    qis = product.privacy.quasi_identifiers
    if not qis:
        return None
    result = kanon.k_anonymity(con, "staged", qis)
    min_k = product.privacy.min_k
    small = result.classes_below(min_k)
    return _result(
        K_ANONYMITY.name,
        result.k >= min_k,
        f"Every combination of {', '.join(qis)} occurs at least {min_k} times.",
        small,
        result.classes,
        f"k={result.k}, minimum {min_k}",
    )


def privacy_gates(
    con: duckdb.DuckDBPyConnection, product: Product, names: Sequence[str]
) -> list[CheckResult]:
    results = [identifier_scan(con, product, names), direct_identifiers_absent(con, product)]
    if (k := k_anonymity(con, product)) is not None:
        results.append(k)
    return results
