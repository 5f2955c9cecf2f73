"""The privacy gates of the audit step, run on ``staged`` before anything is published.

These are hard gates: a product whose staged rows still contain CPR-shaped
values, phone numbers, e-mail addresses, addresses, register names or the
identifiers of the row's own person, a direct identifier, or a
quasi-identifier class smaller than its minimum k is not published. The
identifier gate counts with the scrubber's own rules, so whatever the
scrubber would remove — in a column it was not told to scrub, too — blocks.
"""

from __future__ import annotations

import duckdb

from regionlab.platform.names import (
    DELIVERY_COLUMN,
    DIRECT_IDENTIFIERS,
    IDENTIFIER_SCAN,
    K_ANONYMITY,
    PRIVACY_CATEGORY,
)
from regionlab.privacy import kanon, scrub
from regionlab.privacy.names import KnownNames
from regionlab.results import CheckResult, Status
from regionlab.spec import Product, PublishedColumn
from regionlab.spec.vocab import Classification, ColumnType, Pseudonymisation
from regionlab.wap import small_cells
from regionlab.wap.register_names import Register, identities_installed


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
    con: duckdb.DuckDBPyConnection, product: Product, register: Register
) -> CheckResult:
    """No text column may hold an identifier the scrubber removes (counted, never shown)."""
    texts = [
        c
        for c in product.published_columns
        if c.type is ColumnType.varchar and not _is_person_key(c)
    ]
    columns = [c.name for c in texts]
    person_data = bool(product.person_column) or product.is_derived
    total = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    staged = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE staged)").fetchall()}
    identities = identities_installed(con) if "person_key" in staged else None
    counts = scrub.find_identifier_shapes(
        con,
        "staged",
        columns,
        register.names if person_data else KnownNames(),
        identities=identities,
        person_columns=columns,  # every text column of a product whose person is known
    )
    found = {f"{col}:{kind}": n for col, kinds in counts.items() for kind, n in kinds.items() if n}
    detail = ", ".join(f"{k}={v}" for k, v in sorted(found.items()))
    return _result(
        IDENTIFIER_SCAN.name,
        not found,
        "No CPR numbers, phone numbers, e-mail addresses, addresses or register names in any "
        "text column.",
        sum(found.values()),
        total,
        detail,
    )


def direct_identifiers_absent(con: duckdb.DuckDBPyConnection, product: Product) -> CheckResult:
    """Only the person key may stand in for a direct identifier in the published table.

    The platform's delivery column is not a data column and is not counted.
    """
    staged = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE staged)").fetchall()}
    staged.discard(DELIVERY_COLUMN)
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
    ).model_copy(update={"unit": "columns"})


def k_anonymity(con: duckdb.DuckDBPyConnection, product: Product) -> CheckResult | None:
    """k over exactly the declared quasi-identifiers (every column classified so).

    A product declared not k-anonymous (row-level, permit only) is measured and
    reported, but not blocked: its promise is the permit, which ``regionlab
    check`` holds it to.
    """
    qis = product.quasi_identifiers
    if not qis:
        return None
    result = kanon.k_anonymity(con, "staged", qis)
    min_k = product.privacy.min_k
    # Counted in rows (the rows a steward must look at), the classes named in the detail.
    small, rows_small = result.classes_below(min_k), result.rows_below(min_k)
    measured = (
        f"k={result.k} over {', '.join(qis)}, minimum {min_k}; {small} of {result.classes} "
        f"classes below it, holding {rows_small} of {result.rows} rows"
    )
    if not product.k_anonymous:
        return CheckResult(
            check=K_ANONYMITY.name,
            category=PRIVACY_CATEGORY,
            severity="warning",
            status=Status.passed,
            description="Row-level product, declared not k-anonymous: only available under a "
            "permit, never in aggregate outputs unsuppressed.",
            unexpected_count=rows_small,
            element_count=result.rows,
            detail=f"not k-anonymous by declaration; {measured}",
        )
    return _result(
        K_ANONYMITY.name,
        result.k >= min_k,
        f"Every combination of {', '.join(qis)} occurs at least {min_k} times.",
        rows_small,
        result.rows,
        measured,
    )


def privacy_gates(
    con: duckdb.DuckDBPyConnection, product: Product, register: Register
) -> list[CheckResult]:
    results = [identifier_scan(con, product, register), direct_identifiers_absent(con, product)]
    if (k := k_anonymity(con, product)) is not None:
        results.append(k)
    # An aggregate's small cells: suppressed in ``staged`` here (before the quality rules
    # see it and before publish), or the audit blocks.
    if (cells := small_cells.enforce(con, product)) is not None:
        results.append(cells)
    return results
