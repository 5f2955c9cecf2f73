"""Feasibility counts: right numbers, suppressed output, one audit entry per query."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from regionlab import lake
from regionlab.errors import UserError
from regionlab.research.audit_store import FEASIBILITY, open_store
from regionlab.research.cohort import Cohort, diagnosis
from regionlab.research.feasibility import feasibility, parse_dimensions
from regionlab.research.suppression import can_derive, suppress
from tests.research.handbuilt import (
    INDEX,
    VEJLE_COHORT,
    build_lake,
    build_population_lake,
    population_expected,
)

T2D = Cohort.builder("t2d_all", index_date=INDEX).include(diagnosis("DE11")).build()


@pytest.fixture
def population(var_dir: Path) -> list[dict[str, object]]:
    build_population_lake()
    return population_expected()


def test_unstratified_count_is_exact(population: list[dict[str, object]]) -> None:
    result = feasibility(T2D, user="forsker1")
    assert result.total == len(population) > 5
    assert result.table is None
    assert result.to_frame()["count"].to_list() == [len(population)]


def test_stratified_counts_match_and_are_suppressed(population: list[dict[str, object]]) -> None:
    result = feasibility(T2D, by="sex,municipality", user="forsker1")
    expected = Counter((p["sex"], p["municipality"]) for p in population)
    assert result.table is not None
    shown = {c.key: c.display for c in result.table.cells if not c.hidden}
    hidden = {c.key for c in result.table.cells if c.hidden}
    # Every small cell (1-4) is hidden; every shown cell is the true count.
    for (sex, muni), n in expected.items():
        if 1 <= n < 5:
            assert (sex, muni) in hidden
        elif (sex, muni) not in hidden:
            assert shown[(sex, muni)] == n
    assert any(1 <= n < 5 for n in expected.values()), "the test data needs a small cell"
    # Secondary suppression: nothing hidden can be derived from what is shown.
    assert can_derive(result.table) == []
    # The answer is exactly the suppression of the true table.
    truth = pl.DataFrame(
        [{"sex": s, "municipality": m, "count": n} for (s, m), n in expected.items()]
    )
    levels = dict(zip(result.table.dimensions, result.table.levels, strict=True))
    direct = suppress(truth, ["sex", "municipality"], levels=levels)
    assert [c.display for c in direct.cells] == [c.display for c in result.table.cells]
    assert result.table.cell("Total", "Total").display == len(population)


def test_three_dimensions_and_levels_declared(population: list[dict[str, object]]) -> None:
    cohort = (
        Cohort.builder("t2d_50_79", index_date=INDEX).age(50, 79).include(diagnosis("DE11")).build()
    )
    result = feasibility(cohort, by=["age_band", "sex", "municipality"], user="forsker1")
    assert result.table is not None
    assert result.table.levels[0] == ("50-54", "55-59", "60-64", "65-69", "70-74", "75-79")
    assert result.table.levels[1] == ("K", "M")
    # All 22 municipalities of the region are declared, empty ones show 0.
    assert len(result.table.levels[2]) == 22
    assert result.table.cell("50-54", "K", "420").display == 0
    assert can_derive(result.table) == []
    for (band, sex, muni), n in Counter(
        (p["age_band"], p["sex"], p["municipality"]) for p in population
    ).items():
        cell = result.table.cell(band, sex, muni)
        assert cell.hidden or cell.display == n


def test_small_total_is_hidden(var_dir: Path) -> None:
    build_lake()
    result = feasibility(VEJLE_COHORT, user="forsker1")
    assert result.total == "<5"  # the true answer is 3
    assert result.to_frame()["count"].to_list() == [None]
    assert result.notes and "lower bound" in result.notes[0]


def test_every_query_is_audited_without_values(population: list[dict[str, object]]) -> None:
    a = feasibility(T2D, user="forsker1")
    b = feasibility(T2D, by="sex,municipality", user="forsker2")
    store = open_store()
    entries = store.entries(action=FEASIBILITY)
    assert [e.id for e in entries] == [a.audit_entry_id, b.audit_entry_id]
    assert store.verify().ok
    first, second = entries
    assert (first.user, second.user) == ("forsker1", "forsker2")
    definition = first.data["definition"]
    assert "name" not in definition  # renaming a cohort must not make it a new query
    assert definition["index_date"] == INDEX.isoformat()
    assert definition == second.data["definition"]
    assert first.data["snapshot_id"] == a.snapshot_id
    assert first.data["answer"] == {"total": a.total, "cells": {}}
    assert second.data["dimensions"] == ["sex", "municipality"]
    shown = {"|".join(map(str, c.key)): c.display for c in b.table.cells}
    assert second.data["answer"] == {"total": b.total, "cells": shown}
    assert second.data["suppression"]["cells"] == len(b.table.cells)
    assert second.data["suppression"]["hidden"] == len(b.table.hidden_keys()) > 0
    assert set(first.data["products"]) == {"population/persons", "diagnoses/diagnoses"}
    # displayed values only: every hidden cell is its marker, never a number below 5
    for value in second.data["answer"]["cells"].values():
        assert isinstance(value, str) or value == 0 or value >= 5
    text = json.dumps([e.data for e in entries])
    assert all(p["key"] not in text for p in population)


def test_snapshot_is_pinned_and_recorded(population: list[dict[str, object]]) -> None:
    before = feasibility(T2D, user="forsker1")
    con = lake.connect()
    lake.publish(con, "diagnoses", "diagnoses", "SELECT * FROM lake.diagnoses.diagnoses LIMIT 10")
    con.close()
    now = feasibility(T2D, user="forsker1")
    pinned = feasibility(T2D, user="forsker1", snapshot=before.snapshot_id)
    assert now.snapshot_id > before.snapshot_id
    assert now.total == 10
    assert pinned.total == before.total == len(population)
    assert pinned.snapshot_id == before.snapshot_id


def test_threshold_cannot_go_below_the_floor(population: list[dict[str, object]]) -> None:
    with pytest.raises(UserError, match="below the platform minimum"):
        feasibility(T2D, threshold=2, user="forsker1")
    with pytest.raises(UserError, match="below the platform minimum of 8"):
        feasibility(T2D, threshold=5, floor=8, user="forsker1")
    assert open_store().entries() == []
    assert feasibility(T2D, floor=8, user="forsker1").threshold == 8
    higher = feasibility(T2D, by="sex,municipality", threshold=50, user="forsker1")
    assert higher.marker == "<50"
    expected = Counter((p["sex"], p["municipality"]) for p in population)
    assert any(1 <= n < 50 for n in expected.values())
    for key, n in expected.items():
        if 1 <= n < 50:
            assert higher.table.cell(*key).display == "<50"


def test_unknown_dimension_is_refused() -> None:
    with pytest.raises(UserError, match="unknown dimension"):
        parse_dimensions("sex,postcode")
    assert parse_dimensions(" sex , age_band ") == ("sex", "age_band")
