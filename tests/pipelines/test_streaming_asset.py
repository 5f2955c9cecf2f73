"""Dagster sees a streaming product as an asset the consumer reports micro-batches to."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from pipelines.assets import asset_key
from pipelines.definitions import build_definitions
from pipelines.streaming import report_batch
from regionlab.spec import load_domains
from regionlab.streaming.microbatch import BatchResult

REF = "laboratory/epj_observations"


def test_the_stream_is_an_asset_outside_the_batch_jobs() -> None:
    registry = load_domains()
    defs = build_definitions(registry)
    key = asset_key(REF)
    assert key in {s.key for s in defs.resolve_all_asset_specs()}
    job = defs.resolve_job_def("all_products")
    assert key not in job.asset_layer.executable_asset_keys
    assert asset_key("laboratory/lab_results") in job.asset_layer.executable_asset_keys


def test_a_micro_batch_is_a_runless_materialisation() -> None:
    product = load_domains().product(REF)
    instance = dg.DagsterInstance.ephemeral()
    result = BatchResult(REF, "b1", received=10, published=8, snapshot_id=42,
                         quarantined=Counter(invalid_cpr=2), lags=[0.4, 0.9])  # fmt: skip
    report_batch(product, result, instance)
    report_batch(product, BatchResult(REF, "b2", skipped=3), instance)  # nothing new: no event
    event = instance.get_latest_materialization_event(asset_key(REF))
    assert event is not None and event.asset_materialization is not None
    meta = event.asset_materialization.metadata
    assert meta["batch_id"].value == "b1" and meta["events_quarantined"].value == 2
    assert meta["snapshot_id"].value == 42
