"""Dagster's Celery executor configured from the active profile, and how to start its workers.

The executor itself is Dagster's (``dagster_celery.celery_executor``); this module
only supplies its configuration from ``regionlab.toml`` and the command line of
a worker, so the orchestrating process and the workers agree on broker, queue
and the late-acknowledgement settings that let a step outlive its worker.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from pipelines.launch import celery_executor_config
from regionlab.profiles import Profile, load_profile

# dagster-celery/-postgres 0.29.27 run on dagster 1.13.28 (see pyproject's uv override);
# their import-time version warning is expected and says nothing about this deployment.
warnings.filterwarnings("ignore", message="Found version mismatch between `dagster-shared`")

from dagster_celery import celery_executor  # noqa: E402

#: The Celery app module the workers load: dagster-celery's own, which reads the
#: ``dagster_celery_config`` module that ``pipelines.launch.apply`` writes.
CELERY_APP = "dagster_celery.app"


def executor_for(profile: Profile | None = None) -> dg.ExecutorDefinition:
    """``celery_executor`` preconfigured with the profile's broker, backend, queue and retries."""
    profile = profile or load_profile()
    config = celery_executor_config(profile)
    return celery_executor.configured(
        {**config, "retries": {"enabled": {}}}, name="regionlab_celery"
    )


def worker_env(
    dagster_home: Path, base: Mapping[str, str] | None = None, **extra: str
) -> dict[str, str]:
    """The environment of a worker: the caller's (profile variables included) plus the
    folder holding ``dagster_celery_config.py`` on ``PYTHONPATH``."""
    env = dict(os.environ if base is None else base)
    env.update(extra)
    config_dir = str(dagster_home / "celery")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (config_dir, env.get("PYTHONPATH")) if p)
    env["DAGSTER_HOME"] = str(dagster_home)
    env.setdefault("PYTHONWARNINGS", "ignore::UserWarning")
    return env


def worker_command(profile: Profile, name: str, concurrency: int = 1) -> list[str]:
    """``celery -A dagster_celery.app worker`` on the profile's queue.

    Equivalent to ``dagster-celery worker start -A dagster_celery.app -y
    $DAGSTER_HOME/celery.yaml -q <queue>``, minus the extra Dagster instance
    that command opens just to write the config module ``apply`` already wrote.
    ``concurrency`` steps run at once in one worker (one process each).
    """
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        CELERY_APP,
        "worker",
        "-Q",
        profile.celery_queue,
        "-n",
        f"{name}@%h",
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
