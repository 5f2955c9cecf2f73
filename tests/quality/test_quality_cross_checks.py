"""Foreign key, not-after-death and freshness on hand-made data with known answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from pydantic import TypeAdapter

from quality import cross_checks
from regionlab import lake
from regionlab.results import Status
from regionlab.spec import load_domains
from regionlab.spec.rules import QualityRule

CONTACTS = load_domains().product("patient_administration/contacts")
RULE = TypeAdapter(QualityRule)
DAY = dt.date(2026, 11, 1)


def _product(*rules: dict):
    return CONTACTS.model_copy(update={"quality": [RULE.validate_python(r) for r in rules]})


@pytest.fixture
def lake_con(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> duckdb.DuckDBPyConnection:
    """A fresh lake with 5 persons (p3 died in March 2026, p4 in October) and a load log."""
    monkeypatch.delenv("REGIONLAB_LAKE_CATALOG", raising=False)
    monkeypatch.delenv("REGIONLAB_LAKE_DATA", raising=False)
    con = lake.connect()
    con.execute("CREATE SCHEMA lake.population")
    con.execute("""CREATE TABLE lake.population.persons AS SELECT * FROM (VALUES
        ('p0', NULL::DATE), ('p1', NULL), ('p2', NULL), ('p3', DATE '2026-03-01'),
        ('p4', DATE '2026-10-01')) t(person_key, death_month)""")
    yield con
    con.close()


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """10 contacts: 2 of unknown persons, 1 without a person; events vs deaths as commented."""
    path = tmp_path / "staging.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE staged AS SELECT * FROM (VALUES
        ('p0', TIMESTAMP '2026-01-05 10:00'),
        ('p1', TIMESTAMP '2026-02-05 10:00'),
        ('p2', TIMESTAMP '2026-03-05 10:00'),
        ('p3', TIMESTAMP '2026-02-20 10:00'),  -- before death
        ('p3', TIMESTAMP '2026-03-31 23:00'),  -- in the month of death: allowed
        ('p3', TIMESTAMP '2026-04-01 00:10'),  -- after death
        ('p4', TIMESTAMP '2026-11-01 09:00'),  -- after death
        ('x9', TIMESTAMP '2026-05-01 10:00'),  -- not in the population
        ('x8', TIMESTAMP '2026-05-02 10:00'),  -- not in the population
        (NULL, TIMESTAMP '2026-05-03 10:00')   -- no person: not judged
        ) t(person_key, start_time)""")
    con.close()
    return path


FK = {
    "id": "fk",
    "type": "foreign_key",
    "column": "person_key",
    "references": "population/persons",
    "reference_column": "person_key",
    "kahn": "conformance",
}
DEATH = {"id": "death", "type": "not_after_death", "column": "start_time", "kahn": "plausibility"}


def test_foreign_key_counts_missing_references(lake_con, staging) -> None:
    [result] = cross_checks.run_cross_checks(lake_con, staging, _product(FK), DAY)
    assert (result.unexpected_count, result.element_count) == (2, 9)
    assert result.status is Status.failed and result.category == "conformance"
    # 2 of 9 = 22.2%: a 22% threshold fails, 2/9 passes exactly at the boundary.
    [lenient] = cross_checks.run_cross_checks(
        lake_con, staging, _product({**FK, "threshold": 2 / 9}), DAY
    )
    [short] = cross_checks.run_cross_checks(
        lake_con, staging, _product({**FK, "threshold": 0.22}), DAY
    )
    assert lenient.passed and short.status is Status.failed


def test_not_after_death_uses_month_precision(lake_con, staging) -> None:
    [result] = cross_checks.run_cross_checks(lake_con, staging, _product(DEATH), DAY)
    assert (result.unexpected_count, result.element_count) == (2, 9)
    assert result.status is Status.failed and result.blocks


def test_staging_is_detached_afterwards(lake_con, staging) -> None:
    cross_checks.run_cross_checks(lake_con, staging, _product(FK, DEATH), DAY)
    attached = {
        r[0] for r in lake_con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    assert not any(name.startswith("qc_") for name in attached)
    duckdb.connect(str(staging)).close()  # the file can be opened read-write again


def test_missing_reference_product_is_errored(lake_con, staging) -> None:
    rule = {**FK, "references": "patient_administration/contacts_elsewhere"}
    [result] = cross_checks.run_cross_checks(lake_con, staging, _product(rule), DAY)
    assert result.status is Status.errored and "not in the lake" in result.detail


def _log(con: duckdb.DuckDBPyConnection, *dates: dt.date, product: str = CONTACTS.ref) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS lake._regionlab")
    con.execute("""CREATE TABLE IF NOT EXISTS lake._regionlab.load_log (product VARCHAR,
        extract VARCHAR, sha256 VARCHAR, extract_date DATE, rows_read BIGINT, run_id VARCHAR,
        loaded_at TIMESTAMPTZ)""")
    for d in dates:
        con.execute(
            "INSERT INTO lake._regionlab.load_log VALUES (?, ?, 'x', ?, 1, 'r', now())",
            [product, f"contacts_{d}.parquet", d],
        )


FRESH = {
    "id": "fresh",
    "type": "freshness",
    "max_age_days": 35,
    "kahn": "plausibility",
    "severity": "warning",
}


def test_freshness_first_delivery_passes(lake_con, staging) -> None:
    [result] = cross_checks.run_cross_checks(lake_con, staging, _product(FRESH), DAY)
    assert result.passed and "first delivery" in result.detail


def test_freshness_compares_with_the_previous_delivery(lake_con, staging) -> None:
    _log(lake_con, dt.date(2026, 9, 2), dt.date(2026, 9, 27))
    _log(lake_con, dt.date(2026, 10, 31), product="other/product")  # not this product's
    [ok] = cross_checks.run_cross_checks(lake_con, staging, _product(FRESH), DAY)  # 35 days
    [late] = cross_checks.run_cross_checks(
        lake_con, staging, _product(FRESH), DAY + dt.timedelta(days=1)
    )
    assert ok.passed and "35 days apart" in ok.detail
    assert late.status is Status.failed and late.severity == "warning" and not late.blocks


def test_freshness_as_of_is_explicit_and_deterministic(lake_con) -> None:
    _log(lake_con, dt.date(2026, 11, 1))
    rule = RULE.validate_python(FRESH)
    assert cross_checks.freshness_as_of(lake_con, CONTACTS, rule, dt.date(2026, 12, 6)).passed
    stale = cross_checks.freshness_as_of(lake_con, CONTACTS, rule, dt.date(2026, 12, 7))
    assert stale.status is Status.failed and "36 days old" in stale.detail
