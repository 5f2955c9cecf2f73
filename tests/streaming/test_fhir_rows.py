"""One message → a row, or a reason that names paths and kinds but never a value."""

from __future__ import annotations

import datetime as dt
import json

from regionlab.spec import Product
from regionlab.streaming.fhir_rows import parse, read_path
from regionlab.synth.fhir_events import EventFactory, Population

POP = Population(["0101901234"], ["Kirsten"], ["Hansen"], ["265011001001600"])
NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


def test_a_valid_observation_becomes_the_specs_source_columns(product: Product) -> None:
    resource = EventFactory(POP, seed=3, defect_rate=0).observation(NOW, None)
    parsed = parse(product, json.dumps(resource).encode())
    assert parsed.reason is None and parsed.row is not None
    assert parsed.row["cpr"] == "0101901234"
    assert parsed.row["recorded_at"] == "2026-12-03 08:00:00"
    assert parsed.row["observation_id"] == resource["id"]
    assert set(parsed.row) == {c.name for c in product.columns}


def test_invalid_resources_are_named_without_their_values(product: Product) -> None:
    factory = EventFactory(POP, seed=3, defect_rate=0)
    bad = factory.observation(NOW, "invalid_resource")
    parsed = parse(product, json.dumps(bad).encode())
    assert parsed.row is None and parsed.reason == "invalid_resource"
    assert "code: missing" in (parsed.detail or "")
    assert "ikke et tal" not in (parsed.detail or "") and "0101901234" not in (parsed.detail or "")
    encounter = factory.encounter(NOW, None)
    assert parse(product, json.dumps(encounter).encode()).reason == "unexpected_resource_type"
    assert parse(product, b"{not json 0101901234").reason == "malformed_message"
    assert "0101901234" not in (parse(product, b"{not json 0101901234").detail or "")


def test_paths_pick_list_items_and_miss_quietly() -> None:
    resource = {"code": {"coding": [{"code": "A"}, {"code": "B"}]}, "note": []}
    assert read_path(resource, "code.coding[1].code") == "B"
    assert read_path(resource, "code.coding[2].code") is None
    assert read_path(resource, "note[0].text") is None
    assert read_path(resource, "code") is None  # an object is not a column value


def test_keys_planted_in_a_message_never_reach_the_detail(product: Product) -> None:
    """An extra-field error's location ends in the message's own key: it may be a name."""
    bad = EventFactory(POP, seed=3, defect_rate=0).observation(NOW, None)
    bad["Kirsten"] = "x"
    bad["code"]["Hansen"] = 1
    bad["code"]["coding"][0]["c0101901234"] = 2
    parsed = parse(product, json.dumps(bad).encode())
    detail = parsed.detail or ""
    assert parsed.reason == "invalid_resource" and "extra_forbidden" in detail
    for planted in ("Kirsten", "Hansen", "0101901234"):
        assert planted not in detail, detail
    assert "code.coding.?: extra_forbidden" in detail  # the real elements are still named


def test_a_time_that_overflows_in_utc_is_an_invalid_value_not_a_crash(product: Product) -> None:
    """Year 1 at +01:00 is valid FHIR but lies before datetime's year 1 in UTC: before, the
    OverflowError escaped ``parse`` and made the whole micro-batch fail (a poison message)."""
    resource = EventFactory(POP, seed=3, defect_rate=0).observation(NOW, None)
    resource["meta"] = {"lastUpdated": "0001-01-01T00:30:00+01:00"}
    parsed = parse(product, json.dumps(resource).encode())
    assert (parsed.row, parsed.reason) == (None, "invalid_value")
    assert parsed.detail == "recorded_at: not a timestamp"
