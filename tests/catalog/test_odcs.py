"""ODCS v3 data contracts: validated with the package's JSON Schema and its pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import open_data_contract_standard
import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from catalog.facts import CatalogFacts
from catalog.odcs import contract, export_odcs
from regionlab.lake.config import LakeConfig
from regionlab.spec import Registry, load_domains
from regionlab.spec.region import load_region

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(
    (Path(open_data_contract_standard.__file__).parent / "schema.json").read_text(encoding="utf-8")
)


def schema_errors(data: dict) -> list[str]:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    return [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in validator.iter_errors(data)]


def _lake() -> LakeConfig:
    return LakeConfig(
        catalog_type="postgres",
        catalog="dbname=lake host=127.0.0.1 user=steward password=hemmeligt",
        data_path="/srv/lake/data",
    )


def test_contract_maps_the_spec(registry: Registry, facts: CatalogFacts) -> None:
    region = load_region(REPO / "domains" / "catalog.yaml")
    persons = registry.products["population/persons"]
    data = contract(persons, registry, facts, region, _lake())
    assert schema_errors(data) == []
    model = OpenDataContractStandard.model_validate(data)
    assert model.kind == "DataContract" and model.apiVersion == "v3.0.2"
    assert model.dataProduct == "population/persons" and model.domain == "population"
    (table,) = model.schema_
    assert table.physicalName == "population.persons"
    columns = {p.name: p for p in table.properties or []}
    assert list(columns) == [c.name for c in persons.published_columns]
    assert "first_name" not in columns  # dropped columns are not part of the contract
    assert columns["person_key"].primaryKey is True
    for col in persons.published_columns:
        assert f"classification:{col.classification.value}" in (columns[col.name].tags or [])
    # Every spec rule is in the contract exactly once, as the GX check the platform runs.
    rules = [q for p in columns.values() for q in p.quality or []] + list(table.quality or [])
    assert sorted(q.name for q in rules) == sorted(r.id for r in persons.quality)
    assert {q.engine for q in rules} == {"great-expectations"}
    blocking = {r.id for r in persons.quality if r.severity.value == "blocking"}
    assert {q.name for q in rules if q.severity == "error"} == blocking
    # Team, SLA, server.
    assert {m.username for m in model.team.members} == {str(o.email) for o in persons.owners}
    sla = {s.property: s for s in model.slaProperties or []}
    assert sla["retention"].value == persons.retention.years and sla["retention"].unit == "y"
    (server,) = model.servers
    assert server.type == "duckdb" and server.database.startswith("ducklake:postgres:")
    assert server.schema_ == "population"
    assert "hemmeligt" not in yaml.safe_dump(data)  # the catalogue password never leaks


def test_schema_validation_catches_a_broken_contract(
    registry: Registry, facts: CatalogFacts
) -> None:
    """The validator used above is not vacuous: a wrong field and version are reported."""
    region = load_region(REPO / "domains" / "catalog.yaml")
    data = contract(registry.products["population/persons"], registry, facts, region, _lake())
    data["apiVersion"] = "v9.9.9"
    data["schema"][0]["properties"][0]["logicalType"] = "text"
    errors = schema_errors(data)
    assert any(e.startswith("apiVersion") for e in errors)
    assert any("logicalType" in e for e in errors)


@pytest.mark.slow
def test_cli_writes_one_valid_contract_per_product(demo_env: Path) -> None:
    from typer.testing import CliRunner

    from cli.catalog_cmd import app

    result = CliRunner().invoke(app, ["export", "odcs"])
    assert result.exit_code == 0, result.output
    registry = load_domains()
    files = sorted((demo_env / "catalog" / "odcs").rglob("*.odcs.yaml"))
    assert len(files) == len(registry.products)
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert schema_errors(data) == [], path
        model = OpenDataContractStandard.model_validate(data)
        product = registry.products[model.dataProduct]
        assert (
            model.servers[0].database == f"ducklake:sqlite:{demo_env / 'lake' / 'catalog.sqlite'}"
        )
        rows = {c.property: c.value for c in model.customProperties or []}
        assert rows.get("rowCount", 0) > 0, path  # the lake's state, not just the spec
        assert path == demo_env / "catalog" / "odcs" / product.domain / f"{product.id}.odcs.yaml"
    assert export_odcs() == files
