"""The region's register of AI and automation (RPA) initiatives.

A fixed, hand-written list (``initiatives.csv``, package data): the strategy
group's view of which trials use which data products is what the catalogue
shows, so the entries name real product ids of this repository. Start dates are
clipped to ``as_of`` so a run never describes the future.
"""

from __future__ import annotations

from datetime import date
from importlib import resources

import polars as pl

INITIATIVE_COLUMNS = (
    "initiative_id", "name", "kind", "phase", "owner", "department", "ai_act_risk",
    "products", "started", "description",
)  # fmt: skip

_DATA = "initiatives.csv"  # one row per initiative, without the id


def generate_initiatives(as_of: date) -> pl.DataFrame:
    """The register as a DataFrame in the contract's column order."""
    with resources.as_file(resources.files(__package__) / _DATA) as path:
        frame = pl.read_csv(path, infer_schema=False)
    ids = pl.format("INI-{}", pl.int_range(1, frame.height + 1).cast(pl.Utf8).str.zfill(3))
    started = pl.min_horizontal(pl.col("started").str.to_date(), pl.lit(as_of))
    return frame.select(ids.alias("initiative_id"), pl.all()).with_columns(started.alias("started"))
