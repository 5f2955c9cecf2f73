"""Differencing: a new table minus an earlier released one must not give a small cell.

Two tables that are each safe can together reveal a few persons: persons with
diabetes by municipality, released last month, and persons with diabetes
aged 40+ by municipality, submitted now, differ by the persons under 40 in
each municipality. ACRO leaves this to a human ("a manual review against
other outputs is recommended"); here every submission is compared with the
project's earlier released outputs:

- **same cells**: tables with as many dimensions are joined on the dimension
  values; a count that differs by 1 to threshold-1 fails;
- **nested cells**: tables with different numbers of dimensions, one's
  dimension values a subset of the other's (by municipality, then by
  municipality × age band for persons 40+): the finer table's cells inside
  each cell of the coarser one are summed — a sub-total — and a sub-total
  that differs from the coarser cell by 1 to threshold-1 fails (Vejle 41 before,
  20 + 18 now: the 3 persons under 40 in Vejle);
- **same totals**: the grand totals of a count measure (rows labelled as
  totals left out) differing by 1 to threshold-1 fail, whatever the
  dimensions.

Counts are compared in long form, a cell named by its dimension values, so a
wide crosstab and a long table with the same content line up (the wide
table's category columns become one of the cell's values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from regionlab.research.airlock.columns import COUNT_NAME, describe, numbers
from regionlab.research.airlock.rules import Finding

_TOTAL = r"(?i)^\s*(total|totalt|i alt|ialt|alle|all|sum|overall)\s*$"
_TOTAL_NAME = re.compile(r"^(total|totalt|i_alt|ialt|alle|all|sum|overall)$")


@dataclass(frozen=True)
class LongCounts:
    """A table's counts as ``(cell, measure, value)``, with the dimension columns it has."""

    dimensions: int
    """How many dimensions name a cell (a wide table's category columns count as one)."""
    cells: pl.DataFrame


def long_counts(df: pl.DataFrame, decimal_comma: bool) -> LongCounts:
    """The counts of ``df`` in long form.

    A cell is named by its dimension *values*, sorted, not by the columns' names: the
    wide crosstab ``age_band,K,M`` and the long table ``age_band,sex,n`` both name a
    cell ``40-59 · k``. Count columns named as counts (``n``, ``antal`` …) are one
    measure, ``count``; other count columns are the categories of a wide table and
    become a value of the cell.
    """
    columns = describe(df, decimal_comma)
    dims = [c for c in columns if c.role in ("dimension", "text")]
    counts = [c for c in columns if c.role == "count"]
    empty = pl.DataFrame(
        schema={"cell": pl.Utf8, "measure": pl.Utf8, "value": pl.Float64, "total": pl.Boolean}
    )
    if not counts:
        return LongCounts(0, empty)
    label = [pl.col(d.name).cast(pl.Utf8).str.strip_chars().str.to_lowercase() for d in dims]
    is_total = (
        pl.any_horizontal([pl.col(d.name).cast(pl.Utf8).str.contains(_TOTAL) for d in dims])
        if dims
        else pl.lit(False)
    )
    wide = [c for c in counts if not COUNT_NAME.match(c.key)]
    parts = []
    for c in counts:
        parts_of_cell = list(label)
        if c in wide:
            parts_of_cell.append(pl.lit(c.name.strip().lower()))
        cell = (
            pl.concat_list(parts_of_cell).list.sort().list.join("\x1f")
            if parts_of_cell
            else pl.lit("")
        )
        total = is_total | pl.lit(bool(_TOTAL_NAME.match(c.key)))
        parts.append(
            df.select(
                cell.fill_null("").alias("cell"),
                pl.lit("count").alias("measure"),
                numbers(df, c.name, decimal_comma).alias("value"),
                total.fill_null(False).alias("total"),
            )
        )
    n_dims = len(dims) + (1 if wide else 0)
    return LongCounts(n_dims, pl.concat(parts).drop_nulls("value"))


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
        if old.dimensions and new.dimensions and old.dimensions != new.dimensions:
            small = _nested_small(new, old, threshold)
            if small:
                found.append(
                    Finding(
                        "differencing",
                        "",
                        f"{small} sub-total(s) of the finer of this output and earlier released "
                        f"output '{name}' differ by 1 to {threshold - 1} from the matching cell "
                        "of the coarser one: the difference is a small group",
                        "make the populations of the two tables differ by at least "
                        f"{threshold} in every cell, or use the same population",
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


#: Largest coarse × fine cell pairs compared for nested differencing (outputs are small
#: tables; beyond this the grand-total rule still runs and the checker sees the finding).
MAX_PAIRS = 2_000_000


def _nested_small(a: LongCounts, b: LongCounts, threshold: int) -> int:
    """Cells of the coarser table whose sub-total in the finer one differs by 1..threshold-1.

    A fine cell lies in a coarse cell when the coarse cell's dimension values are all
    among the fine cell's (values are lower-cased; a wide table's category is one of
    them). Only coarse cells with at least one fine cell inside are compared: a cell the
    finer table leaves out entirely differs by all of it, which was released as safe.
    Rows labelled as totals are left out of both.
    """
    fine, coarse = (a, b) if a.dimensions > b.dimensions else (b, a)
    f = fine.cells.filter(~pl.col("total"))
    c = coarse.cells.filter(~pl.col("total"))
    if f.height == 0 or c.height == 0 or f.height * c.height > MAX_PAIRS:
        return 0
    parts = pl.col("cell").str.split("\x1f")
    f = f.select(parts.alias("fine"), "measure", pl.col("value").alias("fine_value"))
    c = c.select("cell", parts.alias("coarse"), "measure", "value")
    inside = c.join(f, on="measure").filter(
        pl.col("coarse").list.set_difference(pl.col("fine")).list.len() == 0
    )
    sums = inside.group_by("cell", "measure", "value").agg(pl.col("fine_value").sum())
    diff = (sums["value"] - sums["fine_value"]).abs()
    return int(((diff > 0) & (diff < threshold)).sum())


def _totals(table: LongCounts) -> dict[str, float]:
    rows = table.cells.filter(~pl.col("total")).group_by("measure").agg(pl.col("value").sum())
    return dict(zip(rows["measure"].to_list(), rows["value"].to_list(), strict=True))


__all__ = ["LongCounts", "compare", "long_counts"]
