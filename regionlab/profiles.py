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
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regionlab.errors import UserError
from regionlab.settings import PROJECT_ROOT, get_settings

PROFILE_ENV = "REGIONLAB_PROFILE"
CONFIG_ENV = "REGIONLAB_CONFIG"
DEFAULT_PROFILE = "embedded"
CONFIG_FILE = PROJECT_ROOT / "regionlab.toml"

#: The run tag the queued run coordinator limits per value: one domain's runs queue up
#: behind each other while other domains' runs go ahead.
DOMAIN_TAG = "regionlab/domain"

#: Celery settings that make a step survive the death of its worker: the broker keeps the
#: message until the step finished (late ack) and hands it to another worker when the
#: worker's connection (RabbitMQ) or pool process goes away. One step per worker process.
CELERY_SAFETY: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
}


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

    @property
    def is_multiuser(self) -> bool:
        return self.executor == "celery" or self.dagster_storage == "postgres"

    def dagster_postgres_url(self) -> str:
        """The Dagster storage URL built from the libpq string (no password: libpq finds it)."""
        return libpq_to_url(self.dagster_postgres)

    def celery_executor_config(self) -> dict[str, Any]:
        """The ``execution.config`` block of ``dagster_celery.celery_executor``."""
        return {
            "broker": self.celery_broker,
            "backend": self.celery_backend,
            "config_source": {**CELERY_SAFETY, "task_default_queue": self.celery_queue},
        }


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


def dagster_instance_config(profile: Profile) -> dict[str, Any]:
    """The content of ``dagster.yaml`` for the profile."""
    config: dict[str, Any] = {"telemetry": {"enabled": False}}
    if profile.dagster_storage == "postgres":
        if not profile.dagster_postgres:
            raise UserError(
                f"profile '{profile.name}' stores Dagster in PostgreSQL but dagster_postgres is "
                "empty; set it in regionlab.toml or REGIONLAB_DAGSTER_POSTGRES"
            )
        config["storage"] = {"postgres": {"postgres_url": profile.dagster_postgres_url()}}
    if profile.run_coordinator == "queued":
        config["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": profile.max_concurrent_runs,
                "tag_concurrency_limits": [
                    {
                        "key": DOMAIN_TAG,
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": profile.runs_per_domain,
                    }
                ],
            },
        }
    return config


def celery_worker_module(profile: Profile) -> str:
    """``dagster_celery_config.py``: what ``celery -A dagster_celery.app worker`` imports."""
    settings = {
        "broker_url": profile.celery_broker,
        "result_backend": profile.celery_backend,
        "task_default_queue": profile.celery_queue,
        **CELERY_SAFETY,
    }
    lines = ['"""Written by regionlab.profiles.apply; the Celery workers import it."""']
    lines += [f"{key} = {value!r}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def label_studio_env(profile: Profile) -> dict[str, str]:
    """Label Studio's own variables for a PostgreSQL database (its password: PGPASSWORD)."""
    if profile.label_studio_db != "postgresql":
        return {}
    parts = dict(t.partition("=")[::2] for t in shlex.split(profile.label_studio_postgres))
    return {
        "DJANGO_DB": "default",
        "POSTGRE_NAME": parts.get("dbname", "label_studio"),
        "POSTGRE_USER": parts.get("user", "postgres"),
        "POSTGRE_HOST": parts.get("host", "127.0.0.1"),
        "POSTGRE_PORT": parts.get("port", "5432"),
    }


def apply(
    profile: str | Profile | None = None,
    *,
    environ: MutableMapping[str, str] | None = None,
    dagster_home: Path | None = None,
) -> dict[str, str]:
    """Make ``profile`` the active configuration of ``environ`` (default ``os.environ``).

    Sets ``REGIONLAB_PROFILE``, the lake's ``REGIONLAB_LAKE_CATALOG``/``_DATA`` (removed
    for the embedded defaults), ``DAGSTER_HOME`` (given, already set, or
    ``<var>/dagster[-<profile>]``) and Label Studio's variables; writes
    ``dagster.yaml`` there, and for the Celery executor ``celery.yaml`` (the
    executor block, for ``dagster-celery worker start -y``) and
    ``celery/dagster_celery_config.py`` (for ``celery -A dagster_celery.app worker``).
    Returns the variables it set. Workers must be started with the same variables.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(profile, Profile):
        profile = load_profile(profile, env=environ)
    changes: dict[str, str] = {PROFILE_ENV: profile.name}
    for key, value in (
        ("REGIONLAB_LAKE_CATALOG", profile.lake_catalog),
        ("REGIONLAB_LAKE_DATA", profile.lake_data),
    ):
        if value:
            changes[key] = value
        else:
            environ.pop(key, None)
    if dagster_home is None:
        default = get_settings().var_dir / (
            "dagster" if profile.name == DEFAULT_PROFILE else f"dagster-{profile.name}"
        )
        dagster_home = Path(environ.get("DAGSTER_HOME") or default)
    dagster_home.mkdir(parents=True, exist_ok=True)
    changes["DAGSTER_HOME"] = str(dagster_home)
    (dagster_home / "dagster.yaml").write_text(
        yaml.safe_dump(dagster_instance_config(profile), sort_keys=False), encoding="utf-8"
    )
    if profile.executor == "celery":
        if not profile.celery_broker:
            raise UserError(
                f"profile '{profile.name}' uses the Celery executor but celery_broker is empty; "
                "set it in regionlab.toml or REGIONLAB_CELERY_BROKER"
            )
        (dagster_home / "celery.yaml").write_text(
            yaml.safe_dump({"execution": {"config": profile.celery_executor_config()}}),
            encoding="utf-8",
        )
        worker_dir = dagster_home / "celery"
        worker_dir.mkdir(exist_ok=True)
        (worker_dir / "dagster_celery_config.py").write_text(
            celery_worker_module(profile), encoding="utf-8"
        )
    changes.update(label_studio_env(profile))
    environ.update(changes)
    return changes
