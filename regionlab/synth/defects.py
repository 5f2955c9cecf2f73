"""Deliberate defects, each labelled, so quarantine and checks have known work to do.

A defective row carries its defect name in the helper column ``_defect``; the
writer turns that into the ``defects.csv`` label (and, for ``malformed_line``,
into the broken text itself, since line numbers are only known at write time).
A duplicate keeps the original clean and appends a labelled exact copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from regionlab.synth.cpr_numbers import invalid_cprs

DEFECT_TYPES = (
    "invalid_cpr", "end_before_start", "unknown_code", "duplicate_row", "malformed_line",
    "future_date",
)  # fmt: skip
DEFECT = "_defect"

# Codes guaranteed absent from the code lists (checked by the tests).
UNKNOWN_CODES: dict[str, tuple[str, ...]] = {
    "sks_diagnoses": ("DX999", "DZ999X", "DE1199", "DQ00X", "DU999"),
    "sks_procedures": ("KXX999", "BZZZ99", "ZZ9999X", "UXZZ99"),
    "npu": ("NPU99999", "NPU00000", "NPU12345X"),
    "atc": ("A99ZZ99", "X01AA01", "Z99XX01"),
}


@dataclass(frozen=True)
class DefectSpec:
    """Which defects apply to an extract and which columns they touch."""

    types: tuple[str, ...]
    cpr: str | None = "cpr"
    code: str | None = None  # column holding a code, with its code list
    code_list: str | None = None
    start: str | None = None  # end_before_start: (start, end) columns
    end: str | None = None
    future: tuple[str, ...] = field(default_factory=tuple)  # columns moved past as_of


SPECS: dict[str, DefectSpec] = {
    "persons": DefectSpec(
        ("invalid_cpr", "duplicate_row", "malformed_line", "future_date"),
        future=("death_date",),
    ),
    "contacts": DefectSpec(
        ("invalid_cpr", "end_before_start", "duplicate_row", "future_date"),
        start="start_time", end="end_time", future=("start_time", "end_time"),
    ),
    "diagnoses": DefectSpec(
        ("invalid_cpr", "unknown_code", "duplicate_row", "malformed_line", "future_date"),
        code="diagnosis_code", code_list="sks_diagnoses", future=("registered_at",),
    ),
    "procedures": DefectSpec(
        ("invalid_cpr", "unknown_code", "duplicate_row", "malformed_line", "future_date"),
        code="procedure_code", code_list="sks_procedures", future=("performed_at",),
    ),
    "lab_results": DefectSpec(
        ("invalid_cpr", "unknown_code", "duplicate_row", "malformed_line", "future_date"),
        code="npu_code", code_list="npu", future=("sampled_at",),
    ),
    "prescriptions": DefectSpec(
        ("invalid_cpr", "end_before_start", "unknown_code", "duplicate_row", "malformed_line",
         "future_date"),
        code="atc_code", code_list="atc", start="start_date", end="end_date",
        future=("start_date", "end_date"),
    ),
    "notes": DefectSpec(
        ("invalid_cpr", "duplicate_row", "malformed_line", "future_date"),
        future=("written_at",),
    ),
}  # fmt: skip


def _scatter(values: pl.Series, mask: np.ndarray) -> pl.Series:
    """A full-length column holding ``values`` where ``mask`` is set, null elsewhere."""
    pos = np.full(mask.size, -1, dtype=np.int64)
    pos[mask] = np.arange(int(mask.sum()))
    return values.gather(pl.Series(pos).replace(-1, None))


def inject(
    frame: pl.DataFrame,
    spec: DefectSpec,
    rate: float,
    rng: np.random.Generator,
    as_of: date,
    eligible_cpr: np.ndarray | None = None,
) -> pl.DataFrame:
    """Mark about ``rate`` of the rows defective, spread evenly over ``spec.types``.

    ``eligible_cpr`` restricts ``invalid_cpr`` to some rows (in the register: persons
    without events, so no event loses its person); other picks fall back to
    ``duplicate_row``.
    """
    n = frame.height
    hit = rng.random(n) < rate
    type_idx = np.array([DEFECT_TYPES.index(t) for t in spec.types])
    defect = np.where(hit, type_idx[rng.integers(0, len(spec.types), n)], -1)
    dup = DEFECT_TYPES.index("duplicate_row")
    if eligible_cpr is not None:
        invalid = defect == DEFECT_TYPES.index("invalid_cpr")
        defect = np.where(invalid & ~eligible_cpr, dup, defect)
    if spec.end is not None:  # end_before_start needs an end to move
        no_end = frame[spec.end].is_null().to_numpy()
        defect = np.where((defect == DEFECT_TYPES.index("end_before_start")) & no_end, dup, defect)
    defect_names = pl.Series(defect).replace_strict(
        dict(enumerate(DEFECT_TYPES)), default=None, return_dtype=pl.Utf8
    )

    is_invalid = defect == DEFECT_TYPES.index("invalid_cpr")
    d = pl.col(DEFECT)
    columns: list[pl.Expr] = []
    helpers = {
        DEFECT: defect_names,
        "_bad_cpr": _scatter(invalid_cprs(int(is_invalid.sum()), rng), is_invalid),
        "_future_days": rng.integers(1, 366, n),
        "_back_minutes": rng.integers(60, 72 * 60, n),
        "_back_days": rng.integers(1, 60, n),
        "_code_pick": rng.integers(0, 1000, n),
    }
    out = frame.with_columns(**helpers)
    if spec.cpr:
        columns.append(
            pl.when(d == "invalid_cpr")
            .then(pl.col("_bad_cpr"))
            .otherwise(pl.col(spec.cpr))
            .alias(spec.cpr)
        )
    if spec.code:
        unknown = UNKNOWN_CODES[spec.code_list or ""]
        pick = pl.col("_code_pick") % len(unknown)
        code_expr = pl.lit(unknown[-1])
        for i, c in enumerate(unknown[:-1]):
            code_expr = pl.when(pick == i).then(pl.lit(c)).otherwise(code_expr)
        columns.append(
            pl.when(d == "unknown_code")
            .then(code_expr)
            .otherwise(pl.col(spec.code))
            .alias(spec.code)
        )
    if spec.start and spec.end:
        is_date = out.schema[spec.start] == pl.Date
        back = (
            pl.duration(days=pl.col("_back_days"))
            if is_date
            else pl.duration(minutes=pl.col("_back_minutes"))
        )
        columns.append(
            pl.when(d == "end_before_start")
            .then(pl.col(spec.start) - back)
            .otherwise(pl.col(spec.end))
            .alias(spec.end)
        )
    out = out.with_columns(columns)
    if spec.future:
        # move the first column past as_of and keep the others' distance to it
        anchor = spec.future[0]
        shift = pl.lit(as_of, dtype=pl.Date).cast(out.schema[anchor]) + pl.duration(
            days=pl.col("_future_days")
        )
        if out.schema[anchor] != pl.Date:
            shift = shift + (pl.col(anchor) - pl.col(anchor).dt.truncate("1d"))
        delta = shift - pl.col(anchor)
        moved = [pl.when(d == "future_date").then(shift).otherwise(pl.col(anchor)).alias(anchor)]
        moved += [
            pl.when(d == "future_date").then(pl.col(c) + delta).otherwise(pl.col(c)).alias(c)
            for c in spec.future[1:]
        ]
        out = out.with_columns(moved)
    out = out.drop([c for c in helpers if c != DEFECT])
    dup = out.filter(d == "duplicate_row")
    clean = out.with_columns(pl.when(d == "duplicate_row").then(None).otherwise(d).alias(DEFECT))
    return pl.concat([clean, dup])
