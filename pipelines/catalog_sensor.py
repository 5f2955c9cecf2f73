"""Keep the catalogue in step with the lake: after every successful run, emit it again."""

from __future__ import annotations

import dagster as dg


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="catalog_after_runs",
    description="Emits the DataHub metadata (JSON, DataHub Lite, REST if configured) "
    "and rebuilds the catalogue site and the DCAT/ODCS exports after a successful run.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def catalog_after_runs(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
    from catalog.projections import refresh_projections
    from catalog.publish import emit_catalog

    result = emit_catalog()
    context.log.info(f"catalogue emitted: {result.proposals} proposals")
    built = refresh_projections()
    for name, reason in built.skipped.items():
        context.log.warning(f"{name} not rebuilt: {reason}")
    return None
