"""The small-cell policy of an aggregate product, applied and checked in the audit step.

A product declares which columns hold counts and what happens to a count from 1 to
``min_count - 1`` (:class:`regionlab.spec.models.SmallCells`): ``suppress`` publishes
it empty, ``block`` fails the audit. Zeros are not small cells (nobody is in them).
The result holds counts of cells only, never a count's value.
"""

from __future__ import annotations

import duckdb

from regionlab.platform.names import PRIVACY_CATEGORY, SMALL_CELLS
from regionlab.results import CheckResult, Status
from regionlab.spec import Product
from regionlab.spec.vocab import SmallCellPolicy
from regionlab.sql import quote_ident


def _small(column: str, min_count: int) -> str:
    col = quote_ident(column)
    return f"({col} > 0 AND {col} < {int(min_count)})"


def enforce(con: duckdb.DuckDBPyConnection, product: Product) -> CheckResult | None:
    """Apply the policy to ``staged`` (suppress) and report the cells (both policies)."""
    cells = product.privacy.small_cells
    if cells is None:
        return None
    total = int(con.execute("SELECT count(*) FROM staged").fetchone()[0])
    small = {
        c: int(
            con.execute(
                f"SELECT count(*) FROM staged WHERE {_small(c, cells.min_count)}"
            ).fetchone()[0]
        )
        for c in cells.count_columns
    }
    found = sum(small.values())
    where = ", ".join(f"{c}: {n}" for c, n in small.items())
    if cells.policy is SmallCellPolicy.suppress:
        for column in cells.count_columns:
            con.execute(
                f"UPDATE staged SET {quote_ident(column)} = NULL "
                f"WHERE {_small(column, cells.min_count)}"
            )
        return CheckResult(
            check=SMALL_CELLS.name,
            category=PRIVACY_CATEGORY,
            severity="blocking",
            status=Status.passed,
            description=f"Counts below {cells.min_count} are published empty (suppressed).",
            unexpected_count=0,
            element_count=total,
            detail=f"{found} cells below {cells.min_count} suppressed ({where}) of {total} rows",
        )
    return CheckResult(
        check=SMALL_CELLS.name,
        category=PRIVACY_CATEGORY,
        severity="blocking",
        status=Status.passed if found == 0 else Status.failed,
        description=f"No count below {cells.min_count} is published (policy block).",
        unexpected_count=found,
        element_count=total,
        detail=f"{found} cells below {cells.min_count} ({where}); policy block",
    )
