"""Dagster definitions for a registry: every product in ``domains/`` becomes assets.

Kept apart from :mod:`pipelines.definitions` (the code location, which builds its
``defs`` from ``domains/`` when imported) so that a caller that already holds the
registry — ``regionlab run``, the multi-user location, tests — builds the
definitions once, without the code location loading and building them again.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import build_assets
from pipelines.catalog_sensor import catalog_after_runs
from pipelines.model_monitoring import build_model_monitoring
from pipelines.resources import RegionlabResource
from pipelines.schedules import (
    erasure_audit_job,
    erasure_audit_schedule,
    retention_job,
    retention_schedule,
    workspace_sweep_job,
    workspace_sweep_schedule,
)
from pipelines.sensors import build_extract_sensor
from pipelines.streaming import build_stream_checks, stream_asset_specs
from regionlab.spec import Registry


def build_definitions(registry: Registry, cards: dict | None = None) -> dg.Definitions:
    assets = build_assets(registry)
    streams = stream_asset_specs(registry)  # reported by their consumer, never run by a job
    fed = dg.AssetSelection.assets(*(s.key for s in streams))
    stream_checks, stream_jobs, stream_schedules = build_stream_checks(registry)
    model_jobs, model_schedules, model_sensors = build_model_monitoring(
        cards if cards is not None else _cards(registry)
    )
    jobs = [dg.define_asset_job("all_products", selection=dg.AssetSelection.all() - fed)] + [
        dg.define_asset_job(f"domain_{domain}", selection=dg.AssetSelection.groups(domain) - fed)
        for domain in sorted(registry.domains)
    ]
    return dg.Definitions(
        assets=[*assets, *streams],
        asset_checks=stream_checks,
        jobs=[
            *jobs,
            retention_job,
            workspace_sweep_job,
            erasure_audit_job,
            *model_jobs,
            *stream_jobs,
        ],
        schedules=[
            retention_schedule,
            workspace_sweep_schedule,
            erasure_audit_schedule,
            *model_schedules,
            *stream_schedules,
        ],  # fmt: skip
        sensors=[build_extract_sensor(registry), catalog_after_runs, *model_sensors],
        resources={"regionlab": RegionlabResource()},
    )


def _cards(registry: Registry) -> dict:
    """The valid model cards beside domains/ (invalid ones are `regionlab check`'s to report)."""
    from regionlab.aimodels.card import collect_cards
    from regionlab.settings import get_settings

    return collect_cards(get_settings().model_cards_dir, registry)[0]
