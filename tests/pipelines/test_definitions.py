"""The Dagster code location built from the specs, executed in-process with dagster.materialize."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from pipelines.assets import asset_key
from pipelines.definitions import build_definitions
from pipelines.sensors import affected
from regionlab.privacy.identifiers import CPR_STRICT
from regionlab.settings import Settings
from regionlab.spec import load_domains

REGISTRY = load_domains()


def test_one_asset_per_product_grouped_by_domain_with_lineage() -> None:
    defs = build_definitions(REGISTRY)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == set(REGISTRY.products)
    for product in REGISTRY.products.values():
        node = graph.get(asset_key(product.ref))
        assert node.group_name == product.domain
        assert {k.to_user_string() for k in node.parent_keys} == set(product.upstream)
        assert set(node.owners) == {o.email for o in product.owners}
        schema = node.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [c.name for c in product.published_columns]
        assert "duckdb" in node.kinds


def test_adding_a_yaml_file_adds_an_asset(tmp_path: Path) -> None:
    import shutil

    domains = tmp_path / "domains"
    shutil.copytree(REGISTRY_ROOT, domains)
    text = (domains / "laboratory" / "lab_results.yaml").read_text(encoding="utf-8")
    (domains / "laboratory" / "lab_copy.yaml").write_text(
        re.sub(r"^id: lab_results$", "id: lab_copy", text, flags=re.M), encoding="utf-8"
    )
    defs = build_definitions(load_domains(domains))
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "laboratory/lab_copy" in keys


def test_sensor_selects_changed_products_and_their_downstream() -> None:
    refs = affected(REGISTRY, {"laboratory/lab_results"})
    assert refs[0] == "laboratory/lab_results"
    assert "research/t2d_cohort" in refs
    assert "patient_administration/contacts" not in refs


def test_products_run_after_the_products_their_rules_read() -> None:
    order = [p.ref for p in REGISTRY.topological()]
    reads = {p.ref: p.check_reads for p in REGISTRY.products.values()}
    assert "population/persons" in reads["clinical_notes/notes"]
    for ref, read in reads.items():
        for other in read:
            assert order.index(other) < order.index(ref), (other, ref)
    # Dagster starts them in that order: the in-process executor picks the highest priority
    # (streaming products are not in a job: their consumer reports them; the global job also
    # holds the streams' scheduled cross-product checks, which are no product).
    order = [p.ref for p in REGISTRY.batch_order()]
    defs = build_definitions(REGISTRY)
    job = defs.resolve_implicit_global_asset_job_def()
    priority = {
        node.name.replace("__", "/"): int(node.tags["dagster/priority"])
        for node in job.graph.node_defs
        if node.name != "stream_cross_checks"
    }
    assert sorted(priority, key=lambda ref: -priority[ref]) == order


@pytest.mark.slow
def test_materialize_publishes_everything_and_reports_checks(platform: Settings) -> None:
    defs = build_definitions(REGISTRY)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        list(defs.assets), instance=instance, resources=defs.resources, raise_on_error=False
    )
    assert result.success
    materialized = {
        m.asset_key.to_user_string()
        for m in result.get_asset_materialization_events()
        if hasattr(m, "asset_key")
    } or {e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization}
    assert materialized == {p.ref for p in REGISTRY.batch_order()}
    persons = result.asset_materializations_for_node("population__persons")[0].metadata
    assert persons["rows_published"].value > 0
    assert persons["snapshot_id"].value > 0
    checks = result.get_asset_check_evaluations()
    assert {c.check_name for c in checks} >= {"privacy_identifier_scan", "privacy_k_anonymity"}
    assert all(c.passed for c in checks if c.check_name.startswith("privacy"))
    # Products run after the products their rules read: on a first run every cross-product
    # rule (foreign keys, dates after death) is judged, none ends errored.
    errored = [
        f"{c.asset_key.to_user_string()}:{c.check_name}"
        for c in checks
        if c.metadata["status"].value == "errored"
    ]
    assert errored == []
    # The event log holds counts and names of checks, never identifiers.
    log_text = "\n".join(str(e) for e in instance.all_logs(result.run_id))
    assert not CPR_STRICT.contains(log_text)

    # Nothing new: the run succeeds, materializes nothing and reports no checks.
    again = dg.materialize(
        list(defs.assets), instance=instance, resources=defs.resources, raise_on_error=False
    )
    assert again.success
    assert again.get_asset_materialization_events() == []
    assert again.get_asset_check_evaluations() == []


REGISTRY_ROOT = Path(__file__).resolve().parents[2] / "domains"
