"""Small-cell suppression: constructed tables with known answers.

Each table is small enough to reason about by hand; the checkers
(``can_derive``, ``disclosed_by_bounds``) are tested on tables suppressed
naively so a checker that always says "fine" would fail here.
"""

from __future__ import annotations

import dataclasses
import itertools

import polars as pl
import pytest

from regionlab.errors import UserError
from regionlab.research.suppression import (
    TOTAL,
    SuppressedTable,
    can_derive,
    disclosed_by_bounds,
    suppress,
    suppress_count,
)

T = TOTAL


def one_d(counts: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame({"sex": list(counts), "count": list(counts.values())})


def two_d(rows: list[list[int]]) -> pl.DataFrame:
    keys = list(itertools.product(range(len(rows)), range(len(rows[0]))))
    return pl.DataFrame(
        {
            "r": [f"r{i}" for i, _ in keys],
            "c": [f"c{j}" for _, j in keys],
            "count": [rows[i][j] for i, j in keys],
        }
    )


def assert_safe(table: SuppressedTable) -> None:
    assert can_derive(table) == []
    assert disclosed_by_bounds(table) == []
    # every line holds zero or at least two hidden entries
    shape = table.extended_shape
    for k in range(len(shape)):
        others = [range(n) for i, n in enumerate(shape) if i != k]
        for fixed in itertools.product(*others):
            hidden = 0
            for pos in range(shape[k]):
                idx = list(fixed)
                idx.insert(k, pos)
                key = tuple((table.levels[d] + (T,))[i] for d, i in enumerate(idx))
                hidden += table.cell(key).hidden
            assert hidden != 1, f"line along {table.dimensions[k]} at {fixed} has one hidden entry"


def hide(table: SuppressedTable, keys: set[tuple]) -> SuppressedTable:
    """A hand-made suppression pattern over a fully shown table."""
    cells = tuple(
        dataclasses.replace(c, display=table.marker, flag="primary") if c.key in keys else c
        for c in table.cells
    )
    return dataclasses.replace(table, cells=cells)


def test_suppress_count() -> None:
    assert suppress_count(0) == 0
    assert [suppress_count(n) for n in (1, 4)] == ["<5", "<5"]
    assert suppress_count(5) == 5
    assert suppress_count(9, threshold=10) == "<10"
    with pytest.raises(UserError):
        suppress_count(-1)


def test_nothing_small_nothing_hidden() -> None:
    table = suppress(one_d({"F": 10, "M": 12}), ["sex"])
    assert table.hidden_keys() == []
    assert table.cell(T).display == 22


def test_one_d_small_cell_needs_a_secondary_because_of_the_total() -> None:
    df = one_d({"F": 3, "M": 10, "X": 20})
    naive = suppress(df, ["sex"], secondary=False)
    assert can_derive(naive) == [("F",)]  # 33 - 10 - 20

    table = suppress(df, ["sex"])
    assert table.cell("F").display == "<5" and table.cell("F").flag == "primary"
    assert table.cell("M").display == "<5" and table.cell("M").flag == "secondary"  # smallest
    assert table.cell("X").display == 20
    assert table.cell(T).display == 33
    assert_safe(table)


def test_two_hidden_ones_are_pinned_by_bounds() -> None:
    # 1 + 1 = 52 - 50: no single value is derivable, but since shown zeros tell
    # an intruder every hidden entry is >= 1, both must be exactly 1.
    df = one_d({"F": 1, "M": 1, "X": 50})
    naive = suppress(df, ["sex"], secondary=False)
    assert can_derive(naive) == []
    assert sorted(disclosed_by_bounds(naive)) == [("F",), ("M",)]

    table = suppress(df, ["sex"])
    assert table.cell("X").flag == "secondary"
    assert_safe(table)


def test_small_grand_total_hides_every_nonzero_entry() -> None:
    table = suppress(one_d({"F": 3, "M": 1, "X": 0}), ["sex"])
    assert table.cell(T).flag == "primary"
    assert [table.cell(k).display for k in ("F", "M", "X", T)] == ["<5", "<5", 0, "<5"]
    assert_safe(table)

    table2 = suppress(two_d([[1, 0], [2, 1]]), ["r", "c"])
    assert all(c.hidden == (c.display != 0) for c in table2.cells)
    assert table2.cell(T, T).hidden
    assert_safe(table2)


def test_one_small_cell_in_a_row_chains_into_the_partner_column() -> None:
    rows = [
        [3, 20, 30],
        [40, 50, 60],
        [70, 80, 90],
    ]
    naive = suppress(two_d(rows), ["r", "c"], secondary=False)
    assert can_derive(naive) == [("r0", "c0")]

    table = suppress(two_d(rows), ["r", "c"])
    # row r0 needs a partner: its smallest other cell, 20
    assert table.cell("r0", "c1").flag == "secondary"
    # column c0 and column c1 then need partners too; smallest is row r1
    assert table.cell("r1", "c0").flag == "secondary"
    assert table.cell("r1", "c1").flag == "secondary"
    assert table.hidden_keys() == [("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1")]
    assert all(not table.cell(k).hidden for k in [("r0", T), (T, "c0"), (T, T)])
    assert_safe(table)


def test_only_other_nonzero_cell_is_large_and_zeros_stay_shown() -> None:
    rows = [
        [3, 0, 200],
        [10, 20, 30],
    ]
    table = suppress(two_d(rows), ["r", "c"])
    assert table.cell("r0", "c1").display == 0  # zeros are never used as secondaries
    assert table.cell("r0", "c2").flag == "secondary"
    assert table.cell("r0", "c2").display == "<5"  # one marker for every hidden entry
    assert_safe(table)


def test_small_cells_on_the_diagonal() -> None:
    rows = [
        [2, 10, 12],
        [15, 3, 11],
        [14, 13, 4],
    ]
    naive = suppress(two_d(rows), ["r", "c"], secondary=False)
    assert set(can_derive(naive)) == {("r0", "c0"), ("r1", "c1"), ("r2", "c2")}
    table = suppress(two_d(rows), ["r", "c"])
    assert set(table.hidden_keys("primary")) == {("r0", "c0"), ("r1", "c1"), ("r2", "c2")}
    assert len(table.hidden_keys("secondary")) >= 3
    assert not table.cell(T, T).hidden
    assert_safe(table)


def test_can_derive_sees_through_combinations_of_lines() -> None:
    # Two protected 2x2 blocks joined by one hidden cell (r1, c2). Every line
    # has zero or at least two hidden entries, yet the joining cell follows from
    # rows r0+r1 minus columns c0+c1. A one-line rule misses this.
    rows = [[10 + 4 * i + j for j in range(4)] for i in range(4)]
    full = suppress(two_d(rows), ["r", "c"], threshold=1)
    assert full.hidden_keys() == []
    block = {("r0", "c0"), ("r0", "c1"), ("r1", "c0"), ("r1", "c1")}
    block2 = {("r2", "c2"), ("r2", "c3"), ("r3", "c2"), ("r3", "c3")}
    table = hide(full, block | block2 | {("r1", "c2")})
    assert can_derive(table) == [("r1", "c2")]
    assert can_derive(hide(full, block | block2)) == []


def test_three_dimensions() -> None:
    sexes, bands, munis = ["F", "M"], ["0-39", "40-69", "70+"], ["Odense", "Vejle", "Esbjerg"]
    keys = list(itertools.product(sexes, bands, munis))
    counts = [30 + 7 * i for i in range(len(keys))]
    counts[keys.index(("F", "40-69", "Vejle"))] = 2
    counts[keys.index(("M", "70+", "Odense"))] = 4
    counts[keys.index(("M", "0-39", "Esbjerg"))] = 0
    df = pl.DataFrame(
        {
            "sex": [k[0] for k in keys],
            "age_band": [k[1] for k in keys],
            "municipality": [k[2] for k in keys],
            "count": counts,
        }
    )
    dims = ["sex", "age_band", "municipality"]
    naive = suppress(df, dims, secondary=False)
    assert set(can_derive(naive)) == {("F", "40-69", "Vejle"), ("M", "70+", "Odense")}

    table = suppress(df, dims, levels={"age_band": bands})
    assert table.levels[1] == tuple(bands)
    assert table.extended_shape == (3, 4, 4)
    assert table.cell("M", "0-39", "Esbjerg").display == 0
    assert table.cell(T, T, T).display == sum(counts)
    assert set(table.hidden_keys("primary")) == {("F", "40-69", "Vejle"), ("M", "70+", "Odense")}
    assert table.audit_shape() == {"cells": 48, "hidden": len(table.hidden_keys())}
    assert_safe(table)


def test_structural_zeros_mode_hides_other_zeros() -> None:
    df = one_d({"F": 0, "M": 40, "X": 30})
    default = suppress(df, ["sex"])
    assert default.hidden_keys() == []

    strict = suppress(df, ["sex"], structural_zeros=set())
    assert strict.cell("F").flag == "primary"
    assert strict.zeros_hidden
    assert_safe(strict)

    structural = suppress(df, ["sex"], structural_zeros={"F"})
    assert structural.cell("F").display == 0 and not structural.cell("F").hidden


def test_margins_are_small_themselves() -> None:
    # row r0 total is 4: hidden as primary even though its cells are 2 and 2
    table = suppress(two_d([[2, 2], [30, 40]]), ["r", "c"])
    assert table.cell("r0", T).flag == "primary"
    assert_safe(table)


def test_frame_output_carries_no_hidden_value() -> None:
    table = suppress(one_d({"F": 3, "M": 17, "X": 20}), ["sex"])
    frame = table.to_frame()
    assert frame.columns == ["sex", "count", "display"]
    assert frame.filter(pl.col("display") == "<5")["count"].null_count() == 2
    assert 3 not in frame["count"].to_list() and 17 not in frame["count"].to_list()
    assert "suppression" in table.to_frame(include_flags=True).columns


@pytest.mark.parametrize(
    ("df", "dims", "fragment"),
    [
        (pl.DataFrame({"sex": ["F"], "n": [1]}), ["sex"], "count"),
        (pl.DataFrame({"sex": ["F", "F"], "count": [1, 2]}), ["sex"], "more than one row"),
        (pl.DataFrame({"sex": ["F", None], "count": [1, 2]}), ["sex"], "'sex'"),
        (pl.DataFrame({"sex": ["F", "Total"], "count": [1, 2]}), ["sex"], "reserved"),
        (pl.DataFrame({"sex": ["F"], "count": [-1]}), ["sex"], "negative"),
    ],
)
def test_bad_input_is_a_user_error(df: pl.DataFrame, dims: list[str], fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        suppress(df, dims)


@pytest.mark.parametrize("threshold", [1, 5, 11])
def test_the_answer_marker_is_the_suppression_marker(threshold: int) -> None:
    """The client's answer model writes the marker itself (no numpy/polars import)."""
    from regionlab.research.answer import FeasibilityAnswer
    from regionlab.research.suppression import hidden_marker

    answer = FeasibilityAnswer(
        cohort_name="c", cohort_hash="h", snapshot_id=1, threshold=threshold, total=7,
        audit_entry_id="a", user="u",
    )  # fmt: skip
    assert answer.marker == hidden_marker(threshold)
