"""Generalisation: coarsen quasi-identifiers before they leave the source stage.

Each rule exists as a SQL expression builder (for the vectorised pipeline
step; names are quoted, the result is a SQL fragment to put in a SELECT) and
as a Python function with the same meaning (for single values and tests).
Rule names match ``regionlab.spec.vocab.Pseudonymisation``: ``birth_year``,
``age_band``, ``month``, ``municipality``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache

import duckdb
import polars as pl

from regionlab.privacy.bands import AGE_BAND_TOP, AGE_BAND_WIDTH
from regionlab.privacy.bands import AGE_BANDS as AGE_BANDS  # re-exported
from regionlab.sql import quote_ident

#: Temp table holding the postcode → municipality list (see ``install_postcodes``).
#: Its columns have unlikely names so the correlated lookup in ``municipality_sql``
#: cannot capture a user column called ``postcode``.
POSTCODE_TABLE = "__rl_postcodes"


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# --- Python reference --------------------------------------------------------


def birth_year(birth: date | datetime | None) -> int | None:
    """The year of a birth date."""
    return None if birth is None else birth.year


def age_at(birth: date | datetime, reference: date | datetime) -> int:
    """Completed years at ``reference`` (a 29 February birthday counts from 1 March)."""
    b, r = _as_date(birth), _as_date(reference)
    return r.year - b.year - (1 if (b.month, b.day) > (r.month, r.day) else 0)


def age_band(birth: date | datetime | None, reference: date | datetime) -> str | None:
    """Five-year band label (``0-4`` … ``85-89``, ``90+``); ``None`` if born after ``reference``."""
    if birth is None:
        return None
    age = age_at(birth, reference)
    if age < 0:
        return None
    if age >= AGE_BAND_TOP:
        return f"{AGE_BAND_TOP}+"
    low = age // AGE_BAND_WIDTH * AGE_BAND_WIDTH
    return f"{low}-{low + AGE_BAND_WIDTH - 1}"


def to_month(value: date | datetime | None) -> date | None:
    """First day of the month of a date or timestamp."""
    if value is None:
        return None
    return _as_date(value).replace(day=1)


def postcode_map(postcodes: pl.DataFrame | None = None) -> dict[str, str]:
    """postcode → municipality code; the first listed row wins if a postcode repeats.

    Defaults to ``regionlab.codelists.load("postcodes")``.
    """
    frame = _postcode_frame(postcodes)
    return dict(zip(frame["postcode"].to_list(), frame["municipality_code"].to_list(), strict=True))


def municipality_of(postcode: object, mapping: Mapping[str, str] | None = None) -> str | None:
    """Municipality code of a postcode, ``None`` if the postcode is unknown."""
    if postcode is None:
        return None
    table = _default_postcode_map() if mapping is None else mapping
    return table.get(str(postcode).strip())


@cache
def _default_postcode_map() -> dict[str, str]:
    return postcode_map()


def _postcode_frame(postcodes: pl.DataFrame | None) -> pl.DataFrame:
    if postcodes is None:
        from regionlab.codelists import load

        postcodes = load("postcodes")
    return (
        postcodes.select(
            pl.col("postcode").cast(pl.Utf8).str.strip_chars(),
            pl.col("municipality_code").cast(pl.Utf8).str.strip_chars(),
        )
        .drop_nulls("postcode")
        .unique(subset="postcode", keep="first", maintain_order=True)
    )


# --- SQL builders ------------------------------------------------------------


def _date_literal(value: date | datetime) -> str:
    return f"DATE '{_as_date(value).isoformat()}'"


def _reference_sql(reference: date | datetime | str) -> str:
    """A date becomes a literal; a string is the name of a column holding the reference."""
    if isinstance(reference, str):
        return quote_ident(reference)
    return _date_literal(reference)


def birth_year_sql(column: str) -> str:
    """SQL: year of a date column (INTEGER)."""
    return f"CAST(year({quote_ident(column)}) AS INTEGER)"


def age_sql(column: str, reference: date | datetime | str) -> str:
    """SQL: completed years between a birth date column and ``reference``."""
    b, r = quote_ident(column), _reference_sql(reference)
    return (
        f"(year({r}) - year({b}) - CASE WHEN month({b}) > month({r}) "
        f"OR (month({b}) = month({r}) AND day({b}) > day({r})) THEN 1 ELSE 0 END)"
    )


def age_band_sql(column: str, reference: date | datetime | str) -> str:
    """SQL: the ``age_band`` label of a birth date column at ``reference``.

    ``reference`` is a date (e.g. the extract's as-of date; never today, for
    reproducible products) or the name of a column such as a contact date.
    """
    age = age_sql(column, reference)
    w, top = AGE_BAND_WIDTH, AGE_BAND_TOP
    return (
        f"CASE WHEN {age} < 0 THEN NULL WHEN {age} >= {top} THEN '{top}+' "
        f"ELSE CAST({age} // {w} * {w} AS VARCHAR) || '-' || "
        f"CAST({age} // {w} * {w} + {w - 1} AS VARCHAR) END"
    )


def month_sql(column: str) -> str:
    """SQL: first day of the month (DATE) of a date or timestamp column."""
    return f"CAST(date_trunc('month', {quote_ident(column)}) AS DATE)"


def install_postcodes(
    con: duckdb.DuckDBPyConnection, postcodes: pl.DataFrame | None = None
) -> None:
    """Load the postcode list into the temp table ``municipality_sql`` looks up."""
    frame = _postcode_frame(postcodes)
    con.register("__rl_postcodes_frame", frame.to_arrow())
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {POSTCODE_TABLE} AS "
            "SELECT postcode AS __rl_postcode, municipality_code AS __rl_municipality "
            "FROM __rl_postcodes_frame"
        )
    finally:
        con.unregister("__rl_postcodes_frame")


def municipality_sql(column: str) -> str:
    """SQL: municipality code of a postcode column (NULL if unknown).

    Needs ``install_postcodes(con)`` first. A correlated scalar subquery, which
    DuckDB turns into a hash join, so it stays usable inside any SELECT list.
    """
    pc = quote_ident(column)
    return (
        f"(SELECT __rl_municipality FROM temp.main.{POSTCODE_TABLE} "
        f"WHERE __rl_postcode = trim(CAST({pc} AS VARCHAR)))"
    )


def generalisation_sql(
    rule: str, column: str, *, reference: date | datetime | str | None = None
) -> str:
    """SQL for a spec's generalisation rule on ``column``.

    ``age_band`` needs ``reference``; ``municipality`` needs ``install_postcodes``.
    """
    if rule == "birth_year":
        return birth_year_sql(column)
    if rule == "age_band":
        if reference is None:
            raise ValueError("the age_band rule needs a reference date or column")
        return age_band_sql(column, reference)
    if rule == "month":
        return month_sql(column)
    if rule == "municipality":
        return municipality_sql(column)
    raise ValueError(f"{rule!r} is not a generalisation rule")
