"""ODCS v3.1.0 data contracts, checked with tools the project did not write.

The JSON Schema is exactly the one of the version the contracts declare, as
datacontract-cli bundles it (a dev dependency, so nothing is downloaded); the
demo tests lint every exported contract and run it with datacontract-cli
against the demo lake's tables.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from catalog.facts import CatalogFacts
from catalog.odcs import API_VERSION, CONTRACT_DB, contract, export_odcs
from regionlab.lake.config import LakeConfig
from regionlab.spec import Registry, load_domains
from regionlab.spec.region import load_region

REPO = Path(__file__).resolve().parents[2]
#: The schema of exactly the declared version (``v3.1.0`` → ``odcs-3.1.0.schema.json``).
SCHEMA_FILE = resources.files("datacontract").joinpath(
    "schemas", f"odcs-{API_VERSION.removeprefix('v')}.schema.json"
)
SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_errors(data: dict) -> list[str]:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    return [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in validator.iter_errors(data)]


def _lake() -> LakeConfig:
    return LakeConfig(
        catalog_type="postgres",
        catalog="dbname=lake host=127.0.0.1 user=steward password=hemmeligt",
        data_path="/srv/lake/data",
    )


def _servers(data: dict) -> dict[str, dict]:
    return {s["server"]: s for s in data["servers"]}


def _absolute_paths(data: dict, *roots: str) -> list[str]:
    """Every string in the contract that names a path under one of ``roots``."""
    text = yaml.safe_dump(data, allow_unicode=True)
    return [root for root in roots if root in text]


def test_declared_version_is_the_schema_validated_against() -> None:
    assert API_VERSION == "v3.1.0"
    assert SCHEMA_FILE.name == "odcs-3.1.0.schema.json"
    assert "v3.1.0" in json.dumps(SCHEMA["properties"]["apiVersion"])


def test_contract_maps_the_spec(registry: Registry, facts: CatalogFacts) -> None:
    region = load_region(REPO / "domains" / "catalog.yaml")
    persons = registry.products["population/persons"]
    data = contract(persons, registry, facts, region, _lake())
    assert schema_errors(data) == []
    model = OpenDataContractStandard.model_validate(data)
    assert model.kind == "DataContract" and model.apiVersion == "v3.1.0"
    assert model.dataProduct == "population/persons" and model.domain == "population"
    (table,) = model.schema_
    # bare: the server's schema is the domain (a dotted name is looked up as one name)
    assert table.physicalName == "persons"
    columns = {p.name: p for p in table.properties or []}
    assert list(columns) == [c.name for c in persons.published_columns]
    assert "first_name" not in columns  # dropped columns are not part of the contract
    assert columns["person_key"].primaryKey is True
    for col in persons.published_columns:
        assert f"classification:{col.classification.value}" in (columns[col.name].tags or [])
    # Every spec rule is in the contract exactly once, as a check a consumer can run.
    rules = [q for p in columns.values() for q in p.quality or []] + list(table.quality or [])
    assert sorted(q.name for q in rules) == sorted(r.id for r in persons.quality)
    by_name = {q.name: q for q in rules}
    assert by_name["person_key_unique"].type == "library"
    assert by_name["person_key_unique"].metric == "duplicateValues"
    assert by_name["person_key_unique"].mustBe == 0
    assert by_name["has_rows"].metric == "rowCount"
    blocking = {r.id for r in persons.quality if r.severity.value == "blocking"}
    assert {q.name for q in rules if q.severity == "error"} == blocking
    # Team, SLA, server.
    assert {m.username for m in model.team.members} == {str(o.email) for o in persons.owners}
    sla = {s.property: s for s in model.slaProperties or []}
    assert sla["retention"].value == persons.retention.years and sla["retention"].unit == "y"
    assert sla["retention"].element == "persons.death_month"  # <schema object>.<property>
    duckdb_file, ducklake = model.servers
    assert duckdb_file.type == "duckdb" and duckdb_file.database == CONTRACT_DB
    assert duckdb_file.schema_ == "population"
    assert ducklake.type == "custom" and ducklake.schema_ == "population"
    props = {c.property: c.value for c in ducklake.customProperties or []}
    assert props["format"] == "ducklake" and props["catalogType"] == "postgres"
    assert props["catalog"] == "dbname=lake host=127.0.0.1 user=steward password=***"
    assert "dataPath" not in props  # a local disk of the platform is nobody else's path
    assert _absolute_paths(data, "/srv") == []
    assert "hemmeligt" not in yaml.safe_dump(data)  # the catalogue password never leaks


def test_embedded_lake_server_names_paths_relative_to_the_lake(
    registry: Registry, facts: CatalogFacts, tmp_path: Path
) -> None:
    region = load_region(REPO / "domains" / "catalog.yaml")
    lake = LakeConfig.embedded(tmp_path / "var" / "lake")
    data = contract(registry.products["population/persons"], registry, facts, region, lake)
    assert schema_errors(data) == []
    ducklake = _servers(data)[region.lake_server]
    props = {c["property"]: c["value"] for c in ducklake["customProperties"]}
    assert (props["catalogType"], props["catalog"], props["dataPath"]) == (
        "sqlite",
        "catalog.sqlite",
        "data/",
    )
    assert _absolute_paths(data, str(tmp_path)) == []


def test_every_rule_kind_but_freshness_is_exported_runnable(
    registry: Registry, facts: CatalogFacts
) -> None:
    """library or sql with a comparator; custom only where ODCS has no form (delivery gaps)."""
    region = load_region(REPO / "domains" / "catalog.yaml")
    kinds: dict[str, set[str]] = {}
    for product in [*registry.products.values(), *load_domains().products.values()]:
        data = contract(product, registry, facts, region, _lake())
        assert schema_errors(data) == [], product.ref
        (table,) = data["schema"]
        rules = [q for p in table["properties"] for q in p.get("quality", [])]
        rules += table.get("quality", [])
        spec_types = {r.id: r.type for r in product.quality}
        for q in rules:
            kinds.setdefault(spec_types[q["name"]], set()).add(q["type"])
            if q["type"] == "custom":
                assert q["engine"] == "regionlab"
            else:
                assert {"mustBe", "mustBeLessOrEqualTo", "mustBeBetween",
                        "mustBeGreaterOrEqualTo"} & set(q), q  # fmt: skip
    assert kinds.pop("freshness") == {"custom"}
    assert all(types <= {"library", "sql"} for types in kinds.values()), kinds
    assert {"not_null", "unique", "in_set", "in_code_list", "regex", "between",
            "row_count_between", "foreign_key", "not_in_future", "not_after_death",
            "completeness", "greater_or_equal"} <= set(kinds)  # fmt: skip


def test_schema_validation_catches_a_broken_contract(
    registry: Registry, facts: CatalogFacts
) -> None:
    """The validator used above is not vacuous: a wrong field and version are reported."""
    region = load_region(REPO / "domains" / "catalog.yaml")
    data = contract(registry.products["population/persons"], registry, facts, region, _lake())
    # The content is not v3.0.2, the version the export used to claim: that schema refuses it.
    old_schema = json.loads(
        SCHEMA_FILE.parent.joinpath("odcs-3.0.2.schema.json").read_text(encoding="utf-8")
    )
    old = jsonschema.validators.validator_for(old_schema)(old_schema)
    assert list(old.iter_errors({**data, "apiVersion": "v3.0.2"}))
    data["apiVersion"] = "v9.9.9"
    data["schema"][0]["properties"][0]["logicalType"] = "text"
    errors = schema_errors(data)
    assert any(e.startswith("apiVersion") for e in errors)
    assert any("logicalType" in e for e in errors)


@pytest.fixture(scope="module")
def exported(demo_var: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """The demo's contracts, exported by the CLI, and the DuckDB file their server names."""
    from typer.testing import CliRunner

    from catalog.contract_db import write_contract_db
    from cli.catalog_cmd import app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REGIONLAB_VAR", str(demo_var))
        mp.delenv("REGIONLAB_LAKE_CATALOG", raising=False)
        mp.delenv("REGIONLAB_LAKE_DATA", raising=False)
        result = CliRunner().invoke(app, ["export", "odcs"])
        assert result.exit_code == 0, result.output
        consumer = tmp_path_factory.mktemp("consumer")
        written = write_contract_db(consumer / CONTRACT_DB, load_domains())
    assert written and all(n > 0 for n in written.values()), written
    return sorted((demo_var / "catalog" / "odcs").rglob("*.odcs.yaml")), consumer


@pytest.mark.slow
def test_cli_writes_one_valid_contract_per_product(
    demo_env: Path, exported: tuple[list[Path], Path]
) -> None:
    files, _ = exported
    registry = load_domains()
    assert len(files) == len(registry.products)
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert schema_errors(data) == [], path
        model = OpenDataContractStandard.model_validate(data)
        product = registry.products[model.dataProduct]
        # Portable: nothing names the exporting machine's folders.
        assert _absolute_paths(data, str(demo_env), str(REPO)) == [], path
        assert model.servers[0].database == CONTRACT_DB
        rows = {c.property: c.value for c in model.customProperties or []}
        assert rows.get("rowCount", 0) > 0, path  # the lake's state, not just the spec
        assert path == demo_env / "catalog" / "odcs" / product.domain / f"{product.id}.odcs.yaml"
    assert export_odcs() == files


@pytest.mark.slow
def test_datacontract_cli_lints_and_tests_every_contract(
    exported: tuple[list[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`datacontract lint` and `datacontract test` pass, and every runnable rule ran and passed."""
    from datacontract.data_contract import DataContract

    files, consumer = exported
    monkeypatch.chdir(consumer)  # the contract names the file relative to where one runs
    monkeypatch.delenv("DATACONTRACT_DUCKDB_DATABASE", raising=False)
    registry = load_domains()
    for path in files:
        lint = DataContract(data_contract_file=str(path)).lint()
        assert lint.result == "passed", (path, [c.reason for c in lint.checks])
        run = DataContract(data_contract_file=str(path)).test()
        problems = [(c.name, c.result, c.reason) for c in run.checks if c.result != "passed"]
        assert run.result == "passed" and problems == [], (path, problems)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        product = registry.products[data["dataProduct"]]
        ran = {c.qualityId for c in run.checks if c.category == "quality"}
        runnable = {r.id for r in product.quality if r.odcs_check(product) is not None}
        assert runnable and runnable <= ran, (path, runnable - ran)
        assert any(c.category == "schema" for c in run.checks)


@pytest.mark.slow
def test_datacontract_test_fails_a_broken_table(
    exported: tuple[list[Path], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported rules are not vacuous: a duplicated person key fails the contract."""
    import shutil

    import duckdb
    from datacontract.data_contract import DataContract

    files, consumer = exported
    shutil.copy(consumer / CONTRACT_DB, tmp_path / CONTRACT_DB)
    con = duckdb.connect(str(tmp_path / CONTRACT_DB))
    con.execute("INSERT INTO population.persons SELECT * FROM population.persons LIMIT 1")
    con.close()
    monkeypatch.chdir(tmp_path)
    [persons] = [p for p in files if p.name == "persons.odcs.yaml"]
    run = DataContract(data_contract_file=str(persons)).test()
    failed = [c for c in run.checks if c.result == "failed"]
    assert run.result == "failed"
    assert "person_key_unique" in {c.qualityId for c in failed}  # the spec's rule
    assert {c.field for c in failed} == {"person_key"}  # and the primary key; nothing else


def test_apply_links_point_at_the_access_services_application_page(
    registry: Registry, facts: CatalogFacts
) -> None:
    """The contract and the site link the service's ``GET /permits/apply`` page (tested to
    exist in tests/service/test_apply_page.py), naming the product; the region's general
    page only when no access service is configured."""
    from catalog.site.build import _region_info

    region = load_region(REPO / "domains" / "catalog.yaml")
    assert region.access.service_url is not None
    persons = registry.products["population/persons"]
    access = next(
        c for c in contract(persons, registry, facts, region, _lake())["support"]
        if c["channel"] == "access"
    )  # fmt: skip
    page = f"{str(region.access.service_url).rstrip('/')}/permits/apply"
    assert access["url"] == f"{page}?product=population%2Fpersons"
    info = _region_info()
    assert info is not None
    assert info["application_url"] == page and info["application_names_product"] is True
    without = region.model_copy(
        update={"access": region.access.model_copy(update={"service_url": None})}
    )
    access = next(
        c for c in contract(persons, registry, facts, without, _lake())["support"]
        if c["channel"] == "access"
    )  # fmt: skip
    assert access["url"] == str(region.access.application_url)
