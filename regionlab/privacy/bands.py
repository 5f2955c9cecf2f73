"""Age bands: the constants :mod:`regionlab.privacy.generalise` coarsens ages with.

A module of their own, without DuckDB and polars, because the researcher's client
validates a cohort's age bands with them and must start fast.
"""

from __future__ import annotations

#: Age bands in order; ages 90 and over share one band so the oldest stay hidden.
AGE_BAND_WIDTH = 5
AGE_BAND_TOP = 90
AGE_BANDS: tuple[str, ...] = tuple(
    f"{lo}-{lo + AGE_BAND_WIDTH - 1}" for lo in range(0, AGE_BAND_TOP, AGE_BAND_WIDTH)
) + (f"{AGE_BAND_TOP}+",)
