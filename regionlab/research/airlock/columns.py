"""What each column of a result table is: count, measure, dimension, evidence or text.

The rules need to know which cells are counts. A name list alone misses
``diabetics``, ``Antal personer``, ``N `` (trailing space) and the ``K``/``M``
columns of a wide crosstab; so a column is a count when it is named like one,
*or* when every value is a whole non-negative number (stored as a number or
as text such as ``"3 "`` or ``"1.234"`` in a Danish export) and its name is not
a dimension (year, code, age band …), an aggregate (mean, pct …) or a
regression or survival statistic. Erring towards "count" costs a reviewer a
look; erring the other way releases a small cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl

Role = Literal[
    "count",
    "measure",
    "percent",
    "extreme",
    "dimension",
    "evidence",
    "statistic",
    "value",
    "key",
    "text",
]
"""``value`` is a number not named as any aggregate: a raw measurement, as in row-level data."""

#: Cells a researcher wrote for a hidden count: not numbers, not small cells.
MARKER = r"^(<\s*\d+|≤\s*\d+|\*+|\.\.?|-|–|n/?a|na|null|none|x|\(?supp\w*\)?)$"
#: Evidence columns a magnitude table carries for the dominance rules; stripped on release.
EVIDENCE_PREFIX = "sdc_"


def norm(name: str) -> str:
    """``'Antal personer '`` → ``'antal_personer'``: how names are matched."""
    return re.sub(r"[^0-9a-zæøå]+", "_", name.strip().lower()).strip("_")


def _rx(words: str) -> re.Pattern[str]:
    return re.compile(rf"^(?:{words})$")


# Matched on norm(name), whole name or one of its _-separated tokens.
COUNT_NAME = _rx(
    r"n|count|counts|antal|cnt|freq|frequency|persons|personer|patients|patienter|borgere"
    r"|individuals|people|cases|tilfælde|obs|nobs|n_obs|observations|observationer"
    r"|n_.+|.+_n|count_.+|.+_count|antal_.+|.+_antal|num_.+|number_of_.+|.+_persons|.+_personer"
    r"|at_risk|n_risk|n_at_risk|risikosæt|antal_i_risiko|events?|n_events?|hændelser|døde"
    r"|deaths|censored|n_censor|censureret"
)
_MEASURE = {
    "mean",
    "avg",
    "average",
    "gennemsnit",
    "gns",
    "median",
    "sum",
    "total",
    "sd",
    "std",
    "stddev",
    "var",
    "variance",
    "q1",
    "q3",
    "iqr",
    "p25",
    "p75",
    "p10",
    "p90",
    "spredning",
}
_PERCENT = {
    "pct",
    "percent",
    "procent",
    "andel",
    "rate",
    "ratio",
    "prop",
    "proportion",
    "incidence",
    "prevalence",
    "share",
    "survival",
    "surv",
    "overlevelse",
    "cuminc",
}
_EXTREME = {"min", "max", "minimum", "maximum", "største", "mindste", "laveste", "højeste"}
_STATISTIC = {
    "coef",
    "coefficient",
    "estimate",
    "beta",
    "se",
    "std_err",
    "stderr",
    "t",
    "z",
    "p",
    "p_value",
    "pvalue",
    "ci",
    "lower",
    "upper",
    "ci_lower",
    "ci_upper",
    "lcl",
    "ucl",
    "or",
    "hr",
    "rr",
    "dof",
    "df",
    "df_resid",
    "residual_df",
    "frihedsgrader",
    "aic",
    "bic",
    "r2",
    "r_squared",
    "loglik",
    "chi2",
    "statistic",
    "estimat",
    "konfidensinterval",
}
DIMENSION_NAME = _rx(
    r"sex|køn|koen|gender|year|år|aar|årstal|month|måned|maaned|quarter|kvartal|week|uge"
    r"|day|dag|date|dato|period|periode|age|alder|age_?band|aldersgruppe|alders_?gruppe"
    r"|.*band|.*group|.*gruppe|region|regions_?kode|municipality|kommune|kommune_?kode"
    r"|.*code|.*kode|.*_cd|category|kategori|level|niveau|rank|time|tid|interval|stratum"
    r"|strata|term|variable|variabel|class|klasse|type|department|afdeling|hospital"
    r"|sygehus|diagnosis|diagnose|icd|atc|npu|zip|postnr|postnummer|cohort|kohorte|arm"
    r"|treatment|behandling|exposure|eksponering|outcome|udfald|version|snapshot"
)
#: Key-like names (``record_id``, ``pnr``, ``key``): never counts, whatever their values.
KEY_NAME = re.compile(
    r"(^id$|_id$|^id_|key$|^nr$|_nr$|uuid|guid|cpr|pnr|pseudonym|^pid(_?\d+)?$|lbnr|løbenr)"
)
_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"
_DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$|^\s*\d{1,2}[-./]\d{1,2}[-./]\d{4}\s*$"


def _tokens(n: str) -> set[str]:
    return set(n.split("_")) - {""}


@dataclass(frozen=True)
class Column:
    """One column: its name as written, how it matches, what it is, and its numbers."""

    name: str
    key: str
    role: Role
    numeric: bool
    """Every non-empty, non-marker value is a number (possibly stored as text)."""
    whole: bool
    """Every number is a whole number."""
    markers: int
    """Cells holding a suppression marker (``<5``, ``*``, ``..``)."""
    timestamps: float
    """Share of non-empty values that are exact timestamps (date and time of day)."""
    dates: float
    """Share of non-empty values that are calendar dates (day precision)."""


def numbers(df: pl.DataFrame, column: str, decimal_comma: bool) -> pl.Expr:
    """The column as Float64: text is stripped, thousand separators and a decimal comma read.

    Markers and text that is no number become null; a number column stays as it is.
    """
    dtype = df.schema[column]
    if dtype.is_numeric():
        return pl.col(column).cast(pl.Float64)
    if dtype != pl.Utf8:
        return pl.lit(None, dtype=pl.Float64)
    text = pl.col(column).str.strip_chars().str.replace_all(r"[\u00a0\u202f ]", "")
    if decimal_comma:
        # 1.234,5 -> 1234.5 ; 1.234 -> 1234 (a thousands dot) ; 12,5 -> 12.5
        text = (
            pl.when(text.str.contains(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"))
            .then(text.str.replace_all(r"\.", ""))
            .otherwise(text)
            .str.replace(",", ".")
        )
    else:
        text = (
            pl.when(text.str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"))
            .then(text.str.replace_all(",", ""))
            .otherwise(text)
        )
    return text.cast(pl.Float64, strict=False)


def _role(key: str, numeric: bool, whole: bool, nonneg: bool) -> Role:
    tokens = _tokens(key)
    if key.startswith(EVIDENCE_PREFIX):
        return "evidence"
    if COUNT_NAME.match(key):
        return "count"
    if key in _STATISTIC or tokens & {"coef", "stderr", "err", "pvalue", "dof", "estimate"}:
        return "statistic"
    if tokens & _EXTREME:
        return "extreme"
    if tokens & _PERCENT:
        return "percent"
    if tokens & _MEASURE:
        return "measure"
    if DIMENSION_NAME.match(key):
        return "dimension"
    if KEY_NAME.search(key):
        return "key"
    if numeric and whole and nonneg:
        return "count"
    return "value" if numeric else "text"


def describe(df: pl.DataFrame, decimal_comma: bool) -> list[Column]:
    """Every column of ``df`` described; one pass of polars expressions per column."""
    out = []
    for name in df.columns:
        dtype = df.schema[name]
        text = pl.col(name).cast(pl.Utf8, strict=False).str.strip_chars()
        value = numbers(df, name, decimal_comma)
        present = text.is_not_null() & (text != "")
        marker = text.str.to_lowercase().str.contains(MARKER)
        stats = df.select(
            present.sum().alias("present"),
            (present & marker.fill_null(False)).sum().alias("markers"),
            (present & ~marker.fill_null(False) & value.is_null()).sum().alias("not_number"),
            (
                value.is_not_null()
                & (
                    (value != value.floor())
                    | (
                        text.str.contains(r"^[+-]?\d*[.,]\d+(e[+-]?\d+)?$")
                        & ~text.str.contains(r"^[+-]?\d{1,3}([.,]\d{3})+$")
                    ).fill_null(False)
                )
            )
            .sum()
            .alias("fractional"),
            (value < 0).sum().alias("negative"),
            text.str.contains(_TIMESTAMP).fill_null(False).sum().alias("timestamps"),
            text.str.contains(_DATE).fill_null(False).sum().alias("dates"),
            value.is_not_null().sum().alias("numbers"),
        ).row(0, named=True)
        present_n = stats["present"] or 0
        numeric = present_n > 0 and stats["not_number"] == 0 and stats["numbers"] > 0
        if dtype.is_float() and not COUNT_NAME.match(norm(name)):
            whole = False  # a float column is a measure unless it is named as a count
        else:
            whole = numeric and stats["fractional"] == 0
        if dtype.is_temporal():
            timestamps = 1.0 if isinstance(dtype, pl.Datetime) else 0.0
            dates = 1.0 if dtype == pl.Date else 0.0
        else:
            timestamps = stats["timestamps"] / present_n if present_n else 0.0
            dates = stats["dates"] / present_n if present_n else 0.0
        key = norm(name)
        role: Role = (
            "dimension"
            if dtype.is_temporal()
            else _role(key, numeric, whole, (stats["negative"] or 0) == 0)
        )
        out.append(
            Column(name, key, role, numeric, whole, stats["markers"] or 0, timestamps, dates)
        )
    return out


__all__ = [
    "COUNT_NAME",
    "DIMENSION_NAME",
    "EVIDENCE_PREFIX",
    "Column",
    "describe",
    "norm",
    "numbers",
]
