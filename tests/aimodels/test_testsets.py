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


def test_stratum_sizes_follow_the_small_cell_rule_with_a_complement() -> None:
    from regionlab.aimodels.testsets import public_sizes

    sizes = public_sizes({"K|20-29": 50, "M|90+": 3, "M|20-29": 40, "K|90+": 60})
    assert sizes["M|90+"] == "<5"
    assert sizes["M|20-29"] == "<5"  # else total − shown gives the 3 back
    assert sizes["K|20-29"] == 50 and sizes["K|90+"] == 60


def test_ground_truth_agreement_is_computed_over_the_test_set_by_hand() -> None:
    """Two annotators on d1, d2 (d3 by one only, d9 outside the test set)."""
    from regionlab.aimodels.runner import truth_agreement

    rows = [
        ("d1", "a", "span", "DIAGNOSE", 0, 5), ("d1", "b", "span", "DIAGNOSE", 0, 5),
        ("d1", "a", "span", "MEDICIN", 9, 12), ("d1", "b", "choice", "stabil", None, None),
        ("d2", "a", "span", "DIAGNOSE", 0, 5), ("d2", "b", "span", "DIAGNOSE", 0, 4),
        ("d3", "a", "span", "DIAGNOSE", 0, 5),
        ("d9", "a", "span", "DIAGNOSE", 0, 5), ("d9", "b", "span", "DIAGNOSE", 0, 5),
    ]  # fmt: skip
    got = truth_agreement(rows, {"d1", "d2", "d3"}, ["DIAGNOSE", "MEDICIN"], min_cell=1)
    assert got["documents_with_overlap"] == 2 and got["annotator_pairs"] == 1
    # DIAGNOSE: a {d1, d2}, b {d1, d2'}: 2·1/(2+2) = 0.5; MEDICIN 2·0/(1+0) = 0; all 2·1/5
    assert got["exact_span_f1"] == {"DIAGNOSE": 0.5, "MEDICIN": 0.0, "all": 0.4}
    assert truth_agreement(rows, {"d1", "d2"}, ["DIAGNOSE"])["documents_with_overlap"] == "<5"
    assert truth_agreement(rows, {"d3"}, ["DIAGNOSE"])["exact_span_f1"] == {}


def test_an_erasure_in_the_test_set_leaves_no_count_by_difference(keyed_var) -> None:
    """After an erasure takes two drawn notes out of test_set.json, the report's sizes must
    still add up: drawn minus the stratum sizes (or the overlap the rule gives per stratum)
    would otherwise be the number of erased persons' documents, a count of 1-4."""
    import math
    from pathlib import Path

    from regionlab.aimodels.card import collect_cards
    from regionlab.aimodels.testsets import load, public_draw, save
    from regionlab.erasure.predictions import scrub_test_sets

    card = collect_cards(Path(__file__).resolve().parents[2] / "models")[0]["note_entities"]
    spec = card.test_set
    strata = {f"n{i:03d}": "K" if i < 60 else "M" for i in range(120)}
    drawn = draw(strata, 40, seed=spec.seed, overlap=spec.overlap,
                 min_per_stratum=spec.min_per_stratum)  # fmt: skip
    path = keyed_var.models_dir / card.id / "test_set.json"
    save(path, card, drawn, snapshot=1)
    gone = {sorted(drawn.overlap)[0], sorted(set(drawn.keys) - drawn.overlap)[0]}
    assert scrub_test_sets(keyed_var, gone) == {card.id: 2}

    public = public_draw(load(path), used=30)
    sizes = public["per_stratum"]
    assert all(isinstance(n, int) for n in sizes.values())
    assert public["drawn"] == sum(sizes.values())
    by_rule = sum(math.ceil(n * spec.overlap) for n in sizes.values())
    assert public["overlap_documents"] == by_rule
