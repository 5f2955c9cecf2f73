"""The aspects a DataHub user navigates by: profile, last update, links, properties, paths."""

from __future__ import annotations

import pytest
from catalog_testdata import LINKS, T0

from catalog import urns
from catalog.emit import build_mcps
from catalog.facts import millis
from catalog.links import CatalogueLinks
from regionlab.spec.vocab import AccessLevel

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: Profile keys that would carry a value of the data; the catalogue never fills them.
VALUE_KEYS = {
    "min",
    "max",
    "mean",
    "median",
    "stdev",
    "quantiles",
    "distinctValueFrequencies",
    "histogram",
    "sampleValues",
}


def _aspects(mcps, urn: str, name: str) -> list[dict]:
    return [m.aspect.to_obj() for m in mcps if m.entityUrn == urn and m.aspectName == name]


def test_dataset_profile_holds_counts_only(registry, facts):
    mcps = build_mcps(registry, facts)
    persons = registry.products["population/persons"]
    [profile] = _aspects(mcps, urns.product_dataset(persons), "datasetProfile")
    assert profile["rowCount"] == 1200
    assert profile["columnCount"] == len(persons.published_columns)
    assert profile["timestampMillis"] == millis(T0) + 5 * 60 * 1000  # the publish time
    fields = {f["fieldPath"]: f for f in profile["fieldProfiles"]}
    assert fields["death_month"]["nullCount"] == 1100
    assert fields["death_month"]["nullProportion"] == pytest.approx(1100 / 1200)
    assert fields["sex"]["uniqueCount"] == 2
    assert fields["person_key"]["uniqueProportion"] == 1.0
    for field in fields.values():
        assert not VALUE_KEYS & {k for k, v in field.items() if v is not None}, field
    # a product never published has no profile
    readmissions = urns.product_dataset("research/readmissions_30d")
    unpublished = facts.model_copy(
        update={"products": {k: v for k, v in facts.products.items() if "readm" not in k}}
    )
    assert not _aspects(build_mcps(registry, unpublished), readmissions, "datasetProfile")


def test_operation_says_when_the_product_was_last_published(registry, facts):
    mcps = build_mcps(registry, facts)
    contacts = urns.product_dataset("patient_administration/contacts")
    [operation] = _aspects(mcps, contacts, "operation")
    published = millis(facts.products["patient_administration/contacts"].published_at)
    assert operation["lastUpdatedTimestamp"] == published
    assert operation["numAffectedRows"] == 5400
    assert operation["customProperties"] == {"snapshot_id": "8", "run_id": "run-0002"}


def _links(mcps, urn: str) -> dict[str, str]:
    [memory] = _aspects(mcps, urn, "institutionalMemory")
    return {e["url"]: e["description"] for e in memory["elements"]}


def test_links_to_site_page_contract_and_access_application(registry, facts):
    mcps = build_mcps(registry, facts, LINKS)
    links = _links(mcps, urns.product_dataset("population/persons"))
    assert list(links) == [
        "https://data.example.dk/katalog/#/produkt/population/persons",
        "https://data.example.dk/katalog/odcs/population/persons.odcs.yaml",
        "https://data.example.dk/adgang/permits/apply?product=population%2Fpersons",
    ]
    assert all(links.values())
    # a public product needs no application; without an access service there is no form
    persons = registry.products["population/persons"]
    public = persons.model_copy(update={"access_level": AccessLevel.public})
    changed = registry.model_copy(update={"products": {**registry.products, persons.ref: public}})
    assert len(_links(build_mcps(changed, facts, LINKS), urns.product_dataset(persons))) == 2
    no_service = CatalogueLinks(site=LINKS.site)
    assert len(_links(build_mcps(registry, facts, no_service), urns.product_dataset(persons))) == 2
    # without links (no catalog.yaml) the datasets carry none
    assert not _aspects(
        build_mcps(registry, facts), urns.product_dataset(persons), "institutionalMemory"
    )


def test_links_come_from_the_region_file(monkeypatch):
    from catalog.links import region_links
    from regionlab.settings import PROJECT_ROOT

    monkeypatch.setenv("REGIONLAB_DOMAINS", str(PROJECT_ROOT / "domains"))
    links = region_links()
    assert links is not None and links.site == "https://data.rsyd.dk/katalog"
    assert links.access_application("a/b") == (
        "https://data.rsyd.dk/adgang/permits/apply?product=a%2Fb"
    )


def test_access_level_and_legal_basis_are_filterable_structured_properties(registry, facts):
    mcps = build_mcps(registry, facts, LINKS)
    defs = {m.entityUrn: m.aspect for m in mcps if m.aspectName == "propertyDefinition"}
    access = urns.structured_property("regionlab.access_level")
    legal = urns.structured_property("regionlab.legal_basis")
    assert {access, legal} <= set(defs)
    assert sum(m.aspectName == "propertyDefinition" and m.entityUrn == access for m in mcps) == 1
    assert {v.value for v in defs[access].allowedValues} == {a.value for a in AccessLevel}
    assert defs[legal].cardinality == "MULTIPLE"
    settings = {m.entityUrn: m.aspect for m in mcps if m.aspectName == "structuredPropertySettings"}
    assert settings[access].showInSearchFilters and settings[legal].showInSearchFilters
    for ref, product in registry.products.items():
        [assigned] = [
            m.aspect
            for m in mcps
            if m.entityUrn == urns.product_dataset(ref) and m.aspectName == "structuredProperties"
        ]
        values = {p.propertyUrn: p.values for p in assigned.properties}
        assert values[access] == [product.access_level.value]
        assert values[legal][0] == f"GDPR {product.legal_basis.gdpr_article_6}"
        assert set(product.legal_basis.national) <= set(values[legal])


def test_browse_paths_go_domain_then_product(registry, facts):
    mcps = build_mcps(registry, facts, LINKS)
    for ref, product in registry.products.items():
        expected = [urns.domain(product.domain), urns.data_product(product)]
        datasets = [urns.product_dataset(ref)]
        if product.source is not None:
            datasets.append(urns.source_dataset(product))
        for urn in datasets:
            [paths] = _aspects(mcps, urn, "browsePathsV2")
            assert [e["urn"] for e in paths["path"]] == expected, urn


def _assertion_infos(mcps) -> dict[str, object]:
    return {m.entityUrn: m.aspect for m in mcps if m.aspectName == "assertionInfo"}


def test_rules_become_native_assertions_where_one_fits(registry, facts):
    infos = _assertion_infos(build_mcps(registry, facts, LINKS))
    persons = registry.products["population/persons"]
    dataset = urns.product_dataset(persons)

    def info(check: str):
        return infos[urns.assertion(persons, check)]

    fresh = info("fresh_extract")
    assert fresh.type == "FRESHNESS" and fresh.customAssertion is None
    assert fresh.freshnessAssertion.entity == dataset
    assert fresh.freshnessAssertion.schedule.fixedInterval.unit == "DAY"
    assert fresh.freshnessAssertion.schedule.fixedInterval.multiple == 35
    volume = info("has_rows")
    assert volume.type == "VOLUME" and volume.volumeAssertion.type == "ROW_COUNT_TOTAL"
    assert volume.volumeAssertion.rowCountTotal.operator == "GREATER_THAN_OR_EQUAL_TO"
    assert volume.volumeAssertion.rowCountTotal.parameters.value.value == "1"
    unique = info("person_key_unique").fieldAssertion
    assert unique.fieldPath == "person_key"
    assert unique.fieldMetricAssertion.metric == "UNIQUE_PERCENTAGE"
    in_set = info("sex_valid").fieldAssertion.fieldValuesAssertion
    assert in_set.operator == "IN" and in_set.parameters.value.type == "SET"
    assert in_set.failThreshold.type == "COUNT" and in_set.failThreshold.value == 0
    complete = info("municipality_complete").fieldAssertion.fieldMetricAssertion
    assert complete.metric == "NULL_PERCENTAGE" and complete.operator == "LESS_THAN_OR_EQUAL_TO"
    assert info("age_band_valid").fieldAssertion.fieldValuesAssertion.operator == "REGEX_MATCH"
    # no native type says the same: code lists, not-in-future stay CUSTOM, and say their kind
    for check in ("municipality_in_region", "death_not_in_future"):
        assert info(check).type == "CUSTOM", check
        assert info(check).customProperties["rule_type"] == info(check).customAssertion.type
    # platform checks no spec declares stay CUSTOM
    assert info("privacy_identifier_scan").type == "CUSTOM"
    kinds = {i.type for i in infos.values()}
    assert {"FRESHNESS", "VOLUME", "FIELD", "CUSTOM"} <= kinds


def test_a_data_contract_per_product_links_its_rule_assertions(registry, facts):
    mcps = build_mcps(registry, facts, LINKS)
    for ref, product in registry.products.items():
        contract = next(
            m.aspect
            for m in mcps
            if m.entityUrn == urns.data_contract(product)
            and m.aspectName == "dataContractProperties"
        )
        assert contract.entity == urns.product_dataset(ref)
        linked = [c.assertion for c in (contract.freshness or []) + (contract.dataQuality or [])]
        assert sorted(linked) == sorted(urns.assertion(product, r.id) for r in product.quality)
        fresh = {urns.assertion(product, r.id) for r in product.quality if r.type == "freshness"}
        assert {c.assertion for c in contract.freshness or []} == fresh


@pytest.mark.slow
def test_datahub_check_metadata_file_accepts_the_emission(registry, facts, tmp_path):
    """DataHub's own validator reads every aspect (profiles, contracts, native assertions)."""
    import os
    import subprocess
    import sys

    from catalog.sinks import write_json

    path = write_json(build_mcps(registry, facts, LINKS), tmp_path / "metadata.json")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "DATAHUB_TELEMETRY_ENABLED": "false"}
    proc = subprocess.run(
        [sys.executable, "-m", "datahub", "check", "metadata-file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "all valid" in proc.stdout + proc.stderr
