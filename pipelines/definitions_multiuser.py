"""The multi-user code location: the same assets, run on Celery workers and queued per domain.

`dagster dev -m pipelines.definitions_multiuser` (or the Helm chart's user code
deployment) loads it with ``REGIONLAB_PROFILE=multiuser`` applied. Every step
(one product) goes to the profile's Celery queue; every domain job carries the
``regionlab/domain`` tag the queued run coordinator limits; a step that raises
is retried by Dagster, a step whose worker died is redelivered by the broker.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from pipelines.assets import asset_key, op_config
from pipelines.build import build_definitions
from pipelines.celery_executor import executor_for
from pipelines.launch import DOMAIN_TAG
from regionlab.profiles import PROFILE_ENV, Profile, load_profile
from regionlab.spec import Registry, load_domains

REPO_ROOT = Path(__file__).resolve().parent.parent
#: A transient failure (a dropped PostgreSQL connection, a commit conflict that outlived
#: the lake's own retries) gets two more tries; publishing is idempotent per run.
RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


def active_profile() -> Profile:
    """The active profile if it uses Celery, else the ``multiuser`` profile of regionlab.toml."""
    profile = load_profile()
    return profile if profile.executor == "celery" else load_profile("multiuser")


def build_multiuser_definitions(
    registry: Registry, profile: Profile, cards: dict | None = None
) -> dg.Definitions:
    base = build_definitions(registry, cards)
    # Streaming products are published by their consumer, never by a job.
    fed = dg.AssetSelection.assets(*(asset_key(p.ref) for p in registry.streams()))
    jobs = [
        dg.define_asset_job(
            "all_products",
            selection=dg.AssetSelection.all() - fed,
            tags={DOMAIN_TAG: "all"},
            op_retry_policy=RETRY,
        )
    ] + [
        dg.define_asset_job(
            f"domain_{domain}",
            selection=dg.AssetSelection.groups(domain) - fed,
            tags={DOMAIN_TAG: domain},
            op_retry_policy=RETRY,
        )
        for domain in sorted(registry.domains)
    ]
    # Retention, the workspace sweep and the model monitoring (a validate job per card)
    # run here as in the embedded location, with their schedules and sensors.
    products = {j.name for j in jobs}
    others = [j for j in base.jobs or [] if j.name not in products]
    return dg.Definitions(
        assets=base.assets,
        jobs=[*jobs, *others],
        schedules=base.schedules,
        sensors=base.sensors,
        resources=base.resources,
        executor=executor_for(profile),
    )


defs = build_multiuser_definitions(load_domains(), active_profile())


def reconstructable_job(name: str) -> dg._core.definitions.reconstruct.ReconstructableJob:
    """A pointer to ``name`` that Celery workers can rebuild by importing this module."""
    repo = ReconstructableRepository.for_module(__name__, "defs", working_directory=str(REPO_ROOT))
    return repo.get_reconstructable_job(name)


def run_products(
    refs: list[str] | None = None,
    *,
    job: str = "all_products",
    full_refresh: bool = False,
    reload: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecutionResult:
    """Run ``refs`` (default: the whole job) with their steps spread over the Celery workers.

    Blocks until the run ends; the workers must be running (see
    ``pipelines.celery_executor.worker_command``) with the same profile variables.
    ``reload`` maps a product to the delivery whose rows it replaces.
    """
    registry = load_domains()
    refs = refs or [p.ref for p in registry.batch_order()]
    run_config: dict = {"ops": op_config(refs, full_refresh, reload)}
    return dg.execute_job(
        reconstructable_job(job),
        instance=instance or dg.DagsterInstance.get(),
        run_config=run_config,
        tags={"regionlab/trigger": "api", "regionlab/profile": os.environ.get(PROFILE_ENV, "")}
        | (tags or {}),
        asset_selection=[asset_key(r) for r in refs],
    )
