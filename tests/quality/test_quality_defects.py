"""Real GX runs on real staging files: planted defects are caught; clean data passes."""

from __future__ import annotations

import pytest

from quality import suites
from quality.validate import gx_results
from regionlab.results import Status
from regionlab.settings import Settings
from regionlab.spec import load_domains
from tests.quality.conftest import build_staging, planted

REGISTRY = load_domains()
SOURCE_PRODUCTS = [p for p in REGISTRY.topological() if p.source is not None]


def _by_check(results):
    return {r.check: r for r in results}


def _strict(product):
    """The product with every threshold at 0, so any planted defect fails its rule."""
    rules = [r.model_copy(update={"threshold": 0.0}) for r in product.quality]
    return product.model_copy(update={"quality": rules})


def test_contacts_defects_are_caught_by_their_rules(defect_platform: Settings) -> None:
    product = REGISTRY.product("patient_administration/contacts")
    staging, ref_date = build_staging(defect_platform, product)
    counts = planted(defect_platform.sources_dir, product)
    assert counts["duplicate_row"] and counts["end_before_start"] and counts["future_date"]

    results = _by_check(gx_results(staging, product, ref_date))
    # A duplicated row key shows on both copies.
    assert results["contact_id_unique"].unexpected_count == 2 * counts["duplicate_row"]
    assert results["contact_id_unique"].status is Status.failed
    assert results["contact_id_unique"].blocks
    assert results["end_after_start"].unexpected_count == counts["end_before_start"]
    assert results["start_not_in_future"].unexpected_count == counts["future_date"]
    # Rules not meant for these defects see none of them.
    for clean in ("contact_id_not_null", "person_key_not_null", "contact_type_valid"):
        assert results[clean].status is Status.passed, results[clean]

    strict = _by_check(gx_results(staging, _strict(product), ref_date))
    assert strict["end_after_start"].status is Status.failed
    assert strict["start_not_in_future"].status is Status.failed


@pytest.mark.parametrize(
    ("ref", "rule"),
    [("diagnoses/diagnoses", "code_in_sks"), ("laboratory/lab_results", "npu_in_code_list")],
)
def test_unknown_codes_are_caught_by_the_code_list_rule(
    defect_platform: Settings, ref: str, rule: str
) -> None:
    product = REGISTRY.product(ref)
    staging, ref_date = build_staging(defect_platform, product)
    counts = planted(defect_platform.sources_dir, product)
    assert counts["unknown_code"] > 0
    results = _by_check(gx_results(staging, _strict(product), ref_date))
    assert results[rule].unexpected_count == counts["unknown_code"]
    assert results[rule].status is Status.failed
    assert results[rule].element_count == results["has_rows"].element_count


@pytest.mark.parametrize("product", SOURCE_PRODUCTS, ids=lambda p: p.ref)
def test_clean_sources_pass_every_gx_rule(clean_platform: Settings, product) -> None:
    staging, ref_date = build_staging(clean_platform, product)
    results = gx_results(staging, _strict(product), ref_date)
    assert [r.check for r in results] == [
        r.id for r in product.quality if not suites.is_cross_rule(r)
    ]
    failing = [(r.check, r.status.value, r.detail) for r in results if not r.passed]
    assert not failing
