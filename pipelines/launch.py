"""Launching Dagster for a profile: ``dagster.yaml``, the Celery workers' configuration, and
the variables child processes inherit.

A profile (:mod:`regionlab.profiles`) only says *where* things live. This
module turns it into what Dagster and Celery read: ``$DAGSTER_HOME/dagster.yaml``
(instance storage, run coordinator with per-domain limits), ``celery.yaml`` and
the ``dagster_celery_config`` module the workers import, and — for processes
started from here (``dagster dev``, workers, Label Studio) — the environment
variables of the profile. The core never writes ``os.environ``; :func:`apply`
is the one place that does, on purpose, for child processes.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import yaml

from regionlab.config import current
from regionlab.errors import UserError
from regionlab.profiles import DEFAULT_PROFILE, PROFILE_ENV, Profile, libpq_to_url, load_profile

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


def celery_executor_config(profile: Profile) -> dict[str, Any]:
    """The ``execution.config`` block of ``dagster_celery.celery_executor``."""
    return {
        "broker": profile.celery_broker,
        "backend": profile.celery_backend,
        "config_source": {**CELERY_SAFETY, "task_default_queue": profile.celery_queue},
    }


def dagster_instance_config(profile: Profile) -> dict[str, Any]:
    """The content of ``dagster.yaml`` for the profile."""
    config: dict[str, Any] = {"telemetry": {"enabled": False}}
    if profile.dagster_storage == "postgres":
        if not profile.dagster_postgres:
            raise UserError(
                f"profile '{profile.name}' stores Dagster in PostgreSQL but dagster_postgres is "
                "empty; set it in regionlab.toml or REGIONLAB_DAGSTER_POSTGRES"
            )
        # No password in the URL: libpq finds it (PGPASSFILE / PGPASSWORD).
        config["storage"] = {"postgres": {"postgres_url": libpq_to_url(profile.dagster_postgres)}}
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
    lines = ['"""Written by pipelines.launch.apply; the Celery workers import it."""']
    lines += [f"{key} = {value!r}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def apply(
    profile: str | Profile | None = None,
    *,
    environ: MutableMapping[str, str] | None = None,
    dagster_home: Path | None = None,
) -> dict[str, str]:
    """Export ``profile`` to ``environ`` (default ``os.environ``) for child processes.

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
        settings = current().settings
        default = settings.dagster_home
        if profile.name != DEFAULT_PROFILE:
            default = default.with_name(f"dagster-{profile.name}")
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
            yaml.safe_dump({"execution": {"config": celery_executor_config(profile)}}),
            encoding="utf-8",
        )
        worker_dir = dagster_home / "celery"
        worker_dir.mkdir(exist_ok=True)
        (worker_dir / "dagster_celery_config.py").write_text(
            celery_worker_module(profile), encoding="utf-8"
        )
    from labeling.server import label_studio_env  # only this function needs the labelling layer

    changes.update(label_studio_env(profile))
    environ.update(changes)
    return changes


def dagster_home() -> str:
    """A persistent Dagster home under var/ (or ``DAGSTER_HOME``), so `make ui` shows the
    CLI's runs too; exported for the Dagster instance this process opens."""
    from regionlab.settings import get_settings

    home = os.environ.get("DAGSTER_HOME") or str(get_settings().dagster_home)
    os.makedirs(home, exist_ok=True)
    config = os.path.join(home, "dagster.yaml")
    if not os.path.exists(config):
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = home
    return home
