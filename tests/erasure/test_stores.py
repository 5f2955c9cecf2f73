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


def test_the_logs_store_searches_the_audit_store(var_dir: Path) -> None:
    from datetime import UTC, datetime

    from regionlab.erasure.stores import LogsStore, Selection
    from regionlab.erasure.verify import Verification
    from regionlab.research.audit_store import open_store
    from regionlab.settings import get_settings

    store = open_store()
    store.record_event(user="olga", action="note", subject="s", details={"x": "pk-planted-1"})
    sel = Selection(
        kind="erasure",
        request_id="R-1",
        registry=None,  # type: ignore[arg-type]  # the logs store reads no spec
        settings=get_settings(),
        key=None,
        started=datetime.now(UTC),
        keys=["pk-planted-1", "pk-other"],
    )
    found = Verification()
    LogsStore().verify(sel, found)
    assert found.other_found == {"logs:audit-store": 1}
    clean = Verification()
    LogsStore().verify(Selection(**{**sel.__dict__, "keys": ["pk-other"]}), clean)
    assert clean.other_found == {}
