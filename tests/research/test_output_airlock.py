"""The airlock against its corpus: every disclosive output held back, every safe one released.

Also each finding of issue 19 on its own (the reproduction), the server floor,
and that no report repeats a value from the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regionlab.errors import UserError
from regionlab.research.airlock.differencing import long_counts
from regionlab.research.airlock.read import read_bytes
from regionlab.research.airlock.submissions import check_bytes
from regionlab.research.output_check import check_output
from tests.research.airlock_corpus import ALL_SAFE, CASES, DISCLOSIVE, SAFE, SAFE_REVIEWED, Case

FLOOR = 5


def verdict(case: Case) -> tuple[str, str]:
    earlier = []
    for name, data in case.earlier:
        table = read_bytes(data, name)
        earlier.append((name, long_counts(table.df, table.delimiter == ";")))
    _, report = check_bytes(case.filename, case.data, threshold=FLOOR, earlier=earlier)
    return report.verdict, report.render()


@pytest.mark.parametrize("case", DISCLOSIVE, ids=lambda c: c.name)
def test_every_disclosive_output_is_held_back(case: Case) -> None:
    result, text = verdict(case)
    assert result == "fail", f"{case.name} ({case.why}) was not rejected:\n{text}"


@pytest.mark.parametrize("case", SAFE, ids=lambda c: c.name)
def test_every_safe_output_is_released(case: Case) -> None:
    result, text = verdict(case)
    assert result == "pass", f"{case.name} ({case.why}) would not be released:\n{text}"


@pytest.mark.parametrize("case", SAFE_REVIEWED, ids=lambda c: c.name)
def test_safe_outputs_the_rules_cannot_prove_are_queued_not_rejected(case: Case) -> None:
    result, text = verdict(case)
    assert result == "review", f"{case.name} ({case.why}):\n{text}"


def test_corpus_covers_every_case_of_the_issue() -> None:
    names = {c.name for c in CASES}
    assert {
        "wide-crosstab",
        "semicolon-csv",
        "count-named-diabetics",
        "count-named-antal-personer",
        "count-named-N-trailing-space",
        "number-as-text-with-space",
        "row-level-lab-rows",
        "pseudonym-prefix-rows",
        "dominated-magnitude",
        "survival-at-every-event",
        "regression-few-dof",
        "differencing-same-cells",
    } <= names
    assert len(SAFE) >= 8 and len(DISCLOSIVE) >= 15


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("wide-crosstab", "small_cell"),
        ("semicolon-csv", "small_cell"),
        ("count-named-diabetics", "small_cell"),
        ("count-named-antal-personer", "small_cell"),
        ("count-named-N-trailing-space", "small_cell"),
        ("number-as-text-with-space", "small_cell"),
        ("row-level-lab-rows", "identifier"),
        ("pseudonym-prefix-rows", "identifier"),
        ("dominated-magnitude", "dominance"),
        ("p-ratio-magnitude", "dominance"),
        ("magnitude-max", "extreme"),
        ("survival-at-every-event", "small_cell"),
        ("regression-few-dof", "regression"),
        ("differencing-same-cells", "differencing"),
        ("differencing-totals", "differencing"),
        ("lone-hidden-cell-beside-total", "small_cell"),
        ("differencing-wide-against-long", "differencing"),
        ("utf16-tab", "small_cell"),
        ("year-columns-wide", "small_cell"),
        ("exact-dates-row-level", "row_level"),
    ],
)
def test_each_case_fails_for_its_own_reason(name: str, kind: str) -> None:
    case = next(c for c in CASES if c.name == name)
    earlier = [
        (n, long_counts(read_bytes(d, n).df, read_bytes(d, n).delimiter == ";"))
        for n, d in case.earlier
    ]
    _, report = check_bytes(case.filename, case.data, threshold=FLOOR, earlier=earlier)
    assert kind in {f.kind for f in report.findings}, report.render()


def test_the_semicolon_file_is_read_as_columns() -> None:
    case = next(c for c in CASES if c.name == "semicolon-csv")
    table = read_bytes(case.data, case.filename)
    assert (table.delimiter, table.encoding) == (";", "cp1252")
    assert table.df.columns == ["aldersgruppe", "køn", "antal"]


def test_reports_never_repeat_a_key_or_timestamp() -> None:
    for name in ("pseudonym-prefix-rows", "row-level-lab-rows", "cpr-in-note"):
        case = next(c for c in CASES if c.name == name)
        _, text = verdict(case)
        table = read_bytes(case.data, case.filename).df
        first = [str(v) for v in table.row(1)]
        for value in first:
            if len(value) >= 6:
                assert value not in text, (name, "value leaked into the report")
    assert "010190" not in verdict(next(c for c in CASES if c.name == "cpr-in-note"))[1]


def test_threshold_cannot_go_below_the_floor(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("sex,n\nF,3\nM,40\n", encoding="utf-8")
    with pytest.raises(UserError, match="below the service's floor of 5"):
        check_output(path, threshold=1, floor=5)
    assert not check_output(path, floor=5).ok  # default: the floor
    assert not check_output(path, threshold=10, floor=5).ok  # raising is fine
    with pytest.raises(UserError, match="below the service's floor of 10"):
        check_output(path, threshold=5, floor=10)


def test_the_documented_false_positive_rate_is_the_measured_one() -> None:
    """docs/airlock.md states the corpus sizes and the rate; recomputed so it cannot drift."""
    held = [c.name for c in ALL_SAFE if verdict(c)[0] != "pass"]
    assert sorted(held) == sorted(c.name for c in SAFE_REVIEWED)
    rate = f"{len(held)} of {len(ALL_SAFE)} safe outputs ({len(held) / len(ALL_SAFE):.0%})"
    text = (Path(__file__).resolve().parents[2] / "docs" / "airlock.md").read_text("utf-8")
    assert rate in text, rate
    assert f"{len(DISCLOSIVE)} disclosive outputs" in text


def test_nested_parquet_columns_are_a_user_error_naming_the_column() -> None:
    import io

    import polars as pl

    out = io.BytesIO()
    pl.DataFrame(
        {"sex": ["F", "M"], "n": [40, 52], "visit": [{"code": "E11"}, {"code": "E10"}]}
    ).write_parquet(out)
    with pytest.raises(UserError, match="visit") as err:
        check_bytes("nested.parquet", out.getvalue(), threshold=FLOOR)
    assert "E11" not in str(err.value) and "E10" not in str(err.value)
