"""A streaming product in the catalogue: its freshness objective as a DataHub freshness
assertion, and its newest data as an event time with the newest batch's lag."""

from __future__ import annotations

import datetime as dt

from datahub.metadata.schema_classes import AssertionInfoClass, AssertionTypeClass

from catalog.datasets import product_properties
from catalog.facts import CatalogFacts, ProductFacts
from catalog.quality import assertion_mcps
from regionlab.spec import load_domains

REF = "laboratory/epj_observations"
NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


def test_the_freshness_objective_is_a_datahub_freshness_assertion() -> None:
    registry = load_domains()
    facts = CatalogFacts(generated_at=NOW)
    infos = [
        m.aspect
        for m in assertion_mcps(registry, facts, 0)
        if isinstance(m.aspect, AssertionInfoClass)
        and (m.aspect.customProperties or {}).get("product_ref") == REF
    ]
    fresh = [a for a in infos if a.type == AssertionTypeClass.FRESHNESS]
    assert len(fresh) == 1
    schedule = fresh[0].freshnessAssertion.schedule.fixedInterval
    assert (schedule.unit, schedule.multiple) == ("SECOND", 5)


def test_newest_data_of_a_stream_is_a_time_with_the_lag() -> None:
    product = load_domains().product(REF)
    facts = CatalogFacts(
        generated_at=NOW,
        products={
            REF: ProductFacts(newest_event=dt.datetime(2026, 12, 3, 7, 58, 30), lag_p95_ms=840)
        },  # fmt: skip
    )
    props = product_properties(product, facts)
    assert props["freshness"] == "2026-12-03T07:58:30Z"
    assert props["lag_p95_s"] == "0.84"
    assert props["freshness_objective_s"] == "5" and props["stream_topic"] == "epj.observations"
    batch = product_properties(load_domains().product("laboratory/lab_results"), facts)
    assert "stream_topic" not in batch


def test_the_whole_catalogue_emits_with_the_topic_as_the_streams_source() -> None:
    from datahub.metadata.schema_classes import UpstreamLineageClass

    from catalog.emit import build_mcps
    from catalog.urns import product_dataset, source_dataset

    registry = load_domains()
    product = registry.product(REF)
    mcps = build_mcps(registry, CatalogFacts(generated_at=NOW))
    topic = source_dataset(product)
    assert topic == "urn:li:dataset:(urn:li:dataPlatform:rabbitmq,epj.observations,PROD)"
    assert any(m.entityUrn == topic for m in mcps)
    lineage = [m.aspect for m in mcps if m.entityUrn == product_dataset(product)
               and isinstance(m.aspect, UpstreamLineageClass)]  # fmt: skip
    assert lineage and all(topic in str(a) for a in lineage)
