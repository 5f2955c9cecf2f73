"""The emitted proposals are pinned by a golden file, compared with DataHub's own differ.

Update the golden file after an intended change with
``REGIONLAB_UPDATE_GOLDEN=1 uv run pytest tests/catalog/test_catalog_golden.py`` and
review the diff in git.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from catalog_testdata import GOLDEN, LINKS, UPDATE_GOLDEN_ENV
from datahub.testing.compare_metadata_json import diff_metadata_json, load_json_file
from datahub.testing.mcp_diff import MCPDiff

from catalog import urns
from catalog.emit import build_mcps, entity_counts
from catalog.sinks import write_json
from regionlab.spec import Registry
from regionlab.spec.models import Owner
from regionlab.spec.vocab import OwnerRole


def _emit(registry: Registry, facts, path: Path) -> list[dict]:
    write_json(build_mcps(registry, facts, LINKS), path)
    return load_json_file(path)


def _diff(output: list[dict], golden: list[dict]) -> MCPDiff:
    diff = diff_metadata_json(output, golden)
    assert isinstance(diff, MCPDiff), (
        "the file must hold MCPs only, so DataHub's MCP differ applies"
    )
    return diff


def test_emission_matches_golden_file(registry, facts, tmp_path):
    output = tmp_path / "metadata.json"
    _emit(registry, facts, output)
    if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(output, GOLDEN)
    diff = _diff(load_json_file(output), load_json_file(GOLDEN))
    assert not diff, "metadata differs from the golden file:\n" + diff.pretty()


def test_emission_is_deterministic_and_all_upserts(registry, facts, tmp_path):
    first = _emit(registry, facts, tmp_path / "a.json")
    second = _emit(registry, facts, tmp_path / "b.json")
    assert first == second
    assert {m["changeType"] for m in first} == {"UPSERT"}


def test_entity_counts_cover_every_kind(registry, facts):
    counts = entity_counts(build_mcps(registry, facts, LINKS))
    assert counts["dataset"] == 3 + 2  # three product tables, two source extracts
    assert counts["dataProduct"] == 3
    assert counts["domain"] == 3
    assert counts["dataJob"] == 3 and counts["dataFlow"] == 1
    assert counts["dataProcessInstance"] == 1 + 3  # failed run of persons, then all three
    assert counts["application"] == 2
    rules = sum(len(p.quality) for p in registry.products.values())
    assert counts["assertion"] == rules + 1  # plus the privacy gate no spec declares
    assert counts["glossaryTerm"] == len(registry.glossary.term_ids())
    # direct identifier, pseudonym, quasi-identifier, sensitive; one per code system
    assert counts["tag"] == 4 + 5
    assert counts["corpuser"] == len(
        {o.email for d in registry.domains.values() for o in d.owners}
        | {o.email for p in registry.products.values() for o in p.owners}
    )


def _owner_changed(registry: Registry) -> Registry:
    persons = registry.products["population/persons"]
    owners = [
        Owner(name="Ny Steward", email="ny.steward@rsyd.dk", role=OwnerRole.data_steward)
        if o.role is OwnerRole.data_steward
        else o
        for o in persons.owners
    ]
    changed = persons.model_copy(update={"owners": owners})
    return registry.model_copy(update={"products": {**registry.products, persons.ref: changed}})


def test_changed_owner_shows_up_as_an_ownership_diff(registry, facts, tmp_path):
    golden = _emit(registry, facts, tmp_path / "before.json")
    output = _emit(_owner_changed(registry), facts, tmp_path / "after.json")
    diff = _diff(output, golden)
    changed = {(urn, aspect) for urn, aspects in diff.aspect_changes.items() for aspect in aspects}
    persons = registry.products["population/persons"]
    assert changed == {
        (urns.product_dataset(persons), "ownership"),
        (urns.source_dataset(persons), "ownership"),
        (urns.data_product(persons), "ownership"),
        (urns.job(persons), "ownership"),
        ("urn:li:corpuser:ny.steward", "corpUserInfo"),
    }
    # the new steward is a new corpuser; the old one still owns the domain, so stays
    assert diff.urns_added == {"urn:li:corpuser:ny.steward"} and not diff.urns_removed
    assert "urn:li:corpuser:ny.steward" in diff.pretty(verbose=True)


def test_changed_lineage_edge_shows_up_as_an_upstream_lineage_diff(registry, facts, tmp_path):
    golden = _emit(registry, facts, tmp_path / "before.json")
    derived = registry.products["research/readmissions_30d"]
    assert derived.derived is not None
    rewired = derived.model_copy(
        update={
            "derived": derived.derived.model_copy(
                update={"upstream": [*derived.derived.upstream, "population/persons"]}
            )
        }
    )
    mutated = registry.model_copy(update={"products": {**registry.products, derived.ref: rewired}})
    diff = _diff(_emit(mutated, facts, tmp_path / "after.json"), golden)
    dataset = urns.product_dataset(derived)
    assert "upstreamLineage" in diff.aspect_changes[dataset]
    # the only other effects: the job's and its run's inputs, the `derived_from` property, and
    # the quality label of persons (now used by a derived product: an enrichment)
    changed = {(urn, aspect) for urn, aspects in diff.aspect_changes.items() for aspect in aspects}
    persons = urns.product_dataset("population/persons")
    assert changed == {
        (dataset, "upstreamLineage"),
        (dataset, "datasetProperties"),
        (persons, "datasetProperties"),
        (persons, "structuredProperties"),
        (urns.job(derived), "dataJobInputOutput"),
        (urns.run_instance("run-0002", derived), "dataProcessInstanceInput"),
    }
    lineage_diff = diff.aspect_changes[dataset]["upstreamLineage"]
    text = json.dumps([new.aspect for _, _, new in lineage_diff.aspects_changed])
    assert urns.product_dataset("population/persons") in text
