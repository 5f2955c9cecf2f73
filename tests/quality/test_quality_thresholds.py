"""Thresholds at the boundary: exactly the allowed share of failing rows passes, one more fails."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from pydantic import TypeAdapter

from quality.validate import gx_results
from regionlab.results import Status
from regionlab.spec import load_domains
from regionlab.spec.rules import QualityRule

CONTACTS = load_domains().product("patient_administration/contacts")
ROWS = 100
RULE = TypeAdapter(QualityRule)


def _staging(tmp_path: Path, failing: int) -> Path:
    """100 contacts; the first ``failing`` end before they start and lack a department."""
    path = tmp_path / f"staging_{failing}.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        f"""CREATE TABLE staged AS SELECT
              printf('K%09d', i) AS contact_id,
              TIMESTAMP '2026-10-01 08:00' AS start_time,
              CASE WHEN i < {failing} THEN TIMESTAMP '2026-09-30 08:00'
                   ELSE TIMESTAMP '2026-10-01 09:00' END AS end_time,
              CASE WHEN i < {failing} THEN NULL ELSE 'D1' END AS department_code
            FROM range({ROWS}) t(i)"""
    )
    con.close()
    return path


def _product(rule: dict):
    return CONTACTS.model_copy(update={"quality": [RULE.validate_python(rule)]})


# 0.18 and 0.41 are traps: 1 - t rounds above (n - k) / n in floating point, so a
# plain `mostly = 1 - threshold` would fail rows exactly at the threshold.
@pytest.mark.parametrize("threshold", [0.02, 0.07, 0.1, 0.18, 0.41])
@pytest.mark.parametrize(
    "rule",
    [
        {
            "id": "r",
            "type": "greater_or_equal",
            "column": "end_time",
            "other": "start_time",
            "kahn": "plausibility",
        },
        {"id": "r", "type": "not_null", "column": "department_code", "kahn": "completeness"},
    ],
    ids=["greater_or_equal", "not_null"],
)
def test_exactly_at_threshold_passes_one_more_fails(
    tmp_path: Path, threshold: float, rule: dict
) -> None:
    product = _product({**rule, "threshold": threshold})
    at = round(threshold * ROWS)
    [ok] = gx_results(_staging(tmp_path, at), product, dt.date(2026, 11, 1))
    [over] = gx_results(_staging(tmp_path, at + 1), product, dt.date(2026, 11, 1))
    assert (ok.status, ok.unexpected_count, ok.element_count) == (Status.passed, at, ROWS)
    assert (over.status, over.unexpected_count) == (Status.failed, at + 1)


@pytest.mark.parametrize("share", [0.05, 0.07])
def test_completeness_boundary(tmp_path: Path, share: float) -> None:
    product = _product(
        {
            "id": "r",
            "type": "completeness",
            "column": "department_code",
            "max_null_share": share,
            "kahn": "completeness",
            "severity": "warning",
        }
    )
    at = round(share * ROWS)
    [ok] = gx_results(_staging(tmp_path, at), product, dt.date(2026, 11, 1))
    [over] = gx_results(_staging(tmp_path, at + 1), product, dt.date(2026, 11, 1))
    assert ok.passed and not over.passed
    assert over.severity == "warning" and not over.blocks


def test_zero_threshold_fails_on_one_row(tmp_path: Path) -> None:
    product = _product(
        {
            "id": "r",
            "type": "greater_or_equal",
            "column": "end_time",
            "other": "start_time",
            "kahn": "plausibility",
        }
    )
    [clean] = gx_results(_staging(tmp_path, 0), product, dt.date(2026, 11, 1))
    [one] = gx_results(_staging(tmp_path, 1), product, dt.date(2026, 11, 1))
    assert clean.passed and one.status is Status.failed and one.blocks


def test_not_in_future_allows_the_whole_reference_day(tmp_path: Path) -> None:
    """A timestamp late on the delivery date is not in the future; the next morning is."""
    path = tmp_path / "s.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE staged AS SELECT * FROM (VALUES
        (TIMESTAMP '2026-11-01 23:59:59'), (TIMESTAMP '2026-10-01 00:00'),
        (TIMESTAMP '2026-11-02 00:00:00')) t(start_time)""")
    con.close()
    product = _product(
        {"id": "r", "type": "not_in_future", "column": "start_time", "kahn": "plausibility"}
    )
    [result] = gx_results(path, product, dt.date(2026, 11, 1))
    assert result.unexpected_count == 1 and result.status is Status.failed


def test_gx_error_is_errored_not_a_silent_result(tmp_path: Path) -> None:
    product = _product(
        {"id": "r", "type": "not_null", "column": "department_code", "kahn": "completeness"}
    )
    path = tmp_path / "s.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE staged AS SELECT 1 AS other_column")
    con.close()
    [result] = gx_results(path, product, dt.date(2026, 11, 1))
    assert result.status is Status.errored and result.blocks
    assert result.detail.startswith("check could not run")
