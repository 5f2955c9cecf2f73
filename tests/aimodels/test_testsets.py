"""Stratified, reproducible validation test sets with overlap in every stratum."""

from __future__ import annotations

from regionlab.aimodels.testsets import draw


def test_every_stratum_is_drawn_with_a_floor_and_overlap() -> None:
    strata = {f"n{i:04d}": "K" if i < 900 else "M" for i in range(1000)}  # M is rare: 100
    first = draw(strata, 100, seed=7, overlap=0.2, min_per_stratum=20)
    assert first.per_stratum == {"K": 90, "M": 20}  # proportional 10 for M, floor 20
    assert len(first.keys) == 110 and len(set(first.keys)) == 110
    assert sum(1 for k in first.overlap if strata[k] == "M") == 4  # 20 % of 20
    assert sum(1 for k in first.overlap if strata[k] == "K") == 18
    again = draw(dict(reversed(list(strata.items()))), 100, seed=7, overlap=0.2,
                 min_per_stratum=20)  # fmt: skip
    assert again == first  # the input order does not matter, the seed does
    assert draw(strata, 100, seed=8, min_per_stratum=20).keys != first.keys


def test_a_stratum_smaller_than_the_floor_is_taken_whole() -> None:
    strata = {"a": "X", "b": "X", "c": "Y"}
    drawn = draw(strata, 2, min_per_stratum=5, overlap=0.5)
    assert sorted(drawn.keys) == ["a", "b", "c"] and drawn.per_stratum == {"X": 2, "Y": 1}
