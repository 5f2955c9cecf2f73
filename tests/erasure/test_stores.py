"""The person-store registry: every location that can hold person data has a store."""

from __future__ import annotations

from pathlib import Path

from regionlab.erasure.stores import STORES
from regionlab.settings import LOCATIONS
from tests.erasure.stores_check import locations_without_store, unclaimed_files


def test_every_person_data_location_has_a_store() -> None:
    assert locations_without_store() == []
    declared = {loc.folder for loc in LOCATIONS}
    for store in STORES:
        assert set(store.locations) <= declared, store.name


def test_a_writer_outside_the_declared_locations_is_found(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "lake").mkdir(parents=True)
    (var / "lake" / "catalog.sqlite").write_text("x")
    (var / "dagster-multiuser").mkdir()
    (var / "dagster-multiuser" / "dagster.yaml").write_text("x")
    assert unclaimed_files(var) == []
    (var / "exports_v2").mkdir()
    (var / "exports_v2" / "people.csv").write_text("x")
    assert unclaimed_files(var) == ["exports_v2/people.csv"]


def test_a_person_data_location_without_a_store_is_found(monkeypatch) -> None:
    import tests.erasure.stores_check as check

    monkeypatch.setattr(check, "STORES", tuple(s for s in STORES if s.name != "quarantine"))
    assert check.locations_without_store() == ["quarantine"]
