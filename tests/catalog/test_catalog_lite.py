"""Round trip through a real DataHub Lite (DuckDB) database, read back the way `show` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import urns
from catalog.emit import build_mcps
from catalog.lite import cli_env, open_lite, write_cli_config
from catalog.show import ProductCard, product_card, render
from catalog.sinks import write_json, write_lite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLASS_TAGS = {
    "direct_identifier": urns.classification_tag("direct_identifier"),
    "pseudonym": urns.classification_tag("pseudonym"),
    "quasi_identifier": urns.classification_tag("quasi_identifier"),
    "sensitive": urns.classification_tag("sensitive"),
}


@pytest.fixture(scope="module")
def lite_path(registry, facts, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lite") / "lite.duckdb"
    written = write_lite(build_mcps(registry, facts), path)
    assert written > 0
    return path


@pytest.fixture(scope="module")
def cards(registry, lite_path) -> dict[str, ProductCard]:
    lite = open_lite(lite_path, read_only=True)
    try:
        return {ref: product_card(lite, ref) for ref in registry.products}
    finally:
        lite.close()


def test_every_product_has_owners_domain_and_data_product(registry, cards):
    for ref, product in registry.products.items():
        card = cards[ref]
        assert card.domains == [urns.domain(product.domain)], ref
        assert card.domain_names == [registry.domains[product.domain].title]
        assert card.data_products == [urns.data_product(product)]
        types = {t for _, t in card.owners}
        assert "DATA_STEWARD" in types and "TECHNICAL_OWNER" in types, ref
        assert {o for o, _ in card.owners} == {urns.user(o.email) for o in product.owners}


def test_schema_carries_classification_tags(registry, cards):
    for ref, product in registry.products.items():
        fields = {f.name: f for f in cards[ref].fields}
        assert list(fields) == [c.name for c in product.published_columns]
        for col in product.published_columns:
            expected = [CLASS_TAGS[col.classification]] if col.classification in CLASS_TAGS else []
            if col.code_system is not None:
                expected.append(urns.code_system_tag(col.code_system))
            assert sorted(fields[col.name].tags) == sorted(expected), (ref, col.name)
    persons = {f.name: f for f in cards["population/persons"].fields}
    # the person key replaces the CPR number: published as a pseudonym, not an identifier
    assert persons["person_key"].tags == [CLASS_TAGS["pseudonym"]]
    assert persons["death_month"].tags == [CLASS_TAGS["sensitive"]]
    assert urns.glossary_term("pseudonym") in persons["person_key"].terms
    assert persons["municipality_code"].tags == [
        CLASS_TAGS["quasi_identifier"],
        urns.code_system_tag("municipalities"),
    ]


def test_code_system_tags_are_described_entities(registry, lite_path):
    lite = open_lite(lite_path, read_only=True)
    try:
        tag = lite.get(urns.code_system_tag("municipalities"), ["tagProperties"])
        assert tag["tagProperties"]["name"] == "code_system:municipalities"
        assert tag["tagProperties"]["description"].startswith("Kommunekoder.")
        # the source extract's field carries the code system too
        source = lite.get(urns.source_dataset(registry.products["population/persons"]), None)
        fields = {f["fieldPath"]: f for f in source["schemaMetadata"]["fields"]}
        tags = [t["tag"] for t in fields["municipality_code"]["globalTags"]["tags"]]
        assert urns.code_system_tag("municipalities") in tags
    finally:
        lite.close()


def test_every_owner_is_a_corpuser_with_name_and_email(registry, lite_path):
    owners = [o for d in registry.domains.values() for o in d.owners] + [
        o for p in registry.products.values() for o in p.owners
    ]
    lite = open_lite(lite_path, read_only=True)
    try:
        users = sorted(u for u in lite.list_ids() if u.startswith("urn:li:corpuser:"))
        assert users == sorted({urns.user(o.email) for o in owners})
        for owner in owners:
            info = lite.get(urns.user(owner.email), ["corpUserInfo"])["corpUserInfo"]
            assert info["displayName"] == owner.name
            assert info["email"] == owner.email and info["active"] is True
        soren = lite.get("urn:li:corpuser:soren.dahl", ["corpUserInfo"])["corpUserInfo"]
        assert soren["displayName"] == "Søren Dahl"  # Danish letters intact
    finally:
        lite.close()


def test_upstream_lineage_with_columns(registry, cards):
    persons = registry.products["population/persons"]
    card = cards[persons.ref]
    assert card.upstreams == [urns.source_dataset(persons)]
    assert card.column_lineage["residence_municipality"] == [
        urns.schema_field(urns.source_dataset(persons), "postcode")
    ]
    derived = cards["research/readmissions_30d"]
    contacts = urns.product_dataset("patient_administration/contacts")
    assert derived.upstreams == [contacts]
    # column-level lineage computed from the SQL by DataHub's parser
    assert derived.column_lineage["readmission_contact_id"] == [
        urns.schema_field(contacts, "contact_id")
    ]
    assert sorted(derived.column_lineage["days_between"]) == [
        urns.schema_field(contacts, "end_time"),
        urns.schema_field(contacts, "start_time"),
    ]
    published = {c.name for c in registry.products["research/readmissions_30d"].published_columns}
    assert set(derived.column_lineage) == published


def test_assertions_with_latest_run_results(registry, cards):
    for ref, product in registry.products.items():
        checks = {c.check: c for c in cards[ref].checks}
        assert {r.id for r in product.quality} <= set(checks)
        for rule in product.quality:
            assert checks[rule.id].category == rule.kahn.value
            assert checks[rule.id].severity == rule.severity.value
    persons = {c.check: c for c in cards["population/persons"].checks}
    # the newest run wins: person_key_unique failed in run-0001, passed in run-0002
    assert persons["person_key_unique"].result == "SUCCESS"
    assert persons["person_key_unique"].run_id == "run-0002"
    assert persons["municipality_in_region"].result == "FAILURE"
    assert persons["municipality_in_region"].unexpected == 12
    assert persons["municipality_in_region"].rows == 1200
    assert persons["privacy_identifier_scan"].category == "privacy"
    assert persons["has_rows"].result is None  # declared, never run


def test_initiatives_link_only_to_existing_products(registry, lite_path, cards):
    lite = open_lite(lite_path, read_only=True)
    try:
        apps = sorted(u for u in lite.list_ids() if u.startswith("urn:li:application:"))
        assert apps == [urns.application("INI-001"), urns.application("INI-002")]
        datasets = {urns.product_dataset(ref) for ref in registry.products}
        for app in apps:
            aspects = lite.get(app, None)
            edges = [e["destinationUrn"] for e in aspects["applicationLineage"]["inputEdges"]]
            assert edges and set(edges) <= datasets, app
            props = aspects["applicationProperties"]["customProperties"]
            assert props["phase"] and props["ai_act_risk"]
        ini2 = lite.get(urns.application("INI-002"), ["applicationProperties"])
        assert ini2["applicationProperties"]["customProperties"]["unresolved_products"] == (
            "medication/prescriptions"
        )
    finally:
        lite.close()
    assert [n for _, n in cards["research/readmissions_30d"].initiatives] == [
        "Prædiktion af genindlæggelser"
    ]
    assert cards["population/persons"].initiatives == [
        (urns.application("INI-002"), "Robot til henvisningsvisitation")
    ]


def test_pipeline_runs_are_instances_of_the_product_jobs(registry, lite_path):
    lite = open_lite(lite_path, read_only=True)
    try:
        instance = urns.run_instance("run-0002", "research/readmissions_30d")
        aspects = lite.get(instance, None)
        assert aspects["dataProcessInstanceRelationships"]["parentTemplate"] == urns.job(
            "research/readmissions_30d"
        )
        event = aspects["dataProcessInstanceRunEvent"]
        assert event["status"] == "COMPLETE" and event["result"]["type"] == "SUCCESS"
        failed = lite.get(urns.run_instance("run-0001", "population/persons"), None)
        assert failed["dataProcessInstanceRunEvent"]["result"]["type"] == "FAILURE"
        job = lite.get(urns.job("research/readmissions_30d"), None)
        assert job["dataJobInfo"]["flowUrn"] == urns.flow()
    finally:
        lite.close()


def test_re_emitting_adds_no_versions(registry, facts, tmp_path):
    path = tmp_path / "lite.duckdb"
    mcps = build_mcps(registry, facts)
    write_lite(mcps, path)
    assert write_lite(build_mcps(registry, facts), path) < len(mcps)
    lite = open_lite(path, read_only=True)
    try:
        card = product_card(lite, "population/persons")
        assert {c.check: c.result for c in card.checks}["person_key_unique"] == "SUCCESS"
    finally:
        lite.close()


def test_render_names_product_and_checks(cards):
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(render(cards["population/persons"]))
    text = console.export_text()
    assert "population/persons" in text and "person_key_unique" in text
    assert "pseudonym" in text and "sensitive" in text
    assert "municipalities" in text  # the code system column
    assert "Mette Kjær Jensen" in text  # owners by name, from their corpuser
    assert "EHDS quality label" in text and "/100)" in text


def test_datahub_lite_cli_reads_our_file_without_touching_home(
    registry, facts, tmp_path, monkeypatch
):
    var = tmp_path / "var"
    monkeypatch.setenv("REGIONLAB_VAR", str(var))
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    lite_file = var / "datahub" / "lite.duckdb"
    write_lite(build_mcps(registry, facts), lite_file)
    config = write_cli_config(lite_file)
    assert config == var / "datahub" / "home" / ".datahubenv"
    env = cli_env({**os.environ, "HOME": str(fake_home)})
    urn = urns.product_dataset("population/persons")
    out = subprocess.run(
        [sys.executable, "-m", "datahub", "lite", "get", "--urn", urn, "--aspect", "ownership"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    owners = json.loads(out.stdout)["ownership"]["owners"]
    assert {o["type"] for o in owners} >= {"DATA_STEWARD", "TECHNICAL_OWNER"}
    assert list(fake_home.iterdir()) == []


def test_importing_catalog_writes_nothing_to_home(tmp_path):
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    var = tmp_path / "var"
    env = {**os.environ, "HOME": str(fake_home), "REGIONLAB_VAR": str(var)}
    env.pop("DATAHUB_TELEMETRY_ENABLED", None)
    code = (
        "import catalog.sinks, catalog.lineage; "
        "from datahub.cli import config_utils as c; print(c.DATAHUB_CONFIG_PATH)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == str(var / "datahub" / "home" / ".datahubenv")
    assert list(fake_home.iterdir()) == []
    telemetry = json.loads(
        (var / "datahub" / "home" / ".datahub" / "telemetry-config.json").read_text()
    )
    assert telemetry["enabled"] is False


def test_json_file_is_readable_by_datahub_tooling(registry, facts, tmp_path):
    from datahub.ingestion.source.file import read_metadata_file

    path = write_json(build_mcps(registry, facts), tmp_path / "metadata.json")
    records = list(read_metadata_file(path))
    assert len(records) == len(build_mcps(registry, facts))


@pytest.mark.slow
def test_datahub_lite_init_and_import_work_in_a_fresh_home(registry, facts, tmp_path):
    """`datahub lite` crashes without ~/.datahubenv; `regionlab catalog lite` needs no home."""
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    var = tmp_path / "var"
    metadata = write_json(build_mcps(registry, facts), tmp_path / "metadata.json")
    env = {**os.environ, "HOME": str(fake_home), "REGIONLAB_VAR": str(var)}
    env.pop("DATAHUB_TELEMETRY_ENABLED", None)

    def lite(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "regionlab", "catalog", "lite", *args],
            env=env,
            input="y\n",  # `lite init` asks before it creates the file
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )

    for args in (("init",), ("import", "--file", str(metadata))):
        proc = lite(*args)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
    urn = urns.product_dataset("population/persons")
    proc = lite("get", "--urn", urn, "--aspect", "ownership")
    assert proc.returncode == 0, proc.stderr[-2000:]
    owners = json.loads(proc.stdout)["ownership"]["owners"]
    assert {o["type"] for o in owners} >= {"DATA_STEWARD", "TECHNICAL_OWNER"}
    assert (var / "datahub" / "lite.duckdb").is_file()  # regionlab's Lite, not ~/.datahub
    assert list(fake_home.iterdir()) == []
