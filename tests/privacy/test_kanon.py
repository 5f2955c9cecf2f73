"""k-anonymity: class-size distribution over quasi-identifiers, counts only."""

from __future__ import annotations

import duckdb
import pytest

from regionlab.privacy.kanon import k_anonymity


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # classes over (age band, sex, municipality): sizes 1, 2, 5, 5, and a NULL class of 3
    rows = (
        [("85-89", "K", "561")] * 1
        + [("40-44", "M", "561")] * 2
        + [("40-44", "K", "461")] * 5
        + [("20-24", "M", "461")] * 5
        + [("20-24", "M", None)] * 3
    )
    con.execute(
        'CREATE TABLE "person år" (age_band VARCHAR, sex VARCHAR, "kommune kode" VARCHAR, v INT)'
    )
    con.executemany(
        'INSERT INTO "person år" VALUES (?, ?, ?, ?)', [(*r, i) for i, r in enumerate(rows)]
    )
    return con


def test_k_anonymity_over_quasi_identifiers(con: duckdb.DuckDBPyConnection) -> None:
    result = k_anonymity(con, "person år", ["age_band", "sex", "kommune kode"])
    assert result.k == 1
    assert result.classes == 5
    assert result.rows == 16
    assert result.size_counts == ((1, 1), (2, 1), (3, 1), (5, 2))
    assert result.classes_below(5) == 3
    assert result.rows_below(5) == 6
    assert result.classes_below(1) == 0
    assert result.satisfies(1) and not result.satisfies(2)


def test_fewer_quasi_identifiers_merge_classes(con: duckdb.DuckDBPyConnection) -> None:
    result = k_anonymity(con, "person år", ["age_band"])
    assert result.size_counts == ((1, 1), (7, 1), (8, 1))
    assert result.k == 1 and result.classes == 3
    result = k_anonymity(con, "person år", ["sex"])
    assert (result.k, result.classes) == (6, 2)
    assert result.satisfies(5) and not result.satisfies(7)


def test_no_quasi_identifiers_is_one_class(con: duckdb.DuckDBPyConnection) -> None:
    result = k_anonymity(con, "person år", [])
    assert (result.k, result.classes, result.rows) == (16, 1, 16)


def test_empty_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute('DELETE FROM "person år"')
    result = k_anonymity(con, "person år", ["sex"])
    assert (result.k, result.classes, result.rows) == (0, 0, 0)
    assert result.satisfies(5)
    assert k_anonymity(con, "person år", []).classes == 0


def test_unknown_column_is_named(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="'postcode'"):
        k_anonymity(con, "person år", ["sex", "postcode"])


def test_result_holds_no_values(con: duckdb.DuckDBPyConnection) -> None:
    text = repr(k_anonymity(con, "person år", ["age_band", "sex", "kommune kode"]))
    assert "85-89" not in text and "561" not in text
