"""Where the lake's catalogue and data files live: :mod:`regionlab.lake_config`, re-exported."""

from regionlab.lake_config import CATALOG_ENV, DATA_ENV, LAKE_ALIAS, LakeConfig

__all__ = ["CATALOG_ENV", "DATA_ENV", "LAKE_ALIAS", "LakeConfig"]
