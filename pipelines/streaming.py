"""Dagster's view of the streaming products: an asset each, a materialisation per micro-batch.

The consumer runs outside Dagster (a long-lived process, not a run), so each
committed micro-batch is reported as a runless asset event: the asset's history
shows every micro-batch with its snapshot, counts and lag, and its freshness
policy (the spec's objective) marks it stale when no batch arrives in time.

The products' cross-product rules (person in the population, not after death) are
asset checks of the stream assets, run by the job ``stream_cross_checks`` on a
schedule (:mod:`quality.stream_checks`): a micro-batch judges single events only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg

from pipelines.assets import _check_result, asset_key, column_schema
from pipelines.schedules import TIMEZONE
from regionlab.spec import Product, Registry
from regionlab.streaming.microbatch import BatchResult


def _freshness(product: Product) -> Any:
    """The spec's objective as Dagster's time-window freshness policy (a minute at least)."""
    assert product.stream is not None
    seconds = max(60.0, product.stream.freshness.max_lag_seconds * 12)
    return dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(seconds=seconds))


def stream_asset_specs(registry: Registry) -> list[dg.AssetSpec]:
    """External assets: Dagster does not materialise them, the consumer reports to them."""
    return [
        dg.AssetSpec(
            key=asset_key(p.ref),
            group_name=p.domain,
            description=f"{p.title}\n\n{p.description}",
            owners=[o.email for o in p.owners],
            kinds={"duckdb", "ducklake", "fhir", "rabbitmq"},
            tags={"domain": p.domain, "access_level": p.access_level.value, "kind": "stream"},
            metadata={
                "dagster/column_schema": column_schema(p),
                "topic": p.stream.topic if p.stream else "",
                "freshness_objective": (
                    f"p{p.stream.freshness.percentile} ≤ {p.stream.freshness.max_lag_seconds:g} s"
                    if p.stream
                    else ""
                ),
            },
            freshness_policy=_freshness(p),
        )
        for p in registry.streams()
    ]


def batch_metadata(result: BatchResult) -> dict[str, Any]:
    """Counts, ids and lag of a micro-batch: never a value from an event."""
    return {
        "batch_id": result.batch_id,
        "snapshot_id": result.snapshot_id,
        "events_received": result.received,
        "events_published": result.published,
        "events_quarantined": result.quarantined.total(),
        "quarantined_by_reason": dg.MetadataValue.json(dict(result.quarantined)),
        "redelivered_skipped": result.skipped,
        "lag_p50_s": result.lag(50),
        "lag_p95_s": result.lag(95),
    }


def report_batch(
    product: Product, result: BatchResult, instance: dg.DagsterInstance | None = None
) -> None:
    """Record the micro-batch as a materialisation of the product's asset (runless)."""
    if result.snapshot_id is None:  # only redeliveries: nothing new in the lake
        return
    if instance is None:
        from pipelines.launch import dagster_home

        dagster_home()
        instance = dg.DagsterInstance.get()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=asset_key(product.ref),
            description=f"micro-batch {result.batch_id}",
            metadata=batch_metadata(result),
        )
    )


#: How often the streams' cross-product checks run (every 15 minutes).
STREAM_CHECKS_CRON = "*/15 * * * *"


def build_stream_checks(
    registry: Registry,
) -> tuple[list[dg.AssetChecksDefinition], list[Any], list[dg.ScheduleDefinition]]:
    """The asset checks, job and schedule of the streams' scheduled (cross-product) rules."""
    from quality.stream_checks import scheduled_rules

    products = [p for p in registry.streams() if scheduled_rules(p)]
    if not products:
        return [], [], []
    specs = [
        dg.AssetCheckSpec(
            name=rule.id,
            asset=asset_key(p.ref),
            description=rule.description or rule.default_description(),
            additional_deps=[asset_key(ref)] if (ref := rule.reference()[0]) != p.ref else None,
        )
        for p in products
        for rule in scheduled_rules(p)
    ]

    @dg.multi_asset_check(specs=specs, name="stream_cross_checks")
    def stream_cross_checks() -> Iterator[dg.AssetCheckResult]:
        from quality.stream_checks import check_stream

        for product in products:
            for result in check_stream(product):
                yield _check_result(product, result)

    job = dg.define_asset_job(
        "stream_cross_checks", selection=dg.AssetSelection.checks(stream_cross_checks)
    )
    schedule = dg.ScheduleDefinition(
        name="stream_cross_checks_schedule",
        job=job,
        cron_schedule=STREAM_CHECKS_CRON,
        execution_timezone=TIMEZONE,
    )
    return [stream_cross_checks], [job], [schedule]
