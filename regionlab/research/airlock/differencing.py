"""Differencing: a new table minus an earlier released one must not give a small cell.

Two tables that are each safe can together reveal a few persons: persons with
diabetes by municipality, released last month, and persons with diabetes
aged 40+ by municipality, submitted now, differ by the persons under 40 in
each municipality. ACRO leaves this to a human ("a manual review against
other outputs is recommended"); here every submission is compared with the
project's earlier released outputs:

- **same cells**: tables with the same dimension columns are joined on the
  dimension values; a count that differs by 1 to threshold-1 fails;
- **same totals**: the grand totals of a count measure (rows labelled as
  totals left out) differing by 1 to threshold-1 fail, whatever the
  dimensions.

Counts are compared in long form, so a wide crosstab and a long table with
the same content line up (the wide table's category columns become values of
a ``measure`` dimension).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from regionlab.research.airlock.columns import COUNT_NAME, describe, numbers
from regionlab.research.airlock.rules import Finding

_TOTAL = r"(?i)^\s*(total|totalt|i alt|ialt|alle|all|sum|overall)\s*$"


@dataclass(frozen=True)
class LongCounts:
    """A table's counts as ``(cell, measure, value)``, with the dimension columns it has."""

    dimensions: frozenset[str]
    cells: pl.DataFrame


def long_counts(df: pl.DataFrame, decimal_comma: bool) -> LongCounts:
    columns = describe(df, decimal_comma)
    dims = [c for c in columns if c.role in ("dimension", "text")]
    counts = [c for c in columns if c.role == "count"]
    if not counts:
        return LongCounts(
            frozenset(),
            pl.DataFrame(
                schema={
                    "cell": pl.Utf8,
                    "measure": pl.Utf8,
                    "value": pl.Float64,
                    "total": pl.Boolean,
                }
            ),
        )
    label = [pl.col(d.name).cast(pl.Utf8).str.strip_chars().str.to_lowercase() for d in dims]
    cell = pl.concat_str(label, separator="\x1f", ignore_nulls=False) if label else pl.lit("")
    is_total = (
        pl.any_horizontal([pl.col(d.name).cast(pl.Utf8).str.contains(_TOTAL) for d in dims])
        if dims
        else pl.lit(False)
    )
    parts = [
        df.select(
            cell.fill_null("").alias("cell"),
            pl.lit("count" if COUNT_NAME.match(c.key) else c.key).alias("measure"),
            numbers(df, c.name, decimal_comma).alias("value"),
            is_total.fill_null(False).alias("total"),
        )
        for c in counts
    ]
    return LongCounts(frozenset(d.key for d in dims), pl.concat(parts).drop_nulls("value"))


def compare(
    new: LongCounts, earlier: Sequence[tuple[str, LongCounts]], threshold: int
) -> list[Finding]:
    """Findings for each earlier output the new one differs from by a small amount."""
    found: list[Finding] = []
    if new.cells.height == 0:
        return found
    new_totals = _totals(new)
    for name, old in earlier:
        if old.cells.height == 0:
            continue
        if old.dimensions == new.dimensions:
            joined = new.cells.join(old.cells, on=["cell", "measure"], suffix="_old")
            diff = (joined["value"] - joined["value_old"]).abs()
            small = int(((diff > 0) & (diff < threshold)).sum())
            if small:
                found.append(
                    Finding(
                        "differencing",
                        "",
                        f"{small} cell(s) differ by 1 to {threshold - 1} from the same cells of "
                        f"earlier released output '{name}': the difference is a small group",
                        "make the populations of the two tables differ by at least "
                        f"{threshold} in every cell, or merge categories",
                    )
                )
                continue
        old_totals = _totals(old)
        for measure, total in new_totals.items():
            before = old_totals.get(measure)
            if before is not None and 0 < abs(total - before) < threshold:
                found.append(
                    Finding(
                        "differencing",
                        "",
                        f"the total of '{measure}' differs by 1 to {threshold - 1} from earlier "
                        f"released output '{name}': the difference is a small group",
                        f"make the populations differ by at least {threshold}, or use the "
                        "same population as the earlier output",
                    )
                )
                break
    return found


def _totals(table: LongCounts) -> dict[str, float]:
    rows = table.cells.filter(~pl.col("total")).group_by("measure").agg(pl.col("value").sum())
    return dict(zip(rows["measure"].to_list(), rows["value"].to_list(), strict=True))


__all__ = ["LongCounts", "compare", "long_counts"]
