"""Configuration profiles: one setting picks the embedded or the multi-user platform.

``REGIONLAB_PROFILE`` (default ``embedded``) names a profile in ``regionlab.toml``
at the repository root (or the file ``REGIONLAB_CONFIG`` names). A profile only
chooses *where* things live — lake catalogue, Dagster instance storage, run
coordinator, executor, Label Studio's database — so the rest of the code keeps
reading its usual environment variables (``REGIONLAB_LAKE_CATALOG`` for the
lake, ``DAGSTER_HOME`` for Dagster). :func:`apply` is the bridge: it turns a
profile into those variables and writes ``$DAGSTER_HOME/dagster.yaml``.

Every key may be overridden by ``REGIONLAB_<KEY>`` in the environment, so a
deployment changes a host name without editing the file. Secrets never live in
the file: PostgreSQL passwords come from libpq's ``PGPASSFILE``/``PGPASSWORD``
(read by DuckDB's postgres extension, psycopg2 under Dagster, and Label Studio
alike), the pseudonymisation key from ``REGIONLAB_KEY_FILE``.

This module only reads profiles; :class:`regionlab.config.Config` carries the
active one. What a profile means for Dagster and Celery (``dagster.yaml``, the
worker configuration, the variables child processes inherit) is written by
:mod:`pipelines.launch`, and what it means for Label Studio's database by
:mod:`labeling.server`.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regionlab.errors import UserError
from regionlab.settings import PROJECT_ROOT

PROFILE_ENV = "REGIONLAB_PROFILE"
CONFIG_ENV = "REGIONLAB_CONFIG"
DEFAULT_PROFILE = "embedded"
CONFIG_FILE = PROJECT_ROOT / "regionlab.toml"


class Profile(BaseModel):
    """One named set of choices from ``regionlab.toml`` (after environment overrides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    lake_catalog: str = ""
    lake_data: str = ""
    dagster_storage: Literal["local", "postgres"] = "local"
    dagster_postgres: str = ""
    run_coordinator: Literal["default", "queued"] = "default"
    max_concurrent_runs: int = Field(8, ge=1)
    runs_per_domain: int = Field(1, ge=1)
    executor: Literal["in_process", "celery"] = "in_process"
    celery_broker: str = ""
    celery_backend: str = "rpc://"
    celery_queue: str = Field("regionlab", pattern=r"^[A-Za-z0-9_.-]+$")
    label_studio_db: Literal["sqlite", "postgresql"] = "sqlite"
    label_studio_postgres: str = ""
    audit_store: str = ""
    """Empty: SQLite under the service folder; ``postgres:<libpq string>`` for PostgreSQL."""
    audit_checkpoints: str = ""
    """Folder of the signed audit checkpoints; empty: ``<var>/service/checkpoints``."""
    audit_checkpoint_every: int = Field(100, ge=1)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(CONFIG_ENV) or CONFIG_FILE)


def _read_profiles(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"no configuration file {path}; set {CONFIG_ENV} or restore it") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from exc
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise UserError(f"{path} has no [profiles.<name>] tables; see the comments at its top")
    return profiles


def load_profile(
    name: str | None = None, *, env: Mapping[str, str] | None = None, path: Path | None = None
) -> Profile:
    """The profile ``name`` (default: ``REGIONLAB_PROFILE`` or embedded) with env overrides."""
    env = os.environ if env is None else env
    path = path or config_path(env)
    name = name or env.get(PROFILE_ENV) or DEFAULT_PROFILE
    profiles = _read_profiles(path)
    if name not in profiles:
        raise UserError(
            f"unknown profile '{name}' in {PROFILE_ENV}; {path} defines "
            f"{', '.join(sorted(profiles))}"
        )
    values = dict(profiles[name])
    for key, value in values.items():
        if isinstance(value, str) and re.search(r"\bpassword\s*=|://[^/@]*:[^/@]*@", value):
            raise UserError(
                f"{path}: profiles.{name}.{key} holds a password; the file must not hold "
                "secrets — use PGPASSFILE/PGPASSWORD or the REGIONLAB_* environment variable"
            )
    for field in Profile.model_fields:
        override = env.get(f"REGIONLAB_{field.upper()}")
        if field != "name" and override is not None:
            values[field] = override
    try:
        return Profile.model_validate({**values, "name": name})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise UserError(
            f"profile '{name}' in {path} (or its REGIONLAB_* overrides) is invalid: {problems}"
        ) from exc


def libpq_to_url(conninfo: str, scheme: str = "postgresql+psycopg2") -> str:
    """``dbname=x host=h port=p user=u`` → ``postgresql+psycopg2://u@h:p/x`` (others as query).

    The driver is explicit because SQLAlchemy 2.1 maps a bare ``postgresql://`` to
    psycopg 3, whose server-side parameters break dagster-postgres' ``NOTIFY``.
    """
    parts: dict[str, str] = {}
    for token in shlex.split(conninfo):
        key, sep, value = token.partition("=")
        if not sep:
            raise UserError(f"'{token}' in a PostgreSQL connection string is not key=value")
        parts[key.strip()] = value
    if "password" in parts:
        raise UserError(
            "a password in a connection string of regionlab.toml or REGIONLAB_* is not allowed; "
            "provide it through PGPASSFILE (a mounted secret file) or PGPASSWORD"
        )
    user = quote(parts.pop("user", "postgres"))
    host = parts.pop("host", "127.0.0.1")
    port = parts.pop("port", "5432")
    dbname = quote(parts.pop("dbname", "postgres"))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(parts.items()))
    return f"{scheme}://{user}@{host}:{port}/{dbname}" + (f"?{query}" if query else "")
