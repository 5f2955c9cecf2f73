"""The regionlab code location: every product in ``domains/`` becomes Dagster definitions.

`dagster dev -m pipelines.definitions` (or `make ui`) loads this module.
"""

from __future__ import annotations

import dagster as dg

from pipelines.assets import build_assets
from pipelines.catalog_sensor import catalog_after_runs
from pipelines.resources import RegionlabResource
from pipelines.schedules import (
    retention_job,
    retention_schedule,
    workspace_sweep_job,
    workspace_sweep_schedule,
)
from pipelines.sensors import build_extract_sensor
from pipelines.streaming import stream_asset_specs
from regionlab.spec import Registry, load_domains


def build_definitions(registry: Registry) -> dg.Definitions:
    assets = build_assets(registry)
    streams = stream_asset_specs(registry)  # reported by their consumer, never run by a job
    fed = dg.AssetSelection.assets(*(s.key for s in streams))
    jobs = [dg.define_asset_job("all_products", selection=dg.AssetSelection.all() - fed)] + [
        dg.define_asset_job(f"domain_{domain}", selection=dg.AssetSelection.groups(domain) - fed)
        for domain in sorted(registry.domains)
    ]
    return dg.Definitions(
        assets=[*assets, *streams],
        jobs=[*jobs, retention_job, workspace_sweep_job],
        schedules=[retention_schedule, workspace_sweep_schedule],
        sensors=[build_extract_sensor(registry), catalog_after_runs],
        resources={"regionlab": RegionlabResource()},
    )


defs = build_definitions(load_domains())
