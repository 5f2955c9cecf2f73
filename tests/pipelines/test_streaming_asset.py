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


def test_the_streams_cross_product_checks_run_on_a_schedule(keyed_var: object) -> None:
    """The job judges the stream's published events against the population, at one snapshot,
    reports the checks on the stream asset and keeps them in the quality history."""
    from regionlab import lake
    from regionlab.platform.tables import QUALITY_HISTORY

    defs = build_definitions(load_domains())
    schedule = defs.resolve_schedule_def("stream_cross_checks_schedule")
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.job_name == "stream_cross_checks"
    con = lake.connect()
    try:
        persons = "VALUES ('pa', DATE '2026-01-01'), ('pb', NULL::DATE)"
        lake.publish(con, "population", "persons",
                     f"SELECT * FROM ({persons}) t(person_key, death_month)")  # fmt: skip
        lake.publish(con, "laboratory", "epj_observations", "SELECT * FROM (VALUES "
                     "('o1', 'pa', TIMESTAMP '2026-03-05 10:00'),"  # after the death month
                     "('o2', 'pb', TIMESTAMP '2026-03-05 10:00'),"
                     "('o3', 'px', TIMESTAMP '2026-03-05 10:00')"  # not in the population
                     ") t(observation_id, person_key, observed_at)")  # fmt: skip
    finally:
        con.close()

    job = defs.resolve_job_def("stream_cross_checks")
    run = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())

    assert run.success
    evaluations = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in run.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert set(evaluations) == {"person_in_population", "observed_not_after_death"}
    assert all(e.asset_key == asset_key(REF) for e in evaluations.values())
    assert not evaluations["person_in_population"].passed  # 1 of 3 over the 2 % allowed
    assert evaluations["person_in_population"].metadata["unexpected_count"].value == 1
    assert not evaluations["observed_not_after_death"].passed
    con = lake.connect(read_only=True)
    try:
        kept = con.execute(
            f'SELECT "check", status, unexpected_count FROM {QUALITY_HISTORY.qualified} '
            "WHERE product = ? ORDER BY 1",
            [REF],
        ).fetchall()
    finally:
        con.close()
    assert kept == [
        ("observed_not_after_death", "failed", 1),
        ("person_in_population", "failed", 1),
    ]
