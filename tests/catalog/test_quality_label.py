"""The EHDS quality and utility label (art. 78): computed from what the platform measures."""

from __future__ import annotations

import datetime as dt

import pytest
from catalog_testdata import LINKS, PLANTED_CPR, PLANTED_NAME, PLANTED_PSEUDONYM

from catalog import urns
from catalog.emit import build_mcps
from catalog.facts import CatalogFacts
from catalog.quality_label import DOC_ITEMS, WEIGHTS, quality_label
from regionlab.results import Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PERSONS = "population/persons"


def test_label_elements_and_score(registry, facts):
    label = quality_label(registry.products[PERSONS], registry, facts)
    assert [e.key for e in label.elements] == list(WEIGHTS)
    assert sum(e.weight for e in label.elements) == pytest.approx(1.0)
    # latest audit of persons: unique passed; in_set passed, code list failed (validity 1/2)
    assert label.dimensions["uniqueness"] == 1.0
    assert label.dimensions["validity"] == 0.5
    assert label.dimensions["completeness"] is None  # no completeness rule ran
    assert label.element("technical_quality").score == pytest.approx(0.75)
    assert label.element("documentation").score == 1.0
    # 10 years of coverage and the whole population register
    assert label.element("coverage").score == 1.0
    # extract 2025-02-28, published 2025-03-01: one day
    assert label.element("availability").score == 1.0
    assert "1 dag " in label.element("availability").basis
    expected = round(100 * sum(e.weight * e.score for e in label.elements))
    assert label.score == expected and label.level == "gold" and label.level_title == "Guld"


def test_a_failed_rule_lowers_its_dimension_and_the_score(registry, facts):
    product = registry.products[PERSONS]
    before = quality_label(product, registry, facts)
    runs = facts.quality[PERSONS]
    latest = runs[-1].model_copy(
        update={
            "results": [
                r.model_copy(update={"status": Status.failed})
                if r.check == "person_key_unique"
                else r
                for r in runs[-1].results
            ]
        }
    )
    worse = facts.model_copy(update={"quality": {**facts.quality, PERSONS: [runs[0], latest]}})
    after = quality_label(product, registry, worse)
    assert after.dimensions["uniqueness"] == 0.0
    assert after.score < before.score


def test_missing_documentation_and_evidence_score_zero(registry, facts):
    product = registry.products[PERSONS]
    thin = product.model_copy(update={"keywords": [], "glossary_terms": []})
    label = quality_label(thin, registry, facts)
    assert label.element("documentation").score < 1.0
    assert "nøgleord" in label.element("documentation").basis
    # no lake, no audit: only the spec's documentation (and enrichment) count
    empty = CatalogFacts(generated_at=facts.generated_at)
    bare = quality_label(product, registry, empty)
    for key in ("technical_quality", "coverage", "availability"):
        assert bare.element(key).score == 0.0, key
    assert bare.score < label.score and bare.level in {"none", "bronze"}
    assert len(DOC_ITEMS) == 8


def test_slow_availability_scores_lower(registry, facts):
    product = registry.products[PERSONS]
    state = facts.products[PERSONS]
    late = state.model_copy(
        update={"published_at": dt.datetime(2025, 5, 1, tzinfo=dt.UTC)}
    )  # 62 days after the extract
    slow = facts.model_copy(update={"products": {**facts.products, PERSONS: late}})
    assert quality_label(product, registry, slow).element("availability").score == 0.25


def test_label_in_datahub_as_properties_and_filterable_structured_properties(registry, facts):
    mcps = build_mcps(registry, facts, LINKS)
    urn = urns.product_dataset(PERSONS)
    label = quality_label(registry.products[PERSONS], registry, facts)
    props = next(
        m.aspect.customProperties
        for m in mcps
        if m.entityUrn == urn and m.aspectName == "datasetProperties"
    )
    assert props["ehds_label.level"] == label.level
    assert props["ehds_label.score"] == str(label.score)
    assert props["ehds_label.dimension.validity"] == "0.500"
    assert props["ehds_label.technical_quality.basis"].startswith("regler bestået")
    assigned = next(
        m.aspect for m in mcps if m.entityUrn == urn and m.aspectName == "structuredProperties"
    )
    values = {p.propertyUrn: p.values for p in assigned.properties}
    assert values[urns.structured_property("regionlab.ehds_quality_label")] == [label.level]
    assert values[urns.structured_property("regionlab.ehds_quality_score")] == [float(label.score)]
    text = " ".join(props.values())
    for planted in (PLANTED_CPR, PLANTED_NAME, PLANTED_PSEUDONYM):
        assert planted not in text
