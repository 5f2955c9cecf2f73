"""DuckDB connections that load extensions from the installed pip packages only.

DuckDB normally downloads extensions on first use. The project pins DuckDB to a
version whose DuckLake, SQLite, Postgres and httpfs extensions ship as pip
packages (``duckdb-extension-*``, one package per extension, each pinning
DuckDB exactly). Pointing ``extension_directory`` at them and disabling
auto-install means a run never reaches the network, and a missing extension
fails at once with the name of the package to install.

The packages keep the binary at ``duckdb_extension_<name>/extensions/v<ver>/``
without the platform folder DuckDB looks in (``v<ver>/<platform>/``), so the
extension directory is a small folder of symlinks to the package files, made
on first use in the user's cache (see :func:`extension_directory`). Nothing is
copied or downloaded; DuckDB still verifies each extension's signature.
Every DuckDB connection in the project should come from :func:`duckdb_connect`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from regionlab.errors import UserError

#: The pip package that ships each extension, by the name ``LOAD`` uses.
EXTENSION_PACKAGES: dict[str, str] = {
    "ducklake": "duckdb-extension-ducklake",
    "sqlite_scanner": "duckdb-extension-sqlite-scanner",
    "postgres_scanner": "duckdb-extension-postgres-scanner",
    #: DuckDB's crypto module for writing encrypted database files lives in httpfs.
    "httpfs": "duckdb-extension-httpfs",
}
#: Short names DuckDB also accepts.
ALIASES: dict[str, str] = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}


def _canonical(name: str) -> str:
    return ALIASES.get(name, name)


def _install_hint(name: str) -> str:
    package = EXTENSION_PACKAGES.get(_canonical(name), f"duckdb-extension-{name}")
    return f"install the pip package {package}=={duckdb.__version__} (`uv add {package}`)"


def _package_file(name: str) -> Path | None:
    """The extension binary inside its pip package, or None when the package is missing."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    path = folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    return path if path.is_file() else None


def _platform() -> str:
    con = duckdb.connect()
    try:
        return str(con.execute("PRAGMA platform").fetchone()[0])
    finally:
        con.close()


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "regionlab" / "duckdb-extensions"


def _link(target: Path, link: Path) -> None:
    """Point ``link`` at ``target``, atomically (several processes may do this at once)."""
    with contextlib.suppress(OSError):
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _build(root: Path, files: dict[str, Path]) -> Path:
    folder = root / f"v{duckdb.__version__}" / _platform()
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in files.items():
        _link(target, folder / f"{name}.duckdb_extension")
    return root


@functools.cache
def extension_directory() -> Path:
    """The folder DuckDB should treat as its extension directory.

    It holds ``v<ver>/<platform>/<name>.duckdb_extension`` symlinks to the
    installed ``duckdb-extension-*`` packages, one folder per environment
    (keyed by where the packages live) under ``$XDG_CACHE_HOME/regionlab``
    or ``~/.cache/regionlab``; a private temporary folder when that is not
    writable. An extension whose package is missing is simply absent.
    """
    files = {name: path for name in EXTENSION_PACKAGES if (path := _package_file(name))}
    if not files:
        raise UserError(
            "The DuckDB extension packages are not installed; "
            + _install_hint("ducklake")
            + " and likewise duckdb-extension-sqlite-scanner, -postgres-scanner and -httpfs."
        )
    key = hashlib.sha256(str(sorted(map(str, files.values()))).encode()).hexdigest()[:16]
    try:
        return _build(_cache_root() / key, files)
    except OSError:
        return _build(Path(tempfile.mkdtemp(prefix="regionlab-duckdb-extensions-")), files)


def duckdb_connect(
    path: str | os.PathLike[str] = ":memory:",
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection that can only load extensions from the pip packages.

    Auto-loading stays on (``ATTACH 'ducklake:...'`` loads what it needs, and
    attaching with ``ENCRYPTION_KEY`` loads httpfs for writing), but
    auto-install is off, so nothing is ever downloaded; DuckDB's own progress bar is
    off (regionlab reports progress itself). The caller's
    ``config`` may add settings but cannot switch the download back on.
    """
    settings: dict[str, Any] = dict(config or {})
    settings["extension_directory"] = str(extension_directory())
    settings["autoinstall_known_extensions"] = False
    settings.setdefault("autoload_known_extensions", True)
    con = duckdb.connect(str(path), read_only=read_only, config=settings)
    # DuckDB draws its own bar on stdout for long queries: between regionlab's progress
    # lines in a terminal and hundreds of lines in a log or CI output. (A connection
    # setting: it cannot be passed in ``config``.) In a Jupyter kernel DuckDB refuses to
    # change it without ipywidgets, which it also needs to draw the bar: nothing to switch off.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    return con


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
