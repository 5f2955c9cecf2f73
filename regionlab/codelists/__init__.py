"""Reference code lists (SKS, NPU, ATC, geography, hospitals, names) shipped as package data.

The synthetic sources draw their codes from here and the pipelines check incoming
codes against the same files, so an "unknown code" means the same thing on both
sides. The lists are small, real-looking subsets with Danish texts, not the full
national classifications.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from regionlab.errors import UserError

if TYPE_CHECKING:
    import polars as pl

#: The key column of each list: what ``codes(name)`` returns.
KEY_COLUMNS: dict[str, str] = {
    "sks_diagnoses": "code",
    "sks_procedures": "code",
    "npu": "code",
    "atc": "code",
    "municipalities": "code",
    "postcodes": "postcode",
    "departments": "department_code",
    "names": "name",
}

# Everything is read as text (codes such as "410" or "0800" must keep their digits);
# only the reference limits are numbers.
_FLOAT_COLUMNS = ("reference_low", "reference_high")


def names() -> list[str]:
    """The available code list names."""
    return sorted(KEY_COLUMNS)


def _check_name(name: str) -> None:
    if name not in KEY_COLUMNS:
        raise UserError(f"unknown code list {name!r}; choose one of: {', '.join(names())}")


@cache
def load(name: str) -> pl.DataFrame:
    """Read one code list as a DataFrame (cached; treat it as read-only)."""
    import polars as pl

    _check_name(name)
    path = resources.files(__name__) / f"{name}.csv"
    with resources.as_file(path) as file:
        frame = pl.read_csv(file, infer_schema=False)
    casts = [pl.col(c).cast(pl.Float64) for c in _FLOAT_COLUMNS if c in frame.columns]
    return frame.with_columns(casts) if casts else frame


@cache
def records(name: str) -> tuple[dict[str, str], ...]:
    """One code list's rows as text, read without polars (the researcher's client
    validates cohorts with them and must start fast). An empty field is ``""``."""
    _check_name(name)
    text = (resources.files(__name__) / f"{name}.csv").read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text, newline="")))


@cache
def codes(name: str) -> frozenset[str]:
    """The set of valid keys of a code list, for membership checks."""
    return frozenset(row[KEY_COLUMNS[name]] for row in records(name))
