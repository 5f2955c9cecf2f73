"""Retention and erasure in the catalogue (issue 9): when retention last ran, erasures applied.

Counts and times only: the register also holds request ids, key-set digests,
key ids and receipt names, and none of them may reach the catalogue.
"""

from __future__ import annotations

import datetime as dt

import pytest
from catalog_testdata import ERASURE_AT, RETENTION_AT, T0, with_erasure_facts

from catalog import urns
from catalog.emit import build_mcps
from catalog.lake_facts import facts_from_lake
from catalog.sinks import write_json
from catalog.site.readback import read_catalog
from regionlab.erasure.register import append

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PERSONS = "population/persons"


def _properties(mcps, urn: str) -> dict[str, str]:
    [props] = [m.aspect for m in mcps if m.entityUrn == urn and m.aspectName == "datasetProperties"]
    return props.customProperties


def test_erasure_facts_become_dataset_properties(registry, facts):
    before = build_mcps(registry, facts)
    after = build_mcps(registry, with_erasure_facts(facts))
    persons = _properties(after, urns.product_dataset(PERSONS))
    assert persons["regionlab.retention_last_run"] == RETENTION_AT.isoformat()
    assert persons["regionlab.retention_as_of"] == "2025-03-01"
    assert persons["regionlab.retention_rows_removed_last_run"] == "17"
    assert persons["regionlab.erasure_requests_applied"] == "3"
    assert persons["regionlab.erasure_requests_touching"] == "2"
    assert persons["regionlab.erasure_last_applied"] == ERASURE_AT.isoformat()
    # nothing else moved: only the persons table's properties changed
    changed = [
        (a.entityUrn, a.aspectName)
        for a, b in zip(after, before, strict=True)
        if a.aspect.to_obj() != b.aspect.to_obj()
    ]
    assert changed == [(urns.product_dataset(PERSONS), "datasetProperties")]
    contacts = _properties(after, urns.product_dataset("patient_administration/contacts"))
    assert not any(k.startswith("regionlab.") for k in contacts)


def test_site_data_carries_the_erasure_properties(registry, facts, tmp_path):
    path = write_json(build_mcps(registry, with_erasure_facts(facts)), tmp_path / "metadata.json")
    products = {p["ref"]: p for p in read_catalog(path)["products"]}
    assert products[PERSONS]["properties"]["regionlab.erasure_requests_applied"] == "3"
    assert "regionlab.retention_last_run" not in products["research/readmissions_30d"]["properties"]


def _register_entry(kind: str, at: dt.datetime, rows: dict[str, int], request: str) -> dict:
    """An entry shaped like :func:`regionlab.erasure.register.entry_of` writes."""
    return {
        "kind": kind,
        "request_id": request,
        "at": at.isoformat(),
        "reason": "indsigelse" if kind == "erasure" else "retention",
        "as_of": "2025-03-01" if kind == "retention" else None,
        "persons": 1 if kind == "erasure" else 0,
        "persons_found": 1 if kind == "erasure" else 0,
        "key_id": "feedfacecafebeef",
        "key_set_digest": "d1" * 32 if kind == "erasure" else None,
        "rows_by_product": rows,
        "labelled_rows": 0,
        "quarantine_rows": 0,
        "workspaces": {"projekt-hemmelig": 4},
        "lake_snapshot": 12,
        "snapshots_expired": 2,
        "files_deleted": 3,
        "verified": True,
        "receipt": f"{request}.json",
        "receipt_sha256": "e2" * 32,
    }


def test_the_register_reaches_the_catalogue_as_counts_only(registry, var_dir, tmp_path):
    """The real path: register file → facts_from_lake (no lake yet) → proposals."""
    contacts_ref = "patient_administration/contacts"
    append(_register_entry("erasure", T0, {PERSONS: 1, contacts_ref: 9}, "ER-1"))
    append(_register_entry("retention", RETENTION_AT, {PERSONS: 40}, "RT-1"))
    append(_register_entry("erasure", ERASURE_AT, {"patient_administration/contacts": 2}, "ER-2"))
    facts = facts_from_lake(registry, now=T0)
    mcps = build_mcps(registry, facts)
    persons = _properties(mcps, urns.product_dataset(PERSONS))
    contacts = _properties(mcps, urns.product_dataset("patient_administration/contacts"))
    derived = _properties(mcps, urns.product_dataset("research/readmissions_30d"))
    assert persons["regionlab.erasure_requests_applied"] == "2"  # platform-wide
    assert persons["regionlab.erasure_requests_touching"] == "1"
    assert contacts["regionlab.erasure_requests_touching"] == "2"
    assert derived["regionlab.erasure_requests_touching"] == "0"
    assert persons["regionlab.erasure_last_applied"] == ERASURE_AT.isoformat()
    assert persons["regionlab.retention_last_run"] == RETENTION_AT.isoformat()
    assert persons["regionlab.retention_rows_removed_last_run"] == "40"
    assert contacts["regionlab.retention_rows_removed_last_run"] == "0"
    text = write_json(mcps, tmp_path / "m.json").read_text(encoding="utf-8")
    for secret in ("ER-1", "RT-1", "d1" * 32, "e2" * 32, "feedfacecafebeef", "projekt-hemmelig"):
        assert secret not in text, secret
    # single erasures' row counts (1, 9, 2) are not exposed; only the counts above
    erasure_keys = {k for k in persons if k.startswith("regionlab.")}
    assert erasure_keys == {
        "regionlab.erasure_requests_applied",
        "regionlab.erasure_requests_touching",
        "regionlab.erasure_last_applied",
        "regionlab.retention_last_run",
        "regionlab.retention_rows_removed_last_run",
        "regionlab.retention_as_of",
    }


def test_without_a_register_the_catalogue_says_none_applied(registry, var_dir):
    facts = facts_from_lake(registry, now=T0)
    persons = _properties(build_mcps(registry, facts), urns.product_dataset(PERSONS))
    assert persons["regionlab.erasure_requests_applied"] == "0"
    assert "regionlab.retention_last_run" not in persons
