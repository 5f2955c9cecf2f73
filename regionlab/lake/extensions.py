"""DuckDB connections that load extensions from the installed pip packages only.

DuckDB normally downloads extensions on first use. The project pins DuckDB to
the 1.4 LTS line because DuckLake, SQLite and Postgres ship for it as pip
packages (``duckdb-ext-*``); pointing ``extension_directory`` at the package
folder and disabling auto-install means a run never reaches the network, and a
missing extension fails at once with the name of the package to install.
Every DuckDB connection in the project should come from :func:`duckdb_connect`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from regionlab.errors import UserError

#: The pip package that ships each extension (both the short and the canonical name).
EXTENSION_PACKAGES: dict[str, str] = {
    "ducklake": "duckdb-ext-ducklake",
    "sqlite": "duckdb-ext-sqlite",
    "sqlite_scanner": "duckdb-ext-sqlite",
    "postgres": "duckdb-ext-postgres",
    "postgres_scanner": "duckdb-ext-postgres",
}


def _install_hint(name: str) -> str:
    package = EXTENSION_PACKAGES.get(name, f"duckdb-ext-{name}")
    return f"install the pip package {package}=={duckdb.__version__}.* (`uv add {package}`)"


@functools.cache
def extension_directory() -> Path:
    """The folder DuckDB should treat as its extension directory.

    ``duckdb_ext`` is a namespace package shared by all ``duckdb-ext-*``
    wheels, so its first path entry holds ``extensions/v<ver>/<platform>/``.
    """
    try:
        import duckdb_ext
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UserError(
            "The DuckDB extension packages are not installed; "
            + _install_hint("ducklake")
            + " and likewise duckdb-ext-sqlite and duckdb-ext-postgres."
        ) from exc
    return Path(list(duckdb_ext.__path__)[0]) / "extensions"


def duckdb_connect(
    path: str | os.PathLike[str] = ":memory:",
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection that can only load extensions from the pip packages.

    Auto-loading stays on (``ATTACH 'ducklake:...'`` loads what it needs), but
    auto-install is off, so nothing is ever downloaded. The caller's
    ``config`` may add settings but cannot switch the download back on.
    """
    settings: dict[str, Any] = dict(config or {})
    settings["extension_directory"] = str(extension_directory())
    settings["autoinstall_known_extensions"] = False
    settings.setdefault("autoload_known_extensions", True)
    return duckdb.connect(str(path), read_only=read_only, config=settings)


def load_extensions(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load extensions explicitly so a missing one names the package to install.

    Auto-loading would fail later with DuckDB's advice to run ``INSTALL``,
    which is exactly the download this project forbids.
    """
    for name in names:
        try:
            con.execute(f"LOAD {name}")
        except duckdb.IOException as exc:
            where = extension_directory() / f"v{duckdb.__version__}"
            raise UserError(
                f"DuckDB extension '{name}' is not available in {where}; {_install_hint(name)}. "
                "regionlab never downloads extensions at run time."
            ) from exc
