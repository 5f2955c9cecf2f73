"""CPR numbers: parsing and validation, in Python and as DuckDB macros.

Ingest validates millions of rows, so the rules exist twice: as plain Python
functions (the reference, used for single values and in tests) and as DuckDB
macros (``install_cpr_macros``) that run vectorised inside the query engine.
The test suite compares the two on many generated values, valid and invalid.

Rules (CPR-kontoret):

* accepted shapes: ``DDMMYY-SSSS`` and ``DDMMYYSSSS`` (surrounding whitespace
  ignored); the normal form is the 10 digits without dash;
* the century comes from the 7th digit: 0-3 → 1900s; 4 and 9 → 2000s if
  YY ≤ 36 else 1900s; 5-8 → 2000s if YY ≤ 57 else 1800s;
* a valid calendar date is required;
* modulus 11 is *not* required: numbers issued since 2007 may fail it, so it
  is only exposed as ``passes_modulus11`` for information;
* sex from the last digit: odd → ``M`` (mand), even → ``K`` (kvinde).

Nothing here ever puts a CPR number into an exception message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import duckdb

Sex = Literal["M", "K"]

_WHITESPACE = " \t\r\n"
_SHAPE = re.compile(r"[0-9]{6}-?[0-9]{4}")
_MOD11_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class CprParts:
    """What a valid CPR number says about its holder.

    ``cpr`` is kept out of the repr so a logged ``CprParts`` leaks nothing.
    """

    cpr: str = field(repr=False)
    birth_date: date
    sex: Sex
    passes_modulus11: bool


def normalise_cpr(value: object) -> str | None:
    """The 10-digit form if ``value`` has a CPR shape, else ``None`` (date not checked)."""
    if not isinstance(value, str):
        return None
    text = value.strip(_WHITESPACE)
    if _SHAPE.fullmatch(text) is None:
        return None
    return text.replace("-", "")


def century(seventh_digit: int, yy: int) -> int:
    """The birth century from the 7th digit and the two-digit year."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800


def _birth_date(normalised: str) -> date | None:
    day, month, yy = int(normalised[0:2]), int(normalised[2:4]), int(normalised[4:6])
    year = century(int(normalised[6]), yy) + yy
    try:
        return date(year, month, day)
    except ValueError:
        return None


def cpr_birth_date(value: object) -> date | None:
    """Birth date of a valid CPR number, ``None`` if the value is not one."""
    normalised = normalise_cpr(value)
    return None if normalised is None else _birth_date(normalised)


def is_valid_cpr(value: object) -> bool:
    """True when ``value`` has a CPR shape and encodes a real birth date."""
    return cpr_birth_date(value) is not None


def cpr_sex(value: object) -> Sex | None:
    """``M`` for an odd last digit, ``K`` for even; ``None`` if not a valid CPR."""
    normalised = normalise_cpr(value)
    if normalised is None or _birth_date(normalised) is None:
        return None
    return "M" if int(normalised[9]) % 2 == 1 else "K"


def passes_modulus11(value: object) -> bool:
    """The pre-2007 check digit rule; informative only, never a validity test."""
    normalised = normalise_cpr(value)
    if normalised is None:
        return False
    total = sum(int(d) * w for d, w in zip(normalised, _MOD11_WEIGHTS, strict=True))
    return total % 11 == 0


def parse_cpr(value: object) -> CprParts | None:
    """All parts of a valid CPR number, or ``None`` when it is not valid."""
    normalised = normalise_cpr(value)
    if normalised is None:
        return None
    born = _birth_date(normalised)
    if born is None:
        return None
    return CprParts(
        cpr=normalised,
        birth_date=born,
        sex="M" if int(normalised[9]) % 2 == 1 else "K",
        passes_modulus11=passes_modulus11(normalised),
    )


# --- DuckDB ---------------------------------------------------------------
#
# TEMP macros: they live in the connection's temp catalogue, so they work on a
# connection whose default database is a staging file or a DuckLake catalogue
# without writing anything into it. ``n`` below is an already normalised CPR.

_WS_SQL = "(' ' || chr(9) || chr(13) || chr(10))"
_YY = "CAST(substr(n, 5, 2) AS INTEGER)"
_D7 = "substr(n, 7, 1)"

_MACROS: tuple[str, ...] = (
    f"""CREATE OR REPLACE TEMP MACRO cpr_normalise(x) AS
    CASE WHEN regexp_full_match(trim(CAST(x AS VARCHAR), {_WS_SQL}), '[0-9]{{6}}-?[0-9]{{4}}')
         THEN replace(trim(CAST(x AS VARCHAR), {_WS_SQL}), '-', '') END""",
    f"""CREATE OR REPLACE TEMP MACRO cpr_birth_date_normalised(n) AS
    try_cast(
        lpad(CAST(
            CASE WHEN {_D7} IN ('0', '1', '2', '3') THEN 1900
                 WHEN {_D7} IN ('4', '9') THEN CASE WHEN {_YY} <= 36 THEN 2000 ELSE 1900 END
                 ELSE CASE WHEN {_YY} <= 57 THEN 2000 ELSE 1800 END
            END + {_YY} AS VARCHAR), 4, '0')
        || '-' || substr(n, 3, 2) || '-' || substr(n, 1, 2) AS DATE)""",
    """CREATE OR REPLACE TEMP MACRO cpr_birth_date(x) AS
    cpr_birth_date_normalised(cpr_normalise(x))""",
    """CREATE OR REPLACE TEMP MACRO cpr_is_valid(x) AS
    cpr_birth_date(x) IS NOT NULL""",
    """CREATE OR REPLACE TEMP MACRO cpr_sex(x) AS
    CASE WHEN cpr_is_valid(x) THEN
        CASE WHEN CAST(substr(cpr_normalise(x), 10, 1) AS INTEGER) % 2 = 1
             THEN 'M' ELSE 'K' END
    END""",
    "CREATE OR REPLACE TEMP MACRO cpr_passes_modulus11(x) AS coalesce(("
    + " + ".join(
        f"{w} * CAST(substr(cpr_normalise(x), {i + 1}, 1) AS INTEGER)"
        for i, w in enumerate(_MOD11_WEIGHTS)
    )
    + ") % 11 = 0, false)",
)

MACRO_NAMES = (
    "cpr_normalise",
    "cpr_birth_date",
    "cpr_is_valid",
    "cpr_sex",
    "cpr_passes_modulus11",
)


def install_cpr_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the CPR macros on ``con`` (idempotent).

    ``cpr_normalise(x)`` → VARCHAR or NULL, ``cpr_is_valid(x)`` → BOOLEAN
    (never NULL), ``cpr_birth_date(x)`` → DATE or NULL, ``cpr_sex(x)`` →
    ``'M'``/``'K'`` or NULL, ``cpr_passes_modulus11(x)`` → BOOLEAN; each agrees
    with the Python function of the same meaning.
    """
    for statement in _MACROS:
        con.execute(statement)
