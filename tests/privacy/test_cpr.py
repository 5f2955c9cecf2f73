"""CPR rules: century, dates, sex, modulus 11, any separator, and Python/SQL agreement."""

from __future__ import annotations

import random
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest

from regionlab.privacy.identifiers import (
    CprParts,
    cpr_birth_date,
    cpr_sex,
    install_cpr_macros,
    is_valid_cpr,
    normalise_cpr,
    parse_cpr,
    passes_modulus11,
)


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("010190-1234", date(1990, 1, 1)),
        ("0101901234", date(1990, 1, 1)),
        ("311299-0001", date(1999, 12, 31)),
        ("150500-3001", date(1900, 5, 15)),  # 0-3 → always 1900s
        ("010105-4001", date(2005, 1, 1)),  # 4, YY ≤ 36 → 2000s
        ("010136-4001", date(2036, 1, 1)),
        ("010137-4001", date(1937, 1, 1)),  # 4, YY > 36 → 1900s
        ("010140-9001", date(1940, 1, 1)),  # 9, YY > 36 → 1900s
        ("010136-9001", date(2036, 1, 1)),  # 9, YY ≤ 36 → 2000s
        ("010160-5001", date(1860, 1, 1)),  # 5-8, YY > 57 → 1800s
        ("010157-8001", date(2057, 1, 1)),  # 5-8, YY ≤ 57 → 2000s
        ("010158-8001", date(1858, 1, 1)),
        ("010110-6001", date(2010, 1, 1)),
        ("290200-4001", date(2000, 2, 29)),  # 2000 is a leap year
        ("  010190-1234\n", date(1990, 1, 1)),  # surrounding whitespace ignored
        ("010190 1234", date(1990, 1, 1)),  # written the way clinicians write it
        ("010190–1234", date(1990, 1, 1)),  # en dash
        ("010190 — 1234", date(1990, 1, 1)),  # em dash with spaces
        ("010190/1234", date(1990, 1, 1)),
        ("010190.1234", date(1990, 1, 1)),
        ("01.01.90-1234", date(1990, 1, 1)),
        ("01-01-90-1234", date(1990, 1, 1)),
        ("01/01/90 1234", date(1990, 1, 1)),
    ],
)
def test_birth_date_and_century(cpr: str, born: date) -> None:
    assert is_valid_cpr(cpr)
    assert cpr_birth_date(cpr) == born


@pytest.mark.parametrize(
    "cpr",
    [
        "320299-1234",  # day 32
        "300290-1234",  # 30 February
        "290200-1234",  # 7th digit 1 → 1900, not a leap year
        "290201-4234",  # 2001 not a leap year
        "001290-1234",  # day 0
        "011390-1234",  # month 13
        "12345",
        "0101011234x",
        "010190--1234",
        "01.0190-1234",  # one date separator but not the other
        "01.01/90-1234",  # two different date separators
        "010190 x 1234",
        "01019012345",
        "",
        "٠١٠١٩٠١٢٣٤",  # non-ASCII digits
    ],
)
def test_invalid_values_are_rejected(cpr: str) -> None:
    assert not is_valid_cpr(cpr)
    assert cpr_birth_date(cpr) is None
    assert cpr_sex(cpr) is None
    assert parse_cpr(cpr) is None


def test_non_strings_are_not_cprs() -> None:
    assert normalise_cpr(None) is None
    assert normalise_cpr(101901234) is None
    assert not is_valid_cpr(None)


def test_normalise_accepts_any_separator() -> None:
    for written in ("010190-1234", "0101901234", "010190 1234", "01.01.90 – 1234", "010190/1234"):
        assert normalise_cpr(written) == "0101901234"
    assert normalise_cpr("320299-1234") == "3202991234"  # shape only; the date is not checked
    assert normalise_cpr("12345") is None


def test_sex_from_last_digit() -> None:
    assert cpr_sex("010190-1233") == "M"
    assert cpr_sex("010190-1235") == "M"
    assert cpr_sex("010190-1234") == "K"
    assert cpr_sex("010190-1230") == "K"


def test_modulus11_is_informative_only() -> None:
    # 4*0+3*7+2*0+7*7+6*6+5*1+4*4+3*2+2*8+1*5 = 154 = 11*14
    assert passes_modulus11("070761-4285")
    assert not passes_modulus11("070761-4286")
    assert not passes_modulus11("010190-1234")
    # failing modulus 11 does not make a number invalid (post-2007 numbers)
    assert is_valid_cpr("070761-4286")
    assert is_valid_cpr("010190-1234")


def test_parse_cpr_gives_parts_without_leaking_the_number() -> None:
    parts = parse_cpr("070761-4285")
    assert parts == CprParts(
        cpr="0707614285", birth_date=date(1961, 7, 7), sex="M", passes_modulus11=True
    )
    assert "0707614285" not in repr(parts)
    assert "070761" not in repr(parts)


def _generated_values(n: int, seed: int = 7) -> list[str | None]:
    """A mix of valid numbers in every century rule, near misses and junk."""
    rng = random.Random(seed)
    values: list[str | None] = [None, "", " ", "320299-1234", "12345", "0101011234x"]
    start = date(1858, 1, 1)
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:  # valid-looking date with a random 7th digit
            born = start + timedelta(days=rng.randrange(0, 200 * 365))
            serial = f"{rng.randrange(10)}{rng.randrange(1000):03d}"
            body = f"{born:%d%m%y}"
            sep = rng.choice(["-", "", " ", "–", " — ", "/", "."])
            if rng.random() < 0.2:
                mark = rng.choice([".", "-", "/", " "])
                body = mark.join((body[0:2], body[2:4], body[4:6]))
            values.append(body + sep + serial)
        elif kind < 0.7:  # random digits: mostly impossible dates
            digits = f"{rng.randrange(10**10):010d}"
            values.append(digits if rng.random() < 0.5 else digits[:6] + "-" + digits[6:])
        elif kind < 0.8:  # 29 February in all centuries
            yy, d7 = rng.randrange(100), rng.randrange(10)
            values.append(f"2902{yy:02d}{d7}{rng.randrange(1000):03d}")
        else:  # junk: wrong lengths, letters, separators, whitespace
            digits = f"{rng.randrange(10**12):012d}"[: rng.randrange(4, 13)]
            junk = rng.choice(["", "x", " ", "-", "--", "\t", "a-"])
            pos = rng.randrange(len(digits) + 1)
            values.append(digits[:pos] + junk + digits[pos:])
    return values


def test_python_and_sql_agree() -> None:
    values = _generated_values(20_000)
    con = duckdb.connect()
    install_cpr_macros(con)
    frame = pl.DataFrame(
        {"i": range(len(values)), "x": values}, schema={"i": pl.Int64, "x": pl.Utf8}
    )
    con.register("frame", frame)
    con.execute("CREATE TABLE v AS SELECT * FROM frame")
    rows = con.execute(
        "SELECT cpr_normalise(x), cpr_is_valid(x), cpr_birth_date(x), cpr_sex(x), "
        "cpr_passes_modulus11(x) FROM v ORDER BY i"
    ).fetchall()
    expected = [
        (normalise_cpr(v), is_valid_cpr(v), cpr_birth_date(v), cpr_sex(v), passes_modulus11(v))
        for v in values
    ]
    mismatches = [(v, r, e) for v, r, e in zip(values, rows, expected, strict=True) if r != e]
    assert mismatches == []
    # the generated set really exercises both sides of every rule
    valid = [e for e in expected if e[1]]
    assert 5_000 < len(valid) < len(values) - 5_000
    assert {e[3] for e in valid} == {"M", "K"}
    centuries = {e[2].year // 100 for e in valid}
    assert centuries == {18, 19, 20}
    assert any(e[4] for e in expected) and not all(e[4] for e in valid)


def test_macros_install_on_a_file_database_without_persisting(tmp_path) -> None:
    path = tmp_path / "staging.duckdb"
    con = duckdb.connect(str(path))
    install_cpr_macros(con)
    install_cpr_macros(con)  # idempotent
    assert con.execute("SELECT cpr_is_valid('010190-1234')").fetchone() == (True,)
    con.close()
    con = duckdb.connect(str(path))
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT cpr_is_valid('010190-1234')")
