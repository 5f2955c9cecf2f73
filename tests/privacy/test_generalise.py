"""Generalisation rules: SQL builders agree with the Python functions."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import duckdb
import polars as pl
import pytest

from regionlab.codelists import load
from regionlab.privacy.generalise import (
    AGE_BANDS,
    age_at,
    age_band,
    age_band_sql,
    birth_year,
    birth_year_sql,
    generalisation_sql,
    install_postcodes,
    month_sql,
    municipality_of,
    municipality_sql,
    postcode_map,
    to_month,
)

REF = date(2026, 11, 1)


@pytest.mark.parametrize(
    ("born", "reference", "band"),
    [
        (date(2000, 6, 15), date(2005, 6, 14), "0-4"),
        (date(2000, 6, 15), date(2005, 6, 15), "5-9"),
        (date(2026, 11, 1), REF, "0-4"),
        (date(1937, 11, 2), REF, "85-89"),  # 88, turning 89 tomorrow
        (date(1936, 11, 2), REF, "85-89"),  # 89
        (date(1936, 11, 1), REF, "90+"),  # 90 today
        (date(1910, 1, 1), REF, "90+"),
        (date(2000, 2, 29), date(2005, 2, 28), "0-4"),  # leap-day birthday counts from 1 March
        (date(2000, 2, 29), date(2005, 3, 1), "5-9"),
        (date(2027, 1, 1), REF, None),  # born after the reference
        (None, REF, None),
    ],
)
def test_age_band_python(born: date | None, reference: date, band: str | None) -> None:
    assert age_band(born, reference) == band


def test_age_bands_are_complete() -> None:
    assert AGE_BANDS[0] == "0-4" and AGE_BANDS[-2] == "85-89" and AGE_BANDS[-1] == "90+"
    assert len(AGE_BANDS) == 19
    assert {
        age_band(REF - timedelta(days=365 * a + a // 4 + 3), REF) for a in range(0, 110)
    } == set(AGE_BANDS)


def test_python_helpers() -> None:
    assert birth_year(date(1961, 7, 7)) == 1961 and birth_year(None) is None
    assert age_at(datetime(2000, 5, 1, 23, 59), date(2010, 5, 1)) == 10
    assert to_month(date(2024, 1, 31)) == date(2024, 1, 1)
    assert to_month(datetime(2024, 2, 29, 13, 45)) == date(2024, 2, 1)
    assert to_month(None) is None


@pytest.fixture
def people() -> duckdb.DuckDBPyConnection:
    rng = random.Random(21)
    n = 3_000
    births = [date(1915, 1, 1) + timedelta(days=rng.randrange(0, 112 * 365)) for _ in range(n)]
    births[:4] = [date(2000, 2, 29), date(1936, 11, 1), date(1936, 11, 2), None]
    contacts = [b + timedelta(days=rng.randrange(-400, 40_000)) if b else REF for b in births]
    contacts[0] = date(2005, 2, 28)
    times = [datetime(2020, 1, 1) + timedelta(minutes=rng.randrange(0, 3_000_000)) for _ in births]
    frame = pl.DataFrame(
        {"i": range(n), "født": births, "kontakt": contacts, "tid": times},
        schema={"i": pl.Int64, "født": pl.Date, "kontakt": pl.Date, "tid": pl.Datetime("us")},
    )
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("CREATE TABLE p AS SELECT * FROM frame")
    con.unregister("frame")
    return con


def test_sql_matches_python(people: duckdb.DuckDBPyConnection) -> None:
    rows = people.execute(
        f"SELECT født, kontakt, tid, {birth_year_sql('født')}, {age_band_sql('født', REF)}, "
        f"{age_band_sql('født', 'kontakt')}, {month_sql('kontakt')}, {month_sql('tid')} "
        "FROM p ORDER BY i"
    ).fetchall()
    mismatches = [
        r
        for r in rows
        if r[3:]
        != (
            birth_year(r[0]),
            age_band(r[0], REF),
            age_band(r[0], r[1]),
            to_month(r[1]),
            to_month(r[2]),
        )
    ]
    assert mismatches == []
    bands_seen = {r[5] for r in rows}
    assert None in bands_seen and "90+" in bands_seen and "0-4" in bands_seen
    assert rows[0][5] == "0-4"  # the leap-day case on 28 February


def test_postcode_to_municipality_with_the_code_list() -> None:
    codes = load("postcodes")
    first = codes.row(0, named=True)
    con = duckdb.connect()
    install_postcodes(con)
    con.execute(
        "CREATE TABLE a AS SELECT * FROM (VALUES (1, ?), (2, '9999'), (3, NULL), (4, ?)) "
        "v(i, postcode)",
        [first["postcode"], f" {first['postcode']} "],
    )
    got = con.execute(f"SELECT {municipality_sql('postcode')} FROM a ORDER BY i").fetchall()
    assert got == [(first["municipality_code"],), (None,), (None,), (first["municipality_code"],)]
    assert municipality_of(first["postcode"]) == first["municipality_code"]
    assert municipality_of("9999") is None and municipality_of(None) is None


def test_postcode_mapping_inline_and_typed_columns() -> None:
    postcodes = pl.DataFrame(
        {
            "postcode": ["5000", "5000", "6700", "7100"],
            "municipality_code": ["461", "999", "561", "630"],
        }
    )
    mapping = postcode_map(postcodes)
    assert mapping == {"5000": "461", "6700": "561", "7100": "630"}  # first listed row wins
    con = duckdb.connect()
    install_postcodes(con, postcodes)
    con.execute(
        "CREATE TABLE b AS SELECT * FROM (VALUES (1, 5000), (2, 6700), (3, 1234)) v(i, pnr)"
    )
    got = con.execute(f"SELECT i, {municipality_sql('pnr')} AS m FROM b ORDER BY i").fetchall()
    assert got == [(1, "461"), (2, "561"), (3, None)]
    assert [municipality_of(p, mapping) for p in (5000, 6700, 1234)] == ["461", "561", None]


def test_generalisation_dispatcher() -> None:
    assert generalisation_sql("birth_year", "b") == birth_year_sql("b")
    assert generalisation_sql("age_band", "b", reference=REF) == age_band_sql("b", REF)
    assert generalisation_sql("month", "d") == month_sql("d")
    assert generalisation_sql("municipality", "pc") == municipality_sql("pc")
    with pytest.raises(ValueError, match="reference"):
        generalisation_sql("age_band", "b")
    with pytest.raises(ValueError, match="not a generalisation rule"):
        generalisation_sql("shuffle", "b")


def test_column_names_are_quoted() -> None:
    con = duckdb.connect()
    con.execute("""CREATE TABLE q AS SELECT DATE '1950-05-05' AS "født ""dato\"""")
    expr = birth_year_sql('født "dato')
    assert con.execute(f"SELECT {expr} FROM q").fetchone() == (1950,)
