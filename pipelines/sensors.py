"""A sensor that notices new extract files and asks for runs of the affected products."""

from __future__ import annotations

import json

import dagster as dg

from pipelines.assets import asset_key
from regionlab.settings import get_settings
from regionlab.spec import Registry
from regionlab.wap.sources import find_extracts


def affected(registry: Registry, refs: set[str]) -> list[str]:
    """The given products and everything derived from them, upstream first."""
    out: set[str] = set(refs)
    changed = True
    while changed:
        changed = False
        for product in registry.products.values():
            if product.ref not in out and out & set(product.upstream):
                out.add(product.ref)
                changed = True
    return [p.ref for p in registry.batch_order() if p.ref in out]


def build_extract_sensor(registry: Registry) -> dg.SensorDefinition:
    sources = [p for p in registry.products.values() if p.source is not None]

    @dg.sensor(
        name="new_extracts",
        minimum_interval_seconds=60,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Requests a run of the products whose source folders received new extracts.",
    )
    def new_extracts(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        root = get_settings().sources_dir
        seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
        now = {p.ref: [e.name for e in find_extracts(root, p)] for p in sources}
        new = {ref for ref, names in now.items() if set(names) - set(seen.get(ref, []))}
        requests = []
        if new:
            refs = affected(registry, new)
            requests.append(
                dg.RunRequest(
                    run_key=json.dumps(sorted(now.items())),
                    asset_selection=[asset_key(r) for r in refs],
                    tags={"regionlab/trigger": "new_extracts"},
                )
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(now, sort_keys=True))

    return new_extracts
