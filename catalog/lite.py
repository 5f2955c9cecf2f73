"""DataHub Lite, the embedded catalogue: a DuckDB file under ``<var>/datahub/``.

regionlab opens Lite through the SDK directly
(``datahub.lite.lite_util.get_datahub_lite({"type": "duckdb", "config": {"file": ...}})``),
so no config file is involved. For people who want the ``datahub lite`` CLI
on the same file, :func:`write_cli_config` writes a ``.datahubenv`` into the
isolated DataHub home (:mod:`catalog.home`) and :func:`cli_env` gives the
environment to run the CLI with (``regionlab catalog lite …`` does both): the
CLI finds its config only through ``$HOME``, insists on a ``gms:`` section even
for Lite, and crashes (``FileNotFoundError: ~/.datahubenv``) in a home without
one — so :func:`cli_env` writes the config when it is missing, and nothing
depends on what the user's own home holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from datahub.lite.lite_local import DataHubLiteLocal
from datahub.lite.lite_util import get_datahub_lite

from catalog.home import datahub_dir, datahub_home
from regionlab.errors import UserError

LITE_TYPE = "duckdb"


def lite_file() -> Path:
    return datahub_dir() / "lite.duckdb"


def lite_config(path: Path | None = None, *, read_only: bool = False) -> dict:
    return {
        "type": LITE_TYPE,
        "config": {"file": str(path or lite_file()), "read_only": read_only},
    }


def open_lite(path: Path | None = None, *, read_only: bool = False) -> DataHubLiteLocal:
    """Open (read-write: create) the Lite database; call ``.close()`` when done."""
    path = path or lite_file()
    if read_only and not path.exists():
        raise UserError(f"no DataHub Lite catalogue at {path}; run `regionlab catalog emit` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return get_datahub_lite(lite_config(path, read_only=read_only), read_only=read_only)
    except Exception as exc:  # duckdb raises its own IOException for a held lock
        if "lock" in str(exc).lower():
            raise UserError(
                f"DataHub Lite at {path} is in use by another process (DuckDB allows one "
                "writer); wait for it to finish and try again"
            ) from exc
        raise


def write_cli_config(path: Path | None = None) -> Path:
    """Write ``<var>/datahub/home/.datahubenv`` pointing the ``datahub lite`` CLI at our file."""
    home = datahub_home()
    home.mkdir(parents=True, exist_ok=True)
    config_path = cli_config()
    config = {
        # The CLI validates a gms section before it looks at `lite`; nothing connects to it.
        "gms": {"server": os.environ.get("DATAHUB_GMS_URL", "http://localhost:8080")},
        "lite": lite_config(path),
    }
    config_path.write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
    return config_path


def cli_config() -> Path:
    return datahub_home() / ".datahubenv"


def cli_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for running the ``datahub`` CLI against regionlab's Lite, home untouched.

    Writes the CLI's config into the isolated home first when it is missing (a
    config written by :func:`write_cli_config` for another Lite file is kept).
    """
    if not cli_config().exists():
        write_cli_config()
    env = dict(os.environ if base is None else base)
    env["HOME"] = str(datahub_home())
    env.setdefault("DATAHUB_TELEMETRY_ENABLED", "false")
    return env
