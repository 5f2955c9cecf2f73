"""A draft product is built and audited, but not offered to researchers (issue 14)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rdflib import RDF
from rdflib.namespace import DCAT

from catalog.dcat import build_graph, dataset_uri
from catalog.facts import CatalogFacts
from regionlab.errors import UserError
from regionlab.research.permits import load_permit
from regionlab.spec import Registry, load_domains
from regionlab.spec.region import load_region
from regionlab.spec.vocab import Status

REPO = Path(__file__).resolve().parents[2]
DRAFT = "patient_administration/contacts"


def _with_draft() -> Registry:
    registry = load_domains()
    products = dict(registry.products)
    products[DRAFT] = products[DRAFT].model_copy(update={"status": Status.draft})
    return registry.model_copy(update={"products": products})


def test_permits_refuse_a_draft_product() -> None:
    permit = REPO / "permits" / "readmissions-vejle.yaml"
    assert DRAFT in permit.read_text(encoding="utf-8")
    load_permit(permit)  # offered while active
    with pytest.raises(UserError) as info:
        load_permit(permit, registry=_with_draft())
    message = str(info.value)
    assert f"{DRAFT} is a draft" in message and "status: active" in message


def test_the_dcat_catalogue_offers_no_draft() -> None:
    registry = _with_draft()
    region = load_region()
    graph = build_graph(
        registry, CatalogFacts(generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)), {}, region
    )
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert dataset_uri(region, DRAFT) not in datasets
    assert dataset_uri(region, "population/persons") in datasets
    assert len(datasets) == len(registry.products) - 1
