"""The region's real ``domains/`` folder: complete, valid, and its schemas current."""

from __future__ import annotations

import pytest

from regionlab.spec import jsonschema
from regionlab.spec.loader import collect, load_domains
from regionlab.spec.models import Registry
from regionlab.spec.vocab import Classification, Pseudonymisation
from tests.spec.conftest import DOMAINS

SOURCE_PRODUCTS = {
    "population/persons",
    "patient_administration/contacts",
    "diagnoses/diagnoses",
    "diagnoses/procedures",
    "laboratory/lab_results",
    "medication/prescriptions",
    "clinical_notes/notes",
    "initiatives/initiatives",
}
STREAM_PRODUCTS = {"laboratory/epj_observations"}
DERIVED_PRODUCTS = {
    "population/municipality_population",
    "research/t2d_cohort",
    "research/monthly_activity",
    "research/readmissions_30d",
}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_domains(DOMAINS)


def test_real_domains_have_no_problems() -> None:
    _, problems = collect(DOMAINS)
    assert [p.render(DOMAINS.parent) for p in problems] == []


def test_real_domains_are_complete(registry: Registry) -> None:
    assert len(registry.domains) >= 6
    assert len(registry.products) >= 12
    assert sum(p.is_derived for p in registry.products.values()) >= 3
    assert set(registry.products) == SOURCE_PRODUCTS | DERIVED_PRODUCTS | STREAM_PRODUCTS
    assert {r for r, p in registry.products.items() if p.is_stream} == STREAM_PRODUCTS
    assert {r for r, p in registry.products.items() if p.is_derived} == DERIVED_PRODUCTS


def test_json_schemas_are_not_stale() -> None:
    assert jsonschema.stale(DOMAINS) == []


def test_topological_order_puts_upstreams_first(registry: Registry) -> None:
    order = [p.ref for p in registry.topological()]
    assert sorted(order) == sorted(registry.products)
    for product in registry.products.values():
        for up in product.upstream:
            assert order.index(up) < order.index(product.ref), (up, product.ref)
    assert order.index("population/persons") < order.index("research/t2d_cohort")


@pytest.mark.parametrize("ref", sorted(SOURCE_PRODUCTS - {"initiatives/initiatives"}))
def test_person_sources_publish_no_direct_identifier(registry: Registry, ref: str) -> None:
    product = registry.product(ref)
    assert product.source is not None and product.source.person_column == "cpr"
    published = {c.name: c for c in product.published_columns}
    assert "cpr" not in published and published["person_key"].rule is Pseudonymisation.person_key
    leaked = [
        c.name
        for c in product.published_columns
        if c.classification is Classification.direct_identifier
        and c.rule is not Pseudonymisation.person_key
    ]
    assert leaked == []
    rule_types = {r.type for r in product.quality}
    assert {"unique", "row_count_between", "freshness"} <= rule_types
    if ref != "population/persons":  # events point back at the population
        assert {"foreign_key", "not_after_death", "not_in_future"} <= rule_types
    assert product.row_key[0] in {r.column for r in product.quality if r.type == "unique"}


def test_initiatives_hold_no_persons(registry: Registry) -> None:
    product = registry.product("initiatives/initiatives")
    assert product.source is not None and product.source.person_column is None
    assert "person_key" not in {c.name for c in product.published_columns}


def test_aggregates_carry_no_person_key(registry: Registry) -> None:
    for ref in ("population/municipality_population", "research/monthly_activity"):
        product = registry.product(ref)
        assert "person_key" not in {c.name for c in product.published_columns}
        assert product.quasi_identifiers == []
        assert product.access_level.value == "non_public"  # counts over row-level products


def test_row_level_products_say_they_are_not_k_anonymous(registry: Registry) -> None:
    """Issue 15 finding 6: every declared quasi-identifier counts; persons cannot be k-anonymous."""
    persons = registry.product("population/persons")
    assert persons.quasi_identifiers == [
        "age_band",
        "sex",
        "residence_municipality",
        "municipality_code",
    ]
    assert not persons.k_anonymous and persons.privacy.justification
    for product in registry.products.values():
        if not product.k_anonymous:
            assert product.access_level.value == "non_public", product.ref


def test_defect_types_are_covered_by_rules(registry: Registry) -> None:
    """Each injected defect that reaches the staged table has a rule that sees it."""
    rules = {
        (r.type, getattr(r, "column", None)) for p in registry.products.values() for r in p.quality
    }
    assert ("greater_or_equal", "end_time") in rules  # contacts end_before_start
    assert ("greater_or_equal", "end_date") in rules  # prescriptions end_before_start
    for column in ("diagnosis_code", "procedure_code", "npu_code", "atc_code"):
        assert ("in_code_list", column) in rules  # unknown_code
    for column in (
        "start_time",
        "registered_at",
        "performed_at",
        "sampled_at",
        "start_date",
        "written_at",
    ):
        assert ("not_in_future", column) in rules  # future_date
        assert ("not_after_death", column) in rules


def test_notes_text_is_scrubbed(registry: Registry) -> None:
    text = registry.product("clinical_notes/notes").published("text")
    assert text is not None
    assert text.rule is Pseudonymisation.scrub_text
    assert text.classification is Classification.sensitive
