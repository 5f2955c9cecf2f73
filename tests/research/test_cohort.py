"""Cohort definitions: validation messages and compiled SQL on a hand-built lake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from regionlab import lake
from regionlab.errors import UserError
from regionlab.research.cohort import (
    AgeRange,
    Cohort,
    any_of,
    cohort_from_mapping,
    diagnosis,
    lab,
    load_cohort,
    medication,
    shift,
)
from regionlab.research.cohort_sql import compile_cohort
from tests.research.handbuilt import INDEX, VEJLE_COHORT, VEJLE_MEMBERS, build_lake, pk

Reader = duckdb.DuckDBPyConnection
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def handbuilt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """One hand-built lake for the module (the tests only read it), and a reader."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(tmp_path_factory.mktemp("var")))
        build_lake()
        con = lake.connect(read_only=True)
        yield con
        con.close()


def members(con: duckdb.DuckDBPyConnection, cohort: Cohort | dict) -> set[str]:
    """Names (p01 ...) of the people the compiled SQL selects."""
    if isinstance(cohort, dict):
        cohort = cohort_from_mapping(cohort)
    compiled = compile_cohort(cohort)
    compiled.check_lake(con)
    keys = {row[0] for row in con.execute(compiled.sql).fetchall()}
    names = {pk(f"p{i:02d}"): f"p{i:02d}" for i in range(1, 13)}
    assert keys <= set(names), "the cohort selected a key that is not a test person"
    return {names[k] for k in keys}


def with_changes(**changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(VEJLE_COHORT))
    data.update(changes)
    return data


def test_vejle_cohort_selects_exactly_the_known_members(handbuilt: Reader) -> None:
    assert members(handbuilt, VEJLE_COHORT) == VEJLE_MEMBERS


def test_each_criterion_matters(handbuilt: Reader) -> None:
    # Overlapping age bands take in p04 (70-74).
    assert members(handbuilt, with_changes(age={"min": 50, "max": 70, "match": "overlap"})) == {
        "p01",
        "p02",
        "p03",
        "p04",
    }
    # Without the exclusion, p11 (GLP-1 this year) is in.
    assert members(handbuilt, with_changes(exclude=[])) == VEJLE_MEMBERS | {"p11"}
    # An exclusion without window also removes p03's old GLP-1 prescription.
    assert members(handbuilt, with_changes(exclude=[{"kind": "medication", "atc": "A10BJ"}])) == {
        "p01",
        "p02",
    }
    # The dead p07 comes back without alive_at_index.
    assert members(handbuilt, with_changes(alive_at_index=False)) == VEJLE_MEMBERS | {"p07"}
    # Any municipality brings in p06 from Odense.
    assert "p06" in members(handbuilt, with_changes(municipality=None))
    # Diagnosis type A only drops p02 (registered as B).
    typed = with_changes()
    typed["include"][0]["diagnosis_type"] = ["A"]
    assert members(handbuilt, typed) == {"p01", "p03"}
    # Sex filter.
    assert members(handbuilt, with_changes(sex="M")) == {"p02"}


def test_window_edges_are_inclusive_and_thresholds_strict(handbuilt: Reader) -> None:
    # p02's 54 is on the index day (09:30); p03's 58 is at 00:00 on the first day.
    shorter = with_changes()
    shorter["include"][1]["within"] = {"from": "-364d", "to": "0d"}
    assert members(handbuilt, shorter) == {"p01", "p02"}
    before_index = with_changes()
    before_index["include"][1]["within"] = {"from": "-365d", "to": "-1d"}
    assert members(handbuilt, before_index) == {"p01", "p03"}
    # at_least is inclusive, above is strict (p03's best value in the window is 58).
    at_least = with_changes()
    at_least["include"][1]["at_least"] = 58
    del at_least["include"][1]["above"]
    assert members(handbuilt, at_least) == {"p01", "p03"}
    above = with_changes()
    above["include"][1]["above"] = 58
    assert members(handbuilt, above) == {"p01"}
    # No window: p10's old 60 counts too.
    anytime = with_changes()
    anytime["include"][1] = {"kind": "lab", "npu": "NPU27300", "at_least": 60}
    assert members(handbuilt, anytime) == {"p01", "p10"}
    # min_count: two HbA1c results (p03 only).
    twice = with_changes()
    twice["include"][1] = {"kind": "lab", "npu": "NPU27300", "min_count": 2}
    assert members(handbuilt, twice) == {"p03"}


def test_builder_equals_yaml_and_any_of(handbuilt: Reader) -> None:
    built = (
        Cohort.builder("t2d_vejle", index_date=INDEX)
        .age(50, 70)
        .municipality("Vejle")
        .alive_at_index()
        .include(diagnosis("DE11"))
        .include(lab("NPU27300", above=53, within=("-365d", "0d")))
        .exclude(medication("A10BJ", within={"from": "-1y", "to": "0d"}))
        .build()
    )
    assert built.fingerprint() == cohort_from_mapping(VEJLE_COHORT).fingerprint()
    either = (
        Cohort.builder("either", index_date=INDEX)
        .include(any_of(medication("A10BA"), diagnosis("DE10")))
        .build()
    )
    assert members(handbuilt, either) == {"p01", "p12"}
    # The YAML round trip gives the same cohort.
    again = cohort_from_mapping(yaml.safe_load(built.to_yaml()))
    assert again.fingerprint() == built.fingerprint()


def test_procedure_criterion(handbuilt: Reader) -> None:
    cohort = {
        "name": "dialysis",
        "index_date": "2026-11-01",
        "include": [{"kind": "procedure", "codes": ["BJFD"], "within": {"from": "-1y"}}],
    }
    assert members(handbuilt, cohort) == {"p01", "p06"}


def test_example_cohort_files_validate() -> None:
    files = sorted((REPO / "cohorts").glob("*.yaml"))
    assert files, "example cohorts are missing"
    for path in files:
        cohort = load_cohort(path)
        assert cohort.name == path.stem
        assert compile_cohort(cohort).sql.startswith("SELECT")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"include": [{"kind": "diagnosis", "codes": ["DX99"]}]}, "include[0].codes"),
        ({"include": [{"kind": "medication", "atc": ["Q99"]}]}, "unknown ATC code prefix"),
        ({"include": [{"kind": "lab", "npu": "NPU99999"}]}, "include[0].npu"),
        ({"include": [{"kind": "procedure", "codes": ["ZZZ"]}]}, "SKS procedure"),
        (
            {"include": [{"kind": "lab", "npu": "NPU27300", "within": {"from": -1, "to": -5}}]},
            "include[0].within",
        ),
        ({"include": [{"kind": "lab", "npu": "NPU27300", "above": 60, "below": 50}]}, "empty"),
        ({"include": [{"kind": "labs", "npu": "NPU27300"}]}, "kind must be one of"),
        ({"include": [{"kind": "lab", "npu": "NPU27300", "within": {"from": "a year"}}]}, "offset"),
        ({"age": {"min": 51, "max": 53}}, "no whole 5-year age band"),
        ({"age": {"min": 60, "max": 50}}, "age"),
        ({"municipality": ["Gotham"]}, "unknown municipality"),
        ({"sex": ["X"]}, "sex"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_definitions_name_the_field(change: dict, expected: str) -> None:
    with pytest.raises(UserError, match="cohorts/bad.yaml") as info:
        cohort_from_mapping(with_changes(**change), "cohorts/bad.yaml")
    assert expected in str(info.value)


def test_invalid_yaml_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninclude: [\n", encoding="utf-8")
    with pytest.raises(UserError, match="bad.yaml line"):
        load_cohort(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_cohort(tmp_path / "missing.yaml")


def test_missing_product_in_lake_is_a_user_error(var_dir: Path) -> None:
    con = lake.connect()
    from tests.research.handbuilt import persons_sql

    lake.publish(con, "population", "persons", persons_sql())
    con.close()
    compiled = compile_cohort(cohort_from_mapping(VEJLE_COHORT))
    ro = lake.connect(read_only=True)
    try:
        with pytest.raises(UserError, match="diagnoses/diagnoses"):
            compiled.check_lake(ro)
    finally:
        ro.close()


def test_age_band_interpretation_is_documented_in_notes() -> None:
    inside = AgeRange(min=50, max=70)
    assert inside.bands() == ["50-54", "55-59", "60-64", "65-69"]
    assert "lower bound" in (inside.note() or "")
    assert AgeRange(min=50, max=69).note() is None
    assert AgeRange(min=85).bands() == ["85-89", "90+"]
    overlap = AgeRange(min=52, max=70, match="overlap")
    assert overlap.bands() == ["50-54", "55-59", "60-64", "65-69", "70-74"]
    compiled = compile_cohort(cohort_from_mapping(VEJLE_COHORT))
    assert any("50-54, 55-59, 60-64, 65-69" in n for n in compiled.notes)


def test_offsets_move_by_calendar_units() -> None:
    assert shift(date(2026, 3, 31), "-1m") == date(2026, 2, 28)
    assert shift(date(2026, 11, 1), "-1y") == date(2025, 11, 1)
    assert shift(date(2026, 11, 1), "-2w") == date(2026, 10, 18)
    assert shift(date(2026, 11, 1), 10) == date(2026, 11, 11)


def test_today_is_resolved_before_hashing() -> None:
    cohort = cohort_from_mapping({"name": "x", "include": [{"kind": "diagnosis", "codes": "DE11"}]})
    a = compile_cohort(cohort, today=date(2026, 1, 1))
    b = compile_cohort(cohort, today=date(2026, 1, 2))
    assert a.index_date == date(2026, 1, 1)
    assert a.fingerprint != b.fingerprint
