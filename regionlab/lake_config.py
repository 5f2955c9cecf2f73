"""Where the lake's catalogue and data files live.

Outside the ``regionlab.lake`` package, whose ``__init__`` imports DuckDB: every command
resolves its configuration (:mod:`regionlab.config`) and the researcher's client path
must stay light. ``regionlab.lake.config`` re-exports it.

The embedded default (a SQLite catalogue and a data folder under ``var/lake``)
and the multi-user setup (a PostgreSQL catalogue) differ only in this config;
everything else in the project uses the same code and the same ``lake`` alias.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from regionlab.errors import UserError
from regionlab.settings import get_settings
from regionlab.sql import quote_literal

CATALOG_ENV = "REGIONLAB_LAKE_CATALOG"
DATA_ENV = "REGIONLAB_LAKE_DATA"

#: Alias of the lake in every connection: tables are ``lake.<domain>.<product>``.
LAKE_ALIAS = "lake"

_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class LakeConfig(BaseModel):
    """A DuckLake catalogue plus its data folder."""

    model_config = ConfigDict(frozen=True)

    catalog_type: Literal["sqlite", "postgres"]
    #: SQLite: path of the catalogue file. PostgreSQL: a libpq connection string.
    catalog: str
    #: Folder for the Parquet files (a local path; DuckLake also accepts URLs).
    data_path: str
    alias: str = Field(default=LAKE_ALIAS, pattern=r"^[a-z_][a-z0-9_]*$")

    @classmethod
    def embedded(cls, lake_dir: Path | None = None) -> LakeConfig:
        """The default single-host lake: ``<lake_dir>/catalog.sqlite`` and ``<lake_dir>/data/``."""
        lake_dir = lake_dir or get_settings().lake_dir
        return cls(
            catalog_type="sqlite",
            catalog=str(lake_dir / "catalog.sqlite"),
            data_path=str(lake_dir / "data"),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LakeConfig:
        """Read ``REGIONLAB_LAKE_CATALOG`` (``sqlite:<path>`` or ``postgres:<libpq>``)
        and ``REGIONLAB_LAKE_DATA``; unset means the embedded lake under ``var/lake``."""
        env = os.environ if env is None else env
        return cls.from_spec(env.get(CATALOG_ENV) or "", env.get(DATA_ENV) or "")

    @classmethod
    def from_spec(cls, catalog: str, data: str = "", lake_dir: Path | None = None) -> LakeConfig:
        """A lake from a catalogue spec (``sqlite:<path>`` or ``postgres:<libpq>``) and a data
        path; empty values mean the embedded lake under ``lake_dir`` (default ``var/lake``)."""
        default = cls.embedded(lake_dir)
        data_path = data or default.data_path
        spec = catalog.strip()
        if not spec:
            return default.model_copy(update={"data_path": data_path})
        kind, sep, rest = spec.partition(":")
        kind = kind.lower()
        if kind == "postgresql":
            kind = "postgres"
        if not sep or kind not in ("sqlite", "postgres") or not rest.strip():
            raise UserError(
                f"{CATALOG_ENV} must be 'sqlite:<path to catalog.sqlite>' or "
                f"'postgres:<libpq connection string>' (e.g. 'postgres:dbname=regionlab "
                f"host=127.0.0.1 user=postgres'); got a value starting with '{kind[:20]}'."
            )
        catalog = rest.strip()
        if kind == "sqlite":
            catalog = str(Path(catalog).expanduser())
        return cls.model_validate(
            {"catalog_type": kind, "catalog": catalog, "data_path": data_path}
        )

    @property
    def attach_uri(self) -> str:
        """The DuckLake URI for ``ATTACH``, e.g. ``ducklake:sqlite:/var/lake/catalog.sqlite``."""
        return f"ducklake:{self.catalog_type}:{self.catalog}"

    @property
    def data_dir(self) -> str:
        """The data path with the trailing slash DuckLake expects for a folder."""
        return self.data_path if self.data_path.endswith("/") else self.data_path + "/"

    @property
    def is_local_data(self) -> bool:
        return "://" not in self.data_path

    def describe(self) -> str:
        """A printable description with any password masked, for logs and messages."""
        catalog = _PASSWORD.sub(r"\1***", self.catalog)
        return f"{self.catalog_type}:{catalog} (data {self.data_path})"

    def attach_sql(
        self, *, read_only: bool = False, snapshot: int | None = None, migrate: bool = False
    ) -> str:
        """The ``ATTACH`` statement for this lake (``migrate``: upgrade an older catalogue)."""
        options = [f"DATA_PATH {quote_literal(self.data_dir)}"]
        if migrate:
            options.append("AUTOMATIC_MIGRATION TRUE")
        if self.catalog_type == "sqlite":
            # WAL lets readers run beside a committing writer; the busy timeout makes
            # a second writer wait for the lock instead of failing at once.
            options += ["META_JOURNAL_MODE 'WAL'", "META_BUSY_TIMEOUT 30000"]
        if read_only or snapshot is not None:
            options.append("READ_ONLY")
        if snapshot is not None:
            options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
        return f"ATTACH {quote_literal(self.attach_uri)} AS {self.alias} ({', '.join(options)})"

    def __repr__(self) -> str:
        return f"LakeConfig({self.describe()!r}, alias={self.alias!r})"

    __str__ = describe
